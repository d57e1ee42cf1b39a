package searchdbtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
	"github.com/basaltdev/basalt/internal/search/searchdb"
	"github.com/basaltdev/basalt/internal/search/websearch"
)

// textCases are the full-text cases: queries, ranking, fuzzy fallback,
// snippets, filters, sorts and cursors, configuration changes and builds.
func textCases() []testCase {
	return []testCase{
		{"TextMatchesAndRanksByWeight", testTextRanking},
		{"TextQuerySyntax", testTextSyntax},
		{"TextNothingToMatch", testTextNothingToMatch},
		{"TextStemmingByLanguage", testTextStemming},
		{"TextFieldValues", testTextFieldValues},
		{"TextFuzzy", testTextFuzzy},
		{"TextHighlights", testTextHighlights},
		{"TextFilter", testTextFilter},
		{"TextSortPages", testTextSortPages},
		{"TextRelevancePages", testTextRelevancePages},
		{"TextConfigChangeAndBuild", testTextBuild},
		{"TextWritesDuringBuild", testTextWritesDuringBuild},
		{"TextNotConfigured", testTextNotConfigured},
		{"TextMissingCollection", testTextMissingCollection},
		{"TextWritesAreSearchable", testTextWrites},
		{"TextInjectionIsHarmless", testTextInjection},
		{"TextLimits", testTextLimits},
	}
}

// epoch is the time of the suite's writes.
var epoch = time.Unix(1_700_000_000, 0).UTC()

// textCollection creates a collection searching fields (path → weight)
// in language, and returns it.
func textCollection(t *testing.T, e Engine, name, language string, fields map[string]int) docstore.Collection {
	t.Helper()
	ctx := context.Background()
	c := docstore.Collection{Name: name, Version: 1, Schema: json.RawMessage(`{"type":"object"}`),
		CreatedAt: epoch, UpdatedAt: epoch,
		Search: docstore.Search{Text: &docstore.TextSearch{Fields: fields, Language: language}}}
	if err := e.Write(ctx, func(tx docstore.Tx) error { return tx.CreateCollection(ctx, c) }); err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
	return c
}

// doc is a document of the suite: id → data (JSON).
type doc struct {
	id   string
	data string
}

