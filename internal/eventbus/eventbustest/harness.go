// Package eventbustest is the conformance suite of eventbus.Bus: every
// implementation (the in-process bus on each storage engine, Kafka) runs
// it from its own tests with
//
//	eventbustest.Run(t, eventbustest.Harness{Name: "memory-sqlite", New: …})
//
// Its cases check the consumed stream itself, event by event (not counts):
// at least once, per-document order, independent consumer names, resuming
// after a restart, redelivery after a handler error or a consumer killed
// mid-batch, one handler at a time per name, lag, and the end of Consume.
package eventbustest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
)

// Harness adapts one bus implementation to the suite.
type Harness struct {
	// Name names the implementation in the subtests' names
	// (bus=<Name>/contract=eventbus/<Case>).
	Name string
	// New gives a case fresh, empty shared state (a new database; for
	// Kafka also a new cluster or topic prefix) and says how to use it.
	New func(t *testing.T) Env
}

// Env is one case's shared, durable state.
type Env struct {
	// Open returns a bus over the case's state. A second Open is a
	// restart, or a second process. The suite closes every bus it opens,
	// once.
	Open func(t *testing.T) eventbus.Bus
	// Append commits events to the database's outbox, numbers them and
	// publishes the newly numbered events through bus in position order
	// (the relay's work), and returns the given events with their
	// positions.
	Append func(t *testing.T, bus eventbus.Bus, events []eventbus.Event) []eventbus.Event
}

// LogAppend returns an Env.Append over a real storage engine: it commits
// the events with store.Write (one transaction per call, through
// Tx.AppendOutbox), numbers them with log.Sequence, reads every event
// numbered since its previous call with log.ReadEvents and publishes them
// with bus.Publish, as the relay does.
func LogAppend(store docstore.Store, log eventbus.Log) func(t *testing.T, bus eventbus.Bus, events []eventbus.Event) []eventbus.Event {
	var mu sync.Mutex
	var published int64
	return func(t *testing.T, bus eventbus.Bus, events []eventbus.Event) []eventbus.Event {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := store.Write(ctx, func(tx docstore.Tx) error {
			for _, e := range events {
				if err := tx.AppendOutbox(ctx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("appending %d events to the outbox: %v", len(events), err)
		}
		for {
			n, err := log.Sequence(ctx, 1000)
			if err != nil {
				t.Fatalf("numbering events: %v", err)
			}
			if n == 0 {
				break
			}
		}
		byID := make(map[string]int64, len(events))
		for {
			batch, err := log.ReadEvents(ctx, published, 1000)
			if err != nil {
				t.Fatalf("reading the event log after %d: %v", published, err)
			}
			if len(batch) == 0 {
				break
			}
			if err := bus.Publish(ctx, batch); err != nil {
				t.Fatalf("publishing events %d to %d: %v", batch[0].Position, batch[len(batch)-1].Position, err)
			}
			for _, e := range batch {
				byID[e.ID] = e.Position
			}
			published = batch[len(batch)-1].Position
		}
		out := make([]eventbus.Event, len(events))
		for i, e := range events {
			pos, ok := byID[e.ID]
			if !ok {
				t.Fatalf("event %s was committed but not read back from the log", e.ID)
			}
			e.Position = pos
			out[i] = e
		}
		return out
	}
}
