package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

func open(t *testing.T, opts Options) *Store {
	t.Helper()
	if opts.URL == "" {
		opts.URL = pgtest.URL(t)
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustWrite(t *testing.T, s *Store, fn func(ctx context.Context, tx docstore.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := s.Write(ctx, func(tx docstore.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

var (
	score     = query.Field{Path: []string{"score"}, Type: query.TypeNumber}
	idField   = query.Field{System: query.SystemID, Type: query.TypeString}
	numSchema = json.RawMessage(`{"properties":{"score":{"type":"number"}},"type":"object"}`)
)

// TestPlanUsesDeclaredIndex checks that "score > 10 sort -score limit 21"
// reads the declared index on score, on the first page and after a cursor.
func TestPlanUsesDeclaredIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		return tx.CreateCollection(ctx, docstore.Collection{Name: "items", Schema: numSchema, Version: 1,
			Indexes: []docstore.Index{{Fields: []string{"score"}}}})
	})
	_, err := s.pool.Exec(ctx, `INSERT INTO docs_items (id, version, created_at, updated_at, raw, data)
		SELECT 'i' || lpad(i::text, 6, '0'), 1, 0, 0, '{"score":' || (i % 1000) || '}',
		       jsonb_build_object('score', i % 1000)
		FROM generate_series(1, 10000) AS i`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE docs_items`); err != nil {
		t.Fatal(err)
	}
	p := docstore.ListParams{Collection: "items", Limit: 21,
		Filter: &query.Compare{Field: score, Op: query.OpGt, Value: query.Value{Kind: query.ValueNumber, Num: 10}},
		Sort:   []query.SortKey{{Field: score, Desc: true}, {Field: idField, Desc: true}}}
	for _, after := range [][]any{nil, {json.Number("990"), "i000990"}} {
		p.After = after
		qs, err := compileList(p)
		if err != nil {
			t.Fatal(err)
		}
		text := explain(t, s, qs[0].text, qs[0].args)
		t.Logf("after %v:\n%s", after, text)
		if !strings.Contains(text, "Index Scan") || !strings.Contains(text, "ix_items_") ||
			strings.Contains(text, "Seq Scan") || strings.Contains(text, "  Sort") {
			t.Errorf("after %v: the plan does not read the declared index:\n%s\n%s", after, qs[0].text, text)
		}
		docs, err := s.ListDocuments(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != 21 {
			t.Fatalf("after %v: %d documents, want 21", after, len(docs))
		}
	}
}

func explain(t *testing.T, s *Store, sql string, args []any) string {
	t.Helper()
	return explainOn(t, s.pool, sql, args)
}

// explainOn returns the plan of sql as q (a pool or a transaction) sees it.
func explainOn(t *testing.T, q queryer, sql string, args []any) string {
	t.Helper()
	rows, err := q.Query(context.Background(), "EXPLAIN "+sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// TestPlanStringsAndContainment checks that a string sort reads its
// declared (COLLATE "C") index and that equality on an unindexed field
// uses the GIN index.
func TestPlanStringsAndContainment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	schema := json.RawMessage(`{"properties":{"name":{"type":"string"},"tag":{"type":"string"}},"type":"object"}`)
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		return tx.CreateCollection(ctx, docstore.Collection{Name: "items", Schema: schema, Version: 1,
			Indexes: []docstore.Index{{Fields: []string{"name"}}}})
	})
	_, err := s.pool.Exec(ctx, `INSERT INTO docs_items (id, version, created_at, updated_at, raw, data)
		SELECT 'i' || i, 1, 0, 0, '{}', jsonb_build_object('name', md5(i::text), 'tag', 't' || (i % 500))
		FROM generate_series(1, 10000) AS i`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE docs_items`); err != nil {
		t.Fatal(err)
	}
	name := query.Field{Path: []string{"name"}, Type: query.TypeString}
	tag := query.Field{Path: []string{"tag"}, Type: query.TypeString}
	for _, c := range []struct {
		p    docstore.ListParams
		want string
	}{
		{docstore.ListParams{Collection: "items", Limit: 21,
			Filter: &query.Compare{Field: name, Op: query.OpGe, Value: query.Value{Kind: query.ValueString, Str: "8"}},
			Sort:   []query.SortKey{{Field: name}, {Field: idField}}}, "ix_items_"},
		{docstore.ListParams{Collection: "items", Limit: 21,
			Filter: &query.Compare{Field: tag, Op: query.OpEq, Value: query.Value{Kind: query.ValueString, Str: "t7"}},
			Sort:   []query.SortKey{{Field: idField}}}, "docs_items_data_idx"},
	} {
		qs, err := compileList(c.p)
		if err != nil {
			t.Fatal(err)
		}
		text := explain(t, s, qs[0].text, qs[0].args)
		t.Logf("%s\n%s", qs[0].text, text)
		if !strings.Contains(text, c.want) || strings.Contains(text, "Seq Scan") {
			t.Errorf("the plan does not use %s:\n%s", c.want, text)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{StatementTimeout: 100 * time.Millisecond})

	_, err := s.pool.Exec(ctx, `INSERT INTO idempotency VALUES ('k', '', '{}', 0), ('k', '', '{}', 0)`)
	if got := mapErr("test", err); !fault.Is(got, fault.Conflict) {
		t.Errorf("unique violation: %v (kind %s), want conflict", got, fault.KindOf(got))
	}

	start := time.Now()
	err = s.Write(ctx, func(dt docstore.Tx) error {
		_, err := dt.(*tx).q.Exec(ctx, "SELECT pg_sleep(5)")
		return mapErr("test", err)
	})
	if !fault.Is(err, fault.Unavailable) || sqlState(err) != codeQueryCanceled {
		t.Errorf("statement timeout: %v (kind %s), want unavailable from 57014", err, fault.KindOf(err))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("statement timeout took %v", d)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after a timeout: %v", err)
	}

	for code, want := range map[string]fault.Kind{"23505": fault.Conflict, "40001": fault.Unavailable,
		"40P01": fault.Unavailable, "57P01": fault.Unavailable, "08006": fault.Unavailable,
		"57014": fault.Unavailable, "53300": fault.Unavailable, "42601": fault.Internal} {
		err := fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: code})
		if got := mapErr("test", err); !fault.Is(got, want) {
			t.Errorf("SQLSTATE %s: kind %s, want %s", code, fault.KindOf(got), want)
		}
	}
}

func TestWriteRetriesSerializationFailures(t *testing.T) {
	t.Parallel()
	s := open(t, Options{})
	calls := 0
	err := s.Write(context.Background(), func(docstore.Tx) error {
		calls++
		if calls < 3 {
			return mapErr("test", &pgconn.PgError{Code: codeSerializationFailure})
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Write: %v after %d calls, want success after 3", err, calls)
	}
	calls = 0
	err = s.Write(context.Background(), func(docstore.Tx) error {
		calls++
		return mapErr("test", &pgconn.PgError{Code: codeDeadlockDetected})
	})
	if !fault.Is(err, fault.Unavailable) || calls != maxWriteAttempts {
		t.Fatalf("Write: %v after %d calls, want unavailable after %d", err, calls, maxWriteAttempts)
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	start := time.Now()
	_, err := Open(context.Background(), Options{URL: "postgres://postgres@127.0.0.1:1/test?sslmode=disable",
		AcquireTimeout: timeout})
	if !fault.Is(err, fault.Unavailable) {
		t.Errorf("Open of a closed port: %v (kind %s), want unavailable", err, fault.KindOf(err))
	}
	if d := time.Since(start); d > timeout+time.Second {
		t.Errorf("Open took %v, want about %v", d, timeout)
	}
	_, err = Open(context.Background(), Options{URL: "postgres://x:y@[::1"})
	if !fault.Is(err, fault.Invalid) {
		t.Errorf("Open of a bad URL: %v (kind %s), want invalid", err, fault.KindOf(err))
	}
}

func TestAcquireTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{MaxConns: 1, AcquireTimeout: 200 * time.Millisecond})
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	start := time.Now()
	_, err = s.ListCollections(ctx)
	if !fault.Is(err, fault.Unavailable) {
		t.Errorf("ListCollections on an exhausted pool: %v, want unavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %v for a connection", d)
	}
	if st := s.Stat(); st.MaxConns() != 1 || st.AcquiredConns() != 1 {
		t.Errorf("Stat: max %d, acquired %d", st.MaxConns(), st.AcquiredConns())
	}
}

// TestConcurrentOpen migrates one database from several stores at once.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), Options{URL: url})
			if err == nil {
				_ = s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Open: %v", err)
	}
}

// TestLongCollectionNames checks that names longer than PostgreSQL's
// identifiers allow stay distinct.
func TestLongCollectionNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	a, b := strings.Repeat("a", 62)+"x", strings.Repeat("a", 62)+"y"
	for _, name := range []string{a, b} {
		mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
			if err := tx.CreateCollection(ctx, docstore.Collection{Name: name, Schema: numSchema, Version: 1,
				Indexes: []docstore.Index{{Fields: []string{"score"}}}}); err != nil {
				return err
			}
			return tx.InsertDocument(ctx, docstore.Document{Collection: name, ID: name, Version: 1, Data: json.RawMessage(`{"score":1}`)})
		})
	}
	for _, name := range []string{a, b} {
		n, err := s.CountDocuments(ctx, docstore.CountParams{Collection: name})
		if err != nil || n != 1 {
			t.Fatalf("CountDocuments(%s) = %d, %v; want 1", name, n, err)
		}
	}
}

