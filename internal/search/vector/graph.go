package vector

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// graph is the layered proximity graph of Malkov & Yashunin's HNSW. Node
// numbers are dense; a node's vector, id and links live in slabs indexed by
// it. Deleted nodes stay in the graph as tombstones: searches pass through
// them but never return them, until a compaction rebuilds the graph.
type graph struct {
	dim   int
	m, m0 int // most links per node on the upper layers, on layer 0
	dist  func(a, b []float32) float32

	// quant: searches walk the graph by the nodes' 8-bit codes (see
	// quant.go), node n's in codes[n*dim : (n+1)*dim]; code c stands for
	// qlo + c·(qhi−qlo)/255, and vmin, vmax bound every component held.
	quant      bool
	codes      []uint8
	qlo, qhi   float32
	vmin, vmax float32

	vecs    []float32    // node n's vector: vecs[n*dim : (n+1)*dim]
	ids     []string     // node → id
	levels  []uint8      // node → its top layer
	links0  []uint32     // node n's layer-0 links: links0[n*m0 : n*m0+n0[n]]
	n0      []uint16     // node → number of layer-0 links
	upper   [][][]uint32 // node → layer−1 → links (nil for layer-0 nodes)
	deleted []bool

	entry    int64 // entry node, −1 when empty
	maxLevel int
	entryMu  sync.Mutex // guards entry and maxLevel during parallel insertion

	// locks guard each node's links while several goroutines insert
	// (searches under the index's read lock need none). Sized to at
	// least the node count before each insertion.
	locks []sync.Mutex
}

func newGraph(dim, m int, metric Metric) *graph {
	return &graph{dim: dim, m: m, m0: 2 * m, dist: internalDist(metric), quant: quantizes(metric), entry: -1}
}

// size is the number of nodes, tombstones included.
func (g *graph) size() int { return len(g.ids) }

func (g *graph) vec(n uint32) []float32 {
	i := int(n) * g.dim
	return g.vecs[i : i+g.dim : i+g.dim]
}

// add appends a node (not yet linked) and returns its number.
func (g *graph) add(id string, v []float32, level int) uint32 {
	n := uint32(len(g.ids))
	g.addCode(v)
	g.vecs = append(g.vecs, v...)
	g.ids = append(g.ids, id)
	g.levels = append(g.levels, uint8(level))
	g.links0 = slices.Grow(g.links0, g.m0)[:len(g.links0)+g.m0]
	g.n0 = append(g.n0, 0)
	var up [][]uint32
	if level > 0 {
		up = make([][]uint32, level)
		for l := range up {
			up[l] = make([]uint32, 0, g.m+1)
		}
	}
	g.upper = append(g.upper, up)
	g.deleted = append(g.deleted, false)
	return n
}

// reserveLocks makes sure every node has a lock; no lock may be held.
func (g *graph) reserveLocks() {
	if len(g.locks) < len(g.ids) {
		g.locks = make([]sync.Mutex, max(2*len(g.ids), 1024))
	}
}

// links returns node n's links on layer l (a view: copy it before the
// graph may change, or hold n's lock).
func (g *graph) links(n uint32, l int) []uint32 {
	if l == 0 {
		i := int(n) * g.m0
		return g.links0[i : i+int(g.n0[n])]
	}
	return g.upper[n][l-1]
}

// setLinks replaces node n's links on layer l; n's lock is held.
func (g *graph) setLinks(n uint32, l int, to []uint32) {
	if l == 0 {
		i := int(n) * g.m0
		copy(g.links0[i:i+g.m0], to)
		g.n0[n] = uint16(len(to))
		return
	}
	g.upper[n][l-1] = append(g.upper[n][l-1][:0], to...)
}

// cand is a node and its distance to the current query.
type cand struct {
	d float32
	n uint32
}

// visitSet marks the nodes a search has seen; a new generation clears it.
type visitSet struct {
	marks []uint32
	gen   uint32
}

func (v *visitSet) reset(n int) {
	if len(v.marks) < n {
		v.marks = make([]uint32, n+n/4)
		v.gen = 0
	}
	v.gen++
	if v.gen == 0 {
		clear(v.marks)
		v.gen = 1
	}
}

