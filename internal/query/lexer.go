package query

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// tokKind is the kind of a filter token.
type tokKind uint8

const (
	tEOF    tokKind = iota
	tIdent          // a dotted identifier: field name or keyword (in, not, true, false, null)
	tString         // a quoted string literal, decoded into token.str
	tNumber         // a number literal, in token.num
	tLParen         // (
	tRParen         // )
	tLBrack         // [
	tRBrack         // ]
	tComma          // ,
	tAnd            // &&
	tOr             // ||
	tNot            // !
	tOp             // a comparison operator, in token.op and token.any
	tRef            // a reference such as @auth.id (rules only); token.str is the name after "@"
)

// token is one token of a filter. pos and end are byte offsets into the
// source.
type token struct {
	kind tokKind
	pos  int
	end  int
	str  string // tIdent: the identifier; tString: the decoded value
	num  float64
	op   Op
	any  bool
}

// lexer splits a filter into tokens on demand.
type lexer struct {
	src    string
	pos    int
	maxStr int
	refs   bool // lex "@name" as tRef (access rules); filters reject "@"
}

// next returns the next token. Errors are *fault.Error values.
func (l *lexer) next() (token, error) {
	src := l.src
	for l.pos < len(src) && isSpace(src[l.pos]) {
		l.pos++
	}
	start := l.pos
	if start >= len(src) {
		return token{kind: tEOF, pos: start, end: start}, nil
	}
	c := src[start]
	one := func(k tokKind) (token, error) {
		l.pos++
		return token{kind: k, pos: start, end: l.pos}, nil
	}
	op := func(n int, o Op, anyOf bool) (token, error) {
		l.pos += n
		return token{kind: tOp, pos: start, end: l.pos, op: o, any: anyOf}, nil
	}
	peek := func(i int) byte {
		if start+i < len(src) {
			return src[start+i]
		}
		return 0
	}
	switch c {
	case '(':
		return one(tLParen)
	case ')':
		return one(tRParen)
	case '[':
		return one(tLBrack)
	case ']':
		return one(tRBrack)
	case ',':
		return one(tComma)
	case '&':
		if peek(1) != '&' {
			return token{}, filterErr(start, `"&" is not an operator; use "&&" for and`)
		}
		l.pos += 2
		return token{kind: tAnd, pos: start, end: l.pos}, nil
	case '|':
		if peek(1) != '|' {
			return token{}, filterErr(start, `"|" is not an operator; use "||" for or`)
		}
		l.pos += 2
		return token{kind: tOr, pos: start, end: l.pos}, nil
	case '!':
		switch peek(1) {
		case '=':
			return op(2, OpNe, false)
		case '~':
			return op(2, OpNotContains, false)
		}
		return one(tNot)
	case '=':
		if peek(1) == '=' {
			return token{}, filterErr(start, `"==" is not an operator; use "=" for equality`)
		}
		return op(1, OpEq, false)
	case '<':
		switch peek(1) {
		case '=':
			return op(2, OpLe, false)
		case '>':
			return token{}, filterErr(start, `"<>" is not an operator; use "!=" for inequality`)
		}
		return op(1, OpLt, false)
	case '>':
		if peek(1) == '=' {
			return op(2, OpGe, false)
		}
		return op(1, OpGt, false)
	case '~':
		return op(1, OpContains, false)
	case '?':
		return l.anyOp(start)
	case '"', '\'':
		return l.lexString(start, c)
	case '@':
		if l.refs {
			return l.lexRef(start)
		}
		return token{}, filterErr(start, `references such as "@auth.id" are not supported in filters`)
	}
	switch {
	case c == '-' || ('0' <= c && c <= '9'):
		return l.lexNumber(start)
	case identStart(c):
		return l.lexIdent(start)
	case c >= utf8.RuneSelf:
		r, size := utf8.DecodeRuneInString(src[start:])
		if r == utf8.RuneError && size == 1 {
			return token{}, filterErr(start, "invalid UTF-8")
		}
		return token{}, filterErr(start, "unexpected character %q", r)
	}
	return token{}, filterErr(start, "unexpected character %q", rune(c))
}

// anyOp lexes an any-of operator: "?" followed by a comparison operator or
// by "in".
func (l *lexer) anyOp(start int) (token, error) {
	rest := l.src[start+1:]
	o, n := Op(0), 0
	switch {
	case len(rest) >= 2 && rest[:2] == "!=":
		o, n = OpNe, 2
	case len(rest) >= 2 && rest[:2] == "!~":
		o, n = OpNotContains, 2
	case len(rest) >= 2 && rest[:2] == "<=":
		o, n = OpLe, 2
	case len(rest) >= 2 && rest[:2] == ">=":
		o, n = OpGe, 2
	case len(rest) >= 2 && rest[:2] == "in" && (len(rest) == 2 || !identChar(rest[2])):
		o, n = OpIn, 2
	case len(rest) >= 1 && rest[0] == '=' && (len(rest) == 1 || rest[1] != '='):
		o, n = OpEq, 1
	case len(rest) >= 1 && rest[0] == '<' && (len(rest) == 1 || rest[1] != '>'):
		o, n = OpLt, 1
	case len(rest) >= 1 && rest[0] == '>':
		o, n = OpGt, 1
	case len(rest) >= 1 && rest[0] == '~':
		o, n = OpContains, 1
	default:
		return token{}, filterErr(start, `"?" must be followed by an operator: ?= ?!= ?< ?<= ?> ?>= ?~ ?!~ or ?in`)
	}
	l.pos = start + 1 + n
	return token{kind: tOp, pos: start, end: l.pos, op: o, any: true}, nil
}

