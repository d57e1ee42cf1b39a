package postgres

// This file compiles checked filter ASTs, sort orders and keyset positions
// to PostgreSQL SQL. Values are always bound parameters ($1, $2, …, each
// with an explicit cast); the only identifiers that reach SQL text are
// system column names and JSON path literals built from re-validated
// Field.Path elements, so that the same expression text appears in the
// expression indexes of tx.go and in queries, which PostgreSQL needs to
// use the index.
//
// Typed values: a data field is read from the jsonb column as a typed SQL
// value: CASE WHEN jsonb_typeof(x) = 'number' THEN x::numeric END for
// numbers, the same with boolean, and x #>> '{}' COLLATE "C" for strings
// (byte order, whatever the database collation). A JSON null, a missing
// field and a value of another JSON type are all SQL NULL. Fields of
// query.TypeAny are compared through the typed value of the literal's
// kind, so true never equals 1 and "1" never equals 1. A numeric, exact,
// is compared with the bounds of the numbers that read as the literal
// (query.RangeOf), so that numbers compare as the float64 they read as,
// as in the SQLite engine, while the index on the numeric still serves.
//
// Null semantics (query.Compare): NOT is pushed down to the comparisons
// (De Morgan), so above the leaves only AND and OR remain. A positive leaf
// may be SQL NULL only when its field is null, and since AND and OR are
// monotone, a NULL leaf then selects exactly the rows FALSE would. A
// negated leaf is NOT COALESCE(leaf, FALSE) (or IS NOT NULL), which is
// TRUE for null fields. So no SQL NULL changes a result and "!" is exact.

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

const compileOp = "postgres.compile"

// kind is the SQL type an expression has.
type kind uint8

const (
	kindJSONB   kind = iota // NULLIF(x, 'null'): fields of several types, objects, arrays
	kindText                // text COLLATE "C"
	kindNumeric             // numeric
	kindBool                // boolean
	kindBigint              // bigint: version, Unix microseconds
)

// cast is the SQL type a parameter of kind k is bound as.
func (k kind) cast() string {
	return [...]string{kindJSONB: "jsonb", kindText: "text", kindNumeric: "numeric", kindBool: "boolean",
		kindBigint: "bigint"}[k]
}

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

// bind writes a parameter of kind k. Numbers and JSON travel as text and
// are converted by the server, so that 9.99 is the decimal 9.99 and not
// the nearest binary fraction.
func (b *builder) bind(v any, k kind) {
	b.args = append(b.args, v)
	n := strconv.Itoa(len(b.args))
	if k == kindNumeric || k == kindJSONB {
		b.w("$", n, "::text::", k.cast())
		return
	}
	b.w("$", n, "::", k.cast())
}

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

// jsonbPath returns the jsonb expression (data #> '{a,b}') of a data path.
func jsonbPath(path []string) (string, error) {
	if len(path) == 0 {
		return "", fault.New(fault.Invalid, compileOp, "empty field path")
	}
	for _, p := range path {
		if !validPathElement(p) {
			return "", fault.Newf(fault.Invalid, compileOp, "invalid field name %q", p)
		}
	}
	return "(data #> '{" + strings.Join(path, ",") + "}')", nil
}

// scalar returns the value of the jsonb expression j as kind k: SQL NULL
// when j is not of the matching JSON type.
func scalar(j string, k kind) string {
	switch k {
	case kindText:
		return "((CASE WHEN jsonb_typeof(" + j + ") = 'string' THEN " + j + " #>> '{}' END) COLLATE \"C\")"
	case kindNumeric:
		return "(CASE WHEN jsonb_typeof(" + j + ") = 'number' THEN (" + j + ")::numeric END)"
	case kindBool:
		return "(CASE WHEN jsonb_typeof(" + j + ") = 'boolean' THEN (" + j + ")::boolean END)"
	}
	return "NULLIF(" + j + ", 'null'::jsonb)"
}

