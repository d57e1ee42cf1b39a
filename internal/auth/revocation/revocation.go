// Package revocation tells every Basalt process, within a bounded time, that
// a session or an API key was revoked.
//
// A Set keeps the revocations of the last Retention in memory and refreshes
// them by polling a Feed (the accounts store) every Interval. While the last
// successful poll started less than MaxStaleness ago, Revoked answers from
// memory. When it did not (the feed is down, slow, or the set has never
// synced), the set is stale and Revoked asks the Feed about the one ID
// instead; if that fails too, Revoked returns a fault.Unavailable error so
// that the caller turns the request away. A revocation therefore takes effect
// on every process within about MaxStaleness of its commit, and a process
// that cannot know never lets a revoked credential in.
//
// Freshness is measured from the start of a poll, not its end: everything
// committed before a poll started is in the set once that poll succeeds.
// Each poll reads back Overlap before the start of the previous successful
// one, so a revocation whose timestamp is earlier than its commit (a slow
// transaction) or that was stamped by a process whose clock lags is not
// missed.
//
// # Broadcasts
//
// With a Broadcaster (Redis pub/sub when Basalt runs with --redis), Add also
// publishes the revocation to the other processes, and Run adds what they
// publish, so a revocation usually reaches every process well within one
// poll Interval. A broadcast is only a shortcut: one that is lost (the
// broadcaster is down, or a process was not subscribed) arrives with the
// next poll, and freshness is still measured by polls alone, so a process
// falls back to the database exactly as without a broadcaster. A broadcast
// can only add revocations, never lift one.
package revocation

import (
	"container/heap"
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/fault"
)

// Defaults of Options.
const (
	DefaultInterval     = 200 * time.Millisecond
	DefaultMaxStaleness = 750 * time.Millisecond
	DefaultOverlap      = 10 * time.Second
	DefaultTimeout      = 5 * time.Second
	DefaultMaxFallbacks = 16
)

// Feed is where revocations come from (the accounts store, through the
// account service).
type Feed interface {
	// Since returns the revocations recorded at or after since, oldest
	// first.
	Since(ctx context.Context, since time.Time) ([]Entry, error)
	// Revoked asks the database directly whether id is revoked (the
	// fallback when the set may be stale).
	Revoked(ctx context.Context, id string) (bool, error)
}

// Entry is one revocation: the session or API key ID and the time of the
// revoking transaction.
type Entry struct {
	ID string
	At time.Time
}

// Options configure a Set. Zero values take the defaults.
type Options struct {
	// Interval is the poll period (DefaultInterval).
	Interval time.Duration
	// MaxStaleness is how long after the start of the last successful poll
	// the set still answers from memory; after that Revoked asks the Feed
	// per lookup (DefaultMaxStaleness). It must be at least Interval.
	MaxStaleness time.Duration
	// Overlap is how far before the start of the previous successful poll
	// each poll reads again, to catch revocations that commit late or were
	// stamped by a lagging clock (DefaultOverlap).
	Overlap time.Duration
	// Retention is how long a revocation is remembered: the lifetime of the
	// credentials it ends (the access-token TTL plus the verifier's clock
	// leeway, and at least as long as any process caches an API key).
	// Required.
	Retention time.Duration
	// Timeout bounds one poll and one fallback lookup (DefaultTimeout).
	Timeout time.Duration
	// MaxFallbacks bounds how many lookups of distinct IDs ask the Feed at
	// once while the set is stale (DefaultMaxFallbacks); concurrent lookups
	// of the same ID always share one call.
	MaxFallbacks int
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// Logger receives poll failures and recoveries (discarded if nil).
	Logger *slog.Logger
	// Registerer, if not nil, receives the set's metrics.
	Registerer prometheus.Registerer
	// Broadcaster, if not nil, carries revocations between processes
	// faster than polls (see Broadcasts).
	Broadcaster Broadcaster
}

// Broadcaster carries revocations between the processes that share a
// feed, ahead of their polls. Delivery is best effort: the feed remains the
// truth.
type Broadcaster interface {
	// Publish sends e to the other processes.
	Publish(ctx context.Context, e Entry) error
	// Subscribe calls deliver with the entries other processes publish
	// until ctx ends, then returns nil. It survives outages of its
	// transport on its own (reconnecting); entries published meanwhile
	// may be lost.
	Subscribe(ctx context.Context, deliver func(Entry)) error
}

// broadcastQueue bounds the revocations waiting to be published; beyond
// it they are dropped (the other processes' polls still deliver them).
const broadcastQueue = 1024

