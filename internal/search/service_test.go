package search

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/search/embed"
	"github.com/basaltdev/basalt/internal/search/searchdb"
	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/storage/postgres"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// harness is a search service over the real document service and the
// real search store of one engine (SQLite or PostgreSQL), with flat vector
// indexes the test fills.
type harness struct {
	t      testing.TB
	engine string
	store  docstore.Store
	docs   *docstore.Service
	text   *recordingDB
	vecs   *fakeVectors
	svc    *Service
	emb    map[string]embed.Embedder
}

// engineStore is what the tests need of an engine.
type engineStore interface {
	docstore.Store
	searchdb.Store
}

// forEngines runs fn as a subtest on SQLite and on PostgreSQL (which must
// be there).
func forEngines(t *testing.T, fn func(t *testing.T, engine string)) {
	for _, e := range []string{"sqlite", "postgres"} {
		t.Run("engine="+e, func(t *testing.T) { fn(t, e) })
	}
}

func openEngine(t testing.TB, engine string) engineStore {
	t.Helper()
	switch engine {
	case "sqlite":
		st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db"), Synchronous: "normal"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	case "postgres":
		st, err := postgres.Open(t.Context(), postgres.Options{URL: pgtest.URL(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	t.Fatalf("no engine %q", engine)
	return nil
}

func newHarness(t testing.TB, engine string, limits Limits) *harness {
	t.Helper()
	store := openEngine(t, engine)
	docs, err := docstore.NewService(store, docstore.Options{CursorKey: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, engine: engine, store: store, docs: docs, text: &recordingDB{Store: store},
		vecs: &fakeVectors{indexes: map[string]vector.Index{}, states: map[string]VectorState{}}, emb: map[string]embed.Embedder{}}
	h.svc, err = New(Options{Docs: docs, DB: h.text, Vectors: h.vecs, Limits: limits,
		Embedders: func(name string, _ int) (embed.Embedder, error) {
			if e, ok := h.emb[name]; ok {
				return e, nil
			}
			return nil, embed.ErrUnknown
		}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func adminCtx(t testing.TB) context.Context {
	return auth.WithPrincipal(t.Context(), auth.Principal{Kind: auth.KindUser, ID: "admin-1", Roles: []string{auth.RoleAdmin}})
}

func userCtx(t testing.TB, id string) context.Context {
	return auth.WithPrincipal(t.Context(), auth.Principal{Kind: auth.KindUser, ID: id})
}

func (h *harness) collection(spec docstore.CollectionSpec) {
	h.t.Helper()
	if _, err := h.docs.CreateCollection(adminCtx(h.t), spec); err != nil {
		h.t.Fatal(err)
	}
}

// put writes documents (id → data as JSON) in batches.
func (h *harness) put(coll string, docs map[string]string) {
	h.t.Helper()
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range docs {
			if !yield(id) {
				return
			}
		}
	})
	for len(ids) > 0 {
		n := min(len(ids), 100)
		var ops []docstore.BatchOp
		for _, id := range ids[:n] {
			dec := json.NewDecoder(strings.NewReader(docs[id]))
			dec.UseNumber()
			var data docstore.Data
			if err := dec.Decode(&data); err != nil {
				h.t.Fatal(err)
			}
			ops = append(ops, docstore.BatchOp{Op: docstore.OpCreate, Collection: coll, ID: id, Data: data})
		}
		if _, err := h.docs.Batch(adminCtx(h.t), ops, ""); err != nil {
			h.t.Fatal(err)
		}
		ids = ids[n:]
	}
}

// index fills the flat index of coll/field from the client vectors of
// the documents' data.
func (h *harness) index(coll, field string, dims int, metric vector.Metric, vecs map[string][]float32) vector.Index {
	h.t.Helper()
	idx, err := vector.NewFlat(vector.Config{Dimensions: dims, Metric: metric})
	if err != nil {
		h.t.Fatal(err)
	}
	var items []vector.Item
	for id, v := range vecs {
		items = append(items, vector.Item{ID: id, Vector: v})
	}
	if err := idx.Upsert(h.t.Context(), items); err != nil {
		h.t.Fatal(err)
	}
	h.vecs.mu.Lock()
	h.vecs.indexes[coll+"/"+field] = idx
	h.vecs.mu.Unlock()
	return idx
}

func (h *harness) search(ctx context.Context, r Request) Result {
	h.t.Helper()
	res, err := h.svc.Search(ctx, r)
	if err != nil {
		h.t.Fatalf("Search(%+v): %v", r, err)
	}
	return res
}

func (h *harness) fails(ctx context.Context, r Request, kind fault.Kind, msg string) {
	h.t.Helper()
	_, err := h.svc.Search(ctx, r)
	if fault.KindOf(err) != kind || !strings.Contains(fault.Message(err), msg) {
		h.t.Fatalf("Search(%+v) = %v (%s), want %s containing %q", r, err, fault.KindOf(err), kind, msg)
	}
}

func ids(res Result) []string {
	out := make([]string, len(res.Hits))
	for i, h := range res.Hits {
		out[i] = h.Document.ID
	}
	return out
}

const notesSchema = `{"type":"object","properties":{"title":{"type":"string"},"body":{"type":"string"},` +
	`"owner":{"type":"string"},"secret":{"type":"string"},"n":{"type":"integer"},` +
	`"emb":{"type":"array","items":{"type":"number"}}}}`

func strp(s string) *string { return &s }

// notes creates the collection notes: text over title (weight 4) and
// body, a client vector field emb of 2 dimensions (cosine), the hidden
// field secret, and everyone may list the notes they own.
func (h *harness) notes() {
	h.collection(docstore.CollectionSpec{Name: "notes", Schema: json.RawMessage(notesSchema),
		Rules:        docstore.Rules{List: strp("owner = @auth.id")},
		HiddenFields: []string{"secret"},
		Search: &docstore.Search{
			Text:    &docstore.TextSearch{Fields: map[string]int{"title": 4, "body": 1}},
			Vectors: map[string]docstore.VectorField{"emb": {Dimensions: 2, Metric: docstore.MetricCosine, Source: docstore.SourceClient}},
		}})
}

func TestTextModeRanksPagesAndHighlights(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine, Limits{})
		h.notes()
		h.put("notes", map[string]string{
			"a": `{"title":"raft consensus","body":"leader election: raft & logs < 3 lines","owner":"u1","secret":"raft"}`,
			"b": `{"title":"paxos","body":"raft compared","owner":"u1"}`,
			"c": `{"title":"raft","body":"raft raft","owner":"u2"}`,
			"d": `{"title":"nothing here","body":"at all","owner":"u1"}`,
			"e": `{"title":"raft and raft","body":"","owner":"u1"}`,
		})
		ctx := userCtx(t, "u1")
		res := h.search(ctx, Request{Collection: "notes", Query: "raft"})
		if res.Mode != ModeText || res.Fuzzy || res.NextCursor != "" {
			t.Fatalf("mode %s fuzzy %v cursor %q", res.Mode, res.Fuzzy, res.NextCursor)
		}
		// c belongs to u2 and is never shown; b matches in its body only,
		// which weighs less than a title.
		whole := ids(res)
		if got := slices.Sorted(slices.Values(whole)); !slices.Equal(got, []string{"a", "b", "e"}) || whole[2] != "b" {
			t.Fatalf("hits %v, want a and e, then b", whole)
		}
		for i, hit := range res.Hits {
			if hit.Text == nil || hit.Text.Rank != i+1 || hit.Text.Score != hit.Score || hit.Vector != nil {
				t.Errorf("hit %d: %+v %+v", i, hit.Text, hit.Vector)
			}
			if i > 0 && hit.Score > res.Hits[i-1].Score {
				t.Errorf("hit %d scores %v, more than the hit before it (%v)", i, hit.Score, res.Hits[i-1].Score)
			}
			if bytes.Contains(hit.Document.Data, []byte("secret")) {
				t.Errorf("hit %s shows the hidden field: %s", hit.Document.ID, hit.Document.Data)
			}
		}
		a := res.Hits[slices.Index(whole, "a")]
		body := a.Highlights["body"]
		if !strings.Contains(body, "<mark>") || strings.Contains(body, "< 3") || !strings.Contains(body, "&lt; 3") ||
			!strings.Contains(body, "&amp;") {
			t.Errorf("body highlight %q: want the match marked and the text escaped", body)
		}
		if got := strings.ToLower(a.Highlights["title"]); !strings.Contains(got, "<mark>raft</mark>") {
			t.Errorf("title highlight %q", got)
		}

		// Pages of one hit follow the ranking, then end.
		var all []string
		var cursor string
		for page := 0; ; page++ {
			res := h.search(ctx, Request{Collection: "notes", Query: "raft", Limit: 1, Cursor: cursor})
			if len(res.Hits) != 1 {
				t.Fatalf("page %d has %d hits", page, len(res.Hits))
			}
			if res.Hits[0].Text.Rank != page+1 {
				t.Errorf("page %d: rank %d", page, res.Hits[0].Text.Rank)
			}
			all = append(all, ids(res)...)
			if cursor = res.NextCursor; cursor == "" {
				break
			}
		}
		if !slices.Equal(all, whole) {
			t.Errorf("paged hits %v", all)
		}

		// fields= leaves out the highlights of the fields it leaves out.
		res = h.search(ctx, Request{Collection: "notes", Query: "raft", Fields: "title"})
		for _, hit := range res.Hits {
			if _, ok := hit.Highlights["body"]; ok {
				t.Errorf("%s: body highlighted though fields=title: %v", hit.Document.ID, hit.Highlights)
			}
			if bytes.Contains(hit.Document.Data, []byte("body")) {
				t.Errorf("%s: body shown though fields=title", hit.Document.ID)
			}
		}
		// The engine was asked for the snippets of title only.
		last := h.text.last()
		if !slices.Equal(last.Highlight, []string{"title"}) {
			t.Errorf("highlights asked for %v", last.Highlight)
		}
	})
}

func TestTextModeTypoFallback(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine, Limits{})
		h.notes()
		docs := map[string]string{}
		for i := range 5 {
			docs[fmt.Sprintf("d%d", i)] = `{"title":"consensus protocol","owner":"u1"}`
		}
		h.put("notes", docs)
		ctx := userCtx(t, "u1")
		res := h.search(ctx, Request{Collection: "notes", Query: "consensos", Limit: 2})
		if !res.Fuzzy || len(res.Hits) != 2 || res.NextCursor == "" {
			t.Fatalf("fuzzy %v, %d hits, cursor %q", res.Fuzzy, len(res.Hits), res.NextCursor)
		}
		// The cursor remembers the fuzzy query.
		next := h.search(ctx, Request{Collection: "notes", Query: "consensos", Limit: 2, Cursor: res.NextCursor})
		if !next.Fuzzy || len(next.Hits) != 2 || slices.Contains(ids(res), next.Hits[0].Document.ID) {
			t.Fatalf("page 2: fuzzy %v, hits %v after %v", next.Fuzzy, ids(next), ids(res))
		}
		off := h.search(ctx, Request{Collection: "notes", Query: "consensos", Typo: TypoOff})
		if off.Fuzzy || len(off.Hits) != 0 {
			t.Fatalf("typo off: fuzzy %v, hits %v", off.Fuzzy, ids(off))
		}
		// Enough exact hits: no fallback.
		exact := h.search(ctx, Request{Collection: "notes", Query: "consensus"})
		if exact.Fuzzy || len(exact.Hits) != 5 {
			t.Fatalf("exact: fuzzy %v, hits %v", exact.Fuzzy, ids(exact))
		}
	})
}

