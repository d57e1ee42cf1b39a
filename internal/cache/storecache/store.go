// Package storecache is a docstore.Store whose reads of documents — by id
// and lists — are served from a cache.Cache (in process, or Redis shared by
// every process) and whose every entry is checked against the change-event
// log before it is served.
//
// # Why an entry can be trusted
//
// Every entry carries the position the process's tailer of the event log
// had reached when the database read that filled it began. Positions grow
// in commit order and are never reused, so a write that committed after
// that read began has a higher position. The tailer keeps, for every
// document and every collection, the position of its latest event (its
// floor). An entry is served only if it was read at or above the floor of
// what it holds: of its document for a get, of its collection for a list.
// Once the tailer has read a write's event, no entry read before that
// write is served again, wherever the entry lives and whatever happened to
// it: an entry restored by a Redis restart, one that survived a failed
// delete, or one a slow reader stored after the write was invalidated are
// all refused by their position. The cache holds no truth, so a flushed or
// evicted entry is only a miss.
//
// The writes of this process are known before their events are read: once
// a write commits, and before it is acknowledged, its documents (or, for a
// collection's definition, the collection) are marked pending, and are read
// from the database until the tailer reads the write's event. So a reader
// of this process never gets a document older than a write this process
// acknowledged. The process also deletes the written documents' entries,
// which makes other processes that share a Redis cache miss at once; they
// would refuse those entries anyway once their tailers read the event.
//
// Entries are trusted only while the tailer keeps up: when its last read
// that reached the end of the log began more than MaxStaleness ago (the
// database is unreachable, the process stalled), every read goes to the
// database. A process that starts, or whose tailer finds that events it
// had not read were trimmed from the log, serves only entries read after
// that point.
//
// Rules and hidden fields are not the cache's concern: it holds documents
// as the database returns them, and the document service applies the
// caller's rules and hides fields on every answer, cached or not. A list's
// entry is keyed by the query the service ran, which includes the rule's
// filter with the caller's values bound, so callers share an entry only
// when the database would answer them alike.
package storecache

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/cache"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/query"
)

// Defaults of Options.
const (
	DefaultTTL          = 10 * time.Minute
	DefaultPoll         = 250 * time.Millisecond
	DefaultMaxStaleness = time.Second
	DefaultCheck        = 30 * time.Second
	DefaultMaxFloors    = 200_000
	DefaultMaxPending   = 10_000
	DefaultReadBatch    = 1024
	DefaultTimeout      = 100 * time.Millisecond
	DefaultRecentWindow = 5 * time.Second
)

