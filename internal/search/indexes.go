package search

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
	"github.com/basaltdev/basalt/internal/search/embed"
	"github.com/basaltdev/basalt/internal/search/searchdb"
	"github.com/basaltdev/basalt/internal/search/vector"
)

// Defaults of IndexesConfig.
const (
	DefaultSnapshotInterval = 10 * time.Minute
	DefaultIndexPoll        = time.Second
	DefaultIndexReadBatch   = 512
)

// maxPendingIDs is how many pending documents VectorState names.
const maxPendingIDs = 100

// buildPage is how many documents or stored vectors a build reads at once.
const buildPage = 500

// Catalog is what Indexes and the embedder read of collections and
// documents: docstore.Store.
type Catalog interface {
	GetCollection(ctx context.Context, name string) (docstore.Collection, error)
	ListCollections(ctx context.Context) ([]docstore.Collection, error)
	ListDocuments(ctx context.Context, p docstore.ListParams) ([]docstore.Document, error)
}

// StoredVectors is what Indexes reads of the embedders' stored vectors:
// searchdb.Store.
type StoredVectors interface {
	ListVectors(ctx context.Context, collection, field, after string, limit int) ([]searchdb.StoredVector, error)
}

// IndexesConfig configures Indexes. Log, Catalog, Stored and NewIndex are
// required.
type IndexesConfig struct {
	Log     eventbus.Log
	Catalog Catalog
	Stored  StoredVectors
	// News wakes the tail when new events may be in the log (the relay's
	// notices, which on PostgreSQL include other processes' events).
	News *eventbus.Signal
	// Poll is how often the log is read without a notice (default 1 s).
	Poll time.Duration
	// ReadBatch is how many events one read of the log returns at most.
	ReadBatch int
	// SnapshotDir is where snapshots are written and read; "" keeps none
	// (every start rebuilds).
	SnapshotDir string
	// SnapshotID names the database the snapshots are of (a value the
	// database keeps): a snapshot of another database found in
	// SnapshotDir is not loaded.
	SnapshotID string
	// SnapshotInterval is how often changed indexes are saved (default
	// 10 min); they are also saved when Run ends.
	SnapshotInterval time.Duration
	// NewIndex makes an empty index (vector.NewAuto in Basalt).
	NewIndex func(vector.Config) (vector.Index, error)
	// Embedders finds the embedder of a field (name, dimensions), whose
	// Name makes the text hashes that tell a current vector from a stale
	// one (embed.Set.Embedder); nil, or an embedder it does not find:
	// only a vector of the document's latest version is current.
	Embedders func(name string, dims int) (embed.Embedder, error)
	// LoadIndex reads an index a vector.Snapshotter wrote (vector.Load);
	// nil: snapshots hold the vectors themselves, which a load inserts
	// again.
	LoadIndex func(io.Reader) (vector.Index, error)
	// OnCollection, when set, is called (from the tail) after each
	// collection event, with the collection's name: the text index
	// builder listens to it.
	OnCollection func(name string)
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
}

// Indexes holds this process's vector index of every vector field of every
// collection, and keeps them current: at start each is loaded from its
// snapshot, or rebuilt from the database (client vectors from the
// documents, embedder vectors from the stored ones); then the event log
// is followed, so that every process on one database takes in every
// write. It implements VectorSource.
//
// One goroutine (Run) changes the indexes; searches read them at any
// time. While a field's index is (re)built, it is not served: Vectors
// fails with fault.Unavailable. Builds run in the tail: a large one delays
// the other indexes' updates by its duration.
type Indexes struct {
	cfg IndexesConfig
	log *slog.Logger

	rebuilds prometheus.Counter
	lag      prometheus.Gauge

	mu     sync.RWMutex
	loaded bool                         // the definitions were read once
	cols   map[string]map[string]*field // collection → vector field name → field

	// position is pos, for other goroutines.
	position atomic.Int64

	// Of the tail's goroutine only.
	pos      int64 // every event ≤ pos is applied to every field
	lastSave time.Time
}

