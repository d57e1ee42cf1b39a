package restapi

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/basaltdev/basalt/internal/jsonvalue"
)

// BodyObject is a request body decoded as one JSON object, read member by
// member. Its accessors convert members to Go values and record the first
// error, a BodyError with a pointer to the member; Done returns it, or
// refuses the first member (in name order) no accessor asked for. The
// transports whose requests are a few flat members (the account, webhook
// and events routes) read them with it, so that they refuse bad members
// alike.
type BodyObject struct {
	m    map[string]any
	used []string
	err  error
}

// DecodeBodyObject decodes b strictly as one JSON object (I-JSON, no
// duplicate members) within limits.
func DecodeBodyObject(b []byte, limits jsonvalue.Limits) (*BodyObject, error) {
	m, err := jsonvalue.DecodeObject(b, limits)
	if err != nil {
		return nil, err
	}
	return &BodyObject{m: m}, nil
}

// EmptyBodyObject is the object of a request whose parameters are all
// optional and that came without a body: {}.
func EmptyBodyObject() *BodyObject {
	return &BodyObject{m: map[string]any{}}
}

// Has reports whether the member name is present; unlike the accessors,
// it does not count the member as asked for.
func (o *BodyObject) Has(name string) bool {
	_, ok := o.m[name]
	return ok
}

// take returns the member name and whether it is present.
func (o *BodyObject) take(name string) (any, bool) {
	o.used = append(o.used, name)
	v, ok := o.m[name]
	return v, ok
}

// fail records msg about the member name, unless an error came first.
func (o *BodyObject) fail(name, msg string) {
	if o.err == nil {
		o.err = BodyError("/"+jsonvalue.EscapePointerToken(name), msg)
	}
}

// Str returns the string member name ("" when absent).
func (o *BodyObject) Str(name string) string {
	v, ok := o.take(name)
	if !ok {
		return ""
	}
	s, isString := v.(string)
	if !isString {
		o.fail(name, name+" must be a string")
	}
	return s
}

// Boolean returns the boolean member name; present is false when absent.
func (o *BodyObject) Boolean(name string) (b, present bool) {
	v, ok := o.take(name)
	if !ok {
		return false, false
	}
	b, isBool := v.(bool)
	if !isBool {
		o.fail(name, name+" must be true or false")
	}
	return b, true
}

// StrList returns the member name, an array of strings; present is false
// when absent.
func (o *BodyObject) StrList(name string) (list []string, present bool) {
	v, ok := o.take(name)
	if !ok {
		return nil, false
	}
	items, isArray := v.([]any)
	if !isArray {
		o.fail(name, name+" must be an array of strings")
		return nil, true
	}
	list = make([]string, 0, len(items))
	for i, item := range items {
		s, isString := item.(string)
		if !isString {
			if o.err == nil {
				o.err = BodyError("/"+jsonvalue.EscapePointerToken(name)+"/"+strconv.Itoa(i), name+" must hold strings only")
			}
			return nil, true
		}
		list = append(list, s)
	}
	return list, true
}

// Integer returns the member name, a whole number; present is false when
// absent.
func (o *BodyObject) Integer(name string) (n int64, present bool) {
	v, ok := o.take(name)
	if !ok {
		return 0, false
	}
	num, isNumber := v.(json.Number)
	n, err := num.Int64()
	if !isNumber || err != nil {
		o.fail(name, name+" must be a whole number")
		return 0, true
	}
	return n, true
}

// Number returns the member name, a finite number; present is false when
// absent.
func (o *BodyObject) Number(name string) (f float64, present bool) {
	v, ok := o.take(name)
	if !ok {
		return 0, false
	}
	num, isNumber := v.(json.Number)
	f, err := strconv.ParseFloat(string(num), 64)
	if !isNumber || err != nil {
		o.fail(name, name+" must be a finite number")
		return 0, true
	}
	return f, true
}

// Numbers returns the member name, an array of finite numbers (read as
// float32, the precision of vectors); present is false when absent.
func (o *BodyObject) Numbers(name string) (list []float32, present bool) {
	v, ok := o.take(name)
	if !ok {
		return nil, false
	}
	items, isArray := v.([]any)
	if !isArray {
		o.fail(name, name+" must be an array of numbers")
		return nil, true
	}
	list = make([]float32, 0, len(items))
	for i, item := range items {
		num, isNumber := item.(json.Number)
		f, err := strconv.ParseFloat(string(num), 32)
		if !isNumber || err != nil {
			if o.err == nil {
				o.err = BodyError("/"+jsonvalue.EscapePointerToken(name)+"/"+strconv.Itoa(i), name+" must hold finite numbers only (within the range of 32-bit floats)")
			}
			return nil, true
		}
		list = append(list, float32(f))
	}
	return list, true
}

// Timestamp returns the member name, an RFC 3339 timestamp, in UTC (zero
// when absent).
func (o *BodyObject) Timestamp(name string) time.Time {
	s := o.Str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		o.fail(name, name+" must be an RFC 3339 timestamp such as 2026-01-02T15:04:05Z")
		return time.Time{}
	}
	return t.UTC()
}

// Done returns the first conversion error, or an error about the first
// member (in name order) that no accessor asked for.
func (o *BodyObject) Done() error {
	if o.err != nil {
		return o.err
	}
	for _, k := range slices.Sorted(maps.Keys(o.m)) {
		if !slices.Contains(o.used, k) {
			expected := "no members"
			if len(o.used) > 0 {
				expected = strings.Join(o.used, ", ")
			}
			return BodyError("/"+jsonvalue.EscapePointerToken(k), "unknown member "+strconv.Quote(k)+" (expected "+expected+")")
		}
	}
	return nil
}

// ReadBodyObject checks the media type of r's body (application/json, and
// with mergePatch application/merge-patch+json), reads it (at most
// maxBytes) and decodes it as one JSON object within limits. An empty body
// is malformed.
func ReadBodyObject(w http.ResponseWriter, r *http.Request, maxBytes int64, limits jsonvalue.Limits, mergePatch bool) (*BodyObject, error) {
	if err := CheckContentType(r, mergePatch); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := ReadBody(w, r, maxBytes, &buf); err != nil {
		return nil, err
	}
	return DecodeBodyObject(buf.Bytes(), limits)
}

// ReadOptionalBodyObject is ReadBodyObject for requests whose parameters
// are all optional: an absent or empty body, whatever its media type,
// reads as {}.
func ReadOptionalBodyObject(w http.ResponseWriter, r *http.Request, maxBytes int64, limits jsonvalue.Limits) (*BodyObject, error) {
	var buf bytes.Buffer
	if err := ReadBody(w, r, maxBytes, &buf); err != nil {
		return nil, err
	}
	if buf.Len() == 0 {
		return EmptyBodyObject(), nil
	}
	if err := CheckContentType(r, false); err != nil {
		return nil, err
	}
	return DecodeBodyObject(buf.Bytes(), limits)
}
