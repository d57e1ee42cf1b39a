package sqlite

// This file compiles checked filter ASTs, sort orders and keyset positions
// to SQLite SQL. Values are always bound parameters; the only identifiers
// that reach SQL text are system column names and JSON path literals built
// from re-validated Field.Path elements, so the same text appears in
// expression indexes and in queries (which SQLite needs to use the index).
//
// Null semantics (query.Compare): NOT is pushed down to the comparisons
// (De Morgan), so above the leaves only AND and OR remain. A positive leaf
// may evaluate to SQL NULL only when its field is null, and since AND/OR
// are monotone a NULL leaf then selects exactly the rows FALSE would. A
// negated leaf is written NOT IFNULL(leaf, 0) (or IS NOT NULL), which is
// TRUE for null fields. So no SQL NULL changes a result and "!" is exact.
//
// Types: json_extract returns TEXT for strings, INTEGER or REAL for
// numbers, 1/0 for booleans and NULL for null or missing. When the schema
// types a field, that is unambiguous; for fields of query.TypeAny the leaf
// also checks json_type so that true never equals 1 and "1" never equals 1.
// Numbers compare as the float64 query.ReadNumber reads (builder.number).

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

const compileOp = "sqlite.compile"

// builder accumulates SQL text and its bound arguments.
type builder struct {
	sql  strings.Builder
	args []any
}

func (b *builder) w(s ...string) {
	for _, x := range s {
		b.sql.WriteString(x)
	}
}

func (b *builder) bind(v any) { b.sql.WriteByte('?'); b.args = append(b.args, v) }

