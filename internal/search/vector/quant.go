package vector

import "math"

// An HNSW graph under the l2 and cosine metrics also holds each vector as
// an 8-bit code, one byte a component, and walks the graph comparing
// codes: a quarter of the memory traffic of the float32 vectors, which a
// search of a large graph spends most of its time waiting for. The ef
// nodes such a walk finds are then ranked by their exact distances, so
// the distances a search returns are the vectors' own. (Under cosine the
// vectors are of unit length, so the l2 order of codes is their cosine
// order. The dot metric keeps comparing floats: its order depends on
// lengths as well as directions.)
//
// One scale serves every component: code c stands for lo + c·(hi−lo)/255.
// The range [lo, hi] covers every component of every node, tombstones
// included, rounded outward to a power of 2^(1/4) so that it changes
// (and every code is recomputed) only a few times as an index grows. It
// depends only on the nodes held, so a snapshot's codes are recomputed on
// load, the same as before.

// quantizes reports whether graphs under metric m walk by codes.
func quantizes(m Metric) bool { return m == L2 || m == Cosine }

// sqL2U8Generic is the squared Euclidean distance of two codes (len(b) ≥
// len(a)); sqL2U8 is it, in SSE2 on amd64.
func sqL2U8Generic(a, b []uint8) uint32 {
	b = b[:len(a)]
	var s uint32
	for i, x := range a {
		d := int32(x) - int32(b[i])
		s += uint32(d * d)
	}
	return s
}

// codeDist is the distance a walk ranks codes by.
func codeDist(a, b []uint8) float32 { return float32(sqL2U8(a, b)) }

// gridUp rounds x ≥ 0 up to a power of 2^(1/4) (0 stays 0).
func gridUp(x float32) float32 {
	if x <= 0 {
		return 0
	}
	g := math.Exp2(math.Ceil(4*math.Log2(float64(x))) / 4)
	return max(float32(min(g, math.MaxFloat32)), x)
}

// codeRange is the range of codes for components in [lo, hi].
func codeRange(lo, hi float32) (float32, float32) {
	qlo, qhi := -gridUp(-lo), gridUp(hi)
	if qhi <= qlo {
		qhi = qlo + 1
	}
	return qlo, qhi
}

// encode appends the code of v to dst (in float64, where the range of
// any float32 components fits).
func (g *graph) encode(dst []uint8, v []float32) []uint8 {
	lo, inv := float64(g.qlo), 255/(float64(g.qhi)-float64(g.qlo))
	for _, x := range v {
		c := math.Round((float64(x) - lo) * inv)
		dst = append(dst, uint8(min(max(c, 0), 255)))
	}
	return dst
}

// code returns node n's code.
func (g *graph) code(n uint32) []uint8 {
	i := int(n) * g.dim
	return g.codes[i : i+g.dim : i+g.dim]
}

// addCode appends the code of v, a new node's vector, widening the range
// first (and recomputing every code) if v falls outside it.
func (g *graph) addCode(v []float32) {
	if !g.quant {
		return
	}
	vmin, vmax := v[0], v[0]
	for _, x := range v {
		vmin, vmax = min(vmin, x), max(vmax, x)
	}
	if len(g.codes) == 0 {
		g.vmin, g.vmax = vmin, vmax
		g.qlo, g.qhi = codeRange(vmin, vmax)
	} else if vmin < g.vmin || vmax > g.vmax {
		g.vmin, g.vmax = min(g.vmin, vmin), max(g.vmax, vmax)
		if lo, hi := codeRange(g.vmin, g.vmax); lo != g.qlo || hi != g.qhi {
			g.qlo, g.qhi = lo, hi
			g.codes = g.encode(g.codes[:0], g.vecs[:len(g.codes)])
		}
	}
	g.codes = g.encode(g.codes, v)
}

// recode computes every node's code from the vectors (after a load).
func (g *graph) recode() {
	if !g.quant || len(g.vecs) == 0 {
		return
	}
	g.vmin, g.vmax = g.vecs[0], g.vecs[0]
	for _, x := range g.vecs {
		g.vmin, g.vmax = min(g.vmin, x), max(g.vmax, x)
	}
	g.qlo, g.qhi = codeRange(g.vmin, g.vmax)
	g.codes = g.encode(make([]uint8, 0, len(g.vecs)), g.vecs)
}
