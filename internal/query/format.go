package query

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Precedence levels, lowest first.
const (
	precOr = iota
	precAnd
	precUnary
)

// Format renders e in the filter language, with the fewest parentheses that
// keep its structure, so its nesting depth never exceeds that of the source
// ("!(a = 1)" is written "!a = 1"). For any e returned by ParseFilter,
// ParseFilter(Format(e)) returns the same AST under the same Limits.
// Format(nil) is "".
//
// Format is meant for logs, tests and cache keys: strings are always
// double-quoted with escapes for quotes, backslashes and control characters,
// numbers use the shortest representation that round-trips, and timestamps
// are written in RFC 3339 in UTC.
func Format(e Expr) string {
	var b strings.Builder
	formatExpr(&b, e, precOr)
	return b.String()
}

func formatExpr(b *strings.Builder, e Expr, prec int) {
	switch e := e.(type) {
	case *Or:
		formatTerms(b, e.Terms, " || ", precOr, precAnd, prec)
	case *And:
		formatTerms(b, e.Terms, " && ", precAnd, precUnary, prec)
	case *Not:
		b.WriteByte('!')
		formatExpr(b, e.X, precUnary)
	case *Compare:
		formatCompare(b, e)
	case *authField:
		formatAuthField(b, e)
	case *authTest:
		formatAuthTest(b, e)
	}
}

// formatTerms writes terms joined by sep; self is the precedence of the
// node, sub the precedence its terms are written at, and outer the
// precedence of the context.
func formatTerms(b *strings.Builder, terms []Expr, sep string, self, sub, outer int) {
	paren := outer > self
	if paren {
		b.WriteByte('(')
	}
	for i, t := range terms {
		if i > 0 {
			b.WriteString(sep)
		}
		formatExpr(b, t, sub)
	}
	if paren {
		b.WriteByte(')')
	}
}

func formatCompare(b *strings.Builder, c *Compare) {
	if c == nil {
		return
	}
	b.WriteString(c.Field.Name())
	b.WriteByte(' ')
	b.WriteString(opText(c.Op, c.Any))
	b.WriteByte(' ')
	if c.Op != OpIn && c.Op != OpNotIn {
		formatValue(b, c.Value)
		return
	}
	b.WriteByte('[')
	for i, v := range c.Values {
		if i > 0 {
			b.WriteString(", ")
		}
		formatValue(b, v)
	}
	b.WriteByte(']')
}

func formatValue(b *strings.Builder, v Value) {
	switch v.Kind {
	case ValueNull:
		b.WriteString("null")
	case ValueString:
		quoteString(b, v.Str)
	case ValueNumber:
		b.WriteString(strconv.FormatFloat(v.Num, 'g', -1, 64))
	case ValueBool:
		b.WriteString(strconv.FormatBool(v.Bool))
	case ValueTime:
		quoteString(b, v.Time.UTC().Format(time.RFC3339Nano))
	}
}

// Quote returns s as a double-quoted string literal of the language, as
// Format writes one.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	quoteString(&b, s)
	return b.String()
}

// quoteString writes s as a double-quoted string literal of the language.
// Invalid UTF-8 is written as U+FFFD.
func quoteString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xF])
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// FormatSort renders keys in the sort language ("-score,title,id").
// ParseSort(FormatSort(k)) returns k for any k returned by ParseSort.
func FormatSort(keys []SortKey) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		if k.Desc {
			b.WriteByte('-')
		}
		b.WriteString(k.Field.Name())
	}
	return b.String()
}
