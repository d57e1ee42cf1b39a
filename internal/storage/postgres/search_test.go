package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
	"github.com/basaltdev/basalt/internal/search/searchdb"
	"github.com/basaltdev/basalt/internal/search/websearch"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

var searchSchema = json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"body":{"type":"string"},` +
	`"tags":{"type":"array","items":{"type":"string"}},"n":{"type":"number"}}}`)

var textConfig1 = &docstore.TextSearch{Fields: map[string]int{"title": 4, "body": 1}, Language: "english"}

func createSearchable(t *testing.T, s *Store, name string, text *docstore.TextSearch, docs map[string]string) {
	t.Helper()
	now := time.Unix(1_700_000_000, 0).UTC()
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		if err := tx.CreateCollection(ctx, docstore.Collection{Name: name, Schema: searchSchema, Version: 1,
			CreatedAt: now, UpdatedAt: now, Search: docstore.Search{Text: text}}); err != nil {
			return err
		}
		for _, id := range slices.Sorted(func(yield func(string) bool) {
			for id := range docs {
				if !yield(id) {
					return
				}
			}
		}) {
			if err := tx.InsertDocument(ctx, docstore.Document{Collection: name, ID: id, Version: 1, CreatedAt: now,
				UpdatedAt: now, Data: json.RawMessage(docs[id])}); err != nil {
				return err
			}
		}
		return nil
	})
}

func searchIDs(t *testing.T, s *Store, q searchdb.TextQuery) ([]string, []searchdb.TextHit) {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Text.Fields == nil {
		q.Text = *textConfig1
	}
	hits, err := s.SearchText(context.Background(), q)
	if err != nil {
		t.Fatalf("SearchText(%q): %v", q.Query, err)
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.Document.ID
	}
	return ids, hits
}

var sampleDocs = map[string]string{
	"a": `{"title":"Streaming replication","body":"Replication slots keep WAL for standbys that are not connected."}`,
	"b": `{"title":"Logical decoding","body":"Logical replication publishes changes row by row to subscribers."}`,
	"c": `{"title":"Vacuum","body":"Vacuum reclaims storage occupied by dead tuples; the quick brown fox."}`,
	"d": `{"title":"Indexes","body":"A GIN index serves full text search over tsvector columns.","tags":["gin","fts"]}`,
	"e": `{"title":"Quick start","body":"Install the server and create a database.","n":3}`,
}

func TestSearchTextQueries(t *testing.T) {
	t.Parallel()
	s := open(t, Options{})
	createSearchable(t, s, "docs", textConfig1, sampleDocs)
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"replication", []string{"a", "b"}}, // a's title weighs more
		{"replicated", []string{"a", "b"}},  // stemmed
		{`"logical replication"`, []string{"b"}},
		{"replication -logical", []string{"a"}},
		{"vacuum OR install", []string{"c", "e"}},
		{"quick", []string{"e", "c"}},
		{"-replication", nil},
		{"the", nil},
		{"replication OR -vacuum", []string{"a", "b"}},
		{"nothing matches this", nil},
		{"", nil},
	} {
		got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: c.q})
		if !slices.Equal(got, c.want) {
			t.Errorf("%q found %v, want %v", c.q, got, c.want)
		}
	}
}

func TestSearchTextHighlightsAndScore(t *testing.T) {
	t.Parallel()
	s := open(t, Options{})
	docs := map[string]string{
		"long":  `{"title":"Replication","body":"` + strings.Repeat("filler words here ", 30) + `streaming replication is fast` + strings.Repeat(" more filler words", 30) + `"}`,
		"ctrl":  `{"title":"x\u0002y","body":"the replication \u0003 of bytes"}`,
		"short": `{"title":"Nothing","body":"replication"}`,
	}
	createSearchable(t, s, "docs", textConfig1, docs)
	_, hits := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "replication", Highlight: []string{"title", "body", "tags"}})
	byID := map[string]searchdb.TextHit{}
	for _, h := range hits {
		byID[h.Document.ID] = h
		if h.Score <= 0 {
			t.Errorf("%s: score %v", h.Document.ID, h.Score)
		}
	}
	if len(byID) != 3 {
		t.Fatalf("hits %v", hits)
	}
	if hl := byID["long"].Highlights; hl["title"] != "\x02Replication\x03" ||
		!strings.HasPrefix(hl["body"], "…") || !strings.HasSuffix(hl["body"], "…") ||
		!strings.Contains(hl["body"], "streaming \x02replication\x03 is fast") {
		t.Errorf("highlights of long: %q", hl)
	}
	if hl := byID["ctrl"].Highlights; hl["body"] != "…\x02replication\x03  of bytes" && hl["body"] != "the \x02replication\x03  of bytes" {
		t.Errorf("highlights of ctrl: %q", hl)
	}
	if _, ok := byID["ctrl"].Highlights["title"]; ok {
		t.Errorf("a field that did not match has a highlight: %q", byID["ctrl"].Highlights)
	}
	if hl := byID["short"].Highlights; hl["body"] != "\x02replication\x03" {
		t.Errorf("highlights of short: %q", hl)
	}
	// An excluded word is not marked in a document another group found.
	_, hits = searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "nothing -replication OR fast", Highlight: []string{"body"}})
	if len(hits) != 1 || hits[0].Document.ID != "long" || strings.Contains(hits[0].Highlights["body"], "\x02replication") ||
		!strings.Contains(hits[0].Highlights["body"], "\x02fast\x03") {
		t.Errorf("hits of a query with an exclusion: %v", hits)
	}
	// Scores are the same on every run, and cursors page through exactly.
	var all []string
	var after []any
	for range 5 {
		ids, page := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "replication", Limit: 1, After: after})
		if len(page) == 0 {
			break
		}
		all = append(all, ids...)
		after = []any{page[0].Score, page[0].Document.ID}
	}
	want, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "replication"})
	if !slices.Equal(all, want) || len(all) != 3 {
		t.Errorf("pages %v, want %v", all, want)
	}
}

func TestSearchTextSortFilter(t *testing.T) {
	t.Parallel()
	s := open(t, Options{})
	docs := map[string]string{}
	for i := range 20 {
		n := "null"
		if i%4 != 0 {
			n = fmt.Sprint(i % 5)
		}
		docs[fmt.Sprintf("d%02d", i)] = fmt.Sprintf(`{"title":"postgres note %d","body":"about indexes","n":%s}`, i, n)
	}
	createSearchable(t, s, "docs", textConfig1, docs)
	n := query.Field{Path: []string{"n"}, Type: query.TypeNumber}
	for _, desc := range []bool{false, true} {
		sort := []query.SortKey{{Field: n, Desc: desc}, {Field: idField}}
		want, err := s.ListDocuments(context.Background(), docstore.ListParams{Collection: "docs", Sort: sort})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		var after []any
		for range 30 {
			ids, page := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "postgres", Sort: sort, Limit: 3, After: after})
			if len(page) == 0 {
				break
			}
			got = append(got, ids...)
			last := page[len(page)-1].Document
			var data struct{ N *json.Number }
			if err := json.Unmarshal(last.Data, &data); err != nil {
				t.Fatal(err)
			}
			after = []any{nil, last.ID}
			if data.N != nil {
				after[0] = *data.N
			}
		}
		var wantIDs []string
		for _, d := range want {
			wantIDs = append(wantIDs, d.ID)
		}
		if !slices.Equal(got, wantIDs) {
			t.Errorf("desc=%v: pages %v, want %v", desc, got, wantIDs)
		}
	}
	filter := &query.Compare{Field: n, Op: query.OpGe, Value: query.Value{Kind: query.ValueNumber, Num: 3}}
	got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "indexes", Filter: filter,
		Sort: []query.SortKey{{Field: idField}}})
	if want := []string{"d03", "d09", "d13", "d14", "d18", "d19"}; !slices.Equal(got, want) {
		t.Errorf("filtered: %v, want %v", got, want)
	}
}

func TestSearchTextFuzzy(t *testing.T) {
	t.Parallel()
	s := open(t, Options{})
	createSearchable(t, s, "docs", textConfig1, sampleDocs)
	got, hits := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "replicaton", Fuzzy: true, Highlight: []string{"title", "body"}})
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("fuzzy replicaton: %v", got)
	}
	// The greatest over the fields of the word's similarity in the field
	// times the field's rank weight (title 1.0, body 0.1).
	wantA := float64(float32(0.72727275)) * 1.0
	wantB := max(websearch.WordSimilarity("replicaton", "Logical decoding")*1.0,
		websearch.WordSimilarity("replicaton", "Logical replication publishes changes row by row to subscribers.")*0.1)
	if hits[0].Score != wantA || hits[1].Score != wantB {
		t.Errorf("scores %v and %v, want %v and %v", hits[0].Score, hits[1].Score, wantA, wantB)
	}
	if hl := hits[0].Highlights["title"]; hl != "Streaming \x02replication\x03" {
		t.Errorf("fuzzy highlight %q", hl)
	}
	for q, want := range map[string][]string{
		"replicaton -logical":      {"a"},
		"vacum OR instal":          {"c", "e"}, // c's title weighs more than e's body
		"qiuck brwon":              {"c"},      // one typo each: two letters swapped
		"databse":                  {"e"},
		"-replicaton":              nil,
		"xy":                       nil,
		"streeming replicaton":     {"a"},
		"replicaton -\"dead tup\"": {"a", "b"},
	} {
		if got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: q, Fuzzy: true}); !slices.Equal(got, want) {
			t.Errorf("fuzzy %q: %v, want %v", q, got, want)
		}
	}
}

func TestSearchTextConfigChangeAndBuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	createSearchable(t, s, "docs", nil, sampleDocs)
	if _, err := s.SearchText(ctx, searchdb.TextQuery{Collection: "docs", Query: "x", Limit: 5, Text: *textConfig1}); !fault.Is(err, fault.Invalid) {
		t.Fatalf("search without configuration: %v", err)
	}
	if _, err := s.SearchText(ctx, searchdb.TextQuery{Collection: "nosuch", Query: "x", Limit: 5, Text: *textConfig1}); !fault.Is(err, fault.NotFound) {
		t.Fatalf("search of a missing collection: %v", err)
	}
	if done, err := s.BuildText(ctx, "docs", 2); err != nil || !done {
		t.Fatalf("BuildText without configuration: %v %v", done, err)
	}
	update := func(text *docstore.TextSearch) {
		t.Helper()
		c, err := s.GetCollection(ctx, "docs")
		if err != nil {
			t.Fatal(err)
		}
		prev := c.Version
		c.Version++
		c.Search.Text = text
		mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateCollection(ctx, c, prev) })
	}
	status := func() searchdb.BuildStatus {
		t.Helper()
		st, err := s.TextStatus(ctx, "docs")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	update(textConfig1)
	if st := status(); !st.Building || st.Indexed != 0 || st.Total != 5 {
		t.Fatalf("status after enabling: %+v", st)
	}
	if got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "replication"}); len(got) != 0 {
		t.Fatalf("found %v before the build", got)
	}
	// A write is indexed at once.
	now := time.Unix(1_700_000_500, 0).UTC()
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		return tx.UpdateDocument(ctx, docstore.Document{Collection: "docs", ID: "b", Version: 2, CreatedAt: now, UpdatedAt: now,
			Data: json.RawMessage(`{"title":"Logical replication"}`)}, 1)
	})
	if got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "replication"}); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after a write during the build: %v", got)
	}
	if st := status(); !st.Building || st.Indexed != 1 {
		t.Fatalf("status after a write: %+v", st)
	}
	steps := 0
	for {
		done, err := s.BuildText(ctx, "docs", 2)
		if err != nil {
			t.Fatal(err)
		}
		steps++
		if done {
			break
		}
	}
	if steps != 3 {
		t.Errorf("5 documents in batches of 2 took %d steps", steps)
	}
	if st := status(); st.Building || st.Indexed != 5 || st.Total != 5 {
		t.Fatalf("status after the build: %+v", st)
	}
	if got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "replication"}); !slices.Equal(got, []string{"b", "a"}) {
		t.Fatalf("after the build: %v", got)
	}
	// Another configuration: body only, in simple (no stemming).
	update(&docstore.TextSearch{Fields: map[string]int{"body": 2}, Language: "simple"})
	if st := status(); !st.Building || st.Indexed != 0 {
		t.Fatalf("status after a change: %+v", st)
	}
	for done := false; !done; {
		var err error
		if done, err = s.BuildText(ctx, "docs", 100); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "replication"}); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("body only: %v", got)
	}
	if got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "publishes"}); len(got) != 0 {
		t.Fatalf("b's old body is still found: %v", got)
	}
	// Disabled: the columns go.
	update(nil)
	if _, err := s.TextStatus(ctx, "docs"); !fault.Is(err, fault.Invalid) {
		t.Fatalf("status without configuration: %v", err)
	}
	var cols int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_name = 'docs_docs' AND column_name LIKE 'search%'`).Scan(&cols); err != nil || cols != 0 {
		t.Fatalf("search columns left: %d %v", cols, err)
	}
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		return tx.UpdateDocument(ctx, docstore.Document{Collection: "docs", ID: "b", Version: 3, CreatedAt: now, UpdatedAt: now,
			Data: json.RawMessage(`{"title":"again"}`)}, 2)
	})
}

func TestSearchTextUsesIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	createSearchable(t, s, "docs", textConfig1, nil)
	if _, err := s.pool.Exec(ctx, `INSERT INTO docs_docs (id, version, created_at, updated_at, raw, data)
		SELECT 'i' || lpad(i::text, 6, '0'), 1, 0, 0, '{}',
		       jsonb_build_object('title', 'word' || i, 'body', 'common text number ' || i)
		FROM generate_series(1, 5000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE docs_docs`); err != nil {
		t.Fatal(err)
	}
	for _, fuzzy := range []bool{false, true} {
		tq := searchdb.TextQuery{Collection: "docs", Query: "word4321", Fuzzy: fuzzy, Limit: 10, Text: *textConfig1}
		var plan string
		err := s.inReadTx(ctx, "test", func(q pgx.Tx) error {
			pq, err := websearch.Parse(tq.Query)
			if err != nil {
				return err
			}
			cq, err := compileQuery(ctx, q, "test", "docs", pq, fuzzy)
			if err != nil {
				return err
			}
			text, args, _, err := compileSearch("docs_docs", tq, cq)
			if err != nil {
				return err
			}
			// The table is small: make the planner show that the query
			// can read the index, which is what a large table needs.
			if _, err := q.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
				return err
			}
			plan = explainOn(t, q, text, args)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// A typo-tolerant query reads the tsvector's index too, for the
		// vocabulary's words similar to its own.
		if want := "sx_tsv_docs"; !strings.Contains(plan, want) || strings.Contains(plan, "Seq Scan") {
			t.Errorf("fuzzy=%v: the plan does not use %s:\n%s", fuzzy, want, plan)
		}
		got, _ := searchIDs(t, s, tq)
		if len(got) == 0 || got[0] != "i004321" {
			t.Errorf("fuzzy=%v: %v", fuzzy, got)
		}
	}
}

