package redis_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/basaltdev/basalt/internal/ratelimit"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
	"github.com/basaltdev/basalt/internal/ratelimit/ratelimittest"
	rlredis "github.com/basaltdev/basalt/internal/ratelimit/redis"
	"github.com/basaltdev/basalt/internal/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// newClient connects the way Basalt does: one server, no client-side
// cache, and a client even when the first dial fails.
func newClient(t testing.TB, u string) rueidis.Client {
	t.Helper()
	opt, err := rueidis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	opt.ForceSingleClient = true
	opt.DisableCache = true
	opt.Dialer.Timeout = time.Second
	c, err := rueidis.NewClient(opt)
	if c == nil {
		t.Fatalf("rueidis.NewClient: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestConformance(t *testing.T) {
	c := newClient(t, redistest.URL(t))
	ratelimittest.Run(t, "redis", func(t *testing.T, now func() time.Time) ratelimit.Limiter {
		// A generous timeout: the suite checks answers, not latency, on a
		// machine that may be busy.
		return rlredis.New(rlredis.Options{Client: c, Prefix: redistest.Prefix(t), Now: now, Timeout: 10 * time.Second})
	})
}

func get(t *testing.T, c rueidis.Client, key string) (string, int64) {
	t.Helper()
	v, err := c.Do(t.Context(), c.B().Get().Key(key).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		v, err = "", nil
	}
	if err != nil {
		t.Fatal(err)
	}
	pttl, err := c.Do(t.Context(), c.B().Pttl().Key(key).Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	return v, pttl
}

// TestServerClock: without Options.Now the script takes now from the Redis
// server, in microseconds since the epoch.
func TestServerClock(t *testing.T) {
	c := newClient(t, redistest.URL(t))
	prefix := redistest.Prefix(t)
	lim := rlredis.New(rlredis.Options{Client: c, Prefix: prefix, Timeout: 10 * time.Second})
	l := ratelimit.Limit{Rate: 1, Burst: 2} // T = 1s
	ctx := t.Context()

	before := time.Now()
	d, err := lim.Allow(ctx, "k", l, 1)
	if err != nil {
		t.Fatal(err)
	}
	// A new key's bucket is full at the script's now, so the answer does
	// not depend on which now that was.
	if want := (ratelimit.Decision{Allowed: true, Remaining: 1, ResetAfter: time.Second}); d != want {
		t.Fatalf("first Allow = %+v, want %+v", d, want)
	}
	v, _ := get(t, c, prefix+"k")
	tat, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("stored TAT %q: %v", v, err)
	}
	// The stored TAT is the server's now + T, in µs; the server runs on
	// this machine, so its clock agrees with ours.
	if got, lo, hi := tat, before.Add(time.Second-2*time.Second).UnixMicro(), time.Now().Add(time.Second+2*time.Second).UnixMicro(); got < lo || got > hi {
		t.Fatalf("stored TAT %d not within [%d, %d]: not the server's clock in µs", got, lo, hi)
	}

	d, err = lim.Allow(ctx, "k", l, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allowed || d.Remaining != 0 || d.ResetAfter <= time.Second || d.ResetAfter > 2*time.Second {
		t.Fatalf("second Allow = %+v, want allowed, 0 remaining, reset in (1s, 2s]", d)
	}
	d, err = lim.Allow(ctx, "k", l, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
		t.Fatalf("third Allow = %+v, want denied, retry in (0, 1s]", d)
	}
}

// TestEveryKeyHasATTL: a key is written with a TTL that ends just after
// its bucket is full again, keeps one when a request is denied, and is
// deleted when a decision finds its bucket full.
func TestEveryKeyHasATTL(t *testing.T) {
	c := newClient(t, redistest.URL(t))
	prefix := redistest.Prefix(t)
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); clock = clock.Add(d) }
	lim := rlredis.New(rlredis.Options{Client: c, Prefix: prefix, Now: now, Timeout: 10 * time.Second})
	l := ratelimit.Limit{Rate: 0.1, Burst: 2} // T = 10s
	ctx := t.Context()
	allow := func(n int) ratelimit.Decision {
		t.Helper()
		d, err := lim.Allow(ctx, "k", l, n)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	checkTTL := func(what string, reset time.Duration) {
		t.Helper()
		v, pttl := get(t, c, prefix+"k")
		if v == "" || pttl <= 0 || pttl > reset.Milliseconds()+1 || pttl < reset.Milliseconds()-5000 {
			t.Fatalf("after %s: value %q, PTTL %d ms, want a key with a TTL just over %v", what, v, pttl, reset)
		}
	}

	if d := allow(0); !d.Allowed {
		t.Fatalf("query = %+v", d)
	}
	if v, pttl := get(t, c, prefix+"k"); v != "" || pttl != -2 {
		t.Fatalf("a query stored %q (PTTL %d)", v, pttl)
	}
	d := allow(1)
	checkTTL("allowed", d.ResetAfter)
	d = allow(1)
	checkTTL("allowed", d.ResetAfter)
	if d = allow(1); d.Allowed {
		t.Fatalf("third event allowed: %+v", d)
	}
	checkTTL("denied", d.ResetAfter)
	// A key whose TTL was lost (written by an older version, or PERSISTed)
	// gets one back on the next decision, even a denied one.
	if err := c.Do(ctx, c.B().Persist().Key(prefix+"k").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if d = allow(1); d.Allowed {
		t.Fatalf("denied event allowed: %+v", d)
	}
	checkTTL("denied after PERSIST", d.ResetAfter)

	// Once the bucket is full again, the next decision deletes the key.
	advance(20 * time.Second)
	if d := allow(0); d != (ratelimit.Decision{Allowed: true, Remaining: 2}) {
		t.Fatalf("query on a full bucket = %+v", d)
	}
	if v, pttl := get(t, c, prefix+"k"); v != "" || pttl != -2 {
		t.Fatalf("full bucket still stored: %q (PTTL %d)", v, pttl)
	}
	// A request that can never be allowed stores nothing.
	if d := allow(3); d.Allowed {
		t.Fatalf("n > burst allowed: %+v", d)
	}
	if v, pttl := get(t, c, prefix+"k"); v != "" || pttl != -2 {
		t.Fatalf("n > burst stored %q (PTTL %d)", v, pttl)
	}
}

// TestProcessesShareState: limiters of two processes (two clients) on one
// Redis count against the same bucket.
func TestProcessesShareState(t *testing.T) {
	u := redistest.URL(t)
	prefix := redistest.Prefix(t)
	a := rlredis.New(rlredis.Options{Client: newClient(t, u), Prefix: prefix, Timeout: 10 * time.Second})
	b := rlredis.New(rlredis.Options{Client: newClient(t, u), Prefix: prefix, Timeout: 10 * time.Second})
	l := ratelimit.Limit{Rate: 1.0 / 60, Burst: 3}
	ctx := t.Context()
	for i, lim := range []*rlredis.Limiter{a, b, a, b, a} {
		d, err := lim.Allow(ctx, "account:alice", l, 1)
		if err != nil {
			t.Fatal(err)
		}
		if want := i < 3; d.Allowed != want || d.Remaining != max(2-i, 0) {
			t.Fatalf("event %d: %+v, want allowed=%v remaining=%d", i, d, want, max(2-i, 0))
		}
	}
	// Another prefix is another namespace.
	c := rlredis.New(rlredis.Options{Client: newClient(t, u), Prefix: redistest.Prefix(t), Timeout: 10 * time.Second})
	if d, err := c.Allow(ctx, "account:alice", l, 1); err != nil || !d.Allowed {
		t.Fatalf("other prefix: %+v, %v", d, err)
	}
}

// silentServer accepts connections and never answers, like a Redis that
// hangs or a network that drops packets.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				_, _ = io.Copy(io.Discard, conn)
			})
		}
	})
	return "redis://" + ln.Addr().String()
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "redis://" + addr
}

