// Package vectortest is the conformance suite of vector.Index: every
// implementation, exact or approximate, in process or external, runs Run
// and must pass it unchanged.
package vectortest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/search/vector/vectorbench"
)

// Harness describes an implementation under test.
type Harness struct {
	// Name labels the subtests (impl=Name/…).
	Name string
	// New returns an empty index for cfg, or an error wrapping
	// vector.ErrConfig when cfg is out of range.
	New func(cfg vector.Config) (vector.Index, error)
	// Exact says that searches must equal brute force: the same ids in the
	// same order and the same distances (to float32 rounding).
	Exact bool
	// MinRecall is the least recall@10 an approximate index must reach
	// against brute force on a few thousand random vectors (ignored when
	// Exact).
	MinRecall float64
	// Cases, when not empty, runs only the cases of these names (as in
	// the subtests' names, e.g. "Only"): for a variant of an
	// implementation that differs from it in one path.
	Cases []string
}

// Run runs every case of the suite against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	cases := []struct {
		name string
		run  func(*testing.T, Harness)
	}{
		{"Config", testConfig},
		{"RefusesBadVectors", testRefuses},
		{"UpsertReplaces", testReplace},
		{"Delete", testDelete},
		{"KLargerThanLen", testKLarge},
		{"TiesInIDOrder", testTies},
		{"MatchesBruteForce", testBruteForce},
		{"Only", testOnly},
		{"OnlyFarFromQuery", testOnlyFar},
		{"Concurrent", testConcurrent},
		{"Close", testClose},
		{"Cancelled", testCancelled},
	}
	for _, c := range cases {
		if len(h.Cases) > 0 && !slices.Contains(h.Cases, c.name) {
			continue
		}
		t.Run("impl="+h.Name+"/contract=vector/"+c.name, func(t *testing.T) { c.run(t, h) })
	}
}

// Metrics lists every metric, for table-driven cases.
func Metrics() []vector.Metric { return []vector.Metric{vector.Cosine, vector.Dot, vector.L2} }

func newIndex(t *testing.T, h Harness, cfg vector.Config) vector.Index {
	t.Helper()
	idx, err := h.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	return idx
}

// RandomItems returns n items of dim Gaussian components named id0…id(n−1)
// (zero-padded so that string order is numeric order).
func RandomItems(rng *rand.Rand, n, dim int) []vector.Item {
	items := make([]vector.Item, n)
	for i := range items {
		items[i] = vector.Item{ID: ItemID(i), Vector: RandomVector(rng, dim)}
	}
	return items
}

// ItemID is the id RandomItems gives item i.
func ItemID(i int) string { return fmt.Sprintf("id%07d", i) }

// RandomVector returns dim Gaussian components.
func RandomVector(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// Distance is the contract's distance of a and b under m, computed in
// float64: 1 − cos for cosine, −a·b for dot, the Euclidean distance for l2.
func Distance(m vector.Metric, a, b []float32) float64 {
	var dot, na, nb, sq float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
		sq += (x - y) * (x - y)
	}
	switch m {
	case vector.Cosine:
		return 1 - dot/math.Sqrt(na*nb)
	case vector.Dot:
		return -dot
	default:
		return math.Sqrt(sq)
	}
}

