package memory_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/eventbus/eventbustest"
	"github.com/basaltdev/basalt/internal/eventbus/memory"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// After retention trimmed the log, a new consumer starts at the oldest
// event kept, and its lag counts from there.
func TestNewNameStartsAtOldestRetained(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db"), Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	bus := newBus(t, memory.Config{Log: store, Cursors: store, PollInterval: 10 * time.Millisecond})
	t.Cleanup(func() { _ = bus.Close() })
	var evs []eventbus.Event
	for i := range 10 {
		evs = append(evs, eventbus.Event{ID: fmt.Sprintf("e%d", i), Type: eventbus.DocumentCreated, Collection: "c",
			DocumentID: fmt.Sprintf("d%d", i), Version: 1, Time: time.Now().Add(-time.Hour).UTC(), Payload: []byte(`{}`)})
	}
	evs = eventbustest.LogAppend(store, store)(t, bus, evs)
	if n, err := store.TrimEvents(ctx, time.Now(), evs[5].Position); err != nil || n != 6 {
		t.Fatalf("TrimEvents = %d, %v; want 6 trimmed", n, err)
	}
	if lag, err := bus.Lag(ctx, "late"); err != nil || lag != 4 {
		t.Errorf("Lag of a new name after trimming = %d, %v; want 4 (the events kept)", lag, err)
	}
	got := make(chan []eventbus.Event, 1)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- bus.Consume(cctx, "late", func(_ context.Context, batch []eventbus.Event) error {
			select {
			case got <- batch:
			default:
			}
			return nil
		})
	}()
	select {
	case batch := <-got:
		if len(batch) == 0 || batch[0].Position != evs[6].Position {
			t.Errorf("first batch starts at %v, want position %d (the oldest kept)", batch, evs[6].Position)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no batch delivered")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Consume = %v", err)
	}
}
