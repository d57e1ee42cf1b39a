package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/query"
)

func benchDoc(i int) docstore.Document {
	return docstore.Document{Collection: "posts", ID: fmt.Sprintf("doc%08d", i), Version: 1,
		Data: json.RawMessage(fmt.Sprintf(
			`{"author":{"name":"user%d"},"body":"Lorem ipsum dolor sit amet, consectetur adipiscing elit.","score":%d,"tags":["a","b%d"],"title":"Post number %d"}`,
			i%100, i%1000, i%7, i))}
}

// seed creates "posts" with an index on score and n documents.
func seed(b *testing.B, s *Store, n int) {
	b.Helper()
	mustWrite(b, s, func(ctx context.Context, tx docstore.Tx) error {
		return tx.CreateCollection(ctx, newCollection("posts", []string{"score"}))
	})
	for start := 0; start < n; start += 5000 {
		mustWrite(b, s, func(ctx context.Context, tx docstore.Tx) error {
			for i := start; i < start+5000 && i < n; i++ {
				if err := tx.InsertDocument(ctx, benchDoc(i)); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

// BenchmarkInsert is one acknowledged write as the service does it: a
// transaction with the document and its outbox row.
func BenchmarkInsert(b *testing.B) {
	for _, sync := range []string{"normal", "full"} {
		b.Run("synchronous="+sync, func(b *testing.B) {
			s := open(b, Options{Synchronous: sync})
			seed(b, s, 0)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				d := benchDoc(i)
				err := s.Write(ctx, func(tx docstore.Tx) error {
					if err := tx.InsertDocument(ctx, d); err != nil {
						return err
					}
					return tx.AppendOutbox(ctx, eventbus.Event{ID: "ev" + d.ID, Collection: "posts",
						DocumentID: d.ID, Type: eventbus.DocumentCreated, Version: 1, Payload: d.Data})
				})
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkGetDocument(b *testing.B) {
	s := open(b, Options{})
	seed(b, s, 10000)
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := s.GetDocument(ctx, "posts", fmt.Sprintf("doc%08d", (i*7919)%10000)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkList is "filter score > 500 sort -score,id limit 20" over 100k
// documents with an index on score: the first page and a page deep in the
// list (through a cursor).
func BenchmarkList(b *testing.B) {
	s := open(b, Options{})
	seed(b, s, 100000)
	ctx := context.Background()
	score := query.Field{Path: []string{"score"}, Type: query.TypeNumber}
	p := docstore.ListParams{Collection: "posts", Limit: 20,
		Filter: &query.Compare{Field: score, Op: query.OpGt, Value: query.Value{Kind: query.ValueNumber, Num: 500}},
		Sort:   []query.SortKey{{Field: score, Desc: true}, idKey(true)}}
	for _, c := range []struct {
		name  string
		after []any
	}{{"first-page", nil}, {"deep-page", []any{json.Number("700"), "doc00050700"}}} {
		b.Run(c.name, func(b *testing.B) {
			p.After = c.after
			for b.Loop() {
				docs, err := s.ListDocuments(ctx, p)
				if err != nil || len(docs) != 20 {
					b.Fatalf("%d documents, %v", len(docs), err)
				}
			}
		})
	}
}

// BenchmarkJSONFormat compares a json_extract-heavy scan (no index) over
// documents stored as JSON text and as SQLite JSONB, which decided the
// storage format of the data column.
func BenchmarkJSONFormat(b *testing.B) {
	s := open(b, Options{})
	ctx := context.Background()
	for _, f := range []struct{ name, column, insert string }{
		{"text", "TEXT", "?"}, {"jsonb", "BLOB", "jsonb(?)"},
	} {
		b.Run(f.name, func(b *testing.B) {
			table := "bench_" + f.name
			if _, err := s.wconn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+table+" (id TEXT PRIMARY KEY, data "+f.column+")"); err != nil {
				b.Fatal(err)
			}
			if _, err := s.wconn.ExecContext(ctx, "DELETE FROM "+table); err != nil {
				b.Fatal(err)
			}
			tx, err := s.wconn.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < 20000; i++ {
				d := benchDoc(i)
				if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+" VALUES (?, "+f.insert+")", d.ID, string(d.Data)); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			q := "SELECT count(*) FROM " + table + ` WHERE json_extract(data,'$.score') > 500
				AND instr(lower(json_extract(data,'$.author.name')), 'user1') > 0`
			for b.Loop() {
				var n int
				if err := s.read.QueryRowContext(ctx, q).Scan(&n); err != nil || n == 0 {
					b.Fatalf("%d, %v", n, err)
				}
			}
		})
	}
}