// field is the index of one vector field and what the tail knows of it.
// Its maps and idx are changed under Indexes.mu by the tail only, so the
// tail reads them without the lock.
type field struct {
	collection, name string
	def              docstore.VectorField
	idx              vector.Index // nil until built
	pos              int64        // every event ≤ pos is applied to this field
	// held maps each document whose vector the index holds to the
	// version it came from.
	held map[string]int64
	// latest (embedder fields) maps each document with text to embed to
	// its latest version seen; pending those whose vector for that version
	// is not held yet.
	latest, pending map[string]int64
	// Embedder fields: texts maps each document of latest to the hash of
	// its text (TextHash), heldTexts each held vector to the hash of the
	// text it was computed from. A held vector whose text is no longer the
	// document's is dropped: a document is not found by its old text.
	// The hashes are "" when this process does not know the field's
	// embedder; a held vector is then current only at the latest version.
	texts, heldTexts map[string]string
	hasher           string // the embedder's Name, "" if unknown
	changed          bool   // since its last snapshot
}

func (f *field) embedder() bool { return f.def.Source == docstore.SourceEmbedder }

// textHash returns the hash of text under f's embedder ("" if unknown).
func (f *field) textHash(text string) string {
	if f.hasher == "" {
		return ""
	}
	return hex.EncodeToString(TextHash(f.hasher, text))
}

// current reports whether a vector computed for version v from the text
// of hash h is current for a document whose latest version is latest and
// text hash want.
func (f *field) current(v int64, h string, latest int64, want string) bool {
	if f.hasher == "" {
		return v >= latest
	}
	return h == want
}

// initEmbedder makes the maps of an embedder field and finds its
// embedder's name.
func (x *Indexes) initEmbedder(f *field) {
	f.latest, f.pending = map[string]int64{}, map[string]int64{}
	f.texts, f.heldTexts = map[string]string{}, map[string]string{}
	f.hasher = ""
	if x.cfg.Embedders != nil {
		if e, err := x.cfg.Embedders(f.def.Embedder, f.def.Dimensions); err == nil {
			f.hasher = e.Name()
		}
	}
}

func (f *field) vectorConfig() vector.Config {
	m := vector.Metric(f.def.Metric)
	if m == "" {
		m = vector.Cosine
	}
	return vector.Config{Dimensions: f.def.Dimensions, Metric: m}
}

// NewIndexes checks cfg and returns Indexes; Run starts them.
func NewIndexes(cfg IndexesConfig) (*Indexes, error) {
	const op = "search.NewIndexes"
	if cfg.Log == nil || cfg.Catalog == nil || cfg.Stored == nil || cfg.NewIndex == nil {
		return nil, fault.Internalf(op, errors.New("the event log, the catalog, the stored vectors and NewIndex are required"))
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultIndexPoll
	}
	if cfg.ReadBatch <= 0 {
		cfg.ReadBatch = DefaultIndexReadBatch
	}
	if cfg.SnapshotInterval <= 0 {
		cfg.SnapshotInterval = DefaultSnapshotInterval
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	x := &Indexes{cfg: cfg, log: log.With("component", "search indexes"), cols: map[string]map[string]*field{},
		rebuilds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "basalt_search_index_rebuilds_total",
			Help: "Vector indexes rebuilt from the database (at start without a usable snapshot, after a change of a vector field, after the event log was trimmed past this process).",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "basalt_search_index_lag_events",
			Help: "Positions of the event log this process's vector indexes have not taken in yet.",
		}),
	}
	if cfg.Registerer != nil {
		held := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "basalt_search_vectors",
			Help: "Vectors held by this process's vector indexes.",
		}, func() float64 { n, _ := x.counts(); return float64(n) })
		pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "basalt_search_vectors_pending",
			Help: "Documents whose current embedding is not yet in this process's vector indexes.",
		}, func() float64 { _, p := x.counts(); return float64(p) })
		for _, c := range []prometheus.Collector{held, pending, x.rebuilds, x.lag} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fault.Internalf(op, err)
			}
		}
	}
	return x, nil
}

var _ VectorSource = (*Indexes)(nil)

