package query

import (
	"math"
	"time"
)

// maxExactInt is the largest integer a float64 holds exactly (2^53); integer
// literals beyond it are rejected so engines can bind them as int64 safely.
const maxExactInt = 1 << 53

// opText returns an operator as written in the language.
func opText(op Op, anyOf bool) string {
	var s string
	switch op {
	case OpEq:
		s = "="
	case OpNe:
		s = "!="
	case OpLt:
		s = "<"
	case OpLe:
		s = "<="
	case OpGt:
		s = ">"
	case OpGe:
		s = ">="
	case OpContains:
		s = "~"
	case OpNotContains:
		s = "!~"
	case OpIn:
		s = "in"
	case OpNotIn:
		s = "not in"
	default:
		s = "?op?"
	}
	if anyOf {
		return "?" + s
	}
	return s
}

// operandType returns the type a comparison's literals are checked against:
// the field's type, or its element type for the "?" operators.
func operandType(c *Compare) Type {
	if c.Any {
		return c.Field.Items
	}
	return c.Field.Type
}

// checkOp checks that c.Op (with c.Any) applies to c.Field; pos is the
// operator's offset.
func (p *parser) checkOp(c *Compare, pos int) error {
	f := c.Field
	name := func() string { return quoteName(f.Name()) }
	op := func() string { return opText(c.Op, c.Any) }
	if c.Any {
		if f.Type != TypeArray {
			return filterErr(pos, "operator %q needs an array field, but %s is %s", op(), name(), article(f.Type))
		}
		if f.Items == TypeArray || f.Items == TypeObject {
			return filterErr(pos, "operator %q compares scalar elements, but the elements of %s are %ss", op(), name(), f.Items)
		}
	}
	t := operandType(c)
	ok := false
	switch t {
	case TypeArray, TypeObject:
		ok = c.Op == OpEq || c.Op == OpNe // null checks only; the literal is checked later
		if !ok {
			return filterErr(pos, "%s is %s; it can only be compared with null%s", name(), article(t), elementHint(t))
		}
	case TypeAny, TypeBoolean:
		ok = c.Op == OpEq || c.Op == OpNe || c.Op == OpIn || c.Op == OpNotIn
	case TypeString:
		ok = true
	case TypeNumber, TypeInteger, TypeTime:
		ok = c.Op != OpContains && c.Op != OpNotContains
	}
	if !ok {
		what := t.String() + " field"
		if c.Any {
			what = "array of " + t.String() + " field"
		} else if t == TypeAny {
			what = "field of mixed type"
		}
		return filterErr(pos, "operator %q does not apply to %s %s", op(), what, name())
	}
	return nil
}

// checkValue checks literal v against c (whose Op is already checked) and
// returns it converted for the field (timestamps); pos is its offset.
func checkValue(c *Compare, v Value, pos int) (Value, error) {
	name := func() string { return quoteName(c.Field.Name()) }
	if v.Kind == ValueNull {
		switch {
		case c.Op == OpIn || c.Op == OpNotIn:
			return v, filterErr(pos, `null is not allowed in a list; use "%s = null" instead`, c.Field.Name())
		case c.Any:
			return v, filterErr(pos, `null is not allowed with %q; compare the whole field with "= null"`, opText(c.Op, c.Any))
		case c.Op != OpEq && c.Op != OpNe:
			return v, filterErr(pos, `null is only allowed with "=" and "!="`)
		}
		return v, nil
	}
	t := operandType(c)
	want := ValueKind(0)
	switch t {
	case TypeAny:
		return v, nil // any scalar; checkOp limited the operators
	case TypeArray, TypeObject:
		return v, filterErr(pos, "%s is %s; it can only be compared with null%s", name(), article(t), elementHint(t))
	case TypeString, TypeTime:
		want = ValueString
	case TypeNumber, TypeInteger:
		want = ValueNumber
	case TypeBoolean:
		want = ValueBool
	}
	if v.Kind != want {
		return v, filterErr(pos, "%s is %s field, so it cannot be compared with %s", name(), article(t), kindArticle(v.Kind))
	}
	switch t {
	case TypeInteger:
		if v.Num != math.Trunc(v.Num) {
			return v, filterErr(pos, "%s is an integer field, so it cannot be compared with a fractional number", name())
		}
		if math.Abs(v.Num) > maxExactInt {
			return v, filterErr(pos, "integer out of range for %s (at most 2^53 in magnitude)", name())
		}
	case TypeTime:
		tm, err := time.Parse(time.RFC3339Nano, v.Str)
		if y := tm.UTC().Year(); err == nil && (y < 1 || y > 9999) {
			return v, filterErr(pos, "timestamp out of range for %s (years 0001 to 9999 in UTC)", name())
		}
		if err != nil {
			return v, filterErr(pos, `%s needs an RFC 3339 timestamp such as "2026-01-02T15:04:05Z"`, name())
		}
		return Value{Kind: ValueTime, Time: tm.UTC()}, nil
	}
	return v, nil
}

// article returns the type's name with its indefinite article.
func article(t Type) string {
	switch t {
	case TypeAny:
		return "of mixed type"
	case TypeArray, TypeObject, TypeInteger:
		return "an " + t.String()
	}
	return "a " + t.String()
}

func kindArticle(k ValueKind) string {
	switch k {
	case ValueString:
		return "a string"
	case ValueNumber:
		return "a number"
	case ValueBool:
		return "a boolean"
	}
	return "null"
}

// elementHint points array comparisons to the any-of operators.
func elementHint(t Type) string {
	if t == TypeArray {
		return ` (compare its elements with "?=", "?in" and the other "?" operators)`
	}
	return ""
}