// TestSearchMigrationOnExistingDatabase applies migrations 00009 and 00010
// to a database that already holds collections, then configures search on
// one.
func TestSearchMigrationOnExistingDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	old := &Store{pool: pool, acquireTimeout: 2 * time.Second, log: slog.New(slog.DiscardHandler)}
	createSearchable(t, old, "docs", nil, sampleDocs)

	if _, err := p.UpTo(ctx, 9); err != nil {
		t.Fatal(err)
	}
	// A collection configured for text search under migration 00009, with
	// its trigram index over the whole text.
	v9 := &Store{pool: pool, acquireTimeout: 2 * time.Second, log: slog.New(slog.DiscardHandler)}
	createSearchable(t, v9, "other", textConfig1, sampleDocs)
	// The index syncText made under 00009 (it makes none today).
	if _, err := pool.Exec(ctx, `CREATE INDEX sx_trg_other ON docs_other USING gin (search_text gin_trgm_ops)`); err != nil {
		t.Fatal(err)
	}
	var trgm int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE indexname = 'sx_trg_other'`).Scan(&trgm); err != nil || trgm != 1 {
		t.Fatalf("the trigram index of migration 00009: %d, %v", trgm, err)
	}

	s := open(t, Options{URL: url}) // migrates to the latest version
	// 00010 fills the vocabulary of the configured collection and drops the
	// trigram index it no longer needs.
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE indexname = 'sx_trg_other'`).Scan(&trgm); err != nil || trgm != 0 {
		t.Fatalf("the trigram index after migration 00010: %d, %v", trgm, err)
	}
	if got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "other", Query: "replicaton", Fuzzy: true}); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("typo-tolerant search after migration 00010: %v", got)
	}
	c, err := s.GetCollection(ctx, "docs")
	if err != nil {
		t.Fatal(err)
	}
	c.Version++
	c.Search = docstore.Search{Text: textConfig1, Vectors: map[string]docstore.VectorField{"emb": {Dimensions: 2}}}
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateCollection(ctx, c, 1) })
	for done := false; !done; {
		if done, err = s.BuildText(ctx, "docs", 2); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "replication"}); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after the migration and the build: %v", got)
	}
	if got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "replicaton", Fuzzy: true}); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("typo-tolerant, after the migration and the build: %v", got)
	}
	n, err := s.PutVectors(ctx, []searchdb.StoredVector{{Collection: "docs", DocumentID: "a", Field: "emb", Version: 1,
		Vector: []float32{1, 2}}}, func(v searchdb.StoredVector) (eventbus.Event, error) {
		return eventbus.Event{ID: "vec-a", Type: eventbus.SearchVectors, Collection: v.Collection, DocumentID: v.DocumentID,
			Version: v.Version, Payload: json.RawMessage(`{}`), Time: time.Now()}, nil
	})
	if err != nil || n != 1 {
		t.Fatalf("PutVectors = %d, %v", n, err)
	}
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.DeleteDocument(ctx, "docs", "a", 1) })
	if vs, err := s.GetVectors(ctx, "docs", "emb", []string{"a"}); err != nil || len(vs) != 0 {
		t.Fatalf("vectors of a deleted document: %v %v", vs, err)
	}
}

