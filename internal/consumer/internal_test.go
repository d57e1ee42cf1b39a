package consumer_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/eventbus"
)

// asInternal turns the events into search.vectors events (internal).
func asInternal(evs []eventbus.Event) []eventbus.Event {
	out := append([]eventbus.Event(nil), evs...)
	for i := range out {
		out[i].Type = eventbus.SearchVectors
	}
	return out
}

// Internal events are acknowledged without reaching Handle (or Prepare),
// unless the consumer asks for them.
func TestInternalEventsSkipped(t *testing.T) {
	for _, internal := range []bool{false, true} {
		name := "skipped"
		if internal {
			name = "asked-for"
		}
		t.Run(name, func(t *testing.T) {
			store := openSQLite(t)
			e := newEnv(t, store)
			bus := e.bus(t)
			in := asInternal(events(t, 2, "x", "y"))
			pub := events(t, 2, "a")
			all := e.append(t, bus, append(append([]eventbus.Event(nil), in[:2]...), append(pub, in[2:]...)...))
			j := newJournal()
			var mu sync.Mutex
			var prepared []eventbus.Event
			c := newConsumer(t, consumer.Config{Name: "indexer", Bus: bus, DeadLetters: store, Internal: internal,
				Prepare: func(_ context.Context, evs []eventbus.Event) {
					mu.Lock()
					prepared = append(prepared, evs...)
					mu.Unlock()
				},
				Handle: j.wrap(func(context.Context, eventbus.Event) error { return nil })})
			run(t, c)
			var want []eventbus.Event
			for _, ev := range all {
				if internal || !ev.Type.Internal() {
					want = append(want, ev)
				}
			}
			j.waitHandled(t, want)
			waitFor(t, "every event to be acknowledged", func() bool {
				lag, err := bus.Lag(context.Background(), "indexer")
				return err == nil && lag == 0
			})
			for _, h := range j.snapshot() {
				if h.Type.Internal() && !internal {
					t.Errorf("internal event %d reached Handle", h.Position)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(prepared) < len(want) {
				t.Errorf("Prepare saw %d events, want at least %d", len(prepared), len(want))
			}
			for _, p := range prepared {
				if p.Type.Internal() && !internal {
					t.Errorf("internal event %d reached Prepare", p.Position)
				}
			}
		})
	}
}

// An error made with Permanent sets the event aside at once, without the
// retries an ordinary error gets.
func TestPermanentErrorDeadLettersAtOnce(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	bus := e.bus(t)
	all := e.append(t, bus, events(t, 1, "a", "b"))
	cause := errors.New("no such embedder")
	var mu sync.Mutex
	calls := map[string]int{}
	j := newJournal()
	c := newConsumer(t, consumer.Config{Name: "indexer", Bus: bus, DeadLetters: store, MaxAttempts: 5,
		Handle: j.wrap(func(_ context.Context, ev eventbus.Event) error {
			mu.Lock()
			calls[ev.DocumentID]++
			mu.Unlock()
			if ev.DocumentID == "a" {
				return consumer.Permanent(cause)
			}
			return nil
		})})
	run(t, c)
	j.waitHandled(t, all[1:])
	waitFor(t, "every event to be acknowledged", func() bool {
		lag, err := bus.Lag(context.Background(), "indexer")
		return err == nil && lag == 0
	})
	letters, err := store.ListDeadLetters(context.Background(), "indexer", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 1 || letters[0].Event.ID != all[0].ID || letters[0].Attempts != 1 || letters[0].Error != cause.Error() {
		t.Fatalf("dead letters = %+v, want event %d after one attempt with %q", letters, all[0].Position, cause)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["a"] != 1 {
		t.Errorf("Handle called %d times for the permanent failure, want 1", calls["a"])
	}
	if !consumer.IsPermanent(consumer.Permanent(cause)) || consumer.IsPermanent(cause) || consumer.Permanent(nil) != nil {
		t.Error("IsPermanent/Permanent disagree")
	}
}
