package postgres

// This file compiles counts.

import (
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/query"
)

// compileCount returns the query of a count.
//
// With a limit, the count is over a subquery that stops after p.Limit
// matches, so that its work is bounded by the limit, not by the
// collection. Left to itself, the planner would often read such a
// subquery with a sequential scan: its plan is built for the generic
// parameter of a cached statement (a third of the rows for a range), and
// even with the literal at hand it expects the matches to come early in
// the table, which is wrong for a selective filter or an unlucky order.
// So when the filter bounds the first field of a declared index (or the
// id), the subquery is ordered by that index's first column: reading the
// matches from the index and stopping after p.Limit of them is then the
// plan, as for a list sorted by that field. The order changes no count.
func compileCount(p docstore.CountParams) (string, []any, error) {
	table, err := tableName("postgres.CountDocuments", p.Collection)
	if err != nil {
		return "", nil, err
	}
	var b builder
	if p.Limit > 0 {
		b.w("SELECT count(*) FROM (SELECT 1 FROM ", table)
	} else {
		b.w("SELECT count(*) FROM ", table)
	}
	if p.Filter != nil {
		b.w(" WHERE (")
		if err := b.expr(p.Filter, false); err != nil {
			return "", nil, err
		}
		b.w(")")
	}
	if p.Limit > 0 {
		if col, ok := countIndexColumn(p.Filter, p.Indexes); ok {
			b.w(" ORDER BY ", col)
		}
		b.w(" LIMIT ")
		b.bind(p.Limit, kindBigint)
		b.w(") AS matches")
	}
	return b.sql.String(), b.args, nil
}

// countIndexColumn returns the first column of an index the planner can
// read the matches of filter from: that of the id (the primary key) or of
// a declared index whose first field a conjunct of filter compares with a
// literal (=, <, <=, >, >=), through the very expression the index holds.
func countIndexColumn(filter query.Expr, indexes []docstore.Index) (string, bool) {
	first := make(map[string]bool, len(indexes))
	for _, ix := range indexes {
		if len(ix.Fields) > 0 {
			first[ix.Fields[0]] = true
		}
	}
	for _, c := range query.Bounds(filter) {
		if c.Field.System == query.SystemID || first[c.Field.Name()] && c.Field.System != query.SystemNone {
			col, _ := systemColumn(c.Field.System)
			return col, true
		}
		if !first[c.Field.Name()] {
			continue
		}
		t, err := fieldTarget(c.Field)
		if err != nil || t.k == kindJSONB {
			continue // an untyped field is compared through another expression
		}
		if _, k, err := bindValue(c.Value, t.k); err != nil || k != t.k {
			continue // a literal of another type never matches: no bound
		}
		return t.x + " NULLS FIRST", true
	}
	return "", false
}