// Options configure a Store. Zero values take the defaults.
type Options struct {
	// Cache holds the entries. Required.
	Cache cache.Cache
	// Log is the database's event log, which the Store's Run follows.
	// Required.
	Log eventbus.Log
	// News tells of new events in the log (the relay's notices); without
	// it the log is polled only.
	News *eventbus.Signal
	// Prefix is put before every key (e.g. "basalt:cache:" on a Redis
	// server shared with other uses).
	Prefix string
	// TTL is how long an entry is kept (DefaultTTL).
	TTL time.Duration
	// Skip reports the collections whose documents are never cached.
	Skip func(collection string) bool
	// Poll is the longest wait between two reads of the log
	// (DefaultPoll); MaxStaleness how long after the start of the last
	// read that reached the end of the log entries are still served
	// (DefaultMaxStaleness, at least Poll).
	Poll, MaxStaleness time.Duration
	// Check is how often the tailer checks that the log still holds the
	// events it has not read (DefaultCheck).
	Check time.Duration
	// MaxFloors bounds the documents whose latest position is kept
	// (DefaultMaxFloors); beyond it all are forgotten and earlier entries
	// are no longer served. MaxPending bounds this process's writes
	// awaiting their events (DefaultMaxPending); beyond it nothing is
	// served from the cache until they drain.
	MaxFloors, MaxPending int
	// ReadBatch is the most events read from the log at once.
	ReadBatch int
	// Timeout bounds each call to the cache (DefaultTimeout): a slow or
	// unreachable cache costs a request at most this, then the database
	// answers.
	Timeout    time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Store is the caching docstore.Store. Use New, and Run it for as long as
// it is used: until Run has read the log, every read goes to the database.
type Store struct {
	docstore.Store
	cache   cache.Cache
	log     eventbus.Log
	news    *eventbus.Signal
	prefix  string
	ttl     time.Duration
	skip    func(string) bool
	poll    time.Duration
	stale   time.Duration
	check   time.Duration
	batch   int
	timeout time.Duration
	logger  *slog.Logger
	now     func() time.Time
	metrics *metrics

	mu sync.Mutex
	st *state
}

var (
	_ docstore.Store             = (*Store)(nil)
	_ docstore.IdempotencyPurger = (*Store)(nil)
)

// New returns a Store that reads through opts.Cache to next.
func New(next docstore.Store, opts Options) (*Store, error) {
	if opts.Cache == nil || opts.Log == nil {
		return nil, errors.New("storecache: Cache and Log are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.TTL, DefaultTTL)
	def(&opts.Poll, DefaultPoll)
	def(&opts.MaxStaleness, DefaultMaxStaleness)
	def(&opts.Check, DefaultCheck)
	def(&opts.Timeout, DefaultTimeout)
	if opts.MaxStaleness < opts.Poll {
		return nil, fmt.Errorf("storecache: MaxStaleness %v is shorter than Poll %v", opts.MaxStaleness, opts.Poll)
	}
	if opts.MaxFloors <= 0 {
		opts.MaxFloors = DefaultMaxFloors
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.ReadBatch <= 0 {
		opts.ReadBatch = DefaultReadBatch
	}
	if opts.Skip == nil {
		opts.Skip = func(string) bool { return false }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	return &Store{
		Store: next, cache: opts.Cache, log: opts.Log, news: opts.News, prefix: opts.Prefix,
		ttl: opts.TTL, skip: opts.Skip, poll: opts.Poll, stale: opts.MaxStaleness, check: opts.Check,
		batch: opts.ReadBatch, timeout: opts.Timeout, logger: opts.Logger, now: opts.Now, metrics: m,
		st: newState(opts.MaxFloors, opts.MaxPending, DefaultRecentWindow),
	}, nil
}

// Run follows the event log until ctx ends.
func (s *Store) Run(ctx context.Context) error { return s.tail(ctx) }

// GetDocument implements docstore.Store.
func (s *Store) GetDocument(ctx context.Context, collection, id string) (docstore.Document, error) {
	floor := func() (int64, bool) { return s.st.docFloor(collection, id) }
	docs, err := s.read(ctx, kindGet, collection, s.prefix+"d:"+docKey(collection, id), floor, func() ([]docstore.Document, error) {
		d, err := s.Store.GetDocument(ctx, collection, id)
		if err != nil {
			return nil, err
		}
		return []docstore.Document{d}, nil
	})
	if err != nil {
		return docstore.Document{}, err
	}
	if len(docs) != 1 {
		return docstore.Document{}, fmt.Errorf("storecache: an entry of %s/%s holds %d documents", collection, id, len(docs))
	}
	return docs[0], nil
}

// ListDocuments implements docstore.Store.
func (s *Store) ListDocuments(ctx context.Context, p docstore.ListParams) ([]docstore.Document, error) {
	key, err := listKey(p)
	if err != nil {
		return s.Store.ListDocuments(ctx, p) // a value the key cannot name: not cached
	}
	floor := func() (int64, bool) { return s.st.listFloor(p.Collection) }
	return s.read(ctx, kindList, p.Collection, s.prefix+"l:"+p.Collection+":"+key, floor, func() ([]docstore.Document, error) {
		return s.Store.ListDocuments(ctx, p)
	})
}

// Write implements docstore.Store. Each change event the transaction
// records is pending from the moment it is recorded: its document (or, for
// a collection's definition, its collection) is read from the database
// until the tailer reads the event, so this process never answers with a
// version older than a write it acknowledged. Events of a transaction that
// does not commit stop being pending. Once it commits, the entries of the
// written documents are deleted.
func (s *Store) Write(ctx context.Context, fn func(docstore.Tx) error) error {
	var attempt []eventbus.Event
	forget := func() {
		s.mu.Lock()
		for _, e := range attempt {
			s.st.unpend(e.ID)
		}
		s.mu.Unlock()
		attempt = nil
	}
	err := s.Store.Write(ctx, func(tx docstore.Tx) error {
		forget() // a retry: the previous attempt did not commit
		return fn(&recordingTx{Tx: tx, s: s, events: &attempt})
	})
	if err != nil {
		forget()
		return err
	}
	var keys []string
	for _, e := range attempt {
		if e.DocumentID != "" && !e.Type.Internal() {
			keys = append(keys, s.prefix+"d:"+docKey(e.Collection, e.DocumentID))
		}
	}
	if len(keys) > 0 {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		defer cancel()
		if derr := s.cache.Delete(cctx, keys...); derr != nil {
			s.metrics.errors.WithLabelValues("delete").Inc()
		}
	}
	return nil
}

// PurgeIdempotency implements docstore.IdempotencyPurger when the wrapped
// store does; otherwise it purges nothing.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	p, ok := s.Store.(docstore.IdempotencyPurger)
	if !ok {
		return 0, nil
	}
	return p.PurgeIdempotency(ctx, before)
}

// Synced reports whether entries are being served: the tailer has read
// the log to its end within MaxStaleness.
func (s *Store) Synced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.fresh(s.now(), s.stale)
}

// read serves an entry under key when its position is at or above floor,
// and otherwise loads the documents and stores them under key if nothing
// newer was seen meanwhile.
func (s *Store) read(ctx context.Context, kind, collection, key string, floor func() (int64, bool), load func() ([]docstore.Document, error)) ([]docstore.Document, error) {
	if s.skip(collection) {
		s.metrics.requests.WithLabelValues(kind, "bypass").Inc()
		return load()
	}
	s.mu.Lock()
	fresh := s.st.fresh(s.now(), s.stale)
	least, ok := floor()
	pos := s.st.pos
	s.mu.Unlock()
	if !fresh || !ok {
		s.metrics.requests.WithLabelValues(kind, "bypass").Inc()
		docs, err := load()
		if err == nil {
			s.mu.Lock()
			s.st.loaded(docs, s.now())
			s.mu.Unlock()
		}
		return docs, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	b, found, err := s.cache.Get(cctx, key)
	cancel()
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.metrics.errors.WithLabelValues("get").Inc()
	case found:
		at, docs, derr := decode(b)
		if derr == nil && at >= least {
			s.mu.Lock()
			ok := s.st.servable(docs, s.now())
			if ok {
				// Another process may have stored a version this one
				// has not read yet: later answers must not go back.
				s.st.loaded(docs, s.now())
			}
			s.mu.Unlock()
			if ok {
				s.metrics.requests.WithLabelValues(kind, "hit").Inc()
				return docs, nil
			}
		}
		s.metrics.requests.WithLabelValues(kind, "stale").Inc()
	default:
		s.metrics.requests.WithLabelValues(kind, "miss").Inc()
	}
	docs, err := load()
	if err != nil {
		return nil, err
	}
	// Store the answer only if it is still at or above its floor: an
	// event read during the load makes it old (it would be refused
	// anyway; this spares the cache).
	s.mu.Lock()
	s.st.loaded(docs, s.now())
	least, ok = floor()
	s.mu.Unlock()
	if ok && pos >= least {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		if err := s.cache.Set(sctx, key, encode(pos, docs), s.ttl); err != nil {
			s.metrics.errors.WithLabelValues("set").Inc()
		}
		cancel()
	}
	return docs, nil
}

// recordingTx marks the events a transaction records pending, and keeps
// them.
type recordingTx struct {
	docstore.Tx
	s      *Store
	events *[]eventbus.Event
}

func (t *recordingTx) AppendOutbox(ctx context.Context, e eventbus.Event) error {
	t.s.mu.Lock()
	t.s.st.pend(e)
	t.s.mu.Unlock()
	*t.events = append(*t.events, e)
	return t.Tx.AppendOutbox(ctx, e)
}

// listKey names a list query: a hash of everything the store's answer
// depends on.
func listKey(p docstore.ListParams) (string, error) {
	h := sha256.New()
	part := func(s string) { fmt.Fprintf(h, "%d:%s;", len(s), s) }
	if p.Filter != nil {
		part("f" + query.Format(p.Filter))
	} else {
		part("-")
	}
	part(query.FormatSort(p.Sort))
	part(strconv.Itoa(p.Limit))
	for _, v := range p.After {
		s, err := afterValue(v)
		if err != nil {
			return "", err
		}
		part(s)
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18]), nil
}

// afterValue writes a keyset value with its type, so that values of two
// types never name the same query.
func afterValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "n", nil
	case string:
		return "s" + x, nil
	case json.Number:
		return "j" + string(x), nil
	case bool:
		return "b" + strconv.FormatBool(x), nil
	case int64:
		return "i" + strconv.FormatInt(x, 10), nil
	case time.Time:
		return "t" + x.UTC().Format(time.RFC3339Nano), nil
	}
	return "", fmt.Errorf("storecache: keyset value of type %T", v)
}

// Request kinds and results of the metrics.
const (
	kindGet  = "get"
	kindList = "list"
)

type metrics struct {
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	lag      prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "basalt_cache_requests_total",
			Help: "Document reads through the cache, by kind (get, list) and result: hit, miss, stale (an entry older than a write the process knows of), bypass (not cached: the collection is not cached, a write of this process awaits its event, or the event log is not followed closely enough).",
		}, []string{"kind", "result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "basalt_cache_errors_total",
			Help: "Cache calls that failed (the database answered instead), by operation (get, set, delete).",
		}, []string{"operation"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "basalt_cache_invalidation_lag_seconds",
			Help:    "Time from a write's commit to its event reaching this process's cache, after which entries older than the write are refused.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}),
	}
	for _, k := range []string{kindGet, kindList} {
		for _, r := range []string{"hit", "miss", "stale", "bypass"} {
			m.requests.WithLabelValues(k, r)
		}
	}
	for _, op := range []string{"get", "set", "delete"} {
		m.errors.WithLabelValues(op)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.errors, m.lag} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// Position returns how far the tailer has read the event log.
func (s *Store) Position() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.pos
}
