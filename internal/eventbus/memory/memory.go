// Package memory is the in-process event bus, Basalt's default. It keeps
// no events of its own: it is durable because it reads the database's
// event log (the outbox table, numbered by the relay) and stores each named
// consumer's position in the database (eventbus.Cursors). A restart
// resumes every consumer after the last batch its handler acknowledged.
//
// Publish only wakes the readers: the events it is given are already in
// the log. Several processes on one PostgreSQL database may run the same
// consumer name: the cursor's lock (Cursors.LockCursor) lets one of them
// handle it while the others wait as standbys. A consumer whose lock is
// lost (its PostgreSQL session ended) has its handler's context cancelled,
// stores no cursor after that (it stores it through the lock) and waits
// for the lock again.
package memory

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// ErrClosed is returned by Consume once the bus is closed.
var ErrClosed = errors.New("memory: event bus closed")

// Config configures New.
type Config struct {
	// Log is the database's event log (required).
	Log eventbus.Log
	// Cursors stores the consumers' positions (required).
	Cursors eventbus.Cursors
	// News is notified when the relay numbered new events; nil means the
	// bus has its own, notified by Publish only.
	News *eventbus.Signal
	// Logger receives read and cursor errors; nil discards them.
	Logger *slog.Logger
	// BatchSize bounds the events handed to one handler call; 0 means 256.
	BatchSize int
	// PollInterval is how often a caught-up consumer reads the log without
	// a notice (notices from other processes can be missed); 0 means 1s.
	PollInterval time.Duration
	// RetryBackoff is the first wait after a handler error or a failed
	// read; it doubles up to MaxRetryBackoff. 0 means 100ms and 10s.
	RetryBackoff, MaxRetryBackoff time.Duration
}

// Bus is the in-process event bus. It is safe for concurrent use.
type Bus struct {
	cfg      Config
	news     *eventbus.Signal
	log      *slog.Logger
	mu       sync.Mutex // guards isClosed against enter's Add
	isClosed bool
	done     chan struct{}  // closed by Close
	active   sync.WaitGroup // Consume calls in progress
}

var _ eventbus.Bus = (*Bus)(nil)

// New returns a bus over cfg.Log and cfg.Cursors.
func New(cfg Config) (*Bus, error) {
	const op = "memory.New"
	if cfg.Log == nil || cfg.Cursors == nil {
		return nil, fault.New(fault.Invalid, op, "the event log and the cursor store are required")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 100 * time.Millisecond
	}
	if cfg.MaxRetryBackoff < cfg.RetryBackoff {
		cfg.MaxRetryBackoff = max(10*time.Second, cfg.RetryBackoff)
	}
	b := &Bus{cfg: cfg, news: cfg.News, log: cfg.Logger, done: make(chan struct{})}
	if b.news == nil {
		b.news = &eventbus.Signal{}
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	return b, nil
}

// Publish wakes the consumers: the events are already in the log, where
// the relay numbered them. It returns nil.
func (b *Bus) Publish(_ context.Context, _ []eventbus.Event) error {
	b.news.Notify()
	return nil
}

// Consume delivers the log's events after name's cursor to h, storing the
// cursor after each batch h acknowledges, until ctx ends (it then returns
// nil) or the bus is closed (ErrClosed). It first takes name's lock: while
// another Consume call, in this process or another one, holds it, this one
// waits. A handler error delivers the same batch again after a backoff.
// Close must not be called from inside h.
func (b *Bus) Consume(ctx context.Context, name string, h eventbus.Handler) error {
	if err := eventbus.CheckConsumerName(name); err != nil {
		return err
	}
	if err := b.enter(); err != nil {
		return err
	}
	defer b.active.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-b.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	b.consume(ctx, name, h)
	if b.closed() {
		return ErrClosed
	}
	return nil
}

// enter registers a Consume call unless the bus is closed.
func (b *Bus) enter() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.isClosed {
		return ErrClosed
	}
	b.active.Add(1)
	return nil
}

func (b *Bus) closed() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// consume runs the consumer until ctx ends; every error on the way (the
// database away, the handler failing, the lock lost) is logged and
// retried.
func (b *Bus) consume(ctx context.Context, name string, h eventbus.Handler) {
	for {
		// ctx ends the wait for the lock but not the hold: the lock goes
		// once the last acknowledged position is stored.
		lockCtx, release := context.WithCancel(context.WithoutCancel(ctx))
		stopWait := context.AfterFunc(ctx, release)
		lock, err := b.lock(lockCtx, name)
		if !stopWait() || err != nil {
			release()
			if err == nil {
				lock.Unlock()
			}
			return // ctx ended
		}
		b.log.Debug("consumer started", "consumer", name)
		b.hold(ctx, name, h, lock)
		lost := lock.Held().Err() != nil
		lock.Unlock()
		release()
		if !lost || ctx.Err() != nil {
			return
		}
		b.log.Warn("a consumer lost its cursor's lock (another process may run it now); waiting for it again", "consumer", name)
	}
}

