package search

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/search/embed"
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

// refusingEmbedder is an embedder whose server refuses every text.
type refusingEmbedder struct{ dims int }

func (e refusingEmbedder) Name() string    { return "openai:refusing" }
func (e refusingEmbedder) Dimensions() int { return e.dims }
func (e refusingEmbedder) Embed(context.Context, []string) ([][]float32, error) {
	return nil, &embed.APIError{StatusCode: 401, Message: "Incorrect API key provided"}
}

// TestRefusedQueryEmbeddingIsUnavailable checks that an embedding server
// refusing the query text (its key or model is wrong) answers 503, not an
// internal error, and that the client does not see the server's message.
func TestRefusedQueryEmbeddingIsUnavailable(t *testing.T) {
	h := newHarness(t, "sqlite", Limits{})
	// The harness's documents accept the builtin embedder's name only: the
	// refusing server stands behind it.
	h.emb[docstore.BuiltinEmbedder] = refusingEmbedder{dims: 8}
	h.collection(docstore.CollectionSpec{Name: "docs", Schema: json.RawMessage(notesSchema),
		Rules: docstore.Rules{List: strp("")},
		Search: &docstore.Search{Vectors: map[string]docstore.VectorField{
			"sem": {Dimensions: 8, Metric: docstore.MetricCosine, Source: docstore.SourceEmbedder, From: []string{"body"}}}}})
	idx, err := vector.NewFlat(vector.Config{Dimensions: 8, Metric: vector.Cosine})
	if err != nil {
		t.Fatal(err)
	}
	h.vecs.indexes["docs/sem"] = idx
	_, err = h.svc.Search(t.Context(), Request{Collection: "docs", Query: "raft"})
	if fault.KindOf(err) != fault.Unavailable || !strings.Contains(fault.Message(err), "refused the query") ||
		strings.Contains(fault.Message(err), "API key") {
		t.Fatalf("Search = %v (%s, %q), want Unavailable saying the embedder refused, without its message", err, fault.KindOf(err), fault.Message(err))
	}
}
