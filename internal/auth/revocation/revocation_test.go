package revocation

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/basaltdev/basalt/internal/fault"
)

var t0 = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

// clock is a manual clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// record is a revocation in the fake database. It is visible to readers
// once committed, with its timestamp At (which may be earlier than the
// commit, as with a slow transaction).
type record struct {
	Entry
	committed bool
}

// fakeFeed is an in-memory revocation table.
type fakeFeed struct {
	mu         sync.Mutex
	records    []record
	sinceCalls []time.Time
	sinceErr   error
	revokedErr error
	// block, when set, makes Revoked wait for it (or the context).
	block        chan struct{}
	revokedCalls atomic.Int64
	inRevoked    atomic.Int64
	maxInRevoked atomic.Int64
}

func (f *fakeFeed) put(id string, at time.Time, committed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.records {
		if f.records[i].ID == id {
			f.records[i] = record{Entry{id, at}, committed}
			return
		}
	}
	f.records = append(f.records, record{Entry{id, at}, committed})
}

func (f *fakeFeed) commit(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.records {
		if f.records[i].ID == id {
			f.records[i].committed = true
		}
	}
}

func (f *fakeFeed) setErrs(since, revoked error) {
	f.mu.Lock()
	f.sinceErr, f.revokedErr = since, revoked
	f.mu.Unlock()
}

func (f *fakeFeed) lastSince() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sinceCalls[len(f.sinceCalls)-1]
}

func (f *fakeFeed) Since(ctx context.Context, since time.Time) ([]Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sinceCalls = append(f.sinceCalls, since)
	if f.sinceErr != nil {
		return nil, f.sinceErr
	}
	var out []Entry
	for _, r := range f.records {
		if r.committed && !r.At.Before(since) {
			out = append(out, r.Entry)
		}
	}
	return out, ctx.Err()
}

