package query

import (
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// ruleSchemaJSON is the schema of a collection with typical access-rule
// fields.
const ruleSchemaJSON = `{
  "type": "object",
  "properties": {
    "owner":     {"type": "string"},
    "team":      {"type": ["string", "null"]},
    "misc":      {"type": ["string", "number", "boolean"]},
    "editors":   {"type": "array", "items": {"type": "string"}},
    "labels":    {"type": "array"},
    "scores":    {"type": "array", "items": {"type": "integer"}},
    "score":     {"type": "integer"},
    "published": {"type": "boolean"},
    "meta":      {"type": "object"},
    "author":    {"type": "object", "properties": {"id": {"type": "string"}}},
    "null":      {"type": "string"}
  }
}`

func ruleSchema(t testing.TB) *Schema {
	t.Helper()
	s, err := SchemaFromJSON([]byte(ruleSchemaJSON))
	if err != nil {
		t.Fatalf("SchemaFromJSON: %v", err)
	}
	return s
}

// ruleSexpr renders a rule's tree like sexpr, with auth leaves as
// (= owner:string @auth.id) and (@= @auth.id "u1").
func ruleSexpr(e Expr) string {
	var b strings.Builder
	writeRuleSexpr(&b, e)
	return b.String()
}

func writeRuleSexpr(b *strings.Builder, e Expr) {
	list := func(head string, terms []Expr) {
		b.WriteString("(" + head)
		for _, t := range terms {
			b.WriteByte(' ')
			writeRuleSexpr(b, t)
		}
		b.WriteByte(')')
	}
	op := func(o Op, anyOf bool) string {
		s := strings.ReplaceAll(opText(o, false), " ", "-")
		if anyOf {
			s = "any" + s
		}
		return s
	}
	switch e := e.(type) {
	case *And:
		list("and", e.Terms)
	case *Or:
		list("or", e.Terms)
	case *Not:
		b.WriteString("(not ")
		writeRuleSexpr(b, e.X)
		b.WriteByte(')')
	case *authField:
		fmt.Fprintf(b, "(%s %s:%s", op(e.op, e.any), e.field.Name(), e.field.Type)
		if e.field.Type == TypeArray {
			b.WriteString("/" + e.field.Items.String())
		}
		b.WriteString(" " + e.ref.String() + ")")
	case *authTest:
		fmt.Fprintf(b, "(@%s %s", op(e.op, e.any), e.ref)
		if e.op == OpIn || e.op == OpNotIn {
			b.WriteString(" [")
			for i, v := range e.values {
				if i > 0 {
					b.WriteByte(' ')
				}
				writeValue(b, v)
			}
			b.WriteString("]")
		} else {
			b.WriteByte(' ')
			writeValue(b, e.value)
		}
		b.WriteByte(')')
	default:
		writeSexpr(b, e)
	}
}

// validRules maps rules to their tree and canonical form.
var validRules = []struct {
	src, want, canon string
}{
	// Fields compared with the caller.
	{`owner = @auth.id`, `(= owner:string @auth.id)`, `owner = @auth.id`},
	{`owner!=@auth.id`, `(!= owner:string @auth.id)`, `owner != @auth.id`},
	{`team = @auth.type`, `(= team:string @auth.type)`, `team = @auth.type`},
	{`misc != @auth.id`, `(!= misc:any @auth.id)`, `misc != @auth.id`},
	{`id = @auth.id`, `(= id:string @auth.id)`, `id = @auth.id`},
	{`author.id = @auth.id`, `(= author.id:string @auth.id)`, `author.id = @auth.id`},
	{`null = @auth.id`, `(= null:string @auth.id)`, `null = @auth.id`},
	{`editors ?= @auth.id`, `(any= editors:array/string @auth.id)`, `editors ?= @auth.id`},
	{`labels ?= @auth.type`, `(any= labels:array/any @auth.type)`, `labels ?= @auth.type`},
	{`team in @auth.roles`, `(in team:string @auth.roles)`, `team in @auth.roles`},
	{`team not  in @auth.roles`, `(not-in team:string @auth.roles)`, `team not in @auth.roles`},
	{`misc in @auth.roles`, `(in misc:any @auth.roles)`, `misc in @auth.roles`},
	{`editors ?in @auth.roles`, `(anyin editors:array/string @auth.roles)`, `editors ?in @auth.roles`},
	// The caller compared with literals.
	{`@auth.id = null`, `(@= @auth.id null)`, `@auth.id = null`},
	{`@auth.id != null`, `(@!= @auth.id null)`, `@auth.id != null`},
	{`@auth.id = 'u1'`, `(@= @auth.id "u1")`, `@auth.id = "u1"`},
	{`@auth.id in ["u1", "u2"]`, `(@in @auth.id ["u1" "u2"])`, `@auth.id in ["u1", "u2"]`},
	{`@auth.id not in ['u1']`, `(@not-in @auth.id ["u1"])`, `@auth.id not in ["u1"]`},
	{`@auth.type = "user"`, `(@= @auth.type "user")`, `@auth.type = "user"`},
	{`@auth.type != "apikey"`, `(@!= @auth.type "apikey")`, `@auth.type != "apikey"`},
	{`@auth.type in ["user","apikey"]`, `(@in @auth.type ["user" "apikey"])`, `@auth.type in ["user", "apikey"]`},
	{`@auth.type = null`, `(@= @auth.type null)`, `@auth.type = null`},
	{`@auth.roles ?= "admin"`, `(@any= @auth.roles "admin")`, `@auth.roles ?= "admin"`},
	{`@auth.roles ?!= "admin"`, `(@any!= @auth.roles "admin")`, `@auth.roles ?!= "admin"`},
	{`@auth.roles ?in ["a", "b"]`, `(@anyin @auth.roles ["a" "b"])`, `@auth.roles ?in ["a", "b"]`},
	{`@auth.roles = null`, `(@= @auth.roles null)`, `@auth.roles = null`},
	{`@auth.roles != null`, `(@!= @auth.roles null)`, `@auth.roles != null`},
	// Plain filters are rules too.
	{`published = true`, `(= published:boolean true)`, `published = true`},
	{`score in [1, 2]`, `(in score:integer [#1 #2])`, `score in [1, 2]`},
	// Structure.
	{`owner = @auth.id || @auth.roles ?= "admin"`, `(or (= owner:string @auth.id) (@any= @auth.roles "admin"))`, `owner = @auth.id || @auth.roles ?= "admin"`},
	{`published = true && (owner = @auth.id || editors ?= @auth.id)`, `(and (= published:boolean true) (or (= owner:string @auth.id) (any= editors:array/string @auth.id)))`, `published = true && (owner = @auth.id || editors ?= @auth.id)`},
	{`!(owner = @auth.id)`, `(not (= owner:string @auth.id))`, `!owner = @auth.id`},
	{`!@auth.id = null`, `(not (@= @auth.id null))`, `!@auth.id = null`},
	{`(@auth.id != null && (team in @auth.roles && score > 1))`, `(and (@!= @auth.id null) (in team:string @auth.roles) (> score:integer #1))`, `@auth.id != null && team in @auth.roles && score > 1`},
}

func TestParseRuleValid(t *testing.T) {
	s := ruleSchema(t)
	for _, c := range validRules {
		t.Run(c.src, func(t *testing.T) {
			r, err := ParseRule(c.src, s, DefaultLimits())
			if err != nil {
				t.Fatalf("ParseRule(%q): %v", c.src, err)
			}
			if got := ruleSexpr(r.expr); got != c.want {
				t.Fatalf("ParseRule(%q)\n got %s\nwant %s", c.src, got, c.want)
			}
			if got := r.String(); got != c.canon {
				t.Fatalf("String() = %s, want %s", got, c.canon)
			}
			r2, err := ParseRule(r.String(), s, DefaultLimits())
			if err != nil {
				t.Fatalf("ParseRule(String() = %q): %v", r.String(), err)
			}
			if got := ruleSexpr(r2.expr); got != c.want {
				t.Fatalf("round trip through %q\n got %s\nwant %s", r.String(), got, c.want)
			}
			if !reflect.DeepEqual(r, r2) {
				t.Fatalf("round trip through %q changed the rule", r.String())
			}
		})
	}
}

// invalidRules maps rules to a substring of the expected message.
var invalidRules = []struct {
	src, want string
}{
	{``, `rule: empty rule at offset 0`},
	{" \t\n", `rule: empty rule at offset 3`},
	// References.
	{`owner = @auth.email`, `rule: unknown reference "@auth.email"; use @auth.id, @auth.type or @auth.roles at offset 8`},
	{`owner = @user.id`, `unknown reference "@user.id"`},
	{`owner = @AUTH.ID`, `unknown reference "@AUTH.ID"`},
	{`owner = @auth.id.x`, `unknown reference "@auth.id.x"`},
	{`owner = @auth`, `unknown reference "@auth"`},
	{`@request.id = "x"`, `rule: unknown reference "@request.id"; use @auth.id, @auth.type or @auth.roles at offset 0`},
	{`owner = @`, `rule: "@" must be followed by a reference: @auth.id, @auth.type or @auth.roles at offset 8`},
	{`owner = @ auth.id`, `"@" must be followed by a reference`},
	{`owner = @"x"`, `"@" must be followed by a reference`},
	{`@auth.id = @auth.type`, `rule: @auth.id cannot be compared with another reference; compare it with a literal at offset 11`},
	{`@auth.roles ?= @auth.id`, `@auth.roles cannot be compared with another reference`},
	{`@auth.id = owner`, `rule: a field must come first: write "owner = @auth.id" at offset 11`},
	{`@auth.roles ?= editors`, `a field must come first: write "editors ?= @auth.roles"`},
	{`owner in [@auth.id]`, `unexpected "@auth.id", expected a literal`},
	// Fields compared with the caller: operators.
	{`owner < @auth.id`, `rule: operator "<" does not apply to @auth.id; use "=" or "!=" (or "?=" for array fields) at offset 6`},
	{`editors ?!= @auth.id`, `rule: operator "?!=" is not allowed with @auth.id; write "!(editors ?= @auth.id)" for "the caller is not among them" at offset 8`},
	{`labels ?!= @auth.type`, `operator "?!=" is not allowed with @auth.type`},
	{`owner >= @auth.type`, `operator ">=" does not apply to @auth.type`},
	{`owner ~ @auth.id`, `operator "~" does not apply to @auth.id`},
	{`owner !~ @auth.id`, `operator "!~" does not apply to @auth.id`},
	{`owner in @auth.id`, `operator "in" does not apply to @auth.id`},
	{`owner not in @auth.type`, `operator "not in" does not apply to @auth.type`},
	{`editors ?in @auth.id`, `operator "?in" does not apply to @auth.id`},
	{`editors ?~ @auth.id`, `operator "?~" does not apply to @auth.id`},
	{`owner = @auth.roles`, `rule: operator "=" does not apply to @auth.roles; use "owner in @auth.roles", "not in" or "?in" at offset 6`},
	{`editors ?= @auth.roles`, `operator "?=" does not apply to @auth.roles`},
	{`owner ~ @auth.roles`, `operator "~" does not apply to @auth.roles`},
	// Fields compared with the caller: types.
	{`score = @auth.id`, `rule: "score" is an integer field, so it cannot be compared with @auth.id (strings) at offset 8`},
	{`published != @auth.type`, `"published" is a boolean field, so it cannot be compared with @auth.type`},
	{`createdAt = @auth.id`, `"createdAt" is a timestamp field`},
	{`version = @auth.id`, `"version" is an integer field`},
	{`meta = @auth.id`, `"meta" is an object field, so it cannot be compared with @auth.id`},
	{`score in @auth.roles`, `"score" is an integer field, so it cannot be compared with @auth.roles (strings) at offset 9`},
	{`editors = @auth.id`, `rule: "editors" is an array; compare its elements with @auth.id using "?=" at offset 8`},
	{`editors != @auth.type`, `"editors" is an array; compare its elements with @auth.type using "?="`},
	{`editors in @auth.roles`, `"editors" is an array; it can only be compared with null`},
	{`scores ?= @auth.id`, `rule: the elements of "scores" are integers, so they cannot be compared with @auth.id (strings) at offset 10`},
	{`scores ?in @auth.roles`, `the elements of "scores" are integers`},
	{`owner ?= @auth.id`, `operator "?=" needs an array field, but "owner" is a string`},
	{`nope = @auth.id`, `rule: unknown field "nope" at offset 0`},
	// The caller compared with literals: operators.
	{`@auth.id < "x"`, `rule: operator "<" does not apply to @auth.id; use "=", "!=", "in" or "not in" at offset 9`},
	{`@auth.id ~ "x"`, `operator "~" does not apply to @auth.id`},
	{`@auth.type !~ "x"`, `operator "!~" does not apply to @auth.type`},
	{`@auth.id ?= "x"`, `rule: operator "?=" needs an array, but @auth.id is a string; use "=" or "in" at offset 9`},
	{`@auth.type ?in ["user"]`, `operator "?in" needs an array, but @auth.type is a string`},
	{`@auth.roles in ["admin"]`, `rule: operator "in" does not apply to @auth.roles; use "?in" for "has one of these roles" at offset 12`},
	{`@auth.roles not in ["admin"]`, `operator "not in" does not apply to @auth.roles`},
	{`@auth.roles ?< "a"`, `rule: operator "?<" does not apply to @auth.roles; use "?=", "?!=", "?in", "= null" or "!= null" at offset 12`},
	{`@auth.roles ~ "a"`, `operator "~" does not apply to @auth.roles`},
	{`@auth.roles ?!~ "a"`, `operator "?!~" does not apply to @auth.roles`},
	{`@auth.roles > "a"`, `operator ">" does not apply to @auth.roles`},
	// The caller compared with literals: values.
	{`@auth.id = 1`, `rule: @auth.id is a string, so it cannot be compared with a number at offset 11`},
	{`@auth.type = true`, `@auth.type is a string, so it cannot be compared with a boolean`},
	{`@auth.id in ["a", 2]`, `@auth.id is a string, so it cannot be compared with a number at offset 18`},
	{`@auth.id = ""`, `rule: @auth.id is never empty; use "@auth.id = null" for anonymous callers at offset 11`},
	{`@auth.id in ["a", ""]`, `@auth.id is never empty`},
	{`@auth.id in ["a", null]`, `rule: null is not allowed in a list; use "@auth.id = null" instead at offset 18`},
	{`@auth.type not in [null]`, `use "@auth.type = null" instead`},
	{`@auth.id in []`, `rule: empty list; an in list needs at least one value at offset 13`},
	{`@auth.id in "u1"`, `expected "[" to start the list`},
	{`@auth.type = "admin"`, `rule: @auth.type is "user" or "apikey" (null for anonymous callers), never "admin" at offset 13`},
	{`@auth.type in ["user", "User"]`, `never "User"`},
	{`@auth.type != ""`, `never ""`},
	{`@auth.roles = "admin"`, `rule: @auth.roles can only be compared with null; use "?=" to test for a role at offset 14`},
	{`@auth.roles != "admin"`, `@auth.roles can only be compared with null`},
	{`@auth.roles ?= null`, `rule: null is not allowed with "?="; use "@auth.roles = null" for a caller without roles at offset 15`},
	{`@auth.roles ?!= null`, `null is not allowed with "?!="`},
	{`@auth.roles ?= 1`, `rule: @auth.roles holds strings, so it cannot be compared with a number at offset 15`},
	{`@auth.roles ?in ["a", true]`, `@auth.roles holds strings, so it cannot be compared with a boolean at offset 22`},
	{`@auth.roles ?in ["a", null]`, `null is not allowed with "?in"`},
	{`@auth.id = x`, `unexpected "x", expected a literal (strings must be quoted)`},
	{`@auth.id = "x`, `rule: unterminated string literal at offset 11`},
	// Syntax.
	{`@auth.id`, `rule: unexpected end of rule, expected an operator after @auth.id at offset 8`},
	{`@auth.id =`, `unexpected end of rule, expected a literal`},
	{`@auth.id not = "x"`, `expected "in" after "not"`},
	{`@auth.id == "x"`, `"==" is not an operator; use "=" for equality`},
	{`owner = @auth.id &&`, `unexpected end of rule, expected a field name, ( or !`},
	{`owner = @auth.id owner = "x"`, `rule: unexpected "owner", expected &&, || or the end of the rule at offset 17`},
	{`owner = @auth.id)`, `rule: unbalanced ")" at offset 16`},
	{`(owner = @auth.id`, `rule: unclosed "(" at offset 0`},
	{`owner = @auth.id and @auth.id = null`, `unexpected "and"; use "&&" for and`},
	{`true`, `unknown field "true"`},
	{`score = "x"`, `rule: "score" is an integer field, so it cannot be compared with a string at offset 8`},
}

func TestParseRuleInvalid(t *testing.T) {
	s := ruleSchema(t)
	for _, c := range invalidRules {
		t.Run(c.src, func(t *testing.T) {
			r, err := ParseRule(c.src, s, DefaultLimits())
			if err == nil {
				t.Fatalf("ParseRule(%q) = %s, want error containing %q", c.src, r, c.want)
			}
			if r != nil {
				t.Fatalf("ParseRule(%q) returned a rule with its error", c.src)
			}
			checkInvalid(t, err, "query.ParseRule", c.want)
		})
	}
}

// TestParseFilterRejectsReferences: the rule language does not leak into
// filters.
func TestParseFilterRejectsReferences(t *testing.T) {
	s := ruleSchema(t)
	for _, c := range []struct{ src, want string }{
		{`owner = @auth.id`, `filter: references such as "@auth.id" are not supported in filters at offset 8`},
		{`@auth.roles ?= "a"`, `filter: references such as "@auth.id" are not supported in filters at offset 0`},
		{`team in @auth.roles`, `at offset 8`},
		{`owner = @`, `not supported in filters at offset 8`},
	} {
		e, err := ParseFilter(c.src, s, DefaultLimits())
		if e != nil {
			t.Errorf("ParseFilter(%q) = %s", c.src, sexpr(e))
		}
		checkInvalid(t, err, "query.ParseFilter", c.want)
	}
	// A valid rule without references is the same filter either way.
	src := `published = true && (score > 1 || editors ?in ["a", "b"]) && !(team = null)`
	r, err := ParseRule(src, s, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseFilter(src, s, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.expr, e) {
		t.Fatalf("ParseRule tree %s differs from ParseFilter %s", ruleSexpr(r.expr), sexpr(e))
	}
	if r.String() != Format(e) {
		t.Fatalf("String() = %q, Format = %q", r.String(), Format(e))
	}
}

// Callers used by the Bind tests.
var (
	anonymous = Caller{}
	userU1    = Caller{ID: "u1", Type: "user"}
	editorU2  = Caller{ID: "u2", Type: "user", Roles: []string{"editor", "viewer", "editor"}}
	adminU3   = Caller{ID: "u3", Type: "user", Roles: []string{"admin"}}
	apiKeyK1  = Caller{ID: "k1", Type: "apikey", Roles: []string{"service"}}
)

// bindCase is a rule bound for a caller: want is "always", "never" or the
// filter the rule must bind to.
type bindCase struct {
	rule   string
	caller Caller
	want   string
}

var bindCases = []bindCase{
	// Fields compared with the caller's id and type.
	{`owner = @auth.id`, anonymous, "never"},
	{`owner = @auth.id`, userU1, `owner = "u1"`},
	{`owner = @auth.id`, apiKeyK1, `owner = "k1"`},
	{`owner != @auth.id`, anonymous, "always"},
	{`owner != @auth.id`, userU1, `owner != "u1"`},
	{`!(owner = @auth.id)`, anonymous, "always"},
	{`!(owner = @auth.id)`, userU1, `!(owner = "u1")`},
	{`id = @auth.id`, userU1, `id = "u1"`},
	{`author.id = @auth.id`, userU1, `author.id = "u1"`},
	{`misc = @auth.id`, userU1, `misc = "u1"`},
	{`misc != @auth.type`, apiKeyK1, `misc != "apikey"`},
	{`misc != @auth.type`, anonymous, "always"},
	{`team = @auth.type`, userU1, `team = "user"`},
	{`team = @auth.type`, anonymous, "never"},
	{`editors ?= @auth.id`, anonymous, "never"},
	{`editors ?= @auth.id`, userU1, `editors ?= "u1"`},
	{`!(editors ?= @auth.id)`, anonymous, "always"},
	{`!(editors ?= @auth.id)`, userU1, `!(editors ?= "u1")`},
	{`labels ?= @auth.id`, userU1, `labels ?= "u1"`},
	// Fields compared with the caller's roles.
	{`team in @auth.roles`, anonymous, "never"},
	{`team in @auth.roles`, userU1, "never"},
	{`team in @auth.roles`, editorU2, `team in ["editor", "viewer"]`},
	{`team not in @auth.roles`, userU1, "always"},
	{`team not in @auth.roles`, editorU2, `team not in ["editor", "viewer"]`},
	{`misc in @auth.roles`, adminU3, `misc in ["admin"]`},
	{`editors ?in @auth.roles`, editorU2, `editors ?in ["editor", "viewer"]`},
	{`editors ?in @auth.roles`, anonymous, "never"},
	{`!(team in @auth.roles)`, anonymous, "always"},
	// The caller compared with literals.
	{`@auth.id = null`, anonymous, "always"},
	{`@auth.id = null`, userU1, "never"},
	{`@auth.id != null`, anonymous, "never"},
	{`@auth.id != null`, apiKeyK1, "always"},
	{`@auth.id = "u1"`, userU1, "always"},
	{`@auth.id = "u1"`, editorU2, "never"},
	{`@auth.id = "u1"`, anonymous, "never"},
	{`@auth.id != "u1"`, anonymous, "always"},
	{`@auth.id in ["u1", "u2"]`, editorU2, "always"},
	{`@auth.id in ["u1", "u2"]`, anonymous, "never"},
	{`@auth.id not in ["u1", "u2"]`, anonymous, "always"},
	{`@auth.id not in ["u1", "u2"]`, adminU3, "always"},
	{`@auth.id not in ["u1", "u2"]`, userU1, "never"},
	{`@auth.type = "user"`, userU1, "always"},
	{`@auth.type = "user"`, apiKeyK1, "never"},
	{`@auth.type = "user"`, anonymous, "never"},
	{`@auth.type != "user"`, anonymous, "always"},
	{`@auth.type = null`, anonymous, "always"},
	{`@auth.type in ["apikey"]`, apiKeyK1, "always"},
	{`@auth.roles ?= "admin"`, adminU3, "always"},
	{`@auth.roles ?= "admin"`, editorU2, "never"},
	{`@auth.roles ?= "admin"`, anonymous, "never"},
	{`@auth.roles ?!= "editor"`, editorU2, "always"},                                            // "viewer" differs
	{`@auth.roles ?!= "editor"`, Caller{ID: "u", Roles: []string{"editor", "editor"}}, "never"}, // no role differs
	{`@auth.roles ?!= "admin"`, anonymous, "never"},
	{`@auth.roles ?in ["admin", "viewer"]`, editorU2, "always"},
	{`@auth.roles ?in ["admin", "viewer"]`, apiKeyK1, "never"},
	{`@auth.roles = null`, anonymous, "always"},
	{`@auth.roles = null`, userU1, "always"},
	{`@auth.roles = null`, Caller{ID: "u", Roles: []string{}}, "always"},
	{`@auth.roles = null`, adminU3, "never"},
	{`@auth.roles != null`, adminU3, "always"},
	// Folding.
	{`owner = @auth.id || @auth.roles ?= "admin"`, adminU3, "always"},
	{`owner = @auth.id || @auth.roles ?= "admin"`, userU1, `owner = "u1"`},
	{`owner = @auth.id || @auth.roles ?= "admin"`, anonymous, "never"},
	{`owner = @auth.id || published = true`, anonymous, `published = true`},
	{`owner = @auth.id || published = true`, userU1, `owner = "u1" || published = true`},
	{`@auth.id != null && published = true`, anonymous, "never"},
	{`@auth.id != null && published = true`, userU1, `published = true`},
	{`!(@auth.id = null) && (owner = @auth.id || editors ?= @auth.id)`, userU1, `owner = "u1" || editors ?= "u1"`},
	{`!(@auth.id = null) && (owner = @auth.id || editors ?= @auth.id)`, anonymous, "never"},
	{`(owner = @auth.id || @auth.id = null) && (published = true || @auth.roles ?= "editor")`, anonymous, `published = true`},
	{`(owner = @auth.id || @auth.id = null) && (published = true || @auth.roles ?= "editor")`, editorU2, `owner = "u2"`},
	{`(owner = @auth.id || @auth.id = null) && (published = true || @auth.roles ?= "editor")`, userU1, `owner = "u1" && published = true`},
	// Flattening after folding: the result is shaped like ParseFilter's.
	{`score > 1 && (published = true && team = null || @auth.id = "nobody") && owner = "x"`, userU1, `score > 1 && published = true && team = null && owner = "x"`},
	{`score > 1 || (published = true || @auth.id = "nobody") && @auth.id != null`, userU1, `score > 1 || published = true`},
	{`score > 1 || !(@auth.roles ?= "admin" || !(team in @auth.roles || owner = @auth.id))`, editorU2, `score > 1 || !!(team in ["editor", "viewer"] || owner = "u2")`},
	{`!!(owner = @auth.id)`, userU1, `!!(owner = "u1")`},
	{`!!(owner = @auth.id && @auth.type = "user")`, userU1, `!!(owner = "u1")`},
	{`!(!(@auth.id = null) || published = true)`, anonymous, `!(published = true)`},
	{`!(!(@auth.id = null) || published = true)`, userU1, "never"},
	{`published = true && !(@auth.roles ?= "admin") && score < 3`, userU1, `published = true && score < 3`},
	// Plain filters bind to themselves.
	{`published = true`, anonymous, `published = true`},
	{`score in [1, 2] || editors ?= "x"`, userU1, `score in [1, 2] || editors ?= "x"`},
}

func TestBind(t *testing.T) {
	s := ruleSchema(t)
	lim := DefaultLimits()
	for _, c := range bindCases {
		t.Run(fmt.Sprintf("%s/%+v", c.rule, c.caller), func(t *testing.T) {
			r, err := ParseRule(c.rule, s, lim)
			if err != nil {
				t.Fatalf("ParseRule(%q): %v", c.rule, err)
			}
			e, truth := r.Bind(c.caller)
			switch c.want {
			case "always", "never":
				if truth.String() != c.want || e != nil {
					t.Fatalf("Bind = %s, %v; want nil, %s", sexpr(e), truth, c.want)
				}
				return
			}
			if truth != Depends || e == nil {
				t.Fatalf("Bind = %s, %v; want %s", sexpr(e), truth, c.want)
			}
			want, err := ParseFilter(c.want, s, lim)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", c.want, err)
			}
			if !reflect.DeepEqual(e, want) {
				t.Fatalf("Bind\n got %s\nwant %s", sexpr(e), sexpr(want))
			}
			checkBound(t, e, s, lim)
		})
	}
}

// checkBound checks that e is shaped exactly like a ParseFilter result and
// that it round-trips through Format and ParseFilter under lim (but for
// MaxLength, which bound filters are not held to).
func checkBound(t *testing.T, e Expr, s *Schema, lim Limits) {
	t.Helper()
	var walk func(e Expr, parent string)
	walk = func(e Expr, parent string) {
		switch e := e.(type) {
		case *And:
			if len(e.Terms) < 2 || parent == "and" {
				t.Fatalf("bound filter %s: malformed and", sexpr(e))
			}
			for _, x := range e.Terms {
				walk(x, "and")
			}
		case *Or:
			if len(e.Terms) < 2 || parent == "or" {
				t.Fatalf("bound filter %s: malformed or", sexpr(e))
			}
			for _, x := range e.Terms {
				walk(x, "or")
			}
		case *Not:
			walk(e.X, "not")
		case *Compare:
			if (e.Op == OpIn || e.Op == OpNotIn) && len(e.Values) == 0 {
				t.Fatalf("bound filter %s: empty list", sexpr(e))
			}
		default:
			t.Fatalf("bound filter holds %T", e)
		}
	}
	walk(e, "")
	lim = lim.withDefaults()
	lim.MaxLength = 1 << 30
	text := Format(e)
	again, err := ParseFilter(text, s, lim)
	if err != nil {
		t.Fatalf("bound filter %q does not parse: %v", text, err)
	}
	if !reflect.DeepEqual(again, e) {
		t.Fatalf("bound filter %q parses to %s, want %s", text, sexpr(again), sexpr(e))
	}
}

// TestBindExactCompare spells out the nodes that Bind produces for each
// kind of field.
func TestBindExactCompare(t *testing.T) {
	s := ruleSchema(t)
	field := func(name string) Field {
		f, ok := s.Lookup(name)
		if !ok {
			t.Fatalf("no field %s", name)
		}
		return f
	}
	str := func(s string) Value { return Value{Kind: ValueString, Str: s} }
	cases := []struct {
		rule string
		want Expr
	}{
		{`owner = @auth.id`, &Compare{Field: field("owner"), Op: OpEq, Value: str("u2")}},
		{`misc != @auth.type`, &Compare{Field: field("misc"), Op: OpNe, Value: str("user")}},
		{`labels ?= @auth.id`, &Compare{Field: field("labels"), Op: OpEq, Any: true, Value: str("u2")}},
		{`team not in @auth.roles`, &Compare{Field: field("team"), Op: OpNotIn, Values: []Value{str("editor"), str("viewer")}}},
		{`editors ?in @auth.roles`, &Compare{Field: field("editors"), Op: OpIn, Any: true, Values: []Value{str("editor"), str("viewer")}}},
		{`id = @auth.id`, &Compare{Field: Field{System: SystemID, Type: TypeString}, Op: OpEq, Value: str("u2")}},
	}
	for _, c := range cases {
		r, err := ParseRule(c.rule, s, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		e, truth := r.Bind(editorU2)
		if truth != Depends || !reflect.DeepEqual(e, c.want) {
			t.Errorf("Bind(%q) = %#v, %v; want %#v", c.rule, e, truth, c.want)
		}
	}
}

// TestBindDoesNotShare: changing a bound filter changes neither the rule
// nor later bindings.
func TestBindDoesNotShare(t *testing.T) {
	s := ruleSchema(t)
	r, err := ParseRule(`score in [1, 2] && (team in @auth.roles || owner = "x")`, s, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	before := r.String()
	e, _ := r.Bind(editorU2)
	a := e.(*And)
	a.Terms[0].(*Compare).Values[0].Num = 99
	a.Terms[0].(*Compare).Op = OpNotIn
	a.Terms[1].(*Or).Terms[0].(*Compare).Values[0].Str = "admin"
	a.Terms = a.Terms[:1]
	if r.String() != before {
		t.Fatalf("rule changed to %s", r.String())
	}
	e2, _ := r.Bind(editorU2)
	if got, want := Format(e2), `score in [1, 2] && (team in ["editor", "viewer"] || owner = "x")`; got != want {
		t.Fatalf("second Bind = %s, want %s", got, want)
	}
}

func TestBindConcurrent(t *testing.T) {
	s := ruleSchema(t)
	r, err := ParseRule(`owner = @auth.id || team in @auth.roles || @auth.roles ?= "admin"`, s, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	callers := []Caller{anonymous, userU1, editorU2, adminU3, apiKeyK1}
	want := make([]string, len(callers))
	for i, c := range callers {
		e, truth := r.Bind(c)
		want[i] = truth.String() + " " + Format(e)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(callers))
	for g := range 8 {
		wg.Go(func() {
			for n := range 200 {
				i := (g + n) % len(callers)
				e, truth := r.Bind(callers[i])
				if got := truth.String() + " " + Format(e); got != want[i] {
					errs <- fmt.Sprintf("Bind(%+v) = %s, want %s", callers[i], got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestBindNilRule(t *testing.T) {
	var r *Rule
	if e, truth := r.Bind(userU1); e != nil || truth != Never {
		t.Fatalf("nil rule binds to %v, %v", e, truth)
	}
	if r.String() != "" {
		t.Fatalf("nil rule String() = %q", r.String())
	}
}

func TestTruthString(t *testing.T) {
	for truth, want := range map[Truth]string{Depends: "depends", Always: "always", Never: "never", Truth(9): "depends"} {
		if got := truth.String(); got != want {
			t.Errorf("Truth(%d).String() = %q, want %q", truth, got, want)
		}
	}
}

func TestParseRuleLimits(t *testing.T) {
	s := ruleSchema(t)
	lim := DefaultLimits()
	repeat := func(n int, term, sep string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = term
		}
		return strings.Join(parts, sep)
	}
	list := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`"u%d"`, i)
		}
		return "@auth.id in [" + strings.Join(parts, ",") + "]"
	}
	cases := []struct {
		name, src string
		lim       Limits
		want      string // "" means valid
	}{
		{"length ok", `@auth.roles ?= "` + strings.Repeat("a", 1024) + `"`, lim, ""},
		{"length", `owner = @auth.id || ` + strings.Repeat(" ", 4096), lim, "rule: rule is longer than 4096 bytes at offset 4096"},
		{"length custom", `owner = @auth.id`, Limits{MaxLength: 10}, "rule is longer than 10 bytes at offset 10"},
		{"string", `@auth.roles ?= "` + strings.Repeat("a", 1025) + `"`, lim, "rule: string literal is longer than 1024 bytes at offset 15"},
		{"terms ok", repeat(64, "owner=@auth.id", "||"), lim, ""},
		{"terms", repeat(65, "owner=@auth.id", "||"), lim, "rule: rule has more than 64 comparisons at offset 1024"},
		{"terms refs first", repeat(65, "@auth.id=null", "&&"), lim, "rule has more than 64 comparisons at offset 960"},
		{"terms mixed", repeat(2, "@auth.id=null&&owner=@auth.id&&score=1", "||"), Limits{MaxTerms: 5}, "more than 5 comparisons at offset 71"},
		{"depth ok", strings.Repeat("!", 16) + "owner = @auth.id", lim, ""},
		{"depth", strings.Repeat("(", 17) + "owner = @auth.id" + strings.Repeat(")", 17), lim, "rule: nesting of ( and ! is deeper than 16 at offset 16"},
		{"depth not", strings.Repeat("!", 17) + "@auth.id = null", lim, "deeper than 16"},
		{"in ok", list(100), lim, ""},
		{"in", list(101), lim, "rule: list has more than 100 values at offset 603"},
		{"in custom", `@auth.roles ?in ["a", "b", "c"]`, Limits{MaxInList: 2}, "list has more than 2 values at offset 27"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRule(c.src, s, c.lim)
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			checkInvalid(t, err, "query.ParseRule", c.want)
		})
	}
}

// TestBindLimits: caller values that a filter could not hold grant nothing.
func TestBindLimits(t *testing.T) {
	s := ruleSchema(t)
	lim := Limits{MaxInList: 3, MaxStringLen: 8}
	roles := func(n int) []string {
		r := make([]string, n)
		for i := range r {
			r[i] = fmt.Sprintf("r%d", i)
		}
		return r
	}
	three := Caller{ID: "u1", Type: "user", Roles: append(roles(3), "r0", "r1")} // 3 distinct
	four := Caller{ID: "u1", Type: "user", Roles: roles(4)}
	long := Caller{ID: "u123456789", Type: "user", Roles: []string{"r0", "role-too-long"}}
	nul := Caller{ID: "u\x00", Type: "user", Roles: []string{"r\x00"}}
	bad := Caller{ID: "\xff", Type: "user"}
	cases := []bindCase{
		{`team in @auth.roles`, three, `team in ["r0", "r1", "r2"]`},
		{`team not in @auth.roles`, three, `team not in ["r0", "r1", "r2"]`},
		{`team in @auth.roles`, four, "never"},
		{`team not in @auth.roles`, four, "never"},
		{`editors ?in @auth.roles`, four, "never"},
		{`!(team in @auth.roles)`, four, "never"},
		{`!(team not in @auth.roles)`, four, "never"},
		{`!!(team in @auth.roles)`, four, "never"},
		{`team in @auth.roles || published = true`, four, `published = true`},
		{`!(team in @auth.roles) || published = true`, four, `published = true`},
		{`!(team in @auth.roles && published = true)`, four, `!(published = true)`},
		{`!(!(team in @auth.roles) || published = true)`, four, "never"},
		// Comparisons of the caller with literals stay exact.
		{`@auth.roles ?= "r3"`, four, "always"},
		{`@auth.roles != null`, four, "always"},
		{`owner = @auth.id`, four, `owner = "u1"`},
		// Values too long, with NUL or not UTF-8.
		{`owner = @auth.id`, long, "never"},
		{`owner != @auth.id`, long, "never"},
		{`!(owner = @auth.id)`, long, "never"},
		{`owner = @auth.id || published = true`, long, `published = true`},
		{`team in @auth.roles`, long, "never"},
		{`team = @auth.type`, long, `team = "user"`},
		{`@auth.id = null`, long, "never"},
		{`owner = @auth.id`, nul, "never"},
		{`team not in @auth.roles`, nul, "never"},
		{`!(team in @auth.roles)`, nul, "never"},
		{`owner != @auth.id`, bad, "never"},
		{`@auth.id != null && published = true`, bad, `published = true`},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%q", c.rule, c.caller.ID), func(t *testing.T) {
			r, err := ParseRule(c.rule, s, lim)
			if err != nil {
				t.Fatalf("ParseRule(%q): %v", c.rule, err)
			}
			e, truth := r.Bind(c.caller)
			switch c.want {
			case "always", "never":
				if truth.String() != c.want || e != nil {
					t.Fatalf("Bind = %s, %v; want nil, %s", sexpr(e), truth, c.want)
				}
				return
			}
			want, err := ParseFilter(c.want, s, lim)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", c.want, err)
			}
			if truth != Depends || !reflect.DeepEqual(e, want) {
				t.Fatalf("Bind = %s, %v; want %s", sexpr(e), truth, sexpr(want))
			}
			checkBound(t, e, s, lim)
		})
	}
}

// TestRuleDocExamples keeps the examples and the error table of
// docs/rules.md valid.
func TestRuleDocExamples(t *testing.T) {
	s, err := SchemaFromJSON([]byte(`{"type": "object", "properties": {
		"owner": {"type": "string"}, "title": {"type": "string"},
		"status": {"type": ["string", "null"]}, "team": {"type": "string"},
		"published": {"type": "boolean"}, "score": {"type": "integer"},
		"editors": {"type": "array", "items": {"type": "string"}},
		"blocked": {"type": "array", "items": {"type": "string"}},
		"audience": {"type": "array", "items": {"type": "string"}},
		"scores": {"type": "array", "items": {"type": "integer"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/rules.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(doc), "\n")
	// The rules of the JSON example and of the Examples section.
	var rules []string
	inExamples := false
	for _, l := range lines {
		if strings.HasPrefix(l, `  "`) && strings.Contains(l, "@auth") {
			_, rule, _ := strings.Cut(l, ":")
			rules = append(rules, strings.Trim(rule, ` ",`))
		}
		switch {
		case l == "## Examples":
			inExamples = true
		case inExamples && strings.HasPrefix(l, "## "):
			inExamples = false
		case inExamples && l != "" && !strings.HasPrefix(l, "```"):
			rule, _, _ := strings.Cut(l, "   ")
			rules = append(rules, strings.TrimSpace(rule))
		}
	}
	if len(rules) < 15 {
		t.Fatalf("found only %d example rules in docs/rules.md", len(rules))
	}
	for _, src := range rules {
		if _, err := ParseRule(src, s, DefaultLimits()); err != nil {
			t.Errorf("ParseRule(%q): %v", src, err)
		}
	}
	// The error table: | `rule` | `detail` |.
	errRows := 0
	for _, l := range lines {
		cells := strings.Split(l, " | ")
		if len(cells) != 2 || !strings.HasPrefix(cells[1], "`rule: ") {
			continue
		}
		src, want := strings.Trim(cells[0], "|` "), strings.Trim(cells[1], "|` ")
		if src == "(empty)" {
			src = ""
		}
		if strings.Contains(want, "…") {
			continue
		}
		errRows++
		_, err := ParseRule(src, s, DefaultLimits())
		checkInvalid(t, err, opRule, want)
	}
	if errRows < 20 {
		t.Fatalf("found only %d error rows in docs/rules.md", errRows)
	}
	// The binding table.
	for _, c := range []struct{ rule, caller, want string }{
		{`owner = @auth.id || published = true`, "anonymous", `published = true`},
		{`owner = @auth.id || published = true`, "u1", `owner = "u1" || published = true`},
		{`@auth.roles ?= "admin" || owner = @auth.id`, "u1 admin", "always"},
		{`@auth.roles ?= "admin" || owner = @auth.id`, "anonymous", "never"},
		{`@auth.roles ?= "admin" || owner = @auth.id`, "u1", `owner = "u1"`},
		{`team in @auth.roles`, "u1 sales support support", `team in ["sales", "support"]`},
		{`team not in @auth.roles`, "anonymous", "always"},
		{`!(blocked ?= @auth.id)`, "u1", `!(blocked ?= "u1")`},
		{`!(blocked ?= @auth.id)`, "anonymous", "always"},
		{`@auth.roles ?!= "admin"`, "u1 admin staff", "always"},
	} {
		r, err := ParseRule(c.rule, s, DefaultLimits())
		if err != nil {
			t.Errorf("ParseRule(%q): %v", c.rule, err)
			continue
		}
		var caller Caller
		if c.caller != "anonymous" {
			f := strings.Fields(c.caller)
			caller = Caller{ID: f[0], Type: "user", Roles: f[1:]}
		}
		e, truth := r.Bind(caller)
		got := truth.String()
		if truth == Depends {
			want, err := ParseFilter(c.want, s, DefaultLimits())
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", c.want, err)
			}
			if !reflect.DeepEqual(e, want) {
				got = Format(e)
			} else {
				got = c.want
			}
		}
		if got != c.want {
			t.Errorf("rule %q for %s binds to %s, want %s", c.rule, c.caller, got, c.want)
		}
	}
}

// ruleAtoms are the comparisons random rules are built from.
var ruleAtoms = []string{
	`owner = @auth.id`, `owner != @auth.id`, `misc = @auth.id`, `misc != @auth.type`,
	`team = @auth.type`, `editors ?= @auth.id`, `!(editors ?= @auth.id)`, `labels ?= @auth.id`,
	`!(labels ?= @auth.type)`, `team in @auth.roles`, `team not in @auth.roles`, `misc in @auth.roles`,
	`misc not in @auth.roles`, `editors ?in @auth.roles`, `labels ?in @auth.roles`,
	`@auth.id = null`, `@auth.id != null`, `@auth.id = "u1"`, `@auth.id != "u2"`,
	`@auth.id in ["u1", "u2"]`, `@auth.id not in ["u1"]`, `@auth.type = "user"`,
	`@auth.type != "apikey"`, `@auth.type in ["apikey"]`, `@auth.type not in ["user"]`, `@auth.type = null`,
	`@auth.type != null`, `@auth.roles ?= "admin"`, `@auth.roles ?!= "admin"`,
	`@auth.roles ?in ["editor", "admin"]`, `@auth.roles = null`, `@auth.roles != null`,
	`owner = "u1"`, `team = null`, `team != "admin"`, `score > 3`, `published = true`,
	`editors ?= "u2"`, `editors ?!= "u1"`, `misc = 1`, `misc in ["editor", true]`, `labels = null`,
}

// randomRule builds a random rule from ruleAtoms.
func randomRule(rng *rand.Rand, depth int) string {
	if depth == 0 || rng.IntN(3) == 0 {
		return ruleAtoms[rng.IntN(len(ruleAtoms))]
	}
	switch rng.IntN(4) {
	case 0:
		return "!(" + randomRule(rng, depth-1) + ")"
	case 1:
		return "(" + randomRule(rng, depth-1) + " || " + randomRule(rng, depth-1) + ")"
	default:
		return "(" + randomRule(rng, depth-1) + " && " + randomRule(rng, depth-1) + ")"
	}
}

// randomCaller returns a caller, sometimes with values a filter cannot hold
// (exact is then false): more distinct roles than lim.MaxInList, or values
// that are too long or hold NUL.
func randomCaller(rng *rand.Rand, lim Limits) (c Caller, exact bool) {
	ids := []string{"", "u1", "u2", "admin", "editor", "user"}
	types := []string{"", "user", "apikey"}
	roles := []string{"admin", "editor", "viewer", "u1", "user", ""}
	c.ID = ids[rng.IntN(len(ids))]
	c.Type = types[rng.IntN(len(types))]
	for range rng.IntN(4) {
		c.Roles = append(c.Roles, roles[rng.IntN(len(roles))])
	}
	switch rng.IntN(10) {
	case 0:
		c.ID = "u\x00"
	case 1:
		c.Roles = append(c.Roles, strings.Repeat("r", lim.MaxStringLen+1))
	case 2:
		for i := range lim.MaxInList + 1 {
			c.Roles = append(c.Roles, fmt.Sprintf("role%d", i))
		}
	}
	distinct := map[string]bool{}
	exact = !strings.Contains(c.ID, "\x00")
	for _, r := range c.Roles {
		distinct[r] = true
		exact = exact && len(r) <= lim.MaxStringLen
	}
	return c, exact && len(distinct) <= lim.MaxInList
}

// randomDoc returns a document that matches ruleSchemaJSON.
func randomDoc(rng *rand.Rand) map[string]any {
	pick := func(vs ...any) any { return vs[rng.IntN(len(vs))] }
	missing := struct{}{}
	doc := map[string]any{}
	set := func(k string, v any) {
		if v != missing {
			doc[k] = v
		}
	}
	set("owner", pick(missing, "u1", "u2", "admin", ""))
	set("team", pick(missing, nil, "admin", "editor", "viewer", "user"))
	set("misc", pick(missing, nil, "u1", "editor", "user", "apikey", 1.0, true, false))
	set("editors", pick(missing, nil, []any{}, []any{"u1"}, []any{"u2", "u1"}, []any{"u2"}, []any{"admin", "editor"}))
	set("labels", pick(missing, nil, []any{}, []any{1.0, "u1"}, []any{true}, []any{nil}, []any{"user", "viewer"}, []any{"apikey"}))
	set("score", pick(missing, nil, 1.0, 3.0, 5.0))
	set("published", pick(missing, nil, true, false))
	return doc
}

// evalFilter evaluates a filter over doc with the semantics of
// docs/filters.md.
func evalFilter(e Expr, doc map[string]any) bool {
	switch e := e.(type) {
	case *And:
		for _, t := range e.Terms {
			if !evalFilter(t, doc) {
				return false
			}
		}
		return true
	case *Or:
		for _, t := range e.Terms {
			if evalFilter(t, doc) {
				return true
			}
		}
		return false
	case *Not:
		return !evalFilter(e.X, doc)
	case *Compare:
		v := doc[e.Field.Name()]
		op, neg := e.Op.Positive()
		values := e.Values
		if op != OpIn {
			values = []Value{e.Value}
		}
		if !e.Any {
			return evalLeaf(v, op, values) != neg
		}
		arr, _ := v.([]any)
		for _, x := range arr {
			if evalLeaf(x, op, values) != neg {
				return true
			}
		}
		return false
	}
	panic(fmt.Sprintf("evalFilter: %T", e))
}

// evalLeaf evaluates a positive comparison of a JSON value.
func evalLeaf(v any, op Op, values []Value) bool {
	if op == OpEq && values[0].Kind == ValueNull {
		return v == nil
	}
	equal := func(w Value) bool {
		switch x := v.(type) {
		case string:
			return w.Kind == ValueString && w.Str == x
		case float64:
			return w.Kind == ValueNumber && w.Num == x
		case bool:
			return w.Kind == ValueBool && w.Bool == x
		}
		return false
	}
	switch op {
	case OpEq:
		return equal(values[0])
	case OpIn:
		for _, w := range values {
			if equal(w) {
				return true
			}
		}
		return false
	case OpGt:
		x, ok := v.(float64)
		return ok && x > values[0].Num
	}
	panic(fmt.Sprintf("evalLeaf: op %v", op))
}

// evalRule evaluates a rule for a caller over doc, straight from the
// semantics of docs/rules.md.
func evalRule(e Expr, c Caller, doc map[string]any) bool {
	isRole := func(s string) bool {
		for _, r := range c.Roles {
			if r == s {
				return true
			}
		}
		return false
	}
	switch e := e.(type) {
	case *And:
		for _, t := range e.Terms {
			if !evalRule(t, c, doc) {
				return false
			}
		}
		return true
	case *Or:
		for _, t := range e.Terms {
			if evalRule(t, c, doc) {
				return true
			}
		}
		return false
	case *Not:
		return !evalRule(e.X, c, doc)
	case *authField:
		v := doc[e.field.Name()]
		arr, isArr := v.([]any)
		switch e.ref {
		case refID, refType:
			me := c.ID
			if e.ref == refType {
				me = c.Type
			}
			if me == "" {
				return e.op == OpNe // the negated forms hold for a null caller value
			}
			switch {
			case !e.any && e.op == OpEq:
				return v == me
			case !e.any && e.op == OpNe:
				return v != me
			case e.any && e.op == OpEq:
				for _, x := range arr {
					if x == me {
						return true
					}
				}
				return false
			case e.any && e.op == OpNe:
				for _, x := range arr {
					if x != me {
						return true
					}
				}
				return false
			}
		case refRoles:
			s, isStr := v.(string)
			switch {
			case e.op == OpNotIn:
				return !isStr || !isRole(s)
			case !e.any:
				return isStr && isRole(s)
			case isArr:
				for _, x := range arr {
					if s, ok := x.(string); ok && isRole(s) {
						return true
					}
				}
			}
			return false
		}
	case *authTest:
		switch e.ref {
		case refRoles:
			switch {
			case !e.any && e.op == OpEq:
				return len(c.Roles) == 0
			case !e.any:
				return len(c.Roles) > 0
			case e.op == OpEq:
				return isRole(e.value.Str)
			case e.op == OpNe:
				for _, r := range c.Roles {
					if r != e.value.Str {
						return true
					}
				}
				return false
			default: // ?in
				for _, w := range e.values {
					if isRole(w.Str) {
						return true
					}
				}
				return false
			}
		default:
			me := c.ID
			if e.ref == refType {
				me = c.Type
			}
			in := false
			for _, w := range e.values {
				in = in || (me != "" && me == w.Str)
			}
			switch {
			case e.op == OpEq && e.value.Kind == ValueNull:
				return me == ""
			case e.op == OpNe && e.value.Kind == ValueNull:
				return me != ""
			case e.op == OpEq:
				return me != "" && me == e.value.Str
			case e.op == OpNe:
				return me == "" || me != e.value.Str
			case e.op == OpIn:
				return in
			default:
				return !in
			}
		}
	case *Compare:
		return evalFilter(e, doc)
	}
	panic(fmt.Sprintf("evalRule: %T", e))
}

// TestBindAgreesWithSemantics binds random rules for random callers and
// checks, over random documents, that the bound filter selects exactly the
// documents the rule allows — or, for callers with values a filter cannot
// hold, a subset of them.
func TestBindAgreesWithSemantics(t *testing.T) {
	s := ruleSchema(t)
	rng := rand.New(rand.NewPCG(1, 2))
	docs := make([]map[string]any, 300)
	for i := range docs {
		docs[i] = randomDoc(rng)
	}
	var counts [4]int // by Truth, then inexact callers
	for _, lim := range []Limits{DefaultLimits(), {MaxInList: 2, MaxStringLen: 16, MaxDepth: 8, MaxTerms: 12}} {
		lim = lim.withDefaults()
		for range 1500 {
			src := randomRule(rng, 4)
			r, err := ParseRule(src, s, lim)
			if err != nil {
				continue // too deep or too many terms for the small limits
			}
			c, exact := randomCaller(rng, lim)
			e, truth := r.Bind(c)
			counts[truth]++
			if !exact {
				counts[3]++
			}
			if (e == nil) != (truth != Depends) {
				t.Fatalf("rule %q for %+v: Bind = %v, %v", src, c, e, truth)
			}
			if e != nil {
				checkBound(t, e, s, lim)
			}
			for _, d := range docs {
				want := evalRule(r.expr, c, d)
				var got bool
				switch truth {
				case Always:
					got = true
				case Never:
					got = false
				default:
					got = evalFilter(e, d)
				}
				if got != want && (exact || got) {
					t.Fatalf("rule %s for %+v over %v: bound %s (%v) gives %v, rule gives %v",
						r, c, d, Format(e), truth, got, want)
				}
			}
		}
	}
	t.Logf("bound: %d depends, %d always, %d never; %d inexact callers", counts[Depends], counts[Always], counts[Never], counts[3])
	if counts[Depends] < 1000 || counts[Always] < 200 || counts[Never] < 200 || counts[3] < 200 {
		t.Fatalf("random rules cover too few cases: %v", counts)
	}
}

func FuzzParseRule(f *testing.F) {
	for _, c := range validRules {
		f.Add(c.src)
	}
	for _, c := range invalidRules {
		f.Add(c.src)
	}
	for _, c := range bindCases {
		f.Add(c.rule)
	}
	s := ruleSchema(f)
	lim := DefaultLimits()
	callers := []Caller{anonymous, userU1, editorU2, adminU3, apiKeyK1,
		{ID: "\x00", Type: "x", Roles: []string{"\xff", strings.Repeat("a", 2000)}}}
	f.Fuzz(func(t *testing.T, src string) {
		r, err := ParseRule(src, s, lim)
		if err != nil {
			if r != nil {
				t.Fatalf("input %q: rule returned with error", src)
			}
			checkFuzzErr(t, src, err)
			if !strings.HasPrefix(err.Error(), opRule+": invalid: rule: ") {
				t.Fatalf("input %q: error %q is not a rule error", src, err)
			}
			return
		}
		text := r.String()
		r2, err := ParseRule(text, s, lim)
		if err != nil {
			t.Fatalf("input %q: String gave %q, which fails to parse: %v", src, text, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("input %q: round trip through %q\n got %s\nwant %s", src, text, ruleSexpr(r2.expr), ruleSexpr(r.expr))
		}
		for _, c := range callers {
			e, truth := r.Bind(c)
			if (e == nil) != (truth != Depends) {
				t.Fatalf("input %q for %+v: Bind = %v, %v", src, c, e, truth)
			}
			if e != nil {
				checkBound(t, e, s, lim)
			}
		}
	})
}

func BenchmarkBind(b *testing.B) {
	s := ruleSchema(b)
	r, err := ParseRule(`published = true && (owner = @auth.id || editors ?= @auth.id || team in @auth.roles) || @auth.roles ?= "admin"`, s, DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, truth := r.Bind(editorU2); truth != Depends {
			b.Fatal(truth)
		}
	}
}
