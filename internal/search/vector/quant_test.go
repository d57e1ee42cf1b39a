package vector

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCodesFollowTheRange: whatever order the vectors come in, a graph's
// codes are those of its vectors under the range of all of them, the
// codes a snapshot's load computes; a vector outside the range widens it
// and every code is recomputed.
func TestCodesFollowTheRange(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	const dim = 20
	vec := func(scale float64) []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(scale * (2*rng.Float64() - 1))
		}
		return v
	}
	h, err := NewHNSW(Config{Dimensions: dim, Metric: L2}, HNSWOptions{M: 8, EfConstruction: 32})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Close() }()
	fresh := func() []uint8 {
		g := newGraph(dim, 8, L2)
		g.vecs = h.g.vecs
		g.recode()
		return g.codes
	}
	var items []Item
	for i := range 300 {
		items = append(items, Item{ID: fmt.Sprint(i), Vector: vec(1)})
	}
	if err := h.Upsert(ctx, items); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h.g.codes, fresh()) {
		t.Fatal("codes after a batch differ from the codes of the range of all vectors")
	}
	before := slices.Clone(h.g.codes)
	if err := h.Upsert(ctx, []Item{{ID: "far", Vector: vec(40)}}); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(h.g.codes[:len(before)], before) {
		t.Fatal("a vector far outside the range left the other codes as they were")
	}
	if !slices.Equal(h.g.codes, fresh()) {
		t.Fatal("codes after the range widened differ from the codes of the range of all vectors")
	}
	if h.g.qlo > h.g.vmin || h.g.qhi < h.g.vmax {
		t.Fatalf("range [%v, %v] does not cover the components [%v, %v]", h.g.qlo, h.g.qhi, h.g.vmin, h.g.vmax)
	}
	// The nearest of the far vector is itself, at distance 0.
	hits, err := h.Search(ctx, h.g.vec(h.nodeOf["far"]), 1, SearchOptions{})
	if err != nil || len(hits) != 1 || hits[0].ID != "far" || hits[0].Distance != 0 {
		t.Fatalf("search for the far vector: %v, %v", hits, err)
	}
}

// TestGridUp: the range is rounded up, by less than 2^(1/4), onto a
// grid of a few points per doubling.
func TestGridUp(t *testing.T) {
	seen := map[float32]bool{}
	for x := float32(1); x < 2; x += 1.0 / 64 {
		g := gridUp(x)
		if g < x || g > x*1.19 {
			t.Fatalf("gridUp(%v) = %v", x, g)
		}
		seen[g] = true
	}
	if len(seen) > 5 {
		t.Fatalf("%d grid points between 1 and 2", len(seen))
	}
	if gridUp(0) != 0 || gridUp(-1) != 0 {
		t.Fatalf("gridUp(0) = %v, gridUp(-1) = %v", gridUp(0), gridUp(-1))
	}
}

// TestCodesOfExtremeComponents: components near the float32 limits on
// both sides still get codes spread over the range, and a search finds
// each vector at distance 0.
func TestCodesOfExtremeComponents(t *testing.T) {
	ctx := context.Background()
	const dim = 8
	h, err := NewHNSW(Config{Dimensions: dim, Metric: L2}, HNSWOptions{M: 8, EfConstruction: 32})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Close() }()
	rng := rand.New(rand.NewPCG(7, 8))
	var items []Item
	for i := range 100 {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32((2*rng.Float64() - 1) * 3.4e38)
		}
		items = append(items, Item{ID: fmt.Sprint(i), Vector: v})
	}
	if err := h.Upsert(ctx, items); err != nil {
		t.Fatal(err)
	}
	lo, hi := slices.Min(h.g.codes), slices.Max(h.g.codes)
	if lo > 10 || hi < 245 {
		t.Fatalf("codes span only %d to %d", lo, hi)
	}
	for _, it := range items[:10] {
		hits, err := h.Search(ctx, it.Vector, 1, SearchOptions{})
		if err != nil || len(hits) != 1 || hits[0].ID != it.ID {
			t.Fatalf("search for %s: %v, %v", it.ID, hits, err)
		}
	}
}