// counts returns the vectors held and the documents pending, over every
// index.
func (x *Indexes) counts() (held, pending int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, fs := range x.cols {
		for _, f := range fs {
			if f.idx != nil {
				held += f.idx.Len()
			}
			pending += len(f.pending)
		}
	}
	return held, pending
}

// Position returns the position of the event log up to which every index
// has taken in every event (0 before the first load).
func (x *Indexes) Position() int64 { return x.position.Load() }

// Vectors returns the index of field in collection and its state.
func (x *Indexes) Vectors(collection, name string) (vector.Index, VectorState, error) {
	const op = "search.Vectors"
	x.mu.RLock()
	defer x.mu.RUnlock()
	if !x.loaded {
		return nil, VectorState{}, &fault.Error{Kind: fault.Unavailable, Op: op, RetryAfter: time.Second,
			Msg: "vector search is starting: its indexes are being loaded"}
	}
	f := x.cols[collection][name]
	if f == nil {
		return nil, VectorState{}, fault.New(fault.NotFound, op, fmt.Sprintf("collection %q has no vector field %q", collection, name))
	}
	if f.idx == nil {
		return nil, VectorState{}, &fault.Error{Kind: fault.Unavailable, Op: op, RetryAfter: time.Second,
			Msg: fmt.Sprintf("the vector index of %q is being built", name)}
	}
	st := VectorState{Pending: len(f.pending)}
	if len(f.pending) > 0 {
		ids := make([]string, 0, min(len(f.pending), maxPendingIDs))
		for id := range f.pending {
			if len(ids) == maxPendingIDs {
				break
			}
			ids = append(ids, id)
		}
		slices.Sort(ids)
		st.PendingIDs = ids
	}
	return f.idx, st, nil
}

// VectorStatus is the state of one vector field's index in this process,
// for the collection's status.
type VectorStatus struct {
	// Building is true while the index is first built or rebuilt after a
	// change of the field's configuration: searches of the field are
	// refused until it is built.
	Building bool
	// Indexed counts the vectors the index holds; Pending the documents
	// whose current vector it does not hold yet (embedder fields).
	Indexed, Pending int
}

// Status returns the state of each vector field of collection, by field
// name; nil when it has none (as this process knows the collection).
func (x *Indexes) Status(collection string) map[string]VectorStatus {
	x.mu.RLock()
	defer x.mu.RUnlock()
	fs := x.cols[collection]
	if len(fs) == 0 {
		return nil
	}
	out := make(map[string]VectorStatus, len(fs))
	for name, f := range fs {
		s := VectorStatus{Building: f.idx == nil, Pending: len(f.pending)}
		if f.idx != nil {
			s.Indexed = f.idx.Len()
		}
		out[name] = s
	}
	return out
}

// Run loads or builds every index, then follows the event log until ctx
// ends; it then saves the snapshots of the indexes that changed and
// closes them. It returns nil: failures of the database are logged and
// retried.
func (x *Indexes) Run(ctx context.Context) error {
	defer x.close()
	if !x.start(ctx) {
		return nil
	}
	x.lastSave = time.Now()
	for {
		var news <-chan struct{}
		if x.cfg.News != nil {
			news = x.cfg.News.C() // before the read: a notice during it is not lost
		}
		more, err := x.tailOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			x.log.WarnContext(ctx, "following the event log failed; retrying", "err", err)
		}
		if time.Since(x.lastSave) >= x.cfg.SnapshotInterval {
			x.saveAll(ctx)
			x.lastSave = time.Now()
		}
		if more && err == nil {
			continue
		}
		t := time.NewTimer(x.cfg.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-news:
		case <-t.C:
		}
		t.Stop()
	}
}

// close saves the changed indexes and closes every index.
func (x *Indexes) close() {
	x.saveAll(context.Background())
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, fs := range x.cols {
		for _, f := range fs {
			if f.idx != nil {
				_ = f.idx.Close()
			}
		}
	}
}