func insertDocs(t *testing.T, e Engine, collection string, docs ...doc) {
	t.Helper()
	ctx := context.Background()
	err := e.Write(ctx, func(tx docstore.Tx) error {
		for _, d := range docs {
			if err := tx.InsertDocument(ctx, docstore.Document{Collection: collection, ID: d.id, Version: 1,
				CreatedAt: epoch, UpdatedAt: epoch, Data: json.RawMessage(d.data)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("inserting into %s: %v", collection, err)
	}
}

// updateDoc replaces a document's data, returning its new version.
func updateDoc(t *testing.T, e Engine, collection, id, data string) {
	t.Helper()
	ctx := context.Background()
	err := e.Write(ctx, func(tx docstore.Tx) error {
		d, err := tx.GetDocument(ctx, collection, id)
		if err != nil {
			return err
		}
		prev := d.Version
		d.Version++
		d.Data = json.RawMessage(data)
		d.UpdatedAt = d.UpdatedAt.Add(time.Second)
		return tx.UpdateDocument(ctx, d, prev)
	})
	if err != nil {
		t.Fatalf("updating %s/%s: %v", collection, id, err)
	}
}

func deleteDoc(t *testing.T, e Engine, collection, id string) {
	t.Helper()
	ctx := context.Background()
	err := e.Write(ctx, func(tx docstore.Tx) error {
		d, err := tx.GetDocument(ctx, collection, id)
		if err != nil {
			return err
		}
		return tx.DeleteDocument(ctx, collection, id, d.Version)
	})
	if err != nil {
		t.Fatalf("deleting %s/%s: %v", collection, id, err)
	}
}

// search runs a query that must succeed.
func search(t *testing.T, e Engine, q searchdb.TextQuery) []searchdb.TextHit {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	hits, err := e.SearchText(context.Background(), q)
	if err != nil {
		t.Fatalf("SearchText(%q, fuzzy %v): %v", q.Query, q.Fuzzy, err)
	}
	for _, h := range hits {
		if h.Document.Collection != q.Collection || h.Document.ID == "" || len(h.Document.Data) == 0 {
			t.Fatalf("SearchText(%q): hit without its document: %+v", q.Query, h.Document)
		}
	}
	return hits
}

// query returns a query of the collection c.
func textQuery(c docstore.Collection, q string) searchdb.TextQuery {
	return searchdb.TextQuery{Collection: c.Name, Text: *c.Search.Text, Query: q, Limit: 100}
}

func hitIDs(hits []searchdb.TextHit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Document.ID
	}
	return out
}

// sortedIDs returns the ids of hits in id order.
func sortedIDs(hits []searchdb.TextHit) []string {
	return slices.Sorted(slices.Values(hitIDs(hits)))
}

// expectIDs checks the ids a query finds, in any order.
func expectIDs(t *testing.T, e Engine, q searchdb.TextQuery, want ...string) []searchdb.TextHit {
	t.Helper()
	hits := search(t, e, q)
	slices.Sort(want)
	if got := sortedIDs(hits); !slices.Equal(got, want) {
		t.Errorf("%q (fuzzy %v) found %q, want %q", q.Query, q.Fuzzy, got, want)
	}
	return hits
}

// checkRelevanceOrder checks that hits are by Score descending, then id.
func checkRelevanceOrder(t *testing.T, hits []searchdb.TextHit) {
	t.Helper()
	for i := 1; i < len(hits); i++ {
		a, b := hits[i-1], hits[i]
		if a.Score < b.Score || a.Score == b.Score && a.Document.ID >= b.Document.ID {
			t.Fatalf("hits out of relevance order: %s (%v) before %s (%v)", a.Document.ID, a.Score, b.Document.ID, b.Score)
		}
	}
}

func testTextRanking(t *testing.T, e Engine) {
	c := textCollection(t, e, "articles", "english", map[string]int{"title": 4, "body": 1})
	insertDocs(t, e, c.Name,
		doc{"a", `{"title":"Replication slots","body":"Notes about the primary server and its standby."}`},
		doc{"b", `{"title":"Server notes","body":"Replication slots keep the write-ahead log for a standby."}`},
		doc{"c", `{"title":"Vacuum","body":"Dead tuples are removed by the autovacuum daemon."}`},
	)
	hits := expectIDs(t, e, textQuery(c, "replication"), "a", "b")
	if len(hits) == 2 {
		if hits[0].Document.ID != "a" {
			t.Errorf("a title hit should outrank a body hit: %q", hitIDs(hits))
		}
		if hits[0].Score <= hits[1].Score || hits[1].Score <= 0 {
			t.Errorf("scores %v, %v: want positive and decreasing", hits[0].Score, hits[1].Score)
		}
	}
	// The same document and query: the same score, every time.
	again := search(t, e, textQuery(c, "replication"))
	for i := range min(len(hits), len(again)) {
		if hits[i].Score != again[i].Score {
			t.Errorf("score of %s changed from %v to %v", hits[i].Document.ID, hits[i].Score, again[i].Score)
		}
	}
	expectIDs(t, e, textQuery(c, "standby"), "a", "b")
	expectIDs(t, e, textQuery(c, "STANDBY Replication"), "a", "b") // case-insensitive, every word
	expectIDs(t, e, textQuery(c, "replication vacuum"))            // every word must match
}

func testTextSyntax(t *testing.T, e Engine) {
	c := textCollection(t, e, "phrases", "simple", map[string]int{"text": 1})
	insertDocs(t, e, c.Name,
		doc{"fox", `{"text":"the quick brown fox jumps over the lazy dog"}`},
		doc{"cat", `{"text":"a brown cat and a quick mouse"}`},
		doc{"dog", `{"text":"a lazy dog sleeps"}`},
	)
	for _, x := range []struct {
		query string
		want  []string
	}{
		{`quick brown`, []string{"fox", "cat"}},
		{`"quick brown"`, []string{"fox"}}, // a phrase: adjacent, in order
		{`"brown quick"`, nil},
		{`cat or dog`, []string{"fox", "cat", "dog"}},
		{`quick -cat`, []string{"fox"}},
		{`lazy -"quick brown"`, []string{"dog"}},
		{`mouse fox or sleeps`, []string{"dog"}}, // OR binds loosest: (mouse AND fox) OR sleeps
		{`brown cat or lazy sleeps`, []string{"cat", "dog"}},
		{`cat -mouse or jumps`, []string{"fox"}}, // an exclusion belongs to its group
		{`"lazy dog" -sleeps`, []string{"fox"}},
	} {
		expectIDs(t, e, textQuery(c, x.query), x.want...)
	}
}

func testTextNothingToMatch(t *testing.T, e Engine) {
	c := textCollection(t, e, "stops", "english", map[string]int{"text": 1})
	insertDocs(t, e, c.Name,
		doc{"a", `{"text":"The cat sat on the mat"}`},
		doc{"b", `{"text":"a dog"}`},
	)
	// Queries with no positive term match nothing, without an error:
	// exclusions only, punctuation only, English stop words only.
	for _, q := range []string{`-cat`, `-"the cat"`, `!!! ???`, `the`, `the or and`, `""`, ``, `   `} {
		expectIDs(t, e, textQuery(c, q))
	}
	// Stop words in a query are left out, as from documents, typos
	// tolerated or not.
	expectIDs(t, e, textQuery(c, "the cat"), "a")
	for _, q := range []string{"the", "the or and", "-cat"} {
		x := textQuery(c, q)
		x.Fuzzy = true
		expectIDs(t, e, x)
	}
	x := textQuery(c, "the cat")
	x.Fuzzy = true
	expectIDs(t, e, x, "a")
	expectIDs(t, e, textQuery(c, "dog -the"), "b")
	// Inside a phrase they keep their place.
	expectIDs(t, e, textQuery(c, `"cat sat on the mat"`), "a")
	expectIDs(t, e, textQuery(c, `"the cat sat on"`), "a")
	expectIDs(t, e, textQuery(c, `cat -"sat on the mat"`))
}

func testTextStemming(t *testing.T, e Engine) {
	en := textCollection(t, e, "english_docs", "english", map[string]int{"text": 1})
	simple := textCollection(t, e, "simple_docs", "simple", map[string]int{"text": 1})
	for _, c := range []docstore.Collection{en, simple} {
		insertDocs(t, e, c.Name,
			doc{"a", `{"text":"Running databases on small machines"}`},
			doc{"b", `{"text":"One database runs"}`},
		)
	}
	expectIDs(t, e, textQuery(en, "database"), "a", "b")
	expectIDs(t, e, textQuery(en, "machine run"), "a")
	expectIDs(t, e, textQuery(simple, "database"), "b")
	expectIDs(t, e, textQuery(simple, "databases"), "a")
	expectIDs(t, e, textQuery(simple, "machine"))
	// Diacritics: a word matches as written.
	insertDocs(t, e, simple.Name, doc{"c", `{"text":"Un café au lait"}`})
	expectIDs(t, e, textQuery(simple, "café"), "c")
}

func testTextFieldValues(t *testing.T, e Engine) {
	c := textCollection(t, e, "values", "simple", map[string]int{"tags": 2, "author.name": 3, "title": 4})
	insertDocs(t, e, c.Name,
		doc{"arr", `{"tags":["alpha","beta gamma"],"title":"one"}`},
		doc{"nested", `{"author":{"name":"Ada Lovelace"},"title":"two"}`},
		doc{"other", `{"tags":"delta","title":42,"author":{"name":7},"misc":"alpha"}`},
		doc{"mixed", `{"tags":["epsilon",5,{"x":"zeta"},null,"eta"]}`},
	)
	expectIDs(t, e, textQuery(c, "alpha"), "arr") // misc is not searchable
	expectIDs(t, e, textQuery(c, "gamma"), "arr")
	expectIDs(t, e, textQuery(c, "lovelace"), "nested")
	expectIDs(t, e, textQuery(c, "delta"), "other") // a string where an array may be
	expectIDs(t, e, textQuery(c, "42"))             // numbers contribute nothing
	expectIDs(t, e, textQuery(c, "epsilon eta"), "mixed")
	expectIDs(t, e, textQuery(c, "zeta"))
}

func testTextFuzzy(t *testing.T, e Engine) {
	c := textCollection(t, e, "fuzzy", "english", map[string]int{"title": 4, "body": 1})
	insertDocs(t, e, c.Name,
		doc{"repl", `{"title":"Streaming replication","body":"Replication slots keep the WAL a standby needs."}`},
		doc{"replica", `{"title":"Replica sets","body":"A replica set elects a primary."}`},
		doc{"vacuum", `{"title":"Vacuum","body":"Autovacuum removes dead tuples."}`},
		doc{"lag", `{"title":"Notes","body":"replication lag"}`},
		doc{"city", `{"title":"Trains","body":"from new york"}`},
	)
	fuzzy := func(q string) searchdb.TextQuery {
		x := textQuery(c, q)
		x.Fuzzy = true
		return x
	}
	expectIDs(t, e, textQuery(c, "replicaton")) // misspelled: no exact match
	// A document matches when each word is similar (≥ 0.5) to its text,
	// the fields joined; its score is the average, over the words, of the
	// word's greatest similarity to one field times the field's weight
	// (title 1.0, body 0.1). PostgreSQL's pg_trgm gives
	// word_similarity('replicaton', 'Streaming replication') = 0.72727275,
	// word_similarity('replicaton', 'Replica sets') = 0.6363636 and
	// word_similarity('replicaton', 'replication lag') = 0.72727275, so the
	// body-only hit scores 0.072727… and comes last.
	hits := expectIDs(t, e, fuzzy("replicaton"), "repl", "replica", "lag")
	checkRelevanceOrder(t, hits)
	if len(hits) == 3 && (hits[0].Document.ID != "repl" || float32(hits[0].Score) != 0.72727275 ||
		float32(hits[1].Score) != 0.6363636 || hits[2].Document.ID != "lag" ||
		math.Abs(hits[2].Score-0.072727275) > 1e-6) {
		t.Errorf("fuzzy hits %q with scores %v, %v, %v; want repl (0.72727275), replica (0.6363636), lag (0.0727…)",
			hitIDs(hits), hits[0].Score, hits[1].Score, hits[2].Score)
	}
	hits = expectIDs(t, e, fuzzy("replica"), "repl", "replica", "lag")
	checkRelevanceOrder(t, hits)
	if len(hits) == 3 && (hits[0].Document.ID != "replica" || hits[0].Score != 1 || hits[1].Score >= 1) {
		t.Errorf("the exact word in the title should rank first with similarity 1: %q %v %v", hitIDs(hits), hits[0].Score, hits[1].Score)
	}
	expectIDs(t, e, fuzzy("autovacum tuples"), "vacuum")
	expectIDs(t, e, fuzzy("autovacum replicaton")) // every word must be similar
	expectIDs(t, e, fuzzy("autovacum or replicaton"), "vacuum", "repl", "replica", "lag")
	expectIDs(t, e, fuzzy("replica -elects"), "repl", "lag") // an exclusion excludes exact matches
	expectIDs(t, e, fuzzy("xq"))                             // no word long enough: nothing
	// Words shorter than five letters take no typo: found as they are.
	expectIDs(t, e, fuzzy("wal"), "repl")
	expectIDs(t, e, fuzzy("dead tuples"), "vacuum")
	expectIDs(t, e, fuzzy("wall"))
	expectIDs(t, e, fuzzy("ded tuples"))
	expectIDs(t, e, fuzzy("dead tuuples"), "vacuum") // pg_trgm: 0.6666667
	// A word of five to eight letters takes one typo, whatever its trigram
	// similarity: two letters swapped in "tuples" leave 0.2.
	expectIDs(t, e, fuzzy("tulpes"), "vacuum")
	expectIDs(t, e, fuzzy("tlupes")) // two typos
	expectIDs(t, e, fuzzy("elects"), "replica")
	expectIDs(t, e, fuzzy("elcets"), "replica")
	expectIDs(t, e, fuzzy("eelcts"), "replica") // swapped too
	expectIDs(t, e, fuzzy("elxcys"))
	expectIDs(t, e, fuzzy("-replication"))
	// A word matches one word of the text, never a stretch across words:
	// word_similarity('newyork', 'from new york') is 0.54545456 (6 of its
	// 8 trigrams in the stretch "new york"), but 0.375 with "new" and with
	// "york".
	if sim := websearch.WordSimilarity("newyork", "from new york"); float32(sim) != 0.54545456 {
		t.Errorf("word_similarity('newyork', 'from new york') = %v", sim)
	}
	expectIDs(t, e, fuzzy("newyork"))
	expectIDs(t, e, fuzzy("yorks"), "city")
	// A word a write brings is found at once.
	updateDoc(t, e, c.Name, "city", `{"title":"Trains","body":"from amsterdam"}`)
	expectIDs(t, e, fuzzy("amsterdm"), "city")
	expectIDs(t, e, fuzzy("yorks"))
}

func testTextHighlights(t *testing.T, e Engine) {
	c := textCollection(t, e, "marks", "english", map[string]int{"title": 4, "body": 1, "secret": 1})
	insertDocs(t, e, c.Name,
		doc{"a", `{"title":"Replication","body":"Streaming replication sends WAL records.","secret":"replication password"}`},
		doc{"b", "{\"title\":\"Odd \\u0002replication\\u0003 markers\",\"body\":\"nothing here\"}"},
	)
	for _, fuzzy := range []bool{false, true} {
		q := textQuery(c, "replication")
		if fuzzy {
			q.Query = "replicaton"
		}
		q.Fuzzy = fuzzy
		q.Highlight = []string{"title", "body"} // the caller may not see secret
		hits := search(t, e, q)
		if got := sortedIDs(hits); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("fuzzy %v: found %q", fuzzy, got)
		}
		for _, h := range hits {
			if _, ok := h.Highlights["secret"]; ok {
				t.Errorf("fuzzy %v: a highlight of a field not requested: %q", fuzzy, h.Highlights)
			}
			wantFields := []string{"title", "body"}
			if h.Document.ID == "b" {
				wantFields = []string{"title"} // its body did not match
			}
			got := slices.Sorted(func(yield func(string) bool) {
				for k := range h.Highlights {
					if !yield(k) {
						return
					}
				}
			})
			slices.Sort(wantFields)
			if !slices.Equal(got, wantFields) {
				t.Errorf("fuzzy %v: %s has highlights of %q, want %q", fuzzy, h.Document.ID, got, wantFields)
			}
			for f, sn := range h.Highlights {
				marked := markedWords(sn)
				if len(marked) == 0 || strings.Count(sn, searchdb.MarkStart) != strings.Count(sn, searchdb.MarkEnd) {
					t.Errorf("fuzzy %v: %s.%s highlight %q: want each match between the markers", fuzzy, h.Document.ID, f, sn)
				}
				for _, w := range marked {
					if !strings.EqualFold(w, "replication") {
						t.Errorf("fuzzy %v: %s.%s highlight marks %q", fuzzy, h.Document.ID, f, w)
					}
				}
			}
		}
	}
	// No highlight requested: none returned.
	for _, h := range search(t, e, textQuery(c, "replication")) {
		if len(h.Highlights) != 0 {
			t.Errorf("highlights nobody asked for: %q", h.Highlights)
		}
	}
}

// markedWords returns the texts between the markers of a highlight.
func markedWords(s string) []string {
	var out []string
	for {
		i := strings.Index(s, searchdb.MarkStart)
		if i < 0 {
			return out
		}
		s = s[i+len(searchdb.MarkStart):]
		j := strings.Index(s, searchdb.MarkEnd)
		if j < 0 {
			return append(out, "<unterminated>")
		}
		out = append(out, s[:j])
		s = s[j+len(searchdb.MarkEnd):]
	}
}

var (
	kindField  = query.Field{Path: []string{"kind"}, Type: query.TypeString}
	rankField  = query.Field{Path: []string{"rank"}, Type: query.TypeNumber}
	bodyField  = query.Field{Path: []string{"body"}, Type: query.TypeString}
	idSortKey  = query.SortKey{Field: query.Field{System: query.SystemID, Type: query.TypeString}}
	idSortDesc = query.SortKey{Field: query.Field{System: query.SystemID, Type: query.TypeString}, Desc: true}
)

func eq(f query.Field, v query.Value) query.Expr {
	return &query.Compare{Field: f, Op: query.OpEq, Value: v}
}

func testTextFilter(t *testing.T, e Engine) {
	c := textCollection(t, e, "filtered", "simple", map[string]int{"body": 1})
	insertDocs(t, e, c.Name,
		doc{"a", `{"body":"red apple","kind":"fruit","rank":1}`},
		doc{"b", `{"body":"red car","kind":"machine","rank":2}`},
		doc{"c", `{"body":"red berry","kind":"fruit","rank":3}`},
		doc{"d", `{"body":"green apple","kind":"fruit","rank":4}`},
	)
	for _, fuzzy := range []bool{false, true} {
		q := textQuery(c, "red")
		q.Fuzzy = fuzzy
		q.Filter = eq(kindField, query.Value{Kind: query.ValueString, Str: "fruit"})
		expectIDs(t, e, q, "a", "c")
		q.Filter = &query.And{Terms: []query.Expr{q.Filter,
			&query.Compare{Field: rankField, Op: query.OpGt, Value: query.Value{Kind: query.ValueNumber, Num: 1}}}}
		expectIDs(t, e, q, "c")
		q.Filter = &query.Not{X: eq(kindField, query.Value{Kind: query.ValueString, Str: "fruit"})}
		expectIDs(t, e, q, "b")
		// A filter naming a searchable field: a substring test, and no
		// matched word leaks through a hidden field's filter.
		q.Filter = &query.Compare{Field: bodyField, Op: query.OpContains, Value: query.Value{Kind: query.ValueString, Str: "app"}}
		expectIDs(t, e, q, "a")
	}
}

func testTextSortPages(t *testing.T, e Engine) {
	c := textCollection(t, e, "sorted", "simple", map[string]int{"body": 1})
	var docs []doc
	want := []string{}
	for i := range 13 {
		id := fmt.Sprintf("d%02d", i)
		body := "common words"
		if i%4 == 3 {
			body = "other words"
		} else {
			want = append(want, id)
		}
		docs = append(docs, doc{id, fmt.Sprintf(`{"body":%q,"rank":%d}`, body, i%5)})
	}
	insertDocs(t, e, c.Name, docs...)
	for _, sort := range [][]query.SortKey{
		{{Field: rankField, Desc: true}, idSortKey},
		{{Field: rankField}, idSortDesc},
		{idSortKey},
	} {
		var got []string
		var after []any
		for page := 0; ; page++ {
			if page > 20 {
				t.Fatal("paging does not end")
			}
			q := textQuery(c, "common")
			q.Sort, q.After, q.Limit = sort, after, 3
			hits := search(t, e, q)
			for _, h := range hits {
				if h.Score <= 0 {
					t.Errorf("with Sort, the score is still computed: %v", h.Score)
				}
				got = append(got, h.Document.ID)
			}
			if len(hits) < 3 {
				break
			}
			after = sortValues(t, hits[len(hits)-1].Document, sort)
		}
		// The order a list would give.
		expected := slices.Clone(want)
		slices.SortFunc(expected, func(a, b string) int {
			ra, rb := rankOf(a), rankOf(b)
			for _, k := range sort {
				var x int
				if k.Field.System == query.SystemID {
					x = strings.Compare(a, b)
				} else {
					x = ra - rb
				}
				if k.Desc {
					x = -x
				}
				if x != 0 {
					return x
				}
			}
			return 0
		})
		if !slices.Equal(got, expected) {
			t.Errorf("sort %v: pages gave %q, want %q", sort, got, expected)
		}
	}
}

func rankOf(id string) int {
	var n int
	_, _ = fmt.Sscanf(id, "d%d", &n)
	return n % 5
}

// sortValues returns the keyset of d for the keys of testTextSortPages.
func sortValues(t *testing.T, d docstore.Document, keys []query.SortKey) []any {
	t.Helper()
	var data struct{ Rank int64 }
	if err := json.Unmarshal(d.Data, &data); err != nil {
		t.Fatal(err)
	}
	out := make([]any, len(keys))
	for i, k := range keys {
		if k.Field.System == query.SystemID {
			out[i] = d.ID
		} else {
			out[i] = data.Rank
		}
	}
	return out
}

func testTextRelevancePages(t *testing.T, e Engine) {
	c := textCollection(t, e, "relevance", "simple", map[string]int{"title": 4, "body": 1})
	var docs []doc
	for i := range 30 {
		// Scores vary (title or body, longer or shorter text) and tie.
		title, body := "note", "river "+strings.Repeat("stone ", i%3)
		if i%5 == 0 {
			title = "river note"
		}
		docs = append(docs, doc{fmt.Sprintf("r%02d", i), fmt.Sprintf(`{"title":%q,"body":%q}`, title, body)})
	}
	docs = append(docs, doc{"x", `{"title":"lake","body":"stone"}`})
	insertDocs(t, e, c.Name, docs...)
	for _, fuzzy := range []bool{false, true} {
		seen := map[string]int{}
		var all []searchdb.TextHit
		var after []any
		for page := 0; ; page++ {
			if page > 40 {
				t.Fatal("paging does not end")
			}
			q := textQuery(c, "river")
			q.Fuzzy, q.After, q.Limit = fuzzy, after, 4
			hits := search(t, e, q)
			checkRelevanceOrder(t, hits)
			for _, h := range hits {
				seen[h.Document.ID]++
				all = append(all, h)
			}
			if len(hits) < 4 {
				break
			}
			last := hits[len(hits)-1]
			after = []any{last.Score, last.Document.ID}
			// Documents written between pages, matching or not, change
			// no score of the others.
			insertDocs(t, e, c.Name,
				doc{fmt.Sprintf("new%v%02d", fuzzy, page), `{"title":"river river river","body":"river"}`},
				doc{fmt.Sprintf("other%v%02d", fuzzy, page), `{"title":"pond","body":"` + strings.Repeat("reed ", 50) + `"}`})
		}
		checkRelevanceOrder(t, all)
		for i := range 30 {
			if id := fmt.Sprintf("r%02d", i); seen[id] != 1 {
				t.Errorf("fuzzy %v: %s was returned %d times across pages, want once", fuzzy, id, seen[id])
			}
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("fuzzy %v: %s returned %d times", fuzzy, id, n)
			}
		}
		if seen["x"] != 0 {
			t.Errorf("fuzzy %v: a document without the word was found", fuzzy)
		}
	}
}

// setText changes the text configuration of a collection.
func setText(t *testing.T, e Engine, c docstore.Collection, text *docstore.TextSearch) docstore.Collection {
	t.Helper()
	ctx := context.Background()
	next := c
	next.Version++
	next.UpdatedAt = c.UpdatedAt.Add(time.Second)
	next.Search.Text = text
	if err := e.Write(ctx, func(tx docstore.Tx) error { return tx.UpdateCollection(ctx, next, c.Version) }); err != nil {
		t.Fatalf("updating %s: %v", c.Name, err)
	}
	return next
}

func status(t *testing.T, e Engine, collection string) searchdb.BuildStatus {
	t.Helper()
	st, err := e.TextStatus(context.Background(), collection)
	if err != nil {
		t.Fatalf("TextStatus: %v", err)
	}
	return st
}

// build runs BuildText in batches of batch until it is done, checking that
// TextStatus reports progress, and returns the number of calls.
func build(t *testing.T, e Engine, collection string, batch int, between func(call int)) int {
	t.Helper()
	prev := int64(-1)
	for call := 1; ; call++ {
		if call > 1000 {
			t.Fatal("BuildText never finishes")
		}
		done, err := e.BuildText(context.Background(), collection, batch)
		if err != nil {
			t.Fatalf("BuildText: %v", err)
		}
		st := status(t, e, collection)
		if done {
			if st.Building || st.Indexed != st.Total {
				t.Errorf("after the build: %+v, want Indexed = Total and not Building", st)
			}
			return call
		}
		if !st.Building || st.Indexed > st.Total || st.Indexed < prev {
			t.Errorf("during the build: %+v (indexed before: %d)", st, prev)
		}
		prev = st.Indexed
		if between != nil {
			between(call)
		}
	}
}

func testTextBuild(t *testing.T, e Engine) {
	c := textCollection(t, e, "rebuilt", "english", map[string]int{"title": 1})
	var docs []doc
	for i := range 10 {
		docs = append(docs, doc{fmt.Sprintf("b%02d", i), fmt.Sprintf(`{"title":"alpha %d","body":"omega %d"}`, i, i)})
	}
	insertDocs(t, e, c.Name, docs...)
	if st := status(t, e, c.Name); st.Building || st.Indexed != 10 || st.Total != 10 {
		t.Errorf("status of a collection created searchable: %+v", st)
	}
	if done, err := e.BuildText(context.Background(), c.Name, 5); err != nil || !done {
		t.Errorf("BuildText with nothing to build: %v, %v", done, err)
	}
	expectIDs(t, e, textQuery(c, "alpha"), hitIDs(toHits(docs))...)

	c = setText(t, e, c, &docstore.TextSearch{Fields: map[string]int{"body": 2}, Language: "english"})
	st := status(t, e, c.Name)
	if !st.Building || st.Total != 10 || st.Indexed >= 10 {
		t.Errorf("status after a change: %+v, want Building with documents to index", st)
	}
	// While building, a document not yet indexed under the new
	// configuration may still be found under the old one (PostgreSQL
	// keeps its old tsvector) or not at all (SQLite); one the build has
	// indexed is found under the new configuration only.
	calls := build(t, e, c.Name, 3, func(int) {
		for _, h := range search(t, e, textQuery(c, "omega")) {
			for _, old := range search(t, e, textQuery(c, "alpha")) {
				if old.Document.ID == h.Document.ID {
					t.Errorf("%s is found under both configurations", h.Document.ID)
				}
			}
		}
	})
	if calls < 4 {
		t.Errorf("BuildText of 10 documents in batches of 3 took %d calls", calls)
	}
	expectIDs(t, e, textQuery(c, "omega"), hitIDs(toHits(docs))...)
	expectIDs(t, e, textQuery(c, "alpha"))

	// A change of the weights or the language alone rebuilds too; an
	// unchanged configuration does not.
	c = setText(t, e, c, &docstore.TextSearch{Fields: map[string]int{"body": 2}, Language: "english"})
	if st := status(t, e, c.Name); st.Building {
		t.Errorf("an unchanged configuration started a build: %+v", st)
	}
	c = setText(t, e, c, &docstore.TextSearch{Fields: map[string]int{"body": 3}, Language: "simple"})
	if st := status(t, e, c.Name); !st.Building {
		t.Errorf("a change of weight and language started no build: %+v", st)
	}
	build(t, e, c.Name, 100, nil)
	expectIDs(t, e, textQuery(c, "omega"), hitIDs(toHits(docs))...)

	// Removing the configuration: the collection is no longer searchable.
	c = setText(t, e, c, nil)
	if _, err := e.SearchText(context.Background(), searchdb.TextQuery{Collection: c.Name, Query: "omega", Limit: 5}); !fault.Is(err, fault.Invalid) {
		t.Errorf("search after the text configuration was removed: %v, want Invalid", err)
	}
}

func toHits(docs []doc) []searchdb.TextHit {
	out := make([]searchdb.TextHit, len(docs))
	for i, d := range docs {
		out[i].Document.ID = d.id
	}
	return out
}

func testTextWritesDuringBuild(t *testing.T, e Engine) {
	c := textCollection(t, e, "busy", "simple", map[string]int{"title": 1})
	var docs []doc
	for i := range 12 {
		docs = append(docs, doc{fmt.Sprintf("w%02d", i), fmt.Sprintf(`{"title":"old %d","body":"fresh %d"}`, i, i)})
	}
	insertDocs(t, e, c.Name, docs...)
	c = setText(t, e, c, &docstore.TextSearch{Fields: map[string]int{"body": 1}, Language: "simple"})
	// A write right after the change is indexed under the new
	// configuration at once.
	insertDocs(t, e, c.Name, doc{"w99", `{"body":"fresh late"}`})
	expectIDs(t, e, textQuery(c, "late"), "w99")
	build(t, e, c.Name, 4, func(call int) {
		switch call {
		case 1: // behind and ahead of the build's position
			updateDoc(t, e, c.Name, "w00", `{"body":"changed early"}`)
			updateDoc(t, e, c.Name, "w10", `{"body":"changed late"}`)
			deleteDoc(t, e, c.Name, "w11")
			insertDocs(t, e, c.Name, doc{"w005", `{"body":"fresh inserted"}`}, doc{"w50", `{"body":"fresh inserted"}`})
		case 2:
			deleteDoc(t, e, c.Name, "w01")
		}
	})
	want := []string{"w005", "w50", "w99"}
	for i := 2; i <= 9; i++ {
		want = append(want, fmt.Sprintf("w%02d", i))
	}
	expectIDs(t, e, textQuery(c, "fresh"), want...)
	expectIDs(t, e, textQuery(c, "changed"), "w00", "w10")
	expectIDs(t, e, textQuery(c, "late"), "w10", "w99")
	if st := status(t, e, c.Name); st.Total != 13 || st.Indexed != 13 {
		t.Errorf("status: %+v, want 13 of 13", st)
	}
}

func testTextNotConfigured(t *testing.T, e Engine) {
	ctx := context.Background()
	c := docstore.Collection{Name: "plain", Version: 1, Schema: json.RawMessage(`{"type":"object"}`),
		CreatedAt: epoch, UpdatedAt: epoch}
	if err := e.Write(ctx, func(tx docstore.Tx) error { return tx.CreateCollection(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	insertDocs(t, e, c.Name, doc{"a", `{"title":"words"}`})
	_, err := e.SearchText(ctx, searchdb.TextQuery{Collection: c.Name, Query: "words", Limit: 10,
		Text: docstore.TextSearch{Fields: map[string]int{"title": 1}}})
	if !fault.Is(err, fault.Invalid) || !strings.Contains(fault.Message(err), "not configured for full-text search") {
		t.Errorf("SearchText on a collection without text search: %v, want Invalid", err)
	}
	if _, err := e.TextStatus(ctx, c.Name); !fault.Is(err, fault.Invalid) {
		t.Errorf("TextStatus on a collection without text search: %v, want Invalid", err)
	}
	if done, err := e.BuildText(ctx, c.Name, 10); err != nil || !done {
		t.Errorf("BuildText on a collection without text search: %v, %v; want done", done, err)
	}
	// Configuring it later indexes what it holds.
	c = setText(t, e, c, &docstore.TextSearch{Fields: map[string]int{"title": 1}, Language: "simple"})
	build(t, e, c.Name, 10, nil)
	expectIDs(t, e, textQuery(c, "words"), "a")
}

func testTextMissingCollection(t *testing.T, e Engine) {
	ctx := context.Background()
	_, err := e.SearchText(ctx, searchdb.TextQuery{Collection: "nowhere", Query: "x", Limit: 10,
		Text: docstore.TextSearch{Fields: map[string]int{"title": 1}}})
	if !fault.Is(err, fault.NotFound) {
		t.Errorf("SearchText on a missing collection: %v, want NotFound", err)
	}
	if _, err := e.TextStatus(ctx, "nowhere"); !fault.Is(err, fault.NotFound) {
		t.Errorf("TextStatus on a missing collection: %v, want NotFound", err)
	}
	if _, err := e.BuildText(ctx, "nowhere", 10); !fault.Is(err, fault.NotFound) {
		t.Errorf("BuildText on a missing collection: %v, want NotFound", err)
	}
	// A deleted collection is missing, and so is its index.
	c := textCollection(t, e, "gone", "simple", map[string]int{"title": 1})
	insertDocs(t, e, c.Name, doc{"a", `{"title":"words"}`})
	if err := e.Write(ctx, func(tx docstore.Tx) error { return tx.DeleteCollection(ctx, c.Name, c.Version) }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SearchText(ctx, textQuery(c, "words")); !fault.Is(err, fault.NotFound) {
		t.Errorf("SearchText on a deleted collection: %v, want NotFound", err)
	}
	// Created again, it starts empty.
	c = textCollection(t, e, "gone", "simple", map[string]int{"title": 1})
	expectIDs(t, e, textQuery(c, "words"))
}

func testTextWrites(t *testing.T, e Engine) {
	c := textCollection(t, e, "live", "english", map[string]int{"title": 1})
	insertDocs(t, e, c.Name, doc{"a", `{"title":"granite quarry"}`}, doc{"b", `{"title":"granite"}`})
	for _, fuzzy := range []bool{false, true} {
		q := textQuery(c, "granite")
		q.Fuzzy = fuzzy
		expectIDs(t, e, q, "a", "b")
	}
	updateDoc(t, e, c.Name, "a", `{"title":"marble quarry"}`)
	expectIDs(t, e, textQuery(c, "granite"), "b")
	expectIDs(t, e, textQuery(c, "marble"), "a")
	updateDoc(t, e, c.Name, "a", `{"other":"granite"}`) // no longer any searchable text
	expectIDs(t, e, textQuery(c, "marble"))
	expectIDs(t, e, textQuery(c, "granite"), "b")
	deleteDoc(t, e, c.Name, "b")
	for _, fuzzy := range []bool{false, true} {
		q := textQuery(c, "granite")
		q.Fuzzy = fuzzy
		expectIDs(t, e, q)
	}
	insertDocs(t, e, c.Name, doc{"b", `{"title":"basalt"}`}) // the id again
	expectIDs(t, e, textQuery(c, "basalt"), "b")
}

func testTextInjection(t *testing.T, e Engine) {
	c := textCollection(t, e, "hostile", "simple", map[string]int{"title": 1, "body": 1})
	insertDocs(t, e, c.Name,
		doc{"a", `{"title":"drop table users","body":"near the end"}`},
		doc{"b", `{"title":"plain","body":"title body rank"}`},
	)
	for _, q := range []string{
		`'; DROP TABLE docs_hostile; --`, `"`, `"""`, `*`, `a*`, `^plain`, `title:plain`, `{title body}:plain`,
		`NEAR(drop table)`, `drop AND NOT table`, `plain OR`, `(plain)`, `\`, `$1`, `?`, `:a`, `@x`,
		`plain) OR (1=1`, "plain\x00", `rank`, `bm25`, `-`, `--`, `- -plain`, `')--`, `%`, `_`,
		`websearch_to_tsquery('x')`, `plain & table | !drop`, `plain <-> body`, `plain:*`, "\x02plain\x03",
	} {
		for _, fuzzy := range []bool{false, true} {
			x := textQuery(c, q)
			x.Fuzzy = fuzzy
			x.Highlight = []string{"title", "body"}
			if _, err := e.SearchText(context.Background(), x); err != nil && !fault.Is(err, fault.Invalid) {
				t.Errorf("query %q (fuzzy %v): %v, want hits or Invalid", q, fuzzy, err)
			}
		}
	}
	// Operators are words: these find what the words find.
	expectIDs(t, e, textQuery(c, `drop AND NOT table`))
	expectIDs(t, e, textQuery(c, `NEAR(drop table)`))
	expectIDs(t, e, textQuery(c, `drop table`), "a")
	expectIDs(t, e, textQuery(c, `title:plain`))
	expectIDs(t, e, textQuery(c, `title body`), "b")
	expectIDs(t, e, textQuery(c, `plain) OR (1=1`), "b") // plain, or 1 and 1
	// Everything is still there.
	expectIDs(t, e, textQuery(c, "plain"), "b")
	if _, err := e.GetDocument(context.Background(), c.Name, "a"); err != nil {
		t.Errorf("a document is gone: %v", err)
	}
}

func testTextLimits(t *testing.T, e Engine) {
	c := textCollection(t, e, "limits", "simple", map[string]int{"title": 1})
	insertDocs(t, e, c.Name, doc{"a", `{"title":"w"}`})
	long := strings.Repeat("w", websearch.MaxQueryBytes+1)
	many := strings.TrimSpace(strings.Repeat("w ", websearch.MaxTerms+1))
	for _, q := range []string{long, many, "w \xff"} {
		for _, fuzzy := range []bool{false, true} {
			x := textQuery(c, q)
			x.Fuzzy = fuzzy
			if _, err := e.SearchText(context.Background(), x); !fault.Is(err, fault.Invalid) {
				t.Errorf("query of %d bytes (fuzzy %v): %v, want Invalid", len(q), fuzzy, err)
			}
		}
	}
	expectIDs(t, e, textQuery(c, strings.TrimSpace(strings.Repeat("w ", websearch.MaxTerms))), "a")
	// A relevance cursor of the wrong shape is Invalid.
	x := textQuery(c, "w")
	x.After = []any{"not a score"}
	if _, err := e.SearchText(context.Background(), x); !fault.Is(err, fault.Invalid) {
		t.Errorf("a malformed relevance cursor: %v, want Invalid", err)
	}
}
