package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// Config configures a Consumer. Name, Bus, DeadLetters and Handle are
// required.
type Config struct {
	// Name is the durable consumer's name on the bus (see
	// eventbus.CheckConsumerName). It comes from code, never from input:
	// it is a metric label.
	Name        string
	Bus         eventbus.Bus
	DeadLetters DeadLetterStore
	// Handle applies one event. It is called for each event at least once,
	// and for the events of one document (one Event.Key) one at a time, in
	// position order; events of different documents are handled
	// concurrently. It must be idempotent (see SkipApplied).
	Handle func(ctx context.Context, e eventbus.Event) error
	// Internal: hand internal events (eventbus.Type.Internal, such as
	// search.vectors) to Handle too. By default they are acknowledged
	// without a call: they never leave Basalt.
	Internal bool
	// Prepare, when set, is called with each batch's events that Handle
	// will see, before the first Handle call of the batch, for work that
	// is cheaper done for many events at once (such as one call to a
	// remote service for the whole batch). Handle must not depend on it:
	// a dead letter's retry, for one, is not prepared.
	Prepare func(ctx context.Context, events []eventbus.Event)
	// MaxAttempts is how many times Handle is called for an event before
	// the event is stored as a dead letter (default 8). An error of Handle
	// made with Permanent sets the event aside at once.
	MaxAttempts int
	// Backoff spaces the attempts.
	Backoff Backoff
	// Parallel is how many documents are handled at once (default 8).
	Parallel int
	// RetryInterval is how often dead letters an administrator marked for
	// retry are handed to Handle again, and the lag and dead-letter gauges
	// measured (default 5 s).
	RetryInterval time.Duration
	Logger        *slog.Logger
	// Registerer receives the metrics; none when nil. Consumers of one
	// process share the metrics, labelled by consumer name.
	Registerer prometheus.Registerer
	// Tracer, when set, makes a span ("consume <name>") of the handling
	// of each event of a traced write, a child of the write's trace
	// (Event.TraceParent): the handler's own spans (a webhook's delivery,
	// an embedding) continue it.
	Tracer trace.Tracer
}

// Backoff is the wait between two attempts at an event: Base after the
// first failure, doubling up to Max, less a random part of it (Jitter,
// from 0 to 1) so that consumers failing together do not retry together.
// Zero values mean 100 ms, 10 s and 0.5.
type Backoff struct {
	Base, Max time.Duration
	Jitter    float64
}

// delay returns the wait after the attempt-th failure (attempt ≥ 1).
func (b Backoff) delay(attempt int) time.Duration {
	d := b.Base
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if b.Jitter > 0 {
		d -= time.Duration(rand.Float64() * b.Jitter * float64(d))
	}
	return d
}

// Consumer runs a named consumer: it takes batches from the bus, hands
// each event to Handle (documents in parallel, each document's events in
// order), retries failures, sets aside events that keep failing as dead
// letters, and acknowledges a batch once every event in it is handled or
// set aside. Create it with New, run it with Run.
type Consumer struct {
	// work is held while a batch or a dead letter's retry is handled, so
	// that a retry never runs beside a batch holding the same document.
	work    sync.Mutex
	cfg     Config
	log     *slog.Logger
	metrics *metrics
}

