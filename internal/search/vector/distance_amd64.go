package vector

import "unsafe"

// sqL2Lanes is sqL2's main loop in SSE (distance_amd64.s): out gets the
// four accumulators over the first n components, n a multiple of 8.
//
//go:noescape
func sqL2Lanes(a, b *float32, n int, out *[4]float32)

// sqL2 is the squared Euclidean distance of a and b (len(b) ≥ len(a)):
// sqL2Lanes, then the tail and the sum as sqL2Generic does them, so that
// the two give the same bits.
func sqL2(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s [4]float32
	n8 := n &^ 7
	if n8 > 0 {
		sqL2Lanes(&a[0], &b[0], n8, &s)
	}
	s0 := s[0]
	for i := n8; i < n; i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s[1]) + (s[2] + s[3])
}

// dotLanes is dot's main loop in SSE (distance_amd64.s), like sqL2Lanes.
//
//go:noescape
func dotLanes(a, b *float32, n int, out *[4]float32)

// dot is the inner product of a and b (len(b) ≥ len(a)): dotLanes, then
// the tail and the sum as dotGeneric does them (the same bits).
func dot(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s [4]float32
	n8 := n &^ 7
	if n8 > 0 {
		dotLanes(&a[0], &b[0], n8, &s)
	}
	s0 := s[0]
	for i := n8; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s[1]) + (s[2] + s[3])
}

// sqL2U8Blocks is sqL2U8's main loop in SSE2 (distance_amd64.s): the sum
// of the squared differences of the first n bytes, n a multiple of 16.
//
//go:noescape
func sqL2U8Blocks(a, b *uint8, n int) uint32

// sqL2U8 is the squared Euclidean distance of two 8-bit codes (len(b) ≥
// len(a)): sqL2U8Blocks, then the tail. Integer arithmetic: the same
// result as sqL2U8Generic.
func sqL2U8(a, b []uint8) uint32 {
	n := len(a)
	b = b[:n]
	n16 := n &^ 15
	var s uint32
	if n16 > 0 {
		s = sqL2U8Blocks(&a[0], &b[0], n16)
	}
	for i := n16; i < n; i++ {
		d := int32(a[i]) - int32(b[i])
		s += uint32(d * d)
	}
	return s
}

// prefetchRows asks the cache for the first lines (at least 1) 64-byte
// lines of each of rows in a slab of rows of stride bytes from base
// (distance_amd64.s).
//
//go:noescape
func prefetchRows(base *byte, rows *uint32, n, stride, lines int)

// prefetchLines is how much of a row prefetchCodes and prefetchVecs ask
// for: its first 8 cache lines at most (the codes of 512 dimensions, the
// float vector of 128), enough for the loads to overlap.
func prefetchLines(rowBytes int) int { return min((rowBytes+63)/64, 8) }

// prefetchCodes asks the cache for the codes of nodes, which a search is
// about to compare with the query: their loads then overlap instead of
// each waiting for the one before.
func (g *graph) prefetchCodes(nodes []uint32) {
	prefetchRows(&g.codes[0], &nodes[0], len(nodes), g.dim, prefetchLines(g.dim))
}

// prefetchVecs is prefetchCodes for the float vectors.
func (g *graph) prefetchVecs(nodes []uint32) {
	prefetchRows((*byte)(unsafe.Pointer(&g.vecs[0])), &nodes[0], len(nodes), 4*g.dim, prefetchLines(4*g.dim))
}

// prefetchLinks0 asks the cache for node n's layer-0 links.
func (g *graph) prefetchLinks0(n uint32) {
	prefetchRows((*byte)(unsafe.Pointer(&g.links0[0])), &n, 1, 4*g.m0, prefetchLines(4*g.m0))
}

// prefetchMarks asks the cache for the visited marks of nodes.
func prefetchMarks(marks []uint32, nodes []uint32) {
	prefetchRows((*byte)(unsafe.Pointer(&marks[0])), &nodes[0], len(nodes), 4, 1)
}