// BruteForce returns the k items of items nearest to q under m (only those
// whose id allow admits, when allow is non-nil), nearest first, ties in id
// order, with float64 distances.
func BruteForce(m vector.Metric, items []vector.Item, q []float32, k int, allow func(string) bool) []vector.Hit {
	type hd struct {
		id string
		d  float64
	}
	all := make([]hd, 0, len(items))
	for _, it := range items {
		if allow == nil || allow(it.ID) {
			all = append(all, hd{it.ID, Distance(m, it.Vector, q)})
		}
	}
	slices.SortFunc(all, func(a, b hd) int {
		if c := cmp.Compare(a.d, b.d); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	out := make([]vector.Hit, 0, k)
	for _, x := range all[:min(k, len(all))] {
		out = append(out, vector.Hit{ID: x.id, Distance: float32(x.d)})
	}
	return out
}

// Recall is the fraction of want's ids that got holds (vectorbench.Recall).
func Recall(got, want []vector.Hit) float64 { return vectorbench.Recall(got, want) }

// tolerance is how far a float32 distance may be from the float64 one.
func tolerance(want float64) float64 {
	return 1e-4 * max(1, math.Abs(want))
}

// checkHits checks got against the brute-force answer want over items:
// for an exact index, every position holds want's distance (ids may
// differ only between distances equal to rounding); for an approximate
// one, the right count and distances. In both, every hit's distance is its
// item's true distance and hits are ordered.
func checkHits(t *testing.T, h Harness, m vector.Metric, byID map[string][]float32, q []float32, got, want []vector.Hit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d hits, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	for i, g := range got {
		v, ok := byID[g.ID]
		if !ok {
			t.Fatalf("hit %d: id %q is not an eligible item", i, g.ID)
		}
		if seen[g.ID] {
			t.Fatalf("hit %d: id %q twice", i, g.ID)
		}
		seen[g.ID] = true
		exact := Distance(m, v, q)
		if math.Abs(float64(g.Distance)-exact) > tolerance(exact) {
			t.Fatalf("hit %d (%s): distance %v, its true distance is %v", i, g.ID, g.Distance, exact)
		}
		if i > 0 {
			p := got[i-1]
			if p.Distance > g.Distance || (p.Distance == g.Distance && p.ID > g.ID) {
				t.Fatalf("hits %d and %d out of order: %+v then %+v", i-1, i, p, g)
			}
		}
		if h.Exact {
			w := want[i]
			if math.Abs(float64(g.Distance)-float64(w.Distance)) > tolerance(float64(w.Distance)) {
				t.Fatalf("hit %d: %+v, brute force has %+v", i, g, w)
			}
			if g.ID != w.ID && math.Abs(float64(got[i].Distance)-float64(w.Distance)) > 1e-5 {
				t.Fatalf("hit %d: %+v, brute force has %+v", i, g, w)
			}
		}
	}
}

func byID(items []vector.Item) map[string][]float32 {
	m := make(map[string][]float32, len(items))
	for _, it := range items {
		m[it.ID] = it.Vector
	}
	return m
}

func testConfig(t *testing.T, h Harness) {
	for _, m := range Metrics() {
		cfg := vector.Config{Dimensions: 3, Metric: m}
		idx := newIndex(t, h, cfg)
		if got := idx.Config(); got != cfg {
			t.Fatalf("Config() = %+v, want %+v", got, cfg)
		}
		if idx.Len() != 0 {
			t.Fatalf("a new index holds %d items", idx.Len())
		}
	}
	for _, bad := range []vector.Config{{Dimensions: 0, Metric: vector.L2}, {Dimensions: -1, Metric: vector.L2},
		{Dimensions: vector.MaxDimensions + 1, Metric: vector.L2}, {Dimensions: 3, Metric: "hamming"}, {Dimensions: 3}} {
		idx, err := h.New(bad)
		if !errors.Is(err, vector.ErrConfig) {
			if idx != nil {
				_ = idx.Close()
			}
			t.Fatalf("New(%+v): %v, want ErrConfig", bad, err)
		}
	}
}

func testRefuses(t *testing.T, h Harness) {
	ctx := context.Background()
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, m := range Metrics() {
		t.Run(string(m), func(t *testing.T) {
			idx := newIndex(t, h, vector.Config{Dimensions: 3, Metric: m})
			if err := idx.Upsert(ctx, []vector.Item{{ID: "a", Vector: []float32{1, 2, 3}}}); err != nil {
				t.Fatal(err)
			}
			bad := []struct {
				name string
				item vector.Item
				want error
			}{
				{"short", vector.Item{ID: "x", Vector: []float32{1, 2}}, vector.ErrDimensions},
				{"long", vector.Item{ID: "x", Vector: []float32{1, 2, 3, 4}}, vector.ErrDimensions},
				{"empty", vector.Item{ID: "x"}, vector.ErrDimensions},
				{"nan", vector.Item{ID: "x", Vector: []float32{1, nan, 3}}, vector.ErrInvalid},
				{"inf", vector.Item{ID: "x", Vector: []float32{inf, 2, 3}}, vector.ErrInvalid},
				{"-inf", vector.Item{ID: "x", Vector: []float32{1, 2, -inf}}, vector.ErrInvalid},
				{"empty id", vector.Item{ID: "", Vector: []float32{1, 2, 3}}, vector.ErrInvalid},
			}
			if m == vector.Cosine {
				bad = append(bad, struct {
					name string
					item vector.Item
					want error
				}{"zero", vector.Item{ID: "x", Vector: []float32{0, 0, 0}}, vector.ErrInvalid})
			}
			for _, b := range bad {
				// The bad item comes last: the good ones before it, a new
				// item and a replacement of "a", must not be applied.
				batch := []vector.Item{{ID: "b", Vector: []float32{4, 5, 6}}, {ID: "a", Vector: []float32{-1, 0, 1}}, b.item}
				if err := idx.Upsert(ctx, batch); !errors.Is(err, b.want) {
					t.Fatalf("%s: Upsert = %v, want %v", b.name, err, b.want)
				}
				if n := idx.Len(); n != 1 {
					t.Fatalf("%s: Len = %d after a refused batch, want 1", b.name, n)
				}
				if _, ok := idx.Vector("b"); ok {
					t.Fatalf("%s: a refused batch's item is held", b.name)
				}
				v, ok := idx.Vector("a")
				if !ok || Distance(vector.Cosine, v, []float32{1, 2, 3}) > 1e-6 {
					t.Fatalf("%s: a refused batch changed a's vector to %v", b.name, v)
				}
				if len(b.item.Vector) > 0 && b.item.ID != "" {
					if _, err := idx.Search(ctx, b.item.Vector, 1, vector.SearchOptions{}); !errors.Is(err, b.want) {
						t.Fatalf("%s: Search = %v, want %v", b.name, err, b.want)
					}
				}
			}
			if _, err := idx.Search(ctx, []float32{1, 2}, 1, vector.SearchOptions{}); !errors.Is(err, vector.ErrDimensions) {
				t.Fatalf("Search with 2 of 3 dimensions = %v, want ErrDimensions", err)
			}
		})
	}
}

func testReplace(t *testing.T, h Harness) {
	ctx := context.Background()
	for _, m := range Metrics() {
		t.Run(string(m), func(t *testing.T) {
			idx := newIndex(t, h, vector.Config{Dimensions: 2, Metric: m})
			items := []vector.Item{{ID: "a", Vector: []float32{1, 0}}, {ID: "b", Vector: []float32{0, 1}}, {ID: "c", Vector: []float32{-1, 0.1}}}
			if err := idx.Upsert(ctx, items); err != nil {
				t.Fatal(err)
			}
			hits, err := idx.Search(ctx, []float32{1, 0}, 1, vector.SearchOptions{})
			if err != nil || len(hits) != 1 || hits[0].ID != "a" {
				t.Fatalf("before: %v, %v; want a", hits, err)
			}
			// a moves away; b moves to where a was. A batch may name an id
			// twice: the later item wins.
			if err := idx.Upsert(ctx, []vector.Item{{ID: "a", Vector: []float32{3, 3}}, {ID: "a", Vector: []float32{-2, -1}},
				{ID: "b", Vector: []float32{2, 0}}}); err != nil {
				t.Fatal(err)
			}
			if idx.Len() != 3 {
				t.Fatalf("Len = %d after replacing, want 3", idx.Len())
			}
			v, ok := idx.Vector("a")
			if !ok || Distance(vector.Cosine, v, []float32{-2, -1}) > 1e-6 {
				t.Fatalf("Vector(a) = %v, %v; want the direction of (-2, -1)", v, ok)
			}
			if m != vector.Cosine && (v[0] != -2 || v[1] != -1) {
				t.Fatalf("Vector(a) = %v, want [-2 -1]", v)
			}
			hits, err = idx.Search(ctx, []float32{1, 0}, 3, vector.SearchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			all := []vector.Item{{ID: "a", Vector: []float32{-2, -1}}, {ID: "b", Vector: []float32{2, 0}}, items[2]}
			want := BruteForce(m, all, []float32{1, 0}, 3, nil)
			if len(hits) != 3 || hits[0].ID != want[0].ID || hits[2].ID != want[2].ID {
				t.Fatalf("after replacing: %v, want %v", hits, want)
			}
			checkHits(t, Harness{Exact: true}, m, byID(all), []float32{1, 0}, hits, want)
		})
	}
}

func testDelete(t *testing.T, h Harness) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	items := RandomItems(rng, 300, 8)
	for _, m := range Metrics() {
		t.Run(string(m), func(t *testing.T) {
			idx := newIndex(t, h, vector.Config{Dimensions: 8, Metric: m})
			if err := idx.Upsert(ctx, items); err != nil {
				t.Fatal(err)
			}
			var gone []string
			for i := 0; i < len(items); i += 3 {
				gone = append(gone, items[i].ID)
			}
			if err := idx.Delete(ctx, append(gone, "no-such-id", "")); err != nil {
				t.Fatal(err)
			}
			if err := idx.Delete(ctx, gone[:5]); err != nil { // again: now unknown
				t.Fatal(err)
			}
			if err := idx.Delete(ctx, nil); err != nil {
				t.Fatal(err)
			}
			var left []vector.Item
			for i, it := range items {
				if i%3 != 0 {
					left = append(left, it)
				}
			}
			if idx.Len() != len(left) {
				t.Fatalf("Len = %d, want %d", idx.Len(), len(left))
			}
			for _, id := range gone {
				if _, ok := idx.Vector(id); ok {
					t.Fatalf("Vector(%s) found after delete", id)
				}
			}
			for i := range 20 {
				q := items[i*3].Vector // a deleted item's own vector
				hits, err := idx.Search(ctx, q, 10, vector.SearchOptions{})
				if err != nil {
					t.Fatal(err)
				}
				want := BruteForce(m, left, q, 10, nil)
				checkHits(t, h, m, byID(left), q, hits, want)
			}
			// Every item can go, and come back.
			all := make([]string, len(items))
			for i, it := range items {
				all[i] = it.ID
			}
			if err := idx.Delete(ctx, all); err != nil {
				t.Fatal(err)
			}
			if hits, err := idx.Search(ctx, items[0].Vector, 5, vector.SearchOptions{}); err != nil || len(hits) != 0 || idx.Len() != 0 {
				t.Fatalf("empty index: Len %d, Search %v, %v", idx.Len(), hits, err)
			}
			if err := idx.Upsert(ctx, items[:50]); err != nil {
				t.Fatal(err)
			}
			hits, err := idx.Search(ctx, items[7].Vector, 50, vector.SearchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkHits(t, Harness{Exact: true}, m, byID(items[:50]), items[7].Vector, hits, BruteForce(m, items[:50], items[7].Vector, 50, nil))
		})
	}
}

func testKLarge(t *testing.T, h Harness) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	items := RandomItems(rng, 7, 5)
	idx := newIndex(t, h, vector.Config{Dimensions: 5, Metric: vector.L2})
	if hits, err := idx.Search(ctx, items[0].Vector, 3, vector.SearchOptions{}); err != nil || len(hits) != 0 {
		t.Fatalf("empty index: %v, %v", hits, err)
	}
	if err := idx.Upsert(ctx, items); err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{7, 8, 100} {
		hits, err := idx.Search(ctx, items[2].Vector, k, vector.SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkHits(t, Harness{Exact: true}, vector.L2, byID(items), items[2].Vector, hits, BruteForce(vector.L2, items, items[2].Vector, k, nil))
		if hits[0].ID != items[2].ID || hits[0].Distance != 0 {
			t.Fatalf("k=%d: the query's own item is not first at distance 0: %v", k, hits)
		}
	}
	for _, k := range []int{0, -1} {
		if hits, err := idx.Search(ctx, items[2].Vector, k, vector.SearchOptions{}); err != nil || len(hits) != 0 {
			t.Fatalf("k=%d: %v, %v; want nothing", k, hits, err)
		}
	}
}

func testTies(t *testing.T, h Harness) {
	ctx := context.Background()
	for _, m := range Metrics() {
		t.Run(string(m), func(t *testing.T) {
			idx := newIndex(t, h, vector.Config{Dimensions: 4, Metric: m})
			var items []vector.Item
			for _, id := range []string{"m", "c", "x", "a", "k"} { // one point, five ids
				items = append(items, vector.Item{ID: id, Vector: []float32{1, 2, 3, 4}})
			}
			items = append(items, vector.Item{ID: "far", Vector: []float32{-4, 1, -3, 0.5}}, vector.Item{ID: "b", Vector: []float32{4, 3, 2, 1}})
			if err := idx.Upsert(ctx, items); err != nil {
				t.Fatal(err)
			}
			q := []float32{1, 2, 3, 4}
			hits, err := idx.Search(ctx, q, 3, vector.SearchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, len(hits))
			for i, hh := range hits {
				ids[i] = hh.ID
			}
			// Under dot, b (4·1+3·2+2·3+1·4 = 20) is farther than the
			// five (30); under each metric the five are nearest.
			if !slices.Equal(ids, []string{"a", "c", "k"}) {
				t.Fatalf("ties: %v, want [a c k]", ids)
			}
			hits, err = idx.Search(ctx, q, 5, vector.SearchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ids = ids[:0]
			for _, hh := range hits {
				ids = append(ids, hh.ID)
			}
			if !slices.Equal(ids, []string{"a", "c", "k", "m", "x"}) {
				t.Fatalf("ties: %v, want [a c k m x]", ids)
			}
		})
	}
}

// accuracy checks searches for queries against brute force: exactly for an
// exact index, by mean recall@k for an approximate one.
func accuracy(t *testing.T, h Harness, idx vector.Index, m vector.Metric, items []vector.Item, queries [][]float32, k int, opts vector.SearchOptions) float64 {
	t.Helper()
	ctx := context.Background()
	var allow func(string) bool
	eligible := byID(items)
	if opts.Only != nil {
		set := map[string]bool{}
		for _, id := range opts.Only {
			set[id] = true
		}
		allow = func(id string) bool { return set[id] }
		for id := range eligible {
			if !set[id] {
				delete(eligible, id)
			}
		}
	}
	var sum float64
	for _, q := range queries {
		hits, err := idx.Search(ctx, q, k, opts)
		if err != nil {
			t.Fatal(err)
		}
		want := BruteForce(m, items, q, k, allow)
		checkHits(t, h, m, eligible, q, hits, want)
		sum += Recall(hits, want)
	}
	r := sum / float64(len(queries))
	if !h.Exact && r < h.MinRecall {
		t.Fatalf("recall@%d = %.3f, want ≥ %.3f", k, r, h.MinRecall)
	}
	return r
}

func testBruteForce(t *testing.T, h Harness) {
	ctx := context.Background()
	for _, m := range Metrics() {
		for _, dim := range []int{37} { // a tail after the unrolled loop
			t.Run(fmt.Sprintf("%s/dim=%d", m, dim), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(dim), 5))
				items := RandomItems(rng, 1500, dim)
				idx := newIndex(t, h, vector.Config{Dimensions: dim, Metric: m})
				// In several batches, as a collection fills.
				for i := 0; i < len(items); i += 500 {
					if err := idx.Upsert(ctx, items[i:min(i+500, len(items))]); err != nil {
						t.Fatal(err)
					}
				}
				if idx.Len() != len(items) {
					t.Fatalf("Len = %d, want %d", idx.Len(), len(items))
				}
				queries := make([][]float32, 40)
				for i := range queries {
					queries[i] = RandomVector(rng, dim)
				}
				r := accuracy(t, h, idx, m, items, queries, 10, vector.SearchOptions{})
				t.Logf("recall@10 %.3f", r)
			})
		}
	}
}

func testOnly(t *testing.T, h Harness) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	const n, dim = 2000, 16
	items := RandomItems(rng, n, dim)
	for _, m := range Metrics() {
		t.Run(string(m), func(t *testing.T) {
			idx := newIndex(t, h, vector.Config{Dimensions: dim, Metric: m})
			if err := idx.Upsert(ctx, items); err != nil {
				t.Fatal(err)
			}
			queries := make([][]float32, 20)
			for i := range queries {
				queries[i] = RandomVector(rng, dim)
			}
			lists := map[string][]string{"small": {ItemID(5), ItemID(900), ItemID(17), "unknown", ItemID(5)}}
			var half, tenth, most []string
			for i := range n {
				if i%2 == 0 {
					half = append(half, ItemID(i))
				}
				if i%10 == 3 {
					tenth = append(tenth, ItemID(i))
				}
				if i%7 != 0 {
					most = append(most, ItemID(i))
				}
			}
			lists["half"] = append(half, "unknown-1", "unknown-2")
			lists["tenth"] = tenth
			lists["most"] = most
			for name, only := range lists {
				for _, k := range []int{1, 10} {
					r := accuracy(t, h, idx, m, items, queries, k, vector.SearchOptions{Only: only})
					t.Logf("%s k=%d recall %.3f", name, k, r)
				}
			}
			for _, only := range [][]string{{}, {"unknown"}} {
				hits, err := idx.Search(ctx, queries[0], 10, vector.SearchOptions{Only: only})
				if err != nil || len(hits) != 0 {
					t.Fatalf("Only %q: %v, %v; want nothing", only, hits, err)
				}
			}
		})
	}
}