// Set is the in-memory set of recent revocations. It is safe for concurrent
// use; Run keeps it fresh.
type Set struct {
	feed         Feed
	interval     time.Duration
	maxStaleness time.Duration
	overlap      time.Duration
	retention    time.Duration
	timeout      time.Duration
	now          func() time.Time
	log          *slog.Logger

	mu      sync.RWMutex
	entries map[string]time.Time // ID → latest revocation time
	byTime  entryHeap            // the same (ID, time) pairs, oldest first

	// lastSync is the start of the last successful poll; nil until the
	// first one.
	lastSync atomic.Pointer[time.Time]
	running  atomic.Bool
	failing  int // consecutive failed polls; only Run's goroutine uses it

	flightMu  sync.Mutex
	flights   map[string]*flight
	fallbacks chan struct{} // semaphore of concurrent fallback lookups

	broadcaster Broadcaster
	outbox      chan Entry // revocations Add made, to publish; nil without a broadcaster

	pollErrors      prometheus.Counter
	fallbackResults *prometheus.CounterVec
}

// flight is one fallback lookup of an ID that concurrent callers share.
type flight struct {
	done    chan struct{}
	revoked bool
	err     error
	// abandoned is set when the caller that made the lookup gave up (its
	// context ended), so that waiters whose contexts are live retry rather
	// than fail.
	abandoned bool
	waiters   int
}

// New returns a Set that learns revocations from feed. It knows nothing
// until its first poll: until Run has polled successfully, every lookup asks
// the feed.
func New(feed Feed, opts Options) (*Set, error) {
	const op = "revocation.New"
	if feed == nil {
		return nil, fault.New(fault.Invalid, op, "a feed is required")
	}
	defaultDuration(&opts.Interval, DefaultInterval)
	defaultDuration(&opts.MaxStaleness, DefaultMaxStaleness)
	defaultDuration(&opts.Overlap, DefaultOverlap)
	defaultDuration(&opts.Timeout, DefaultTimeout)
	if opts.MaxFallbacks == 0 {
		opts.MaxFallbacks = DefaultMaxFallbacks
	}
	switch {
	case opts.Retention <= 0:
		return nil, fault.New(fault.Invalid, op, "retention is required and must be positive")
	case opts.Interval < 0, opts.MaxStaleness < 0, opts.Overlap < 0, opts.Timeout < 0, opts.MaxFallbacks < 0:
		return nil, fault.New(fault.Invalid, op, "durations and limits must not be negative")
	case opts.MaxStaleness < opts.Interval:
		return nil, fault.Newf(fault.Invalid, op, "max staleness %s is shorter than the poll interval %s", opts.MaxStaleness, opts.Interval)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Set{
		feed:         feed,
		interval:     opts.Interval,
		maxStaleness: opts.MaxStaleness,
		overlap:      opts.Overlap,
		retention:    opts.Retention,
		timeout:      opts.Timeout,
		now:          opts.Now,
		log:          opts.Logger,
		entries:      make(map[string]time.Time),
		flights:      make(map[string]*flight),
		fallbacks:    make(chan struct{}, opts.MaxFallbacks),
		broadcaster:  opts.Broadcaster,
		pollErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "basalt_revocation_poll_errors_total",
			Help: "Polls of the revocation feed that failed.",
		}),
		fallbackResults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "basalt_revocation_fallbacks_total",
			Help: "Lookups answered by the database because the revocation set was stale, by outcome (revoked, live, error).",
		}, []string{"outcome"}),
	}
	if s.broadcaster != nil {
		s.outbox = make(chan Entry, broadcastQueue)
	}
	if opts.Registerer != nil {
		entries := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "basalt_revocation_entries",
			Help: "Revocations held in memory.",
		}, func() float64 { return float64(s.Len()) })
		age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "basalt_revocation_feed_age_seconds",
			Help: "Seconds since the start of the last successful poll of the revocation feed (+Inf before the first).",
		}, s.feedAge)
		for _, c := range []prometheus.Collector{entries, age, s.pollErrors, s.fallbackResults} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fault.Internalf(op, err)
			}
		}
	}
	return s, nil
}

func defaultDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Run polls the feed every Interval until ctx ends, the first time at once;
// with a Broadcaster it also publishes the revocations Add records and adds
// those other processes publish. It returns nil when ctx ends. Only one Run
// may be active at a time.
func (s *Set) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return fault.Internalf("revocation.Run", errors.New("the set is already running"))
	}
	defer s.running.Store(false)
	if s.broadcaster != nil {
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() { s.publish(ctx) })
		wg.Go(func() {
			if err := s.broadcaster.Subscribe(ctx, s.received); err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "revocation broadcasts stopped; revocations arrive by polls only", "err", err)
			}
		})
	}
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.pollAndLog(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// pollAndLog polls once and logs the transitions between working and
// failing, not every failure.
func (s *Set) pollAndLog(ctx context.Context) {
	err := s.poll(ctx)
	switch {
	case err != nil && ctx.Err() != nil:
		// Shutting down.
	case err != nil:
		s.failing++
		if s.failing == 1 {
			s.log.WarnContext(ctx, "polling the revocation feed failed; lookups fall back to the database once the set is stale", "err", err)
		} else {
			s.log.DebugContext(ctx, "polling the revocation feed failed again", "err", err, "consecutive_failures", s.failing)
		}
	case s.failing > 0:
		s.log.InfoContext(ctx, "polling the revocation feed works again", "failed_polls", s.failing)
		s.failing = 0
	}
}

// poll reads the revocations since the last successful poll (minus Overlap)
// into the set, prunes what is older than Retention and, if it succeeded,
// marks the set fresh as of the moment it started.
func (s *Set) poll(ctx context.Context) error {
	start := s.now()
	since := start.Add(-s.retention)
	if last := s.lastSync.Load(); last != nil {
		if t := last.Add(-s.overlap); t.After(since) {
			since = t
		}
	}
	pctx, cancel := context.WithTimeout(ctx, s.timeout)
	entries, err := s.feed.Since(pctx, since.Round(0))
	cancel()
	if err != nil {
		s.pollErrors.Inc()
		return err
	}
	cutoff := start.Add(-s.retention)
	s.mu.Lock()
	for _, e := range entries {
		if e.ID == "" {
			continue
		}
		at := e.At
		if at.IsZero() {
			at = start
		}
		s.insertLocked(e.ID, at)
	}
	s.pruneLocked(cutoff)
	s.mu.Unlock()
	for {
		last := s.lastSync.Load()
		if last != nil && !start.After(*last) {
			break
		}
		if s.lastSync.CompareAndSwap(last, &start) {
			break
		}
	}
	return nil
}

// Add records a revocation made by this process, so that it is visible here
// at once rather than after the next poll, and with a Broadcaster publishes
// it to the other processes. Call it once the revoking transaction has
// committed. A zero at means now.
func (s *Set) Add(id string, at time.Time) {
	if id == "" {
		return
	}
	at = s.record(id, at)
	if s.outbox != nil {
		select {
		case s.outbox <- Entry{ID: id, At: at}:
		default: // the other processes' polls will tell them
		}
	}
}

// record inserts a revocation without publishing it and returns its time
// (now when at is zero).
func (s *Set) record(id string, at time.Time) time.Time {
	now := s.now()
	if at.IsZero() {
		at = now
	}
	s.mu.Lock()
	s.insertLocked(id, at)
	s.pruneLocked(now.Add(-s.retention))
	s.mu.Unlock()
	return at
}

// received records a revocation another process published. Its time comes
// from that process's clock; one ahead of this clock is taken as now, so a
// broadcast cannot make an entry outlive Retention here.
func (s *Set) received(e Entry) {
	if e.ID == "" {
		return
	}
	if now := s.now(); e.At.IsZero() || e.At.After(now) {
		e.At = now
	}
	s.record(e.ID, e.At)
}

// publish sends the revocations Add queued until ctx ends, logging when
// publishing starts failing and when it works again.
func (s *Set) publish(ctx context.Context) {
	failing := 0
	for {
		var e Entry
		select {
		case <-ctx.Done():
			return
		case e = <-s.outbox:
		}
		pctx, cancel := context.WithTimeout(ctx, s.timeout)
		err := s.broadcaster.Publish(pctx, e)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			failing++
			if failing == 1 {
				s.log.WarnContext(ctx, "publishing a revocation failed; other processes learn it by polling", "err", err)
			}
		case failing > 0:
			s.log.InfoContext(ctx, "publishing revocations works again", "failed_publishes", failing)
			failing = 0
		}
	}
}

// insertLocked records that id was revoked at at, keeping the latest time
// per ID. Re-reading a known revocation changes nothing.
func (s *Set) insertLocked(id string, at time.Time) {
	if old, ok := s.entries[id]; ok && !at.After(old) {
		return
	}
	s.entries[id] = at
	heap.Push(&s.byTime, entry{id: id, at: at})
}