// TestUnreachableFailsFast: a Redis that refuses connections costs a caller
// one failed call, one that never answers SlowCalls timeouts (a single slow
// answer is not an outage); after that, during the backoff, calls cost
// nothing at all.
func TestUnreachableFailsFast(t *testing.T) {
	l := ratelimit.Limit{Rate: 1, Burst: 1}
	for _, c := range []struct {
		name  string
		url   func(*testing.T) string
		tries int // calls that try Redis before the backoff
	}{
		{"refused", closedPort, 1},
		{"silent", silentServer, rlredis.SlowCalls},
	} {
		t.Run(c.name, func(t *testing.T) {
			const timeout = 200 * time.Millisecond
			lim := rlredis.New(rlredis.Options{
				Client: newClient(t, c.url(t)), Prefix: "basalt:rl:", Timeout: timeout, Backoff: time.Hour,
			})
			for i := range c.tries + 3 {
				start := time.Now()
				d, err := lim.Allow(t.Context(), "k", l, 1)
				took := time.Since(start)
				if !errors.Is(err, ratelimit.ErrUnavailable) || d != (ratelimit.Decision{}) {
					t.Fatalf("call %d: %+v, %v; want ErrUnavailable", i, d, err)
				}
				if errors.Is(err, ratelimit.ErrInvalid) {
					t.Fatalf("call %d: %v is also ErrInvalid", i, err)
				}
				if took > time.Second {
					t.Fatalf("call %d took %v, want at most about the %v timeout", i, took, timeout)
				}
				if c.name == "silent" && i < c.tries && took < timeout {
					t.Fatalf("call %d took %v: a timeout before the %dth in a row must not stop the next calls from trying Redis", i, took, rlredis.SlowCalls)
				}
				if i >= c.tries && took >= timeout {
					t.Fatalf("call %d during the backoff took %v: it waited for Redis again", i, took)
				}
			}
		})
	}
}

