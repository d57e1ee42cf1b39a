// Package outbox runs the relay from the database's event log (the outbox
// table) to the event bus, and the log's retention.
//
// Every committed write records its change events in the outbox, in the
// write's transaction. The relay
//
//   - numbers committed events in commit order (eventbus.Log.Sequence) when
//     a write of this process committed (Wake), when another process
//     numbered events (eventbus.Waker), or every PollInterval, and then
//     tells in-process readers (News) that the log has news;
//   - publishes numbered events to the Bus in position order, holding the
//     cross-process lock of the cursor "relay" while it reads the cursor,
//     publishes batches and stores the cursor after each: several relays
//     on one database never publish at the same time, and a relay that
//     stops between a publish and its cursor has that batch published
//     again (at least once) rather than lost. A relay that loses the lock
//     (its PostgreSQL session ended) stops publishing when the lock's
//     Held ends, within about a second (until then two relays may
//     publish), and stores no cursor after that (it stores it through the
//     lock), so it never moves the cursor back behind the relay that took
//     over. A failing Publish is retried with
//     capped exponential backoff and jitter; writes never wait for the bus;
//   - trims, every TrimInterval, events older than Retention that the
//     relay has published (and, on the in-process bus, that its consumers
//     have read), so a deleted document's data leaves the outbox with its
//     rows and an unpublished event is never lost.
package outbox

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
)

// DefaultRetention is how long published events stay in the log unless
// Config.Retention says otherwise.
const DefaultRetention = 24 * time.Hour

// Config configures a Relay. Log, Cursors and Bus are required.
type Config struct {
	Log     eventbus.Log
	Cursors eventbus.Cursors
	Bus     eventbus.Bus
	// Waker, when set, tells the relay that another process numbered
	// events (PostgreSQL); the relay then tells News at once.
	Waker eventbus.Waker
	// News is notified whenever the log may hold new numbered events, for
	// the readers in this process (the in-process bus, realtime). Optional.
	News   *eventbus.Signal
	Logger *slog.Logger
	// Registerer receives the relay's metrics; none when nil.
	Registerer prometheus.Registerer
	// Clock is the clock retention measures age by; time.Now when nil.
	Clock func() time.Time
	// Retention is how long published events stay in the log (default
	// DefaultRetention): the window in which realtime subscribers can
	// resume.
	Retention time.Duration
	// WaitForConsumers says that the bus's consumers read the log itself
	// (the in-process bus): trimming then also keeps the events that a
	// consumer has not acknowledged, unless its cursor has not moved for
	// longer than Retention (a consumer no longer run).
	WaitForConsumers bool
	// TrimInterval is how often old events are trimmed and the log's size
	// measured (default 1 min).
	TrimInterval time.Duration
	// PollInterval is how often the relay looks for events without being
	// woken (default 1 s): writes of processes without a Waker.
	PollInterval time.Duration
	// BatchSize is the most events numbered or published at once (default
	// 500).
	BatchSize int
	// LockHold is the longest the relay keeps the lock that lets one
	// relay of the database publish (default 5 s): while it holds it, it
	// publishes as events come, without taking the lock again.
	LockHold time.Duration
	// MinBackoff and MaxBackoff bound the wait before publishing again
	// after a failed Publish (defaults 100 ms and 30 s): it doubles from
	// MinBackoff up to MaxBackoff, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// Tracer, when set, makes a span ("outbox publish") of each publish
	// that carries events of traced writes: a child of the first one's
	// trace, linked to the others'.
	Tracer trace.Tracer
}

// Relay moves events from the log to the bus. Create it with New, run it
// with Run.
type Relay struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	wake    chan struct{} // a write of this process committed
	remote  chan struct{} // another process numbered events
	publish chan struct{} // new events were numbered
	m       metrics

	// announced is the newest position News was told about; only the
	// sequencing goroutine uses it.
	announced int64

	mu     sync.Mutex
	newest int64 // the highest position seen, for the lag
}

// metrics are the relay's Prometheus metrics; every label set is fixed.
type metrics struct {
	events, bytes, lag         prometheus.Gauge
	published, failed, trimmed prometheus.Counter
}

