// Package realtime delivers change events to subscribers as they happen:
// the engine behind Server-Sent Events streams (and, later, GraphQL
// subscriptions).
//
// One Hub per process follows the database's event log
// (eventbus.Log.ReadEvents), from its newest position at start, woken by a
// Signal whenever new events may be in the log (the relay's notice, which
// on PostgreSQL includes other processes' writes) and polling as a
// fallback. It fans each event out to the subscriptions of its collection
// (and document), each through a bounded queue, and never waits for one.
// A subscription whose queue is full stops receiving from the hub and
// reads what it missed from the log itself once it has emptied its queue,
// then joins the live events again: a burst larger than the queue costs
// reads of the log, not the stream. A subscriber that stays behind — no
// progress for SlowAfter, or more than MaxLag events behind — is dropped
// (its stream ends with a "dropped" message, and it reconnects where it
// stopped) rather than slowing the others.
//
// A subscription that resumes after a position first reads the events it
// missed from the log, then continues with the live ones, with no gap and
// no duplicate at the seam: live events at or below the last position it
// handled are skipped. When the events after that position have been
// trimmed from the log, it receives a gap message first and continues live.
//
// The hub decides nothing about access: each subscription carries a
// Deliverer (docstore.Delivery) that decides, event by event, what its
// caller may receive, in the subscriber's own goroutine.
package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// Defaults of Options.
const (
	DefaultPoll          = time.Second
	DefaultQueue         = 256
	DefaultMaxPerAccount = 32
	DefaultMaxPerIP      = 128
	DefaultReadBatch     = 512
	DefaultSlowAfter     = 5 * time.Second
	DefaultMaxLag        = 10_000
)

// limitRetry is the Retry-After of a subscription refused for the limits:
// a place frees when another stream of the caller ends, which the server
// cannot foresee.
const limitRetry = 5 * time.Second

// readyWait bounds how long Subscribe waits for a hub that has not yet
// read the log's position (the database is slow to answer at start).
const readyWait = 5 * time.Second

// Options configures a Hub.
type Options struct {
	// Log is the database's event log. Required.
	Log eventbus.Log
	// News wakes the hub when new events may be in the log. Nil: the hub
	// polls only.
	News *eventbus.Signal
	// Poll is how often the hub reads the log without a notice (default
	// 1 s): the bound on a subscriber's delay if a notice is lost.
	Poll time.Duration
	// Queue is how many events may wait for one subscriber before it is
	// dropped (default 256).
	Queue int
	// MaxPerAccount and MaxPerIP bound the open subscriptions of one
	// account (user or API key) and of one client address (defaults 32
	// and 128); beyond, Subscribe fails with fault.TooManyRequests.
	MaxPerAccount, MaxPerIP int
	// ReadBatch is how many events one read of the log returns at most
	// (default 512).
	ReadBatch int
	// SlowAfter and MaxLag say when a subscription whose queue overflowed
	// is dropped: when it has handled no event for SlowAfter (default
	// 5 s), or is more than MaxLag events behind (default 10,000).
	SlowAfter time.Duration
	MaxLag    int64
	// OnEvent, when set, is called with every event the hub reads from
	// the log, written through this process or another, before it is
	// fanned out: what else of the process follows the log (the document
	// service forgets its copy of a definition that changed). It runs in
	// the hub's goroutine and must return quickly.
	OnEvent    func(eventbus.Event)
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Hub fans the event log out to subscriptions. Create it with New, run it
// with Run, end every subscription with Drain when the server drains.
type Hub struct {
	log                eventbus.Log
	news               *eventbus.Signal
	logger             *slog.Logger
	poll               time.Duration
	queue, batch       int
	perAccount, perIP  int
	slowAfter          time.Duration
	maxLag             int64
	delivered, dropped prometheus.Counter
	onEvent            func(eventbus.Event)

	ready chan struct{} // closed once pos is known

	mu       sync.Mutex
	pos      int64 // the last position fanned out
	draining bool
	subs     map[string]*streams // by collection
	accounts map[string]int
	ips      map[string]int
	open     int
}

// New returns a hub over opts.Log.
func New(opts Options) (*Hub, error) {
	const op = "realtime.New"
	if opts.Log == nil {
		return nil, fault.Internalf(op, errors.New("no event log"))
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&opts.Queue, DefaultQueue)
	def(&opts.MaxPerAccount, DefaultMaxPerAccount)
	def(&opts.MaxPerIP, DefaultMaxPerIP)
	def(&opts.ReadBatch, DefaultReadBatch)
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.SlowAfter <= 0 {
		opts.SlowAfter = DefaultSlowAfter
	}
	if opts.MaxLag <= 0 {
		opts.MaxLag = DefaultMaxLag
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		log: opts.Log, news: opts.News, logger: opts.Logger, poll: opts.Poll,
		queue: opts.Queue, batch: opts.ReadBatch, perAccount: opts.MaxPerAccount, perIP: opts.MaxPerIP,
		slowAfter: opts.SlowAfter, maxLag: opts.MaxLag, onEvent: opts.OnEvent,
		ready:    make(chan struct{}),
		subs:     make(map[string]*streams),
		accounts: make(map[string]int),
		ips:      make(map[string]int),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "basalt_realtime_events_delivered_total",
			Help: "Events delivered to realtime subscribers.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "basalt_realtime_subscribers_dropped_total",
			Help: "Realtime subscribers dropped because they did not keep up.",
		}),
	}
	if opts.Registerer != nil {
		open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "basalt_realtime_streams",
			Help: "Open realtime subscriptions.",
		}, func() float64 {
			h.mu.Lock()
			defer h.mu.Unlock()
			return float64(h.open)
		})
		for _, c := range []prometheus.Collector{open, h.delivered, h.dropped} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fault.Internalf(op, err)
			}
		}
	}
	return h, nil
}