// start reads the definitions and loads or builds every index, retrying
// until it succeeds or ctx ends (false).
func (x *Indexes) start(ctx context.Context) bool {
	for attempt := 1; ; attempt++ {
		err := x.loadAll(ctx)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		x.log.WarnContext(ctx, "loading the vector indexes failed; retrying", "err", err, "attempt", attempt)
		if !sleep(ctx, retryDelay(attempt)) {
			return false
		}
	}
}

// loadAll (re)reads every collection's definition and loads or builds the
// index of each vector field; the tail then starts at the oldest position
// one of them reflects.
func (x *Indexes) loadAll(ctx context.Context) error {
	_, newest, err := x.cfg.Log.LogBounds(ctx)
	if err != nil {
		return fmt.Errorf("reading the event log's bounds: %w", err)
	}
	cols, err := x.cfg.Catalog.ListCollections(ctx)
	if err != nil {
		return fmt.Errorf("listing collections: %w", err)
	}
	// The fields are known (searches wait for their index, rather than
	// finding no such field) before any is built.
	x.mu.Lock()
	old := x.cols
	x.cols = map[string]map[string]*field{}
	for _, c := range cols {
		for name, def := range c.Search.Vectors {
			x.putLocked(&field{collection: c.Name, name: name, def: def})
		}
	}
	x.loaded = true
	x.mu.Unlock()
	for _, fs := range old {
		for _, f := range fs {
			if f.idx != nil {
				_ = f.idx.Close()
			}
		}
	}
	pos := newest
	for _, c := range cols {
		for _, name := range sortedKeys(c.Search.Vectors) {
			f, err := x.open(ctx, c.Name, name, c.Search.Vectors[name])
			if fault.Is(err, fault.NotFound) {
				// Deleted since it was listed: its deletion's event,
				// after newest, follows.
				x.drop(x.cols[c.Name][name])
				continue
			}
			if err != nil {
				return err
			}
			x.install(f)
			pos = min(pos, f.pos)
		}
	}
	x.pos = pos
	x.position.Store(pos)
	return nil
}

// open returns the field's index loaded from its snapshot, or rebuilt
// when there is no usable one.
func (x *Indexes) open(ctx context.Context, collection, name string, def docstore.VectorField) (*field, error) {
	if f, err := x.loadSnapshot(ctx, collection, name, def); err == nil && f != nil {
		x.log.InfoContext(ctx, "vector index loaded from its snapshot", "collection", collection, "field", name,
			"vectors", f.idx.Len(), "position", f.pos)
		return f, nil
	} else if err != nil {
		x.log.WarnContext(ctx, "a vector index snapshot is unusable; rebuilding", "collection", collection, "field", name, "err", err)
	}
	return x.build(ctx, collection, name, def)
}

// install makes f the served index of its field, replacing (and closing)
// the one before.
func (x *Indexes) install(f *field) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if prev := x.cols[f.collection][f.name]; prev != nil && prev.idx != nil && prev.idx != f.idx {
		_ = prev.idx.Close()
	}
	x.putLocked(f)
}

func (x *Indexes) putLocked(f *field) {
	fs := x.cols[f.collection]
	if fs == nil {
		fs = map[string]*field{}
		x.cols[f.collection] = fs
	}
	fs[f.name] = f
}

