package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// ConsumerName is the name of the event-stream consumer that turns events
// into deliveries.
const ConsumerName = "webhooks"

// Dispatcher turns change events into deliveries: one per enabled webhook
// that matches the event's collection and type. Handling an event again
// (the stream delivers at least once) adds nothing: a webhook has at most
// one delivery per event.
type Dispatcher struct {
	store Store
	now   func() time.Time
	wake  func()
}

// NewDispatcher returns a dispatcher over store; wake (nil: nothing) tells
// the local Worker that deliveries were added.
func NewDispatcher(store Store, now func() time.Time, wake func()) *Dispatcher {
	if now == nil {
		now = time.Now
	}
	if wake == nil {
		wake = func() {}
	}
	return &Dispatcher{store: store, now: now, wake: wake}
}

// Handle adds the deliveries of one event.
func (d *Dispatcher) Handle(ctx context.Context, ev eventbus.Event) error {
	return d.HandleBatch(ctx, []eventbus.Event{ev})
}

// HandleBatch adds the deliveries of a batch of events (an
// eventbus.Handler).
func (d *Dispatcher) HandleBatch(ctx context.Context, evs []eventbus.Event) error {
	const op = "webhook.Dispatch"
	if len(evs) == 0 {
		return nil
	}
	hooks, err := d.store.ListWebhooks(ctx)
	if err != nil {
		return err
	}
	now := d.now().UTC().Truncate(time.Microsecond)
	var ds []Delivery
	for _, ev := range evs {
		for _, w := range hooks {
			if !w.Matches(ev) {
				continue
			}
			id, err := uuid.NewV7()
			if err != nil {
				return fault.Internalf(op, err)
			}
			ds = append(ds, Delivery{ID: id.String(), WebhookID: w.ID, EventID: ev.ID, Position: ev.Position, Event: ev,
				Status: Pending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now})
		}
	}
	if len(ds) == 0 {
		return nil
	}
	n, err := d.store.AddDeliveries(ctx, ds)
	if err != nil {
		return err
	}
	if n > 0 {
		d.wake()
	}
	return nil
}

// Filter prepares an event for a webhook: it returns the event as an
// administrator may receive it (hidden fields removed), or false when it
// can no longer be delivered (its collection is gone).
type Filter func(ctx context.Context, ev eventbus.Event) (eventbus.Event, bool, error)

// WorkerConfig configures NewWorker. Zero fields take the defaults named.
type WorkerConfig struct {
	Store Store
	Guard *Guard
	// Filter removes what webhooks may not receive from each event before
	// it is sent. Required: hidden fields must never leave.
	Filter Filter
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	Now        func() time.Time
	// Concurrency bounds the deliveries sent at once by this process
	// (default 8).
	Concurrency int
	// Timeout bounds one attempt, from dialling to the end of the answer's
	// headers and the read of its body (default 10 s).
	Timeout time.Duration
	// MaxAttempts is how many attempts a delivery gets before it fails
	// (default 30: with the default backoff, up to about 20 hours).
	MaxAttempts int
	// BackoffBase and BackoffMax shape the wait before attempt n+1: a
	// uniformly random duration between 0 and min(BackoffMax,
	// BackoffBase·2^(n-1)) (full jitter; defaults 5 s and 1 h).
	BackoffBase, BackoffMax time.Duration
	// Poll is how often the worker looks for due deliveries without being
	// woken (deliveries added by other processes, retries; default 1 s).
	Poll time.Duration
	// Client sends the requests; nil means Guard.Client(Timeout). A
	// client given here must check addresses itself.
	Client *http.Client
	// UserAgent names the sender (default "Basalt-Webhooks/1").
	UserAgent string
	// Retention is how long finished deliveries (succeeded or failed)
	// are kept after their last attempt (default 30 days); PurgeEvery is
	// how often they are looked for (default 1 h).
	Retention, PurgeEvery time.Duration
}

// maxResponseBytes bounds how much of an answer's body is read.
const maxResponseBytes = 64 << 10

// maxErrorBody bounds how much of an answer's body a delivery records.
const maxErrorBody = 256