// validPathElement reports whether s matches [A-Za-z_][A-Za-z0-9_]{0,63}.
func validPathElement(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// jsonPath returns the SQL literal '$.a.b' for a data path.
func jsonPath(path []string) (string, error) {
	if len(path) == 0 {
		return "", fault.New(fault.Invalid, compileOp, "empty field path")
	}
	var s strings.Builder
	s.WriteString("'$")
	for _, p := range path {
		if !validPathElement(p) {
			return "", fault.Newf(fault.Invalid, compileOp, "invalid field name %q", p)
		}
		s.WriteByte('.')
		s.WriteString(p)
	}
	s.WriteByte('\'')
	return s.String(), nil
}

// systemColumn maps a system field to its column.
func systemColumn(s query.System) (string, bool) {
	switch s {
	case query.SystemID:
		return "id", true
	case query.SystemVersion:
		return "version", true
	case query.SystemCreatedAt:
		return "created_at", true
	case query.SystemUpdatedAt:
		return "updated_at", true
	}
	return "", false
}

// fieldSQL returns the SQL expression of a field and, for data fields, its
// JSON path literal.
func fieldSQL(f query.Field) (expr, path string, err error) {
	if f.System != query.SystemNone {
		col, ok := systemColumn(f.System)
		if !ok {
			return "", "", fault.Newf(fault.Invalid, compileOp, "unknown system field %q", f.System)
		}
		return col, "", nil
	}
	path, err = jsonPath(f.Path)
	if err != nil {
		return "", "", err
	}
	return "json_extract(data," + path + ")", path, nil
}

// indexFieldSQL is fieldSQL for the dotted names of docstore.Index.
func indexFieldSQL(name string) (string, error) {
	if col, ok := systemColumn(query.System(name)); ok {
		return col, nil
	}
	e, _, err := fieldSQL(query.Field{Path: strings.Split(name, ".")})
	return e, err
}

// expr writes e, negated when neg is set.
func (b *builder) expr(e query.Expr, neg bool) error {
	switch e := e.(type) {
	case *query.And:
		return b.junction(e.Terms, neg, " AND ", " OR ", "1")
	case *query.Or:
		return b.junction(e.Terms, neg, " OR ", " AND ", "0")
	case *query.Not:
		if e == nil {
			return fault.New(fault.Invalid, compileOp, "nil expression")
		}
		return b.expr(e.X, !neg)
	case *query.Compare:
		if e == nil {
			return fault.New(fault.Invalid, compileOp, "nil expression")
		}
		return b.compare(e, neg)
	}
	return fault.Newf(fault.Invalid, compileOp, "unknown expression %T", e)
}

// junction writes terms joined by sep (or, negated, by negSep: De Morgan).
// An empty And is true and an empty Or false.
func (b *builder) junction(terms []query.Expr, neg bool, sep, negSep, empty string) error {
	if len(terms) == 0 {
		if neg == (empty == "1") {
			b.w("0")
		} else {
			b.w("1")
		}
		return nil
	}
	if neg {
		sep = negSep
	}
	b.w("(")
	for i, t := range terms {
		if i > 0 {
			b.w(sep)
		}
		if err := b.expr(t, neg); err != nil {
			return err
		}
	}
	b.w(")")
	return nil
}

// leafTarget is what a leaf compares: an SQL value expression and the SQL
// expression of its JSON type (empty for system columns).
type leafTarget struct {
	x, jt string
	typ   query.Type
}

func (b *builder) compare(c *query.Compare, neg bool) error {
	op, opNeg := c.Op.Positive()
	x, path, err := fieldSQL(c.Field)
	if err != nil {
		return err
	}
	values := c.Values
	if op != query.OpIn {
		values = []query.Value{c.Value}
	} else if len(values) == 0 {
		return fault.New(fault.Invalid, compileOp, "empty in list")
	}
	if !c.Any {
		t := leafTarget{x: x, typ: c.Field.Type}
		if path != "" {
			t.jt = "json_type(data," + path + ")"
		}
		return b.leaf(t, op, values, neg != opNeg)
	}
	if path == "" {
		return fault.Newf(fault.Invalid, compileOp, "%s is not an array", c.Field.Name())
	}
	if neg {
		b.w("NOT ")
	}
	// Array elements have integer keys; this skips the single row json_each
	// yields for a scalar or null.
	b.w("EXISTS (SELECT 1 FROM json_each(data,", path, ") AS e WHERE typeof(e.key) = 'integer' AND ")
	if err := b.leaf(leafTarget{x: "e.value", jt: "e.type", typ: c.Field.Items}, op, values, opNeg); err != nil {
		return err
	}
	b.w(")")
	return nil
}

// leaf writes one comparison of t with values under a positive operator,
// negated when neg is set.
func (b *builder) leaf(t leafTarget, op query.Op, values []query.Value, neg bool) error {
	if op == query.OpEq && values[0].Kind == query.ValueNull {
		if neg {
			b.w(t.x, " IS NOT NULL")
		} else {
			b.w(t.x, " IS NULL")
		}
		return nil
	}
	if neg {
		b.w("NOT IFNULL(")
	}
	if err := b.positiveLeaf(t, op, values); err != nil {
		return err
	}
	if neg {
		b.w(", 0)")
	}
	return nil
}

func (b *builder) positiveLeaf(t leafTarget, op query.Op, values []query.Value) error {
	guarded := t.typ == query.TypeAny && t.jt != ""
	switch op {
	case query.OpIn:
		var nonNull []query.Value
		hasNull := false
		for _, v := range values {
			if v.Kind == query.ValueNull {
				hasNull = true
			} else {
				nonNull = append(nonNull, v)
			}
		}
		b.w("(")
		if hasNull {
			b.w(t.x, " IS NULL")
			if len(nonNull) > 0 {
				b.w(" OR ")
			}
		}
		switch {
		case len(nonNull) == 0:
		case guarded:
			for i, v := range nonNull {
				if i > 0 {
					b.w(" OR ")
				}
				if err := b.positiveLeaf(t, query.OpEq, []query.Value{v}); err != nil {
					return err
				}
			}
		default:
			// Numbers beyond 2^53 stand for a range of integers each.
			var exact, wide []query.Value
			for _, v := range nonNull {
				if _, err := bindValue(v); err != nil {
					return err
				}
				if v.Kind == query.ValueNumber && t.jt != "" && math.Abs(v.Num) >= 1<<53 {
					wide = append(wide, v)
				} else {
					exact = append(exact, v)
				}
			}
			if len(exact) > 0 {
				b.w(t.x, " IN (")
				for i, v := range exact {
					if i > 0 {
						b.w(", ")
					}
					arg, err := bindValue(v)
					if err != nil {
						return err
					}
					b.bind(arg)
				}
				b.w(")")
			}
			for i, v := range wide {
				if i > 0 || len(exact) > 0 {
					b.w(" OR ")
				}
				b.w("(")
				b.number(t.x, query.OpEq, v.Num)
				b.w(")")
			}
		}
		b.w(")")
		return nil
	case query.OpContains:
		if values[0].Kind != query.ValueString {
			b.w("0")
			return nil
		}
		b.w("(")
		if guarded {
			b.w(t.jt, " = 'text' AND ")
		}
		b.w("instr(lower(", t.x, "), lower(")
		b.bind(values[0].Str)
		b.w(")) > 0)")
		return nil
	}
	sqlOp, ok := map[query.Op]string{query.OpEq: " = ", query.OpLt: " < ", query.OpLe: " <= ",
		query.OpGt: " > ", query.OpGe: " >= "}[op]
	if !ok {
		return fault.Newf(fault.Invalid, compileOp, "unknown operator %d", op)
	}
	v := values[0]
	if v.Kind == query.ValueNull {
		b.w("0") // ordering with null never holds
		return nil
	}
	if guarded && v.Kind == query.ValueBool && op == query.OpEq {
		b.w(t.jt, map[bool]string{true: " = 'true'", false: " = 'false'"}[v.Bool])
		return nil
	}
	arg, err := bindValue(v)
	if err != nil {
		return err
	}
	b.w("(")
	if guarded {
		switch v.Kind {
		case query.ValueString:
			b.w(t.jt, " = 'text' AND ")
		case query.ValueNumber:
			b.w(t.jt, " IN ('integer','real') AND ")
		case query.ValueBool:
			b.w(t.jt, " IN ('true','false') AND ")
		}
	}
	if v.Kind == query.ValueNumber && t.jt != "" {
		b.number(t.x, op, v.Num)
	} else {
		b.w(t.x, sqlOp)
		b.bind(arg)
	}
	b.w(")")
	return nil
}

// number writes "x op f" for a number x read from data by json_extract,
// with the semantics of query.ReadNumber: x compares as a float64.
// json_extract returns a REAL that is already that float64 or, for
// numbers written as integers within int64, the exact INTEGER, and SQLite
// compares INTEGER with REAL exactly. Below 2^53 every integer is a
// float64, so x is compared with f itself. Beyond, f is an integer and the
// bound is the least or greatest int64 that rounds to f: no float64 lies
// between f and that bound, so REAL values compare alike with it.
func (b *builder) number(x string, op query.Op, f float64) {
	if math.Abs(f) < 1<<53 {
		b.w(x, map[query.Op]string{query.OpEq: " = ", query.OpLt: " < ", query.OpLe: " <= ",
			query.OpGt: " > ", query.OpGe: " >= "}[op])
		b.bind(bindNumber(f))
		return
	}
	lo, hi := numberBounds(f)
	switch op {
	case query.OpEq:
		b.w(x, " >= ")
		b.bind(lo)
		b.w(" AND ", x, " <= ")
		b.bind(hi)
	case query.OpLt:
		b.w(x, " < ")
		b.bind(lo)
	case query.OpGe:
		b.w(x, " >= ")
		b.bind(lo)
	case query.OpLe:
		b.w(x, " <= ")
		b.bind(hi)
	case query.OpGt:
		b.w(x, " > ")
		b.bind(hi)
	}
}

// numberBounds returns, for a float64 f beyond ±2^53, the arguments lo
// and hi that SQLite values (INTEGER or REAL) compare with as with f: x >=
// lo exactly when x reads as f or more, x <= hi exactly when x reads as f
// or less (see builder.number).
func numberBounds(f float64) (lo, hi any) {
	lo, hi = f, f
	// The int64 values are -2^63 … 2^63-1; 2^63-1 rounds to 2^63.
	if f >= -(1<<63) && f <= 1<<63 {
		// The least int64 that rounds to f or more.
		lo = searchInt64(func(n int64) bool { return float64(n) >= f })
	}
	if f >= -(1<<63) && f < 1<<63 {
		// The greatest int64 that rounds to f or less.
		hi = searchInt64(func(n int64) bool { return float64(n) > f }) - 1
	}
	return lo, hi
}

// searchInt64 returns the least int64 for which the monotone pred holds
// (math.MaxInt64 when it holds for none).
func searchInt64(pred func(int64) bool) int64 {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	for lo < hi {
		mid := lo + int64((uint64(hi)-uint64(lo))/2)
		if pred(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// bindValue converts a literal to the argument SQLite compares it as:
// integral numbers as int64, other numbers as float64, booleans as 1/0
// (what json_extract returns for them), times as Unix microseconds.
func bindValue(v query.Value) (any, error) {
	switch v.Kind {
	case query.ValueString:
		return v.Str, nil
	case query.ValueNumber:
		if math.IsInf(v.Num, 0) || math.IsNaN(v.Num) {
			return nil, fault.Newf(fault.Invalid, compileOp, "number literal %v is not finite", v.Num)
		}
		return bindNumber(v.Num), nil
	case query.ValueBool:
		if v.Bool {
			return int64(1), nil
		}
		return int64(0), nil
	case query.ValueTime:
		return toMicros(v.Time), nil
	}
	return nil, fault.Newf(fault.Invalid, compileOp, "unknown value kind %d", v.Kind)
}

func bindNumber(f float64) any {
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return int64(f)
	}
	return f
}

// bindAfter converts a keyset value of docstore.ListParams.After.
func bindAfter(v any) (any, error) {
	switch v := v.(type) {
	case string, int64, float64:
		return v, nil
	case int:
		return int64(v), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return nil, fault.Newf(fault.Invalid, compileOp, "invalid cursor number %q", string(v))
		}
		return bindNumber(f), nil
	case bool:
		if v {
			return int64(1), nil
		}
		return int64(0), nil
	case time.Time:
		return toMicros(v), nil
	}
	return nil, fault.Newf(fault.Invalid, compileOp, "invalid cursor value of type %T", v)
}

// listQuery is one SELECT of a list, with its bound arguments.
type listQuery struct {
	text string
	args []any
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
// k1 <= a1 (descending) and writes the disjunction with unary plus (+k),
// which keeps SQLite from splitting it into a MULTI-INDEX OR that would
// lose the index order. A bound cannot cover the nulls that follow a1 in
// descending order, so when k1 may be null the list runs a second query
// for them (k1 IS NULL), used only if the first returns a short page.
func compileList(p docstore.ListParams) ([]listQuery, error) {
	table, err := tableName("sqlite.ListDocuments", p.Collection)
	if err != nil {
		return nil, err
	}
	keys := p.Sort
	if n := len(keys); n == 0 || keys[n-1].Field.System != query.SystemID {
		keys = append(keys[:n:n], query.SortKey{Field: query.Field{System: query.SystemID, Type: query.TypeString}})
	}
	exprs := make([]string, len(keys))
	for i, k := range keys {
		if exprs[i], _, err = fieldSQL(k.Field); err != nil {
			return nil, err
		}
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
			if after[i], err = bindAfter(a); err != nil {
				return nil, err
			}
		}
	}
	nullTail := after != nil && keys[0].Desc && after[0] != nil && keys[0].Field.System == query.SystemNone
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
				b.w(exprs[0], " IS NULL")
			} else {
				b.keyset(keys, exprs, after)
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
			b.w(exprs[i])
			if k.Desc {
				b.w(" DESC")
			}
		}
		if p.Limit > 0 {
			b.w(" LIMIT ")
			b.bind(int64(p.Limit))
		}
		out = append(out, listQuery{text: b.sql.String(), args: b.args})
		if !nullTail {
			break
		}
	}
	return out, nil
}

