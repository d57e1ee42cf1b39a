package vector

import (
	"fmt"
	"math"
)

// dotGeneric is the inner product of a and b (len(b) ≥ len(a)), unrolled
// by 8 with four accumulators so that the loop keeps the FPU busy; dot is
// it, in SSE on amd64.
func dotGeneric(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+8 <= n; i += 8 {
		aa, bb := a[i:i+8:i+8], b[i:i+8:i+8]
		s0 += aa[0]*bb[0] + aa[4]*bb[4]
		s1 += aa[1]*bb[1] + aa[5]*bb[5]
		s2 += aa[2]*bb[2] + aa[6]*bb[6]
		s3 += aa[3]*bb[3] + aa[7]*bb[7]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// sqL2Generic is the squared Euclidean distance of a and b (len(b) ≥
// len(a)), unrolled like dot; sqL2 is it, in SSE on amd64.
func sqL2Generic(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+8 <= n; i += 8 {
		aa, bb := a[i:i+8:i+8], b[i:i+8:i+8]
		d0, d1, d2, d3 := aa[0]-bb[0], aa[1]-bb[1], aa[2]-bb[2], aa[3]-bb[3]
		d4, d5, d6, d7 := aa[4]-bb[4], aa[5]-bb[5], aa[6]-bb[6], aa[7]-bb[7]
		s0 += d0*d0 + d4*d4
		s1 += d1*d1 + d5*d5
		s2 += d2*d2 + d6*d6
		s3 += d3*d3 + d7*d7
	}
	for ; i < n; i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// internalDist is the distance an index ranks by: monotone in the
// contract's distance and cheaper (no square root for l2). Cosine vectors
// are held at unit length, so 1 − a·b is their cosine distance.
func internalDist(m Metric) func(a, b []float32) float32 {
	switch m {
	case L2:
		return sqL2
	case Dot:
		return func(a, b []float32) float32 { return -dot(a, b) }
	default:
		return func(a, b []float32) float32 { return 1 - dot(a, b) }
	}
}

// publicDist turns an internal distance into the contract's: the square
// root for l2, cosine clamped to [0, 2] against rounding.
func publicDist(m Metric, d float32) float32 {
	switch m {
	case L2:
		return float32(math.Sqrt(float64(max(d, 0))))
	case Cosine:
		return min(max(d, 0), 2)
	default:
		return d
	}
}

// checkVector reports why v cannot be held or searched with under cfg:
// ErrDimensions or ErrInvalid (wrapped), or nil.
func checkVector(cfg Config, v []float32) error {
	if len(v) != cfg.Dimensions {
		return fmt.Errorf("%w: %d dimensions, the index has %d", ErrDimensions, len(v), cfg.Dimensions)
	}
	var norm float64
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("%w: component %d is %v", ErrInvalid, i, x)
		}
		norm += float64(x) * float64(x)
	}
	if cfg.Metric == Cosine && (norm == 0 || math.IsInf(norm, 0)) {
		return fmt.Errorf("%w: a cosine vector needs a non-zero, finite length", ErrInvalid)
	}
	return nil
}

// checkItems checks every item of a batch (see Index.Upsert).
func checkItems(cfg Config, items []Item) error {
	for i, it := range items {
		if it.ID == "" {
			return fmt.Errorf("%w: item %d has an empty id", ErrInvalid, i)
		}
		if err := checkVector(cfg, it.Vector); err != nil {
			return fmt.Errorf("item %q: %w", it.ID, err)
		}
	}
	return nil
}

// prepare returns the form of v an index holds or searches with: a copy,
// scaled to unit length under cosine. v must have passed checkVector.
func prepare(m Metric, v []float32) []float32 {
	out := make([]float32, len(v))
	copy(out, v)
	if m == Cosine {
		normalize(out)
	}
	return out
}

// normalize scales v to unit length in place (computed in float64 so that
// large components do not overflow).
func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
}

// dedupeLast returns items with only the last item of each id, in the
// order of those last items (a batch's later item wins).
func dedupeLast(items []Item) []Item {
	if len(items) < 2 {
		return items
	}
	last := make(map[string]int, len(items))
	for i, it := range items {
		last[it.ID] = i
	}
	if len(last) == len(items) {
		return items
	}
	out := make([]Item, 0, len(last))
	for i, it := range items {
		if last[it.ID] == i {
			out = append(out, it)
		}
	}
	return out
}
