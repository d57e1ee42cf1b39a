package query

// This file evaluates checked filters in memory, against one document, with
// the semantics the storage engines give them in SQL (see Compare). Where
// the engines differ — for documents that break their collection's schema
// and for filters the checker never produces — Match reads them as the
// PostgreSQL engine does:
//
//   - A data field is read as a value of one JSON type at a time. For a
//     comparison with a literal, that is the literal's type: a field whose
//     value has another type (or is null, or missing) never compares, so
//     "1" never equals 1 and true never equals 1. For "= null" and
//     "!= null" (and null in an "in" list), that is the field's declared
//     type: a string, number, integer or boolean field is null when its
//     value is not of that type; a field of any other type when it is
//     missing or JSON null.
//   - Numbers compare as the float64 ReadNumber reads, however they are
//     written (10, 10.0, 1e1, 1E+1 and 10.000000000000000001 are all 10,
//     -0 is 0), as every engine compares them (see number.go).
//   - Strings compare by their bytes (UTF-8 order); "~" looks for a
//     substring after folding ASCII letters only. A literal's U+0000 reads
//     as U+FFFD (PostgreSQL text cannot hold U+0000, so the engine stores
//     it that way).
//   - version, createdAt and updatedAt are integers (timestamps as Unix
//     microseconds): they compare with timestamp literals and with integral
//     number literals within the int64 range; id compares with strings.
//     System fields are never null.
//   - Booleans order false before true.

import (
	"bytes"
	"cmp"
	"math"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/basaltdev/basalt/internal/fault"
)

// opMatch is the operation carried by the errors of Match.
const opMatch = "query.Match"

// maxMatchDepth bounds the nesting of And, Or and Not nodes Match follows,
// far above what the checker lets a filter have, so that a hand-built tree
// (even a cyclic one) is an error rather than a stack overflow.
const maxMatchDepth = 1000

// Document is what Match evaluates a filter against: the system fields of
// one document and its data.
type Document struct {
	ID        string
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// Data is the document's data as JSON text: an object, as the storage
	// engines return it (no duplicate keys). Empty data is the empty
	// object. Match reads only the parts of Data the filter needs and does
	// not check the rest.
	Data []byte
}

// Match reports whether the checked filter e holds for document d, exactly
// as a storage engine would decide it in a list filtered by e; a nil e
// holds for every document. Match reads from d.Data only the fields e
// compares, without decoding the rest of it.
//
// Errors are *fault.Error values of kind fault.Invalid: for a filter that no
// engine compiles (a nil node, an unknown node type, operator or value kind,
// a field name that is not [A-Za-z_][A-Za-z0-9_]{0,63}, an unknown system
// field, an empty "in" list, an any-of comparison of a system field, a
// number literal that is not finite), reported whatever the document; and
// for data Match cannot read where it needs to (not valid JSON). Match never
// panics.
func Match(e Expr, d Document) (bool, error) {
	if e == nil {
		return true, nil
	}
	if err := checkMatchExpr(e, 0); err != nil {
		return false, err
	}
	return matchExpr(e, &d)
}

func matchErr(format string, args ...any) error {
	return fault.Newf(fault.Invalid, opMatch, format, args...)
}

// checkMatchTerms checks the terms of an And or Or at depth.
func checkMatchTerms(terms []Expr, depth int) error {
	for _, t := range terms {
		if err := checkMatchExpr(t, depth); err != nil {
			return err
		}
	}
	return nil
}

// checkMatchExpr checks that e is a filter the engines compile.
func checkMatchExpr(e Expr, depth int) error {
	if depth > maxMatchDepth {
		return matchErr("filter is nested more than %d levels deep", maxMatchDepth)
	}
	switch e := e.(type) {
	case *And:
		if e == nil {
			return matchErr("nil expression")
		}
		return checkMatchTerms(e.Terms, depth+1)
	case *Or:
		if e == nil {
			return matchErr("nil expression")
		}
		return checkMatchTerms(e.Terms, depth+1)
	case *Not:
		if e == nil {
			return matchErr("nil expression")
		}
		return checkMatchExpr(e.X, depth+1)
	case *Compare:
		if e == nil {
			return matchErr("nil expression")
		}
		return checkMatchCompare(e)
	}
	return matchErr("unknown expression %T", e)
}