// Worker claims due deliveries and sends them.
type Worker struct {
	cfg     WorkerConfig
	log     *slog.Logger
	wake    eventbus.Signal
	freed   eventbus.Signal
	lease   time.Duration
	outcome *prometheus.CounterVec
	latency prometheus.Histogram
}

// NewWorker returns a worker. Store, Guard and Filter are required.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.Store == nil || cfg.Guard == nil || cfg.Filter == nil {
		return nil, fault.New(fault.Invalid, "webhook.NewWorker", "a worker needs a store, a guard and a filter")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 30
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = 5 * time.Second
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = time.Hour
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Client == nil {
		cfg.Client = cfg.Guard.Client(cfg.Timeout)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "Basalt-Webhooks/1"
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	if cfg.PurgeEvery <= 0 {
		cfg.PurgeEvery = time.Hour
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// A claim outlives the attempt it covers: the request (bounded by
	// Timeout), recording its outcome (bounded at 5 s) and a margin for
	// clocks. A process that dies mid-attempt leaves the delivery due
	// again when the lease ends.
	w := &Worker{cfg: cfg, log: log, lease: cfg.Timeout + 10*time.Second,
		outcome: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "basalt_webhook_attempts_total",
			Help: "Webhook delivery attempts by outcome: succeeded, retry (failed, tried again later), failed (the last attempt)."},
			[]string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "basalt_webhook_attempt_duration_seconds",
			Help: "Time from sending a webhook request to the end of its answer.", Buckets: prometheus.ExponentialBuckets(0.005, 3, 9)}),
	}
	for _, o := range []string{outcomeSucceeded, outcomeRetry, outcomeFailed} {
		w.outcome.WithLabelValues(o)
	}
	if cfg.Registerer != nil {
		if err := registerAll(cfg.Registerer, w.outcome, w.latency); err != nil {
			return nil, fault.Internalf("webhook.NewWorker", err)
		}
	}
	return w, nil
}

func registerAll(r prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// The outcome label's values.
const (
	outcomeSucceeded = "succeeded"
	outcomeRetry     = "retry"
	outcomeFailed    = "failed"
)

// Wake tells the worker that deliveries may be due.
func (w *Worker) Wake() { w.wake.Notify() }

// Run sends due deliveries until ctx ends, then waits for the attempts in
// progress (cancelled with ctx) and returns nil. It also deletes finished
// deliveries older than the retention.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.purgeLoop(ctx)
	}()
	var mu sync.Mutex
	busy := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		woken, freed := w.wake.C(), w.freed.C()
		mu.Lock()
		free := w.cfg.Concurrency - busy
		mu.Unlock()
		claimed := 0
		if free > 0 {
			ds, err := w.cfg.Store.ClaimDeliveries(ctx, w.cfg.Now().UTC().Truncate(time.Microsecond), w.lease, free)
			if err != nil && ctx.Err() == nil {
				w.log.Error("webhook: cannot claim deliveries", "err", err)
			}
			claimed = len(ds)
			for _, d := range ds {
				mu.Lock()
				busy++
				mu.Unlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					w.attempt(ctx, d)
					mu.Lock()
					busy--
					mu.Unlock()
					w.freed.Notify()
				}()
			}
		}
		if claimed > 0 && claimed == free {
			select { // slots are full: wait for one, or the end
			case <-ctx.Done():
				return nil
			case <-freed:
			}
			continue
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(w.cfg.Poll)
		select {
		case <-ctx.Done():
			return nil
		case <-woken:
		case <-freed: // a slot came free: due deliveries may be waiting
		case <-timer.C:
		}
	}
}

// purgeBatch is how many deliveries one purge statement deletes.
const purgeBatch = 1000