// visit marks n and reports whether it was unmarked.
func (v *visitSet) visit(n uint32) bool {
	if v.marks[n] == v.gen {
		return false
	}
	v.marks[n] = v.gen
	return true
}

// searcher holds one goroutine's scratch space.
type searcher struct {
	visited    visitSet
	cands, res candHeap
	buf        []uint32
	found      []cand   // a search's result, nearest first
	code       []uint8  // the query's code
	fresh      []uint32 // the links of a node that a search has not seen
}

// greedy descends layer l from ep to a local minimum of the distance to q
// (search-layer with ef = 1).
func (g *graph) greedy(s *searcher, q []float32, ep cand, l int, lock bool) cand {
	return greedy(g, s, q, g.vecs, g.dist, ep, l, lock)
}

// greedy is graph.greedy over any form of the vectors: slab holds node
// n's at [n·dim, (n+1)·dim), compared with q by dist.
func greedy[E float32 | uint8](g *graph, s *searcher, q, slab []E, dist func(a, b []E) float32, ep cand, l int, lock bool) cand {
	dim := g.dim
	for changed := true; changed; {
		changed = false
		for _, nb := range g.read(s, ep.n, l, lock) {
			i := int(nb) * dim
			if d := dist(q, slab[i:i+dim:i+dim]); d < ep.d {
				ep, changed = cand{d, nb}, true
			}
		}
	}
	return ep
}

// read returns node n's links on layer l: a copy into s.buf when lock
// says other goroutines may change them.
func (g *graph) read(s *searcher, n uint32, l int, lock bool) []uint32 {
	if !lock {
		return g.links(n, l)
	}
	g.locks[n].Lock()
	s.buf = append(s.buf[:0], g.links(n, l)...)
	g.locks[n].Unlock()
	return s.buf
}

// searchLayer is Algorithm 2 of the paper: a beam search of layer l from
// eps keeping the ef nearest nodes that accept admits (nil admits all).
// Nodes accept refuses are still traversed. While fewer than ef are
// admitted the search keeps expanding, so it ends with ef admitted nodes
// or having seen every node it can reach. The result is in s.res (a
// max-heap); drain it with s.res.sorted.
func (g *graph) searchLayer(ctx context.Context, s *searcher, q []float32, eps []cand, ef, l int, lock bool, accept func(uint32) bool) error {
	return searchLayer(ctx, g, s, q, g.vecs, g.dist, g.prefetchVecs, eps, ef, l, lock, accept)
}

// searchLayer is graph.searchLayer over any form of the vectors (see
// greedy). Before it compares the links of a node it has not seen, it
// hands them to prefetch (nil: none), so that their loads from memory
// overlap.
func searchLayer[E float32 | uint8](ctx context.Context, g *graph, s *searcher, q, vecs []E, dist func(a, b []E) float32, prefetch func([]uint32), eps []cand, ef, l int, lock bool, accept func(uint32) bool) error {
	s.visited.reset(g.size())
	s.cands.items = s.cands.items[:0]
	s.res.items = s.res.items[:0]
	for _, e := range eps {
		s.visited.visit(e.n)
		s.cands.pushMin(e)
		if accept == nil || accept(e.n) {
			s.res.pushMax(e)
		}
	}
	bound := float32(math.Inf(1))
	if len(s.res.items) > 0 {
		bound = s.res.items[0].d
	}
	// The hot loop reads the slabs through locals: no reloads of g's
	// fields between the distance calls.
	dim := g.dim
	marks, gen := s.visited.marks, s.visited.gen
	steps := 0
	for len(s.cands.items) > 0 {
		c := s.cands.popMin()
		if c.d > bound && len(s.res.items) >= ef {
			break
		}
		if steps++; steps%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		// Ask the cache for what comes next: the links of the likely next
		// node to expand and the marks of these links. Then gather the
		// links not seen yet without a branch on each mark (the marks are
		// unpredictable, so such a branch is often mispredicted).
		links := g.read(s, c.n, l, lock)
		if len(s.cands.items) > 0 && l == 0 {
			g.prefetchLinks0(s.cands.items[0].n)
		}
		if len(links) > 0 {
			prefetchMarks(marks, links)
		}
		fresh := slices.Grow(s.fresh[:0], len(links))[:len(links)]
		cnt := 0
		for _, nb := range links {
			fresh[cnt] = nb
			if marks[nb] != gen {
				cnt++
			}
			marks[nb] = gen
		}
		fresh = fresh[:cnt]
		s.fresh = fresh
		if prefetch != nil && len(fresh) > 0 {
			prefetch(fresh)
		}
		for _, nb := range fresh {
			i := int(nb) * dim
			d := dist(q, vecs[i:i+dim:i+dim])
			if len(s.res.items) < ef || d < bound {
				s.cands.pushMin(cand{d, nb})
				if accept == nil || accept(nb) {
					s.res.pushMax(cand{d, nb})
					if len(s.res.items) > ef {
						s.res.popMax()
					}
					bound = s.res.items[0].d
				}
			}
		}
	}
	return nil
}