// New checks cfg, fills in defaults and registers the metrics.
func New(cfg Config) (*Consumer, error) {
	const op = "consumer.New"
	if err := eventbus.CheckConsumerName(cfg.Name); err != nil {
		return nil, err
	}
	if cfg.Bus == nil || cfg.DeadLetters == nil || cfg.Handle == nil {
		return nil, fault.New(fault.Invalid, op, "the bus, the dead-letter store and the handler are required")
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Backoff.Base <= 0 {
		cfg.Backoff.Base = 100 * time.Millisecond
	}
	if cfg.Backoff.Max < cfg.Backoff.Base {
		cfg.Backoff.Max = max(10*time.Second, cfg.Backoff.Base)
	}
	if cfg.Backoff.Jitter == 0 {
		cfg.Backoff.Jitter = 0.5
	}
	cfg.Backoff.Jitter = min(max(cfg.Backoff.Jitter, 0), 1)
	if cfg.Parallel <= 0 {
		cfg.Parallel = 8
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registerer, cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("%s: registering metrics: %w", op, err)
	}
	return &Consumer{cfg: cfg, log: log.With("consumer", cfg.Name), metrics: m}, nil
}

// Run consumes until ctx ends, then returns nil once the batch in
// progress is finished or abandoned (it is delivered again on the next
// run). It returns an error when the bus cannot go on.
func (c *Consumer) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.maintain(ctx)
	}()
	err := c.cfg.Bus.Consume(ctx, c.cfg.Name, c.handleBatch)
	cancel()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("consumer %s: %w", c.cfg.Name, err)
	}
	return nil
}

// handleBatch handles a batch: each key's events in order, keys
// concurrently (at most Parallel at once). It returns an error, so that
// the bus delivers the batch again, only when an event could be neither
// handled nor stored as a dead letter (ctx ended, the store failed).
func (c *Consumer) handleBatch(ctx context.Context, events []eventbus.Event) error {
	c.work.Lock()
	defer c.work.Unlock()
	if !c.cfg.Internal {
		events = publicEvents(events)
	}
	if c.cfg.Prepare != nil && len(events) > 0 {
		c.cfg.Prepare(ctx, events)
	}
	var keys []string
	byKey := map[string][]eventbus.Event{}
	for _, e := range events {
		k := e.Key()
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], e)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	slots := make(chan struct{}, c.cfg.Parallel)
	for _, k := range keys {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func(list []eventbus.Event) {
			defer wg.Done()
			defer func() { <-slots }()
			for _, e := range list {
				if err := c.handleEvent(ctx, e); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return // this key's later events wait for the redelivery
				}
			}
		}(byKey[k])
	}
	wg.Wait()
	return firstErr
}

// publicEvents returns events without the internal ones (a copy when
// there were some).
func publicEvents(events []eventbus.Event) []eventbus.Event {
	for i, e := range events {
		if !e.Type.Internal() {
			continue
		}
		out := append([]eventbus.Event(nil), events[:i]...)
		for _, e := range events[i+1:] {
			if !e.Type.Internal() {
				out = append(out, e)
			}
		}
		return out
	}
	return events
}