// TestSearchSQLHoldsNoUserText checks that queries, field paths and
// languages reach the server as bound values, never as SQL text.
func TestSearchSQLHoldsNoUserText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	evil := `x'); DROP TABLE collections; --`
	text := &docstore.TextSearch{Fields: map[string]int{"title": 4, "body": 1}, Language: "english"}
	createSearchable(t, s, "docs", text, map[string]string{"a": `{"title":"x drop table collections"}`})
	for _, fuzzy := range []bool{false, true} {
		tq := searchdb.TextQuery{Collection: "docs", Text: *text, Query: evil + ` "` + evil + `" -zzzz OR collections`,
			Fuzzy: fuzzy, Limit: 5, Highlight: []string{"title"}}
		pq, err := websearch.Parse(tq.Query)
		if err != nil {
			t.Fatal(err)
		}
		err = s.inReadTx(ctx, "test", func(q pgx.Tx) error {
			cq, err := compileQuery(ctx, q, "test", "docs", pq, fuzzy)
			if err != nil {
				return err
			}
			sql, args, _, err := compileSearch("docs_docs", tq, cq)
			if err != nil {
				return err
			}
			for _, w := range []string{"drop", "DROP", "collections", "zzzz", "title"} {
				if strings.Contains(sql, w) {
					t.Errorf("fuzzy=%v: the SQL text holds %q:\n%s", fuzzy, w, sql)
				}
			}
			if len(args) == 0 {
				t.Errorf("no bound arguments")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := searchIDs(t, s, tq); !slices.Equal(got, []string{"a"}) {
			t.Errorf("fuzzy=%v: %v", fuzzy, got)
		}
	}
	// A language is a bound regconfig: an unknown one is refused and
	// changes nothing.
	now := time.Unix(1_700_000_000, 0).UTC()
	err := s.Write(ctx, func(tx docstore.Tx) error {
		return tx.CreateCollection(ctx, docstore.Collection{Name: "other", Schema: searchSchema, Version: 1, CreatedAt: now,
			UpdatedAt: now, Search: docstore.Search{Text: &docstore.TextSearch{Fields: map[string]int{"title": 1},
				Language: "english'::regconfig); DROP TABLE collections; --"}}})
	})
	if !fault.Is(err, fault.Invalid) {
		t.Fatalf("unknown language: %v, want Invalid", err)
	}
	if _, err := s.GetCollection(ctx, "other"); !fault.Is(err, fault.NotFound) {
		t.Fatalf("the refused collection exists: %v", err)
	}
	// Field paths are values of search_builds.
	var fields []string
	if err := s.pool.QueryRow(ctx, `SELECT fields FROM search_builds WHERE collection = 'docs'`).Scan(&fields); err != nil ||
		!slices.Equal(fields, []string{"body", "title"}) {
		t.Fatalf("stored fields %v, %v", fields, err)
	}
}

// TestBuildTextConcurrent runs the build from several callers at once
// while documents are written, as several processes would.
func TestBuildTextConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{MaxConns: 8})
	docs := map[string]string{}
	for i := range 300 {
		docs[fmt.Sprintf("d%03d", i)] = fmt.Sprintf(`{"title":"original %d"}`, i)
	}
	createSearchable(t, s, "docs", nil, docs)
	c, err := s.GetCollection(ctx, "docs")
	if err != nil {
		t.Fatal(err)
	}
	c.Version++
	c.Search.Text = textConfig1
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateCollection(ctx, c, 1) })
	errs := make(chan error, 5)
	for range 4 {
		go func() {
			for {
				done, err := s.BuildText(ctx, "docs", 7)
				if err != nil || done {
					errs <- err
					return
				}
			}
		}()
	}
	go func() { // writes during the build
		now := time.Unix(1_700_000_900, 0).UTC()
		for i := 0; i < 300; i += 10 {
			err := s.Write(ctx, func(tx docstore.Tx) error {
				return tx.UpdateDocument(ctx, docstore.Document{Collection: "docs", ID: fmt.Sprintf("d%03d", i), Version: 2,
					CreatedAt: now, UpdatedAt: now, Data: json.RawMessage(fmt.Sprintf(`{"title":"changed %d"}`, i))}, 1)
			})
			if err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	for range 5 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.TextStatus(ctx, "docs")
	if err != nil || st.Building || st.Indexed != 300 || st.Total != 300 {
		t.Fatalf("status %+v, %v", st, err)
	}
	before, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "original", Limit: 1000})
	after, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "changed", Limit: 1000})
	if len(before) != 270 || len(after) != 30 {
		t.Fatalf("%d documents found by their old text, %d by the new one; want 270 and 30", len(before), len(after))
	}
}