func TestTextModeSort(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine, Limits{})
		h.notes()
		docs := map[string]string{}
		for i := range 7 {
			docs[fmt.Sprintf("d%d", i)] = fmt.Sprintf(`{"title":"gopher %d","n":%d,"owner":"u1"}`, i, (i*3)%7)
		}
		docs["x"] = `{"title":"rust","n":100,"owner":"u1"}`
		h.put("notes", docs)
		ctx := userCtx(t, "u1")
		var got []string
		cursor := ""
		for {
			res := h.search(ctx, Request{Collection: "notes", Query: "gopher", Sort: "-n", Limit: 3, Cursor: cursor})
			got = append(got, ids(res)...)
			if cursor = res.NextCursor; cursor == "" {
				break
			}
		}
		// n: d0 0, d1 3, d2 6, d3 2, d4 5, d5 1, d6 4
		if want := []string{"d2", "d4", "d6", "d1", "d3", "d5", "d0"}; !slices.Equal(got, want) {
			t.Fatalf("sorted hits %v, want %v", got, want)
		}
	})
}

func TestCursorsAreBoundToQueryAndCaller(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine, Limits{})
		h.notes()
		h.put("notes", map[string]string{"a": `{"title":"raft","owner":"u1"}`, "b": `{"title":"raft","owner":"u1"}`})
		ctx := userCtx(t, "u1")
		res := h.search(ctx, Request{Collection: "notes", Query: "raft", Limit: 1})
		if res.NextCursor == "" {
			t.Fatal("no cursor")
		}
		c := res.NextCursor
		h.fails(userCtx(t, "u2"), Request{Collection: "notes", Query: "raft", Limit: 1, Cursor: c}, fault.Invalid, "invalid cursor")
		h.fails(ctx, Request{Collection: "notes", Query: "paxos", Limit: 1, Cursor: c}, fault.Invalid, "invalid cursor")
		h.fails(ctx, Request{Collection: "notes", Query: "raft", Limit: 1, Cursor: c, Typo: TypoOff}, fault.Invalid, "invalid cursor")
		h.fails(ctx, Request{Collection: "notes", Query: "raft", Limit: 1, Cursor: c, Mode: ModeHybrid, Vector: []float32{1, 0}}, fault.Invalid, "invalid cursor")
		h.fails(ctx, Request{Collection: "notes", Query: "raft", Limit: 1, Cursor: c, Filter: `title = "raft"`}, fault.Invalid, "invalid cursor")
		tampered := []byte(c)
		tampered[len(tampered)/2] ^= 1
		h.fails(ctx, Request{Collection: "notes", Query: "raft", Limit: 1, Cursor: string(tampered)}, fault.Invalid, "invalid cursor")
		// A list cursor is not a search cursor.
		page, err := h.docs.ListDocuments(ctx, docstore.ListRequest{Collection: "notes", Limit: 1})
		if err != nil || page.NextCursor == "" {
			t.Fatalf("list: %v %q", err, page.NextCursor)
		}
		h.fails(ctx, Request{Collection: "notes", Query: "raft", Limit: 1, Cursor: page.NextCursor}, fault.Invalid, "invalid cursor")
		// The right caller continues.
		if next := h.search(ctx, Request{Collection: "notes", Query: "raft", Limit: 1, Cursor: c}); len(next.Hits) != 1 {
			t.Fatalf("next page %v", ids(next))
		}
	})
}

