package graphqlapi

// This file builds the typed filter and order-by inputs of a collection's
// list field, and compiles their values to REST's query language, so that
// a typed filter selects what the same filter written as text does: the
// document service parses, checks and runs both alike.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// The input types every schema with a list has: a comparison per scalar
// type, per list of scalars, and the sort direction.
const filterSDL = `"Comparisons of a String field; several in one object must all hold."
input StringComparison {
  eq: String
  ne: String
  lt: String
  lte: String
  gt: String
  gte: String
  "Contains the text, ASCII case-insensitive (the ~ of the query language)."
  contains: String
  notContains: String
  in: [String!]
  notIn: [String!]
  "true: the field is missing or null; false: it has a value."
  isNull: Boolean
}

"Comparisons of an Int field; several in one object must all hold."
input IntComparison {
  eq: Int
  ne: Int
  lt: Int
  lte: Int
  gt: Int
  gte: Int
  in: [Int!]
  notIn: [Int!]
  isNull: Boolean
}

"Comparisons of a Float field; several in one object must all hold."
input FloatComparison {
  eq: Float
  ne: Float
  lt: Float
  lte: Float
  gt: Float
  gte: Float
  in: [Float!]
  notIn: [Float!]
  isNull: Boolean
}

"Comparisons of a Boolean field."
input BooleanComparison {
  eq: Boolean
  ne: Boolean
  isNull: Boolean
}

"Comparisons of a DateTime field (RFC 3339)."
input DateTimeComparison {
  eq: DateTime
  ne: DateTime
  lt: DateTime
  lte: DateTime
  gt: DateTime
  gte: DateTime
  in: [DateTime!]
  notIn: [DateTime!]
  isNull: Boolean
}

"Comparisons of a JSON field, with strings, numbers, booleans or null."
input JSONComparison {
  eq: JSON
  ne: JSON
  in: [JSON!]
  notIn: [JSON!]
  isNull: Boolean
}

"A list field: null or not, and whether some element compares (not with notIn or isNull)."
input StringListComparison {
  isNull: Boolean
  some: StringComparison
}

input IntListComparison {
  isNull: Boolean
  some: IntComparison
}

input FloatListComparison {
  isNull: Boolean
  some: FloatComparison
}

input BooleanListComparison {
  isNull: Boolean
  some: BooleanComparison
}

"A list of objects or of JSON values: null or not."
input ListComparison {
  isNull: Boolean
}

enum SortDirection {
  ASC
  DESC
}

`

// filterTypes are the names filterSDL declares.
var filterTypes = []string{
	"StringComparison", "IntComparison", "FloatComparison", "BooleanComparison", "DateTimeComparison", "JSONComparison",
	"StringListComparison", "IntListComparison", "FloatListComparison", "BooleanListComparison", "ListComparison", "SortDirection",
}

// valueKind is how a comparison's values are written in the query
// language.
type valueKind uint8

const (
	kindString valueKind = iota // String, DateTime, an enum, an id
	kindNumber                  // Int, Float
	kindBoolean
	kindJSON // a string, number, boolean or null
)

// filterSpec is what a filter input type's fields stand for.
type filterSpec struct {
	fields map[string]*filterField
	// logic: the type has and, or and not (the collection's own).
	logic bool
}

// filterField is one field of a filter input type.
type filterField struct {
	path   string      // in the query language, such as "author.name"
	kind   valueKind   // of the comparison's values
	list   bool        // a list: isNull, and some for its elements
	nested *filterSpec // an object's own filter
}

// orderSpec is what an order-by input type's fields stand for: a path,
// or an object's own order-by.
type orderSpec struct {
	fields map[string]orderField
}

type orderField struct {
	path   string
	nested *orderSpec
}