// hold runs the consumer while it holds lock, until ctx ends or the lock is
// lost. The handler runs under a context that ends in either case, and the
// cursor is stored through the lock, so a consumer that lost its lock
// neither handles nor acknowledges more.
func (b *Bus) hold(ctx context.Context, name string, h eventbus.Handler, lock eventbus.CursorLock) {
	work, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(lock.Held(), cancel)
	defer stop()

	pos, _, err := b.cursor(work, name)
	if err != nil {
		return // ctx ended or the lock was lost
	}
	poll := time.NewTicker(b.cfg.PollInterval)
	defer poll.Stop()
	backoff := b.cfg.RetryBackoff
	for {
		news := b.news.C() // before reading, so a notice during the read is not lost
		events, err := b.cfg.Log.ReadEvents(work, pos, b.cfg.BatchSize)
		if err != nil {
			if work.Err() != nil {
				return
			}
			b.log.Warn("reading the event log", "consumer", name, "after", pos, "err", err)
			if !wait(work, backoff) {
				return
			}
			backoff = min(2*backoff, b.cfg.MaxRetryBackoff)
			continue
		}
		if len(events) == 0 {
			select {
			case <-work.Done():
				return
			case <-news:
			case <-poll.C:
			}
			continue
		}
		if err := h(work, events); err != nil {
			if work.Err() != nil {
				return
			}
			b.log.Warn("consumer handler failed; the batch will be delivered again", "consumer", name,
				"from", events[0].Position, "to", events[len(events)-1].Position, "err", err)
			if !wait(work, backoff) {
				return
			}
			backoff = min(2*backoff, b.cfg.MaxRetryBackoff)
			continue
		}
		backoff = b.cfg.RetryBackoff
		last := events[len(events)-1].Position
		if err := b.setCursor(work, name, lock, last); err != nil {
			return // ctx ended or the lock was lost before the cursor could be stored
		}
		pos = last
	}
}

// lock takes name's cursor lock, waiting while another consumer holds it
// and retrying errors (the database may be unreachable for a while) until
// ctx ends.
func (b *Bus) lock(ctx context.Context, name string) (eventbus.CursorLock, error) {
	backoff := b.cfg.RetryBackoff
	for {
		lock, err := b.cfg.Cursors.LockCursor(ctx, name)
		if err == nil {
			return lock, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		b.log.Warn("locking a consumer's cursor", "consumer", name, "err", err)
		if !wait(ctx, backoff) {
			return nil, ctx.Err()
		}
		backoff = min(2*backoff, b.cfg.MaxRetryBackoff)
	}
}

// cursor returns name's stored position (0, the start of the log, for a
// new name), retrying read errors until ctx ends.
func (b *Bus) cursor(ctx context.Context, name string) (int64, bool, error) {
	backoff := b.cfg.RetryBackoff
	for {
		pos, found, err := b.cfg.Cursors.Cursor(ctx, name)
		if err == nil {
			return pos, found, nil
		}
		if ctx.Err() != nil {
			return 0, false, ctx.Err()
		}
		b.log.Warn("reading a consumer's cursor", "consumer", name, "err", err)
		if !wait(ctx, backoff) {
			return 0, false, ctx.Err()
		}
		backoff = min(2*backoff, b.cfg.MaxRetryBackoff)
	}
}

// setCursor stores an acknowledged position through lock, retrying errors
// while the lock is held. The handler has acknowledged the batch, so it is
// stored even when ctx has just ended, within a short bound, as long as the
// lock is still held; a lost lock stores nothing (the batch is delivered
// again, to the new holder).
func (b *Bus) setCursor(ctx context.Context, name string, lock eventbus.CursorLock, pos int64) error {
	backoff := b.cfg.RetryBackoff
	for {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err := lock.SetCursor(sctx, pos)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, eventbus.ErrLockLost) {
			return err
		}
		b.log.Warn("storing a consumer's cursor", "consumer", name, "position", pos, "err", err)
		if !wait(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(2*backoff, b.cfg.MaxRetryBackoff)
	}
}

// Lag returns how many events the log holds after name's cursor: the
// newest position minus the cursor (for a name never stored, minus the
// trimmed position, where a new consumer starts).
func (b *Bus) Lag(ctx context.Context, name string) (int64, error) {
	if err := eventbus.CheckConsumerName(name); err != nil {
		return 0, err
	}
	trimmed, newest, err := b.cfg.Log.LogBounds(ctx)
	if err != nil {
		return 0, err
	}
	pos, found, err := b.cfg.Cursors.Cursor(ctx, name)
	if err != nil {
		return 0, err
	}
	if !found || pos < trimmed {
		pos = trimmed
	}
	return max(newest-pos, 0), nil
}

// Close ends the Consume calls in progress (their handlers' contexts are
// cancelled) and waits for them to return. The log and the cursor store
// stay open: they belong to the database.
func (b *Bus) Close() error {
	b.mu.Lock()
	if !b.isClosed {
		b.isClosed = true
		close(b.done)
	}
	b.mu.Unlock()
	b.active.Wait()
	return nil
}

// wait waits d or until ctx ends, and reports whether ctx is still live.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