func TestRequestBounds(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine, Limits{})
		h.notes()
		h.collection(docstore.CollectionSpec{Name: "plain", Schema: json.RawMessage(`{"type":"object"}`)})
		ctx := adminCtx(t)
		v := []float32{1, 0}
		for _, c := range []struct {
			r    Request
			kind fault.Kind
			msg  string
		}{
			{Request{Collection: "notes", Query: "x", Limit: 101}, fault.Invalid, "limit must be an integer from 1 to 100"},
			{Request{Collection: "notes", Query: "x", Limit: -1}, fault.Invalid, "limit"},
			{Request{Collection: "notes", Query: "x", Mode: "semantic"}, fault.Invalid, "mode must be"},
			{Request{Collection: "notes", Query: "x", Typo: "maybe"}, fault.Invalid, "typo must be"},
			{Request{Collection: "notes", Query: strings.Repeat("x", 1001)}, fault.Invalid, "at most 1000 bytes"},
			{Request{Collection: "notes", Query: strings.Repeat("x", 1001), Mode: ModeVector, Field: "emb"}, fault.Invalid, "at most 1000 bytes"},
			{Request{Collection: "notes", Query: "a\x00b"}, fault.Invalid, "NUL"},
			{Request{Collection: "notes", Query: "\xff"}, fault.Invalid, "UTF-8"},
			{Request{Collection: "notes"}, fault.Invalid, "text search needs q"},
			{Request{Collection: "notes", Query: "x", Field: "emb"}, fault.Invalid, "text search takes none"},
			{Request{Collection: "notes", Query: "x", Vector: v}, fault.Invalid, "text search takes none"},
			{Request{Collection: "notes", Query: "x", Weight: new(float64)}, fault.Invalid, "hybrid search only"},
			{Request{Collection: "notes", Mode: ModeVector, Vector: v, Weight: new(float64)}, fault.Invalid, "hybrid search only"},
			{Request{Collection: "notes", Query: "x", Mode: ModeHybrid, Weight: ptr(1.5)}, fault.Invalid, "weight must be"},
			{Request{Collection: "notes", Query: "x", Mode: ModeHybrid, Weight: ptr(math.NaN())}, fault.Invalid, "weight must be"},
			{Request{Collection: "notes", Mode: ModeVector, Vector: v, Sort: "n"}, fault.Invalid, "takes no sort"},
			{Request{Collection: "notes", Mode: ModeVector, Query: "x"}, fault.Invalid, "pass the query vector as vector"},
			{Request{Collection: "notes", Mode: ModeVector}, fault.Invalid, "needs q"},
			{Request{Collection: "notes", Mode: ModeVector, Vector: []float32{1, 2, 3}}, fault.Invalid, "vector must have 2 numbers"},
			{Request{Collection: "notes", Mode: ModeVector, Vector: []float32{float32(math.NaN()), 1}}, fault.Invalid, "finite"},
			{Request{Collection: "notes", Mode: ModeVector, Vector: v, Field: "nope"}, fault.Invalid, "not a vector field"},
			{Request{Collection: "notes", Mode: ModeHybrid, Vector: v}, fault.Invalid, "hybrid search needs q"},
			{Request{Collection: "notes", Query: "x", Filter: "nope = 1"}, fault.Invalid, "unknown field"},
			{Request{Collection: "plain", Query: "x"}, fault.Invalid, "no search configuration"},
			{Request{Collection: "missing", Query: "x"}, fault.NotFound, ""},
			// The index of emb was never built here: the service is not ready.
			{Request{Collection: "notes", Mode: ModeVector, Vector: v}, fault.Unavailable, "not ready"},
		} {
			h.fails(ctx, c.r, c.kind, c.msg)
		}
		// A hidden field is unknown to callers who are not admins.
		h.fails(userCtx(t, "u1"), Request{Collection: "notes", Query: "x", Filter: `secret = "s"`}, fault.Invalid, "unknown field")
		h.fails(userCtx(t, "u1"), Request{Collection: "notes", Query: "x", Fields: "secret"}, fault.Invalid, "unknown field")
		// Anonymous callers get what a list gives them.
		h.fails(t.Context(), Request{Collection: "plain", Query: "x"}, fault.Unauthenticated, "")
	})
}

