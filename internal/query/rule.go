package query

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/basaltdev/basalt/internal/fault"
)

// opRule is the operation carried by the errors of ParseRule.
const opRule = "query.ParseRule"

func ruleErr(off int, format string, args ...any) *fault.Error {
	return errAt(opRule, "rule", off, format, args...)
}

// asRuleErr relabels an error of the filter lexer and parser, which ParseRule
// shares, as a rule error: "filter: …" becomes "rule: …".
func asRuleErr(err error) error {
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Op != opFilter {
		return err
	}
	return &fault.Error{Kind: fe.Kind, Op: opRule, Msg: "rule: " + strings.TrimPrefix(fe.Msg, "filter: "), Err: fe.Err}
}

// ParseRule parses and checks an access rule against a collection's schema.
//
// A rule is a filter (see ParseFilter) that may also refer to the caller:
// @auth.id (a string), @auth.type (a string, "user" or "apikey") and
// @auth.roles (an array of strings). These are null (no roles) for an
// anonymous caller. References may appear only in these comparisons:
//
//	field = @auth.id        field != @auth.id       (also @auth.type; string or mixed field)
//	field ?= @auth.id                               (also @auth.type; array of strings or of mixed elements)
//	field in @auth.roles    field not in @auth.roles    field ?in @auth.roles
//	@auth.id = "…"  @auth.id != "…"  @auth.id = null  @auth.id != null
//	@auth.id in ["…", …]    @auth.id not in ["…", …]    (also @auth.type)
//	@auth.roles ?= "…"  @auth.roles ?!= "…"  @auth.roles ?in ["…", …]
//	@auth.roles = null  @auth.roles != null
//
// An empty rule is an error. lim bounds the rule as it bounds a filter.
// Errors are *fault.Error values of kind fault.Invalid, with op
// "query.ParseRule" and a message "rule: <problem> at offset <n>";
// ParseRule never panics.
func ParseRule(src string, s *Schema, lim Limits) (*Rule, error) {
	lim = lim.withDefaults()
	if len(src) > lim.MaxLength {
		return nil, ruleErr(lim.MaxLength, "rule is longer than %d bytes", lim.MaxLength)
	}
	p := parser{lx: lexer{src: src, maxStr: lim.MaxStringLen, refs: true}, s: s, lim: lim, rule: true}
	if err := p.advance(); err != nil {
		return nil, asRuleErr(err)
	}
	if p.tok.kind == tEOF {
		return nil, ruleErr(p.tok.pos, "empty rule")
	}
	e, err := p.parseOr(0)
	if err != nil {
		return nil, asRuleErr(err)
	}
	if p.tok.kind != tEOF {
		if p.tok.kind == tRParen {
			return nil, ruleErr(p.tok.pos, `unbalanced ")"`)
		}
		return nil, asRuleErr(p.unexpected("&&, || or the end of the rule"))
	}
	return &Rule{expr: e, lim: lim}, nil
}

// Rule is a checked access rule. It is immutable and safe for concurrent use.
type Rule struct {
	// expr is the rule's tree: *And, *Or, *Not and *Compare nodes as in a
	// filter, plus *authField and *authTest leaves.
	expr Expr
	lim  Limits
}

// String returns the rule in canonical form (like Format for filters):
// ParseRule(r.String()) returns the same rule under the same schema and
// Limits.
func (r *Rule) String() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	formatExpr(&b, r.expr, precOr)
	return b.String()
}

// Caller is who a rule is evaluated for. ID and Type are "" for an anonymous
// caller.
type Caller struct {
	ID    string // account or API key ID
	Type  string // "user" or "apikey"
	Roles []string
}

// Truth says whether a bound rule holds for every document, for none, or
// depends on the document.
type Truth uint8

// The truth of a bound rule.
const (
	Depends Truth = iota
	Always
	Never
)

func (t Truth) String() string {
	switch t {
	case Always:
		return "always"
	case Never:
		return "never"
	}
	return "depends"
}