// TestSearchTextSplitsPathsAndHosts checks that net/http, index.html and
// go.dev are read as separate words, and that snippets show the original
// characters.
func TestSearchTextSplitsPathsAndHosts(t *testing.T) {
	t.Parallel()
	s := open(t, Options{})
	createSearchable(t, s, "docs", textConfig1, map[string]string{
		"a": `{"title":"net/http","body":"Package http serves index.html; see go.dev/doc or mail me@example.com."}`,
		"b": `{"title":"html/template","body":"Escapes text for html pages."}`,
		"c": `{"title":"text/template","body":"Templates of text; see html/template for pages."}`,
	})
	for q, want := range map[string][]string{
		"http":             {"a"},
		"net/http":         {"a"},
		`"net http"`:       {"a"},
		"index html":       {"a"},
		"example":          {"a"},
		"template -html":   {},
		"template":         {"c", "b"}, // c holds it in its title and body
		"pages -template":  {},
		"go dev":           {"a"},
		"html OR template": {"b", "c", "a"},
	} {
		got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: q})
		if !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
			t.Errorf("%q found %v, want %v", q, got, want)
		}
	}
	_, hits := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "http html", Highlight: []string{"title", "body"}})
	if len(hits) != 1 {
		t.Fatalf("hits %v", hits)
	}
	if hl := hits[0].Highlights; hl["title"] != "net/\x02http\x03" ||
		!strings.HasPrefix(hl["body"], "Package \x02http\x03 serves index.\x02html\x03; see go.dev/doc or mail me@") {
		t.Errorf("highlights %q", hl)
	}
}