// compileCount returns the query of a count.
//
// With a limit, the count is over a subquery that stops after p.Limit
// matches, so that the work is bounded by the limit, not by the
// collection. The WHERE clause is the one compileList writes, whose
// expressions are those of the indexes; and when the filter bounds the
// first field of a declared index (or the id), the subquery is ordered
// by it, so that SQLite reads the matches from that index and stops after
// p.Limit of them, as for a list sorted by that field, rather than
// scanning the table when other conditions make the range look large.
// The order changes no count.
func compileCount(p docstore.CountParams) (string, []any, error) {
	table, err := tableName("sqlite.CountDocuments", p.Collection)
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
		b.bind(p.Limit)
		b.w(")")
	}
	return b.sql.String(), b.args, nil
}

// countIndexColumn returns the first column of an index SQLite can read
// the matches of filter from: that of the id (the primary key) or of a
// declared index whose first field a conjunct of filter compares with a
// literal (=, <, <=, >, >=), when the field is typed (an untyped one may
// be compared through its JSON type instead).
func countIndexColumn(filter query.Expr, indexes []docstore.Index) (string, bool) {
	first := make(map[string]bool, len(indexes))
	for _, ix := range indexes {
		if len(ix.Fields) > 0 {
			first[ix.Fields[0]] = true
		}
	}
	for _, c := range query.Bounds(filter) {
		if c.Field.System != query.SystemID && (!first[c.Field.Name()] || c.Field.Type == query.TypeAny) {
			continue
		}
		if col, _, err := fieldSQL(c.Field); err == nil {
			return col, true
		}
	}
	return "", false
}

