package search

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/search/vector"
)

// BenchmarkFilteredVector measures a vector search (limit 20) whose filter
// admits `selects` of 5,000 documents (32 dimensions, exact index, SQLite),
// answered with an allow-list of the admitted ids, by widening an
// unfiltered search until 20 admitted hits are found, and as the service
// chooses (auto): the crossing point of the first two is where the choice
// belongs.
//
//	go test -run '^$' -bench FilteredVector -benchtime 20x ./internal/search/
func BenchmarkFilteredVector(b *testing.B) {
	const n, dims = 5000, 32
	h := newHarness(b, "sqlite", Limits{})
	h.collection(docstore.CollectionSpec{Name: "pts", Schema: json.RawMessage(notesSchema),
		Rules:   docstore.Rules{List: strp("")},
		Indexes: []docstore.Index{{Fields: []string{"n"}}},
		Search: &docstore.Search{Vectors: map[string]docstore.VectorField{
			"emb": {Dimensions: dims, Metric: docstore.MetricCosine, Source: docstore.SourceClient}}}})
	r := rand.New(rand.NewPCG(3, 4))
	docs := map[string]string{}
	vecs := map[string][]float32{}
	for i := range n {
		id := fmt.Sprintf("p%05d", i)
		v := randomVector(r, dims)
		docs[id] = fmt.Sprintf(`{"n":%d,"emb":%s}`, r.IntN(n), vectorJSON(v))
		vecs[id] = v
	}
	h.put("pts", docs)
	h.index("pts", "emb", dims, vector.Cosine, vecs)
	q := randomVector(r, dims)
	for _, selects := range []int{20, 200, 350, 500, 700, 1000, 2500, 5000} {
		for _, way := range []struct {
			name   string
			choose func(need, n int) int
		}{{"allowList", func(int, int) int { return n }}, {"widen", func(int, int) int { return 0 }}, {"auto", nil}} {
			svc, err := New(Options{Docs: h.docs, DB: h.text, Vectors: h.vecs})
			if err != nil {
				b.Fatal(err)
			}
			svc.chooseAllowList = way.choose
			req := Request{Collection: "pts", Vector: q, Filter: fmt.Sprintf("n < %d", selects)}
			b.Run(fmt.Sprintf("selects=%d/%s", selects, way.name), func(b *testing.B) {
				ctx := adminCtx(b)
				for b.Loop() {
					if _, err := svc.Search(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
