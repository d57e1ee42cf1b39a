// Package jsonvalue decodes untrusted JSON request bodies into generic Go
// values, strictly and within bounds.
//
// Decode accepts exactly the I-JSON profile of JSON (RFC 7493) that Basalt
// stores: valid UTF-8 only, no duplicate object keys, no lone surrogates,
// no NUL characters in strings or keys, numbers that fit a float64 and
// integers whose magnitude is at most 2^53 (so every client language reads
// them exactly). It also bounds the nesting depth, the length of every
// string and the total number of values, so a hostile body cannot make the
// server allocate or recurse without limit.
//
// Decoded values are map[string]any for objects, []any for arrays,
// json.Number for numbers (as written), string, bool and nil. Every
// rejection is a *fault.Error of kind fault.Invalid whose Fields name the
// offending location as an RFC 6901 JSON pointer into the document.
package jsonvalue

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/basaltdev/basalt/internal/fault"
)

// op is the operation name carried by every error of this package.
const op = "jsonvalue.Decode"

// Defaults applied by DefaultLimits and to zero fields of a Limits.
const (
	DefaultMaxDepth   = 32
	DefaultMaxString  = 1 << 20 // 1 MiB
	DefaultMaxMembers = 100_000
)

// MaxSafeInteger is the largest integer magnitude Decode accepts for a
// number written without fraction or exponent: 2^53, the I-JSON bound.
const MaxSafeInteger = 1 << 53

// Limits bounds what Decode accepts. A zero field takes its default.
type Limits struct {
	// MaxDepth is the deepest nesting of objects and arrays; a top-level
	// object or array is depth 1.
	MaxDepth int
	// MaxString is the longest string or object key, in bytes of UTF-8
	// after unescaping.
	MaxString int
	// MaxMembers is the most values in the whole document, counting every
	// object, array, string, number, boolean and null.
	MaxMembers int
}

// DefaultLimits returns the limits Basalt applies to request bodies unless
// configured otherwise.
func DefaultLimits() Limits {
	return Limits{MaxDepth: DefaultMaxDepth, MaxString: DefaultMaxString, MaxMembers: DefaultMaxMembers}
}

// withDefaults fills zero (or negative) fields with their defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxString <= 0 {
		l.MaxString = DefaultMaxString
	}
	if l.MaxMembers <= 0 {
		l.MaxMembers = DefaultMaxMembers
	}
	return l
}

// Decode parses b as one JSON value under lim and returns it as a generic
// value (see the package documentation). Anything else than one value
// surrounded by optional whitespace is rejected, as is every input outside
// I-JSON (RFC 7493) or beyond lim.
func Decode(b []byte, lim Limits) (any, error) {
	d := decoder{b: b, lim: lim.withDefaults()}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.i < len(d.b) {
		d.path = d.path[:0]
		return nil, d.syntaxErr("unexpected data after the JSON value")
	}
	return v, nil
}

// DecodeObject is Decode for documents that must be a JSON object.
func DecodeObject(b []byte, lim Limits) (map[string]any, error) {
	v, err := Decode(b, lim)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, newError("", "must be a JSON object", "the JSON value must be an object")
	}
	return m, nil
}

// newError builds the *fault.Error every rejection is.
func newError(pointer, fieldMsg, msg string) *fault.Error {
	return &fault.Error{
		Kind:   fault.Invalid,
		Op:     op,
		Msg:    msg,
		Fields: []fault.FieldError{{Pointer: pointer, Message: fieldMsg}},
	}
}

// seg is one step of the path from the root to the value being decoded: an
// object key, or an array index when idx >= 0.
type seg struct {
	key string
	idx int
}

// pointer renders path as an RFC 6901 JSON pointer.
func pointer(path []seg) string {
	if len(path) == 0 {
		return ""
	}
	var b strings.Builder
	for _, s := range path {
		b.WriteByte('/')
		if s.idx >= 0 {
			b.WriteString(strconv.Itoa(s.idx))
			continue
		}
		b.WriteString(EscapePointerToken(s.key))
	}
	return b.String()
}

// EscapePointerToken escapes one reference token of a JSON pointer
// (RFC 6901): "~" becomes "~0" and "/" becomes "~1".
func EscapePointerToken(tok string) string {
	if !strings.ContainsAny(tok, "~/") {
		return tok
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}

// fail reports a problem with the value at the current path.
func (d *decoder) fail(format string, args ...any) *fault.Error {
	m := fmt.Sprintf(format, args...)
	p := pointer(d.path)
	msg := "invalid JSON: " + m
	if p != "" {
		msg = fmt.Sprintf("invalid JSON at %s: %s", p, m)
	}
	return newError(p, m, msg)
}

// syntaxErr reports malformed JSON at the current byte offset.
func (d *decoder) syntaxErr(what string) *fault.Error {
	return d.fail("%s (byte offset %d)", what, d.i)
}