// Run follows the log until ctx ends, then ends every subscription. It
// starts at the log's newest position: events written before are only
// read by subscriptions that resume from an earlier position.
func (h *Hub) Run(ctx context.Context) error {
	defer h.Drain()
	for {
		_, newest, err := h.log.LogBounds(ctx)
		if err == nil {
			h.mu.Lock()
			h.pos = newest
			h.mu.Unlock()
			close(h.ready)
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		h.logger.WarnContext(ctx, "realtime: reading the event log's position failed", "err", err)
		if !h.wait(ctx, nil) {
			return nil
		}
	}
	for {
		var news <-chan struct{}
		if h.news != nil {
			news = h.news.C() // before the read: a notice during it is not lost
		}
		n, err := h.readOnce(ctx)
		h.dropSlow(time.Now())
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			h.logger.WarnContext(ctx, "realtime: reading the event log failed", "err", err)
		case n == h.batch:
			continue // more may be waiting
		}
		if !h.wait(ctx, news) {
			return nil
		}
	}
}

// wait waits for a notice, the poll interval or the end of ctx, and
// reports whether to go on.
func (h *Hub) wait(ctx context.Context, news <-chan struct{}) bool {
	t := time.NewTimer(h.poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-news:
	case <-t.C:
	}
	return true
}

