package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/outbox"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/storage/postgres"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// engine is what the relay uses of a storage engine, and the writes the
// tests make.
type engine interface {
	docstore.Store
	eventbus.Log
	eventbus.Cursors
}

func openSQLite(t *testing.T) engine {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// openPostgres opens a store on the database at url (one per process).
func openPostgres(t *testing.T, url string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), postgres.Options{URL: url, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func openEngine(t *testing.T, name string) engine {
	t.Helper()
	if name == "postgres" {
		return openPostgres(t, pgtest.URL(t))
	}
	return openSQLite(t)
}

// onEngines runs fn once per storage engine.
func onEngines(t *testing.T, fn func(t *testing.T, name string, st engine)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run("engine="+name, func(t *testing.T) {
			t.Parallel()
			fn(t, name, openEngine(t, name))
		})
	}
}

// recordingBus is the bus side of the tests: it records what is published
// to it, fails when gate says so, and reports overlapping Publish calls.
type recordingBus struct {
	t    *testing.T
	gate func(ctx context.Context, events []eventbus.Event) error // nil: accept

	inFlight atomic.Int32
	mu       sync.Mutex
	batches  [][]eventbus.Event
	attempts []time.Time // of every Publish call
}

func (b *recordingBus) Publish(ctx context.Context, events []eventbus.Event) error {
	if n := b.inFlight.Add(1); n > 1 {
		b.t.Errorf("%d Publish calls at once", n)
	}
	defer b.inFlight.Add(-1)
	b.mu.Lock()
	b.attempts = append(b.attempts, time.Now())
	gate := b.gate
	b.mu.Unlock()
	if gate != nil {
		if err := gate(ctx, events); err != nil {
			return err
		}
	}
	b.record(events)
	return nil
}

func (b *recordingBus) record(events []eventbus.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batches = append(b.batches, append([]eventbus.Event(nil), events...))
}

func (b *recordingBus) setGate(g func(ctx context.Context, events []eventbus.Event) error) {
	b.mu.Lock()
	b.gate = g
	b.mu.Unlock()
}

// stream returns the published events in publish order.
func (b *recordingBus) stream() []eventbus.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []eventbus.Event
	for _, batch := range b.batches {
		out = append(out, batch...)
	}
	return out
}

// relayBus is one relay's view of a shared recordingBus: it counts the
// batches that relay published.
type relayBus struct {
	*recordingBus
	batches atomic.Int64
}

func (b *relayBus) Publish(ctx context.Context, events []eventbus.Event) error {
	err := b.recordingBus.Publish(ctx, events)
	if err == nil {
		b.batches.Add(1)
	}
	return err
}

func (b *recordingBus) Consume(context.Context, string, eventbus.Handler) error {
	return errors.New("the recording bus only records")
}
func (b *recordingBus) Lag(context.Context, string) (int64, error) { return 0, nil }
func (b *recordingBus) Close() error                               { return nil }

// event returns a new event of document id at version v.
func event(id string, v int64, at time.Time) eventbus.Event {
	payload, _ := json.Marshal(map[string]any{"id": id, "collection": "notes", "version": v, "data": map[string]string{"secret": "s-" + id}})
	return eventbus.Event{ID: uuid.Must(uuid.NewV7()).String(), Type: eventbus.DocumentCreated, Collection: "notes",
		DocumentID: id, Version: v, Time: at, Payload: payload}
}