func checkMatchCompare(c *Compare) error {
	switch f := c.Field; {
	case f.System != SystemNone:
		switch f.System {
		case SystemID, SystemVersion, SystemCreatedAt, SystemUpdatedAt:
		default:
			return matchErr("unknown system field %q", f.System)
		}
		if c.Any {
			return matchErr("%s is not an array", f.System)
		}
	case len(f.Path) == 0:
		return matchErr("empty field path")
	default:
		for _, p := range f.Path {
			if !validPathElement(p) {
				return matchErr("invalid field name %q", p)
			}
		}
	}
	switch c.Op {
	case OpIn, OpNotIn:
		if len(c.Values) == 0 {
			return matchErr("empty in list")
		}
		for _, v := range c.Values {
			if err := checkMatchValue(v); err != nil {
				return err
			}
		}
		return nil
	case OpEq, OpNe, OpLt, OpLe, OpGt, OpGe, OpContains, OpNotContains:
		return checkMatchValue(c.Value)
	}
	return matchErr("unknown operator %d", c.Op)
}

func checkMatchValue(v Value) error {
	switch v.Kind {
	case ValueNull, ValueString, ValueBool, ValueTime:
		return nil
	case ValueNumber:
		if math.IsInf(v.Num, 0) || math.IsNaN(v.Num) {
			return matchErr("number literal %v is not finite", v.Num)
		}
		return nil
	}
	return matchErr("unknown value kind %d", v.Kind)
}