func (f *fakeFeed) Revoked(ctx context.Context, id string) (bool, error) {
	f.revokedCalls.Add(1)
	n := f.inRevoked.Add(1)
	defer f.inRevoked.Add(-1)
	for {
		m := f.maxInRevoked.Load()
		if n <= m || f.maxInRevoked.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	block, err := f.block, f.revokedErr
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	if err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.records {
		if r.committed && r.ID == id {
			return true, nil
		}
	}
	return false, nil
}

const retention = 10*time.Minute + 30*time.Second

func newSet(t testing.TB, feed Feed, c *clock, opts Options) *Set {
	t.Helper()
	opts.Now = c.Now
	if opts.Retention == 0 {
		opts.Retention = retention
	}
	s, err := New(feed, opts)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	return s
}

func mustPoll(t testing.TB, s *Set) {
	t.Helper()
	if err := s.poll(context.Background()); err != nil {
		t.Fatalf("poll = %v", err)
	}
}

func wantRevoked(t *testing.T, s *Set, id string, want bool) {
	t.Helper()
	got, err := s.Revoked(context.Background(), id)
	if err != nil {
		t.Fatalf("Revoked(%q) = %v", id, err)
	}
	if got != want {
		t.Fatalf("Revoked(%q) = %v, want %v", id, got, want)
	}
}

// eventually waits up to 10 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestNewValidates(t *testing.T) {
	feed := &fakeFeed{}
	for _, tc := range []struct {
		name string
		feed Feed
		opts Options
	}{
		{"no feed", nil, Options{Retention: time.Minute}},
		{"no retention", feed, Options{}},
		{"negative retention", feed, Options{Retention: -time.Second}},
		{"negative interval", feed, Options{Retention: time.Minute, Interval: -time.Second}},
		{"negative overlap", feed, Options{Retention: time.Minute, Overlap: -time.Second}},
		{"negative fallbacks", feed, Options{Retention: time.Minute, MaxFallbacks: -1}},
		{"staleness below interval", feed, Options{Retention: time.Minute, Interval: time.Second, MaxStaleness: 500 * time.Millisecond}},
	} {
		if _, err := New(tc.feed, tc.opts); !fault.Is(err, fault.Invalid) {
			t.Errorf("%s: New = %v, want Invalid", tc.name, err)
		}
	}
	s, err := New(feed, Options{Retention: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if s.interval != DefaultInterval || s.maxStaleness != DefaultMaxStaleness || s.overlap != DefaultOverlap || cap(s.fallbacks) != DefaultMaxFallbacks {
		t.Errorf("defaults not applied: %+v", s)
	}
}

func TestAddIsVisibleAtOnce(t *testing.T) {
	c := newClock()
	feed := &fakeFeed{}
	s := newSet(t, feed, c, Options{})
	mustPoll(t, s)
	wantRevoked(t, s, "s1", false)
	s.Add("s1", c.Now())
	wantRevoked(t, s, "s1", true)
	wantRevoked(t, s, "s2", false)
	// Even while stale, a revocation known here needs no database call.
	c.Advance(time.Hour)
	s.Add("s3", time.Time{})
	wantRevoked(t, s, "s3", true)
	if n := feed.revokedCalls.Load(); n != 0 {
		t.Errorf("feed.Revoked called %d times", n)
	}
}

func TestPollMakesRevocationsVisible(t *testing.T) {
	c := newClock()
	feed := &fakeFeed{}
	s := newSet(t, feed, c, Options{})
	mustPoll(t, s)
	if got := feed.lastSince(); !got.Equal(t0.Add(-retention)) {
		t.Errorf("first poll read since %s, want %s (the whole retention)", got, t0.Add(-retention))
	}
	// Another process revokes s1.
	c.Advance(100 * time.Millisecond)
	feed.put("s1", c.Now(), true)
	wantRevoked(t, s, "s1", false) // not polled yet, still fresh
	c.Advance(100 * time.Millisecond)
	mustPoll(t, s)
	wantRevoked(t, s, "s1", true)
	wantRevoked(t, s, "s2", false)
	if got, want := feed.lastSince(), t0.Add(-DefaultOverlap); !got.Equal(want) {
		t.Errorf("second poll read since %s, want previous start minus overlap %s", got, want)
	}
	if n := feed.revokedCalls.Load(); n != 0 {
		t.Errorf("fresh lookups called feed.Revoked %d times", n)
	}
}

func TestStaleFallsBackToFeed(t *testing.T) {
	c := newClock()
	feed := &fakeFeed{}
	s := newSet(t, feed, c, Options{})

	// Never synced: every lookup asks the feed.
	if s.Synced() {
		t.Fatal("Synced before the first poll")
	}
	feed.put("s1", t0, true)
	wantRevoked(t, s, "s2", false)
	if n := feed.revokedCalls.Load(); n != 1 {
		t.Fatalf("feed.Revoked called %d times, want 1", n)
	}
	wantRevoked(t, s, "s1", true)

	// Synced: memory answers.
	mustPoll(t, s)
	if !s.Synced() {
		t.Fatal("not Synced after a poll")
	}
	calls := feed.revokedCalls.Load()
	c.Advance(DefaultMaxStaleness)
	wantRevoked(t, s, "s2", false)
	if !s.Synced() || feed.revokedCalls.Load() != calls {
		t.Fatal("set stale, or feed asked, exactly MaxStaleness after the poll started")
	}

	// One nanosecond later the set is stale: the feed is asked again, and
	// the answer reflects revocations the set has not seen.
	c.Advance(time.Nanosecond)
	if s.Synced() {
		t.Fatal("Synced after MaxStaleness")
	}
	feed.put("s2", c.Now(), true)
	wantRevoked(t, s, "s2", true)
	if got := feed.revokedCalls.Load(); got != calls+1 {
		t.Fatalf("feed.Revoked called %d times, want %d", got, calls+1)
	}
	// A revoked answer from the feed is remembered.
	wantRevoked(t, s, "s2", true)
	if got := feed.revokedCalls.Load(); got != calls+1 {
		t.Fatalf("feed.Revoked called again for a known revocation")
	}

	// A clock that steps backwards makes the set stale.
	mustPoll(t, s)
	c.Advance(-time.Second)
	if s.Synced() {
		t.Fatal("Synced with the clock behind the last poll")
	}
}

// TestKnownAnswersFromMemoryOnly: Known never asks the feed; it knows a
// revocation it has seen, and that an ID is live only while fresh.
func TestKnownAnswersFromMemoryOnly(t *testing.T) {
	c := newClock()
	feed := &fakeFeed{}
	s := newSet(t, feed, c, Options{})
	want := func(id string, revoked, known bool) {
		t.Helper()
		if r, k := s.Known(id); r != revoked || k != known {
			t.Fatalf("Known(%s) = %v, %v; want %v, %v", id, r, k, revoked, known)
		}
	}
	want("s1", false, false) // never synced
	s.Add("s1", c.Now())
	want("s1", true, true)
	mustPoll(t, s)
	want("s2", false, true)
	c.Advance(DefaultMaxStaleness + time.Nanosecond)
	want("s2", false, false)
	want("s1", true, true)
	if n := feed.revokedCalls.Load(); n != 0 {
		t.Fatalf("feed.Revoked called %d times", n)
	}
}

func TestFreshnessCountsFromPollStart(t *testing.T) {
	c := newClock()
	feed := &fakeFeed{}
	s := newSet(t, feed, c, Options{})
	slow := &slowFeed{fakeFeed: feed, advance: func() { c.Advance(DefaultMaxStaleness + time.Millisecond) }}
	s.feed = slow
	mustPoll(t, s)
	if s.Synced() {
		t.Fatal("a poll that started more than MaxStaleness ago made the set fresh")
	}
}

// slowFeed moves the clock forward while Since runs.
type slowFeed struct {
	*fakeFeed
	advance func()
}

func (f *slowFeed) Since(ctx context.Context, since time.Time) ([]Entry, error) {
	f.advance()
	return f.fakeFeed.Since(ctx, since)
}

func TestFallbackErrorIsUnavailable(t *testing.T) {
	c := newClock()
	feed := &fakeFeed{}
	s := newSet(t, feed, c, Options{})
	dbDown := errors.New("connection refused")
	feed.setErrs(dbDown, dbDown)
	if err := s.poll(context.Background()); !errors.Is(err, dbDown) {
		t.Fatalf("poll = %v", err)
	}
	revoked, err := s.Revoked(context.Background(), "s1")
	if !fault.Is(err, fault.Unavailable) || !errors.Is(err, dbDown) || revoked {
		t.Fatalf("Revoked = %v, %v; want false and Unavailable wrapping the cause", revoked, err)
	}
	// An empty ID is a caller's bug, not a pass.
	if _, err := s.Revoked(context.Background(), ""); !fault.Is(err, fault.Invalid) {
		t.Fatalf("Revoked(\"\") = %v", err)
	}
}

func TestLateCommitWithinOverlap(t *testing.T) {
	for _, tc := range []struct {
		overlap time.Duration
		found   bool
	}{
		{DefaultOverlap, true},
		// Counter-check: with an overlap shorter than the commit delay the
		// revocation is missed, so the first case tests something.
		{200 * time.Millisecond, false},
	} {
		t.Run(fmt.Sprint("overlap=", tc.overlap), func(t *testing.T) {
			c := newClock()
			feed := &fakeFeed{}
			s := newSet(t, feed, c, Options{Overlap: tc.overlap, MaxStaleness: time.Hour})
			mustPoll(t, s)
			// A transaction stamps its revocation now but commits 2 s later.
			c.Advance(time.Second)
			stamped := c.Now()
			feed.put("late", stamped, false)
			for range 10 { // 10 polls run while it is in flight
				c.Advance(200 * time.Millisecond)
				mustPoll(t, s)
			}
			feed.commit("late")
			c.Advance(200 * time.Millisecond)
			mustPoll(t, s)
			wantRevoked(t, s, "late", tc.found)
		})
	}
}

func TestPruning(t *testing.T) {
	c := newClock()
	feed := &fakeFeed{}
	s := newSet(t, feed, c, Options{MaxStaleness: time.Hour})
	feed.put("old", t0, true)
	mustPoll(t, s)
	s.Add("local", t0.Add(time.Minute))
	wantRevoked(t, s, "old", true)
	wantRevoked(t, s, "local", true)

	// Polls that re-read known revocations do not grow the set.
	for range 100 {
		c.Advance(200 * time.Millisecond)
		mustPoll(t, s)
	}
	if s.Len() != 2 || len(s.byTime) != 2 {
		t.Fatalf("after re-reads: %d entries, heap %d; want 2, 2", s.Len(), len(s.byTime))
	}

	// Just past the retention of "old" only, then of both.
	c.Advance(t0.Add(retention + time.Nanosecond).Sub(c.Now()))
	mustPoll(t, s)
	wantRevoked(t, s, "old", false)
	wantRevoked(t, s, "local", true)
	c.Advance(time.Minute)
	mustPoll(t, s)
	wantRevoked(t, s, "local", false)
	if s.Len() != 0 || len(s.byTime) != 0 {
		t.Fatalf("after retention: %d entries, heap %d", s.Len(), len(s.byTime))
	}

	// A later revocation of the same ID outlives the earlier one.
	s.Add("x", c.Now())
	c.Advance(time.Minute)
	s.Add("x", c.Now())
	c.Advance(retention - 30*time.Second)
	mustPoll(t, s)
	wantRevoked(t, s, "x", true)
	c.Advance(time.Minute)
	mustPoll(t, s)
	wantRevoked(t, s, "x", false)
}

func TestConcurrentFallbacksShareOneCall(t *testing.T) {
	c := newClock()
	feed := &fakeFeed{block: make(chan struct{})}
	feed.put("s1", t0, true)
	s := newSet(t, feed, c, Options{})

	const n = 50
	var wg sync.WaitGroup
	results := make(chan error, n)
	for range n {
		wg.Go(func() {
			revoked, err := s.Revoked(context.Background(), "s1")
			if err == nil && !revoked {
				err = errors.New("not revoked")
			}
			results <- err
		})
	}
	eventually(t, "all lookups to join one call", func() bool {
		s.flightMu.Lock()
		defer s.flightMu.Unlock()
		f := s.flights["s1"]
		return f != nil && f.waiters == n-1
	})
	close(feed.block)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := feed.revokedCalls.Load(); got != 1 {
		t.Fatalf("feed.Revoked called %d times for %d concurrent lookups, want 1", got, n)
	}
}

func TestFallbacksOfDistinctIDsAreBounded(t *testing.T) {
	c := newClock()
	feed := &fakeFeed{block: make(chan struct{})}
	s := newSet(t, feed, c, Options{MaxFallbacks: 3})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := s.Revoked(context.Background(), fmt.Sprint("id-", i)); err != nil {
				t.Error(err)
			}
		})
	}
	eventually(t, "three lookups to reach the feed", func() bool { return feed.inRevoked.Load() == 3 })
	close(feed.block)
	wg.Wait()
	if m := feed.maxInRevoked.Load(); m != 3 {
		t.Fatalf("at most %d concurrent feed calls, want 3", m)
	}
	if got := feed.revokedCalls.Load(); got != 20 {
		t.Fatalf("feed.Revoked called %d times, want 20", got)
	}
}