// TestCallerContextIsNotAnOutage: a caller's cancelled context is reported
// as such and does not open the breaker.
func TestCallerContextIsNotAnOutage(t *testing.T) {
	lim := rlredis.New(rlredis.Options{Client: newClient(t, silentServer(t)), Timeout: 10 * time.Second, Backoff: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := lim.Allow(ctx, "k", ratelimit.Limit{Rate: 1, Burst: 1}, 1)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ratelimit.ErrUnavailable) {
		t.Fatalf("error = %v, want the caller's context.DeadlineExceeded only", err)
	}
}

// TestBreakerRecovers: after Redis comes back (empty, so the script must
// be loaded again), the limiter uses it again once the backoff ends.
func TestBreakerRecovers(t *testing.T) {
	s := redistest.Start(t)
	lim := rlredis.New(rlredis.Options{
		Client: newClient(t, s.URL()), Prefix: "basalt:rl:", Timeout: 2 * time.Second, Backoff: 100 * time.Millisecond,
	})
	l := ratelimit.Limit{Rate: 1.0 / 60, Burst: 1}
	ctx := t.Context()
	if d, err := lim.Allow(ctx, "k", l, 1); err != nil || !d.Allowed {
		t.Fatalf("before the outage: %+v, %v", d, err)
	}
	s.Stop(t)
	if _, err := lim.Allow(ctx, "k", l, 1); !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Fatalf("Redis stopped: error = %v, want ErrUnavailable", err)
	}
	s.Restart(t)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(15 * time.Second)
	// The client holds several connections, and each finds out on its own
	// that its server went away (a call on it fails once, with EOF): the
	// limiter recovers when calls succeed again. The restarted server lost
	// the key, so the first decision is a full bucket's and the next one
	// refuses.
	var decided []ratelimit.Decision
	for len(decided) < 2 {
		d, err := lim.Allow(ctx, "k", l, 1)
		switch {
		case err == nil:
			decided = append(decided, d)
			continue
		case !errors.Is(err, ratelimit.ErrUnavailable):
			t.Fatalf("after the restart: %v", err)
		case time.Now().After(deadline):
			t.Fatalf("limiter still failing after Redis returned: %v (decided %+v)", err, decided)
		}
		<-tick.C
	}
	if !decided[0].Allowed || decided[1].Allowed {
		t.Fatalf("after the restart: %+v, want allowed then denied", decided)
	}
}

// BenchmarkAllow measures one decision per call, in-process and over
// Redis on 127.0.0.1, serially (the latency a request pays) and from
// parallel goroutines (throughput with auto-pipelining).
func BenchmarkAllow(b *testing.B) {
	u := redistest.URL(b)
	l := ratelimit.Limit{Rate: 1000, Burst: 100}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("account:", i)
	}
	impls := []struct {
		name string
		lim  func(b *testing.B) ratelimit.Limiter
	}{
		{"memory", func(*testing.B) ratelimit.Limiter { return memory.New(time.Now, 100000) }},
		{"redis", func(b *testing.B) ratelimit.Limiter {
			return rlredis.New(rlredis.Options{Client: newClient(b, u), Prefix: redistest.Prefix(b), Timeout: 10 * time.Second})
		}},
	}
	for _, impl := range impls {
		b.Run("impl="+impl.name+"/serial", func(b *testing.B) {
			lim := impl.lim(b)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := lim.Allow(ctx, keys[i%len(keys)], l, 1); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("impl="+impl.name+"/parallel", func(b *testing.B) {
			lim := impl.lim(b)
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := lim.Allow(ctx, keys[i%len(keys)], l, 1); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
		// A request's two limits (address, caller): two calls one after
		// the other, or one AllowAll. The limits never refuse, so every
		// request is decided.
		big := ratelimit.Limit{Rate: 1e6, Burst: 1_000_000}
		b.Run("impl="+impl.name+"/two-keys-serial", func(b *testing.B) {
			lim := impl.lim(b)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				for _, k := range [2]string{"ip", keys[i%len(keys)]} {
					if _, err := lim.Allow(ctx, k, big, 1); err != nil {
						b.Fatal(err)
					}
				}
				i++
			}
		})
		b.Run("impl="+impl.name+"/two-keys-allowall", func(b *testing.B) {
			lim := impl.lim(b)
			ctx := context.Background()
			b.ReportAllocs()
			var buf [2]ratelimit.Decision
			i := 0
			for b.Loop() {
				reqs := [2]ratelimit.Request{{Key: "ip", Limit: big, N: 1}, {Key: keys[i%len(keys)], Limit: big, N: 1}}
				if _, err := lim.AllowAll(ctx, reqs[:], buf[:0]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