// build makes the field's index from the database: it notes the log's
// newest position first, then reads the documents (and, for an embedder
// field, the stored vectors), so that every write after what it read has
// a later position and reaches the index through the tail.
func (x *Indexes) build(ctx context.Context, collection, name string, def docstore.VectorField) (*field, error) {
	started := time.Now()
	_, newest, err := x.cfg.Log.LogBounds(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the event log's bounds: %w", err)
	}
	f := &field{collection: collection, name: name, def: def, pos: newest, held: map[string]int64{}, changed: true}
	if f.embedder() {
		x.initEmbedder(f)
	}
	idx, err := x.cfg.NewIndex(f.vectorConfig())
	if err != nil {
		return nil, fmt.Errorf("making the index of %s.%s: %w", collection, name, err)
	}
	f.idx = idx
	ok := false
	defer func() {
		if !ok {
			_ = idx.Close()
		}
	}()
	sortByID := []query.SortKey{{Field: query.Field{System: query.SystemID, Type: query.TypeString}}}
	var after []any
	for {
		docs, err := x.cfg.Catalog.ListDocuments(ctx, docstore.ListParams{Collection: collection, Sort: sortByID, After: after, Limit: buildPage})
		if err != nil {
			return nil, fmt.Errorf("reading the documents of %s: %w", collection, err)
		}
		var items []vector.Item
		for _, d := range docs {
			if f.embedder() {
				if text := EmbedText(d.Data, def.From); text != "" {
					f.latest[d.ID] = d.Version
					f.texts[d.ID] = f.textHash(text)
				}
				continue
			}
			if v, ok := clientVector(d.Data, name, def.Dimensions); ok {
				items = append(items, vector.Item{ID: d.ID, Vector: v})
				f.held[d.ID] = d.Version
			}
		}
		if err := f.upsert(ctx, items); err != nil {
			return nil, err
		}
		if len(docs) < buildPage {
			break
		}
		after = []any{docs[len(docs)-1].ID}
	}
	if f.embedder() {
		var from string
		for {
			vs, err := x.cfg.Stored.ListVectors(ctx, collection, name, from, buildPage)
			if err != nil {
				return nil, fmt.Errorf("reading the stored vectors of %s.%s: %w", collection, name, err)
			}
			var items []vector.Item
			for _, v := range vs {
				latest, ok := f.latest[v.DocumentID]
				if ok && f.current(v.Version, hex.EncodeToString(v.Hash), latest, f.texts[v.DocumentID]) {
					items = append(items, vector.Item{ID: v.DocumentID, Vector: v.Vector})
					f.held[v.DocumentID] = v.Version
					f.heldTexts[v.DocumentID] = f.texts[v.DocumentID]
				}
			}
			if err := f.upsert(ctx, items); err != nil {
				return nil, err
			}
			if len(vs) < buildPage {
				break
			}
			from = vs[len(vs)-1].DocumentID
		}
		for id, v := range f.latest {
			if f.held[id] < v {
				f.pending[id] = v
			}
		}
	}
	ok = true
	x.rebuilds.Inc()
	x.log.InfoContext(ctx, "vector index built", "collection", collection, "field", name, "vectors", idx.Len(),
		"pending", len(f.pending), "position", newest, "took", time.Since(started).Round(time.Millisecond))
	return f, nil
}

// upsert adds items to the index; an item the index refuses (a vector it
// finds invalid, such as a zero vector under cosine) is left out, not
// held.
func (f *field) upsert(ctx context.Context, items []vector.Item) error {
	if len(items) == 0 {
		return nil
	}
	err := f.idx.Upsert(ctx, items)
	if err == nil || !refused(err) {
		return err
	}
	for _, it := range items { // one by one: only the refused ones stay out
		if err := f.idx.Upsert(ctx, []vector.Item{it}); err != nil {
			if !refused(err) {
				return err
			}
			delete(f.held, it.ID)
			if err := f.idx.Delete(ctx, []string{it.ID}); err != nil {
				return err
			}
		}
	}
	return nil
}

// refused reports whether an index refused a vector itself (rather than
// failed).
func refused(err error) bool {
	return errors.Is(err, vector.ErrInvalid) || errors.Is(err, vector.ErrDimensions)
}

// tailOnce applies the events after the tail's position, one read's worth,
// and reports whether more may be waiting. When the log has been trimmed
// past the position, every index is rebuilt.
func (x *Indexes) tailOnce(ctx context.Context) (more bool, err error) {
	trimmed, newest, err := x.cfg.Log.LogBounds(ctx)
	if err != nil {
		return false, fmt.Errorf("reading the event log's bounds: %w", err)
	}
	if trimmed > x.pos {
		x.log.WarnContext(ctx, "the event log was trimmed past the vector indexes' position; rebuilding them",
			"position", x.pos, "trimmed", trimmed)
		if err := x.loadAll(ctx); err != nil {
			return false, err
		}
		return true, nil
	}
	x.lag.Set(float64(max(newest-x.pos, 0)))
	evs, err := x.cfg.Log.ReadEvents(ctx, x.pos, x.cfg.ReadBatch)
	if err != nil {
		return false, fmt.Errorf("reading events after %d: %w", x.pos, err)
	}
	for _, e := range evs {
		if err := x.apply(ctx, e); err != nil {
			return false, fmt.Errorf("applying event %d (%s %s): %w", e.Position, e.Type, e.Key(), err)
		}
		x.pos = e.Position
		x.position.Store(x.pos)
	}
	if len(evs) > 0 {
		x.lag.Set(float64(max(newest-x.pos, 0)))
	}
	return len(evs) == x.cfg.ReadBatch, nil
}