// write commits events in one transaction.
func write(t *testing.T, st docstore.Store, events ...eventbus.Event) {
	t.Helper()
	err := st.Write(context.Background(), func(tx docstore.Tx) error {
		for _, e := range events {
			if err := tx.AppendOutbox(context.Background(), e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// logged returns every numbered event of the log, numbering committed ones
// first.
func logged(t *testing.T, log eventbus.Log) []eventbus.Event {
	t.Helper()
	if _, err := log.Sequence(context.Background(), 1_000_000); err != nil {
		t.Fatal(err)
	}
	evs, err := log.ReadEvents(context.Background(), 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// waitUntil waits until cond holds, for at most 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting until %s", what)
		case <-tick.C:
		}
	}
}

// startRelay runs a relay until the test ends or the returned stop is
// called; stop returns once Run returned.
func startRelay(t *testing.T, cfg outbox.Config) (*outbox.Relay, func()) {
	t.Helper()
	r, err := outbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return r, stop
}

// checkStream checks the consumed stream against the log: every logged
// event is in it, in position order, and the only events seen twice are
// those of redo (the batch that was published but not acknowledged when
// a relay stopped), published again right after the position before it.
func checkStream(t *testing.T, stream, log []eventbus.Event, redo []eventbus.Event) {
	t.Helper()
	again := map[int64]bool{}
	for _, e := range redo {
		again[e.Position] = true
	}
	seen := map[int64]eventbus.Event{}
	var last int64
	for i, e := range stream {
		if prev, dup := seen[e.Position]; dup {
			if !again[e.Position] || prev.ID != e.ID {
				t.Fatalf("stream[%d]: position %d (%s) published twice", i, e.Position, e.ID)
			}
		} else if e.Position <= last {
			t.Fatalf("stream[%d]: position %d after %d", i, e.Position, last)
		}
		if e.Position < last && !again[e.Position] {
			t.Fatalf("stream[%d]: position %d went back from %d", i, e.Position, last)
		}
		seen[e.Position] = e
		last = max(last, e.Position)
	}
	for _, e := range log {
		got, ok := seen[e.Position]
		if !ok {
			t.Fatalf("event at position %d (%s/%s v%d) was never published", e.Position, e.Collection, e.DocumentID, e.Version)
		}
		if got.ID != e.ID {
			t.Fatalf("position %d: published %s, logged %s", e.Position, got.ID, e.ID)
		}
	}
	if len(seen) != len(log) {
		t.Fatalf("published %d distinct events, the log holds %d", len(seen), len(log))
	}
}

func TestRelayPublishesInPositionOrderWhenWoken(t *testing.T) {
	onEngines(t, func(t *testing.T, _ string, st engine) {
		bus := &recordingBus{t: t}
		news := &eventbus.Signal{}
		// No poll in this test's time: only Wake makes the relay work.
		r, _ := startRelay(t, outbox.Config{Log: st, Cursors: st, Bus: bus, News: news, PollInterval: time.Hour, BatchSize: 7})
		now := time.Now()
		total := 0
		for i := range 30 {
			heard := news.C()
			evs := make([]eventbus.Event, 1+i%3)
			for j := range evs {
				evs[j] = event(fmt.Sprintf("d%d", j), int64(i+1), now)
			}
			write(t, st, evs...)
			total += len(evs)
			r.Wake()
			select {
			case <-heard:
			case <-time.After(10 * time.Second):
				t.Fatalf("write %d: News was not notified", i)
			}
		}
		waitUntil(t, "every event is published", func() bool { return len(bus.stream()) >= total })
		log := logged(t, st)
		if len(log) != total {
			t.Fatalf("the log holds %d events, want %d", len(log), total)
		}
		checkStream(t, bus.stream(), log, nil)
	})
}

func TestRelayRestartLosesNothing(t *testing.T) {
	onEngines(t, func(t *testing.T, _ string, st engine) {
		now := time.Now()
		for i := range 40 {
			write(t, st, event(fmt.Sprintf("d%d", i%4), int64(i/4+1), now))
		}
		// The first relay stops while its third batch is published: the
		// bus holds the batch, the relay never learns it (as if killed).
		bus := &recordingBus{t: t}
		var calls atomic.Int32
		var redo []eventbus.Event
		stopped := make(chan struct{})
		var stop func()
		bus.setGate(func(_ context.Context, evs []eventbus.Event) error {
			if calls.Add(1) == 3 {
				bus.record(evs)
				redo = append(redo, evs...)
				close(stopped)
				return errors.New("the relay was killed before the answer")
			}
			return nil
		})
		_, stop = startRelay(t, outbox.Config{Log: st, Cursors: st, Bus: bus, PollInterval: time.Hour, BatchSize: 5,
			MinBackoff: time.Hour})
		<-stopped
		stop()
		if n := len(bus.stream()); n != 15 {
			t.Fatalf("before the stop, %d events reached the bus, want 15", n)
		}
		// Writes go on while no relay runs; a new relay resumes.
		for i := 40; i < 60; i++ {
			write(t, st, event(fmt.Sprintf("d%d", i%4), int64(i/4+1), now))
		}
		bus.setGate(nil)
		startRelay(t, outbox.Config{Log: st, Cursors: st, Bus: bus, PollInterval: time.Hour, BatchSize: 5})
		waitUntil(t, "every event is published", func() bool { return len(bus.stream()) >= 65 })
		stream := bus.stream()
		if len(stream) != 65 {
			t.Fatalf("%d events published, want 60 and the 5 of the unacknowledged batch again", len(stream))
		}
		checkStream(t, stream, logged(t, st), redo)
	})
}

func TestRelayBacksOffWhileTheBusFailsAndWritesGoOn(t *testing.T) {
	onEngines(t, func(t *testing.T, _ string, st engine) {
		bus := &recordingBus{t: t}
		release := make(chan struct{})
		var failures atomic.Int32
		bus.setGate(func(ctx context.Context, _ []eventbus.Event) error {
			select { // the bus hangs…
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
			if failures.Add(1) <= 4 { // …then refuses four times
				return errors.New("broker unavailable")
			}
			return nil
		})
		reg := prometheus.NewRegistry()
		news := &eventbus.Signal{}
		relay, err := outbox.New(outbox.Config{Log: st, Cursors: st, Bus: bus, News: news, Registerer: reg,
			PollInterval: time.Hour, MinBackoff: 20 * time.Millisecond, MaxBackoff: 80 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- relay.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}()

		// Documents written through the service, whose Committed hook
		// wakes the relay: every write returns although the bus hangs,
		// and in-process readers hear of each.
		svc, err := docstore.NewService(st, docstore.Options{CursorKey: make([]byte, 32), Committed: relay.Wake})
		if err != nil {
			t.Fatal(err)
		}
		admin := adminContext()
		if _, err := svc.CreateCollection(admin, docstore.CollectionSpec{Name: "notes", Schema: json.RawMessage(`{"type":"object"}`)}); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			heard := news.C()
			wctx, wcancel := context.WithTimeout(admin, 10*time.Second)
			_, err := svc.CreateDocument(wctx, docstore.CreateRequest{Collection: "notes", Data: docstore.Data{"n": json.Number(fmt.Sprint(i))}})
			wcancel()
			if err != nil {
				t.Fatalf("write %d while the bus hangs: %v", i, err)
			}
			select {
			case <-heard:
			case <-time.After(10 * time.Second):
				t.Fatalf("write %d: News was not notified while the bus hangs", i)
			}
		}
		if n := len(bus.stream()); n != 0 {
			t.Fatalf("%d events published through a hanging bus", n)
		}
		close(release)
		waitUntil(t, "the backlog drains", func() bool { return len(bus.stream()) >= 21 })
		checkStream(t, bus.stream(), logged(t, st), nil)
		if got := value(t, reg, "basalt_outbox_publish_failures_total"); got != 4 {
			t.Errorf("publish failures = %v, want 4", got)
		}
		waitUntil(t, "published_total counts 21", func() bool {
			return value(t, reg, "basalt_outbox_published_total") == 21
		})
		// Each retry waited at least half its step: 20, 40, 80, 80 ms.
		bus.mu.Lock()
		attempts := append([]time.Time(nil), bus.attempts...)
		bus.mu.Unlock()
		if len(attempts) < 5 {
			t.Fatalf("%d Publish calls, want at least 5", len(attempts))
		}
		for i, step := range []time.Duration{20, 40, 80, 80} {
			if gap := attempts[i+1].Sub(attempts[i]); gap < step*time.Millisecond/2 {
				t.Errorf("retry %d came %v after the failure, want at least %v", i+1, gap, step*time.Millisecond/2)
			}
		}
	})
}

func adminContext() context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindUser, ID: "admin", Roles: []string{auth.RoleAdmin}})
}

// value returns the value of the counter or gauge registered under name.
func value(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// testClock is an injected clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func TestRetentionTrimsOnlyPublishedEventsOlderThanTheWindow(t *testing.T) {
	onEngines(t, func(t *testing.T, _ string, st engine) {
		ctx := context.Background()
		t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		// A document created and deleted, then others, all old; one recent.
		gone := event("gone", 1, t0)
		deleted := event("gone", 2, t0)
		deleted.Type = eventbus.DocumentDeleted
		write(t, st, gone, deleted)
		for i := range 4 {
			write(t, st, event(fmt.Sprintf("old%d", i), 1, t0))
		}
		write(t, st, event("recent", 1, t0.Add(2*time.Hour)))
		log := logged(t, st)
		if len(log) != 7 {
			t.Fatalf("the log holds %d events, want 7", len(log))
		}
		clock := &testClock{now: t0.Add(2*time.Hour + time.Minute)}
		reg := prometheus.NewRegistry()
		relay, err := outbox.New(outbox.Config{Log: st, Cursors: st, Bus: &recordingBus{t: t}, Registerer: reg,
			Clock: clock.Now, Retention: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		positions := func() []int64 {
			var out []int64
			for _, e := range logged(t, st) {
				out = append(out, e.Position)
			}
			return out
		}
		// Nothing published yet: nothing trimmed, however old.
		if err := relay.Trim(ctx); err != nil {
			t.Fatal(err)
		}
		if got := positions(); len(got) != 7 {
			t.Fatalf("before any publish, trimming left %v, want all 7", got)
		}
		if v := value(t, reg, "basalt_outbox_events"); v != 7 {
			t.Errorf("outbox events gauge = %v, want 7", v)
		}
		// The relay published the first four: only they go.
		if err := st.SetCursor(ctx, eventbus.RelayName, log[3].Position); err != nil {
			t.Fatal(err)
		}
		if err := relay.Trim(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := positions(), []int64{log[4].Position, log[5].Position, log[6].Position}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after trimming published events, the log holds %v, want %v", got, want)
		}
		if v := value(t, reg, "basalt_outbox_trimmed_total"); v != 4 {
			t.Errorf("trimmed total = %v, want 4", v)
		}
		if v := value(t, reg, "basalt_outbox_events"); v != 3 {
			t.Errorf("outbox events gauge = %v, want 3", v)
		}
		if v := value(t, reg, "basalt_outbox_bytes"); v <= 0 {
			t.Errorf("outbox bytes gauge = %v, want > 0", v)
		}
		for _, e := range logged(t, st) {
			if e.DocumentID == "gone" {
				t.Errorf("the deleted document's event %s is still in the log", e.Type)
			}
		}
		// Everything published: the recent event stays for the window.
		if err := st.SetCursor(ctx, eventbus.RelayName, log[6].Position); err != nil {
			t.Fatal(err)
		}
		if err := relay.Trim(ctx); err != nil {
			t.Fatal(err)
		}
		if got := positions(); fmt.Sprint(got) != fmt.Sprint([]int64{log[6].Position}) {
			t.Fatalf("after trimming, the log holds %v, want only the recent event at %d", got, log[6].Position)
		}
		// On the in-process bus, consumers read the log: trimming waits
		// for a consumer that moved within the window, not for one that
		// stopped long ago.
		for i := range 3 {
			write(t, st, event(fmt.Sprintf("held%d", i), 1, t0))
		}
		log = logged(t, st)
		if err := st.SetCursor(ctx, eventbus.RelayName, log[len(log)-1].Position); err != nil {
			t.Fatal(err)
		}
		if err := st.SetCursor(ctx, "webhooks", log[1].Position); err != nil {
			t.Fatal(err)
		}
		clock.Set(time.Now().Add(2 * time.Hour))
		waiting, err := outbox.New(outbox.Config{Log: st, Cursors: st, Bus: &recordingBus{t: t}, Clock: clock.Now,
			Retention: 3 * time.Hour, WaitForConsumers: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := waiting.Trim(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := positions(), []int64{log[2].Position, log[3].Position}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("trimming behind a live consumer left %v, want %v", got, want)
		}
		clock.Set(time.Now().Add(4 * time.Hour)) // the consumer has not moved for longer than the window
		if err := waiting.Trim(ctx); err != nil {
			t.Fatal(err)
		}
		if got := positions(); len(got) != 0 {
			t.Fatalf("trimming behind a consumer gone for longer than the window left %v", got)
		}
		clock.Set(t0.Add(2*time.Hour + time.Minute))

		// Run trims on its own, every TrimInterval, what it published.
		for i := range 3 {
			write(t, st, event(fmt.Sprintf("later%d", i), 1, t0))
		}
		bus := &recordingBus{t: t}
		startRelay(t, outbox.Config{Log: st, Cursors: st, Bus: bus, Clock: clock.Now, Retention: time.Hour,
			TrimInterval: 10 * time.Millisecond, PollInterval: 10 * time.Millisecond})
		waitUntil(t, "the relay publishes and trims the old events", func() bool {
			return len(bus.stream()) == 3 && len(positions()) == 0
		})
	})
}

// TestThreeRelaysOnPostgres runs three relays, as three processes on one
// database would, while writers interleave short transactions with long
// ones that commit after events with higher sequence numbers: the stream
// skips nothing and never has two relays publishing at once.
func TestThreeRelaysOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	bus := &recordingBus{t: t}
	var stores []*postgres.Store
	var relays []*outbox.Relay
	var stops []func()
	var views []*relayBus
	for range 3 {
		st := openPostgres(t, url)
		view := &relayBus{recordingBus: bus}
		views = append(views, view)
		// A short LockHold hands the lock from relay to relay often.
		cfg := outbox.Config{Log: st, Cursors: st, Bus: view, Waker: st, PollInterval: 20 * time.Millisecond, BatchSize: 4,
			MinBackoff: 5 * time.Millisecond, LockHold: 15 * time.Millisecond}
		r, stop := startRelay(t, cfg)
		stores = append(stores, st)
		relays = append(relays, r)
		stops = append(stops, stop)
	}
	now := time.Now()
	const writers, perWriter = 4, 25
	thresholds := []int64{5, 30, 60, 95}
	reached := make([]chan struct{}, len(thresholds))
	for i := range reached {
		reached[i] = make(chan struct{})
	}
	var shorts, written atomic.Int64
	var wg sync.WaitGroup
	// Long transactions: each records its events, then stays open until
	// that many short ones committed after it.
	for k := range thresholds {
		wg.Go(func() {
			st := stores[k%3]
			err := st.Write(context.Background(), func(tx docstore.Tx) error {
				for j := range 2 {
					if err := tx.AppendOutbox(context.Background(), event(fmt.Sprintf("long%d", k), int64(j+1), now)); err != nil {
						return err
					}
				}
				select {
				case <-reached[k]:
					return nil
				case <-time.After(30 * time.Second):
					return errors.New("the short writes never reached their count")
				}
			})
			if err != nil {
				t.Error(err)
				return
			}
			written.Add(2)
			relays[k%3].Wake()
		})
	}
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				n := 1 + (w+i)%2
				evs := make([]eventbus.Event, n)
				for j := range evs {
					evs[j] = event(fmt.Sprintf("w%d", w), int64(i*2+j+1), now)
				}
				write(t, stores[(w+i)%3], evs...)
				written.Add(int64(n))
				relays[(w+i)%3].Wake()
				c := shorts.Add(1)
				for k, th := range thresholds {
					if c == th {
						close(reached[k])
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	total := int(written.Load())
	distinct := func() int {
		seen := map[int64]bool{}
		for _, e := range bus.stream() {
			seen[e.Position] = true
		}
		return len(seen)
	}
	waitUntil(t, "every committed event is published", func() bool { return distinct() >= total })
	log := logged(t, stores[0])
	if len(log) != total {
		t.Fatalf("the log holds %d events, %d were committed", len(log), total)
	}
	checkStream(t, bus.stream(), log, nil)
	// The lock passes between relays: when the load did not hand it over
	// to every relay already, stop those that published, and one that
	// has not must take over and publish what comes next.
	var idle []int
	for i, v := range views {
		if v.batches.Load() == 0 {
			idle = append(idle, i)
		}
	}
	if len(idle) == 0 {
		return
	}
	for i, v := range views {
		if v.batches.Load() > 0 {
			stops[i]()
		}
	}
	for j := range 3 {
		write(t, stores[idle[0]], event("after", int64(j+1), now))
		total++
	}
	for _, i := range idle {
		relays[i].Wake()
	}
	waitUntil(t, "a relay that had not published takes the lock over", func() bool { return distinct() >= total })
	log = logged(t, stores[idle[0]])
	if len(log) != total {
		t.Fatalf("the log holds %d events, %d were committed", len(log), total)
	}
	checkStream(t, bus.stream(), log, nil)
	took := false
	for _, i := range idle {
		took = took || views[i].batches.Load() > 0
	}
	if !took {
		t.Error("the events written after the publishing relays stopped were published, but not by another relay")
	}
}

// TestRelayWakesReadersOnAnotherProcesssEvents: on PostgreSQL, when
// another process numbers events, the relay hears of it (Waker) without
// polling and tells its process's readers (News), although it numbered
// nothing itself.
func TestRelayWakesReadersOnAnotherProcesssEvents(t *testing.T) {
	url := pgtest.URL(t)
	here, there := openPostgres(t, url), openPostgres(t, url)
	news := &eventbus.Signal{}
	bus := &recordingBus{t: t}
	startRelay(t, outbox.Config{Log: here, Cursors: here, Bus: bus, Waker: here, News: news, PollInterval: time.Hour})
	// The relay listens from a moment after it starts, and numbers what the
	// log holds when it starts: wait until its listening connection is
	// open and a first event of the other process was heard of, so that
	// the checks below see notices only (the poll comes in an hour).
	pool, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	waitUntil(t, "the relay listens", func() bool {
		var n int
		err := pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND state = 'idle' AND query LIKE 'LISTEN %'`).Scan(&n)
		return err == nil && n > 0
	})
	heard := news.C()
	write(t, there, event("probe", 1, time.Now()))
	if _, err := there.Sequence(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	select {
	case <-heard:
	case <-time.After(10 * time.Second):
		t.Fatal("a first event, numbered by another process: News was not notified")
	}
	// Three events numbered by the other process, each heard of. The relay
	// may still be numbering after an earlier notice when an event is
	// written, and number it itself: that one proves nothing and is
	// followed by another.
	written := 1
	for heardOf := 0; heardOf < 3; {
		if written > 20 {
			t.Fatalf("the relay numbered the other process's events itself %d times", written-1-heardOf)
		}
		written++
		heard := news.C()
		write(t, there, event("d", int64(written), time.Now()))
		n, err := there.Sequence(context.Background(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			continue
		}
		select {
		case <-heard:
			heardOf++
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d, numbered by another process: News was not notified", written)
		}
	}
	waitUntil(t, "the relay publishes the other process's events", func() bool { return len(bus.stream()) >= written })
	checkStream(t, bus.stream(), logged(t, here), nil)
}
