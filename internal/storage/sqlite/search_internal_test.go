package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
	"github.com/basaltdev/basalt/internal/search/searchdb"
)

// TestSearchMigrationOnExistingDatabase applies 00009 to a database
// created before it, holding a collection with documents: the collection
// keeps working, is not searchable, and becomes searchable (with its
// documents) when configured.
func TestSearchMigrationOnExistingDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", dsn(path, []string{"foreign_keys(1)", "journal_mode(WAL)"}, true))
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`INSERT INTO collections (name, schema, indexes, access, version, created_at, updated_at)
			VALUES ('notes', '{}', '[]', '{"rules":{},"hiddenFields":[]}', 1, 0, 0)`,
		`CREATE TABLE docs_notes (id TEXT PRIMARY KEY, version INTEGER NOT NULL, created_at INTEGER NOT NULL,
			updated_at INTEGER NOT NULL, data BLOB NOT NULL)`,
		`INSERT INTO docs_notes VALUES ('a', 1, 0, 0, jsonb('{"text":"granite quarry"}')),
			('b', 1, 0, 0, jsonb('{"text":"marble"}'))`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := open(t, Options{Path: path})
	c, err := s.GetCollection(ctx, "notes")
	if err != nil {
		t.Fatal(err)
	}
	if c.Search.Enabled() {
		t.Fatalf("an old collection has a search configuration: %+v", c.Search)
	}
	q := searchdb.TextQuery{Collection: "notes", Query: "granite", Limit: 10}
	if _, err := s.SearchText(ctx, q); !fault.Is(err, fault.Invalid) {
		t.Fatalf("search before configuration: %v, want Invalid", err)
	}
	next := c
	next.Version++
	next.Search.Text = &docstore.TextSearch{Fields: map[string]int{"text": 1}, Language: "english"}
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateCollection(ctx, next, c.Version) })
	for {
		done, err := s.BuildText(ctx, "notes", 1)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
	}
	hits, err := s.SearchText(ctx, q)
	if err != nil || len(hits) != 1 || hits[0].Document.ID != "a" {
		t.Fatalf("search after the build: %v, %v", hits, err)
	}
}