// New returns a relay for cfg.
func New(cfg Config) (*Relay, error) {
	if cfg.Log == nil || cfg.Cursors == nil || cfg.Bus == nil {
		return nil, errors.New("outbox: the relay needs a Log, Cursors and a Bus")
	}
	setDefault(&cfg.Retention, DefaultRetention)
	setDefault(&cfg.TrimInterval, time.Minute)
	setDefault(&cfg.PollInterval, time.Second)
	setDefault(&cfg.LockHold, 5*time.Second)
	setDefault(&cfg.MinBackoff, 100*time.Millisecond)
	setDefault(&cfg.MaxBackoff, 30*time.Second)
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.News == nil {
		cfg.News = &eventbus.Signal{}
	}
	r := &Relay{
		cfg:     cfg,
		log:     cfg.Logger,
		now:     cfg.Clock,
		wake:    make(chan struct{}, 1),
		remote:  make(chan struct{}, 1),
		publish: make(chan struct{}, 1),
		m: metrics{
			events: prometheus.NewGauge(prometheus.GaugeOpts{Name: "basalt_outbox_events",
				Help: "Events the outbox (the event log) holds, published or not."}),
			bytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "basalt_outbox_bytes",
				Help: "Total size in bytes of the payloads of the events the outbox holds."}),
			lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "basalt_outbox_relay_lag_events",
				Help: "Numbered events the relay has not yet published to the bus (newest position minus the relay's cursor)."}),
			published: prometheus.NewCounter(prometheus.CounterOpts{Name: "basalt_outbox_published_total",
				Help: "Events the relay published to the bus (an event published again after a failure counts again)."}),
			failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "basalt_outbox_publish_failures_total",
				Help: "Publish calls to the bus that failed; the relay retries them with backoff."}),
			trimmed: prometheus.NewCounter(prometheus.CounterOpts{Name: "basalt_outbox_trimmed_total",
				Help: "Published events deleted from the outbox because they were older than the retention window."}),
		},
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{r.m.events, r.m.bytes, r.m.lag, r.m.published, r.m.failed, r.m.trimmed} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("outbox: %w", err)
			}
		}
	}
	return r, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Wake tells the relay that a write of this process committed events. It
// never blocks: the docstore calls it on the write path.
func (r *Relay) Wake() { signal(r.wake) }

// signal sends on a channel of capacity 1 unless a send is pending.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run relays events until ctx ends, then returns nil once its work in
// progress stopped. A Publish in progress is cancelled: its batch is
// published again by the next relay (at least once).
func (r *Relay) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	r.Wake() // events written before the start (or by a relay that stopped)
	if r.cfg.Waker != nil {
		wg.Go(func() { r.listen(ctx) })
	}
	wg.Go(func() { r.sequenceLoop(ctx) })
	wg.Go(func() { r.publishLoop(ctx) })
	wg.Go(func() { r.trimLoop(ctx) })
	wg.Wait()
	return nil
}

// listen forwards the Waker's notices until ctx ends, listening again
// (after PollInterval, polling meanwhile) when the notices stop.
func (r *Relay) listen(ctx context.Context) {
	for {
		err := r.cfg.Waker.ListenEvents(ctx, func() { signal(r.remote) })
		if ctx.Err() != nil {
			return
		}
		r.log.WarnContext(ctx, "event notices from other processes stopped; polling until they resume", "err", err)
		if !wait(ctx, r.cfg.PollInterval) {
			return
		}
	}
}

// sequenceLoop numbers committed events and tells News, when woken and
// every PollInterval.
func (r *Relay) sequenceLoop(ctx context.Context) {
	tick := time.NewTicker(r.cfg.PollInterval)
	defer tick.Stop()
	for {
		remote := false
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-tick.C:
		case <-r.remote:
			remote = true
		}
		if err := r.sequence(ctx, remote); err != nil && ctx.Err() == nil {
			r.log.WarnContext(ctx, "numbering committed events failed; trying again at the next poll", "err", err)
		}
	}
}

// sequence numbers every committed event without a position, then tells
// News when the log grew (or another process said it did) and the
// publisher when there is something to publish.
func (r *Relay) sequence(ctx context.Context, remote bool) error {
	for {
		n, err := r.cfg.Log.Sequence(ctx, r.cfg.BatchSize)
		if err != nil {
			return err
		}
		if n < r.cfg.BatchSize {
			break
		}
	}
	_, newest, err := r.cfg.Log.LogBounds(ctx)
	if err != nil {
		return err
	}
	r.noteNewest(newest)
	grew := newest > r.announced
	r.announced = max(r.announced, newest)
	if grew || remote {
		r.cfg.News.Notify()
	}
	if grew {
		signal(r.publish)
	}
	return nil
}

