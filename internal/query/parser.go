package query

// ParseFilter parses a filter and checks it against s. An empty or
// whitespace-only src means "no filter" and returns (nil, nil). A nil s knows
// the system fields only. Errors are *fault.Error values of kind
// fault.Invalid whose message names the problem and its byte offset (0-based)
// in src; ParseFilter never panics.
//
// The grammar, with "!" binding tighter than "&&", and "&&" tighter than
// "||":
//
//	filter     = or
//	or         = and { "||" and }
//	and        = unary { "&&" unary }
//	unary      = "!" unary | "(" or ")" | comparison
//	comparison = field op literal
//	           | field ( "in" | "not" "in" | "?in" ) "[" literal { "," literal } "]"
//	op         = "=" | "!=" | "<" | "<=" | ">" | ">=" | "~" | "!~"
//	           | "?=" | "?!=" | "?<" | "?<=" | "?>" | "?>=" | "?~" | "?!~"
//	field      = name { "." name }          name = [A-Za-z_][A-Za-z0-9_]*
//	literal    = string | number | "true" | "false" | "null"
//	string     = '"' chars '"' | "'" chars "'"  escapes: \" \' \\ \n \t \uXXXX
//	number     = [ "-" ] int [ "." digits ] [ ( "e" | "E" ) [ "+" | "-" ] digits ]
//
// Whitespace (space, tab, CR, LF) may separate tokens. Keywords are
// contextual: a field may be called "in", "not" or "null". Nested "&&" and
// "||" are flattened into one *And or *Or node; parentheses leave no node.
//
// Checks: the field must exist in s; the literal must have the field's type
// (strings for string fields and, as RFC 3339 timestamps, for createdAt and
// updatedAt; numbers for number fields, integral ones within ±2^53 for
// integer fields and version; true/false for boolean fields); "null" is
// allowed only with "=" and "!="; "<", "<=", ">", ">=" need a string, number,
// integer or timestamp field; "~" and "!~" (ASCII case-insensitive substring)
// need a string field; fields of several types accept "=", "!=", "in" and
// "not in" with any literal; array and object fields accept only null checks,
// and the "?" forms (any element of an array matches) need an array field
// whose elements are scalars. References such as @auth.id are rejected.
func ParseFilter(src string, s *Schema, lim Limits) (Expr, error) {
	lim = lim.withDefaults()
	if len(src) > lim.MaxLength {
		return nil, filterErr(lim.MaxLength, "filter is longer than %d bytes", lim.MaxLength)
	}
	p := parser{lx: lexer{src: src, maxStr: lim.MaxStringLen}, s: s, lim: lim}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return nil, nil
	}
	e, err := p.parseOr(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		if p.tok.kind == tRParen {
			return nil, filterErr(p.tok.pos, `unbalanced ")"`)
		}
		return nil, p.unexpected("&&, || or the end of the filter")
	}
	return e, nil
}

// parser is a recursive-descent parser with one token of lookahead.
type parser struct {
	lx    lexer
	tok   token
	s     *Schema
	lim   Limits
	terms int
	rule  bool // parsing an access rule (ParseRule): auth references are allowed
}