func ptr[T any](v T) *T { return &v }

func TestDefaultAndMaximumLimit(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine, Limits{})
		h.notes()
		docs := map[string]string{}
		for i := range 130 {
			docs[fmt.Sprintf("d%03d", i)] = `{"title":"same words","owner":"u1"}`
		}
		h.put("notes", docs)
		ctx := userCtx(t, "u1")
		if res := h.search(ctx, Request{Collection: "notes", Query: "words"}); len(res.Hits) != 20 || res.NextCursor == "" {
			t.Fatalf("default page: %d hits", len(res.Hits))
		}
		if res := h.search(ctx, Request{Collection: "notes", Query: "words", Limit: 100}); len(res.Hits) != 100 {
			t.Fatalf("limit 100: %d hits", len(res.Hits))
		}
	})
}

func TestDepthEndsTheCursor(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine, Limits{MaxDepth: 5})
		h.notes()
		docs := map[string]string{}
		for i := range 12 {
			docs[fmt.Sprintf("d%02d", i)] = fmt.Sprintf(`{"title":"deep","owner":"u1","emb":[1,%d]}`, i)
		}
		h.put("notes", docs)
		vecs := map[string][]float32{}
		for i := range 12 {
			vecs[fmt.Sprintf("d%02d", i)] = []float32{1, float32(i)}
		}
		h.index("notes", "emb", 2, vector.Cosine, vecs)
		ctx := userCtx(t, "u1")
		for _, r := range []Request{
			{Collection: "notes", Query: "deep", Limit: 2},
			{Collection: "notes", Mode: ModeVector, Vector: []float32{1, 0}, Limit: 2},
		} {
			var n int
			for pages := 0; ; pages++ {
				res := h.search(ctx, r)
				n += len(res.Hits)
				if r.Cursor = res.NextCursor; r.Cursor == "" {
					break
				}
			}
			if n != 5 {
				t.Errorf("%s: %d hits served over all pages, want the depth 5", r.Mode, n)
			}
		}
	})
}

