package vector

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// HNSWOptions tune an HNSW index; zero fields take the defaults.
type HNSWOptions struct {
	// M is the number of links a node gets on each layer above 0 (2·M on
	// layer 0). More links raise recall and memory. Default
	// DefaultM; 4 to 128.
	M int
	// EfConstruction is the beam width while a node is linked. Wider
	// beams build a better graph, more slowly. Default
	// DefaultEfConstruction; at least M.
	EfConstruction int
	// EfSearch is the beam width of a search that does not set
	// SearchOptions.Ef (at least k is used). Default DefaultEfSearch.
	EfSearch int
	// Seed seeds the draw of the nodes' layers, so that one sequence of
	// writes builds one graph. Default 1.
	Seed uint64
}

// The defaults of HNSWOptions, chosen by measurement (see the package
// documentation): recall@10 ≥ 0.95 on 100,000 random 128-dimension
// vectors, uniform and clustered.
const (
	DefaultM              = 32
	DefaultEfConstruction = 200
	DefaultEfSearch       = 64
)

// maxM bounds HNSWOptions.M (links are counted in 16 bits).
const maxM = 128

func (o HNSWOptions) withDefaults() (HNSWOptions, error) {
	if o.M == 0 {
		o.M = DefaultM
	}
	if o.EfConstruction == 0 {
		o.EfConstruction = DefaultEfConstruction
	}
	if o.EfSearch == 0 {
		o.EfSearch = DefaultEfSearch
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	switch {
	case o.M < 4 || o.M > maxM:
		return o, fmt.Errorf("%w: HNSW M %d (want 4 to %d)", ErrConfig, o.M, maxM)
	case o.EfConstruction < o.M || o.EfConstruction > 4096:
		return o, fmt.Errorf("%w: HNSW efConstruction %d (want M to 4096)", ErrConfig, o.EfConstruction)
	case o.EfSearch < 1 || o.EfSearch > 4096:
		return o, fmt.Errorf("%w: HNSW efSearch %d (want 1 to 4096)", ErrConfig, o.EfSearch)
	}
	return o, nil
}

// compactFraction is the share of tombstones above which the graph is
// rebuilt from the live nodes; compactMin the fewest nodes it applies to.
const (
	compactFraction = 0.2
	compactMin      = 256
)

// parallelMin is the smallest batch inserted on several goroutines.
const parallelMin = 256

// HNSW is an approximate index: a Hierarchical Navigable Small World
// graph (Malkov & Yashunin, 2016/2018). Each node gets a random top layer
// (⌊−ln U · mL⌋, mL = 1/ln M); a search descends greedily from the entry
// point through the sparse upper layers and runs a beam search of width ef
// on layer 0. Links are chosen by the paper's neighbour-selection
// heuristic (Algorithm 4). Under l2 and cosine a search walks the graph
// comparing 8-bit codes of the vectors, a quarter of their size, and
// ranks the ef nodes it found by their exact distances (see quant.go).
// Searches run in parallel with each other; a
// write excludes them for its duration, and a batch of parallelMin items
// or more is linked on every core.
//
// A delete leaves a tombstone that searches pass through but never
// return; replacing a vector deletes the old node and inserts a new one.
// When tombstones exceed compactFraction of the nodes, the graph is
// rebuilt from the live ones, so that neither speed nor recall decays
// under churn. The rebuild runs in the background: the old graph keeps
// answering searches and taking writes, the writes made meanwhile are
// applied to the new graph, and the new graph takes the old one's place
// at once. One rebuild runs at a time; Close stops it.
//
// A search with SearchOptions.Only of few ids compares with exactly those
// vectors; with many, it runs a filtered beam search that passes through
// refused nodes and keeps expanding until it holds k allowed ones or has
// seen every node it can reach. Should a search ever find fewer than k
// while k eligible items exist (a part of the graph unreachable), it
// falls back to an exact scan of them: an HNSW search is never short.
type HNSW struct {
	cfg  Config
	opts HNSWOptions
	mL   float64

	mu     sync.RWMutex
	closed bool
	g      *graph
	nodeOf map[string]uint32 // live id → node
	rng    *rand.Rand
	pool   sync.Pool // *searcher

	// onlyExactBelow overrides the size under which an Only list is
	// searched exactly (tests use it to reach the filtered beam search);
	// negative means the default rule.
	onlyExactBelow int
	// workers is the most goroutines a batch is linked on.
	workers int
	// floatWalk makes searches walk the graph by the float vectors even
	// where it holds codes (benchmarks compare the two).
	floatWalk bool

	// A compaction in progress: compacting is closed when it ends,
	// cancelCompact stops it, and pending holds the writes made since it
	// began (id → prepared vector, nil for a delete).
	compacting    chan struct{}
	cancelCompact context.CancelFunc
	pending       map[string][]float32
	wg            sync.WaitGroup

	// compactGate, when set, holds a compaction until it is closed (tests
	// use it to search and write while one is under way); compactStarted
	// is told when a compaction begins.
	compactGate    <-chan struct{}
	compactStarted chan<- struct{}
}

var _ Index = (*HNSW)(nil)

// NewHNSW returns an empty HNSW index for cfg.
func NewHNSW(cfg Config, opts HNSWOptions) (*HNSW, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &HNSW{cfg: cfg, opts: opts, mL: 1 / math.Log(float64(opts.M)), nodeOf: map[string]uint32{},
		rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)), onlyExactBelow: -1, workers: runtime.GOMAXPROCS(0)}
	h.g = newGraph(cfg.Dimensions, opts.M, cfg.Metric)
	return h, nil
}