// TestSearchTextHighlightsEachField checks that a field holding some of
// the query's words is highlighted even when the document matched the
// whole query only across fields.
func TestSearchTextHighlightsEachField(t *testing.T) {
	t.Parallel()
	s := open(t, Options{})
	createSearchable(t, s, "docs", textConfig1, map[string]string{
		"a": `{"title":"Regular","body":"Patterns of expression trees."}`,
	})
	_, hits := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: `regular "expression trees"`, Highlight: []string{"title", "body"}})
	if len(hits) != 1 {
		t.Fatalf("hits %v", hits)
	}
	if hl := hits[0].Highlights; hl["title"] != "\x02Regular\x03" || hl["body"] != "Patterns of \x02expression\x03 \x02trees\x03" {
		t.Errorf("highlights %q", hl)
	}
}

// FuzzSearchText runs queries of any text, exact and typo-tolerant, with
// snippets, on a real collection: each either answers or is refused as
// Invalid (too long, too many terms, not UTF-8), never fails otherwise.
func FuzzSearchText(f *testing.F) {
	for _, seed := range []string{
		"replication", `"logical replication"`, "a -b OR c", "-", `"`, `-"`, "or OR or", "ÿ́ x̧ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
		"ǅungla ǆ Ⅻ ⅻ ½ ²³ ٣٤٥", "foo:* & bar | !baz", `'\'' '' \\ "a\"b"`, "net/http index.html go.dev",
		"İstanbul ß ﬁ", "日本語のテキスト 検索", "a\x00b", "\xff\xfe", strings.Repeat("word ", 40),
		"the and of", "replicaton -vacuum", "<-> <2> ( ) !", "e\u0301\u0301", "x\u200by",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	s := openFuzz(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, q string, fuzzy bool) {
		hits, err := s.SearchText(ctx, searchdb.TextQuery{Collection: "docs", Text: *textConfig1, Query: q, Fuzzy: fuzzy,
			Limit: 5, Highlight: []string{"title", "body"}})
		if err != nil {
			if !fault.Is(err, fault.Invalid) {
				t.Fatalf("SearchText(%q, fuzzy %v): %v", q, fuzzy, err)
			}
			return
		}
		for _, h := range hits {
			for f, hl := range h.Highlights {
				if !strings.Contains(hl, searchdb.MarkStart) || !utf8.ValidString(hl) {
					t.Fatalf("SearchText(%q): highlight of %s %q", q, f, hl)
				}
			}
		}
	})
}