// readOnce reads the events after the hub's position and fans them out;
// it returns how many it read.
func (h *Hub) readOnce(ctx context.Context) (int, error) {
	h.mu.Lock()
	after := h.pos
	h.mu.Unlock()
	evs, err := h.log.ReadEvents(ctx, after, h.batch)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	if h.onEvent != nil {
		for _, e := range evs {
			h.onEvent(e)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range evs {
		e := &evs[i]
		if e.Type.Internal() {
			h.pos = e.Position // never leaves Basalt
			continue
		}
		if set := h.subs[e.Collection]; set != nil {
			// One SharedEvent for every queue: the work that is the same
			// for every subscriber is done once.
			var sh *docstore.SharedEvent
			set.each(e.DocumentID, func(s *Subscription) {
				if s.overflow {
					return // it reads the log
				}
				if sh == nil {
					sh = docstore.NewSharedEvent(*e)
				}
				select {
				case s.queue <- sh:
				default:
					s.overflow = true
					s.seen, s.seenAt = s.progress.Load(), time.Now()
				}
			})
		}
		h.pos = e.Position
	}
	return len(evs), nil
}

// streams are the subscriptions of one collection: its collection streams,
// and its document streams by document, so that a document's event costs
// nothing to the streams of other documents.
type streams struct {
	all  map[*Subscription]struct{}
	docs map[string]map[*Subscription]struct{}
}

// add puts s in the set.
func (ss *streams) add(s *Subscription) {
	if s.req.DocumentID == "" {
		ss.all[s] = struct{}{}
		return
	}
	set := ss.docs[s.req.DocumentID]
	if set == nil {
		set = make(map[*Subscription]struct{})
		ss.docs[s.req.DocumentID] = set
	}
	set[s] = struct{}{}
}

// remove takes s out of the set and reports whether it was in it.
func (ss *streams) remove(s *Subscription) bool {
	if s.req.DocumentID == "" {
		_, ok := ss.all[s]
		delete(ss.all, s)
		return ok
	}
	set := ss.docs[s.req.DocumentID]
	if _, ok := set[s]; !ok {
		return false
	}
	delete(set, s)
	if len(set) == 0 {
		delete(ss.docs, s.req.DocumentID)
	}
	return true
}

func (ss *streams) empty() bool { return len(ss.all) == 0 && len(ss.docs) == 0 }

// each calls fn for the subscriptions that want an event of document doc
// ("": an event of the collection itself, which every stream wants). fn
// may remove the subscription it is given.
func (ss *streams) each(doc string, fn func(*Subscription)) {
	for s := range ss.all {
		fn(s)
	}
	if doc != "" {
		for s := range ss.docs[doc] {
			fn(s)
		}
		return
	}
	for _, set := range ss.docs {
		for s := range set {
			fn(s)
		}
	}
}

// eachSub calls fn for every subscription; fn may remove it.
func (h *Hub) eachSub(fn func(*Subscription)) {
	for _, set := range h.subs {
		set.each("", fn)
	}
}

// dropSlow drops the subscriptions whose queue overflowed and that have
// made no progress for slowAfter, or are more than maxLag events behind.
func (h *Hub) dropSlow(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.eachSub(func(s *Subscription) {
		if !s.overflow {
			return
		}
		p := s.progress.Load()
		if p != s.seen {
			s.seen, s.seenAt = p, now
		}
		if now.Sub(s.seenAt) >= h.slowAfter || h.pos-p > h.maxLag {
			h.endLocked(s, KindDropped)
			h.dropped.Inc()
		}
	})
}

// Drain ends every subscription (their streams end) and refuses new ones:
// the server is shutting down.
func (h *Hub) Drain() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.draining = true
	h.eachSub(func(s *Subscription) { h.endLocked(s, KindShutdown) })
}

// endLocked ends s for reason (KindDropped or KindShutdown): it leaves
// the fan-out at once, and its Next returns the reason once it has
// delivered what it had read before.
func (h *Hub) endLocked(s *Subscription, reason Kind) {
	if s.ended != 0 {
		return
	}
	s.ended = reason
	close(s.stop)
	h.removeLocked(s)
}

// removeLocked takes s out of the fan-out.
func (h *Hub) removeLocked(s *Subscription) {
	set := h.subs[s.req.Collection]
	if set == nil || !set.remove(s) {
		return
	}
	if set.empty() {
		delete(h.subs, s.req.Collection)
	}
}

// Request asks for a subscription.
type Request struct {
	// Collection, and DocumentID for a document stream: which events the
	// hub hands to the Deliverer (a document stream also gets the
	// collection's own events).
	Collection, DocumentID string
	// Account ("" for anonymous callers) and ClientIP count the
	// subscription against the hub's limits.
	Account, ClientIP string
	// Resume: start after position After (the SSE Last-Event-ID) rather
	// than with the next live event.
	Resume bool
	After  int64
	// Deliverer decides what the subscriber receives of each event.
	Deliverer Deliverer
}

// AccountOf is the key a Request's Account counts p's subscriptions by:
// its kind and id ("" for anonymous callers, counted by address only).
func AccountOf(p auth.Principal) string {
	if !p.Authenticated() {
		return ""
	}
	return p.Kind.String() + ":" + p.ID
}

// Deliverer decides, event by event, what one subscriber receives:
// docstore.Delivery.
type Deliverer interface {
	// DeliverShared decides e, which other subscriptions of the process
	// may be given at the same time.
	DeliverShared(ctx context.Context, e *docstore.SharedEvent) (docstore.Decision, error)
}

// Kind says what a Message is.
type Kind int

// Message kinds.
const (
	// KindEvent is an event the subscriber may receive.
	KindEvent Kind = iota + 1
	// KindGap: events after the position the subscriber resumed from have
	// left the log; what it holds may be stale (reload it). Position is
	// where the stream continues.
	KindGap
	// KindDropped: the subscriber did not keep up; the stream ends. It may
	// resume after the last event it received.
	KindDropped
	// KindShutdown: the server is shutting down; the stream ends.
	KindShutdown
	// KindEnd: the Deliverer ended the stream (End says why) after the
	// event of the previous message, if it was delivered.
	KindEnd
)

// Message is what Next returns.
type Message struct {
	Kind     Kind
	Event    eventbus.Event     // KindEvent: as the subscriber may see it
	View     *docstore.View     // KindEvent, when set: Event, shared with other subscribers (read-only)
	Position int64              // KindGap: the position the stream goes on from
	End      docstore.EndReason // KindEnd
}

// Subscription is one subscriber's stream of messages. Next and Close are
// called from the subscriber's goroutine.
type Subscription struct {
	hub   *Hub
	req   Request
	queue chan *docstore.SharedEvent // pointers: an idle subscription's queue costs 8 bytes a slot
	stop  chan struct{}              // closed when the hub ends it
	// Under hub.mu: why stop was closed; whether the queue overflowed
	// (the hub then leaves it out until it has caught up from the log),
	// and the progress the hub saw last, when.
	ended    Kind
	overflow bool
	seen     int64
	seenAt   time.Time
	// progress is last, for the hub's slowness checks.
	progress atomic.Int64

	last     int64 // the last position handled (delivered or not)
	catchTo  int64 // catching up from the log while last < catchTo
	buf      []eventbus.Event
	cur      *docstore.SharedEvent // an event read but not yet decided
	pending  []Message
	finished bool
	closed   bool
}

// wants reports whether e belongs to s's stream (internal events belong
// to none).
func (s *Subscription) wants(e eventbus.Event) bool {
	return !e.Type.Internal() && e.Collection == s.req.Collection &&
		(s.req.DocumentID == "" || e.DocumentID == "" || e.DocumentID == s.req.DocumentID)
}

// Subscribe opens a subscription. It fails with fault.TooManyRequests
// beyond the limits of r's account or address, with fault.Unavailable
// when the server is shutting down or the hub cannot read the log.
func (h *Hub) Subscribe(ctx context.Context, r Request) (*Subscription, error) {
	const op = "realtime.Subscribe"
	if r.Deliverer == nil {
		return nil, fault.Internalf(op, errors.New("no deliverer"))
	}
	t := time.NewTimer(readyWait)
	defer t.Stop()
	select {
	case <-h.ready:
	case <-ctx.Done():
		return nil, fault.New(fault.Unavailable, op, "the request was cancelled")
	case <-t.C:
		return nil, fault.New(fault.Unavailable, op, "realtime subscriptions are not available yet: the event log does not answer")
	}
	// The stream starts after the newest event committed now (or resumes
	// after r.After): events the hub has not read yet but that committed
	// before are skipped when they come. Events committed but not yet
	// numbered (PostgreSQL numbers them after commit) are numbered first,
	// so that they count as before.
	for {
		n, err := h.log.Sequence(ctx, h.batch)
		if err != nil {
			return nil, &fault.Error{Kind: fault.Unavailable, Op: op, Msg: "the event log does not answer", Err: err}
		}
		if n < h.batch {
			break
		}
	}
	trimmed, newest, err := h.log.LogBounds(ctx)
	if err != nil {
		return nil, &fault.Error{Kind: fault.Unavailable, Op: op, Msg: "the event log does not answer", Err: err}
	}
	s := &Subscription{hub: h, req: r, queue: make(chan *docstore.SharedEvent, h.queue), stop: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.draining:
		return nil, &fault.Error{Kind: fault.Unavailable, Op: op, Msg: "the server is shutting down", RetryAfter: time.Second}
	case r.Account != "" && h.accounts[r.Account] >= h.perAccount:
		return nil, &fault.Error{Kind: fault.TooManyRequests, Op: op, RetryAfter: limitRetry,
			Msg: fmt.Sprintf("at most %d realtime streams per account: close one first", h.perAccount)}
	case r.ClientIP != "" && h.ips[r.ClientIP] >= h.perIP:
		return nil, &fault.Error{Kind: fault.TooManyRequests, Op: op, RetryAfter: limitRetry,
			Msg: fmt.Sprintf("at most %d realtime streams per client address: close one first", h.perIP)}
	}
	if r.Account != "" {
		h.accounts[r.Account]++
	}
	if r.ClientIP != "" {
		h.ips[r.ClientIP]++
	}
	h.open++
	set := h.subs[r.Collection]
	if set == nil {
		set = &streams{all: make(map[*Subscription]struct{}), docs: make(map[string]map[*Subscription]struct{})}
		h.subs[r.Collection] = set
	}
	set.add(s)
	// Live events from here on are those above h.pos; the log holds the
	// ones before.
	s.last = max(h.pos, newest)
	switch {
	case !r.Resume || r.After >= s.last:
	case r.After < trimmed:
		s.pending = append(s.pending, Message{Kind: KindGap, Position: s.last})
	case r.After >= h.pos:
		// Between what the hub has read and now: the queue brings it.
		s.last = r.After
	default:
		s.last, s.catchTo = r.After, h.pos
	}
	s.progress.Store(s.last)
	return s, nil
}

// Close ends the subscription and releases its place in the limits.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	h.removeLocked(s)
	if s.req.Account != "" {
		if h.accounts[s.req.Account]--; h.accounts[s.req.Account] <= 0 {
			delete(h.accounts, s.req.Account)
		}
	}
	if s.req.ClientIP != "" {
		if h.ips[s.req.ClientIP]--; h.ips[s.req.ClientIP] <= 0 {
			delete(h.ips, s.req.ClientIP)
		}
	}
	h.open--
}