// filterOf writes the filter input type name of an object type whose
// fields are fs (top: a collection's, with the system fields and the
// logical operators), and returns its spec.
func (b *builder) filterOf(name string, fs []Field, prefix string, top bool) *filterSpec {
	spec := &filterSpec{fields: map[string]*filterField{}, logic: top}
	names := newNamespace()
	var body bytes.Buffer
	if top {
		fmt.Fprintf(&body, "  \"All of these hold.\"\n  and: [%s!]\n  \"One of these holds (an empty list: none does).\"\n  or: [%s!]\n  not: %s\n", name, name, name)
		for _, s := range []string{"and", "or", "not"} {
			names.claim(s, "")
		}
		for _, s := range []struct{ name, typ string }{{"id", "StringComparison"}, {"version", "IntComparison"},
			{"createdAt", "DateTimeComparison"}, {"updatedAt", "DateTimeComparison"}} {
			names.claim(s.name, "")
			spec.fields[s.name] = &filterField{path: s.name, kind: comparisonKind(s.typ)}
			fmt.Fprintf(&body, "  %s: %s\n", s.name, s.typ)
		}
	}
	for _, f := range fs {
		if names.taken[f.Name] {
			continue // and, or, not: a property of that name is filtered with where
		}
		names.claim(f.Name, "")
		ff := &filterField{path: prefix + f.Name}
		base := strings.Trim(f.Type, "[]")
		var t string
		switch {
		case strings.HasPrefix(f.Type, "["):
			ff.list = true
			switch {
			case strings.HasPrefix(f.Type, "[["), f.Object != nil, base == "JSON":
				t = "ListComparison"
			case f.Enum != nil:
				t, ff.kind = b.enumComparison(base, true), kindString
			default:
				t = base + "ListComparison"
				ff.kind = comparisonKind(t)
			}
		case f.Object != nil:
			t = b.types.claim(f.Type+"Filter", "_")
			ff.nested = b.filterOf(t, f.Object, prefix+f.Name+".", false)
		case f.Enum != nil:
			t, ff.kind = b.enumComparison(base, false), kindString
		default:
			t = base + "Comparison"
			ff.kind = comparisonKind(t)
		}
		spec.fields[f.Name] = ff
		fmt.Fprintf(&body, "  %s: %s\n", f.Name, t)
	}
	if top {
		fmt.Fprintf(&b.sdl, "%s\n", description("A filter of documents: every field set must hold (the list rule applies besides)."))
	}
	fmt.Fprintf(&b.sdl, "input %s {\n", name)
	b.sdl.Write(body.Bytes())
	b.sdl.WriteString("}\n\n")
	return spec
}

// comparisonKind is the kind of the values of a comparison type.
func comparisonKind(t string) valueKind {
	switch t {
	case "IntComparison", "FloatComparison", "IntListComparison", "FloatListComparison":
		return kindNumber
	case "BooleanComparison", "BooleanListComparison":
		return kindBoolean
	case "JSONComparison":
		return kindJSON
	}
	return kindString
}

// enumComparison is the comparison type of the enum type enum (list: of a
// list of them), written once per schema.
func (b *builder) enumComparison(enum string, list bool) string {
	key := enum
	if list {
		key = "[" + enum + "]"
	}
	if name, ok := b.enumComparisons[key]; ok {
		return name
	}
	if b.enumComparisons == nil {
		b.enumComparisons = map[string]string{}
	}
	if list {
		name := b.types.claim(enum+"ListComparison", "_")
		b.enumComparisons[key] = name
		fmt.Fprintf(&b.sdl, "input %s {\n  isNull: Boolean\n  some: %s\n}\n\n", name, b.enumComparison(enum, false))
		return name
	}
	name := b.types.claim(enum+"Comparison", "_")
	b.enumComparisons[key] = name
	fmt.Fprintf(&b.sdl, "input %s {\n  eq: %s\n  ne: %s\n  in: [%s!]\n  notIn: [%s!]\n  isNull: Boolean\n}\n\n", name, enum, enum, enum, enum)
	return name
}