// kindOf is the kind a data field of type t is read as.
func kindOf(t query.Type) kind {
	switch t {
	case query.TypeString:
		return kindText
	case query.TypeNumber, query.TypeInteger:
		return kindNumeric
	case query.TypeBoolean:
		return kindBool
	}
	return kindJSONB
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

// target is what a comparison or a sort reads: the typed expression x of
// kind k and, for data fields, the jsonb expression j it comes from.
type target struct {
	x, j string
	k    kind
	path []string // the data path, for data fields
}

// as returns the expression of t read as kind k (for a literal of that
// kind), or false when t cannot hold such a value.
func (t target) as(k kind) (string, bool) {
	if t.k == k {
		return t.x, true
	}
	if t.j != "" && k != kindBigint {
		return scalar(t.j, k), true
	}
	return "", false
}

// fieldTarget returns the target of a field.
func fieldTarget(f query.Field) (target, error) {
	if f.System != query.SystemNone {
		col, ok := systemColumn(f.System)
		if !ok {
			return target{}, fault.Newf(fault.Invalid, compileOp, "unknown system field %q", f.System)
		}
		if f.System == query.SystemID {
			return target{x: col, k: kindText}, nil
		}
		return target{x: col, k: kindBigint}, nil
	}
	j, err := jsonbPath(f.Path)
	if err != nil {
		return target{}, err
	}
	k := kindOf(f.Type)
	return target{x: scalar(j, k), j: j, k: k, path: f.Path}, nil
}

// indexColumn returns the index column of a docstore.Index field: the
// expression a query on the field compiles to, given its schema type.
func indexColumn(name string, schema *query.Schema) (string, error) {
	if col, ok := systemColumn(query.System(name)); ok {
		return col, nil
	}
	f := query.Field{Path: strings.Split(name, ".")}
	if schema != nil {
		if sf, ok := schema.Lookup(name); ok && sf.System == query.SystemNone {
			f.Type = sf.Type
		}
	}
	t, err := fieldTarget(f)
	if err != nil {
		return "", err
	}
	return t.x + " NULLS FIRST", nil
}

// expr writes e, negated when neg is set.
func (b *builder) expr(e query.Expr, neg bool) error {
	switch e := e.(type) {
	case *query.And:
		return b.junction(e.Terms, neg, " AND ", " OR ", true)
	case *query.Or:
		return b.junction(e.Terms, neg, " OR ", " AND ", false)
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
func (b *builder) junction(terms []query.Expr, neg bool, sep, negSep string, empty bool) error {
	if len(terms) == 0 {
		if empty != neg {
			b.w("TRUE")
		} else {
			b.w("FALSE")
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

func (b *builder) compare(c *query.Compare, neg bool) error {
	op, opNeg := c.Op.Positive()
	t, err := fieldTarget(c.Field)
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
		return b.leaf(t, op, values, neg != opNeg)
	}
	if t.j == "" {
		return fault.Newf(fault.Invalid, compileOp, "%s is not an array", c.Field.Name())
	}
	if neg {
		b.w("NOT ")
	}
	b.w("EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(", t.j, ") = 'array' THEN ", t.j,
		" END) AS e(v) WHERE ")
	k := kindOf(c.Field.Items)
	if err := b.leaf(target{x: scalar("e.v", k), j: "e.v", k: k}, op, values, opNeg); err != nil {
		return err
	}
	b.w(")")
	return nil
}

// leaf writes one comparison of t with values under a positive operator,
// negated when neg is set.
func (b *builder) leaf(t target, op query.Op, values []query.Value, neg bool) error {
	if op == query.OpEq && values[0].Kind == query.ValueNull {
		if neg {
			b.w(t.x, " IS NOT NULL")
		} else {
			b.w(t.x, " IS NULL")
		}
		return nil
	}
	if neg {
		b.w("NOT COALESCE(")
	}
	if err := b.positiveLeaf(t, op, values); err != nil {
		return err
	}
	if neg {
		b.w(", FALSE)")
	}
	return nil
}

var sqlOps = map[query.Op]string{query.OpEq: " = ", query.OpLt: " < ", query.OpLe: " <= ",
	query.OpGt: " > ", query.OpGe: " >= "}

func (b *builder) positiveLeaf(t target, op query.Op, values []query.Value) error {
	switch op {
	case query.OpIn:
		return b.in(t, values)
	case query.OpContains:
		x, ok := t.as(kindText)
		if values[0].Kind != query.ValueString || !ok {
			b.w("FALSE")
			return nil
		}
		// lower() under the "C" collation folds ASCII letters only.
		b.w("(strpos(lower(", x, " COLLATE \"C\"), lower(")
		b.bind(nulFree(values[0].Str), kindText)
		b.w(" COLLATE \"C\")) > 0)")
		return nil
	}
	sqlOp, ok := sqlOps[op]
	if !ok {
		return fault.Newf(fault.Invalid, compileOp, "unknown operator %d", op)
	}
	v := values[0]
	if v.Kind == query.ValueNull {
		b.w("FALSE") // ordering with null never holds
		return nil
	}
	arg, k, err := bindValue(v, t.k)
	if err != nil {
		return err
	}
	x, ok := t.as(k)
	if !ok {
		b.w("FALSE") // a value of another type never compares
		return nil
	}
	if k == kindNumeric {
		b.w("(")
		b.number(x, op, v.Num)
		b.w(")")
		return nil
	}
	b.w("(", x, sqlOp)
	b.bind(arg, k)
	if op == query.OpEq {
		b.containment(t.path, v)
	}
	b.w(")")
	return nil
}

// number writes "x op f" for a numeric x and a number literal f, with the
// semantics of query.ReadNumber: x compares as the float64 it reads as.
// The numeric is exact, so it is compared with the bounds of the numbers
// that read as f (query.RangeOf), which keeps an index on x usable.
func (b *builder) number(x string, op query.Op, f float64) {
	r := query.RangeOf(f)
	above := func(lo query.Bound) { // x reads as f or more
		if lo.Inclusive {
			b.w(x, " >= ")
		} else {
			b.w(x, " > ")
		}
		b.bind(lo.Decimal, kindNumeric)
	}
	below := func(hi query.Bound) { // x reads as f or less
		if hi.Inclusive {
			b.w(x, " <= ")
		} else {
			b.w(x, " < ")
		}
		b.bind(hi.Decimal, kindNumeric)
	}
	switch op {
	case query.OpEq:
		above(r.Lo)
		b.w(" AND ")
		below(r.Hi)
	case query.OpGe:
		above(r.Lo)
	case query.OpLe:
		below(r.Hi)
	case query.OpLt: // not "f or more"
		if r.Lo.Inclusive {
			b.w(x, " < ")
		} else {
			b.w(x, " <= ")
		}
		b.bind(r.Lo.Decimal, kindNumeric)
	case query.OpGt: // not "f or less"
		if r.Hi.Inclusive {
			b.w(x, " > ")
		} else {
			b.w(x, " >= ")
		}
		b.bind(r.Hi.Decimal, kindNumeric)
	}
}

// containment writes the redundant condition AND data @> '{"a":{"b":v}}'
// for the equality of a data field with a string or boolean v, which the
// GIN jsonb_path_ops index can answer. Equality implies containment, so it
// changes no result. Not for numbers: jsonb containment compares them
// exactly, while many numbers read as the same float64.
func (b *builder) containment(path []string, v query.Value) {
	if len(path) == 0 {
		return
	}
	var lit any
	switch v.Kind {
	case query.ValueString:
		lit = nulFree(v.Str)
	case query.ValueBool:
		lit = v.Bool
	default:
		return
	}
	for i := len(path) - 1; i >= 0; i-- {
		lit = map[string]any{path[i]: lit}
	}
	text, err := json.Marshal(lit)
	if err != nil {
		return
	}
	b.w(" AND data @> ")
	b.bind(string(text), kindJSONB)
}

// nulFree returns s with each U+0000 read as U+FFFD, as jsonbText stores
// it: PostgreSQL text cannot hold U+0000.
func nulFree(s string) string {
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// in writes "t in values" (values may contain null).
func (b *builder) in(t target, values []query.Value) error {
	var terms []string
	var nonNull []query.Value
	for _, v := range values {
		if v.Kind == query.ValueNull {
			terms = append(terms, t.x+" IS NULL")
		} else {
			nonNull = append(nonNull, v)
		}
	}
	b.w("(", strings.Join(terms, " OR "))
	if len(nonNull) == 0 {
		b.w(")")
		return nil
	}
	if len(terms) > 0 {
		b.w(" OR ")
	}
	// One IN list per kind of literal (a typed field has one kind).
	var groups []kind
	byKind := map[kind][]any{}
	for _, v := range nonNull {
		arg, k, err := bindValue(v, t.k)
		if err != nil {
			return err
		}
		if _, seen := byKind[k]; !seen {
			groups = append(groups, k)
		}
		byKind[k] = append(byKind[k], arg)
	}
	for gi, k := range groups {
		if gi > 0 {
			b.w(" OR ")
		}
		x, ok := t.as(k)
		if !ok {
			b.w("FALSE")
			continue
		}
		if k == kindNumeric {
			// Each number stands for a range of numerics.
			for i, arg := range byKind[k] {
				if i > 0 {
					b.w(" OR ")
				}
				b.w("(")
				b.number(x, query.OpEq, arg.(float64))
				b.w(")")
			}
			continue
		}
		b.w(x, " IN (")
		for i, arg := range byKind[k] {
			if i > 0 {
				b.w(", ")
			}
			b.bind(arg, k)
		}
		b.w(")")
	}
	b.w(")")
	return nil
}

// bindValue converts a literal to the argument and kind it is compared as,
// given the kind of the field: numbers as float64 for builder.number (or
// int64 for bigint columns), times as Unix microseconds.
func bindValue(v query.Value, field kind) (any, kind, error) {
	switch v.Kind {
	case query.ValueString:
		return nulFree(v.Str), kindText, nil
	case query.ValueNumber:
		if math.IsInf(v.Num, 0) || math.IsNaN(v.Num) {
			return nil, 0, fault.Newf(fault.Invalid, compileOp, "number literal %v is not finite", v.Num)
		}
		if field == kindBigint && v.Num == math.Trunc(v.Num) && v.Num >= -(1<<63) && v.Num < 1<<63 {
			return int64(v.Num), kindBigint, nil
		}
		return v.Num, kindNumeric, nil // compared through builder.number
	case query.ValueBool:
		return v.Bool, kindBool, nil
	case query.ValueTime:
		return toMicros(v.Time), kindBigint, nil
	}
	return nil, 0, fault.Newf(fault.Invalid, compileOp, "unknown value kind %d", v.Kind)
}