// Next returns the subscriber's next message, waiting until there is one
// or ctx ends (then ctx's error). Messages come in position order: first
// a gap or the missed events of a resumed subscription, then live events.
// After a message of kind KindDropped, KindShutdown or KindEnd the stream
// is over: Next then returns ErrEnded. An error of the Deliverer
// is returned as is; a call after an error (ctx's included) goes on where
// the failed one stopped, nothing lost.
func (s *Subscription) Next(ctx context.Context) (Message, error) {
	return s.next(ctx, true)
}

// TryNext is Next without the wait: it returns the next message if one can
// be had without waiting for a new event (ok false otherwise). It may
// still read the log, and decide the events already queued. A writer
// sends what TryNext returns together with the message Next returned, in
// one write.
func (s *Subscription) TryNext(ctx context.Context) (m Message, ok bool, err error) {
	m, err = s.next(ctx, false)
	if errors.Is(err, errWouldWait) {
		return Message{}, false, nil
	}
	return m, err == nil, err
}

// errWouldWait is what next returns, without wait, when it would wait.
var errWouldWait = errors.New("realtime: no message without waiting")

// next is Next, waiting or not.
func (s *Subscription) next(ctx context.Context, wait bool) (Message, error) {
	for {
		if s.finished {
			return Message{}, ErrEnded
		}
		if len(s.pending) > 0 {
			m := s.pending[0]
			s.pending = s.pending[1:]
			if m.Kind != KindEvent && m.Kind != KindGap {
				s.finished = true
			}
			return m, nil
		}
		if s.cur == nil {
			e, err := s.read(ctx, wait)
			if err != nil {
				return Message{}, err
			}
			if e == nil {
				continue // a message was queued in pending
			}
			s.cur = e
		}
		d, err := s.req.Deliverer.DeliverShared(ctx, s.cur)
		if err != nil {
			return Message{}, err
		}
		s.last, s.cur = max(s.last, s.cur.Event().Position), nil
		s.progress.Store(s.last)
		if d.End != "" {
			s.pending = append(s.pending, Message{Kind: KindEnd, End: d.End})
		}
		if d.Deliver {
			s.hub.delivered.Inc()
			return Message{Kind: KindEvent, Event: d.Event, View: d.View}, nil
		}
	}
}