// TestNULCharacter stores a document with an escaped U+0000, which jsonb
// cannot hold: the text comes back unchanged and the document is found.
func TestNULCharacter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	data := `{"a":"x\u0000y","b":"\\u0000","c":1}`
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		if err := tx.CreateCollection(ctx, docstore.Collection{Name: "nul", Schema: numSchema, Version: 1}); err != nil {
			return err
		}
		return tx.InsertDocument(ctx, docstore.Document{Collection: "nul", ID: "n", Version: 1, Data: json.RawMessage(data)})
	})
	d, err := s.GetDocument(ctx, "nul", "n")
	if err != nil || string(d.Data) != data {
		t.Fatalf("GetDocument = %s, %v; want %s", d.Data, err, data)
	}
	n, err := s.CountDocuments(ctx, docstore.CountParams{Collection: "nul", Filter: &query.Compare{Field: query.Field{Path: []string{"b"}, Type: query.TypeString},
		Op: query.OpEq, Value: query.Value{Kind: query.ValueString, Str: `\u0000`}}})
	if err != nil || n != 1 {
		t.Fatalf("CountDocuments(b = \\u0000) = %d, %v; want 1", n, err)
	}
}

func TestJSONBText(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":"b"}`:            `{"a":"b"}`,
		`{"a":"\u0000"}`:       `{"a":"\ufffd"}`,
		`{"a":"\\u0000"}`:      `{"a":"\\u0000"}`,
		`{"a":"\\\u0000\""}`:   `{"a":"\\\ufffd\""}`,
		`{"\u0000":"\u00001"}`: `{"\ufffd":"\ufffd1"}`,
	} {
		if got := jsonbText([]byte(in)); got != want {
			t.Errorf("jsonbText(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestPoolCollector(t *testing.T) {
	t.Parallel()
	s := open(t, Options{MaxConns: 3})
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(NewPoolCollector(s)); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg)
	if err != nil || n != 12 {
		t.Fatalf("gathered %d metrics, %v; want 12", n, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`# HELP basalt_db_pool_max_conns Maximum size of the PostgreSQL connection pool.
# TYPE basalt_db_pool_max_conns gauge
basalt_db_pool_max_conns 3
`), "basalt_db_pool_max_conns"); err != nil {
		t.Fatal(err)
	}
}
