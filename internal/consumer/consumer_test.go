package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/eventbus/eventbustest"
	"github.com/basaltdev/basalt/internal/eventbus/memory"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/storage/postgres"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const waitTimeout = 30 * time.Second

// engine is what the tests need of a storage engine.
type engine interface {
	docstore.Store
	eventbus.Log
	eventbus.Cursors
	consumer.DeadLetterStore
}

func openSQLite(t *testing.T) engine {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db"), Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// env is a database with an in-process bus over it.
type env struct {
	store  engine
	news   *eventbus.Signal
	append func(t *testing.T, bus eventbus.Bus, events []eventbus.Event) []eventbus.Event
}

func newEnv(t *testing.T, store engine) *env {
	return &env{store: store, news: &eventbus.Signal{}, append: eventbustest.LogAppend(store, store)}
}

func (e *env) bus(t *testing.T) *memory.Bus {
	t.Helper()
	b, err := memory.New(memory.Config{Log: e.store, Cursors: e.store, News: e.news, BatchSize: 64,
		PollInterval: 20 * time.Millisecond, RetryBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// run runs c until the returned stop is called (or the test ends), and
// fails the test if Run returns an error.
func run(t *testing.T, c *consumer.Consumer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(waitTimeout):
				t.Errorf("Run did not return within %v", waitTimeout)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// events makes n events for each of the documents named, interleaved.
func events(t *testing.T, n int, docs ...string) []eventbus.Event {
	t.Helper()
	var out []eventbus.Event
	for v := 1; v <= n; v++ {
		for _, d := range docs {
			id, err := uuid.NewV7()
			if err != nil {
				t.Fatal(err)
			}
			typ := eventbus.DocumentPatched
			if v == 1 {
				typ = eventbus.DocumentCreated
			}
			out = append(out, eventbus.Event{ID: id.String(), Type: typ, Collection: "things", DocumentID: d,
				Version: int64(v), Time: time.Now().UTC(), Payload: []byte(fmt.Sprintf(`{"v":%d}`, v))})
		}
	}
	return out
}

// journal records the events handled successfully, and checks that one
// key is never handled twice at once.
type journal struct {
	mu       sync.Mutex
	handled  []eventbus.Event
	inflight map[string]bool
	problems []string
	news     eventbus.Signal
}

func newJournal() *journal { return &journal{inflight: map[string]bool{}} }

// wrap returns a Handle that records what handle did.
func (j *journal) wrap(handle func(context.Context, eventbus.Event) error) func(context.Context, eventbus.Event) error {
	return func(ctx context.Context, e eventbus.Event) error {
		j.mu.Lock()
		if j.inflight[e.Key()] {
			j.problems = append(j.problems, fmt.Sprintf("key %s handled twice at once (position %d)", e.Key(), e.Position))
		}
		j.inflight[e.Key()] = true
		j.mu.Unlock()
		err := handle(ctx, e)
		j.mu.Lock()
		delete(j.inflight, e.Key())
		if err == nil {
			j.handled = append(j.handled, e)
		}
		j.mu.Unlock()
		j.news.Notify()
		return err
	}
}

func (j *journal) snapshot() []eventbus.Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]eventbus.Event(nil), j.handled...)
}

// waitHandled waits until every event of want was handled successfully.
func (j *journal) waitHandled(t *testing.T, want []eventbus.Event) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		ch := j.news.C()
		seen := map[string]bool{}
		for _, e := range j.snapshot() {
			seen[e.ID] = true
		}
		missing := 0
		for _, e := range want {
			if !seen[e.ID] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%d of %d events not handled after %v", missing, len(want), waitTimeout)
		}
	}
}