// randomVector is a vector of dims numbers in [-1, 1).
func randomVector(r *rand.Rand, dims int) []float32 {
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(r.Float64()*2 - 1)
	}
	return v
}

func vectorJSON(v []float32) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(float64(x), 'g', -1, 32)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// exactNearest ranks vecs by cosine similarity to q (score desc, id asc).
func exactNearest(q []float32, vecs map[string][]float32) []string {
	type sc struct {
		id string
		s  float64
	}
	var all []sc
	for id, v := range vecs {
		var dot, nq, nv float64
		for i := range v {
			dot += float64(q[i]) * float64(v[i])
			nq += float64(q[i]) * float64(q[i])
			nv += float64(v[i]) * float64(v[i])
		}
		all = append(all, sc{id, dot / math.Sqrt(nq*nv)})
	}
	slices.SortFunc(all, func(a, b sc) int {
		if c := cmp.Compare(b.s, a.s); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	out := make([]string, len(all))
	for i, s := range all {
		out[i] = s.id
	}
	return out
}

func TestVectorSearchIsNeverShortUnderASelectiveRule(t *testing.T) {
	// An allow-list of the 30 documents the rule admits, and (with a
	// smaller bound on allow-lists) widening rounds over the index.
	for _, allow := range []int{0, 10} {
		t.Run(fmt.Sprintf("allowList=%d", allow), func(t *testing.T) {
			forEngines(t, func(t *testing.T, engine string) { testNeverShort(t, engine, allow) })
		})
	}
}

func testNeverShort(t *testing.T, engine string, allowList int) {
	h := newHarness(t, engine, Limits{AllowList: allowList})
	const dims = 8
	h.collection(docstore.CollectionSpec{Name: "pts", Schema: json.RawMessage(notesSchema),
		Rules: docstore.Rules{List: strp("owner = @auth.id")},
		Search: &docstore.Search{Vectors: map[string]docstore.VectorField{
			"emb": {Dimensions: dims, Metric: docstore.MetricCosine, Source: docstore.SourceClient}}}})
	r := rand.New(rand.NewPCG(1, 2))
	docs := map[string]string{}
	vecs := map[string][]float32{}
	mine := map[string][]float32{}
	for i := range 3000 {
		id := fmt.Sprintf("p%04d", i)
		v := randomVector(r, dims)
		owner := "u2"
		if i%100 == 7 { // 30 documents of u1
			owner = "u1"
			mine[id] = v
		}
		docs[id] = fmt.Sprintf(`{"owner":%q,"emb":%s}`, owner, vectorJSON(v))
		vecs[id] = v
	}
	h.put("pts", docs)
	h.index("pts", "emb", dims, vector.Cosine, vecs)
	q := randomVector(r, dims)
	want := exactNearest(q, mine)
	ctx := userCtx(t, "u1")
	var got []string
	req := Request{Collection: "pts", Vector: q, Limit: 20}
	for page := 0; ; page++ {
		res := h.search(ctx, req)
		if res.Mode != ModeVector {
			t.Fatalf("default mode %s, want vector (no text configuration)", res.Mode)
		}
		if page == 0 && len(res.Hits) != 20 {
			t.Fatalf("first page has %d hits, want 20", len(res.Hits))
		}
		for i, hit := range res.Hits {
			if hit.Vector == nil || hit.Vector.Rank != len(got)+i+1 || hit.Text != nil {
				t.Fatalf("hit %d: %+v", i, hit.Vector)
			}
			if math.Abs(hit.Score-(1-hit.Vector.Distance)) > 1e-9 || hit.Score != hit.Vector.Score {
				t.Errorf("score %v, distance %v", hit.Score, hit.Vector.Distance)
			}
		}
		got = append(got, ids(res)...)
		if req.Cursor = res.NextCursor; req.Cursor == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("hits over all pages\n %v\nwant every visible document in exact order\n %v", got, want)
	}
	// The allow-list, when the document service offers one, gives the
	// same answer.
	first := h.search(ctx, Request{Collection: "pts", Vector: q, Limit: 20, Filter: `owner = "u1"`})
	if !slices.Equal(ids(first), want[:20]) {
		t.Fatalf("with a filter: %v", ids(first))
	}
}

func TestVectorSearchSkipsStaleIndexEntries(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine, Limits{})
		h.notes()
		h.put("notes", map[string]string{
			"a": `{"owner":"u1","emb":[1,0]}`,
			"b": `{"owner":"u1","emb":[0,1]}`,
			"c": `{"owner":"u1","emb":[1,1]}`,
			"d": `{"owner":"u1","emb":[-1,0]}`,
		})
		// The index still holds a deleted document x, and b's old vector.
		h.index("notes", "emb", 2, vector.Cosine, map[string][]float32{
			"a": {1, 0}, "b": {1, 0.1}, "c": {1, 1}, "d": {-1, 0}, "x": {1, 0.01},
		})
		res := h.search(userCtx(t, "u1"), Request{Collection: "notes", Mode: ModeVector, Vector: []float32{1, 0}, Limit: 3})
		if got := ids(res); !slices.Equal(got, []string{"a", "c", "d"}) {
			t.Fatalf("hits %v, want [a c d] (x is gone, b's indexed vector is stale)", got)
		}
	})
}

