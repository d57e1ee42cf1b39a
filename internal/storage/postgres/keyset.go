package postgres

// This file compiles sort orders and keyset positions (see compileList).

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// bindAfter converts a keyset value of docstore.ListParams.After to an
// argument of kind k.
func bindAfter(v any, k kind) (any, error) {
	bad := fault.Newf(fault.Invalid, compileOp, "cursor value %v does not match the sort order", v)
	switch k {
	case kindText:
		if s, ok := v.(string); ok {
			return nulFree(s), nil
		}
	case kindNumeric:
		switch v := v.(type) {
		case json.Number:
			if _, err := strconv.ParseFloat(string(v), 64); err != nil {
				return nil, fault.Newf(fault.Invalid, compileOp, "invalid cursor number %q", string(v))
			}
			return string(v), nil
		case int64:
			return strconv.FormatInt(v, 10), nil
		case float64:
			return strconv.FormatFloat(v, 'g', -1, 64), nil
		}
	case kindBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case kindBigint:
		switch v := v.(type) {
		case int64:
			return v, nil
		case int:
			return int64(v), nil
		case time.Time:
			return toMicros(v), nil
		}
	case kindJSONB:
		text, err := json.Marshal(v)
		if err != nil {
			return nil, bad
		}
		return string(text), nil
	}
	return nil, bad
}

// listQuery is one SELECT of a list, with its bound arguments; when the
// list is limited, the last argument is the limit.
type listQuery struct {
	text string
	args []any
}

// sortKey is a compiled sort key.
type sortKey struct {
	target
	desc, nullable bool
}

// orderBy returns the ORDER BY term of k. Data fields sort nulls first
// ascending and last descending, as the declared indexes store them.
func (k sortKey) orderBy() string {
	switch {
	case !k.nullable && k.desc:
		return k.x + " DESC"
	case !k.nullable:
		return k.x
	case k.desc:
		return k.x + " DESC NULLS LAST"
	}
	return k.x + " NULLS FIRST"
}

// compileList returns the queries of a list: their rows, concatenated and
// cut at p.Limit, are the page.
//
// Keyset pagination: with sort keys k1…kn and the previous page's last row
// a1…an, the next rows are those where, for some i, kj equals aj for every
// j < i and ki comes after ai. In ascending order nulls come first, so
// "after null" is IS NOT NULL and "after a" is > a; in descending order
// nulls come last, so "after a" is < a OR IS NULL and nothing comes after
// null. System fields are never null.
//
// So that an index on k1 is read from the cursor on rather than from its
// start, the engine adds the redundant bound k1 >= a1 (ascending) or
// k1 <= a1 (descending). A bound cannot cover the nulls that follow a1 in
// descending order, so when k1 may be null the list runs a second query
// for them (k1 IS NULL), used only if the first returns a short page.
func compileList(p docstore.ListParams) ([]listQuery, error) {
	table, err := tableName("postgres.ListDocuments", p.Collection)
	if err != nil {
		return nil, err
	}
	sort := p.Sort
	if n := len(sort); n == 0 || sort[n-1].Field.System != query.SystemID {
		sort = append(sort[:n:n], query.SortKey{Field: query.Field{System: query.SystemID, Type: query.TypeString}})
	}
	keys := make([]sortKey, len(sort))
	for i, s := range sort {
		t, err := fieldTarget(s.Field)
		if err != nil {
			return nil, err
		}
		keys[i] = sortKey{target: t, desc: s.Desc, nullable: s.Field.System == query.SystemNone}
	}
	var after []any
	if p.After != nil {
		if len(p.After) != len(p.Sort) || len(p.Sort) != len(keys) {
			return nil, fault.New(fault.Invalid, compileOp, "cursor does not match the sort order")
		}
		after = make([]any, len(p.After))
		for i, a := range p.After {
			if a == nil {
				continue
			}
			if after[i], err = bindAfter(a, keys[i].k); err != nil {
				return nil, err
			}
		}
	}
	nullTail := after != nil && keys[0].desc && after[0] != nil && keys[0].nullable
	var out []listQuery
	for q := 0; q < 2; q++ {
		var b builder
		b.w("SELECT ", docColumns, " FROM ", table)
		if p.Filter != nil {
			b.w(" WHERE (")
			if err := b.expr(p.Filter, false); err != nil {
				return nil, err
			}
			b.w(")")
		}
		if q == 1 || after != nil {
			if p.Filter != nil {
				b.w(" AND ")
			} else {
				b.w(" WHERE ")
			}
			if q == 1 {
				b.w(keys[0].x, " IS NULL")
			} else {
				b.keyset(keys, after)
			}
		}
		b.w(" ORDER BY ")
		for i, k := range keys {
			if q == 1 && i == 0 {
				continue // k1 is null in every row of the null tail
			}
			if i > q {
				b.w(", ")
			}
			b.w(k.orderBy())
		}
		if p.Limit > 0 {
			b.w(" LIMIT ")
			b.bind(int64(p.Limit), kindBigint)
		}
		out = append(out, listQuery{text: b.sql.String(), args: b.args})
		if !nullTail {
			break
		}
	}
	return out, nil
}

// keyset writes the condition "after the position a" (see compileList).
// With a descending nullable first key and a non-null a[0], it leaves out
// the nulls of that key, which compileList's second query returns.
func (b *builder) keyset(keys []sortKey, a []any) {
	if a[0] != nil {
		if keys[0].desc {
			b.w(keys[0].x, " <= ")
		} else {
			b.w(keys[0].x, " >= ")
		}
		b.bind(a[0], keys[0].k)
		b.w(" AND ")
	}
	b.w("(")
	first := true
	for i, k := range keys {
		if k.desc && a[i] == nil {
			continue // nothing sorts after null in descending order
		}
		if !first {
			b.w(" OR ")
		}
		first = false
		b.w("(")
		for j := 0; j < i; j++ {
			if a[j] == nil {
				b.w(keys[j].x, " IS NULL AND ")
			} else {
				b.w(keys[j].x, " = ")
				b.bind(a[j], keys[j].k)
				b.w(" AND ")
			}
		}
		switch {
		case !k.desc && a[i] == nil:
			b.w(k.x, " IS NOT NULL")
		case !k.desc:
			b.w(k.x, " > ")
			b.bind(a[i], k.k)
		case i == 0 || !k.nullable:
			b.w(k.x, " < ")
			b.bind(a[i], k.k)
		default:
			b.w("(", k.x, " < ")
			b.bind(a[i], k.k)
			b.w(" OR ", k.x, " IS NULL)")
		}
		b.w(")")
	}
	if first {
		b.w("FALSE")
	}
	b.w(")")
}