// Bind substitutes the caller into the rule and folds constants. When the
// result is Depends, Expr is a filter made only of the existing node types
// (And, Or, Not, Compare — no auth references, no constants), exactly as
// ParseFilter would produce, so storage engines compile it unchanged;
// otherwise Expr is nil.
//
// Semantics: an anonymous caller has a null @auth.id and @auth.type and no
// roles. A field compared with a null caller value (or with an empty role
// list) is false, and the negated forms (!=, not in) are true.
// Comparisons of the caller with literals are decided here.
//
// The bound filter keeps the rule's limits: no more comparisons and no
// deeper nesting than the rule (folding only removes nodes), and every
// literal is one ParseFilter would accept under the rule's Limits. A caller
// value that cannot be such a literal — more distinct roles than
// Limits.MaxInList for "in @auth.roles", or an ID, type or role longer than
// Limits.MaxStringLen, not valid UTF-8 or containing NUL — makes its
// comparison grant nothing: it counts as false where it appears under an even
// number of "!" and as true under an odd number, so the bound rule matches a
// subset of the documents the exact rule would. The formatted bound filter
// is not held to Limits.MaxLength: it is never parsed from text.
//
// Bind returns (nil, Never) for a nil *Rule. The returned Expr shares no
// mutable state with r.
func (r *Rule) Bind(c Caller) (Expr, Truth) {
	if r == nil || r.expr == nil {
		return nil, Never
	}
	b := binder{c: c, lim: r.lim}
	e, t := b.bind(r.expr, true)
	if t != Depends {
		return nil, t
	}
	return e, Depends
}

// authRef names a value of the caller.
type authRef uint8

const (
	refID authRef = iota + 1
	refType
	refRoles
)

func (r authRef) String() string {
	switch r {
	case refID:
		return "@auth.id"
	case refType:
		return "@auth.type"
	case refRoles:
		return "@auth.roles"
	}
	return "@?"
}

// The values of @auth.type.
const (
	authTypeUser   = "user"
	authTypeAPIKey = "apikey"
)

// authField compares a field with a value of the caller: "owner = @auth.id"
// (Op OpEq or OpNe, ref refID or refType, Any for "?=" and "?!="), or
// "team in @auth.roles" (OpIn or OpNotIn, ref refRoles, Any for "?in").
type authField struct {
	field Field
	op    Op
	any   bool
	ref   authRef
}

// authTest compares a value of the caller with literals, as a Compare
// compares a field: "@auth.id = null", "@auth.type in ["user"]",
// "@auth.roles ?= "editor"".
type authTest struct {
	ref    authRef
	op     Op
	any    bool
	value  Value   // for every op but OpIn/OpNotIn
	values []Value // for OpIn/OpNotIn; never empty
}

func (*authField) isExpr() {}
func (*authTest) isExpr()  {}

// lexRef lexes a reference: "@" followed by a dotted name. The parser
// checks the name.
func (l *lexer) lexRef(start int) (token, error) {
	src, i := l.src, start+1
	for i < len(src) && (identChar(src[i]) || src[i] == '.') {
		i++
	}
	if i == start+1 {
		return token{}, filterErr(start, `"@" must be followed by a reference: @auth.id, @auth.type or @auth.roles`)
	}
	l.pos = i
	return token{kind: tRef, pos: start, end: i, str: src[start+1 : i]}, nil
}

// refNamed returns the reference of token t (a tRef).
func refNamed(t token) (authRef, error) {
	switch t.str {
	case "auth.id":
		return refID, nil
	case "auth.type":
		return refType, nil
	case "auth.roles":
		return refRoles, nil
	}
	return 0, ruleErr(t.pos, "unknown reference %s; use @auth.id, @auth.type or @auth.roles", quoteName("@"+t.str))
}

