package vector_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/search/vector/vectorbench"
	"github.com/basaltdev/basalt/internal/search/vector/vectortest"
)

// TestHNSWRecall is the fast form of the acceptance measurement (100,000
// × 128, in `make bench`'s vectors scenario): recall@10 ≥ 0.95 against
// exact search on 20,000 × 128 vectors (2,000 under the race detector),
// clustered at the default beam width, uniform at some width of the
// ladder (uniform random vectors are the hardest case: see the package
// documentation).
func TestHNSWRecall(t *testing.T) {
	n := 20_000
	if raceEnabled || testing.Short() {
		n = 2_000
	}
	for _, set := range []string{vectorbench.Uniform, vectorbench.Clustered} {
		for _, m := range []vector.Metric{vector.L2, vector.Cosine} {
			if m == vector.Cosine && (raceEnabled || set == vectorbench.Uniform) {
				continue
			}
			t.Run(set+"/"+string(m), func(t *testing.T) {
				spec := vectorbench.Spec{Set: set, N: n, Dim: 128, Seed: 1, Metric: m, K: 10, Queries: 100}
				if set == vectorbench.Uniform {
					spec.Efs, spec.StopAt = vectorbench.EfLadder(), 0.95
				}
				res, err := vectorbench.Run(context.Background(), spec)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range res.Efs {
					t.Logf("%s %s n=%d: ef %d recall@10 %.3f, %.0f q/s (flat %.0f q/s); build %v (CPU %v), %.0f B/vector",
						set, m, n, e.Ef, e.Recall, e.QPS, res.FlatQPS, res.HNSWBuild, res.HNSWBuildCPU, res.HNSWBytes)
				}
				if e, ok := res.Reaching(0.95); !ok {
					t.Fatalf("no beam width up to %d reached recall@10 0.95: %+v", res.Efs[len(res.Efs)-1].Ef, res.Efs)
				} else if set == vectorbench.Clustered && e.Ef != res.Options.EfSearch {
					t.Fatalf("recall@10 at the default ef %d: %+v", res.Options.EfSearch, res.Efs)
				}
			})
		}
	}
}

// TestHNSWChurn: recall does not decay, and tombstones do not pile up,
// after many rounds of deletes and re-inserts.
func TestHNSWChurn(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(41, 42))
	const n, dim = 2000, 16
	cfg := vector.Config{Dimensions: dim, Metric: vector.L2}
	h, err := vector.NewHNSW(cfg, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Close() }()
	items := vectortest.RandomItems(rng, n, dim)
	if err := h.Upsert(ctx, items); err != nil {
		t.Fatal(err)
	}
	queries := make([][]float32, 50)
	for i := range queries {
		queries[i] = vectortest.RandomVector(rng, dim)
	}
	for round := range 8 {
		// Delete a quarter, re-insert them with new vectors, and replace
		// another tenth in place.
		perm := rng.Perm(n)
		var gone []string
		for _, i := range perm[:n/4] {
			gone = append(gone, items[i].ID)
		}
		if err := h.Delete(ctx, gone); err != nil {
			t.Fatal(err)
		}
		var back []vector.Item
		for _, i := range perm[:n/4+n/10] {
			items[i].Vector = vectortest.RandomVector(rng, dim)
			back = append(back, items[i])
		}
		for i := 0; i < len(back); i += 50 {
			if err := h.Upsert(ctx, back[i:min(i+50, len(back))]); err != nil {
				t.Fatal(err)
			}
		}
		if h.Len() != n {
			t.Fatalf("round %d: Len %d, want %d", round, h.Len(), n)
		}
		h.WaitCompaction()
		if nodes := h.Nodes(); float64(nodes) > 1.25*float64(n)+1 {
			t.Fatalf("round %d: %d nodes for %d items: tombstones are not compacted", round, nodes, n)
		}
		var sum float64
		for _, q := range queries {
			hits, err := h.Search(ctx, q, 10, vector.SearchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sum += vectortest.Recall(hits, vectortest.BruteForce(vector.L2, items, q, 10, nil))
		}
		if r := sum / float64(len(queries)); r < 0.95 {
			t.Fatalf("round %d: recall@10 %.3f, want ≥ 0.95", round, r)
		}
	}
}
