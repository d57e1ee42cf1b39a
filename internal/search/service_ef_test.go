package search

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/basaltdev/basalt/internal/search/vector"
)

// efRecorder is a vector index that records the beam width each search
// asks for.
type efRecorder struct {
	vector.Index

	mu  sync.Mutex
	efs []int
}

func (r *efRecorder) Search(ctx context.Context, q []float32, k int, opts vector.SearchOptions) ([]vector.Hit, error) {
	r.mu.Lock()
	r.efs = append(r.efs, opts.Ef)
	r.mu.Unlock()
	return r.Index.Search(ctx, q, k, opts)
}

// TestVectorSearchKeepsTheIndexBeamWidth checks that a vector search never
// narrows an approximate index's beam below the index's default (the width
// chosen for its recall): a page of 20 hits must not search with a beam of
// 21 when HNSW's default is 64.
func TestVectorSearchKeepsTheIndexBeamWidth(t *testing.T) {
	h := newHarness(t, "sqlite", Limits{})
	h.notes()
	docs := map[string]string{}
	vecs := map[string][]float32{}
	for i := range 50 {
		id := fmt.Sprintf("n%02d", i)
		x, y := float32(i%7)+1, float32(i%5)+1
		docs[id] = fmt.Sprintf(`{"owner":"u1","emb":[%g,%g]}`, x, y)
		vecs[id] = []float32{x, y}
	}
	h.put("notes", docs)
	rec := &efRecorder{Index: h.index("notes", "emb", 2, vector.Cosine, vecs)}
	h.vecs.mu.Lock()
	h.vecs.indexes["notes/emb"] = rec
	h.vecs.mu.Unlock()

	for _, limit := range []int{1, 20, 100} {
		res := h.search(userCtx(t, "u1"), Request{Collection: "notes", Mode: ModeVector, Vector: []float32{1, 0}, Limit: limit})
		if len(res.Hits) != min(limit, 50) {
			t.Fatalf("limit %d: %d hits", limit, len(res.Hits))
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.efs) == 0 {
		t.Fatal("the index was never searched")
	}
	for _, ef := range rec.efs {
		if ef != 0 && ef < vector.DefaultEfSearch {
			t.Fatalf("a search asked for a beam of %d, narrower than the index's default %d (all: %v)", ef, vector.DefaultEfSearch, rec.efs)
		}
	}
}