// testOnlyFar: the allowed items all lie far from the query, behind many
// nearer ones that are not allowed; a search must still return k of them.
func testOnlyFar(t *testing.T, h Harness) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(9, 10))
	const dim = 8
	idx := newIndex(t, h, vector.Config{Dimensions: dim, Metric: vector.L2})
	var items []vector.Item
	var only []string
	for i := range 2000 {
		v := RandomVector(rng, dim)
		if i%20 == 0 { // 100 allowed items, far out along the first axis
			v[0] += 40
			only = append(only, ItemID(i))
		}
		items = append(items, vector.Item{ID: ItemID(i), Vector: v})
	}
	if err := idx.Upsert(ctx, items); err != nil {
		t.Fatal(err)
	}
	for _, list := range [][]string{only, only[:12]} {
		for _, k := range []int{10, 50} {
			q := make([]float32, dim)
			hits, err := idx.Search(ctx, q, k, vector.SearchOptions{Only: list})
			if err != nil {
				t.Fatal(err)
			}
			if want := min(k, len(list)); len(hits) != want {
				t.Fatalf("Only %d far items, k=%d: %d hits, want %d", len(list), k, len(hits), want)
			}
			accuracy(t, h, idx, vector.L2, items, [][]float32{q}, k, vector.SearchOptions{Only: list})
		}
	}
}

