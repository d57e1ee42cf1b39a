package outbox_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/eventbus/eventbustest"
	"github.com/basaltdev/basalt/internal/outbox"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/storage/postgres"
)

// stuckBus blocks its first Publish until its context ends, then until
// proceed is closed, and then reports success: a publish that finishes
// after its relay lost the lock. It counts its calls.
type stuckBus struct {
	recordingBus
	calls    atomic.Int32
	started  chan struct{}
	ctxEnded chan time.Time
	proceed  chan struct{}
}

func (b *stuckBus) Publish(ctx context.Context, _ []eventbus.Event) error {
	if b.calls.Add(1) > 1 {
		return nil
	}
	close(b.started)
	<-ctx.Done()
	b.ctxEnded <- time.Now()
	<-b.proceed
	return nil
}

// When the session holding the relay's lock ends, another relay takes over
// publishing: the first one's Publish is cancelled within about the lock's
// check interval, a publish of it that reports success late stores no
// cursor over the new leader's, and it publishes nothing more while the
// other holds the lock.
func TestRelayLockLostHandsOver(t *testing.T) {
	url := pgtest.URL(t)
	sa, sb := openPostgres(t, url), openPostgres(t, url)
	busA := &stuckBus{started: make(chan struct{}), ctxEnded: make(chan time.Time, 1), proceed: make(chan struct{})}
	proceed := sync1(busA.proceed)
	defer proceed()
	wa := eventbustest.WatchCursors(sa, 16)
	// A long LockHold: a relay keeps the lock unless it loses it.
	cfg := func(c eventbus.Cursors, st engine, bus eventbus.Bus) outbox.Config {
		return outbox.Config{Log: st, Cursors: c, Bus: bus, PollInterval: 20 * time.Millisecond, BatchSize: 100,
			MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, LockHold: time.Minute}
	}
	now := time.Now()
	for i := range 10 {
		write(t, sa, event("d", int64(i+1), now))
	}
	startRelay(t, cfg(wa, sa, busA))
	select {
	case <-busA.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the first relay did not publish")
	}
	busB := &recordingBus{t: t}
	startRelay(t, cfg(sb, sb, busB))

	killed := time.Now()
	pgtest.TerminateAdvisoryLockHolder(t, url, postgres.CursorLockKey(eventbus.RelayName))
	select {
	case at := <-busA.ctxEnded:
		if d := at.Sub(killed); d > 3*time.Second {
			t.Errorf("the first relay's Publish was cancelled %v after its lock's session ended, want about 1s", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the first relay's Publish went on after its lock was lost")
	}
	log := logged(t, sb)
	last := log[len(log)-1].Position
	waitUntil(t, "the second relay published everything", func() bool {
		pos, _, err := sb.Cursor(context.Background(), eventbus.RelayName)
		return err == nil && pos == last
	})

	proceed()
	select {
	case err := <-wa.Sets:
		if !errors.Is(err, eventbus.ErrLockLost) {
			t.Fatalf("the first relay's cursor store after losing its lock = %v, want ErrLockLost", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the first relay did not try to store its cursor")
	}
	if pos, _, err := sb.Cursor(context.Background(), eventbus.RelayName); err != nil || pos != last {
		t.Fatalf("relay cursor = %d, %v; want %d, the new leader's", pos, err, last)
	}
	// The new leader goes on; the first relay waits for the lock.
	write(t, sa, event("e", 1, now))
	log = logged(t, sb)
	last = log[len(log)-1].Position
	waitUntil(t, "the second relay published the new event", func() bool {
		pos, _, err := sb.Cursor(context.Background(), eventbus.RelayName)
		return err == nil && pos == last
	})
	if n := busA.calls.Load(); n != 1 {
		t.Errorf("the first relay published %d times, want once (none after it lost the lock)", n)
	}
	select {
	case err := <-wa.Sets:
		t.Errorf("the first relay stored its cursor while the other held the lock: %v", err)
	default:
	}
	checkStream(t, busB.stream(), log, nil)
}

// sync1 returns a function that closes ch the first time it is called.
func sync1(ch chan struct{}) func() {
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			close(ch)
		}
	}
}
