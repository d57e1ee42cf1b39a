package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

func open(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "basalt.db")
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustWrite(t testing.TB, s *Store, fn func(ctx context.Context, tx docstore.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := s.Write(ctx, func(tx docstore.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func newCollection(name string, fields ...[]string) docstore.Collection {
	c := docstore.Collection{Name: name, Schema: json.RawMessage(`{}`), Version: 1,
		CreatedAt: time.Unix(0, 0), UpdatedAt: time.Unix(0, 0)}
	for _, f := range fields {
		c.Indexes = append(c.Indexes, docstore.Index{Fields: f})
	}
	return c
}

var scoreField = query.Field{Path: []string{"score"}, Type: query.TypeNumber}

func idKey(desc bool) query.SortKey {
	return query.SortKey{Field: query.Field{System: query.SystemID, Type: query.TypeString}, Desc: desc}
}

func explain(t *testing.T, s *Store, p docstore.ListParams) string {
	t.Helper()
	queries, err := compileList(p)
	if err != nil {
		t.Fatalf("compileList: %v", err)
	}
	var plan []string
	for _, q := range queries {
		plan = append(plan, q.text)
		rows, err := s.read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q.text, q.args...)
		if err != nil {
			t.Fatalf("explain %s: %v", q.text, err)
		}
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, "  "+detail)
		}
		rows.Close()
	}
	return strings.Join(plan, "\n")
}

// TestIndexServesFilterAndSort checks that "filter score > 10 sort -score
// limit 21" on an indexed field reads the index in order instead of sorting
// the whole table, on the first page and on later ones.
func TestIndexServesFilterAndSort(t *testing.T) {
	s := open(t, Options{})
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		if err := tx.CreateCollection(ctx, newCollection("posts", []string{"score"})); err != nil {
			return err
		}
		for i := 0; i < 200; i++ {
			d := docstore.Document{Collection: "posts", ID: fmt.Sprintf("p%03d", i), Version: 1,
				Data: json.RawMessage(fmt.Sprintf(`{"score":%d}`, i%37))}
			if err := tx.InsertDocument(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	if _, err := s.wconn.ExecContext(context.Background(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	filter := &query.Compare{Field: scoreField, Op: query.OpGt, Value: query.Value{Kind: query.ValueNumber, Num: 10}}
	for _, idDesc := range []bool{false, true} {
		for _, after := range [][]any{nil, {json.Number("20"), "p100"}} {
			p := docstore.ListParams{Collection: "posts", Filter: filter, Limit: 21, After: after,
				Sort: []query.SortKey{{Field: scoreField, Desc: true}, idKey(idDesc)}}
			plan := explain(t, s, p)
			if strings.Contains(plan, "USE TEMP B-TREE FOR ORDER BY") || !strings.Contains(plan, "USING INDEX ix_posts_") {
				t.Errorf("id desc %v, after %v: plan sorts the table or skips the index:\n%s", idDesc, after, plan)
			}
			t.Logf("plan:\n%s", plan)
		}
	}
}

func indexNamesOf(t *testing.T, s *Store, table string) []string {
	t.Helper()
	rows, err := s.read.Query(`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func TestUpdateCollectionSyncsIndexes(t *testing.T) {
	s := open(t, Options{})
	c := newCollection("items", []string{"a"}, []string{"b.c", "id"})
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.CreateCollection(ctx, c) })
	want := []string{indexName("items", []string{"a"}), indexName("items", []string{"b.c", "id"})}
	sort.Strings(want)
	if got := indexNamesOf(t, s, "docs_items"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("indexes %v, want %v", got, want)
	}
	next := newCollection("items", []string{"a"}, []string{"createdAt", "d"})
	next.Version = 2
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateCollection(ctx, next, 1) })
	want = []string{indexName("items", []string{"a"}), indexName("items", []string{"createdAt", "d"})}
	sort.Strings(want)
	if got := indexNamesOf(t, s, "docs_items"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("indexes after update %v, want %v", got, want)
	}
}

func TestOpenOptions(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "x.db"), Synchronous: "off"}); !fault.Is(err, fault.Invalid) {
		t.Fatalf("Synchronous off: %v, want invalid", err)
	}
	if _, err := Open(ctx, Options{}); !fault.Is(err, fault.Invalid) {
		t.Fatalf("empty path: %v, want invalid", err)
	}
	path := filepath.Join(t.TempDir(), "basalt.db")
	for _, sync := range []struct {
		opt  string
		want int
	}{{"", 2}, {"full", 2}, {"normal", 1}} {
		s := open(t, Options{Path: path, Synchronous: sync.opt}) // reopening re-runs migrations
		var mode string
		var level int
		if err := s.wconn.QueryRowContext(context.Background(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Fatalf("journal_mode %q, %v", mode, err)
		}
		if err := s.wconn.QueryRowContext(context.Background(), "PRAGMA synchronous").Scan(&level); err != nil || level != sync.want {
			t.Fatalf("synchronous %q: %d, %v", sync.opt, level, err)
		}
		if _, err := s.read.Exec("CREATE TABLE nope (x)"); err == nil {
			t.Fatalf("the read pool accepted a write")
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBusyIsUnavailable holds the write lock from one store and writes
// from a second process-like store on the same file.
func TestBusyIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "basalt.db")
	a := open(t, Options{Path: path})
	b := open(t, Options{Path: path, BusyTimeout: 20 * time.Millisecond})
	holding, release := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- a.Write(context.Background(), func(tx docstore.Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	err := b.Write(context.Background(), func(tx docstore.Tx) error { return nil })
	close(release)
	if !fault.Is(err, fault.Unavailable) {
		t.Fatalf("Write while another connection holds the lock: %v, want unavailable", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("holder: %v", err)
	}
}

func TestCompileRefusesBadInput(t *testing.T) {
	bad := []docstore.ListParams{
		{Collection: "Bad"},
		{Collection: "ok", Sort: []query.SortKey{idKey(false)}, After: []any{"a", "b"}},
		{Collection: "ok", Sort: []query.SortKey{idKey(false)}, After: []any{struct{}{}}},
		{Collection: "ok", Filter: &query.Compare{Field: query.Field{System: "nope"}, Op: query.OpEq}},
		{Collection: "ok", Filter: &query.Compare{Field: scoreField, Op: query.OpIn}},
		{Collection: "ok", Filter: &query.Compare{Field: scoreField, Op: 99, Value: query.Value{Kind: query.ValueNumber}}},
	}
	for i, p := range bad {
		if _, err := compileList(p); !fault.Is(err, fault.Invalid) {
			t.Errorf("case %d: %v, want invalid", i, err)
		}
	}
}