// checkOrder checks that each key's handled events are in strictly
// increasing position order, and that no key was handled twice at once.
func (j *journal) checkOrder(t *testing.T, handled []eventbus.Event) {
	t.Helper()
	last := map[string]int64{}
	for _, e := range handled {
		if p, ok := last[e.Key()]; ok && e.Position <= p {
			t.Errorf("key %s: position %d handled after %d", e.Key(), e.Position, p)
		}
		last[e.Key()] = e.Position
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, p := range j.problems {
		t.Error(p)
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(waitTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("waited %v for %s", waitTimeout, what)
		}
	}
}

func newConsumer(t *testing.T, cfg consumer.Config) *consumer.Consumer {
	t.Helper()
	if cfg.Backoff.Base == 0 {
		cfg.Backoff = consumer.Backoff{Base: time.Millisecond, Max: 4 * time.Millisecond}
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = 10 * time.Millisecond
	}
	c, err := consumer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var errPoison = errors.New("cannot apply this event")

// A poison event is tried MaxAttempts times and set aside as a dead
// letter, while other documents go on (the poison's handler waits for
// them: with documents handled one after another it would wait forever),
// and its document's later events are handled after it.
func TestPoisonEventIsDeadLetteredWithoutBlockingOthers(t *testing.T) {
	testPoison(t, openSQLite(t))
}

func testPoison(t *testing.T, store engine) {
	e := newEnv(t, store)
	bus := e.bus(t)
	others := events(t, 4, "a", "b", "c", "d", "e")
	poison := events(t, 3, "p")
	// The poison document's events come first in the batch.
	all := e.append(t, bus, append(append([]eventbus.Event(nil), poison...), others...))
	poisonEv := all[1] // p, version 2
	othersDone := make(chan struct{})
	j := newJournal()
	reg := prometheus.NewRegistry()
	c := newConsumer(t, consumer.Config{Name: "indexer", Bus: bus, DeadLetters: store, MaxAttempts: 3, Parallel: 2,
		Registerer: reg,
		Handle: j.wrap(func(ctx context.Context, ev eventbus.Event) error {
			if ev.ID != poisonEv.ID {
				return nil
			}
			select {
			case <-othersDone:
			case <-ctx.Done():
				return ctx.Err()
			}
			return errPoison
		})})
	run(t, c)
	j.waitHandled(t, all[len(poison):])
	close(othersDone)
	want := append([]eventbus.Event{all[0], all[2]}, all[len(poison):]...)
	j.waitHandled(t, want)
	waitFor(t, "the batch to be acknowledged", func() bool {
		lag, err := bus.Lag(context.Background(), "indexer")
		return err == nil && lag == 0
	})

	letters, err := store.ListDeadLetters(context.Background(), "indexer", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 1 {
		t.Fatalf("dead letters = %+v, want one", letters)
	}
	d := letters[0]
	if d.Event.ID != poisonEv.ID || d.Event.Position != poisonEv.Position || d.Attempts != 3 ||
		d.Error != errPoison.Error() || d.Consumer != "indexer" || d.Retry {
		t.Errorf("dead letter = %+v, want the poison event (position %d) after 3 attempts", d, poisonEv.Position)
	}
	for _, h := range j.snapshot() {
		if h.ID == poisonEv.ID {
			t.Error("the poison event was recorded as handled")
		}
	}
	j.checkOrder(t, j.snapshot())

	for outcome, want := range map[string]float64{"ok": float64(len(want)), "retried": 2, "dead_lettered": 1} {
		got := testutil.ToFloat64(metric(t, reg, "basalt_consumer_events_total", outcome))
		if got != want {
			t.Errorf("basalt_consumer_events_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
	waitFor(t, "the dead-letter gauge to read 1", func() bool {
		return testutil.ToFloat64(metric(t, reg, "basalt_consumer_dead_letters", "")) == 1
	})
}

// The lag gauge counts the events not acknowledged yet, and reads 0 once
// the consumer caught up.
func TestLagGauge(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	bus := e.bus(t)
	e.append(t, bus, events(t, 3, "a", "b"))
	reg := prometheus.NewRegistry()
	release := make(chan struct{})
	c := newConsumer(t, consumer.Config{Name: "indexer", Bus: bus, DeadLetters: store, Registerer: reg,
		Handle: func(ctx context.Context, _ eventbus.Event) error {
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}})
	run(t, c)
	lag := func() float64 { return testutil.ToFloat64(metric(t, reg, "basalt_consumer_lag_events", "")) }
	waitFor(t, "the lag gauge to read 6 while nothing is acknowledged", func() bool { return lag() == 6 })
	close(release)
	waitFor(t, "the lag gauge to read 0", func() bool { return lag() == 0 })
}

// metric returns the consumer "indexer"'s series of a metric (with the
// outcome label when outcome is set).
func metric(t *testing.T, reg *prometheus.Registry, name, outcome string) prometheus.Collector {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["consumer"] == "indexer" && labels["outcome"] == outcome {
				g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "copy"})
				switch {
				case m.GetCounter() != nil:
					g.Set(m.GetCounter().GetValue())
				default:
					g.Set(m.GetGauge().GetValue())
				}
				return g
			}
		}
	}
	t.Fatalf("no series %s{consumer=indexer,outcome=%q}", name, outcome)
	return nil
}

// A dead letter marked for retry is handed to Handle again: a failure
// updates it (error, attempts, mark cleared), a success deletes it.
func TestDeadLetterRetry(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	bus := e.bus(t)
	all := e.append(t, bus, events(t, 2, "a", "p"))
	poisonEv := all[1] // p, version 1
	var mu sync.Mutex
	fixed := false
	j := newJournal()
	c := newConsumer(t, consumer.Config{Name: "indexer", Bus: bus, DeadLetters: store, MaxAttempts: 2,
		Handle: j.wrap(func(_ context.Context, ev eventbus.Event) error {
			mu.Lock()
			defer mu.Unlock()
			if ev.ID == poisonEv.ID && !fixed {
				return fmt.Errorf("attempt failed (fixed=%v)", fixed)
			}
			return nil
		})})
	run(t, c)
	ctx := context.Background()
	var letter consumer.DeadLetter
	waitFor(t, "the dead letter", func() bool {
		list, err := store.ListDeadLetters(ctx, "indexer", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 1 {
			letter = list[0]
		}
		return len(list) == 1
	})
	if letter.Attempts != 2 {
		t.Fatalf("dead letter after %d attempts, want 2", letter.Attempts)
	}

	// Retried while the handler still fails: updated, mark cleared.
	if err := store.MarkDeadLetterRetry(ctx, letter.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed retry to be recorded", func() bool {
		d, err := store.GetDeadLetter(ctx, letter.ID)
		if err != nil {
			t.Fatal(err)
		}
		return d.Attempts == 3 && !d.Retry
	})
	// Not retried again without a new mark.
	if err := store.MarkDeadLetterRetry(ctx, letter.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second failed retry", func() bool {
		d, err := store.GetDeadLetter(ctx, letter.ID)
		if err != nil {
			t.Fatal(err)
		}
		return d.Attempts == 4 && !d.Retry
	})

	mu.Lock()
	fixed = true
	mu.Unlock()
	if err := store.MarkDeadLetterRetry(ctx, letter.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the dead letter to be deleted after a successful retry", func() bool {
		_, err := store.GetDeadLetter(ctx, letter.ID)
		return fault.Is(err, fault.NotFound)
	})
	j.waitHandled(t, all)
}