// Config returns the dimensions and metric of the index.
func (h *HNSW) Config() Config { return h.cfg }

// Options returns the index's options, defaults filled in.
func (h *HNSW) Options() HNSWOptions { return h.opts }

// Upsert adds items or replaces their vectors. A bad item changes nothing;
// neither does a batch whose ctx ends before it is linked (the call then
// returns ctx's error).
func (h *HNSW) Upsert(ctx context.Context, items []Item) error {
	if err := checkItems(h.cfg, items); err != nil {
		return err
	}
	items = dedupeLast(items)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("vector: upsert: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	g := h.g
	type replaced struct {
		id   string
		node uint32
	}
	var old []replaced
	nodes := make([]uint32, len(items))
	for i, it := range items {
		if n, ok := h.nodeOf[it.ID]; ok {
			old = append(old, replaced{it.ID, n})
			g.deleted[n] = true
		}
		n := g.add(it.ID, prepare(h.cfg.Metric, it.Vector), randomLevel(h.rng, h.mL))
		h.nodeOf[it.ID] = n
		nodes[i] = n
	}
	workers := 1
	if len(nodes) >= parallelMin {
		workers = h.workers
	}
	if err := g.insertAll(ctx, nodes, h.opts.EfConstruction, workers, &h.pool); err != nil {
		// Undo: the new nodes become tombstones (some are linked), the
		// replaced ones live again.
		for i, n := range nodes {
			g.deleted[n] = true
			delete(h.nodeOf, items[i].ID)
		}
		for _, r := range old {
			g.deleted[r.node] = false
			h.nodeOf[r.id] = r.node
		}
		h.maybeCompact()
		return fmt.Errorf("vector: upsert: %w", err)
	}
	if h.pending != nil {
		for i, n := range nodes {
			h.pending[items[i].ID] = g.vec(n)
		}
	}
	h.maybeCompact()
	return nil
}

// Delete removes ids; unknown ids are ignored.
func (h *HNSW) Delete(ctx context.Context, ids []string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("vector: delete: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	for _, id := range ids {
		if n, ok := h.nodeOf[id]; ok {
			h.g.deleted[n] = true
			delete(h.nodeOf, id)
			if h.pending != nil {
				h.pending[id] = nil
			}
		}
	}
	h.maybeCompact()
	return nil
}

// maybeCompact starts rebuilding the graph from its live nodes, in the
// background, when tombstones exceed compactFraction and no rebuild is
// under way; h.mu is held. The current graph keeps serving searches and
// taking writes meanwhile; the writes are recorded in h.pending and
// applied to the new graph before it takes the old one's place.
func (h *HNSW) maybeCompact() {
	g := h.g
	dead := g.size() - len(h.nodeOf)
	if h.closed || h.compacting != nil || g.size() < compactMin || float64(dead) <= compactFraction*float64(g.size()) {
		return
	}
	// Copy the live nodes: the graph's slabs grow under later writes.
	ids := make([]string, 0, len(h.nodeOf))
	levels := make([]uint8, 0, len(h.nodeOf))
	vecs := make([]float32, 0, len(h.nodeOf)*g.dim)
	for n := range g.size() {
		if g.deleted[n] {
			continue
		}
		ids = append(ids, g.ids[n])
		levels = append(levels, g.levels[n])
		vecs = append(vecs, g.vec(uint32(n))...)
	}
	rng := rand.New(rand.NewPCG(h.rng.Uint64(), h.rng.Uint64())) // the replayed nodes' layers
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	h.compacting, h.cancelCompact, h.pending = done, cancel, map[string][]float32{}
	h.wg.Go(func() {
		defer close(done)
		h.compact(ctx, ids, levels, vecs, rng)
	})
}

// compact links a new graph of the given nodes, applies the writes
// recorded meanwhile and puts it in place of the serving graph; it runs
// on its own goroutine, which Close stops and waits for.
func (h *HNSW) compact(ctx context.Context, ids []string, levels []uint8, vecs []float32, rng *rand.Rand) {
	if h.compactStarted != nil {
		h.compactStarted <- struct{}{}
	}
	if h.compactGate != nil {
		select {
		case <-h.compactGate:
		case <-ctx.Done():
		}
	}
	dim := h.cfg.Dimensions
	ng := newGraph(dim, h.opts.M, h.cfg.Metric)
	ng.vecs = make([]float32, 0, len(vecs))
	if ng.quant {
		ng.codes = make([]uint8, 0, len(vecs))
	}
	nodeOf := make(map[string]uint32, len(ids))
	nodes := make([]uint32, len(ids))
	for i, id := range ids {
		nodes[i] = ng.add(id, vecs[i*dim:(i+1)*dim], int(levels[i]))
		nodeOf[id] = nodes[i]
	}
	err := ng.insertAll(ctx, nodes, h.opts.EfConstruction, h.workers, &h.pool)

	// Catch up with the writes made meanwhile outside the lock while they
	// are many, so that the swap below holds searches up only briefly.
	for range catchUpRounds {
		if err != nil {
			break
		}
		h.mu.Lock()
		pending := h.pending
		if h.closed || len(pending) <= catchUpMin {
			h.mu.Unlock()
			break
		}
		h.pending = map[string][]float32{}
		h.mu.Unlock()
		err = h.replay(ctx, ng, nodeOf, pending, rng)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	pending := h.pending
	h.compacting, h.cancelCompact, h.pending = nil, nil, nil
	if err != nil || h.closed {
		// Closed, or cancelled by Close: nothing to swap. (Should a
		// rebuild ever fail otherwise, the next write tries again.)
		return
	}
	// Not cancellable: Close waits for h.mu, so ctx is still live, and
	// these writes have been acknowledged.
	if err := h.replay(context.Background(), ng, nodeOf, pending, rng); err != nil {
		return
	}
	h.g, h.nodeOf = ng, nodeOf
	// The replayed writes may have left tombstones enough for another round.
	h.maybeCompact()
}

// The catch-up of a compaction: at most catchUpRounds replays outside the
// lock, while more than catchUpMin writes are pending.
const (
	catchUpRounds = 4
	catchUpMin    = 64
)

// replay applies writes recorded during a compaction, in their final
// state (a nil vector is a delete), to the graph ng being built and its
// id map.
func (h *HNSW) replay(ctx context.Context, ng *graph, nodeOf map[string]uint32, pending map[string][]float32, rng *rand.Rand) error {
	var added []uint32
	for id, v := range pending {
		if n, ok := nodeOf[id]; ok {
			ng.deleted[n] = true
			delete(nodeOf, id)
		}
		if v != nil {
			n := ng.add(id, v, randomLevel(rng, h.mL))
			nodeOf[id] = n
			added = append(added, n)
		}
	}
	workers := 1
	if len(added) >= parallelMin {
		workers = h.workers
	}
	return ng.insertAll(ctx, added, h.opts.EfConstruction, workers, &h.pool)
}

// exactOnlyLimit is the size of an Only list under which a search
// compares with exactly its vectors: a filtered beam search that admits a
// fraction s of n nodes expands about ef/s nodes of up to 2M links each,
// so it wins only when |Only|² > ef·2M·n.
func (h *HNSW) exactOnlyLimit(ef int) int {
	if h.onlyExactBelow >= 0 {
		return h.onlyExactBelow
	}
	return int(math.Sqrt(float64(ef) * float64(h.g.m0) * float64(h.g.size())))
}

// Search returns about the k nearest items (see HNSW).
func (h *HNSW) Search(ctx context.Context, q []float32, k int, opts SearchOptions) ([]Hit, error) {
	if err := checkVector(h.cfg, q); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("vector: search: %w", err)
	}
	if h.cfg.Metric == Cosine {
		q = prepare(h.cfg.Metric, q) // a unit-length copy; l2 and dot only read q
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return nil, ErrClosed
	}
	if k < 1 || len(h.nodeOf) == 0 {
		return nil, nil
	}
	g := h.g
	ef := h.opts.EfSearch
	if opts.Ef > 0 {
		ef = min(opts.Ef, 4096)
	}
	ef = max(ef, k)

	var allowed []uint32 // with Only: the live nodes it names, once each
	accept := func(n uint32) bool { return !g.deleted[n] }
	if opts.Only != nil {
		seen := make(map[uint32]struct{}, min(len(opts.Only), len(h.nodeOf)))
		for i, id := range opts.Only {
			if i%1024 == 1023 && ctx.Err() != nil {
				return nil, fmt.Errorf("vector: search: %w", ctx.Err())
			}
			if n, ok := h.nodeOf[id]; ok {
				if _, dup := seen[n]; !dup {
					seen[n] = struct{}{}
					allowed = append(allowed, n)
				}
			}
		}
		if len(allowed) == 0 {
			return nil, nil
		}
		if len(allowed) < h.exactOnlyLimit(ef) {
			return h.exact(ctx, q, k, allowed)
		}
		mask := make([]bool, g.size())
		for _, n := range allowed {
			mask[n] = true
		}
		accept = func(n uint32) bool { return mask[n] }
	}

	s, _ := h.pool.Get().(*searcher)
	if s == nil {
		s = &searcher{}
	}
	defer h.pool.Put(s)
	ep := uint32(g.entry)
	var err error
	if g.quant && !h.floatWalk {
		// Walk by codes, then rank what the walk found by the exact
		// distances.
		s.code = g.encode(s.code[:0], q)
		cur := cand{codeDist(s.code, g.code(ep)), ep}
		for l := g.maxLevel; l > 0; l-- {
			cur = greedy(g, s, s.code, g.codes, codeDist, cur, l, false)
		}
		err = searchLayer(ctx, g, s, s.code, g.codes, codeDist, g.prefetchCodes, []cand{cur}, ef, 0, false, accept)
		s.found = append(s.found[:0], s.res.items...)
		s.res.items = s.res.items[:0]
		s.fresh = s.fresh[:0]
		for _, c := range s.found {
			s.fresh = append(s.fresh, c.n)
		}
		if len(s.fresh) > 0 {
			g.prefetchVecs(s.fresh)
		}
		for i, c := range s.found {
			s.found[i].d = g.dist(q, g.vec(c.n))
		}
		slices.SortFunc(s.found, cmpCand)
	} else {
		cur := cand{g.dist(q, g.vec(ep)), ep}
		for l := g.maxLevel; l > 0; l-- {
			cur = g.greedy(s, q, cur, l, false)
		}
		err = g.searchLayer(ctx, s, q, []cand{cur}, ef, 0, false, accept)
		s.found = s.res.sorted(s.found[:0])
	}
	if err != nil {
		return nil, fmt.Errorf("vector: search: %w", err)
	}
	found := s.found
	eligible := len(h.nodeOf)
	if allowed != nil {
		eligible = len(allowed)
	}
	if len(found) < min(k, eligible) {
		// Part of the graph was out of reach: be exact rather than short.
		if allowed == nil {
			allowed = make([]uint32, 0, len(h.nodeOf))
			for _, n := range h.nodeOf {
				allowed = append(allowed, n)
			}
		}
		return h.exact(ctx, q, k, allowed)
	}
	// Rank the k nearest and every one tied with the k-th (its public
	// distance may equal theirs: the square root rounds), so that ties
	// at the k-th place go by id.
	n := min(k, len(found))
	last := publicDist(h.cfg.Metric, found[n-1].d)
	for n < len(found) && publicDist(h.cfg.Metric, found[n].d) == last {
		n++
	}
	out := make([]Hit, n)
	for i, c := range found[:n] {
		out[i] = Hit{ID: g.ids[c.n], Distance: publicDist(h.cfg.Metric, c.d)}
	}
	sortHits(out)
	return out[:min(k, n)], nil
}

// exact returns the k nearest of nodes by comparing with each; h.mu is
// held.
func (h *HNSW) exact(ctx context.Context, q []float32, k int, nodes []uint32) ([]Hit, error) {
	g := h.g
	top := newTopK(k)
	for i, n := range nodes {
		if i%1024 == 1023 && ctx.Err() != nil {
			return nil, fmt.Errorf("vector: search: %w", ctx.Err())
		}
		d := g.dist(q, g.vec(n))
		if top.full() && d > top.bound() {
			continue
		}
		top.push(d, g.ids[n])
	}
	return top.hits(h.cfg.Metric), nil
}

// Vector returns a copy of the vector held for id.
func (h *HNSW) Vector(id string) ([]float32, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n, ok := h.nodeOf[id]
	if !ok || h.closed {
		return nil, false
	}
	return append([]float32(nil), h.g.vec(n)...), true
}

// Len returns how many items the index holds.
func (h *HNSW) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.nodeOf)
}