// TestSearchSQLHasNoUserInput checks that nothing the caller writes
// reaches SQL text: the query and filter values are bound, the language
// selects one of two fixed tokenizers, and field paths are checked.
func TestSearchSQLHasNoUserInput(t *testing.T) {
	hostile := `x'); DROP TABLE collections; --`
	ix, err := newTextIndex("test", "notes", docstore.TextSearch{Fields: map[string]int{"title": 4, "author.name": 1},
		Language: hostile})
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range append(ix.ddl(), ix.buildRows()...) {
		if strings.Contains(stmt, "DROP") || strings.Contains(stmt, hostile) {
			t.Errorf("DDL holds the language: %s", stmt)
		}
	}
	if ix.tokenizer != "unicode61 remove_diacritics 2" {
		t.Errorf("tokenizer %q for an unknown language", ix.tokenizer)
	}
	for _, field := range []string{hostile, "a.b'c", "a..b", ""} {
		_, err := newTextIndex("test", "notes", docstore.TextSearch{Fields: map[string]int{field: 1}})
		if !fault.Is(err, fault.Invalid) {
			t.Errorf("field %q: %v, want Invalid", field, err)
		}
	}
	if _, err := newTextIndex("test", "notes'x", docstore.TextSearch{Fields: map[string]int{"a": 1}}); !fault.Is(err, fault.Invalid) {
		t.Errorf("a hostile collection name: %v", err)
	}
	filter := &query.Compare{Field: query.Field{Path: []string{"kind"}, Type: query.TypeString}, Op: query.OpEq,
		Value: query.Value{Kind: query.ValueString, Str: hostile}}
	for _, sort := range [][]query.SortKey{nil, {{Field: query.Field{Path: []string{"kind"}, Type: query.TypeString}}}} {
		q := searchdb.TextQuery{Query: hostile, Filter: filter, Sort: sort, Limit: 5, After: []any{1.5, hostile}}
		if sort != nil {
			q.After = []any{hostile, hostile}
		}
		queries, err := compilePage(hitSource{head: "SELECT …", where: "t MATCH ?", args: []any{hostile}}, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, pq := range queries {
			if strings.Contains(pq.text, "DROP") {
				t.Errorf("page SQL holds the caller's input: %s", pq.text)
			}
		}
	}
}

// searchWords is the vocabulary of the benchmark documents.
func searchWords(n int) []string {
	syll := []string{"ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "pa", "do", "gu"}
	out := make([]string, n)
	for i := range out {
		w := ""
		for x := i + 1; x > 0; x /= len(syll) {
			w += syll[x%len(syll)]
		}
		out[i] = w + "n"
	}
	return out
}

// seedSearch creates "docs" searchable on title (4) and body (1) with n
// documents of Zipf-distributed words (a title of 6, a body of 60).
func seedSearch(b *testing.B, s *Store, n int) {
	b.Helper()
	words := searchWords(5000)
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.1, 1, uint64(len(words)-1))
	text := func(k int) string {
		parts := make([]string, k)
		for i := range parts {
			parts[i] = words[z.Uint64()]
		}
		return strings.Join(parts, " ")
	}
	c := newCollection("docs")
	c.Search.Text = &docstore.TextSearch{Fields: map[string]int{"title": 4, "body": 1}, Language: "english"}
	mustWrite(b, s, func(ctx context.Context, tx docstore.Tx) error { return tx.CreateCollection(ctx, c) })
	for start := 0; start < n; start += 2000 {
		mustWrite(b, s, func(ctx context.Context, tx docstore.Tx) error {
			for i := start; i < start+2000 && i < n; i++ {
				data, err := json.Marshal(map[string]any{"title": text(6), "body": text(60), "n": i % 100})
				if err != nil {
					return err
				}
				if err := tx.InsertDocument(ctx, docstore.Document{Collection: "docs", ID: fmt.Sprintf("d%07d", i),
					Version: 1, CreatedAt: time.Unix(0, 0), UpdatedAt: time.Unix(0, 0), Data: data}); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

// BenchmarkSearchText runs text queries on 10,000 documents: a rare and a
// common word by relevance, a common word sorted, two words with a
// filter, and a misspelled word (fuzzy), each a page of 20 with
// highlights of both fields.
func BenchmarkSearchText(b *testing.B) {
	s := open(b, Options{})
	seedSearch(b, s, 10_000)
	words := searchWords(5000)
	nField := query.Field{Path: []string{"n"}, Type: query.TypeNumber}
	cases := []struct {
		name string
		q    searchdb.TextQuery
	}{
		{"rare", searchdb.TextQuery{Query: words[800]}},
		{"common", searchdb.TextQuery{Query: words[3]}},
		{"common-sorted", searchdb.TextQuery{Query: words[3], Sort: []query.SortKey{{Field: nField, Desc: true}}}},
		{"two-words-filtered", searchdb.TextQuery{Query: words[3] + " " + words[20],
			Filter: &query.Compare{Field: nField, Op: query.OpLt, Value: query.Value{Kind: query.ValueNumber, Num: 50}}}},
		{"fuzzy", searchdb.TextQuery{Query: words[40][:len(words[40])-1] + "x", Fuzzy: true}},
	}
	ctx := context.Background()
	for _, c := range cases {
		c.q.Collection, c.q.Limit, c.q.Highlight = "docs", 20, []string{"title", "body"}
		b.Run(c.name, func(b *testing.B) {
			hits := 0
			for b.Loop() {
				got, err := s.SearchText(ctx, c.q)
				if err != nil {
					b.Fatal(err)
				}
				hits = len(got)
			}
			b.ReportMetric(float64(hits), "hits")
		})
	}
}

// BenchmarkSearchIndexSize reports the bytes of 10,000 documents, of
// their word index (contentful: the text a second time) and of their
// trigram index (contentless), from dbstat.
func BenchmarkSearchIndexSize(b *testing.B) {
	for b.Loop() {
		s := open(b, Options{})
		seedSearch(b, s, 10_000)
		size := func(like string) float64 {
			var n int64
			if err := s.read.QueryRow(`SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE ?`, like).Scan(&n); err != nil {
				b.Fatal(err)
			}
			return float64(n)
		}
		b.ReportMetric(size("docs_docs%"), "docs-bytes")
		b.ReportMetric(size("ft_docs_w%"), "words-bytes")
		b.ReportMetric(size("ft_docs_w_content"), "words-content-bytes")
		b.ReportMetric(size("ft_docs_t%"), "trigram-bytes")
	}
}

// TestSearchIndexFollowsRollback checks that the text index is part of a
// write's transaction: a write that fails in a group commit leaves no
// trace in it, while the writes of the same group that succeed are found.
func TestSearchIndexFollowsRollback(t *testing.T) {
	ctx := context.Background()
	s := open(t, Options{})
	c := newCollection("notes")
	c.Search.Text = &docstore.TextSearch{Fields: map[string]int{"text": 1}, Language: "simple"}
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.CreateCollection(ctx, c) })
	errFail := errors.New("refused")
	var wg sync.WaitGroup
	results := make([]error, 40)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.Write(ctx, func(tx docstore.Tx) error {
				word := "kept"
				if i%2 == 1 {
					word = "undone"
				}
				err := tx.InsertDocument(ctx, docstore.Document{Collection: "notes", ID: fmt.Sprintf("n%02d", i), Version: 1,
					Data: json.RawMessage(`{"text":"` + word + `"}`)})
				if err == nil && i%2 == 1 {
					return errFail
				}
				return err
			})
		}()
	}
	wg.Wait()
	for i, err := range results {
		if (i%2 == 1) != errors.Is(err, errFail) {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	for word, want := range map[string]int{"kept": 20, "undone": 0} {
		for _, fuzzy := range []bool{false, true} {
			hits, err := s.SearchText(ctx, searchdb.TextQuery{Collection: "notes", Query: word, Fuzzy: fuzzy, Limit: 100})
			if err != nil || len(hits) != want {
				t.Errorf("%q (fuzzy %v): %d hits, %v; want %d", word, fuzzy, len(hits), err, want)
			}
		}
	}
}

// FuzzSearchText runs any query, exact and fuzzy, with highlights: the
// engine answers hits or fault.Invalid, never another error.
func FuzzSearchText(f *testing.F) {
	for _, s := range []string{`cat`, `"quick brown" -fox or dog`, `NEAR(a b)`, `a*`, `"`, `-`, `{c0}:x`, `c0:x`,
		`rowid`, `'; DROP TABLE docs_notes; --`, "\x02x\x03", `日本語`, `ﬁle`, `ǅ`, "e\u0301"} {
		f.Add(s)
	}
	s := open(f, Options{})
	c := newCollection("notes")
	c.Search.Text = &docstore.TextSearch{Fields: map[string]int{"title": 4, "body": 1}, Language: "english"}
	mustWrite(f, s, func(ctx context.Context, tx docstore.Tx) error {
		if err := tx.CreateCollection(ctx, c); err != nil {
			return err
		}
		for i, text := range []string{"The quick brown fox", "jumps over the lazy dog", "Café naïve ﬁle 日本語のテキスト",
			`quotes " and 'apostrophes' * ^ : {braces}`} {
			data, _ := json.Marshal(map[string]string{"title": text, "body": text + " body"})
			if err := tx.InsertDocument(ctx, docstore.Document{Collection: "notes", ID: fmt.Sprintf("d%d", i),
				Version: 1, Data: data}); err != nil {
				return err
			}
		}
		return nil
	})
	f.Fuzz(func(t *testing.T, q string) {
		for _, fuzzy := range []bool{false, true} {
			_, err := s.SearchText(context.Background(), searchdb.TextQuery{Collection: "notes", Query: q, Fuzzy: fuzzy,
				Limit: 10, Highlight: []string{"title", "body"}})
			if err != nil && !fault.Is(err, fault.Invalid) {
				t.Fatalf("SearchText(%q, fuzzy %v): %v", q, fuzzy, err)
			}
		}
	})
}

// BenchmarkInsertSearchable is one acknowledged insert (synchronous
// normal) into a collection without and with a text index of two fields:
// the cost the index's triggers add to a write.
func BenchmarkInsertSearchable(b *testing.B) {
	for _, searchable := range []bool{false, true} {
		b.Run(fmt.Sprintf("searchable=%v", searchable), func(b *testing.B) {
			s := open(b, Options{Synchronous: "normal"})
			c := newCollection("docs")
			if searchable {
				c.Search.Text = &docstore.TextSearch{Fields: map[string]int{"title": 4, "body": 1}, Language: "english"}
			}
			mustWrite(b, s, func(ctx context.Context, tx docstore.Tx) error { return tx.CreateCollection(ctx, c) })
			words := searchWords(5000)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				var body strings.Builder
				for k := range 60 {
					body.WriteString(words[(i*61+k*7)%len(words)])
					body.WriteByte(' ')
				}
				data, err := json.Marshal(map[string]any{"title": words[i%len(words)], "body": body.String()})
				if err != nil {
					b.Fatal(err)
				}
				err = s.Write(ctx, func(tx docstore.Tx) error {
					return tx.InsertDocument(ctx, docstore.Document{Collection: "docs", ID: fmt.Sprintf("d%08d", i),
						Version: 1, Data: data})
				})
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