// selectNeighbors is the heuristic of the paper's Algorithm 4 (without
// extending or keeping pruned candidates): walking the candidates nearest
// first, it keeps one only if it is nearer to the base than to every one
// already kept, so that links spread in every direction instead of
// crowding into one cluster. cands is sorted by distance to the base.
func (g *graph) selectNeighbors(cands []cand, m int, out []cand) []cand {
	out = out[:0]
	for _, c := range cands {
		if len(out) >= m {
			break
		}
		good := true
		cv := g.vec(c.n)
		for _, s := range out {
			if g.dist(cv, g.vec(s.n)) < c.d {
				good = false
				break
			}
		}
		if good {
			out = append(out, c)
		}
	}
	return out
}

// insert links node q (already added) into the graph: Algorithm 1 of the
// paper. Several goroutines may insert at once (lock = true).
func (g *graph) insert(ctx context.Context, s *searcher, q uint32, efC int) error {
	level := int(g.levels[q])
	qv := g.vec(q)

	g.entryMu.Lock()
	if g.entry < 0 {
		g.entry, g.maxLevel = int64(q), level
		g.entryMu.Unlock()
		return nil
	}
	ep, top := uint32(g.entry), g.maxLevel
	if level > top {
		// A new top layer: hold the entry point until q is linked.
		defer g.entryMu.Unlock()
	} else {
		g.entryMu.Unlock()
	}

	cur := cand{g.dist(qv, g.vec(ep)), ep}
	for l := top; l > level; l-- {
		cur = g.greedy(s, qv, cur, l, true)
	}
	eps := []cand{cur}
	var sel, found []cand
	for l := min(level, top); l >= 0; l-- {
		if err := g.searchLayer(ctx, s, qv, eps, efC, l, true, nil); err != nil {
			return err
		}
		found = s.res.sorted(found[:0])
		// On layer 0 the node takes up to its full 2·M links at once
		// (as FAISS does) rather than M left to fill up with later
		// nodes' links back.
		limit := g.m
		if l == 0 {
			limit = g.m0
		}
		sel = g.selectNeighbors(found, limit, sel)
		to := make([]uint32, len(sel))
		for i, c := range sel {
			to[i] = c.n
		}
		g.locks[q].Lock()
		g.setLinks(q, l, to)
		g.locks[q].Unlock()
		for _, c := range sel {
			g.link(c.n, q, c.d, l)
		}
		eps = append(eps[:0], found...)
	}
	if level > top {
		g.entry, g.maxLevel = int64(q), level
	}
	return nil
}

