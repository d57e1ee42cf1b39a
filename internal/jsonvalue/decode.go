package jsonvalue

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/basaltdev/basalt/internal/fault"
)

// decoder is a single-pass recursive-descent JSON parser over a byte slice.
type decoder struct {
	b     []byte
	i     int // offset of the next unread byte
	lim   Limits
	count int    // values decoded so far
	path  []seg  // location of the value being decoded
	buf   []byte // scratch for strings with escapes or non-ASCII bytes
}

func (d *decoder) skipSpace() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value decodes the value starting at the next non-space byte. depth is the
// number of containers enclosing it.
func (d *decoder) value(depth int) (any, error) {
	d.count++
	if d.count > d.lim.MaxMembers {
		return nil, d.fail("too many values (at most %d are allowed)", d.lim.MaxMembers)
	}
	d.skipSpace()
	if d.i >= len(d.b) {
		return nil, d.syntaxErr("unexpected end of input")
	}
	switch c := d.b[d.i]; {
	case c == '{' || c == '[':
		if depth >= d.lim.MaxDepth {
			return nil, d.fail("nesting is deeper than %d levels", d.lim.MaxDepth)
		}
		if c == '{' {
			return d.object(depth + 1)
		}
		return d.array(depth + 1)
	case c == '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return s, nil
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	default:
		return nil, d.syntaxErr("unexpected character " + strconv.QuoteRune(rune(c)))
	}
}

func (d *decoder) literal(lit string) error {
	if len(d.b)-d.i < len(lit) || string(d.b[d.i:d.i+len(lit)]) != lit {
		return d.syntaxErr("invalid literal")
	}
	d.i += len(lit)
	return nil
}

func (d *decoder) object(depth int) (any, error) {
	d.i++ // '{'
	m := make(map[string]any)
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, d.syntaxErr("expected a string as object key")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.path = append(d.path, seg{key: k, idx: -1})
		if _, dup := m[k]; dup {
			return nil, d.fail("duplicate object key %s", strconv.Quote(k))
		}
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, d.syntaxErr("expected ':' after object key")
		}
		d.i++
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		d.path = d.path[:len(d.path)-1]
		m[k] = v
		d.skipSpace()
		if d.i >= len(d.b) {
			return nil, d.syntaxErr("unexpected end of input in object")
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return m, nil
		default:
			return nil, d.syntaxErr("expected ',' or '}' in object")
		}
	}
}

func (d *decoder) array(depth int) (any, error) {
	d.i++ // '['
	a := []any{}
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		d.path = append(d.path, seg{idx: len(a)})
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		d.path = d.path[:len(d.path)-1]
		a = append(a, v)
		d.skipSpace()
		if d.i >= len(d.b) {
			return nil, d.syntaxErr("unexpected end of input in array")
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return a, nil
		default:
			return nil, d.syntaxErr("expected ',' or ']' in array")
		}
	}
}

// str decodes the string starting at the opening quote at d.i.
func (d *decoder) str() (string, error) {
	start := d.i + 1
	// Fast path: printable ASCII without escapes is copied as is.
	for i := start; i < len(d.b); i++ {
		c := d.b[i]
		if c == '"' {
			if i-start > d.lim.MaxString {
				return "", d.tooLong()
			}
			d.i = i + 1
			return string(d.b[start:i]), nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return d.strSlow(start, i)
		}
	}
	d.i = len(d.b)
	return "", d.syntaxErr("unexpected end of input in string")
}

func (d *decoder) tooLong() *fault.Error {
	return d.fail("string is longer than %d bytes", d.lim.MaxString)
}

// strSlow finishes decoding a string whose bytes b[start:i] are plain ASCII
// and whose byte at i needs attention.
func (d *decoder) strSlow(start, i int) (string, error) {
	buf := append(d.buf[:0], d.b[start:i]...)
	defer func() { d.buf = buf }()
	for {
		if len(buf) > d.lim.MaxString {
			return "", d.tooLong()
		}
		if i >= len(d.b) {
			d.i = i
			return "", d.syntaxErr("unexpected end of input in string")
		}
		c := d.b[i]
		switch {
		case c == '"':
			d.i = i + 1
			return string(buf), nil
		case c == '\\':
			d.i = i
			r, n, err := d.escape(i)
			if err != nil {
				return "", err
			}
			buf = utf8.AppendRune(buf, r)
			i += n
		case c < 0x20:
			d.i = i
			if c == 0 {
				return "", d.syntaxErr("NUL character in string")
			}
			return "", d.syntaxErr("control character in string must be escaped")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			r, n := utf8.DecodeRune(d.b[i:])
			if r == utf8.RuneError && n <= 1 {
				d.i = i
				return "", d.syntaxErr("invalid UTF-8")
			}
			buf = append(buf, d.b[i:i+n]...)
			i += n
		}
	}
}