// publishLoop publishes numbered events when told there are some and every
// PollInterval, retrying after a backoff when publishing failed.
func (r *Relay) publishLoop(ctx context.Context) {
	tick := time.NewTicker(r.cfg.PollInterval)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.publish:
		case <-tick.C:
		}
		for {
			err := r.lead(ctx, tick.C)
			if err == nil || ctx.Err() != nil {
				failures = 0
				break
			}
			failures++
			d := backoff(failures, r.cfg.MinBackoff, r.cfg.MaxBackoff, rand.Int64N)
			r.log.WarnContext(ctx, "publishing events failed; retrying", "err", err, "attempt", failures, "retryIn", d)
			if !wait(ctx, d) {
				return
			}
		}
	}
}

// lead takes the relay's lock, which every process on the database
// shares, and publishes every numbered event, then what is numbered while
// it holds the lock (told by the sequencer or found at each tick), for at
// most LockHold. Holding the lock for a while rather than for one batch
// spares a lock (on PostgreSQL, a connection) per write; letting it go
// after LockHold hands the work to another process now and then. While it
// holds the lock, no other relay stores the cursor, so the position it read
// stays current.
func (r *Relay) lead(ctx context.Context, tick <-chan time.Time) error {
	lock, err := r.cfg.Cursors.LockCursor(ctx, eventbus.RelayName)
	if err != nil {
		return fmt.Errorf("lock the relay's cursor: %w", err)
	}
	defer lock.Unlock()
	held := lock.Held()
	pos, _, err := r.cfg.Cursors.Cursor(held, eventbus.RelayName)
	if err != nil {
		return r.lost(ctx, held, fmt.Errorf("read the relay's cursor: %w", err))
	}
	hold := time.NewTimer(r.cfg.LockHold)
	defer hold.Stop()
	for {
		if pos, err = r.publishFrom(held, lock, pos); err != nil {
			return r.lost(ctx, held, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-held.Done():
			return r.lost(ctx, held, nil)
		case <-hold.C:
			return nil
		case <-r.publish:
		case <-tick:
		}
	}
}

// lost returns err, or, when the relay's lock was lost while ctx is live
// (its PostgreSQL session ended: another relay may publish now), an error
// that says so: the relay then takes the lock again after a backoff.
func (r *Relay) lost(ctx, held context.Context, err error) error {
	if ctx.Err() != nil || held.Err() == nil {
		return err
	}
	if err == nil {
		err = eventbus.ErrLockLost
	}
	return fmt.Errorf("the relay's lock was lost (another relay may publish now): %w", err)
}

// publishFrom publishes, batch by batch, the events after pos until there
// are none, storing the cursor through lock after each batch, and returns
// the position published last. ctx is the lock's Held: a relay that lost
// the lock stops publishing, and stores no cursor.
func (r *Relay) publishFrom(ctx context.Context, lock eventbus.CursorLock, pos int64) (int64, error) {
	defer func() { r.setLag(pos) }()
	for {
		evs, err := r.cfg.Log.ReadEvents(ctx, pos, r.cfg.BatchSize)
		if err != nil {
			return pos, fmt.Errorf("read events after %d: %w", pos, err)
		}
		if len(evs) == 0 {
			return pos, nil
		}
		// Internal events (search.vectors) never leave Basalt: the
		// processes read them from the log itself.
		if pub := publicEvents(evs); len(pub) > 0 {
			end := r.traceBatch(ctx, pub)
			err := r.cfg.Bus.Publish(ctx, pub)
			end(err)
			if err != nil {
				r.m.failed.Inc()
				return pos, fmt.Errorf("publish events %d to %d: %w", evs[0].Position, evs[len(evs)-1].Position, err)
			}
			r.m.published.Add(float64(len(pub)))
		}
		last := evs[len(evs)-1].Position
		if err := lock.SetCursor(ctx, last); err != nil {
			return pos, fmt.Errorf("store the relay's cursor at %d: %w", last, err)
		}
		pos = last
		r.noteNewest(last)
		if len(evs) < r.cfg.BatchSize {
			return pos, nil
		}
	}
}

// traceBatch starts the span of a publish whose events include traced
// writes' (none otherwise); the returned function ends it.
func (r *Relay) traceBatch(ctx context.Context, evs []eventbus.Event) func(error) {
	if r.cfg.Tracer == nil {
		return func(error) {}
	}
	var parent context.Context
	var links []trace.Link
	for _, e := range evs {
		tctx, sc := eventbus.TraceContext(ctx, e)
		switch {
		case !sc.IsValid():
		case parent == nil:
			parent = tctx
		default:
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	if parent == nil {
		return func(error) {}
	}
	_, span := r.cfg.Tracer.Start(parent, "outbox publish", trace.WithSpanKind(trace.SpanKindProducer), trace.WithLinks(links...),
		trace.WithAttributes(attribute.Int("messaging.batch.message_count", len(evs)),
			attribute.Int64("basalt.event.first_position", evs[0].Position), attribute.Int64("basalt.event.last_position", evs[len(evs)-1].Position)))
	return func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, "the bus refused the batch")
		}
		span.End()
	}
}