// orderOf writes the order-by input type of the object type typ whose
// fields are fs, if any of them sorts, and returns its spec and name.
func (b *builder) orderOf(typ string, fs []Field, prefix string, top bool) (*orderSpec, string) {
	spec := &orderSpec{fields: map[string]orderField{}}
	var body bytes.Buffer
	if top {
		for _, s := range []string{"id", "version", "createdAt", "updatedAt"} {
			spec.fields[s] = orderField{path: s}
			fmt.Fprintf(&body, "  %s: SortDirection\n", s)
		}
	}
	for _, f := range fs {
		switch {
		case strings.HasPrefix(f.Type, "[") || f.Type == "JSON":
			continue // lists and JSON values do not sort
		case f.Object != nil:
			nested, name := b.orderOf(f.Type, f.Object, prefix+f.Name+".", false)
			if nested == nil {
				continue
			}
			spec.fields[f.Name] = orderField{nested: nested}
			fmt.Fprintf(&body, "  %s: %s\n", f.Name, name)
		default:
			spec.fields[f.Name] = orderField{path: prefix + f.Name}
			fmt.Fprintf(&body, "  %s: SortDirection\n", f.Name)
		}
	}
	if len(spec.fields) == 0 {
		return nil, ""
	}
	name := b.types.claim(typ+"OrderBy", "_")
	if top {
		fmt.Fprintf(&b.sdl, "%s\n", description("One sort key: name one field per entry of orderBy."))
	}
	fmt.Fprintf(&b.sdl, "input %s {\n", name)
	b.sdl.Write(body.Bytes())
	b.sdl.WriteString("}\n\n")
	return spec, name
}

// never is a filter no document passes: every document has an id.
const never = "id = null"

// compileFilter is the filter value v of the input type of spec in the
// query language ("" for no condition).
func compileFilter(spec *filterSpec, v any) (string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", fault.New(fault.Invalid, op, "a filter is an object")
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		val := m[k]
		if val == nil {
			continue // an input field set to null: no condition
		}
		var (
			s   string
			err error
		)
		switch f := spec.fields[k]; {
		case spec.logic && (k == "and" || k == "or"):
			s, err = compileLogic(spec, k, val)
		case spec.logic && k == "not":
			if s, err = compileFilter(spec, val); err == nil {
				if s == "" {
					s = never // not of a filter that always holds
				} else {
					s = "!(" + s + ")"
				}
			}
		case f == nil:
			err = fault.New(fault.Invalid, op, "no filter field "+k)
		case f.nested != nil:
			s, err = compileFilter(f.nested, val)
		default:
			s, err = compileComparison(f, val)
		}
		if err != nil {
			return "", err
		}
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " && "), nil
}

// compileLogic is and (all hold; none: no condition) or or (one holds;
// none: no document) of the filters in val.
func compileLogic(spec *filterSpec, k string, val any) (string, error) {
	list, ok := val.([]any)
	if !ok {
		list = []any{val} // a single filter for a list (input coercion)
	}
	if k == "or" && len(list) == 0 {
		return never, nil
	}
	subs := make([]string, 0, len(list))
	for _, item := range list {
		s, err := compileFilter(spec, item)
		if err != nil {
			return "", err
		}
		if s == "" {
			if k == "or" {
				return "", nil // one alternative always holds
			}
			continue
		}
		subs = append(subs, "("+s+")")
	}
	if len(subs) == 0 {
		return "", nil
	}
	sep := " && "
	if k == "or" {
		sep = " || "
	}
	return "(" + strings.Join(subs, sep) + ")", nil
}

// compileComparison is the comparison object v of field f in the query
// language: each of its operators, all of which must hold.
func compileComparison(f *filterField, v any) (string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", fault.New(fault.Invalid, op, "the filter of "+f.path+" is an object")
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		val := m[k]
		if k == "isNull" {
			switch val {
			case true:
				parts = append(parts, f.path+" = null")
			case false:
				parts = append(parts, f.path+" != null")
			}
			continue
		}
		if f.list {
			if k != "some" {
				return "", fault.New(fault.Invalid, op, "no operator "+k+" for the list "+f.path)
			}
			if val == nil {
				continue
			}
			sub, ok := val.(map[string]any)
			if !ok {
				return "", fault.New(fault.Invalid, op, "some is an object")
			}
			for _, sk := range slices.Sorted(maps.Keys(sub)) {
				if sub[sk] == nil {
					continue
				}
				if sk == "isNull" || sk == "notIn" {
					return "", fault.New(fault.Invalid, op, "some of "+f.path+" takes no "+sk+": write not: {"+f.path+": {some: …}} or a where")
				}
				s, err := comparison(f.path, "?", sk, sub[sk], f.kind)
				if err != nil {
					return "", err
				}
				parts = append(parts, s)
			}
			continue
		}
		if val == nil {
			switch k {
			case "eq":
				parts = append(parts, f.path+" = null")
			case "ne":
				parts = append(parts, f.path+" != null")
			}
			continue // another operator with null: no condition
		}
		s, err := comparison(f.path, "", k, val, f.kind)
		if err != nil {
			return "", err
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " && "), nil
}

