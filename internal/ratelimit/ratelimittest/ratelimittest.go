// Package ratelimittest is the conformance suite of ratelimit.Limiter: every
// limiter Basalt ships (in-process memory, Redis) runs it, so they answer
// alike to the microsecond.
//
// A limiter's test calls Run with a function that returns a fresh limiter
// (no key seen yet, e.g. a new key prefix on a shared Redis) reading the
// time from the now it is given; the suite drives that clock. Subtests are
// named impl=<impl>/contract=ratelimit/<Case>, so
// go test -run 'impl=memory/contract=ratelimit/RetryAfter' selects one case.
package ratelimittest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/ratelimit"
)

// Run runs the ratelimit contract against the limiters newLimiter returns.
func Run(t *testing.T, impl string, newLimiter func(t *testing.T, now func() time.Time) ratelimit.Limiter) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"BurstThenDenied", testBurstThenDenied},
		{"SteadyRate", testSteadyRate},
		{"RetryAfterExactAndHonoured", testRetryAfter},
		{"KeysIndependent", testKeysIndependent},
		{"MultipleEvents", testMultipleEvents},
		{"MoreThanBurst", testMoreThanBurst},
		{"RemainingAndResetAfter", testRemainingAndResetAfter},
		{"MicrosecondResolution", testMicrosecondResolution},
		{"RoundedEmissionInterval", testRoundedEmissionInterval},
		{"InvalidArguments", testInvalidArguments},
		{"CanceledContext", testCanceledContext},
		{"Concurrency", testConcurrency},
		{"AllowAllInOrder", testAllowAllInOrder},
		{"AllowAllStopsAtRefusal", testAllowAllStopsAtRefusal},
		{"AllowAllSameKeyTwice", testAllowAllSameKeyTwice},
		{"AllowAllInvalidCountsNothing", testAllowAllInvalid},
		{"AllowAllCanceledContext", testAllowAllCanceled},
		{"AllowAllConcurrency", testAllowAllConcurrency},
	}
	t.Run("impl="+impl, func(t *testing.T) {
		t.Run("contract=ratelimit", func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					s := &suite{clock: &clock{t: start}}
					s.lim = newLimiter(t, s.clock.now)
					c.fn(t, s)
				})
			}
		})
	})
}

// start is where every case's clock begins: a whole second, UTC.
var start = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type suite struct {
	clock *clock
	lim   ratelimit.Limiter
}

func (s *suite) allow(t *testing.T, key string, l ratelimit.Limit, n int) ratelimit.Decision {
	t.Helper()
	d, err := s.lim.Allow(context.Background(), key, l, n)
	if err != nil {
		t.Fatalf("Allow(%q, %+v, %d): %v", key, l, n, err)
	}
	return d
}

// expect calls Allow and compares the whole Decision.
func (s *suite) expect(t *testing.T, key string, l ratelimit.Limit, n int, want ratelimit.Decision) {
	t.Helper()
	if got := s.allow(t, key, l, n); got != want {
		t.Fatalf("at +%v Allow(%q, %+v, %d) = %+v, want %+v",
			s.clock.now().Sub(start), key, l, n, got, want)
	}
}

// expectAll calls AllowAll with a dst holding one sentinel decision and
// compares the decisions it appends.
func (s *suite) expectAll(t *testing.T, reqs []ratelimit.Request, want ...ratelimit.Decision) {
	t.Helper()
	sentinel := ratelimit.Decision{Remaining: -7}
	got, err := s.lim.AllowAll(context.Background(), reqs, []ratelimit.Decision{sentinel})
	if err != nil {
		t.Fatalf("at +%v AllowAll(%+v): %v", s.clock.now().Sub(start), reqs, err)
	}
	if len(got) == 0 || got[0] != sentinel {
		t.Fatalf("AllowAll did not append to dst: %+v", got)
	}
	if !slices.Equal(got[1:], want) {
		t.Fatalf("at +%v AllowAll(%+v) = %+v, want %+v", s.clock.now().Sub(start), reqs, got[1:], want)
	}
}