// pruneLocked forgets the revocations older than cutoff.
func (s *Set) pruneLocked(cutoff time.Time) {
	for len(s.byTime) > 0 && s.byTime[0].at.Before(cutoff) {
		e := heap.Pop(&s.byTime).(entry)
		// A later revocation of the same ID has its own heap entry.
		if at, ok := s.entries[e.id]; ok && at.Equal(e.at) {
			delete(s.entries, e.id)
		}
	}
}

// Len returns the number of revocations held in memory.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.entries)
}

// Sync polls the feed once, now, as Run does every Interval. Calling it
// before serving makes the set fresh from the first request.
func (s *Set) Sync(ctx context.Context) error { return s.poll(ctx) }

// CaughtUp reports whether a poll has ever succeeded: whether the set has
// read the feed's revocations of the whole Retention.
func (s *Set) CaughtUp() bool { return s.lastSync.Load() != nil }

// Synced reports whether the set is fresh now: its last successful poll
// started at most MaxStaleness ago. A process whose set is not synced still
// answers correctly, by asking the database, but more slowly; readiness
// checks may use it.
func (s *Set) Synced() bool { return s.fresh(s.now()) }

func (s *Set) fresh(now time.Time) bool {
	last := s.lastSync.Load()
	if last == nil {
		return false
	}
	// A clock that went backwards makes the set stale, never fresh for
	// longer.
	d := now.Sub(*last)
	return d >= 0 && d <= s.maxStaleness
}

func (s *Set) feedAge() float64 {
	last := s.lastSync.Load()
	if last == nil {
		return math.Inf(1)
	}
	return s.now().Sub(*last).Seconds()
}

// Known answers Revoked from memory alone, when it can: known is false
// when the set is stale and id not seen revoked, where Revoked would ask
// the feed.
func (s *Set) Known(id string) (revoked, known bool) {
	s.mu.RLock()
	_, revoked = s.entries[id]
	s.mu.RUnlock()
	return revoked, revoked || s.fresh(s.now())
}

// Revoked reports whether the session or API key id is revoked. A revocation
// this process has seen is always reported. Otherwise, when the set is fresh
// the answer comes from memory; when it is stale Revoked asks the feed, and
// if the feed cannot answer it returns a fault.Unavailable error: the caller
// must not let the request in.
func (s *Set) Revoked(ctx context.Context, id string) (bool, error) {
	const op = "revocation.Revoked"
	if id == "" {
		return false, fault.New(fault.Invalid, op, "an ID is required")
	}
	s.mu.RLock()
	_, revoked := s.entries[id]
	s.mu.RUnlock()
	if revoked {
		return true, nil
	}
	if s.fresh(s.now()) {
		return false, nil
	}
	revoked, err := s.fallback(ctx, id)
	switch {
	case err != nil:
		s.fallbackResults.WithLabelValues("error").Inc()
		return false, fault.Wrap(fault.Unavailable, op, err, "cannot tell whether the credential was revoked")
	case revoked:
		s.fallbackResults.WithLabelValues("revoked").Inc()
		// The database's answer is final; remember it. (Every process
		// asks on its own: nothing to publish.)
		s.record(id, time.Time{})
	default:
		s.fallbackResults.WithLabelValues("live").Inc()
	}
	return revoked, nil
}

// fallback asks the feed about id, sharing one call among concurrent
// callers asking about the same id.
func (s *Set) fallback(ctx context.Context, id string) (bool, error) {
	for {
		s.flightMu.Lock()
		f, ok := s.flights[id]
		if !ok {
			f = &flight{done: make(chan struct{})}
			s.flights[id] = f
			s.flightMu.Unlock()
			s.lead(ctx, id, f)
			return f.revoked, f.err
		}
		f.waiters++
		s.flightMu.Unlock()
		select {
		case <-f.done:
			if f.abandoned && ctx.Err() == nil {
				continue
			}
			return f.revoked, f.err
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// lead makes the lookup of flight f and publishes its result.
func (s *Set) lead(ctx context.Context, id string, f *flight) {
	defer func() {
		s.flightMu.Lock()
		delete(s.flights, id)
		s.flightMu.Unlock()
		close(f.done)
	}()
	select {
	case s.fallbacks <- struct{}{}:
	case <-ctx.Done():
		f.err, f.abandoned = ctx.Err(), true
		return
	}
	defer func() { <-s.fallbacks }()
	lctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	f.revoked, f.err = s.feed.Revoked(lctx, id)
	if f.err != nil {
		f.revoked = false
		f.abandoned = ctx.Err() != nil
	}
}

// entry is one revocation in the pruning heap.
type entry struct {
	id string
	at time.Time
}

// entryHeap is a min-heap of entries by time.
type entryHeap []entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h entryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = entry{}
	*h = old[:len(old)-1]
	return e
}
