package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/query"
)

// TestCountReadsDeclaredIndex checks that a limited count whose filter
// bounds an indexed field searches that index, whatever share of the
// collection matches, so that its work is bounded by the limit.
func TestCountReadsDeclaredIndex(t *testing.T) {
	s := open(t, Options{})
	indexes := []docstore.Index{{Fields: []string{"score"}}}
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		c := newCollection("posts")
		c.Indexes = indexes
		if err := tx.CreateCollection(ctx, c); err != nil {
			return err
		}
		for i := range 2000 {
			d := docstore.Document{Collection: "posts", ID: fmt.Sprintf("p%04d", i), Version: 1,
				Data: json.RawMessage(fmt.Sprintf(`{"score":%d,"owner":"u%d"}`, i%1000, i%10))}
			if err := tx.InsertDocument(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	if _, err := s.wconn.ExecContext(context.Background(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	ge := func(n float64) query.Expr {
		return &query.Compare{Field: scoreField, Op: query.OpGe, Value: query.Value{Kind: query.ValueNumber, Num: n}}
	}
	owner := query.Field{Path: []string{"owner"}, Type: query.TypeString}
	for _, c := range []struct {
		name   string
		filter query.Expr
		want   int64
	}{
		{"score >= 500 (half)", ge(500), 1000},
		{"score >= 0 (all)", ge(0), 2000},
		{"score >= 990 (1%)", ge(990), 20},
		{"owner = u3 and score >= 500 (a rule and a filter)", &query.And{Terms: []query.Expr{
			&query.Compare{Field: owner, Op: query.OpEq, Value: query.Value{Kind: query.ValueString, Str: "u3"}}, ge(500)}}, 100},
	} {
		p := docstore.CountParams{Collection: "posts", Filter: c.filter, Limit: 101, Indexes: indexes}
		text, args, err := compileCount(p)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+text, args...)
		if err != nil {
			t.Fatalf("explain %s: %v", text, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(plan, "; ")
		if !strings.Contains(got, "INDEX ix_posts_") || strings.Contains(got, "SCAN docs_posts") {
			t.Errorf("%s: the count does not search the declared index: %s\n%s", c.name, got, text)
		}
		t.Logf("%s: %s", c.name, got)
		n, err := s.CountDocuments(context.Background(), p)
		if want := min(c.want, p.Limit); err != nil || n != want {
			t.Errorf("%s: CountDocuments = %d, %v; want %d", c.name, n, err, want)
		}
	}
}