func allowed(remaining int, resetAfter time.Duration) ratelimit.Decision {
	return ratelimit.Decision{Allowed: true, Remaining: remaining, ResetAfter: resetAfter}
}

func denied(remaining int, retryAfter, resetAfter time.Duration) ratelimit.Decision {
	return ratelimit.Decision{Remaining: remaining, RetryAfter: retryAfter, ResetAfter: resetAfter}
}

const ms = time.Millisecond

func testBurstThenDenied(t *testing.T, s *suite) {
	l := ratelimit.Limit{Rate: 10, Burst: 5} // T = 100ms
	for i := range 5 {
		s.expect(t, "k", l, 1, allowed(4-i, time.Duration(i+1)*100*ms))
	}
	s.expect(t, "k", l, 1, denied(0, 100*ms, 500*ms))
	// A denied request consumes nothing: asking again is the same answer.
	s.expect(t, "k", l, 1, denied(0, 100*ms, 500*ms))
}

func testSteadyRate(t *testing.T, s *suite) {
	l := ratelimit.Limit{Rate: 10, Burst: 2} // T = 100ms
	s.expect(t, "k", l, 1, allowed(1, 100*ms))
	s.expect(t, "k", l, 1, allowed(0, 200*ms))
	for range 20 {
		s.clock.advance(100 * ms)
		s.expect(t, "k", l, 1, allowed(0, 200*ms))
	}
	// One microsecond early is too early.
	s.clock.advance(100*ms - time.Microsecond)
	s.expect(t, "k", l, 1, denied(0, time.Microsecond, 100*ms+time.Microsecond))
	s.clock.advance(time.Microsecond)
	s.expect(t, "k", l, 1, allowed(0, 200*ms))
}

func testRetryAfter(t *testing.T, s *suite) {
	l := ratelimit.Limit{Rate: 4, Burst: 2} // T = 250ms
	s.expect(t, "k", l, 1, allowed(1, 250*ms))
	s.expect(t, "k", l, 1, allowed(0, 500*ms))
	s.clock.advance(123456 * time.Microsecond)
	d := s.allow(t, "k", l, 1)
	want := denied(0, 126544*time.Microsecond, 376544*time.Microsecond)
	if d != want {
		t.Fatalf("Allow = %+v, want %+v", d, want)
	}
	s.clock.advance(d.RetryAfter)
	s.expect(t, "k", l, 1, allowed(0, 500*ms))

	// For n = 2 the wait covers both events.
	s.clock.advance(10 * ms)
	d = s.allow(t, "k", l, 2)
	want = denied(0, 490*ms, 490*ms)
	if d != want {
		t.Fatalf("Allow n=2 = %+v, want %+v", d, want)
	}
	s.clock.advance(d.RetryAfter)
	s.expect(t, "k", l, 2, allowed(0, 500*ms))
}

func testKeysIndependent(t *testing.T, s *suite) {
	l := ratelimit.Limit{Rate: 1, Burst: 1}
	s.expect(t, "account:alice", l, 1, allowed(0, time.Second))
	s.expect(t, "account:alice", l, 1, denied(0, time.Second, time.Second))
	s.expect(t, "account:bob", l, 1, allowed(0, time.Second))
	s.expect(t, "ip:192.0.2.1", l, 1, allowed(0, time.Second))
	s.expect(t, "", l, 1, allowed(0, time.Second))
	s.expect(t, "account:alice", l, 1, denied(0, time.Second, time.Second))
}

func testMultipleEvents(t *testing.T, s *suite) {
	l := ratelimit.Limit{Rate: 10, Burst: 10} // T = 100ms
	s.expect(t, "k", l, 3, allowed(7, 300*ms))
	s.expect(t, "k", l, 7, allowed(0, 1000*ms))
	s.expect(t, "k", l, 1, denied(0, 100*ms, 1000*ms))
	s.clock.advance(250 * ms)
	s.expect(t, "k", l, 3, denied(2, 50*ms, 750*ms))
	s.expect(t, "k", l, 2, allowed(0, 950*ms))
	// n = Burst on a full bucket is allowed.
	s.expect(t, "other", l, 10, allowed(0, 1000*ms))
}

