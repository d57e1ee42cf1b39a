package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/search/searchdb"
	"github.com/basaltdev/basalt/internal/search/websearch"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

// benchVocabulary returns n made-up words of two to four syllables, each
// different.
func benchVocabulary(rng *rand.Rand, n int) []string {
	syllables := strings.Fields("ba be bi bo bu da de di do du ka ke ki ko ku la le li lo lu ma me mi mo mu " +
		"na ne ni no nu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu za ze zi zo zu " +
		"bar ber kin lon mar nor pel ran sel tor ven wil")
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		var b strings.Builder
		for range 2 + rng.IntN(3) {
			b.WriteString(syllables[rng.IntN(len(syllables))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// benchDocuments writes n documents of generated text (a title of 6 words
// and a body of 60, drawn from a Zipf distribution over 20,000 words, as
// natural text is) to the collection, with COPY, and returns the words by
// rank.
func benchDocuments(b *testing.B, s *Store, collection string, n int) []string {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := benchVocabulary(rng, 20_000)
	zipf := rand.NewZipf(rng, 1.07, 2, uint64(len(vocab)-1))
	words := func(k int) string {
		ws := make([]string, k)
		for i := range ws {
			ws[i] = vocab[zipf.Uint64()]
		}
		return strings.Join(ws, " ")
	}
	rows := make([][]any, n)
	for i := range rows {
		data, err := json.Marshal(map[string]any{"title": words(6), "body": words(60) + ".", "n": i % 100})
		if err != nil {
			b.Fatal(err)
		}
		rows[i] = []any{fmt.Sprintf("doc%07d", i), int64(1), int64(0), int64(0), string(data), string(data)}
	}
	table, _ := tableName("bench", collection)
	if _, err := s.pool.CopyFrom(context.Background(), pgx.Identifier{table},
		[]string{"id", "version", "created_at", "updated_at", "raw", "data"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(context.Background(), "ANALYZE "+table); err != nil {
		b.Fatal(err)
	}
	return vocab
}

// BenchmarkSearchText measures full-text queries on a collection of
// 10,000 generated documents (BASALT_BENCH_SEARCH_DOCS overrides the
// count), and reports the time the build of its text index took when
// text search was enabled on the filled collection (build-ms). With
// BASALT_BENCH_SEARCH_EXPLAIN set it logs each query's EXPLAIN ANALYZE.
func BenchmarkSearchText(b *testing.B) {
	n := 10_000
	if v := os.Getenv("BASALT_BENCH_SEARCH_DOCS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	s, err := Open(ctx, Options{URL: pgtest.URL(b), StatementTimeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	now := time.Unix(1_700_000_000, 0).UTC()
	c := docstore.Collection{Name: "bench", Schema: searchSchema, Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := s.Write(ctx, func(tx docstore.Tx) error { return tx.CreateCollection(ctx, c) }); err != nil {
		b.Fatal(err)
	}
	vocab := benchDocuments(b, s, "bench", n)
	// Enable text search on the filled collection and build its index.
	start := time.Now()
	c.Search.Text = textConfig1
	c.Version = 2
	if err := s.Write(ctx, func(tx docstore.Tx) error { return tx.UpdateCollection(ctx, c, 1) }); err != nil {
		b.Fatal(err)
	}
	for done := false; !done; {
		var err error
		if done, err = s.BuildText(ctx, "bench", 1000); err != nil {
			b.Fatal(err)
		}
	}
	build := time.Since(start)
	if _, err := s.pool.Exec(ctx, "ANALYZE docs_bench"); err != nil {
		b.Fatal(err)
	}
	queries := []struct {
		name, q string
		fuzzy   bool
	}{
		{"common", vocab[20], false},
		{"mid", vocab[300], false},
		{"rare", vocab[5000], false},
		{"two-words", vocab[40] + " " + vocab[80], false},
		{"phrase", `"` + vocab[2] + " " + vocab[3] + `"`, false},
		{"or-exclude", vocab[500] + " OR " + vocab[600] + " -" + vocab[10], false},
		{"fuzzy", misspell(vocab[longWord(vocab, 300)]), true},
	}
	for _, q := range queries {
		tq := searchdb.TextQuery{Collection: "bench", Text: *textConfig1, Query: q.q, Fuzzy: q.fuzzy, Limit: 20,
			Highlight: []string{"title", "body"}}
		if os.Getenv("BASALT_BENCH_SEARCH_EXPLAIN") != "" {
			b.Logf("%s (%s):\n%s", q.name, q.q, explainSearch(b, s, tq))
		}
		b.Run(q.name, func(b *testing.B) {
			var hits int
			for b.Loop() {
				h, err := s.SearchText(ctx, tq)
				if err != nil {
					b.Fatal(err)
				}
				hits = len(h)
			}
			b.ReportMetric(float64(hits), "hits")
			b.ReportMetric(float64(build.Milliseconds()), "build-ms")
		})
	}
}

// longWord returns the index of the first word of seven letters or more
// from i on.
func longWord(vocab []string, i int) int {
	for len(vocab[i]) < 7 {
		i++
	}
	return i
}

// misspell drops the letter in the middle of w, a typo the fuzzy match
// fixes in words of seven letters or more.
func misspell(w string) string {
	r := []rune(w)
	i := len(r) / 2
	return string(append(r[:i:i], r[i+1:]...))
}

// explainSearch returns the EXPLAIN ANALYZE of a search.
func explainSearch(b *testing.B, s *Store, tq searchdb.TextQuery) string {
	b.Helper()
	ctx := context.Background()
	pq, err := websearch.Parse(tq.Query)
	if err != nil {
		b.Fatal(err)
	}
	var plan []string
	err = s.inReadTx(ctx, "explain", func(q pgx.Tx) error {
		cq, err := compileQuery(ctx, q, "explain", tq.Collection, pq, tq.Fuzzy)
		if err != nil {
			return err
		}
		table, _ := tableName("explain", tq.Collection)
		text, args, _, err := compileSearch(table, tq, cq)
		if err != nil {
			return err
		}
		rows, err := q.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+text, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			plan = append(plan, line)
		}
		return rows.Err()
	})
	if err != nil {
		b.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// BenchmarkPutVectors measures storing an embedder's batch: 64 vectors of
// 256 dimensions, with their events, in one call.
func BenchmarkPutVectors(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, Options{URL: pgtest.URL(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	const batch, dims = 64, 256
	now := time.Unix(1_700_000_000, 0).UTC()
	c := docstore.Collection{Name: "bench", Schema: searchSchema, Version: 1, CreatedAt: now, UpdatedAt: now,
		Search: docstore.Search{Vectors: map[string]docstore.VectorField{"emb": {Dimensions: dims}}}}
	vs := make([]searchdb.StoredVector, batch)
	err = s.Write(ctx, func(tx docstore.Tx) error {
		if err := tx.CreateCollection(ctx, c); err != nil {
			return err
		}
		for i := range vs {
			id := fmt.Sprintf("doc%03d", i)
			if err := tx.InsertDocument(ctx, docstore.Document{Collection: "bench", ID: id, Version: 1, CreatedAt: now,
				UpdatedAt: now, Data: json.RawMessage(`{}`)}); err != nil {
				return err
			}
			vs[i] = searchdb.StoredVector{Collection: "bench", DocumentID: id, Field: "emb", Version: 1,
				Hash: []byte{byte(i)}, Vector: make([]float32, dims)}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	event := func(v searchdb.StoredVector) (eventbus.Event, error) {
		n++
		return eventbus.Event{ID: fmt.Sprintf("ev%09d", n), Type: eventbus.SearchVectors, Collection: v.Collection,
			DocumentID: v.DocumentID, Version: v.Version, Payload: json.RawMessage(`{}`), Time: now}, nil
	}
	for b.Loop() {
		stored, err := s.PutVectors(ctx, vs, event)
		if err != nil || stored != batch {
			b.Fatalf("PutVectors = %d, %v", stored, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*batch), "µs/vector")
}