// escape decodes the escape sequence at b[i] (a backslash) and returns the
// rune and the number of bytes it took.
func (d *decoder) escape(i int) (rune, int, error) {
	if i+1 >= len(d.b) {
		return 0, 0, d.syntaxErr("unexpected end of input in string")
	}
	switch d.b[i+1] {
	case '"':
		return '"', 2, nil
	case '\\':
		return '\\', 2, nil
	case '/':
		return '/', 2, nil
	case 'b':
		return '\b', 2, nil
	case 'f':
		return '\f', 2, nil
	case 'n':
		return '\n', 2, nil
	case 'r':
		return '\r', 2, nil
	case 't':
		return '\t', 2, nil
	case 'u':
	default:
		return 0, 0, d.syntaxErr("invalid escape sequence in string")
	}
	r, ok := hex4(d.b[i+2:])
	if !ok {
		return 0, 0, d.syntaxErr("invalid \\u escape in string")
	}
	switch {
	case r == 0:
		return 0, 0, d.syntaxErr("NUL character (\\u0000) in string")
	case r >= 0xDC00 && r <= 0xDFFF:
		return 0, 0, d.syntaxErr("lone surrogate in string")
	case r >= 0xD800 && r <= 0xDBFF:
		rest := d.b[i+6:]
		if len(rest) < 6 || rest[0] != '\\' || rest[1] != 'u' {
			return 0, 0, d.syntaxErr("lone surrogate in string")
		}
		lo, ok := hex4(rest[2:])
		if !ok || lo < 0xDC00 || lo > 0xDFFF {
			return 0, 0, d.syntaxErr("lone surrogate in string")
		}
		return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), 12, nil
	}
	return r, 6, nil
}

// hex4 reads four hexadecimal digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// maxSafeDigits is the most digits an integer can have and certainly be at
// most 2^53 (9007199254740992 has 16 digits).
const maxSafeDigits = 15

// MaxFractionDigits is the most digits a number may have after the decimal
// point once its exponent is applied (1e-5 has 5, 1.25e-3 has 5): what
// PostgreSQL's numeric stores, so that both engines store every number
// this package accepts.
const MaxFractionDigits = 16383

// number decodes a number, keeping its text as a json.Number.
func (d *decoder) number() (any, error) {
	start := d.i
	i := start
	if d.b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(d.b) && d.b[i] >= '0' && d.b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	intStart := i
	switch {
	case i < len(d.b) && d.b[i] == '0':
		i++
	case digits() == 0:
		d.i = i
		return nil, d.syntaxErr("invalid number")
	}
	intDigits := i - intStart
	isInt := true
	fracDigits := 0
	if i < len(d.b) && d.b[i] == '.' {
		i++
		isInt = false
		if fracDigits = digits(); fracDigits == 0 {
			d.i = i
			return nil, d.syntaxErr("invalid number: digits expected after '.'")
		}
	}
	scale := fracDigits // digits after the point once the exponent is applied
	if i < len(d.b) && (d.b[i] == 'e' || d.b[i] == 'E') {
		i++
		isInt = false
		negative := i < len(d.b) && d.b[i] == '-'
		if i < len(d.b) && (d.b[i] == '+' || d.b[i] == '-') {
			i++
		}
		expStart := i
		if digits() == 0 {
			d.i = i
			return nil, d.syntaxErr("invalid number: digits expected in exponent")
		}
		// An exponent beyond what can matter saturates (a positive one is
		// refused below as beyond float64 range anyway).
		exp, err := strconv.Atoi(string(d.b[expStart:i]))
		if err != nil || exp > 1<<20 {
			exp = 1 << 20
		}
		if negative {
			scale += exp
		} else {
			scale -= exp
		}
	}
	d.i = i
	s := string(d.b[start:i])
	if scale > MaxFractionDigits {
		d.i = start
		return nil, d.fail("number %s has more than %d digits after the decimal point", truncate(s), MaxFractionDigits)
	}
	if isInt {
		if intDigits > maxSafeDigits {
			u, err := strconv.ParseUint(string(d.b[intStart:i]), 10, 64)
			if err != nil || u > MaxSafeInteger {
				d.i = start
				return nil, d.fail("integer %s is outside ±2^53 (I-JSON, RFC 7493)", truncate(s))
			}
		}
		return json.Number(s), nil
	}
	// ParseFloat reports ErrRange both for overflow (±Inf, rejected) and for
	// numbers that round to zero (accepted: they are within float64 range).
	if f, err := strconv.ParseFloat(s, 64); math.IsInf(f, 0) || (err != nil && !errors.Is(err, strconv.ErrRange)) {
		d.i = start
		return nil, d.fail("number %s is outside the range of a 64-bit float (I-JSON, RFC 7493)", truncate(s))
	}
	return json.Number(s), nil
}

// truncate shortens a number's text for an error message.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:29] + "..."
	}
	return s
}