func TestPendingListsOnlyVisibleDocuments(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine, Limits{})
		h.notes()
		h.put("notes", map[string]string{"a": `{"owner":"u1","emb":[1,0]}`, "b": `{"owner":"u2","emb":[0,1]}`, "c": `{"owner":"u1"}`})
		h.index("notes", "emb", 2, vector.Cosine, map[string][]float32{"a": {1, 0}})
		h.vecs.states["notes/emb"] = VectorState{Pending: 3, PendingIDs: []string{"b", "c"}}
		res := h.search(userCtx(t, "u1"), Request{Collection: "notes", Mode: ModeVector, Vector: []float32{1, 0}})
		if !slices.Equal(res.PendingIDs, []string{"c"}) || res.Pending != 1 {
			t.Fatalf("pending %d %v, want 1 [c] (b is not u1's; the one only counted may not be u1's either)", res.Pending, res.PendingIDs)
		}
		// Another caller's documents written a moment ago are not counted,
		// beyond the ids the index names either.
		other := map[string]string{}
		var named []string
		for i := range 150 {
			id := fmt.Sprintf("u2-%03d", i)
			other[id] = `{"owner":"u2"}`
			named = append(named, id)
		}
		h.put("notes", other)
		h.vecs.states["notes/emb"] = VectorState{Pending: 150, PendingIDs: named[:100]}
		res = h.search(userCtx(t, "u1"), Request{Collection: "notes", Mode: ModeVector, Vector: []float32{1, 0}})
		if res.Pending != 0 || res.PendingIDs != nil {
			t.Fatalf("u1 sees pending %d %v of u2's documents", res.Pending, res.PendingIDs)
		}
		h.vecs.states["notes/emb"] = VectorState{Pending: 3, PendingIDs: []string{"b", "c"}}
		res = h.search(adminCtx(t), Request{Collection: "notes", Mode: ModeVector, Vector: []float32{1, 0}})
		if !slices.Equal(res.PendingIDs, []string{"b", "c"}) || res.Pending != 3 {
			t.Fatalf("admin: pending %d %v", res.Pending, res.PendingIDs)
		}
		// An index of another metric than the field's is being replaced.
		h.index("notes", "emb", 2, vector.L2, map[string][]float32{"a": {1, 0}})
		h.fails(adminCtx(t), Request{Collection: "notes", Mode: ModeVector, Vector: []float32{1, 0}}, fault.Unavailable, "being rebuilt")
		h.vecs.err = fault.New(fault.Unavailable, "test", "first build")
		h.fails(adminCtx(t), Request{Collection: "notes", Mode: ModeVector, Vector: []float32{1, 0}}, fault.Unavailable, "first build")
	})
}