func TestAbandonedFallbackIsRetriedByWaiters(t *testing.T) {
	c := newClock()
	feed := &fakeFeed{block: make(chan struct{})}
	feed.put("s1", t0, true)
	s := newSet(t, feed, c, Options{})

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := s.Revoked(leaderCtx, "s1")
		leaderErr <- err
	}()
	eventually(t, "the first lookup to reach the feed", func() bool { return feed.inRevoked.Load() == 1 })
	waiter := make(chan error, 1)
	go func() {
		revoked, err := s.Revoked(context.Background(), "s1")
		if err == nil && !revoked {
			err = errors.New("not revoked")
		}
		waiter <- err
	}()
	eventually(t, "the second lookup to wait", func() bool {
		s.flightMu.Lock()
		defer s.flightMu.Unlock()
		return s.flights["s1"] != nil && s.flights["s1"].waiters == 1
	})
	cancelLeader()
	if err := <-leaderErr; !fault.Is(err, fault.Unavailable) {
		t.Fatalf("cancelled lookup = %v, want Unavailable", err)
	}
	eventually(t, "the waiter to ask the feed itself", func() bool { return feed.revokedCalls.Load() == 2 })
	close(feed.block)
	if err := <-waiter; err != nil {
		t.Fatalf("waiter = %v", err)
	}
}

