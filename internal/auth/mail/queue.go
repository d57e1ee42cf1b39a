package mail

import (
	"context"
	"log/slog"
	"time"

	"github.com/basaltdev/basalt/internal/fault"
)

// Defaults of a Queue.
const (
	DefaultQueueCapacity = 256
	// DefaultSendAttempts is how many times a Queue tries a message
	// before dropping it.
	DefaultSendAttempts = 4
	// DefaultRetryBackoff is the wait before the first retry; it doubles
	// before each further one.
	DefaultRetryBackoff = 2 * time.Second
)

// Queue sends mail in the background so that answering a request never
// waits on (or reveals the timing of) mail. Messages are sent one at a time,
// in the order they were enqueued. A message that fails is tried again a few
// times with exponential backoff (never when the failure is fault.Invalid,
// which cannot get better), then logged and dropped. Messages still queued
// when Run returns are not sent: to stop without losing mail, call Flush
// before ending Run's context.
type Queue struct {
	sender   Sender
	log      *slog.Logger
	pending  chan Message
	flushes  chan chan struct{} // Flush's requests to Run
	attempts int
	backoff  time.Duration
}

// NewQueue returns a queue of at most capacity messages
// (DefaultQueueCapacity if capacity < 1) that s sends once Run is running.
func NewQueue(s Sender, capacity int, log *slog.Logger) *Queue {
	if capacity < 1 {
		capacity = DefaultQueueCapacity
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Queue{
		sender:   s,
		log:      log,
		pending:  make(chan Message, capacity),
		flushes:  make(chan chan struct{}),
		attempts: DefaultSendAttempts,
		backoff:  DefaultRetryBackoff,
	}
}

// Enqueue adds m to the queue without waiting. A full queue is a
// fault.Unavailable error.
func (q *Queue) Enqueue(m Message) error {
	select {
	case q.pending <- m:
		return nil
	default:
		return fault.New(fault.Unavailable, "mail.Queue.Enqueue", "too much mail is waiting to be sent; try again later")
	}
}

// Len returns the number of messages waiting.
func (q *Queue) Len() int { return len(q.pending) }

// Run sends queued messages until ctx ends, then returns nil. Run one Run
// at a time to keep the order.
func (q *Queue) Run(ctx context.Context) error {
	defer func() {
		if n := len(q.pending); n > 0 {
			q.log.Warn("mail queue stopped with messages unsent", "count", n)
		}
	}()
	for {
		// A message is never taken once ctx has ended, even if both are
		// ready.
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case m := <-q.pending:
			q.send(ctx, m)
		case done := <-q.flushes:
			for ctx.Err() == nil && q.sendNext(ctx) {
			}
			close(done)
		}
	}
}

// sendNext sends the next queued message, if there is one.
func (q *Queue) sendNext(ctx context.Context) bool {
	select {
	case m := <-q.pending:
		q.send(ctx, m)
		return true
	default:
		return false
	}
}

// Flush has Run send every message queued — those queued while it flushes
// too — and returns nil once the queue is empty, or ctx's error if ctx
// ends first (Run keeps sending then). It needs Run to be running. A
// server calls it at shutdown, once nothing enqueues any more, before it
// ends Run's context.
func (q *Queue) Flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case q.flushes <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// send tries m up to q.attempts times.
func (q *Queue) send(ctx context.Context, m Message) {
	wait := q.backoff
	for attempt := 1; ; attempt++ {
		err := q.sender.Send(ctx, m)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			q.log.Warn("mail not sent: shutting down", "to", m.To, "subject", m.Subject)
			return
		}
		if fault.Is(err, fault.Invalid) || attempt >= q.attempts {
			q.log.ErrorContext(ctx, "mail dropped", "to", m.To, "subject", m.Subject, "attempts", attempt, "err", err)
			return
		}
		q.log.WarnContext(ctx, "sending mail failed; will retry", "to", m.To, "subject", m.Subject, "attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			q.log.Warn("mail not sent: shutting down", "to", m.To, "subject", m.Subject)
			return
		case <-t.C:
		}
		wait *= 2
	}
}