// Close stops a compaction in progress, waits for it, and releases the
// index; later calls fail with ErrClosed.
func (h *HNSW) Close() error {
	h.mu.Lock()
	h.closed = true
	if h.cancelCompact != nil {
		h.cancelCompact()
	}
	h.g = newGraph(h.cfg.Dimensions, h.opts.M, h.cfg.Metric)
	h.nodeOf = map[string]uint32{}
	h.mu.Unlock()
	h.wg.Wait()
	return nil
}

// items returns a copy of every live item (prepared vectors).
func (h *HNSW) items() []Item {
	h.mu.RLock()
	defer h.mu.RUnlock()
	g := h.g
	dim := g.dim
	slab := make([]float32, 0, len(h.nodeOf)*dim)
	out := make([]Item, 0, len(h.nodeOf))
	for n := range g.size() {
		if g.deleted[n] {
			continue
		}
		slab = append(slab, g.vec(uint32(n))...)
		out = append(out, Item{ID: g.ids[n], Vector: slab[len(slab)-dim : len(slab) : len(slab)]})
	}
	return out
}

// buildHNSW returns an HNSW index of items (prepared vectors, unique
// ids), linked on every core; it stops with ctx's error.
func buildHNSW(ctx context.Context, cfg Config, opts HNSWOptions, items []Item) (*HNSW, error) {
	h, err := NewHNSW(cfg, opts)
	if err != nil {
		return nil, err
	}
	g := h.g
	g.vecs = make([]float32, 0, len(items)*cfg.Dimensions)
	if g.quant {
		g.codes = make([]uint8, 0, len(items)*cfg.Dimensions)
	}
	nodes := make([]uint32, len(items))
	for i, it := range items {
		if _, dup := h.nodeOf[it.ID]; dup {
			return nil, errors.New("vector: duplicate id in a build")
		}
		nodes[i] = g.add(it.ID, it.Vector, randomLevel(h.rng, h.mL))
		h.nodeOf[it.ID] = nodes[i]
	}
	if err := g.insertAll(ctx, nodes, h.opts.EfConstruction, h.workers, &h.pool); err != nil {
		return nil, fmt.Errorf("vector: build: %w", err)
	}
	return h, nil
}