// apply takes in one event. It is idempotent: a field that already
// reflects the event's position skips it.
func (x *Indexes) apply(ctx context.Context, e eventbus.Event) error {
	if e.Type.IsCollection() {
		if err := x.applyCollection(ctx, e); err != nil {
			return err
		}
		if x.cfg.OnCollection != nil {
			x.cfg.OnCollection(e.Collection)
		}
		return nil
	}
	fs := x.cols[e.Collection] // read without the lock: only this goroutine changes it
	if len(fs) == 0 {
		return nil
	}
	var doc docstore.Document
	var sv struct {
		Field  string    `json:"field"`
		Vector []float32 `json:"vector"`
	}
	switch e.Type {
	case eventbus.DocumentCreated, eventbus.DocumentReplaced, eventbus.DocumentPatched:
		if err := json.Unmarshal(e.Payload, &doc); err != nil {
			x.log.WarnContext(ctx, "a document event's payload is unreadable; skipped", "position", e.Position, "err", err)
			return nil
		}
	case eventbus.SearchVectors:
		if err := json.Unmarshal(e.Payload, &sv); err != nil {
			x.log.WarnContext(ctx, "a search.vectors payload is unreadable; skipped", "position", e.Position, "err", err)
			return nil
		}
	case eventbus.DocumentDeleted:
	default:
		return nil
	}
	for _, name := range sortedKeys(fs) {
		f := fs[name]
		if f.idx == nil || e.Position <= f.pos {
			continue
		}
		var err error
		switch e.Type {
		case eventbus.DocumentDeleted:
			err = x.remove(ctx, f, e.DocumentID)
		case eventbus.SearchVectors:
			if sv.Field == f.name && f.embedder() {
				err = x.takeVector(ctx, f, e.DocumentID, e.Version, sv.Vector)
			}
		default:
			err = x.takeDocument(ctx, f, doc)
		}
		if err != nil {
			return err
		}
		f.pos = e.Position
	}
	return nil
}