// ErrEnded is returned by Next after the message that ended the stream.
var ErrEnded = errors.New("realtime: the subscription has ended")

// read returns the next event of the stream, from the log while catching
// up, else from the queue; nil when it queued a message that ends the
// stream instead.
func (s *Subscription) read(ctx context.Context, wait bool) (*docstore.SharedEvent, error) {
	for {
		e, again, err := s.readOnce(ctx, wait)
		if !again {
			return e, err
		}
	}
}

// readOnce is one try of read; again says to try again (the queue
// overflowed: the subscription is to catch up from the log). Without
// wait, it returns errWouldWait instead of waiting for the queue.
func (s *Subscription) readOnce(ctx context.Context, wait bool) (_ *docstore.SharedEvent, again bool, _ error) {
	for s.last < s.catchTo {
		if len(s.buf) == 0 {
			evs, err := s.hub.log.ReadEvents(ctx, s.last, s.hub.batch)
			if err != nil {
				return nil, false, err
			}
			if len(evs) == 0 {
				s.catchTo = 0 // the log has nothing more: live events follow
				break
			}
			s.buf = evs
		}
		e := s.buf[0]
		s.buf = s.buf[1:]
		if e.Position > s.catchTo {
			s.buf, s.catchTo = nil, 0 // the queue has it and what follows
			break
		}
		if !s.wants(e) {
			s.last = e.Position
			s.progress.Store(s.last)
			continue
		}
		return docstore.NewSharedEvent(e), false, nil
	}
	s.buf = nil
	for {
		// Events queued before the hub ended the subscription are still
		// delivered: a subscriber resumes after the last one it received.
		select {
		case e := <-s.queue:
			if e.Event().Position <= s.last {
				continue // read from the log already
			}
			return e, false, nil
		default:
		}
		// The queue is empty. If it overflowed, what the hub left out is
		// in the log: read it, and join the live events again once
		// caught up with the hub.
		h := s.hub
		h.mu.Lock()
		if s.overflow && s.ended == 0 {
			if s.last < h.pos {
				s.catchTo = h.pos
				h.mu.Unlock()
				return nil, true, nil
			}
			s.overflow = false
		}
		h.mu.Unlock()
		var done <-chan struct{}
		if wait {
			done = ctx.Done()
		} else {
			select {
			case <-s.stop:
			default:
				return nil, false, errWouldWait
			}
		}
		select {
		case e := <-s.queue:
			if e.Event().Position <= s.last {
				continue
			}
			return e, false, nil
		case <-s.stop:
			if len(s.queue) > 0 {
				continue
			}
			h.mu.Lock()
			why := s.ended
			h.mu.Unlock()
			s.pending = append(s.pending, Message{Kind: why})
			return nil, false, nil
		case <-done:
			return nil, false, ctx.Err()
		}
	}
}
