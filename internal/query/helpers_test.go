package query

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/fault"
)

// testSchemaJSON declares a field of every kind, keyword-named fields and
// properties that are not addressable.
const testSchemaJSON = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "title":     {"type": "string"},
    "status":    {"type": ["string", "null"]},
    "score":     {"type": "integer"},
    "rating":    {"type": "number"},
    "ratio":     {"type": ["integer", "number", "null"]},
    "published": {"type": "boolean"},
    "tags":      {"type": "array", "items": {"type": "string"}},
    "scores":    {"type": "array", "items": {"type": "integer"}},
    "flags":     {"type": "array", "items": {"type": "boolean"}},
    "anything":  {"type": "array"},
    "matrix":    {"type": "array", "items": {"type": "array"}},
    "misc":      {"type": ["string", "number"]},
    "loose":     {},
    "meta":      {"type": "object"},
    "author": {"type": "object", "properties": {
      "name": {"type": "string"},
      "age":  {"type": "integer"},
      "address": {"type": "object", "properties": {"city": {"type": "string"}}}
    }},
    "bad-name":  {"type": "string"},
    "élan":      {"type": "string"},
    "refd":      {"$ref": "#/$defs/x"},
    "in":        {"type": "string"},
    "not":       {"type": "boolean"},
    "null":      {"type": "string"},
    "id":        {"type": "integer"}
  },
  "$defs": {"x": {"type": "string"}}
}`

func testSchema(t testing.TB) *Schema {
	t.Helper()
	s, err := SchemaFromJSON([]byte(testSchemaJSON))
	if err != nil {
		t.Fatalf("SchemaFromJSON: %v", err)
	}
	return s
}

// sexpr renders an AST as a canonical s-expression, e.g.
// (and (= score 3) (any= tags "rock")).
func sexpr(e Expr) string {
	var b strings.Builder
	writeSexpr(&b, e)
	return b.String()
}

func writeSexpr(b *strings.Builder, e Expr) {
	list := func(head string, terms []Expr) {
		b.WriteString("(" + head)
		for _, t := range terms {
			b.WriteByte(' ')
			writeSexpr(b, t)
		}
		b.WriteByte(')')
	}
	switch e := e.(type) {
	case nil:
		b.WriteString("<nil>")
	case *And:
		list("and", e.Terms)
	case *Or:
		list("or", e.Terms)
	case *Not:
		b.WriteString("(not ")
		writeSexpr(b, e.X)
		b.WriteByte(')')
	case *Compare:
		op := opText(e.Op, false)
		op = strings.ReplaceAll(op, " ", "-")
		if e.Any {
			op = "any" + op
		}
		b.WriteString("(" + op + " " + e.Field.Name())
		if e.Field.System != SystemNone {
			b.WriteString("@sys")
		}
		b.WriteString(":" + e.Field.Type.String())
		if e.Field.Type == TypeArray {
			b.WriteString("/" + e.Field.Items.String())
		}
		if e.Op == OpIn || e.Op == OpNotIn {
			b.WriteString(" [")
			for i, v := range e.Values {
				if i > 0 {
					b.WriteByte(' ')
				}
				writeValue(b, v)
			}
			b.WriteString("]")
		} else {
			b.WriteByte(' ')
			writeValue(b, e.Value)
		}
		b.WriteByte(')')
	default:
		b.WriteString("<?>")
	}
}

func writeValue(b *strings.Builder, v Value) {
	switch v.Kind {
	case ValueNull:
		b.WriteString("null")
	case ValueString:
		b.WriteString(strconv.Quote(v.Str))
	case ValueNumber:
		b.WriteString("#" + strconv.FormatFloat(v.Num, 'g', -1, 64))
	case ValueBool:
		b.WriteString(strconv.FormatBool(v.Bool))
	case ValueTime:
		b.WriteString("@" + v.Time.Format(time.RFC3339Nano))
		if v.Time.Location() != time.UTC {
			b.WriteString("(not UTC)")
		}
	}
}

// checkInvalid fails unless err is a *fault.Error of kind Invalid with op
// and a message containing want.
func checkInvalid(t testing.TB, err error, op, want string) {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *fault.Error", err, err)
	}
	if fe.Kind != fault.Invalid || fe.Op != op {
		t.Fatalf("error %v: kind %q op %q, want %q %q", err, fe.Kind, fe.Op, fault.Invalid, op)
	}
	if !strings.Contains(fe.Msg, want) {
		t.Fatalf("error message %q does not contain %q", fe.Msg, want)
	}
}
