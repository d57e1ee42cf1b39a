package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/query"
)

// planNode is a node of EXPLAIN (FORMAT JSON).
type planNode struct {
	NodeType  string     `json:"Node Type"`
	IndexName string     `json:"Index Name"`
	Plans     []planNode `json:"Plans"`
}

func (n planNode) walk(fn func(planNode)) {
	fn(n)
	for _, c := range n.Plans {
		c.walk(fn)
	}
}

// explainJSON returns the plan of sql with args, as a custom plan (the
// literals at hand) or as the generic plan of a cached statement.
func explainJSON(t *testing.T, s *Store, sql string, args []any, generic bool) planNode {
	t.Helper()
	ctx := context.Background()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	mode := "force_custom_plan"
	if generic {
		mode = "force_generic_plan"
	}
	if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = "+mode); err != nil {
		t.Fatal(err)
	}
	var out []byte
	if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&out); err != nil {
		t.Fatalf("explain %s: %v", sql, err)
	}
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("explain %s: %s: %v", sql, out, err)
	}
	return plans[0].Plan
}

// TestCountReadsDeclaredIndex checks that a limited count whose filter
// bounds an indexed field reads the matches from that index, with the
// literal at hand and as a cached statement's generic plan, whatever
// share of the collection matches, and never scans the table: its work
// is bounded by the limit. (A plain count of half the table is a
// sequential scan of all of it.)
func TestCountReadsDeclaredIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	schema := json.RawMessage(`{"properties":{"score":{"type":"number"},"owner":{"type":"string"}},"type":"object"}`)
	indexes := []docstore.Index{{Fields: []string{"score"}}}
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		return tx.CreateCollection(ctx, docstore.Collection{Name: "items", Schema: schema, Version: 1, Indexes: indexes})
	})
	_, err := s.pool.Exec(ctx, `INSERT INTO docs_items (id, version, created_at, updated_at, raw, data)
		SELECT 'i' || lpad(i::text, 6, '0'), 1, 0, 0, '{}',
		       jsonb_build_object('score', i % 1000, 'owner', 'u' || (i % 10))
		FROM generate_series(1, 20000) AS i`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE docs_items`); err != nil {
		t.Fatal(err)
	}
	owner := query.Field{Path: []string{"owner"}, Type: query.TypeString}
	ge := func(n float64) query.Expr {
		return &query.Compare{Field: score, Op: query.OpGe, Value: query.Value{Kind: query.ValueNumber, Num: n}}
	}
	for _, c := range []struct {
		name   string
		filter query.Expr
		want   int64  // matches, before the limit
		index  string // the prefix of the index it must read
	}{
		{"score >= 500 (half)", ge(500), 10000, "ix_items_"},
		{"score >= 0 (all)", ge(0), 20000, "ix_items_"},
		{"score >= 990 (1%)", ge(990), 200, "ix_items_"},
		// The planner may prefer the GIN index for the equality.
		{"owner = u3 and score >= 500 (a rule and a filter)", &query.And{Terms: []query.Expr{
			&query.Compare{Field: owner, Op: query.OpEq, Value: query.Value{Kind: query.ValueString, Str: "u3"}}, ge(500)}}, 1000, ""},
	} {
		p := docstore.CountParams{Collection: "items", Filter: c.filter, Limit: 1001, Indexes: indexes}
		text, args, err := compileCount(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, generic := range []bool{false, true} {
			plan := explainJSON(t, s, text, args, generic)
			var nodes []string
			usesIndex := false
			plan.walk(func(n planNode) {
				nodes = append(nodes, strings.TrimSpace(n.NodeType+" "+n.IndexName))
				if n.IndexName != "" && strings.HasPrefix(n.IndexName, c.index) &&
					slices.Contains([]string{"Index Scan", "Index Only Scan", "Bitmap Index Scan"}, n.NodeType) {
					usesIndex = true
				}
			})
			if !usesIndex || slices.ContainsFunc(nodes, func(n string) bool { return strings.HasPrefix(n, "Seq Scan") }) {
				t.Errorf("%s (generic plan: %v): the count does not read the declared index: %s\n%s", c.name, generic, strings.Join(nodes, " → "), text)
			}
		}
		n, err := s.CountDocuments(ctx, p)
		if want := min(c.want, p.Limit); err != nil || n != want {
			t.Errorf("%s: CountDocuments = %d, %v; want %d", c.name, n, err, want)
		}
	}
}

// TestCountCancelledOnServer checks that a count whose context ends stops
// on the server too, instead of running on there for nobody: here a count
// waiting for a lock is no longer waiting once CountDocuments returns.
func TestCountCancelledOnServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		return tx.CreateCollection(ctx, docstore.Collection{Name: "locked", Schema: json.RawMessage(`{}`), Version: 1})
	})
	lock, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback(ctx) }()
	if _, err := lock.Exec(ctx, `LOCK TABLE docs_locked IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	countCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.CountDocuments(countCtx, docstore.CountParams{Collection: "locked", Limit: 10})
		done <- err
	}()
	waiting := func() []int32 {
		rows, err := lock.Query(ctx, `SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
			WHERE c.relname = 'docs_locked' AND NOT l.granted`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var pids []int32
		for rows.Next() {
			var pid int32
			if err := rows.Scan(&pid); err != nil {
				t.Fatal(err)
			}
			pids = append(pids, pid)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return pids
	}
	var pids []int32
	for len(pids) == 0 {
		select {
		case err := <-done:
			t.Fatalf("the count ended before it waited for the lock: %v", err)
		default:
		}
		pids = waiting()
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the cancelled count returned no error")
	}
	if still := waiting(); len(still) > 0 {
		t.Fatalf("after its request ended, the count still waits on the server (pids %v, first seen %v)", still, pids)
	}
	if _, err := lock.Exec(ctx, `SELECT 1`); err != nil { // the lock holder was not disturbed
		t.Fatal(fmt.Errorf("lock holder: %w", err))
	}
}