// what names the language being parsed, for error messages.
func (p *parser) what() string {
	if p.rule {
		return "rule"
	}
	return "filter"
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// unexpected reports the current token where want was expected.
func (p *parser) unexpected(want string) error {
	t := p.tok
	switch t.kind {
	case tEOF:
		return filterErr(t.pos, "unexpected end of %s, expected %s", p.what(), want)
	case tIdent:
		switch t.str {
		case "and", "AND", "And":
			return filterErr(t.pos, `unexpected %q; use "&&" for and`, t.str)
		case "or", "OR", "Or":
			return filterErr(t.pos, `unexpected %q; use "||" for or`, t.str)
		}
		return filterErr(t.pos, "unexpected %s, expected %s", quoteName(t.str), want)
	}
	return filterErr(t.pos, "unexpected %s, expected %s", quoteName(p.lx.src[t.pos:t.end]), want)
}

func (p *parser) parseOr(depth int) (Expr, error) {
	first, err := p.parseAnd(depth)
	if err != nil || p.tok.kind != tOr {
		return first, err
	}
	terms := flatten(make([]Expr, 0, 4), first, true)
	for p.tok.kind == tOr {
		if err := p.advance(); err != nil {
			return nil, err
		}
		t, err := p.parseAnd(depth)
		if err != nil {
			return nil, err
		}
		terms = flatten(terms, t, true)
	}
	return &Or{Terms: terms}, nil
}

func (p *parser) parseAnd(depth int) (Expr, error) {
	first, err := p.parseUnary(depth)
	if err != nil || p.tok.kind != tAnd {
		return first, err
	}
	terms := flatten(make([]Expr, 0, 4), first, false)
	for p.tok.kind == tAnd {
		if err := p.advance(); err != nil {
			return nil, err
		}
		t, err := p.parseUnary(depth)
		if err != nil {
			return nil, err
		}
		terms = flatten(terms, t, false)
	}
	return &And{Terms: terms}, nil
}

// flatten appends e to terms, splicing in the terms of e when it is an *Or
// (or, false: an *And) itself.
func flatten(terms []Expr, e Expr, or bool) []Expr {
	if or {
		if o, ok := e.(*Or); ok {
			return append(terms, o.Terms...)
		}
	} else if a, ok := e.(*And); ok {
		return append(terms, a.Terms...)
	}
	return append(terms, e)
}

func (p *parser) parseUnary(depth int) (Expr, error) {
	switch p.tok.kind {
	case tNot:
		if depth >= p.lim.MaxDepth {
			return nil, filterErr(p.tok.pos, "nesting of ( and ! is deeper than %d", p.lim.MaxDepth)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.parseUnary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	case tLParen:
		if depth >= p.lim.MaxDepth {
			return nil, filterErr(p.tok.pos, "nesting of ( and ! is deeper than %d", p.lim.MaxDepth)
		}
		open := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.parseOr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			if p.tok.kind == tEOF {
				return nil, filterErr(open, `unclosed "("`)
			}
			return nil, p.unexpected(`&&, || or ")"`)
		}
		return e, p.advance()
	case tIdent:
		return p.parseCompare()
	case tRef:
		return p.parseAuthTest()
	}
	return nil, p.unexpected("a field name, ( or !")
}

// parseCompare parses and checks one comparison; the current token is its
// field name.
func (p *parser) parseCompare() (Expr, error) {
	ft := p.tok
	if err := p.countTerm(ft.pos); err != nil {
		return nil, err
	}
	f, ok := p.s.Lookup(ft.str)
	if !ok {
		switch ft.str {
		case "not", "NOT", "Not":
			return nil, filterErr(ft.pos, `unexpected %q; use "!" for not`, ft.str)
		}
		return nil, filterErr(ft.pos, "unknown field %s", quoteName(ft.str))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	c := &Compare{Field: f}
	opPos := p.tok.pos
	switch {
	case p.tok.kind == tOp:
		c.Op, c.Any = p.tok.op, p.tok.any
	case p.tok.kind == tIdent && p.tok.str == "in":
		c.Op = OpIn
	case p.tok.kind == tIdent && p.tok.str == "not":
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tIdent || p.tok.str != "in" {
			return nil, p.unexpected(`"in" after "not"`)
		}
		c.Op = OpNotIn
	default:
		return nil, p.unexpected("an operator after field " + quoteName(ft.str))
	}
	if err := p.checkOp(c, opPos); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tRef {
		return p.parseAuthOperand(c, opPos)
	}
	if c.Op != OpIn && c.Op != OpNotIn {
		v, err := p.literal(c)
		if err != nil {
			return nil, err
		}
		c.Value = v
		return c, nil
	}
	vs, err := p.list(func() (Value, error) { return p.literal(c) })
	if err != nil {
		return nil, err
	}
	c.Values = vs
	return c, nil
}

// countTerm counts one more comparison, starting at pos, against the limit.
func (p *parser) countTerm(pos int) error {
	p.terms++
	if p.terms > p.lim.MaxTerms {
		return filterErr(pos, "%s has more than %d comparisons", p.what(), p.lim.MaxTerms)
	}
	return nil
}

// list parses a bracketed, non-empty list of literals, each parsed, checked
// and advanced past by literal; the current token must be its "[".
func (p *parser) list(literal func() (Value, error)) ([]Value, error) {
	if p.tok.kind != tLBrack {
		return nil, p.unexpected(`"[" to start the list`)
	}
	var vs []Value
	for {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if len(vs) == 0 && p.tok.kind == tRBrack {
			return nil, filterErr(p.tok.pos, "empty list; an in list needs at least one value")
		}
		if len(vs) >= p.lim.MaxInList {
			return nil, filterErr(p.tok.pos, "list has more than %d values", p.lim.MaxInList)
		}
		v, err := literal()
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
		switch p.tok.kind {
		case tComma:
			continue
		case tRBrack:
			return vs, p.advance()
		}
		return nil, p.unexpected(`"," or "]"`)
	}
}

// literal parses the literal at the current token, checks it against c and
// advances past it.
func (p *parser) literal(c *Compare) (Value, error) {
	t := p.tok
	v, err := p.literalValue()
	if err != nil {
		return Value{}, err
	}
	v, err = checkValue(c, v, t.pos)
	if err != nil {
		return Value{}, err
	}
	return v, p.advance()
}

// literalValue returns the literal at the current token, unchecked, without
// advancing.
func (p *parser) literalValue() (Value, error) {
	t := p.tok
	switch t.kind {
	case tString:
		return Value{Kind: ValueString, Str: t.str}, nil
	case tNumber:
		return Value{Kind: ValueNumber, Num: t.num}, nil
	case tIdent:
		switch t.str {
		case "true", "false":
			return Value{Kind: ValueBool, Bool: t.str == "true"}, nil
		case "null":
			return Value{Kind: ValueNull}, nil
		}
		return Value{}, filterErr(t.pos, "unexpected %s, expected a literal (strings must be quoted)", quoteName(t.str))
	}
	return Value{}, p.unexpected("a literal (string, number, true, false or null)")
}