// parseAuthOperand finishes "field op @auth.…": c holds the field and the
// operator (checked by checkOp at opPos), the current token is the
// reference.
func (p *parser) parseAuthOperand(c *Compare, opPos int) (Expr, error) {
	rt := p.tok
	ref, err := refNamed(rt)
	if err != nil {
		return nil, err
	}
	name := quoteName(c.Field.Name())
	op := opText(c.Op, c.Any)
	if ref == refRoles {
		if c.Op != OpIn && c.Op != OpNotIn {
			return nil, ruleErr(opPos, `operator %q does not apply to @auth.roles; use "%s in @auth.roles", "not in" or "?in"`, op, c.Field.Name())
		}
	} else if c.Op != OpEq && c.Op != OpNe {
		return nil, ruleErr(opPos, `operator %q does not apply to %s; use "=" or "!=" (or "?=" for array fields)`, op, ref)
	} else if c.Any && c.Op == OpNe {
		// "some element is not the caller" is almost never what a rule
		// means, and it holds for anonymous callers: refuse it.
		return nil, ruleErr(opPos, `operator "?!=" is not allowed with %s; write "!(%s ?= %s)" for "the caller is not among them"`, ref, c.Field.Name(), ref)
	}
	switch t := operandType(c); {
	case !c.Any && t == TypeArray:
		alt := `"?="`
		if ref == refRoles {
			alt = `"?in"`
		}
		return nil, ruleErr(opPos, `%s is an array; compare its elements with %s using %s`, name, ref, alt)
	case c.Any && t != TypeString && t != TypeAny:
		return nil, ruleErr(rt.pos, "the elements of %s are %ss, so they cannot be compared with %s (strings)", name, t, ref)
	case t != TypeString && t != TypeAny:
		return nil, ruleErr(rt.pos, "%s is %s field, so it cannot be compared with %s (strings)", name, article(t), ref)
	}
	return &authField{field: c.Field, op: c.Op, any: c.Any, ref: ref}, p.advance()
}

// parseAuthTest parses "@auth.… op literal" or "@auth.… op [literals]"; the
// current token is the reference.
func (p *parser) parseAuthTest() (Expr, error) {
	rt := p.tok
	if err := p.countTerm(rt.pos); err != nil {
		return nil, err
	}
	ref, err := refNamed(rt)
	if err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	a := &authTest{ref: ref}
	opPos := p.tok.pos
	switch {
	case p.tok.kind == tOp:
		a.op, a.any = p.tok.op, p.tok.any
	case p.tok.kind == tIdent && p.tok.str == "in":
		a.op = OpIn
	case p.tok.kind == tIdent && p.tok.str == "not":
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tIdent || p.tok.str != "in" {
			return nil, p.unexpected(`"in" after "not"`)
		}
		a.op = OpNotIn
	default:
		return nil, p.unexpected("an operator after " + ref.String())
	}
	if err := checkAuthOp(a, opPos); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tRef {
		return nil, ruleErr(p.tok.pos, "%s cannot be compared with another reference; compare it with a literal", ref)
	}
	if a.op != OpIn && a.op != OpNotIn {
		v, err := p.authLiteral(a)
		if err != nil {
			return nil, err
		}
		a.value = v
		return a, nil
	}
	vs, err := p.list(func() (Value, error) { return p.authLiteral(a) })
	if err != nil {
		return nil, err
	}
	a.values = vs
	return a, nil
}

// checkAuthOp checks that a.op (with a.any) applies to a.ref; pos is the
// operator's offset.
func checkAuthOp(a *authTest, pos int) error {
	op := opText(a.op, a.any)
	switch a.ref {
	case refID, refType:
		if a.any {
			return ruleErr(pos, `operator %q needs an array, but %s is a string; use "=" or "in"`, op, a.ref)
		}
		switch a.op {
		case OpEq, OpNe, OpIn, OpNotIn:
			return nil
		}
		return ruleErr(pos, `operator %q does not apply to %s; use "=", "!=", "in" or "not in"`, op, a.ref)
	default: // refRoles
		switch {
		case a.any && (a.op == OpEq || a.op == OpNe || a.op == OpIn):
			return nil
		case !a.any && (a.op == OpEq || a.op == OpNe):
			return nil // with null; authLiteral checks
		case a.op == OpIn || a.op == OpNotIn:
			return ruleErr(pos, `operator %q does not apply to @auth.roles; use "?in" for "has one of these roles"`, op)
		}
		return ruleErr(pos, `operator %q does not apply to @auth.roles; use "?=", "?!=", "?in", "= null" or "!= null"`, op)
	}
}

