package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/outbox"
)

// Internal events (search.vectors) stay in the log: the relay publishes the
// others around them and moves its cursor past them, so that a bus such as
// Kafka never carries one.
func TestRelayKeepsInternalEventsOffTheBus(t *testing.T) {
	onEngines(t, func(t *testing.T, _ string, st engine) {
		bus := &recordingBus{t: t}
		now := time.Now()
		internal := func(e eventbus.Event) eventbus.Event { e.Type = eventbus.SearchVectors; return e }
		write(t, st, event("a", 1, now), internal(event("a", 1, now)), internal(event("b", 1, now)))
		write(t, st, internal(event("c", 1, now))) // a batch of internal events only
		write(t, st, event("b", 2, now))
		r, _ := startRelay(t, outbox.Config{Log: st, Cursors: st, Bus: bus, PollInterval: 10 * time.Millisecond, BatchSize: 2})
		r.Wake()
		log := logged(t, st)
		waitUntil(t, "the relay's cursor reaches the end of the log", func() bool {
			pos, _, err := st.Cursor(context.Background(), eventbus.RelayName)
			return err == nil && pos == log[len(log)-1].Position
		})
		var public []eventbus.Event
		for _, e := range log {
			if !e.Type.Internal() {
				public = append(public, e)
			}
		}
		got := bus.stream()
		if len(got) != len(public) {
			t.Fatalf("published %d events, want the %d public ones of %d", len(got), len(public), len(log))
		}
		for i, e := range got {
			if e.Type.Internal() || e.ID != public[i].ID {
				t.Errorf("published[%d] = %s %s, want %s", i, e.Type, e.ID, public[i].ID)
			}
		}
	})
}