func TestRunPollsAndStops(t *testing.T) {
	c := newClock()
	feed := &fakeFeed{}
	feed.put("s1", t0, true)
	reg := prometheus.NewRegistry()
	s := newSet(t, feed, c, Options{Interval: time.Millisecond, MaxStaleness: time.Millisecond, Registerer: reg})
	if got := gauge(t, reg, "basalt_revocation_feed_age_seconds"); !math.IsInf(got, 1) {
		t.Errorf("feed age before the first poll = %v, want +Inf", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	// The first poll happens at once; later ones keep coming.
	eventually(t, "the first poll", s.Synced)
	wantRevoked(t, s, "s1", true)
	eventually(t, "more polls", func() bool {
		feed.mu.Lock()
		defer feed.mu.Unlock()
		return len(feed.sinceCalls) >= 3
	})
	if err := s.Run(ctx); !fault.Is(err, fault.Internal) {
		t.Errorf("second concurrent Run = %v, want an error", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	// The clock moves on while the set is idle: the age grows.
	c.Advance(time.Second)
	if got := gauge(t, reg, "basalt_revocation_entries"); got != 1 {
		t.Errorf("entries metric = %v, want 1", got)
	}
	if got := gauge(t, reg, "basalt_revocation_feed_age_seconds"); got != 1 {
		t.Errorf("feed age = %v, want 1", got)
	}
	// Run can start again after it stopped.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := s.Run(ctx2); err != nil {
		t.Fatalf("Run after restart = %v", err)
	}
}

func TestPollErrorsAreCounted(t *testing.T) {
	c := newClock()
	feed := &fakeFeed{}
	reg := prometheus.NewRegistry()
	s := newSet(t, feed, c, Options{Registerer: reg})
	feed.setErrs(errors.New("down"), errors.New("down"))
	s.pollAndLog(context.Background())
	s.pollAndLog(context.Background())
	if _, err := s.Revoked(context.Background(), "a"); err == nil {
		t.Fatal("Revoked with the feed down succeeded")
	}
	feed.setErrs(nil, nil)
	s.pollAndLog(context.Background())
	if s.failing != 0 || !s.Synced() {
		t.Errorf("after recovery: failing=%d synced=%v", s.failing, s.Synced())
	}
	if got := testutil.ToFloat64(s.pollErrors); got != 2 {
		t.Errorf("poll errors = %v, want 2", got)
	}
	if got := testutil.ToFloat64(s.fallbackResults.WithLabelValues("error")); got != 1 {
		t.Errorf("fallback errors = %v, want 1", got)
	}
	// A second Set cannot register the same metrics with the same registry.
	if _, err := New(feed, Options{Retention: time.Minute, Registerer: reg}); err == nil {
		t.Error("duplicate registration succeeded")
	}
}

// gauge returns the value of the gauge name gathered from reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestConcurrentUse(t *testing.T) {
	c := newClock()
	feed := &fakeFeed{}
	s := newSet(t, feed, c, Options{Interval: time.Millisecond, MaxStaleness: 2 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				id := fmt.Sprintf("g%d-%d", g, i%50)
				switch i % 5 {
				case 0:
					s.Add(id, c.Now())
				case 1:
					feed.put("feed-"+id, c.Now(), true)
				case 2:
					c.Advance(time.Millisecond)
				case 3:
					_ = s.Synced()
				}
				if _, err := s.Revoked(ctx, id); err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					if ok, err := s.Revoked(ctx, id); err != nil || !ok {
						t.Errorf("Revoked(%q) after Add = %v, %v", id, ok, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.Len() == 0 {
		t.Fatal("no entries after concurrent use")
	}
}

func BenchmarkRevokedFresh(b *testing.B) {
	feed := &fakeFeed{}
	for i := range 10000 {
		feed.records = append(feed.records, record{Entry{fmt.Sprint("revoked-", i), time.Now()}, true})
	}
	// The real clock: reading it is part of every lookup.
	s, err := New(feed, Options{Retention: retention, Now: time.Now})
	if err != nil {
		b.Fatal(err)
	}
	mustPoll(b, s)
	// Keep the set fresh while the benchmark runs.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if revoked, err := s.Revoked(ctx, "live-session"); err != nil || revoked {
				b.Fatal(revoked, err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if revoked, err := s.Revoked(ctx, "revoked-42"); err != nil || !revoked {
					b.Fatal(revoked, err)
				}
			}
		})
	})
}

// TestSyncCatchesUp: a set has not caught up until a poll succeeded; Sync
// polls at once, without Run.
func TestSyncCatchesUp(t *testing.T) {
	c := newClock()
	feed := &fakeFeed{}
	feed.put("s1", c.Now(), true)
	s := newSet(t, feed, c, Options{})
	if s.CaughtUp() || s.Synced() {
		t.Fatal("a new set has caught up")
	}
	if err := s.Sync(context.Background()); err != nil {
		t.Fatalf("Sync = %v", err)
	}
	if !s.CaughtUp() || !s.Synced() {
		t.Fatal("not caught up after Sync")
	}
	wantRevoked(t, s, "s1", true)
	// Stale later, but it has caught up once.
	c.Advance(time.Hour)
	if s.Synced() || !s.CaughtUp() {
		t.Fatalf("an hour later: synced %v, caught up %v", s.Synced(), s.CaughtUp())
	}
}