// authLiteral parses the literal at the current token, checks it against a
// and advances past it.
func (p *parser) authLiteral(a *authTest) (Value, error) {
	t := p.tok
	if t.kind == tIdent {
		if _, ok := p.s.Lookup(t.str); ok && !isKeywordLiteral(t.str) {
			return Value{}, ruleErr(t.pos, "a field must come first: write %s", quoteName(t.str+" "+opText(a.op, a.any)+" "+a.ref.String()))
		}
	}
	v, err := p.literalValue()
	if err != nil {
		return Value{}, err
	}
	list := a.op == OpIn || a.op == OpNotIn
	op := opText(a.op, a.any)
	switch a.ref {
	case refID, refType:
		if v.Kind == ValueNull {
			if list {
				return Value{}, ruleErr(t.pos, `null is not allowed in a list; use "%s = null" instead`, a.ref)
			}
			break
		}
		if v.Kind != ValueString {
			return Value{}, ruleErr(t.pos, "%s is a string, so it cannot be compared with %s", a.ref, kindArticle(v.Kind))
		}
		if a.ref == refID && v.Str == "" {
			return Value{}, ruleErr(t.pos, `@auth.id is never empty; use "@auth.id = null" for anonymous callers`)
		}
		if a.ref == refType && v.Str != authTypeUser && v.Str != authTypeAPIKey {
			return Value{}, ruleErr(t.pos, `@auth.type is "user" or "apikey" (null for anonymous callers), never %s`, quoteName(v.Str))
		}
	case refRoles:
		switch {
		case !a.any && v.Kind != ValueNull:
			return Value{}, ruleErr(t.pos, `@auth.roles can only be compared with null; use "?=" to test for a role`)
		case a.any && v.Kind == ValueNull:
			return Value{}, ruleErr(t.pos, `null is not allowed with %q; use "@auth.roles = null" for a caller without roles`, op)
		case a.any && v.Kind != ValueString:
			return Value{}, ruleErr(t.pos, "@auth.roles holds strings, so it cannot be compared with %s", kindArticle(v.Kind))
		}
	}
	return v, p.advance()
}

func isKeywordLiteral(s string) bool { return s == "true" || s == "false" || s == "null" }

func formatAuthField(b *strings.Builder, a *authField) {
	b.WriteString(a.field.Name())
	b.WriteByte(' ')
	b.WriteString(opText(a.op, a.any))
	b.WriteByte(' ')
	b.WriteString(a.ref.String())
}

func formatAuthTest(b *strings.Builder, a *authTest) {
	b.WriteString(a.ref.String())
	b.WriteByte(' ')
	b.WriteString(opText(a.op, a.any))
	b.WriteByte(' ')
	if a.op != OpIn && a.op != OpNotIn {
		formatValue(b, a.value)
		return
	}
	b.WriteByte('[')
	for i, v := range a.values {
		if i > 0 {
			b.WriteString(", ")
		}
		formatValue(b, v)
	}
	b.WriteByte(']')
}

// binder substitutes one caller into a rule.
type binder struct {
	c     Caller
	lim   Limits
	roles []string // c.Roles without duplicates, in order; computed on first use
	dedup bool
}

// bind binds e, which appears under an even number of "!" when pos is set.
func (b *binder) bind(e Expr, pos bool) (Expr, Truth) {
	switch e := e.(type) {
	case *Compare:
		c := *e
		if e.Values != nil {
			c.Values = append([]Value(nil), e.Values...)
		}
		return &c, Depends
	case *authField:
		return b.field(e, pos)
	case *authTest:
		if b.test(e) {
			return nil, Always
		}
		return nil, Never
	case *Not:
		x, t := b.bind(e.X, !pos)
		switch t {
		case Always:
			return nil, Never
		case Never:
			return nil, Always
		}
		return &Not{X: x}, Depends
	case *And:
		return b.junction(e.Terms, pos, false)
	case *Or:
		return b.junction(e.Terms, pos, true)
	}
	return nil, Never // no other node exists; grant nothing
}

