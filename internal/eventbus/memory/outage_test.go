package memory_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/eventbus/eventbustest"
	"github.com/basaltdev/basalt/internal/eventbus/memory"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

var errOutage = errors.New("database unavailable")

// flaky fails the first calls of each of the log's and the cursors'
// methods the bus uses, as a database that is away for a while.
type flaky struct {
	eventbus.Log
	eventbus.Cursors
	locks, reads, cursors, sets atomic.Int32
}

func failFirst(n *atomic.Int32, times int32) error {
	if n.Add(1) <= times {
		return errOutage
	}
	return nil
}

func (f *flaky) LockCursor(ctx context.Context, name string) (eventbus.CursorLock, error) {
	if err := failFirst(&f.locks, 2); err != nil {
		return nil, err
	}
	l, err := f.Cursors.LockCursor(ctx, name)
	if err != nil {
		return nil, err
	}
	return &flakyLock{CursorLock: l, f: f}, nil
}

// flakyLock fails the first cursor stores, as flaky does.
type flakyLock struct {
	eventbus.CursorLock
	f *flaky
}

func (l *flakyLock) SetCursor(ctx context.Context, pos int64) error {
	if err := failFirst(&l.f.sets, 2); err != nil {
		return err
	}
	return l.CursorLock.SetCursor(ctx, pos)
}

func (f *flaky) ReadEvents(ctx context.Context, after int64, limit int) ([]eventbus.Event, error) {
	if err := failFirst(&f.reads, 2); err != nil {
		return nil, err
	}
	return f.Log.ReadEvents(ctx, after, limit)
}

func (f *flaky) Cursor(ctx context.Context, name string) (int64, bool, error) {
	if err := failFirst(&f.cursors, 2); err != nil {
		return 0, false, err
	}
	return f.Cursors.Cursor(ctx, name)
}

// A database away for a while delays a consumer but neither ends it nor
// loses or repeats an acknowledged event: every failing call is retried.
func TestDatabaseOutage(t *testing.T) {
	store, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db"), Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	f := &flaky{Log: store, Cursors: store}
	bus := newBus(t, memory.Config{Log: f, Cursors: f, PollInterval: 10 * time.Millisecond})
	t.Cleanup(func() { _ = bus.Close() })
	var want []eventbus.Event
	for range 40 {
		id, _ := uuid.NewV7()
		want = append(want, eventbus.Event{ID: id.String(), Type: eventbus.DocumentCreated, Collection: "c",
			DocumentID: id.String(), Version: 1, Time: time.Now().UTC(), Payload: []byte(`{}`)})
	}
	want = eventbustest.LogAppend(store, store)(t, bus, want)

	var mu sync.Mutex
	var got []int64
	all := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- bus.Consume(ctx, "steady", func(_ context.Context, events []eventbus.Event) error {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range events {
				got = append(got, e.Position)
			}
			if len(got) >= len(want) {
				select {
				case <-all:
				default:
					close(all)
				}
			}
			return nil
		})
	}()
	select {
	case <-all:
	case err := <-done:
		t.Fatalf("Consume returned %v during the outage", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the events were not all delivered after the outage")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Consume = %v, want nil", err)
	}
	// Each event once: a failed read is read again, a failed cursor store
	// is stored again, so no acknowledged batch comes back.
	mu.Lock()
	defer mu.Unlock()
	seen := map[int64]int{}
	for _, p := range got {
		seen[p]++
	}
	for _, e := range want {
		if seen[e.Position] != 1 {
			t.Errorf("position %d delivered %d times, want once", e.Position, seen[e.Position])
		}
	}
	pos, _, err := store.Cursor(context.Background(), "steady")
	if err != nil || pos != want[len(want)-1].Position {
		t.Errorf("stored cursor = %d (%v), want %d", pos, err, want[len(want)-1].Position)
	}
}