func testConcurrent(t *testing.T, h Harness) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 12))
	const dim = 16
	items := RandomItems(rng, 1200, dim)
	idx := newIndex(t, h, vector.Config{Dimensions: dim, Metric: vector.Cosine})
	if err := idx.Upsert(ctx, items[:600]); err != nil {
		t.Fatal(err)
	}
	queries := make([][]float32, 30)
	for i := range queries {
		queries[i] = RandomVector(rng, dim)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	// Two writers: one adds the second half in small batches and removes
	// items of the first half; the other replaces vectors of the first.
	wg.Go(func() {
		for i := 600; i < 1200; i += 20 {
			if err := idx.Upsert(ctx, items[i:i+20]); err != nil {
				errs <- err
				return
			}
			if err := idx.Delete(ctx, []string{ItemID(i - 600)}); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() {
		r := rand.New(rand.NewPCG(13, 14))
		for i := range 60 {
			j := 101 + i*5 // never one the other writer deletes
			if err := idx.Upsert(ctx, []vector.Item{{ID: ItemID(j), Vector: RandomVector(r, dim)}}); err != nil {
				errs <- err
				return
			}
		}
	})
	for g := range 3 {
		wg.Go(func() {
			for i := range 40 {
				q := queries[(g*7+i)%len(queries)]
				opts := vector.SearchOptions{}
				if i%4 == 1 {
					opts.Only = []string{ItemID(700), ItemID(3), ItemID(650 + i)}
				}
				hits, err := idx.Search(ctx, q, 10, opts)
				if err != nil {
					errs <- err
					return
				}
				if len(hits) > 10 {
					errs <- fmt.Errorf("%d hits for k=10", len(hits))
					return
				}
				if opts.Only == nil && len(hits) < 10 {
					errs <- fmt.Errorf("%d hits for k=10 while ≥ 600 items are held", len(hits))
					return
				}
				for j := 1; j < len(hits); j++ {
					if hits[j-1].Distance > hits[j].Distance {
						errs <- fmt.Errorf("hits out of order: %v", hits)
						return
					}
				}
				_ = idx.Len()
				_, _ = idx.Vector(ItemID(i))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// 600 added, 30 removed (ids 0, 20, …, 580: one per 20-item batch).
	if want := 1200 - 30; idx.Len() != want {
		t.Fatalf("Len = %d, want %d", idx.Len(), want)
	}
	for i := range 30 {
		if _, ok := idx.Vector(ItemID(i * 20)); ok {
			t.Fatalf("%s held after delete", ItemID(i*20))
		}
	}
}

func testClose(t *testing.T, h Harness) {
	ctx := context.Background()
	idx, err := h.New(vector.Config{Dimensions: 2, Metric: vector.L2})
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Upsert(ctx, []vector.Item{{ID: "a", Vector: []float32{1, 2}}}); err != nil {
		t.Fatal(err)
	}
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idx.Upsert(ctx, []vector.Item{{ID: "b", Vector: []float32{1, 2}}}); !errors.Is(err, vector.ErrClosed) {
		t.Fatalf("Upsert after Close = %v", err)
	}
	if err := idx.Delete(ctx, []string{"a"}); !errors.Is(err, vector.ErrClosed) {
		t.Fatalf("Delete after Close = %v", err)
	}
	if _, err := idx.Search(ctx, []float32{1, 2}, 1, vector.SearchOptions{}); !errors.Is(err, vector.ErrClosed) {
		t.Fatalf("Search after Close = %v", err)
	}
	if _, ok := idx.Vector("a"); ok {
		t.Fatal("Vector after Close found a")
	}
	if err := idx.Close(); err != nil && !errors.Is(err, vector.ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
}

func testCancelled(t *testing.T, h Harness) {
	rng := rand.New(rand.NewPCG(15, 16))
	const dim = 32
	items := RandomItems(rng, 2500, dim)
	idx := newIndex(t, h, vector.Config{Dimensions: dim, Metric: vector.L2})
	if err := idx.Upsert(context.Background(), items[:2000]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := idx.Search(ctx, items[0].Vector, 10, vector.SearchOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Search with a cancelled context = %v", err)
	}
	only := make([]string, 1500)
	for i := range only {
		only[i] = ItemID(i)
	}
	if _, err := idx.Search(ctx, items[0].Vector, 10, vector.SearchOptions{Only: only}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Search (Only) with a cancelled context = %v", err)
	}
	// A cancelled batch is not applied.
	if err := idx.Upsert(ctx, items[2000:]); !errors.Is(err, context.Canceled) {
		t.Fatalf("Upsert with a cancelled context = %v", err)
	}
	if idx.Len() != 2000 {
		t.Fatalf("Len = %d after a cancelled Upsert, want 2000", idx.Len())
	}
	if _, ok := idx.Vector(items[2300].ID); ok {
		t.Fatal("a cancelled Upsert's item is held")
	}
	// A context cancelled while a large batch is inserted: the call ends
	// with the context's error, or completes; either way the index stays
	// usable and consistent.
	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- idx.Upsert(ctx2, items[2000:]) }()
	cancel2()
	err := <-done
	switch {
	case err == nil:
		if idx.Len() != 2500 {
			t.Fatalf("Len = %d after a completed Upsert, want 2500", idx.Len())
		}
	case errors.Is(err, context.Canceled):
		if idx.Len() != 2000 {
			t.Fatalf("Len = %d after a cancelled Upsert, want 2000", idx.Len())
		}
	default:
		t.Fatal(err)
	}
	hits, err := idx.Search(context.Background(), items[1].Vector, 10, vector.SearchOptions{})
	if err != nil || len(hits) != 10 || hits[0].ID != items[1].ID {
		t.Fatalf("after the cancelled Upsert: %v, %v", hits, err)
	}
}