// publicEvents returns evs without internal events (a copy when it had
// some).
func publicEvents(evs []eventbus.Event) []eventbus.Event {
	n := 0
	for _, e := range evs {
		if !e.Type.Internal() {
			n++
		}
	}
	if n == len(evs) {
		return evs
	}
	out := make([]eventbus.Event, 0, n)
	for _, e := range evs {
		if !e.Type.Internal() {
			out = append(out, e)
		}
	}
	return out
}

// noteNewest records a position seen in the log.
func (r *Relay) noteNewest(pos int64) {
	r.mu.Lock()
	r.newest = max(r.newest, pos)
	r.mu.Unlock()
}

// setLag sets the lag gauge for a relay cursor at pos.
func (r *Relay) setLag(pos int64) {
	r.mu.Lock()
	lag := max(r.newest-pos, 0)
	r.mu.Unlock()
	r.m.lag.Set(float64(lag))
}

// backoff is the wait after the n-th consecutive failure (n ≥ 1): lo
// doubled n-1 times, at most hi; its second half is random ("equal
// jitter"), so relays of several processes that failed together spread
// out, and the wait is never below half the step.
func backoff(n int, lo, hi time.Duration, randN func(int64) int64) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(randN(int64(half)+1))
}

// trimLoop trims and measures the log every TrimInterval.
func (r *Relay) trimLoop(ctx context.Context) {
	tick := time.NewTicker(r.cfg.TrimInterval)
	defer tick.Stop()
	for {
		if err := r.Trim(ctx); err != nil && ctx.Err() == nil {
			r.log.WarnContext(ctx, "trimming the event log failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Trim deletes the events that are older than the retention window and
// that the relay has published, and updates the log's size and the
// relay's lag. Run calls it every TrimInterval.
func (r *Relay) Trim(ctx context.Context) error {
	pos, found, err := r.cfg.Cursors.Cursor(ctx, eventbus.RelayName)
	if err != nil {
		return fmt.Errorf("read the relay's cursor: %w", err)
	}
	upTo := pos
	if found && pos > 0 && r.cfg.WaitForConsumers {
		if upTo, err = r.consumed(ctx, pos); err != nil {
			return err
		}
	}
	if found && upTo > 0 {
		n, err := r.cfg.Log.TrimEvents(ctx, r.now().Add(-r.cfg.Retention), upTo)
		if err != nil {
			return fmt.Errorf("trim events: %w", err)
		}
		if n > 0 {
			r.m.trimmed.Add(float64(n))
			r.log.DebugContext(ctx, "trimmed the event log", "events", n, "upTo", upTo)
		}
	}
	events, bytes, err := r.cfg.Log.LogSize(ctx)
	if err != nil {
		return fmt.Errorf("measure the event log: %w", err)
	}
	r.m.events.Set(float64(events))
	r.m.bytes.Set(float64(bytes))
	_, newest, err := r.cfg.Log.LogBounds(ctx)
	if err != nil {
		return fmt.Errorf("read the event log's bounds: %w", err)
	}
	r.noteNewest(newest)
	r.setLag(pos)
	return nil
}

// consumed returns the highest position up to which every consumer that
// moved within the retention window has acknowledged the log, and at most
// upTo.
func (r *Relay) consumed(ctx context.Context, upTo int64) (int64, error) {
	cs, err := r.cfg.Cursors.ListCursors(ctx)
	if err != nil {
		return 0, fmt.Errorf("list the consumers' cursors: %w", err)
	}
	live := r.now().Add(-r.cfg.Retention)
	for _, c := range cs {
		if c.Name != eventbus.RelayName && c.UpdatedAt.After(live) {
			upTo = min(upTo, c.Position)
		}
	}
	return upTo, nil
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