func TestHybridFusesBothSides(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine, Limits{})
		h.notes()
		h.put("notes", map[string]string{
			"a": `{"title":"raft raft","owner":"u1","emb":[0,1]}`,
			"b": `{"title":"raft","owner":"u1","emb":[1,0.2]}`,
			"c": `{"title":"other","owner":"u1","emb":[1,0]}`,
			"d": `{"title":"raft","body":"x","owner":"u2","emb":[1,0]}`,
		})
		h.index("notes", "emb", 2, vector.Cosine, map[string][]float32{"a": {0, 1}, "b": {1, 0.2}, "c": {1, 0}, "d": {1, 0}})
		ctx := userCtx(t, "u1")
		for _, w := range []float64{0.5, 0.9, 0.1} {
			res := h.search(ctx, Request{Collection: "notes", Query: "raft", Mode: ModeHybrid, Vector: []float32{1, 0}, Weight: &w})
			// The text side ranks a and b as the engine does; the vector
			// side c, b, a.
			rank := map[string][2]int{"a": {0, 3}, "b": {0, 2}, "c": {0, 1}}
			for i, id := range ids(h.search(ctx, Request{Collection: "notes", Query: "raft"})) {
				r := rank[id]
				r[0] = i + 1
				rank[id] = r
			}
			if rank["a"][0] == 0 || rank["b"][0] == 0 {
				t.Fatalf("text ranks %v", rank)
			}
			score := func(id string) float64 {
				r, s := rank[id], 0.0
				if r[0] > 0 {
					s += w / float64(60+r[0])
				}
				return s + (1-w)/float64(60+r[1])
			}
			want := []string{"a", "b", "c"}
			slices.SortFunc(want, func(x, y string) int {
				if c := cmp.Compare(score(y), score(x)); c != 0 {
					return c
				}
				return cmp.Compare(x, y)
			})
			if got := ids(res); !slices.Equal(got, want) {
				t.Fatalf("w=%v: hits %v, want %v", w, got, want)
			}
			for _, hit := range res.Hits {
				id := hit.Document.ID
				if math.Abs(hit.Score-score(id)) > 1e-12 {
					t.Errorf("w=%v %s: score %v, want %v", w, id, hit.Score, score(id))
				}
				if r := rank[id]; (hit.Text == nil) != (r[0] == 0) || (hit.Text != nil && hit.Text.Rank != r[0]) || hit.Vector.Rank != r[1] {
					t.Errorf("w=%v %s: text %+v vector %+v, want ranks %v", w, id, hit.Text, hit.Vector, r)
				}
			}
			if res.Hits[slices.Index(ids(res), "a")].Highlights["title"] != "<mark>raft</mark> <mark>raft</mark>" {
				t.Errorf("hybrid highlights %v", res.Hits[0].Highlights)
			}
		}
		// Paging the fused ranking gives the same order.
		var got []string
		r := Request{Collection: "notes", Query: "raft", Mode: ModeHybrid, Vector: []float32{1, 0}, Limit: 1}
		for {
			res := h.search(ctx, r)
			got = append(got, ids(res)...)
			if r.Cursor = res.NextCursor; r.Cursor == "" {
				break
			}
		}
		if want := ids(h.search(ctx, Request{Collection: "notes", Query: "raft", Mode: ModeHybrid, Vector: []float32{1, 0}})); !slices.Equal(got, want) {
			t.Fatalf("paged %v, whole %v", got, want)
		}
	})
}