func testMoreThanBurst(t *testing.T, s *suite) {
	l := ratelimit.Limit{Rate: 10, Burst: 3}
	s.expect(t, "k", l, 4, denied(3, ratelimit.RetryNever, 0))
	// Nothing was consumed.
	s.expect(t, "k", l, 3, allowed(0, 300*ms))
	s.expect(t, "k", l, 4, denied(0, ratelimit.RetryNever, 300*ms))
	s.clock.advance(time.Hour)
	s.expect(t, "k", l, 4, denied(3, ratelimit.RetryNever, 0))
}

func testRemainingAndResetAfter(t *testing.T, s *suite) {
	l := ratelimit.Limit{Rate: 2, Burst: 4} // T = 500ms
	s.expect(t, "k", l, 0, allowed(4, 0))
	s.expect(t, "k", l, 1, allowed(3, 500*ms))
	s.clock.advance(200 * ms)
	// A partly refilled event does not count.
	s.expect(t, "k", l, 0, allowed(3, 300*ms))
	s.clock.advance(300 * ms)
	s.expect(t, "k", l, 0, allowed(4, 0))
	s.expect(t, "k", l, 4, allowed(0, 2000*ms))
	s.expect(t, "k", l, 0, allowed(0, 2000*ms))
	s.clock.advance(1250 * ms)
	s.expect(t, "k", l, 0, allowed(2, 750*ms))
	s.expect(t, "k", l, 3, denied(2, 250*ms, 750*ms))
	s.clock.advance(10 * time.Second)
	s.expect(t, "k", l, 0, allowed(4, 0))
}

func testMicrosecondResolution(t *testing.T, s *suite) {
	l := ratelimit.Limit{Rate: 1, Burst: 1}
	s.clock.advance(500 * time.Nanosecond) // truncated: still at start
	s.expect(t, "k", l, 1, allowed(0, time.Second))
	s.clock.advance(time.Second - 500*time.Nanosecond - time.Nanosecond) // start+1s-1ns → start+1s-1µs
	s.expect(t, "k", l, 1, denied(0, time.Microsecond, time.Microsecond))
	s.clock.advance(time.Nanosecond)
	s.expect(t, "k", l, 1, allowed(0, time.Second))
}

func testRoundedEmissionInterval(t *testing.T, s *suite) {
	l := ratelimit.Limit{Rate: 3, Burst: 2} // T = 333333.33µs → 333333µs
	if got := l.EmissionInterval(); got != 333333*time.Microsecond {
		t.Fatalf("EmissionInterval = %v", got)
	}
	s.expect(t, "k", l, 2, allowed(0, 666666*time.Microsecond))
	s.expect(t, "k", l, 1, denied(0, 333333*time.Microsecond, 666666*time.Microsecond))
	l = ratelimit.Limit{Rate: 1.0 / 60, Burst: 1} // one a minute
	s.expect(t, "slow", l, 1, allowed(0, time.Minute))
	s.expect(t, "slow", l, 1, denied(0, time.Minute, time.Minute))
}

func testInvalidArguments(t *testing.T, s *suite) {
	ok := ratelimit.Limit{Rate: 1, Burst: 1}
	bad := []struct {
		l ratelimit.Limit
		n int
	}{
		{ratelimit.Limit{Rate: 0, Burst: 1}, 1},
		{ratelimit.Limit{Rate: -1, Burst: 1}, 1},
		{ratelimit.Limit{Rate: math.NaN(), Burst: 1}, 1},
		{ratelimit.Limit{Rate: math.Inf(1), Burst: 1}, 1},
		{ratelimit.Limit{Rate: 1e7, Burst: 1}, 1},
		{ratelimit.Limit{Rate: 1, Burst: 0}, 1},
		{ratelimit.Limit{Rate: 1, Burst: -3}, 1},
		{ratelimit.Limit{Rate: 1e-9, Burst: 1}, 1},
		{ratelimit.Limit{Rate: 1, Burst: math.MaxInt}, 1},
		{ok, -1},
	}
	for _, b := range bad {
		d, err := s.lim.Allow(context.Background(), "k", b.l, b.n)
		if !errors.Is(err, ratelimit.ErrInvalid) {
			t.Errorf("Allow(%+v, %d) error = %v, want ErrInvalid", b.l, b.n, err)
		}
		if d != (ratelimit.Decision{}) {
			t.Errorf("Allow(%+v, %d) decision = %+v, want zero", b.l, b.n, d)
		}
	}
	// Nothing was counted.
	s.expect(t, "k", ok, 1, allowed(0, time.Second))
}

