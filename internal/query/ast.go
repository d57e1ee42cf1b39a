// Package query is Basalt's filter and sort language: it parses filter, sort
// and field-selection strings into an AST, checks them against a collection's
// schema, and leaves compilation to SQL to each storage engine.
package query

import "time"

// Type is the JSON type a field is declared with in a collection schema.
type Type uint8

// Field types. Any means the schema allows several types (or does not say);
// such a field can be compared for equality and null only.
const (
	TypeAny Type = iota
	TypeString
	TypeNumber // JSON number, integral or not
	TypeInteger
	TypeBoolean
	TypeArray
	TypeObject
	TypeTime // system timestamps (createdAt, updatedAt) only
)

func (t Type) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeNumber:
		return "number"
	case TypeInteger:
		return "integer"
	case TypeBoolean:
		return "boolean"
	case TypeArray:
		return "array"
	case TypeObject:
		return "object"
	case TypeTime:
		return "timestamp"
	default:
		return "any"
	}
}

// System names a system field of a document; the zero value means a field
// inside the document's data.
type System string

// The system fields. They are addressed by these names in filters and sorts.
const (
	SystemNone      System = ""
	SystemID        System = "id"        // string
	SystemVersion   System = "version"   // integer
	SystemCreatedAt System = "createdAt" // TypeTime
	SystemUpdatedAt System = "updatedAt" // TypeTime
)

// Field is a checked reference to a system field or to a path inside data.
type Field struct {
	// System is set for system fields; Path is then nil.
	System System
	// Path is the JSON path inside data, one element per object key, e.g.
	// ["author", "name"] for author.name. Every element matches
	// [A-Za-z_][A-Za-z0-9_]{0,63}, so engines may embed it in SQL text (for
	// example in a JSON path literal that an expression index also uses).
	Path []string
	// Type is the field's declared type.
	Type Type
	// Items is the element type when Type is TypeArray.
	Items Type
}

// Name returns the field as written in the language (dotted path).
func (f Field) Name() string {
	if f.System != SystemNone {
		return string(f.System)
	}
	n := 0
	for _, p := range f.Path {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for i, p := range f.Path {
		if i > 0 {
			b = append(b, '.')
		}
		b = append(b, p...)
	}
	return string(b)
}

// ValueKind is the kind of a literal.
type ValueKind uint8

// Literal kinds.
const (
	ValueNull ValueKind = iota
	ValueString
	ValueNumber
	ValueBool
	ValueTime // a string literal compared with a timestamp field, parsed as RFC 3339
)

// Value is a literal of the language. Number literals keep their float64
// value; engines bind integral values as integers.
type Value struct {
	Kind ValueKind
	Str  string
	Num  float64
	Bool bool
	Time time.Time
}

// Op is a comparison operator.
type Op uint8

// Comparison operators.
const (
	OpEq          Op = iota + 1 // =
	OpNe                        // !=
	OpLt                        // <
	OpLe                        // <=
	OpGt                        // >
	OpGe                        // >=
	OpContains                  // ~   substring, ASCII case-insensitive
	OpNotContains               // !~
	OpIn                        // in [..]
	OpNotIn                     // not in [..]
)

// Positive splits an operator into its positive form and whether op is the
// negation of it: != is the negation of =, !~ of ~, not in of in. Engines
// compile the positive form and negate it, so that a negated comparison is
// exactly the complement of the positive one (two-valued logic).
func (op Op) Positive() (Op, bool) {
	switch op {
	case OpNe:
		return OpEq, true
	case OpNotContains:
		return OpContains, true
	case OpNotIn:
		return OpIn, true
	}
	return op, false
}

// Expr is a node of a checked filter expression: *And, *Or, *Not or *Compare.
type Expr interface{ isExpr() }

// And holds when every term holds.
type And struct{ Terms []Expr }

// Or holds when at least one term holds.
type Or struct{ Terms []Expr }

// Not negates X.
type Not struct{ X Expr }

// Compare compares a field with a literal (or, for OpIn/OpNotIn, a list of
// literals).
//
// Logic is two-valued: every comparison is either true or false, never
// unknown, so "!" is an exact negation. A missing field and a JSON null are
// both null. "f = null" holds when f is null and "f != null" when it is not.
// Every other comparison with a null field is false, and its negated form
// ("!=", "!~", "not in") is true: "status != 'done'" matches documents
// without a status. Engines must compile comparisons so that SQL's NULL never
// leaks into the result (for example with COALESCE(…, FALSE)).
//
// Ordering comparisons (<, <=, >, >=) only hold between values of the same
// JSON type; the checker guarantees the literal has the field's type.
//
// When Any is set, Field is an array and the comparison holds when it holds
// for at least one element (the "?=" family of operators).
type Compare struct {
	Field  Field
	Op     Op
	Any    bool
	Value  Value   // for every Op but OpIn/OpNotIn
	Values []Value // for OpIn/OpNotIn; never empty
}

func (*And) isExpr()     {}
func (*Or) isExpr()      {}
func (*Not) isExpr()     {}
func (*Compare) isExpr() {}

// SortKey is one key of a sort order.
type SortKey struct {
	Field Field
	Desc  bool
}

// Bounds returns the comparisons of e's top-level conjunction (as far as
// nested ANDs go) that bound a field to a range by a literal: =, <, <=, >
// and >= with a non-null value, not negated and not over array elements.
// Every document matching e satisfies each of them, so an engine may read
// e's matches from an index on such a field.
func Bounds(e Expr) []*Compare {
	var out []*Compare
	var walk func(Expr)
	walk = func(e Expr) {
		switch e := e.(type) {
		case *And:
			for _, t := range e.Terms {
				walk(t)
			}
		case *Compare:
			if e == nil || e.Any || e.Value.Kind == ValueNull {
				return
			}
			switch e.Op {
			case OpEq, OpLt, OpLe, OpGt, OpGe:
				out = append(out, e)
			}
		}
	}
	walk(e)
	return out
}
