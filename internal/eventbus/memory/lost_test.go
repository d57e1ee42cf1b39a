package memory_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/eventbus/eventbustest"
	"github.com/basaltdev/basalt/internal/eventbus/memory"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/storage/postgres"
)

// When the session holding a consumer's lock ends, another process takes
// the consumer over: the first one's handler context ends within about
// the lock's check interval, it acknowledges nothing more (a batch its
// handler acknowledges late is not stored over the new holder's cursor)
// and it calls its handler no more while the other holds the lock.
func TestLockLostHandsOver(t *testing.T) {
	url := pgtest.URL(t)
	open := func() *postgres.Store {
		store, err := postgres.Open(context.Background(), postgres.Options{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		return store
	}
	writer, sa, sb := open(), open(), open()
	var want []eventbus.Event
	for range 40 {
		id, _ := uuid.NewV7()
		want = append(want, eventbus.Event{ID: id.String(), Type: eventbus.DocumentCreated, Collection: "c",
			DocumentID: id.String(), Version: 1, Time: time.Now().UTC(), Payload: []byte(`{}`)})
	}
	wa := eventbustest.WatchCursors(sa, 16)
	busA := newBus(t, memory.Config{Log: sa, Cursors: wa, PollInterval: 20 * time.Millisecond})
	busB := newBus(t, memory.Config{Log: sb, Cursors: sb, PollInterval: 20 * time.Millisecond})
	want = eventbustest.LogAppend(writer, writer)(t, busA, want)
	last := want[len(want)-1].Position

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var aCalls atomic.Int32
	aStarted, aCtxEnded, proceed := make(chan struct{}), make(chan time.Time, 1), make(chan struct{})
	doneA := make(chan error, 1)
	go func() {
		doneA <- busA.Consume(ctx, "search", func(hctx context.Context, _ []eventbus.Event) error {
			if aCalls.Add(1) > 1 {
				return nil
			}
			close(aStarted)
			<-hctx.Done()
			aCtxEnded <- time.Now()
			<-proceed // a handler that finishes late and acknowledges anyway
			return nil
		})
	}()
	select {
	case <-aStarted:
	case <-time.After(30 * time.Second):
		t.Fatal("the first bus did not start handling")
	}
	var mu sync.Mutex
	var gotB []int64
	bCaughtUp := make(chan struct{})
	doneB := make(chan error, 1)
	go func() {
		doneB <- busB.Consume(ctx, "search", func(_ context.Context, events []eventbus.Event) error {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range events {
				gotB = append(gotB, e.Position)
			}
			if gotB[len(gotB)-1] == last {
				select {
				case <-bCaughtUp:
				default:
					close(bCaughtUp)
				}
			}
			return nil
		})
	}()

	killed := time.Now()
	pgtest.TerminateAdvisoryLockHolder(t, url, postgres.CursorLockKey("search"))
	select {
	case at := <-aCtxEnded:
		if d := at.Sub(killed); d > 3*time.Second {
			t.Errorf("the first handler's context ended %v after its lock's session did, want about 1s", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the first handler's context did not end when its lock was lost")
	}
	select {
	case <-bCaughtUp:
	case <-time.After(30 * time.Second):
		t.Fatal("the second bus did not take the consumer over")
	}
	waitCursor(t, sb, "search", last)

	close(proceed)
	select {
	case err := <-wa.Sets:
		if !errors.Is(err, eventbus.ErrLockLost) {
			t.Fatalf("the first bus's cursor store after losing its lock = %v, want ErrLockLost", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the first bus did not try to store its acknowledged batch")
	}
	if pos, _, err := sb.Cursor(ctx, "search"); err != nil || pos != last {
		t.Fatalf("cursor = %d, %v; want %d, the new holder's", pos, err, last)
	}
	// The first bus waits for the lock again: B still runs, A handles
	// nothing.
	more := eventbustest.LogAppend(writer, writer)(t, busA, []eventbus.Event{{ID: uuid.NewString(), Type: eventbus.DocumentCreated,
		Collection: "c", DocumentID: "x", Version: 1, Time: time.Now().UTC(), Payload: []byte(`{}`)}})
	waitCursor(t, sb, "search", more[0].Position)
	if n := aCalls.Load(); n != 1 {
		t.Errorf("the first bus called its handler %d times, want once (none after it lost the lock)", n)
	}
	select {
	case err := <-wa.Sets:
		t.Errorf("the first bus stored a cursor while the other held the lock: %v", err)
	default:
	}
	cancel()
	for _, done := range []chan error{doneA, doneB} {
		if err := <-done; err != nil {
			t.Errorf("Consume = %v, want nil", err)
		}
	}
}

// waitCursor waits until name's stored cursor reaches pos.
func waitCursor(t *testing.T, c eventbus.Cursors, name string, pos int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		got, _, err := c.Cursor(context.Background(), name)
		if err == nil && got >= pos {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cursor %s = %d (%v), want %d", name, got, err, pos)
		}
		<-tick.C
	}
}