// openFuzz opens a store with the sample documents for a fuzz target.
func openFuzz(f *testing.F) *Store {
	f.Helper()
	ctx := context.Background()
	s, err := Open(ctx, Options{URL: pgtest.URL(f)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	docs := maps.Clone(sampleDocs)
	docs["u"] = `{"title":"日本語のテキスト","body":"İstanbul straße ǅungla ﬁne e\u0301 x\u200by ½ net/http"}`
	now := time.Unix(1_700_000_000, 0).UTC()
	err = s.Write(ctx, func(tx docstore.Tx) error {
		if err := tx.CreateCollection(ctx, docstore.Collection{Name: "docs", Schema: searchSchema, Version: 1,
			CreatedAt: now, UpdatedAt: now, Search: docstore.Search{Text: textConfig1}}); err != nil {
			return err
		}
		for _, id := range slices.Sorted(maps.Keys(docs)) {
			if err := tx.InsertDocument(ctx, docstore.Document{Collection: "docs", ID: id, Version: 1, CreatedAt: now,
				UpdatedAt: now, Data: json.RawMessage(docs[id])}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	return s
}

// vocabulary returns the words search_words holds for a collection.
func vocabulary(t *testing.T, s *Store, collection string) []string {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), `SELECT DISTINCT word FROM search_words WHERE collection = $1 ORDER BY word`, collection)
	if err != nil {
		t.Fatal(err)
	}
	words, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return words
}

// TestSearchWordsFollowWrites checks the vocabulary typo-tolerant queries
// look their words up in: it gains the words of every write, in the
// write's transaction, and leaves with the text configuration and the
// collection.
func TestSearchWordsFollowWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	createSearchable(t, s, "docs", textConfig1, sampleDocs)
	createSearchable(t, s, "keep", textConfig1, map[string]string{"k": `{"title":"Sharding"}`})
	words := vocabulary(t, s, "docs")
	for _, w := range []string{"replication", "streaming", "vacuum", "tsvector", "the"} {
		if !slices.Contains(words, w) {
			t.Errorf("vocabulary lacks %q: %v", w, words)
		}
	}
	if slices.Contains(words, "sharding") {
		t.Errorf("vocabulary of docs holds a word of another collection")
	}
	// An update brings its new words at once; the document is no longer
	// found by its old ones.
	now := time.Unix(1_700_000_500, 0).UTC()
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		return tx.UpdateDocument(ctx, docstore.Document{Collection: "docs", ID: "a", Version: 2, CreatedAt: now, UpdatedAt: now,
			Data: json.RawMessage(`{"title":"Sharding","body":"Partitions spread across nodes."}`)}, 1)
	})
	if got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "partitons", Fuzzy: true}); !slices.Equal(got, []string{"a"}) {
		t.Errorf("fuzzy partitons after the update: %v", got)
	}
	if got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "streeming", Fuzzy: true}); len(got) != 0 {
		t.Errorf("fuzzy streeming after the update: %v", got)
	}
	// The lookup in a large vocabulary reads its trigram index.
	if _, err := s.pool.Exec(ctx, `INSERT INTO search_words (collection, word)
		SELECT 'large', md5(i::text) FROM generate_series(1, 20000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE search_words`); err != nil {
		t.Fatal(err)
	}
	err := s.inReadTx(ctx, "test", func(q pgx.Tx) error {
		// 20,000 words still read fast enough whole; what matters is that a
		// larger vocabulary can be read through the index.
		if _, err := q.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return err
		}
		plan := explainOn(t, q, `SELECT word FROM search_words WHERE collection = $1 AND word %> $2`, []any{"large", "partitons"})
		if !strings.Contains(plan, "search_words_trgm") {
			t.Errorf("the vocabulary lookup does not use its trigram index:\n%s", plan)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Without text configuration the vocabulary is gone; with it again,
	// the build brings it back.
	c, err := s.GetCollection(ctx, "docs")
	if err != nil {
		t.Fatal(err)
	}
	c.Version++
	c.Search.Text = nil
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateCollection(ctx, c, c.Version-1) })
	if w := vocabulary(t, s, "docs"); len(w) != 0 {
		t.Fatalf("vocabulary without text configuration: %v", w)
	}
	c.Version++
	c.Search.Text = textConfig1
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateCollection(ctx, c, c.Version-1) })
	for done := false; !done; {
		if done, err = s.BuildText(ctx, "docs", 2); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "vacum", Fuzzy: true}); !slices.Equal(got, []string{"c"}) {
		t.Errorf("fuzzy vacum after the build: %v", got)
	}
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.DeleteCollection(ctx, "docs", c.Version) })
	if w := vocabulary(t, s, "docs"); len(w) != 0 {
		t.Fatalf("vocabulary of a deleted collection: %v", w)
	}
	if w := vocabulary(t, s, "keep"); !slices.Equal(w, []string{"sharding"}) {
		t.Fatalf("vocabulary of another collection: %v", w)
	}
}