func testCanceledContext(t *testing.T, s *suite) {
	l := ratelimit.Limit{Rate: 1, Burst: 1}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err := s.lim.Allow(ctx, "k", l, 1)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Allow with canceled context: error = %v, want context.Canceled", err)
	}
	if d != (ratelimit.Decision{}) {
		t.Fatalf("decision = %+v, want zero", d)
	}
	s.expect(t, "k", l, 1, allowed(0, time.Second))
}

func testConcurrency(t *testing.T, s *suite) {
	const burst, workers = 7, 100
	l := ratelimit.Limit{Rate: 1, Burst: burst}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		remaining = map[int]int{}
		errs      []error
	)
	for range workers {
		wg.Go(func() {
			d, err := s.lim.Allow(context.Background(), "shared", l, 1)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if d.Allowed {
				remaining[d.Remaining]++
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	// Exactly Burst allowed, each seeing a different Remaining: the
	// decisions were atomic.
	for r := range burst {
		if remaining[r] != 1 {
			t.Fatalf("allowed decisions by Remaining = %v, want each of 0..%d once", remaining, burst-1)
		}
	}
	if len(remaining) != burst {
		t.Fatalf("allowed decisions by Remaining = %v, want %d in all", remaining, burst)
	}
	s.expect(t, "shared", l, 1, denied(0, time.Second, burst*time.Second))
}

func testAllowAllInOrder(t *testing.T, s *suite) {
	fast := ratelimit.Limit{Rate: 10, Burst: 2} // T = 100ms
	slow := ratelimit.Limit{Rate: 1, Burst: 3}  // T = 1s
	s.expectAll(t, nil)
	s.expectAll(t, []ratelimit.Request{{Key: "ip", Limit: fast, N: 1}, {Key: "account", Limit: slow, N: 2}},
		allowed(1, 100*ms), allowed(1, 2*time.Second))
	s.clock.advance(50 * ms)
	s.expectAll(t, []ratelimit.Request{{Key: "ip", Limit: fast, N: 1}, {Key: "account", Limit: slow, N: 1}},
		allowed(0, 150*ms), allowed(0, 2950*ms))
	// The decisions are Allow's: the same keys answer alike afterwards.
	s.expect(t, "ip", fast, 0, allowed(0, 150*ms))
	s.expect(t, "account", slow, 0, allowed(0, 2950*ms))
	// n = 0 queries inside a batch count nothing.
	s.expectAll(t, []ratelimit.Request{{Key: "account", Limit: slow, N: 0}, {Key: "other", Limit: slow, N: 0}},
		allowed(0, 2950*ms), allowed(3, 0))
}

func testAllowAllStopsAtRefusal(t *testing.T, s *suite) {
	one := ratelimit.Limit{Rate: 1, Burst: 1}
	three := ratelimit.Limit{Rate: 1, Burst: 3}
	s.expect(t, "b", one, 1, allowed(0, time.Second))
	// a is allowed and counted, b refused, c neither decided nor counted.
	s.expectAll(t, []ratelimit.Request{{Key: "a", Limit: three, N: 1}, {Key: "b", Limit: one, N: 1}, {Key: "c", Limit: three, N: 1}},
		allowed(2, time.Second), denied(0, time.Second, time.Second))
	s.expect(t, "a", three, 0, allowed(2, time.Second))
	s.expect(t, "c", three, 0, allowed(3, 0))
	// A request for more than the burst stops the batch too.
	s.expectAll(t, []ratelimit.Request{{Key: "c", Limit: three, N: 4}, {Key: "a", Limit: three, N: 1}},
		denied(3, ratelimit.RetryNever, 0))
	s.expect(t, "a", three, 0, allowed(2, time.Second))
	// The first refused.
	s.expectAll(t, []ratelimit.Request{{Key: "b", Limit: one, N: 1}, {Key: "a", Limit: three, N: 1}},
		denied(0, time.Second, time.Second))
	s.expect(t, "a", three, 0, allowed(2, time.Second))
}

func testAllowAllSameKeyTwice(t *testing.T, s *suite) {
	l := ratelimit.Limit{Rate: 10, Burst: 3} // T = 100ms
	s.expectAll(t, []ratelimit.Request{{Key: "k", Limit: l, N: 2}, {Key: "k", Limit: l, N: 1}, {Key: "k", Limit: l, N: 1}, {Key: "x", Limit: l, N: 1}},
		allowed(1, 200*ms), allowed(0, 300*ms), denied(0, 100*ms, 300*ms))
	s.expect(t, "x", l, 0, allowed(3, 0))
}

func testAllowAllInvalid(t *testing.T, s *suite) {
	ok := ratelimit.Limit{Rate: 1, Burst: 1}
	for _, bad := range []ratelimit.Request{{Key: "z", Limit: ratelimit.Limit{Rate: 0, Burst: 1}, N: 1}, {Key: "z", Limit: ok, N: -1}} {
		dst := []ratelimit.Decision{{Remaining: -7}}
		got, err := s.lim.AllowAll(context.Background(), []ratelimit.Request{{Key: "k", Limit: ok, N: 1}, bad}, dst)
		if !errors.Is(err, ratelimit.ErrInvalid) {
			t.Errorf("AllowAll with %+v: error = %v, want ErrInvalid", bad, err)
		}
		if !slices.Equal(got, dst) {
			t.Errorf("AllowAll with %+v = %+v, want dst unchanged", bad, got)
		}
	}
	// The valid request before the invalid one was not counted.
	s.expect(t, "k", ok, 1, allowed(0, time.Second))
}

func testAllowAllCanceled(t *testing.T, s *suite) {
	l := ratelimit.Limit{Rate: 1, Burst: 1}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := s.lim.AllowAll(ctx, []ratelimit.Request{{Key: "k", Limit: l, N: 1}}, nil)
	if !errors.Is(err, context.Canceled) || len(got) != 0 {
		t.Fatalf("AllowAll with canceled context = %+v, %v; want none, context.Canceled", got, err)
	}
	s.expect(t, "k", l, 1, allowed(0, time.Second))
}

// testAllowAllConcurrency: batches of (shared address, shared account)
// from many goroutines at once. Each batch is atomic, so exactly the
// address's burst pass the first limit, exactly the account's burst of
// them pass both, and the refused at the address count nothing on the
// account.
func testAllowAllConcurrency(t *testing.T, s *suite) {
	const ipBurst, accountBurst, workers = 7, 5, 100
	ip := ratelimit.Limit{Rate: 1, Burst: ipBurst}
	account := ratelimit.Limit{Rate: 1, Burst: accountBurst}
	reqs := []ratelimit.Request{{Key: "ip", Limit: ip, N: 1}, {Key: "account", Limit: account, N: 1}}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ipLeft   = map[int]int{}
		accLeft  = map[int]int{}
		refusedA int
		errs     []error
	)
	for range workers {
		wg.Go(func() {
			ds, err := s.lim.AllowAll(context.Background(), reqs, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case len(ds) == 1 && !ds[0].Allowed:
				refusedA++
			case len(ds) == 2 && ds[0].Allowed:
				ipLeft[ds[0].Remaining]++
				if ds[1].Allowed {
					accLeft[ds[1].Remaining]++
				}
			default:
				errs = append(errs, fmt.Errorf("decisions %+v", ds))
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(ipLeft) != ipBurst || len(accLeft) != accountBurst || refusedA != workers-ipBurst {
		t.Fatalf("address decisions by Remaining %v, account's %v, %d refused at the address; want each of 0..%d and 0..%d once, %d refused",
			ipLeft, accLeft, refusedA, ipBurst-1, accountBurst-1, workers-ipBurst)
	}
	s.expect(t, "account", account, 0, allowed(0, accountBurst*time.Second))
}