// keyset writes the condition "after the position a" (see compileList).
// With a descending first key and a non-null a[0], it leaves out the nulls
// of that key, which compileList's second query returns.
func (b *builder) keyset(keys []query.SortKey, exprs []string, a []any) {
	nullable := func(i int) bool { return keys[i].Field.System == query.SystemNone }
	if a[0] != nil {
		if keys[0].Desc {
			b.w(exprs[0], " <= ")
		} else {
			b.w(exprs[0], " >= ")
		}
		b.bind(a[0])
		b.w(" AND ")
	}
	b.w("(")
	first := true
	for i := range keys {
		if keys[i].Desc && a[i] == nil {
			continue // nothing sorts after null in descending order
		}
		if !first {
			b.w(" OR ")
		}
		first = false
		b.w("(")
		for j := 0; j < i; j++ {
			if a[j] == nil {
				b.w("+", exprs[j], " IS NULL AND ")
			} else {
				b.w("+", exprs[j], " = ")
				b.bind(a[j])
				b.w(" AND ")
			}
		}
		switch {
		case !keys[i].Desc && a[i] == nil:
			b.w("+", exprs[i], " IS NOT NULL")
		case !keys[i].Desc:
			b.w("+", exprs[i], " > ")
			b.bind(a[i])
		case i == 0 || !nullable(i):
			b.w("+", exprs[i], " < ")
			b.bind(a[i])
		default:
			b.w("(+", exprs[i], " < ")
			b.bind(a[i])
			b.w(" OR +", exprs[i], " IS NULL)")
		}
		b.w(")")
	}
	if first {
		b.w("0")
	}
	b.w(")")
}