// Documents are handled concurrently, each one's events in position
// order, one at a time.
func TestPerDocumentOrderUnderParallelism(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	bus := e.bus(t)
	docs := []string{"d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9"}
	var want []eventbus.Event
	for range 6 {
		want = append(want, e.append(t, bus, events(t, 6, docs...))...)
	}
	// d0's and d1's first events meet: each waits for the other, which
	// only returns if two documents are handled at once.
	meet := map[string]chan struct{}{"d0": make(chan struct{}), "d1": make(chan struct{})}
	first := map[string]string{"d0": want[0].ID, "d1": want[1].ID}
	j := newJournal()
	c := newConsumer(t, consumer.Config{Name: "ordered", Bus: bus, DeadLetters: store, Parallel: 4,
		Handle: j.wrap(func(ctx context.Context, ev eventbus.Event) error {
			other := map[string]string{"d0": "d1", "d1": "d0"}[ev.DocumentID]
			if other != "" && first[ev.DocumentID] == ev.ID {
				close(meet[ev.DocumentID])
				select {
				case <-meet[other]:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})})
	run(t, c)
	j.waitHandled(t, want)
	j.checkOrder(t, j.snapshot())
}

// A consumer stopped in the middle of a batch loses nothing: the next one
// (on a new bus, as after a restart) handles what was not acknowledged.
func TestAtLeastOnceAcrossRestart(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	bus1 := e.bus(t)
	want := e.append(t, bus1, events(t, 10, "a", "b", "c", "d", "e", "f"))

	ctx1, cancel1 := context.WithCancel(context.Background())
	j1 := newJournal()
	n := 0
	var mu sync.Mutex
	c1 := newConsumer(t, consumer.Config{Name: "restarted", Bus: bus1, DeadLetters: store, Parallel: 3,
		Handle: j1.wrap(func(ctx context.Context, _ eventbus.Event) error {
			mu.Lock()
			n++
			crash := n == 25
			mu.Unlock()
			if crash {
				cancel1() // the process stops here
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		})})
	done := make(chan error, 1)
	go func() { done <- c1.Run(ctx1) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after its context ended")
	}
	if err := bus1.Close(); err != nil {
		t.Fatal(err)
	}
	if len(j1.snapshot()) >= len(want) {
		t.Fatalf("the first run handled all %d events; the test needs it stopped midway", len(want))
	}

	bus2 := e.bus(t)
	more := e.append(t, bus2, events(t, 2, "a", "g"))
	j2 := newJournal()
	c2 := newConsumer(t, consumer.Config{Name: "restarted", Bus: bus2, DeadLetters: store, Parallel: 3,
		Handle: j2.wrap(func(context.Context, eventbus.Event) error { return nil })})
	run(t, c2)
	all := append(append([]eventbus.Event(nil), want...), more...)
	before := map[string]bool{}
	for _, ev := range j1.snapshot() {
		before[ev.ID] = true
	}
	var rest []eventbus.Event
	for _, ev := range all {
		if !before[ev.ID] {
			rest = append(rest, ev)
		}
	}
	j2.waitHandled(t, rest)

	handled := map[string]bool{}
	for _, ev := range append(j1.snapshot(), j2.snapshot()...) {
		handled[ev.ID] = true
	}
	for _, ev := range all {
		if !handled[ev.ID] {
			t.Errorf("event at position %d was never handled", ev.Position)
		}
	}
	j1.checkOrder(t, j1.snapshot())
	j2.checkOrder(t, j2.snapshot())
}

// SkipApplied skips redeliveries and stale events by position, even when
// versions restart after a delete and a create again.
func TestSkipApplied(t *testing.T) {
	var applied consumer.Applied
	var got []int64
	h := consumer.SkipApplied(&applied, func(_ context.Context, e eventbus.Event) error {
		if e.Position == 6 {
			return errPoison
		}
		got = append(got, e.Position)
		return nil
	})
	ctx := context.Background()
	ev := func(pos, version int64) eventbus.Event {
		return eventbus.Event{Collection: "c", DocumentID: "x", Position: pos, Version: version}
	}
	for _, e := range []eventbus.Event{ev(1, 1), ev(2, 2), ev(1, 1), ev(3, 1), ev(2, 2), ev(5, 2)} {
		if err := h(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := h(ctx, ev(6, 3)); !errors.Is(err, errPoison) {
		t.Fatalf("a failing handler's error = %v, want it returned", err)
	}
	if fmt.Sprint(got) != "[1 2 3 5]" {
		t.Errorf("applied positions %v, want [1 2 3 5]", got)
	}
	if pos, _ := applied.Applied(ctx, "c/x"); pos != 5 {
		t.Errorf("Applied = %d after a failure at 6, want 5", pos)
	}
	other := eventbus.Event{Collection: "c", DocumentID: "y", Position: 2}
	if err := h(ctx, other); err != nil || fmt.Sprint(got) != "[1 2 3 5 2]" {
		t.Errorf("another key's event was not applied: %v %v", err, got)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	store := openSQLite(t)
	bus := newEnv(t, store).bus(t)
	handle := func(context.Context, eventbus.Event) error { return nil }
	for name, cfg := range map[string]consumer.Config{
		"bad name":      {Name: "Bad Name", Bus: bus, DeadLetters: store, Handle: handle},
		"relay":         {Name: "relay", Bus: bus, DeadLetters: store, Handle: handle},
		"no bus":        {Name: "x", DeadLetters: store, Handle: handle},
		"no store":      {Name: "x", Bus: bus, Handle: handle},
		"no handler":    {Name: "x", Bus: bus, DeadLetters: store},
		"empty name":    {Bus: bus, DeadLetters: store, Handle: handle},
		"name too long": {Name: "a" + fmt.Sprintf("%064d", 0), Bus: bus, DeadLetters: store, Handle: handle},
	} {
		if _, err := consumer.New(cfg); !fault.Is(err, fault.Invalid) {
			t.Errorf("%s: New = %v, want an Invalid error", name, err)
		}
	}
	// Two consumers of one process share the metrics.
	reg := prometheus.NewRegistry()
	for _, name := range []string{"one", "two"} {
		if _, err := consumer.New(consumer.Config{Name: name, Bus: bus, DeadLetters: store, Handle: handle, Registerer: reg}); err != nil {
			t.Fatalf("New(%s) with a shared registry: %v", name, err)
		}
	}
}

// The poison case on PostgreSQL: dead letters and cursors in its tables.
func TestPoisonEventIsDeadLetteredPostgres(t *testing.T) {
	s, err := postgres.Open(context.Background(), postgres.Options{URL: pgtest.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	testPoison(t, s)
}
