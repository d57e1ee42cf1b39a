package redis_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/basaltdev/basalt/internal/auth/revocation"
	rvredis "github.com/basaltdev/basalt/internal/auth/revocation/redis"
	"github.com/basaltdev/basalt/internal/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

func newClient(t testing.TB, u string) rueidis.Client {
	t.Helper()
	opt, err := rueidis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	opt.ForceSingleClient = true
	opt.Dialer.Timeout = time.Second
	c, err := rueidis.NewClient(opt)
	if c == nil {
		t.Fatalf("rueidis.NewClient: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// subscribe runs b.Subscribe until the test ends and returns the entries
// it delivers.
func subscribe(t *testing.T, b *rvredis.Broadcaster) <-chan revocation.Entry {
	t.Helper()
	got := make(chan revocation.Entry, 100)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := b.Subscribe(ctx, func(e revocation.Entry) { got <- e }); err != nil {
			t.Errorf("Subscribe = %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return got
}

// awaitSubscribers waits until n clients subscribe to channel.
func awaitSubscribers(t *testing.T, c rueidis.Client, channel string, n int64) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		m, err := c.Do(ctx, c.B().PubsubNumsub().Channel(channel).Build()).AsIntMap()
		cancel()
		if err == nil && m[channel] == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %v subscribers (%v), want %d", channel, m, err, n)
		}
		<-tick.C
	}
}

func receive(t *testing.T, got <-chan revocation.Entry, want revocation.Entry) {
	t.Helper()
	select {
	case e := <-got:
		if e.ID != want.ID || !e.At.Equal(want.At) {
			t.Fatalf("received %+v, want %+v", e, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%+v not received", want)
	}
}

func TestPublishReachesOtherProcesses(t *testing.T) {
	u := redistest.URL(t)
	channel := redistest.Prefix(t) + "revocations"
	a := rvredis.New(newClient(t, u), channel, nil)
	bc := newClient(t, u)
	got := subscribe(t, rvredis.New(bc, channel, nil))
	awaitSubscribers(t, bc, channel, 1)

	want := revocation.Entry{ID: "session-1 with spaces", At: time.UnixMicro(1_900_000_000_123_456)}
	if err := a.Publish(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	receive(t, got, want)
	// Malformed messages are ignored.
	for _, bad := range []string{"", "no-time", "12x s", "123 "} {
		if err := bc.Do(t.Context(), bc.B().Publish().Channel(channel).Message(bad).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	next := revocation.Entry{ID: "key-2", At: time.UnixMicro(1_900_000_001_000_000)}
	if err := a.Publish(t.Context(), next); err != nil {
		t.Fatal(err)
	}
	receive(t, got, next)
}

// TestSubscribeSurvivesARestart: once Redis is back, the subscription is
// made again and later revocations arrive.
func TestSubscribeSurvivesARestart(t *testing.T) {
	s := redistest.Start(t)
	const channel = "basalt:revocations"
	pc := newClient(t, s.URL())
	a := rvredis.New(pc, channel, nil)
	got := subscribe(t, rvredis.New(newClient(t, s.URL()), channel, nil))
	awaitSubscribers(t, pc, channel, 1)

	s.Stop(t)
	if err := a.Publish(t.Context(), revocation.Entry{ID: "lost", At: time.Now()}); err == nil {
		t.Fatal("Publish succeeded with Redis stopped")
	}
	s.Restart(t)
	awaitSubscribers(t, pc, channel, 1)
	want := revocation.Entry{ID: "after", At: time.UnixMicro(time.Now().UnixMicro())}
	if err := a.Publish(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	receive(t, got, want)
}

// memFeed is a revocation table.
type memFeed struct {
	mu      sync.Mutex
	entries []revocation.Entry
}

func (f *memFeed) put(e revocation.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, e)
}

func (f *memFeed) Since(_ context.Context, since time.Time) ([]revocation.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []revocation.Entry
	for _, e := range f.entries {
		if !e.At.Before(since) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *memFeed) Revoked(_ context.Context, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.entries {
		if e.ID == id {
			return true, nil
		}
	}
	return false, nil
}

// TestSetsShareRevocationsThroughRedis: two processes' sets polling an
// hour apart learn each other's revocations through Redis; with Redis
// stopped, the poll still delivers them.
func TestSetsShareRevocationsThroughRedis(t *testing.T) {
	s := redistest.Start(t)
	const channel = "basalt:revocations"
	feed := &memFeed{}
	newSet := func() *revocation.Set {
		c := newClient(t, s.URL())
		set, err := revocation.New(feed, revocation.Options{Interval: time.Hour, MaxStaleness: time.Hour,
			Retention: time.Hour, Broadcaster: rvredis.New(c, channel, nil)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- set.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v", err)
			}
		})
		return set
	}
	a, b := newSet(), newSet()
	admin := newClient(t, s.URL())
	awaitSubscribers(t, admin, channel, 2)
	revoked := func(set *revocation.Set, id string) bool {
		t.Helper()
		ok, err := set.Revoked(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	e := revocation.Entry{ID: "s1", At: time.Now()}
	feed.put(e)
	if revoked(b, "s1") {
		t.Fatal("B knows s1 before A added it: B is not answering from memory")
	}
	a.Add(e.ID, e.At)
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !revoked(b, "s1") {
		if time.Since(start) > 5*time.Second {
			t.Fatal("B did not learn the revocation through Redis")
		}
		<-tick.C
	}
	t.Logf("B refused s1 %v after A revoked it (its poll interval is 1h)", time.Since(start))

	s.Stop(t)
	e = revocation.Entry{ID: "s2", At: time.Now()}
	feed.put(e)
	a.Add(e.ID, e.At)
	if !revoked(a, "s2") {
		t.Fatal("A forgot its own revocation")
	}
	if revoked(b, "s2") {
		t.Fatal("B learned s2 with Redis stopped")
	}
	if err := b.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !revoked(b, "s2") {
		t.Fatal("B's poll did not deliver s2")
	}
}