// purgeLoop deletes finished deliveries older than the retention, at once
// and then every PurgeEvery, until ctx ends.
func (w *Worker) purgeLoop(ctx context.Context) {
	tick := time.NewTicker(w.cfg.PurgeEvery)
	defer tick.Stop()
	for {
		before := w.cfg.Now().Add(-w.cfg.Retention)
		for {
			n, err := w.cfg.Store.PurgeDeliveries(ctx, before, purgeBatch)
			if err != nil {
				if ctx.Err() == nil {
					w.log.Error("webhook: cannot delete old deliveries", "err", err)
				}
				break
			}
			if n < purgeBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// attempt sends a claimed delivery once and records the outcome.
func (w *Worker) attempt(ctx context.Context, d Delivery) {
	claimedUntil := d.NextAttemptAt
	code, sendErr := w.send(ctx, d)
	// Record with a context of its own: a shutdown must not lose the
	// outcome of an attempt that was made.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := w.cfg.Now().UTC().Truncate(time.Microsecond)
	d.UpdatedAt = now
	switch {
	case sendErr == nil && code >= 200 && code < 300:
		d.Attempts++
		d.Status, d.LastStatusCode, d.LastError, d.NextAttemptAt = Succeeded, code, "", now
		w.outcome.WithLabelValues(outcomeSucceeded).Inc()
	case ctx.Err() != nil:
		// Cut off by the shutdown: not the endpoint's fault. Due again
		// at once, for this process or another.
		d.Status, d.NextAttemptAt = Pending, now
	default:
		d.Attempts++
		d.LastStatusCode = code
		if sendErr != nil {
			d.LastError = sendErr.Error()
		}
		var final *undeliverable
		if d.Attempts >= w.cfg.MaxAttempts || errors.As(sendErr, &final) {
			d.Status, d.NextAttemptAt = Failed, now
			w.outcome.WithLabelValues(outcomeFailed).Inc()
		} else {
			d.Status, d.NextAttemptAt = Pending, now.Add(w.backoff(d.Attempts)).Truncate(time.Microsecond)
			w.outcome.WithLabelValues(outcomeRetry).Inc()
		}
	}
	ok, err := w.cfg.Store.FinishAttempt(rctx, d, claimedUntil)
	switch {
	case err != nil:
		w.log.Error("webhook: cannot record a delivery attempt", "delivery", d.ID, "err", err)
	case !ok:
		w.log.Warn("webhook: a delivery changed hands during its attempt (lease ended or redelivered)", "delivery", d.ID)
	}
}

// undeliverable is an error that makes a delivery fail at once, since no
// retry can help.
type undeliverable struct{ msg string }

func (e *undeliverable) Error() string { return e.msg }

var (
	errGone     = &undeliverable{"the event can no longer be delivered (its collection is gone)"}
	errDisabled = &undeliverable{"the webhook is disabled: enable it, then redeliver"}
)

// backoff returns the wait after the n-th failed attempt: full jitter over
// min(BackoffMax, BackoffBase·2^(n-1)).
func (w *Worker) backoff(n int) time.Duration {
	ceiling := w.cfg.BackoffMax
	if n-1 < 40 {
		if c := w.cfg.BackoffBase << (n - 1); c > 0 && c < ceiling {
			ceiling = c
		}
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// send makes one attempt: it returns the answer's status code (0 without
// an answer) and an error saying why the attempt failed (nil for a 2xx).
func (w *Worker) send(ctx context.Context, d Delivery) (int, error) {
	hook, err := w.cfg.Store.GetWebhook(ctx, d.WebhookID)
	if err != nil {
		return 0, err
	}
	if !hook.Enabled {
		return 0, errDisabled
	}
	ev, ok, err := w.cfg.Filter(ctx, d.Event)
	switch {
	case err != nil:
		return 0, err
	case !ok:
		return 0, errGone
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	at := w.cfg.Now()
	sig, err := Sign(hook.Secret, ev.ID, at, body)
	if err != nil {
		return 0, err
	}
	if hook.PreviousSecret != "" && at.Before(hook.PreviousUntil) {
		prev, err := Sign(hook.PreviousSecret, ev.ID, at, body)
		if err != nil {
			return 0, err
		}
		sig += " " + prev
	}
	actx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.cfg.UserAgent)
	req.Header.Set("webhook-id", ev.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	start := time.Now()
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("no answer within %s", w.cfg.Timeout)
		}
		return 0, err
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	w.latency.Observe(time.Since(start).Seconds())
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, nil
	}
	msg := "the endpoint answered " + strconv.Itoa(resp.StatusCode)
	if t := strings.TrimSpace(strings.ToValidUTF8(string(head), "")); t != "" {
		msg += ": " + t
	}
	return resp.StatusCode, errors.New(msg)
}