// link adds q (at distance d) to node n's links on layer l. While n has
// room, q is appended. When n is full, n's links and q are chosen among
// again by the neighbour heuristic (selectNeighbors), as hnswlib does: a
// link that a nearer one already leads to gives way, so n may keep fewer
// than limit. Keeping the nearest links instead (or letting q only take
// the farthest one's place) leaves uniform, high-dimensional data with a
// graph of markedly lower recall at the same beam width.
func (g *graph) link(n, q uint32, d float32, l int) {
	limit := g.m
	if l == 0 {
		limit = g.m0
	}
	g.locks[n].Lock()
	defer g.locks[n].Unlock()
	cur := g.links(n, l)
	if slices.Contains(cur, q) {
		return
	}
	if len(cur) < limit {
		if l == 0 {
			g.links0[int(n)*g.m0+len(cur)] = q
			g.n0[n]++
		} else {
			g.upper[n][l-1] = append(g.upper[n][l-1], q)
		}
		return
	}
	nv := g.vec(n)
	cs := make([]cand, 0, len(cur)+1)
	for _, o := range cur {
		cs = append(cs, cand{g.dist(nv, g.vec(o)), o})
	}
	cs = append(cs, cand{d, q})
	slices.SortFunc(cs, cmpCand)
	sel := g.selectNeighbors(cs, limit, cs[:0]) // in place: it writes only where it has read
	to := make([]uint32, len(sel))
	for i, c := range sel {
		to[i] = c.n
	}
	g.setLinks(n, l, to)
}

func cmpCand(a, b cand) int {
	switch {
	case a.d < b.d:
		return -1
	case a.d > b.d:
		return 1
	case a.n < b.n:
		return -1
	case a.n > b.n:
		return 1
	}
	return 0
}

// insertAll links nodes, on up to workers goroutines, with scratch space
// from pool (nil: new). It stops early when ctx is done and returns its
// error; the nodes linked so far stay linked.
func (g *graph) insertAll(ctx context.Context, nodes []uint32, efC, workers int, pool *sync.Pool) error {
	g.reserveLocks()
	if len(nodes) == 0 {
		return nil
	}
	get := func() *searcher {
		if pool != nil {
			if s, ok := pool.Get().(*searcher); ok {
				return s
			}
		}
		return &searcher{}
	}
	put := func(s *searcher) {
		if pool != nil {
			pool.Put(s)
		}
	}
	if g.entry < 0 {
		// The first node becomes the entry point on its own.
		s := get()
		err := g.insert(ctx, s, nodes[0], efC)
		put(s)
		if err != nil {
			return err
		}
		nodes = nodes[1:]
	}
	workers = max(1, min(workers, runtime.GOMAXPROCS(0), len(nodes)/64))
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	work := func() {
		s := get()
		defer put(s)
		for {
			i := next.Add(1) - 1
			if i >= int64(len(nodes)) || firstErr.Load() != nil {
				return
			}
			if err := g.insert(ctx, s, nodes[i], efC); err != nil {
				firstErr.CompareAndSwap(nil, &err)
				return
			}
		}
	}
	if workers == 1 {
		work()
	} else {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(work)
		}
		wg.Wait()
	}
	if p := firstErr.Load(); p != nil {
		return *p
	}
	return nil
}

// randomLevel draws a node's top layer: ⌊−ln(U)·mL⌋, capped.
func randomLevel(rng *rand.Rand, mL float64) int {
	u := 1 - rng.Float64() // (0, 1]
	return min(int(-math.Log(u)*mL), 30)
}

// candHeap is a binary heap of candidates, used either as a min-heap
// (pushMin/popMin) or as a max-heap (pushMax/popMax), never both.
type candHeap struct{ items []cand }

func (h *candHeap) pushMin(c cand) {
	h.items = append(h.items, c)
	a := h.items
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].d <= a[i].d {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *candHeap) popMin() cand {
	a := h.items
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(a) {
			break
		}
		m := l
		if r := l + 1; r < len(a) && a[r].d < a[l].d {
			m = r
		}
		if a[i].d <= a[m].d {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	h.items = a
	return top
}

func (h *candHeap) pushMax(c cand) {
	h.items = append(h.items, c)
	a := h.items
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].d >= a[i].d {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *candHeap) popMax() cand {
	a := h.items
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(a) {
			break
		}
		m := l
		if r := l + 1; r < len(a) && a[r].d > a[l].d {
			m = r
		}
		if a[i].d >= a[m].d {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	h.items = a
	return top
}

// sorted appends the heap's candidates to out nearest first and empties
// the heap.
func (h *candHeap) sorted(out []cand) []cand {
	out = append(out, h.items...)
	h.items = h.items[:0]
	slices.SortFunc(out, cmpCand)
	return out
}