// lexIdent lexes a dotted identifier.
func (l *lexer) lexIdent(start int) (token, error) {
	src, i := l.src, start
	for {
		i++ // the segment's first character was checked by the caller
		for i < len(src) && identChar(src[i]) {
			i++
		}
		if i >= len(src) || src[i] != '.' {
			break
		}
		i++
		if i >= len(src) || !identStart(src[i]) {
			return token{}, filterErr(start, "invalid field name %s: a dot must be followed by a name", quoteName(src[start:i]))
		}
	}
	l.pos = i
	return token{kind: tIdent, pos: start, end: i, str: src[start:i]}, nil
}

// lexNumber lexes a JSON number with an optional leading minus sign.
func (l *lexer) lexNumber(start int) (token, error) {
	src, i := l.src, start
	digits := func() int {
		n := 0
		for i < len(src) && '0' <= src[i] && src[i] <= '9' {
			i++
			n++
		}
		return n
	}
	bad := func() (token, error) {
		for i < len(src) && (identChar(src[i]) || src[i] == '.' || src[i] == '-' || src[i] == '+') {
			i++
		}
		return token{}, filterErr(start, "invalid number %s", quoteName(src[start:i]))
	}
	if src[i] == '-' {
		i++
	}
	switch {
	case i < len(src) && src[i] == '0':
		i++
	case digits() == 0:
		return bad()
	}
	if i < len(src) && src[i] == '.' {
		i++
		if digits() == 0 {
			return bad()
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if digits() == 0 {
			return bad()
		}
	}
	if i < len(src) && (identChar(src[i]) || src[i] == '.') {
		return bad()
	}
	f, err := strconv.ParseFloat(src[start:i], 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return token{}, filterErr(start, "number %s is out of range", quoteName(src[start:i]))
	}
	if f == 0 {
		f = 0 // no negative zero
	}
	l.pos = i
	return token{kind: tNumber, pos: start, end: i, num: f}, nil
}

// lexString lexes a string literal quoted with q (" or ').
func (l *lexer) lexString(start int, q byte) (token, error) {
	src := l.src
	i := start + 1
	seg := i
	var buf []byte // nil until the first escape
	for {
		if i >= len(src) {
			return token{}, filterErr(start, "unterminated string literal")
		}
		c := src[i]
		switch {
		case c == q:
			var s string
			if buf == nil {
				s = src[seg:i]
			} else {
				s = string(append(buf, src[seg:i]...))
			}
			if len(s) > l.maxStr {
				return token{}, filterErr(start, "string literal is longer than %d bytes", l.maxStr)
			}
			l.pos = i + 1
			return token{kind: tString, pos: start, end: l.pos, str: s}, nil
		case c == '\\':
			if buf == nil {
				buf = make([]byte, 0, i-seg+16)
			}
			buf = append(buf, src[seg:i]...)
			var err error
			buf, i, err = l.escape(buf, i)
			if err != nil {
				return token{}, err
			}
			seg = i
		case c == 0:
			return token{}, filterErr(i, "NUL character in string literal")
		case c < 0x20:
			return token{}, filterErr(i, `control character in string literal; use an escape such as \n`)
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(src[i:])
			if r == utf8.RuneError && size == 1 {
				return token{}, filterErr(i, "invalid UTF-8 in string literal")
			}
			i += size
		}
	}
}

// escape decodes the escape sequence at src[i] (a backslash), appends it to
// buf and returns the offset after it.
func (l *lexer) escape(buf []byte, i int) ([]byte, int, error) {
	src := l.src
	if i+1 >= len(src) {
		return nil, 0, filterErr(i, "unterminated string literal")
	}
	switch src[i+1] {
	case '"', '\'', '\\':
		return append(buf, src[i+1]), i + 2, nil
	case 'n':
		return append(buf, '\n'), i + 2, nil
	case 't':
		return append(buf, '\t'), i + 2, nil
	case 'u':
		r, ok := hex4(src, i+2)
		if !ok {
			return nil, 0, filterErr(i, `invalid \u escape: want four hex digits`)
		}
		n := i + 6
		switch {
		case r == 0:
			return nil, 0, filterErr(i, `NUL character (\u0000) in string literal`)
		case 0xDC00 <= r && r <= 0xDFFF:
			return nil, 0, filterErr(i, `lone surrogate \u%04X in string literal`, r)
		case 0xD800 <= r && r <= 0xDBFF:
			lo, ok := rune(0), false
			if n+1 < len(src) && src[n] == '\\' && src[n+1] == 'u' {
				lo, ok = hex4(src, n+2)
			}
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return nil, 0, filterErr(i, `lone surrogate \u%04X in string literal`, r)
			}
			r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
			n += 6
		}
		return utf8.AppendRune(buf, r), n, nil
	}
	return nil, 0, filterErr(i, `invalid escape; use \" \' \\ \n \t or \uXXXX`)
}

// hex4 decodes four hex digits at src[i:].
func hex4(src string, i int) (rune, bool) {
	if i+4 > len(src) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(src[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