// takeDocument applies a document's new version to f.
func (x *Indexes) takeDocument(ctx context.Context, f *field, d docstore.Document) error {
	if !f.embedder() {
		v, ok := clientVector(d.Data, f.name, f.def.Dimensions)
		if !ok {
			return x.remove(ctx, f, d.ID)
		}
		x.mu.Lock()
		defer x.mu.Unlock()
		f.held[d.ID] = d.Version
		f.changed = true
		return f.upsert(ctx, []vector.Item{{ID: d.ID, Vector: v}})
	}
	text := EmbedText(d.Data, f.def.From)
	if text == "" {
		return x.remove(ctx, f, d.ID) // nothing to embed: no vector
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	want := f.textHash(text)
	f.latest[d.ID], f.texts[d.ID] = d.Version, want
	if h, ok := f.held[d.ID]; ok && !f.current(h, f.heldTexts[d.ID], d.Version, want) {
		// Its text changed: the vector of the old text goes.
		delete(f.held, d.ID)
		delete(f.heldTexts, d.ID)
		if err := f.idx.Delete(ctx, []string{d.ID}); err != nil {
			return err
		}
	}
	if h, ok := f.held[d.ID]; !ok || h < d.Version {
		f.pending[d.ID] = d.Version
	} else {
		delete(f.pending, d.ID)
	}
	f.changed = true
	return nil
}

// takeVector applies an embedder's vector for version v of document id.
// A vector of a version older than the latest one seen is not taken: the
// vector of the latest version follows.
func (x *Indexes) takeVector(ctx context.Context, f *field, id string, v int64, vec []float32) error {
	latest, ok := f.latest[id]
	if !ok || v < latest {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	f.held[id], f.heldTexts[id] = v, f.texts[id]
	delete(f.pending, id)
	f.changed = true
	return f.upsert(ctx, []vector.Item{{ID: id, Vector: vec}})
}

// remove takes document id out of f.
func (x *Indexes) remove(ctx context.Context, f *field, id string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	_, held := f.held[id]
	_, known := f.latest[id]
	if !held && !known {
		return nil
	}
	delete(f.held, id)
	delete(f.latest, id)
	delete(f.pending, id)
	delete(f.texts, id)
	delete(f.heldTexts, id)
	f.changed = true
	return f.idx.Delete(ctx, []string{id})
}

// applyCollection reads the collection's definition as it is now and
// makes its indexes match it: new vector fields are built, fields whose
// configuration changed are rebuilt, removed ones dropped.
func (x *Indexes) applyCollection(ctx context.Context, e eventbus.Event) error {
	c, err := x.cfg.Catalog.GetCollection(ctx, e.Collection)
	if fault.Is(err, fault.NotFound) {
		c, err = docstore.Collection{Name: e.Collection}, nil
	}
	if err != nil {
		return fmt.Errorf("reading collection %q: %w", e.Collection, err)
	}
	have := x.cols[c.Name]
	for name, f := range have {
		if f.idx != nil && e.Position <= f.pos {
			continue // built after this event
		}
		// A collection created or deleted starts again with no documents
		// (its deletion writes no event per document).
		_, keep := c.Search.Vectors[name]
		if !keep || e.Type != eventbus.CollectionReplaced {
			x.drop(f)
		}
	}
	have = x.cols[c.Name]
	for _, name := range sortedKeys(c.Search.Vectors) {
		def := c.Search.Vectors[name]
		// A field whose from paths or embedder changed is rebuilt too: its
		// vectors were computed from other texts, and are pending until the
		// embedder has computed them again.
		if f := have[name]; f != nil && f.idx != nil && (e.Position <= f.pos || sameField(f.def, def)) {
			continue
		}
		x.mu.Lock()
		if prev := have[name]; prev != nil && prev.idx != nil {
			_ = prev.idx.Close()
		}
		x.putLocked(&field{collection: c.Name, name: name, def: def}) // served as building
		x.mu.Unlock()
		f, err := x.build(ctx, c.Name, name, def)
		if fault.Is(err, fault.NotFound) {
			// Deleted since its definition was read: its deletion's
			// event follows.
			x.drop(x.cols[c.Name][name])
			return nil
		}
		if err != nil {
			return err
		}
		x.install(f)
	}
	return nil
}

// sameIndex reports whether an index built for a can serve b.
func sameIndex(a, b docstore.VectorField) bool {
	norm := func(s, d string) string {
		if s == "" {
			return d
		}
		return s
	}
	return a.Dimensions == b.Dimensions && norm(a.Metric, docstore.MetricCosine) == norm(b.Metric, docstore.MetricCosine) &&
		norm(a.Source, docstore.SourceClient) == norm(b.Source, docstore.SourceClient)
}

// drop removes f's index and its snapshot.
func (x *Indexes) drop(f *field) {
	x.mu.Lock()
	fs := x.cols[f.collection]
	if fs[f.name] == f {
		delete(fs, f.name)
		if len(fs) == 0 {
			delete(x.cols, f.collection)
		}
	}
	x.mu.Unlock()
	if f.idx != nil {
		_ = f.idx.Close()
	}
	x.removeSnapshot(f.collection, f.name)
}

// sortedKeys returns m's keys in order, so that work is done in the same
// order every time.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// retryDelay is the wait after the attempt-th consecutive failure: 100 ms
// doubling up to 10 s.
func retryDelay(attempt int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < attempt && d < 10*time.Second; i++ {
		d *= 2
	}
	return min(d, 10*time.Second)
}

// sleep waits d or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