// junction binds the terms of an *Or (or set) or an *And.
func (b *binder) junction(terms []Expr, pos, or bool) (Expr, Truth) {
	absorb, neutral := Never, Always
	if or {
		absorb, neutral = Always, Never
	}
	out := make([]Expr, 0, len(terms))
	for _, t := range terms {
		x, tr := b.bind(t, pos)
		switch tr {
		case absorb:
			return nil, absorb
		case neutral:
			continue
		}
		out = flatten(out, x, or)
	}
	switch len(out) {
	case 0:
		return nil, neutral
	case 1:
		return out[0], Depends
	}
	if or {
		return &Or{Terms: out}, Depends
	}
	return &And{Terms: out}, Depends
}

// field binds "field op @auth.…".
func (b *binder) field(a *authField, pos bool) (Expr, Truth) {
	var vals []string
	switch a.ref {
	case refID:
		if b.c.ID != "" {
			vals = []string{b.c.ID}
		}
	case refType:
		if b.c.Type != "" {
			vals = []string{b.c.Type}
		}
	case refRoles:
		vals = b.distinctRoles()
	}
	if len(vals) == 0 {
		// Null caller value (no roles): the comparison is false, its
		// negated form true.
		if _, neg := a.op.Positive(); neg {
			return nil, Always
		}
		return nil, Never
	}
	grantNothing := func() (Expr, Truth) {
		if pos {
			return nil, Never
		}
		return nil, Always
	}
	c := &Compare{Field: a.field, Op: a.op, Any: a.any}
	if (a.op == OpIn || a.op == OpNotIn) && len(vals) > b.lim.MaxInList {
		return grantNothing()
	}
	values := make([]Value, 0, len(vals))
	for _, s := range vals {
		if !literalString(s, b.lim) {
			return grantNothing()
		}
		v, err := checkValue(c, Value{Kind: ValueString, Str: s}, 0)
		if err != nil {
			return grantNothing()
		}
		values = append(values, v)
	}
	if a.op == OpIn || a.op == OpNotIn {
		c.Values = values
	} else {
		c.Value = values[0]
	}
	return c, Depends
}

// literalString reports whether s can be written as a string literal
// within lim.
func literalString(s string, lim Limits) bool {
	return len(s) <= lim.MaxStringLen && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// distinctRoles returns the caller's roles without duplicates, in order.
func (b *binder) distinctRoles() []string {
	if !b.dedup {
		b.dedup = true
		for _, r := range b.c.Roles {
			if !containsString(b.roles, r) {
				b.roles = append(b.roles, r)
			}
		}
	}
	return b.roles
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// test decides "@auth.… op literal".
func (b *binder) test(a *authTest) bool {
	if a.ref == refRoles {
		roles := b.c.Roles
		switch {
		case !a.any && a.op == OpEq: // = null
			return len(roles) == 0
		case !a.any: // != null
			return len(roles) > 0
		}
		for _, r := range roles {
			switch a.op {
			case OpEq:
				if r == a.value.Str {
					return true
				}
			case OpNe:
				if r != a.value.Str {
					return true
				}
			case OpIn:
				for _, v := range a.values {
					if r == v.Str {
						return true
					}
				}
			}
		}
		return false
	}
	s := b.c.ID
	if a.ref == refType {
		s = b.c.Type
	}
	null := s == ""
	op, neg := a.op.Positive()
	var holds bool
	switch op {
	case OpEq:
		if a.value.Kind == ValueNull {
			holds = null
		} else {
			holds = !null && s == a.value.Str
		}
	case OpIn:
		for _, v := range a.values {
			if !null && s == v.Str {
				holds = true
				break
			}
		}
	}
	return holds != neg
}
