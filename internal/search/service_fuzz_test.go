package search

import (
	"testing"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/search/vector"
)

// FuzzSearch sends arbitrary requests to the service over SQLite: every
// answer is a page or a fault the client caused (never Internal), and no
// hit shows the hidden field.
func FuzzSearch(f *testing.F) {
	f.Add("raft", "", "", "", "", "", "", 0, 0.5, false)
	f.Add(`"raft consensus" OR paxos -bread`, "text", `owner = "u1"`, "-n", "title", "", "auto", 5, 0.5, false)
	f.Add("raft", "hybrid", "", "", "", "", "off", 2, 0.3, true)
	f.Add("", "vector", "n > 2", "", "", "", "", 1, 0.5, true)
	f.Add("ra*ft AND (x", "text", "((", "nope", "secret", "bad-cursor", "maybe", 101, 2.0, false)
	f.Add("\"\"\"", "hybrid", "", "n", "", "", "", -1, -1.0, true)
	f.Add("-", "text", "", "", "", "", "", 3, 0.0, false)
	h := newHarness(f, "sqlite", Limits{})
	h.notes()
	h.put("notes", map[string]string{
		"a": `{"title":"raft consensus","body":"leader election","owner":"u1","secret":"s","n":1,"emb":[1,0]}`,
		"b": `{"title":"paxos made simple","body":"raft compared","owner":"u1","n":3,"emb":[0,1]}`,
		"c": `{"title":"bread","owner":"u2","n":5,"emb":[1,1]}`,
	})
	h.index("notes", "emb", 2, vector.Cosine, map[string][]float32{"a": {1, 0}, "b": {0, 1}, "c": {1, 1}})
	f.Fuzz(func(t *testing.T, q, mode, filter, sort, fields, cursor, typo string, limit int, weight float64, withVector bool) {
		r := Request{Collection: "notes", Query: q, Mode: Mode(mode), Filter: filter, Sort: sort, Fields: fields,
			Cursor: cursor, Typo: Typo(typo), Limit: limit}
		if mode == string(ModeHybrid) {
			r.Weight = &weight
		}
		if withVector {
			r.Vector = []float32{float32(weight), 1}
		}
		res, err := h.svc.Search(userCtx(t, "u1"), r)
		if err != nil {
			if k := fault.KindOf(err); k == fault.Internal {
				t.Fatalf("%+v: internal error %v", r, err)
			}
			return
		}
		for _, hit := range res.Hits {
			if hit.Document.ID == "c" {
				t.Fatalf("%+v: u2's document in the hits", r)
			}
			if _, ok := hit.Highlights["secret"]; ok || len(hit.Document.Data) > 0 && containsKey(hit.Document.Data, "secret") {
				t.Fatalf("%+v: the hidden field shows: %s %v", r, hit.Document.Data, hit.Highlights)
			}
		}
	})
}

func containsKey(data []byte, key string) bool {
	return hasPath(data, []string{key})
}