// TestSearchWordsConcurrentWriters has writers add the same new words at
// once: a write that adds a word another open transaction has added does
// not wait for it, and every write commits.
func TestSearchWordsConcurrentWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	createSearchable(t, s, "docs", textConfig1, nil)
	now := time.Unix(1_700_000_000, 0).UTC()
	insert := func(tx docstore.Tx, id, title string) error {
		return tx.InsertDocument(ctx, docstore.Document{Collection: "docs", ID: id, Version: 1, CreatedAt: now, UpdatedAt: now,
			Data: json.RawMessage(`{"title":"` + title + `"}`)})
	}
	// A transaction adds "zebra" and "yak" and stays open …
	inserted, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.Write(ctx, func(tx docstore.Tx) error {
			if err := insert(tx, "held", "zebra yak"); err != nil {
				return err
			}
			close(inserted)
			<-release
			return nil
		})
	}()
	<-inserted
	// … while another adds the same words, in the other order, and commits.
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err := s.Write(wctx, func(tx docstore.Tx) error { return insert(tx, "free", "yak zebra") })
	cancel()
	close(release)
	if err != nil {
		t.Fatalf("a write adding the words an open transaction added: %v", err)
	}
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	// Many writers at once, in transactions of several documents.
	const writers, rounds = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				err := s.Write(ctx, func(tx docstore.Tx) error {
					for i := range 3 {
						n := i
						if w%2 == 1 {
							n = 2 - i
						}
						if err := insert(tx, fmt.Sprintf("w%d-r%d-%d", w, r, i), fmt.Sprintf("round%dword%d shared%d", r, n, r)); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := len(vocabulary(t, s, "docs")); got != 2+rounds*3+rounds {
		t.Fatalf("%d words, want %d", got, 2+rounds*3+rounds)
	}
	got, _ := searchIDs(t, s, searchdb.TextQuery{Collection: "docs", Query: "zebar", Fuzzy: true})
	if !slices.Equal(got, []string{"free", "held"}) {
		t.Fatalf("fuzzy zebar: %v", got)
	}
}

// TestBestAlternatives: the vocabulary words kept for a query word, fewest
// typos first, then the most similar, at most fuzzyAlternatives.
func TestBestAlternatives(t *testing.T) {
	got := bestAlternatives("replicaton", []string{"replicas", "replica", "replicating", "replication", "replicatio", "replicatons"})
	// replicatons (similarity 0.90909094) and replication (0.72727275) are
	// one typo away, the more similar first; replicating and replicatio two, as
	// similar, so in word order; replica and replicas more than two (kept
	// for their similarity of 0.64), as similar, in word order.
	want := []string{"replicatons", "replication", "replicating", "replicatio", "replica", "replicas"}
	for _, c := range []struct {
		word  string
		typos int
	}{{"replicatons", 1}, {"replication", 1}, {"replicating", 2}, {"replicatio", 2}, {"replica", 3}} {
		if n := websearch.Typos("replicaton", c.word, 2); n != c.typos {
			t.Fatalf("Typos(replicaton, %s) = %d, want %d", c.word, n, c.typos)
		}
	}
	if a, b := websearch.WordSimilarity("replicaton", "replicating"), websearch.WordSimilarity("replicaton", "replicatio"); a != b {
		t.Fatalf("similarities %v and %v, want them equal", a, b)
	}
	if a, b := websearch.WordSimilarity("replicaton", "replica"), websearch.WordSimilarity("replicaton", "replicas"); a != b {
		t.Fatalf("similarities %v and %v, want them equal", a, b)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("bestAlternatives = %v, want %v", got, want)
	}
	many := make([]string, 2*fuzzyAlternatives)
	for i := range many {
		many[i] = fmt.Sprintf("replicaton%02d", i)
	}
	if got := bestAlternatives("replicaton", many); len(got) != fuzzyAlternatives || got[0] != "replicaton00" {
		t.Fatalf("bestAlternatives of %d words: %d, first %q", len(many), len(got), got[0])
	}
}