// Permanent marks an error of Handle that a retry cannot cure (the event
// is malformed for this consumer, a configuration it names is missing):
// the event is stored as a dead letter at once, with err as its error.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// IsPermanent reports whether err (or an error it wraps) was made with
// Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// handleEvent calls Handle until it succeeds, fails permanently or
// MaxAttempts calls failed; it then stores the event as a dead letter. It returns an error only when
// ctx ended or the dead letter could not be stored.
func (c *Consumer) handleEvent(ctx context.Context, e eventbus.Event) (err error) {
	if tctx, sc := eventbus.TraceContext(ctx, e); c.cfg.Tracer != nil && sc.IsValid() {
		var span trace.Span
		ctx, span = c.cfg.Tracer.Start(tctx, "consume "+c.cfg.Name, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("messaging.consumer.group.name", c.cfg.Name), attribute.String("basalt.event.id", e.ID),
				attribute.String("basalt.event.type", string(e.Type)), attribute.Int64("basalt.event.position", e.Position)))
		defer func() {
			if err != nil {
				span.SetStatus(codes.Error, "not handled")
			}
			span.End()
		}()
	}
	for attempt := 1; ; attempt++ {
		err := c.cfg.Handle(ctx, e)
		if err == nil {
			c.metrics.handled(outcomeOK)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= c.cfg.MaxAttempts || IsPermanent(err) {
			return c.deadLetter(ctx, e, err, attempt)
		}
		c.metrics.handled(outcomeRetried)
		c.log.Debug("event handler failed; retrying", "position", e.Position, "key", e.Key(), "attempt", attempt, "err", err)
		t := time.NewTimer(c.cfg.Backoff.delay(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// deadLetter sets e aside after its last failed attempt.
func (c *Consumer) deadLetter(ctx context.Context, e eventbus.Event, cause error, attempts int) error {
	id, err := c.cfg.DeadLetters.AddDeadLetter(ctx, DeadLetter{Consumer: c.cfg.Name, Event: e, Error: cause.Error(), Attempts: attempts})
	if err != nil {
		c.log.Error("storing a dead letter", "position", e.Position, "key", e.Key(), "err", err)
		return fmt.Errorf("storing the dead letter of event %d: %w", e.Position, err)
	}
	c.metrics.handled(outcomeDeadLettered)
	c.metrics.deadLetters.Inc()
	c.log.Warn("event set aside as a dead letter", "id", id, "position", e.Position, "key", e.Key(),
		"type", e.Type, "attempts", attempts, "err", cause)
	return nil
}

// maintain, every RetryInterval until ctx ends, retries the dead letters
// marked for retry and measures the gauges.
func (c *Consumer) maintain(ctx context.Context) {
	tick := time.NewTicker(c.cfg.RetryInterval)
	defer tick.Stop()
	for {
		c.retryDeadLetters(ctx)
		c.measure(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// retryDeadLetters hands each dead letter marked for retry to Handle once:
// on success it is deleted, on failure its error and attempts are updated
// and its mark cleared.
func (c *Consumer) retryDeadLetters(ctx context.Context) {
	const page = 100
	var after int64
	for ctx.Err() == nil {
		list, err := c.cfg.DeadLetters.ListDeadLetters(ctx, c.cfg.Name, after, page)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("listing dead letters", "err", err)
			}
			return
		}
		for _, d := range list {
			after = d.ID
			if !d.Retry {
				continue
			}
			if err := c.retry(ctx, d); err != nil {
				if ctx.Err() == nil {
					c.log.Warn("retrying a dead letter", "id", d.ID, "err", err)
				}
				return
			}
		}
		if len(list) < page {
			return
		}
	}
}

func (c *Consumer) retry(ctx context.Context, d DeadLetter) error {
	if d.Event.Type.Internal() && !c.cfg.Internal {
		return c.cfg.DeadLetters.DeleteDeadLetter(ctx, d.ID) // never handed to this consumer
	}
	c.work.Lock()
	herr := c.cfg.Handle(ctx, d.Event)
	c.work.Unlock()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if herr == nil {
		c.metrics.handled(outcomeOK)
		err := c.cfg.DeadLetters.DeleteDeadLetter(ctx, d.ID)
		if err != nil && !fault.Is(err, fault.NotFound) { // an administrator may have deleted it meanwhile
			return err
		}
		c.log.Info("dead letter handled on retry", "id", d.ID, "position", d.Event.Position)
		return nil
	}
	c.metrics.handled(outcomeRetried)
	err := c.cfg.DeadLetters.UpdateDeadLetter(ctx, d.ID, herr.Error(), d.Attempts+1)
	if err != nil && !fault.Is(err, fault.NotFound) {
		return err
	}
	c.log.Warn("dead letter failed again on retry", "id", d.ID, "position", d.Event.Position, "err", herr)
	return nil
}

// measure sets the lag and dead-letter gauges.
func (c *Consumer) measure(ctx context.Context) {
	if lag, err := c.cfg.Bus.Lag(ctx, c.cfg.Name); err == nil {
		c.metrics.lag.Set(float64(lag))
	} else if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
		c.log.Warn("measuring lag", "err", err)
	}
	if counts, err := c.cfg.DeadLetters.CountDeadLetters(ctx); err == nil {
		c.metrics.deadLetters.Set(float64(counts[c.cfg.Name]))
	} else if ctx.Err() == nil {
		c.log.Warn("counting dead letters", "err", err)
	}
}