// validPathElement reports whether s matches [A-Za-z_][A-Za-z0-9_]{0,63},
// as the engines require of the path elements they write into SQL.
func validPathElement(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// matchExpr evaluates a checked expression (see checkMatchExpr).
func matchExpr(e Expr, d *Document) (bool, error) {
	switch e := e.(type) {
	case *And:
		for _, t := range e.Terms {
			ok, err := matchExpr(t, d)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case *Or:
		for _, t := range e.Terms {
			ok, err := matchExpr(t, d)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case *Not:
		ok, err := matchExpr(e.X, d)
		return !ok && err == nil, err
	case *Compare:
		return matchCompare(e, d)
	}
	return false, matchErr("unknown expression %T", e)
}

// matchCompare evaluates a comparison: its positive form, negated for !=,
// !~ and not in, which is exact because the positive form is false (never
// unknown) for null fields.
func matchCompare(c *Compare, d *Document) (bool, error) {
	op, neg := c.Op.Positive()
	if c.Field.System != SystemNone {
		return matchSystem(c, op, d) != neg, nil
	}
	v, err := lookup(d.Data, c.Field.Path)
	if err != nil {
		return false, err
	}
	if !c.Any {
		ok, err := matchLeaf(v, c.Field.Type, op, c)
		return ok != neg && err == nil, err
	}
	// Any-of: the comparison (negated or not) holds for some element of an
	// array; a value that is not an array has no elements.
	if v.kind != jsonArray {
		return false, nil
	}
	t := v.text
	i := skipSpace(t, 1)
	if i < len(t) && t[i] == ']' {
		return false, nil
	}
	for {
		end, kind, err := valueEnd(t, i)
		if err != nil {
			return false, err
		}
		ok, err := matchLeaf(jsonValue{kind: kind, text: t[i:end]}, c.Field.Items, op, c)
		if err != nil {
			return false, err
		}
		if ok != neg {
			return true, nil
		}
		i = skipSpace(t, end)
		switch {
		case i < len(t) && t[i] == ',':
			i = skipSpace(t, i+1)
		case i < len(t) && t[i] == ']':
			return false, nil
		default:
			return false, errInvalidJSON
		}
	}
}

// matchLeaf evaluates the positive operator op (OpEq, OpLt, OpLe, OpGt,
// OpGe, OpContains or OpIn) of c for the data value v, whose declared type
// is typ.
func matchLeaf(v jsonValue, typ Type, op Op, c *Compare) (bool, error) {
	switch op {
	case OpIn:
		for _, lit := range c.Values {
			if lit.Kind == ValueNull {
				if v.isNull(typ) {
					return true, nil
				}
				continue
			}
			r, ok, err := compareJSON(v, lit)
			if err != nil {
				return false, err
			}
			if ok && r == 0 {
				return true, nil
			}
		}
		return false, nil
	case OpContains:
		if c.Value.Kind != ValueString || v.kind != jsonString {
			return false, nil
		}
		s, err := v.str()
		if err != nil {
			return false, err
		}
		return containsFold(s, nulFree(c.Value.Str)), nil
	case OpEq:
		if c.Value.Kind == ValueNull {
			return v.isNull(typ), nil
		}
	}
	r, ok, err := compareJSON(v, c.Value)
	if err != nil || !ok {
		return false, err
	}
	return holds(op, r), nil
}

// holds reports whether the ordering operator op (or OpEq) holds for a
// three-way comparison result r.
func holds(op Op, r int) bool {
	switch op {
	case OpEq:
		return r == 0
	case OpLt:
		return r < 0
	case OpLe:
		return r <= 0
	case OpGt:
		return r > 0
	case OpGe:
		return r >= 0
	}
	return false
}

// compareJSON compares the data value v with the non-null literal lit: ok
// is false when v is not of lit's JSON type (a timestamp literal has none),
// and r is then meaningless.
func compareJSON(v jsonValue, lit Value) (r int, ok bool, err error) {
	switch lit.Kind {
	case ValueString:
		if v.kind != jsonString {
			return 0, false, nil
		}
		s, err := v.str()
		if err != nil {
			return 0, false, err
		}
		return compareBytes(s, nulFree(lit.Str)), true, nil
	case ValueNumber:
		if v.kind != jsonNumber {
			return 0, false, nil
		}
		x, ok := ReadNumber(v.text)
		if !ok {
			return 0, false, errInvalidJSON
		}
		return cmp.Compare(x, lit.Num), true, nil // neither is NaN; -0 equals 0
	case ValueBool:
		if v.kind != jsonTrue && v.kind != jsonFalse {
			return 0, false, nil
		}
		return compareBools(v.kind == jsonTrue, lit.Bool), true, nil
	}
	return 0, false, nil
}

// matchSystem evaluates the positive operator op of c for a system field.
func matchSystem(c *Compare, op Op, d *Document) bool {
	if c.Field.System == SystemID {
		switch op {
		case OpContains:
			return c.Value.Kind == ValueString && containsFold([]byte(d.ID), nulFree(c.Value.Str))
		case OpIn:
			for _, lit := range c.Values {
				if lit.Kind == ValueString && d.ID == nulFree(lit.Str) {
					return true
				}
			}
			return false
		}
		if c.Value.Kind != ValueString {
			return false // null, or another type: never compares
		}
		return holds(op, strings.Compare(d.ID, nulFree(c.Value.Str)))
	}
	var n int64
	switch c.Field.System {
	case SystemVersion:
		n = d.Version
	case SystemCreatedAt:
		n = d.CreatedAt.UnixMicro()
	default:
		n = d.UpdatedAt.UnixMicro()
	}
	switch op {
	case OpContains:
		return false
	case OpIn:
		for _, lit := range c.Values {
			if m, ok := integerLiteral(lit); ok && m == n {
				return true
			}
		}
		return false
	}
	m, ok := integerLiteral(c.Value)
	return ok && holds(op, cmp.Compare(n, m))
}

// integerLiteral returns the integer a literal compares as with version,
// createdAt and updatedAt: Unix microseconds for a timestamp, the number
// itself for an integral number within the int64 range.
func integerLiteral(v Value) (int64, bool) {
	switch v.Kind {
	case ValueTime:
		return v.Time.UnixMicro(), true
	case ValueNumber:
		if v.Num == math.Trunc(v.Num) && v.Num >= -(1<<63) && v.Num < 1<<63 {
			return int64(v.Num), true
		}
	}
	return 0, false
}

func compareBools(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// compareBytes compares b with s bytewise, without copying either.
func compareBytes(b []byte, s string) int {
	switch {
	case string(b) == s:
		return 0
	case string(b) < s:
		return -1
	}
	return 1
}

// nulFree returns s with each U+0000 read as U+FFFD, as the PostgreSQL
// engine binds string literals.
func nulFree(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// naiveSearchWork bounds len(s)*len(sub) for the copy-free search of
// containsFold; longer searches fold copies and use bytes.Index, whose time
// is linear in practice.
const naiveSearchWork = 1 << 14

// containsFold reports whether sub occurs in s when ASCII letters are
// folded to lower case (and no other letters are).
func containsFold(s []byte, sub string) bool {
	n := len(sub)
	switch {
	case n == 0:
		return true
	case n > len(s):
		return false
	case len(s)*n > naiveSearchWork:
		return bytes.Contains(lowerASCII(s), lowerASCII([]byte(sub)))
	}
	first := toLowerASCII(sub[0])
	for i := 0; i+n <= len(s); i++ {
		if toLowerASCII(s[i]) == first && hasPrefixFold(s[i:], sub) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s []byte, prefix string) bool {
	for i := 0; i < len(prefix); i++ {
		if toLowerASCII(s[i]) != toLowerASCII(prefix[i]) {
			return false
		}
	}
	return true
}

func toLowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// lowerASCII returns b with ASCII letters in lower case; b itself when it
// has none in upper case.
func lowerASCII(b []byte) []byte {
	i := 0
	for i < len(b) && (b[i] < 'A' || b[i] > 'Z') {
		i++
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, len(b))
	copy(out, b[:i])
	for ; i < len(b); i++ {
		out[i] = toLowerASCII(b[i])
	}
	return out
}

// JSON reading. The functions below find values in JSON text without
// decoding what they skip; they check the syntax only as far as they need
// to find their way, and report errInvalidJSON where it is broken.

var errInvalidJSON = fault.New(fault.Invalid, opMatch, "document data is not valid JSON")

// jsonKind is the JSON type of a value, or jsonMissing for a field a
// document does not have.
type jsonKind uint8

const (
	jsonMissing jsonKind = iota
	jsonNull
	jsonFalse
	jsonTrue
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// jsonValue is a value found in a document's data: its kind and its JSON
// text (strings with their quotes).
type jsonValue struct {
	kind jsonKind
	text []byte
}

// isNull reports whether v is null as a field of type typ: missing or JSON
// null, or, for a string, number, integer or boolean field, of another type.
func (v jsonValue) isNull(typ Type) bool {
	switch typ {
	case TypeString:
		return v.kind != jsonString
	case TypeNumber, TypeInteger:
		return v.kind != jsonNumber
	case TypeBoolean:
		return v.kind != jsonTrue && v.kind != jsonFalse
	}
	return v.kind == jsonMissing || v.kind == jsonNull
}

// str returns the decoded content of a string value; without escapes, it
// shares the document's bytes.
func (v jsonValue) str() ([]byte, error) {
	body := v.text[1 : len(v.text)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return body, nil
	}
	return unescape(body)
}

// lookup finds the value at path in the JSON object data.
func lookup(data []byte, path []string) (jsonValue, error) {
	i := skipSpace(data, 0)
	if i == len(data) {
		return jsonValue{}, nil // empty data: {}
	}
	for depth, key := range path {
		if data[i] != '{' {
			return jsonValue{}, nil // not an object: nothing below it
		}
		i = skipSpace(data, i+1)
		if i < len(data) && data[i] == '}' {
			return jsonValue{}, nil
		}
		for {
			if i >= len(data) || data[i] != '"' {
				return jsonValue{}, errInvalidJSON
			}
			kEnd, err := stringEnd(data, i)
			if err != nil {
				return jsonValue{}, err
			}
			match, err := keyIs(data[i+1:kEnd-1], key)
			if err != nil {
				return jsonValue{}, err
			}
			i = skipSpace(data, kEnd)
			if i >= len(data) || data[i] != ':' {
				return jsonValue{}, errInvalidJSON
			}
			i = skipSpace(data, i+1)
			if i >= len(data) {
				return jsonValue{}, errInvalidJSON
			}
			if match {
				break
			}
			end, _, err := valueEnd(data, i)
			if err != nil {
				return jsonValue{}, err
			}
			i = skipSpace(data, end)
			switch {
			case i < len(data) && data[i] == ',':
				i = skipSpace(data, i+1)
			case i < len(data) && data[i] == '}':
				return jsonValue{}, nil
			default:
				return jsonValue{}, errInvalidJSON
			}
		}
		if depth == len(path)-1 {
			end, kind, err := valueEnd(data, i)
			if err != nil {
				return jsonValue{}, err
			}
			return jsonValue{kind: kind, text: data[i:end]}, nil
		}
	}
	return jsonValue{}, nil // empty path: the checker never gives one
}

// keyIs reports whether the body of a JSON string (without its quotes) is
// key.
func keyIs(body []byte, key string) (bool, error) {
	if bytes.IndexByte(body, '\\') < 0 {
		return string(body) == key, nil
	}
	s, err := unescape(body)
	return string(s) == key, err
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// valueEnd returns the end of the JSON value that starts at data[i], and
// its kind.
func valueEnd(data []byte, i int) (int, jsonKind, error) {
	if i >= len(data) {
		return 0, 0, errInvalidJSON
	}
	literal := func(word string, kind jsonKind) (int, jsonKind, error) {
		if !bytes.HasPrefix(data[i:], []byte(word)) {
			return 0, 0, errInvalidJSON
		}
		return i + len(word), kind, nil
	}
	switch c := data[i]; {
	case c == '"':
		end, err := stringEnd(data, i)
		return end, jsonString, err
	case c == '{' || c == '[':
		end, err := containerEnd(data, i)
		if c == '{' {
			return end, jsonObject, err
		}
		return end, jsonArray, err
	case c == 't':
		return literal("true", jsonTrue)
	case c == 'f':
		return literal("false", jsonFalse)
	case c == 'n':
		return literal("null", jsonNull)
	case c == '-' || c >= '0' && c <= '9':
		j := i + 1
		for j < len(data) && isNumberByte(data[j]) {
			j++
		}
		return j, jsonNumber, nil
	}
	return 0, 0, errInvalidJSON
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// stringEnd returns the end of the JSON string that starts at data[i] (a
// quote): the index after its closing quote.
func stringEnd(data []byte, i int) (int, error) {
	for j := i + 1; j < len(data); {
		k := bytes.IndexByte(data[j:], '"')
		if k < 0 {
			break
		}
		q := j + k
		// The quote ends the string unless an odd number of backslashes
		// escapes it. Each run of backslashes is counted once.
		n := 0
		for p := q - 1; p > i && data[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, nil
		}
		j = q + 1
	}
	return 0, errInvalidJSON
}

// containerEnd returns the end of the object or array that starts at
// data[i], counting brackets outside strings.
func containerEnd(data []byte, i int) (int, error) {
	depth := 0
	for j := i; j < len(data); j++ {
		switch data[j] {
		case '"':
			end, err := stringEnd(data, j)
			if err != nil {
				return 0, err
			}
			j = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, errInvalidJSON
}

// unescape decodes the body of a JSON string that has escapes, as
// encoding/json does: a lone UTF-16 surrogate becomes U+FFFD.
func unescape(body []byte) ([]byte, error) {
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 >= len(body) {
			return nil, errInvalidJSON
		}
		i++
		switch body[i] {
		case '"', '\\', '/':
			out = append(out, body[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(string(body[i+1:min(i+5, len(body))]), 0)
			if !ok {
				return nil, errInvalidJSON
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if i+6 < len(body) && body[i+1] == '\\' && body[i+2] == 'u' {
					r2, ok = hex4(string(body[i+3:i+7]), 0)
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, errInvalidJSON
		}
	}
	return out, nil
}