func TestEmbedderFieldSearchesWithTheQueryText(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine, Limits{})
		const dims = 64
		b, err := embed.NewBuiltin(dims)
		if err != nil {
			t.Fatal(err)
		}
		h.emb[docstore.BuiltinEmbedder] = b
		h.collection(docstore.CollectionSpec{Name: "docs", Schema: json.RawMessage(notesSchema),
			Rules: docstore.Rules{List: strp("")},
			Search: &docstore.Search{Vectors: map[string]docstore.VectorField{
				"sem": {Dimensions: dims, Metric: docstore.MetricCosine, Source: docstore.SourceEmbedder, From: []string{"body"}}}}})
		texts := map[string]string{"a": "the raft consensus algorithm", "b": "baking sourdough bread", "c": "paxos and raft leaders"}
		docs := map[string]string{}
		for id, s := range texts {
			docs[id] = fmt.Sprintf(`{"body":%q}`, s)
		}
		h.put("docs", docs)
		idx, err := vector.NewFlat(vector.Config{Dimensions: dims, Metric: vector.Cosine})
		if err != nil {
			t.Fatal(err)
		}
		for id, s := range texts {
			vs, err := b.Embed(t.Context(), []string{s})
			if err != nil {
				t.Fatal(err)
			}
			stored := vs[0]
			if id == "c" { // c's stored vector is not yet the one in the index
				other, err := b.Embed(t.Context(), []string{"something else"})
				if err != nil {
					t.Fatal(err)
				}
				stored = other[0]
			}
			n, err := h.text.PutVectors(t.Context(), []searchdb.StoredVector{{Collection: "docs", DocumentID: id, Field: "sem", Version: 1,
				Hash: []byte(id), Vector: stored}}, VectorsEvent)
			if err != nil || n != 1 {
				t.Fatalf("PutVectors: %d, %v", n, err)
			}
			if err := idx.Upsert(t.Context(), []vector.Item{{ID: id, Vector: vs[0]}}); err != nil {
				t.Fatal(err)
			}
		}
		h.vecs.indexes["docs/sem"] = idx
		res := h.search(t.Context(), Request{Collection: "docs", Query: "raft consensus"})
		if got := ids(res); len(got) != 2 || got[0] != "a" {
			t.Fatalf("hits %v, want a first and no c (its stored vector differs from the index's)", got)
		}
		delete(h.emb, docstore.BuiltinEmbedder)
		h.fails(t.Context(), Request{Collection: "docs", Query: "raft"}, fault.Unavailable, "not configured")
	})
}

func TestNoneRuleAnswersEmpty(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine, Limits{})
		h.collection(docstore.CollectionSpec{Name: "n", Schema: json.RawMessage(notesSchema),
			Rules:  docstore.Rules{List: strp(`@auth.id = "nobody-at-all"`)},
			Search: &docstore.Search{Text: &docstore.TextSearch{Fields: map[string]int{"title": 1}}}})
		h.put("n", map[string]string{"a": `{"title":"raft"}`})
		res := h.search(userCtx(t, "u1"), Request{Collection: "n", Query: "raft"})
		if len(res.Hits) != 0 || res.Hits == nil {
			t.Fatalf("hits %v", ids(res))
		}
	})
}

func TestSearchStatus(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine, Limits{})
		h.notes()
		c, err := h.docs.GetCollection(adminCtx(t), "notes")
		if err != nil {
			t.Fatal(err)
		}
		st, err := h.svc.SearchStatus(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		if st.Text == nil || st.Text.Total != 0 || !st.Vectors["emb"].Building {
			t.Fatalf("status %+v %+v", st.Text, st.Vectors)
		}
		h.put("notes", map[string]string{"a": `{"title":"x"}`, "b": `{"title":"y"}`})
		if st, err = h.svc.SearchStatus(t.Context(), c); err != nil || st.Text.Total != 2 || st.Text.Indexed != 2 || st.Text.Building {
			t.Fatalf("text status %+v, %v", st.Text, err)
		}
		h.index("notes", "emb", 2, vector.Cosine, map[string][]float32{"a": {1, 0}})
		h.vecs.states["notes/emb"] = VectorState{Pending: 2}
		if st, _ = h.svc.SearchStatus(t.Context(), c); st.Vectors["emb"] != (VectorStatus{Indexed: 1, Pending: 2}) {
			t.Fatalf("vector status %+v", st.Vectors["emb"])
		}
		if st, err := h.svc.SearchStatus(t.Context(), docstore.Collection{Name: "x"}); st != nil || err != nil {
			t.Fatalf("unconfigured: %v %v", st, err)
		}
	})
}