// operators are the query language's operators of the comparison
// fields.
var operators = map[string]string{"eq": "=", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=",
	"contains": "~", "notContains": "!~", "in": "in", "notIn": "not in"}

// comparison is path compared by the operator named k with val; some is
// "?" for the elements of a list.
func comparison(path, some, k string, val any, kind valueKind) (string, error) {
	o, ok := operators[k]
	if !ok {
		return "", fault.New(fault.Invalid, op, "no comparison "+k)
	}
	if k == "in" || k == "notIn" {
		list, ok := val.([]any)
		if !ok {
			return "", fault.New(fault.Invalid, op, k+" is a list")
		}
		if len(list) == 0 {
			if k == "in" {
				return never, nil // in nothing: no document
			}
			return "", nil // in none of nothing: every document
		}
		lits := make([]string, len(list))
		for i, e := range list {
			lit, err := literal(e, kind)
			if err != nil {
				return "", err
			}
			lits[i] = lit
		}
		return path + " " + some + o + " [" + strings.Join(lits, ", ") + "]", nil
	}
	lit, err := literal(val, kind)
	if err != nil {
		return "", err
	}
	return path + " " + some + o + " " + lit, nil
}

// literal is v, a comparison's value, as a literal of the query language.
func literal(v any, kind valueKind) (string, error) {
	switch x := v.(type) {
	case string:
		if kind == kindString || kind == kindJSON {
			return query.Quote(x), nil
		}
	case bool:
		if kind == kindBoolean || kind == kindJSON {
			return strconv.FormatBool(x), nil
		}
	case nil:
		if kind == kindJSON {
			return "null", nil
		}
	case json.Number, int64, int, float64:
		if kind == kindNumber || kind == kindJSON {
			n, ok := jsonValue(x).(json.Number)
			if f, err := n.Float64(); ok && err == nil && !math.IsInf(f, 0) {
				return n.String(), nil
			}
		}
	}
	return "", fault.New(fault.Invalid, op, fmt.Sprintf("%v cannot be compared here", v))
}

// compileOrder is the orderBy value v in the query language's sort: each
// entry names one field.
func compileOrder(spec *orderSpec, v any) (string, error) {
	list, ok := v.([]any)
	if !ok {
		list = []any{v} // a single entry for a list (input coercion)
	}
	keys := make([]string, 0, len(list))
	for _, e := range list {
		key, err := orderKey(spec, e)
		if err != nil {
			return "", err
		}
		keys = append(keys, key)
	}
	return strings.Join(keys, ","), nil
}

// orderKey is one entry of orderBy as a sort key.
func orderKey(spec *orderSpec, e any) (string, error) {
	m, ok := e.(map[string]any)
	var set []string
	for k, v := range m {
		if v != nil {
			set = append(set, k)
		}
	}
	if !ok || len(set) != 1 {
		return "", fault.New(fault.Invalid, op, "each entry of orderBy names one field, such as {score: DESC}")
	}
	f, ok := spec.fields[set[0]]
	if !ok {
		return "", fault.New(fault.Invalid, op, "no sort field "+set[0])
	}
	if f.nested != nil {
		return orderKey(f.nested, m[set[0]])
	}
	switch m[set[0]] {
	case "ASC":
		return f.path, nil
	case "DESC":
		return "-" + f.path, nil
	}
	return "", fault.New(fault.Invalid, op, "a sort direction is ASC or DESC")
}
