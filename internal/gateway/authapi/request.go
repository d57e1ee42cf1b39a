package authapi

import (
	"bytes"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/jsonvalue"
)

// Bounds on the structure of request bodies. Bodies of this API are a few
// flat members and two short lists, so the bounds are tight.
const (
	maxBodyDepth   = 4
	maxBodyString  = 16 << 10
	maxBodyMembers = 1024
)

// readBody reads the whole body of r, at most maxBytes (see
// restapi.ReadBody).
func readBody(w http.ResponseWriter, r *http.Request, maxBytes int64) ([]byte, error) {
	var buf bytes.Buffer
	if err := restapi.ReadBody(w, r, maxBytes, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeObject decodes b strictly as one JSON object: I-JSON, no
// duplicate members, within the bounds above.
func decodeObject(b []byte) (object, error) {
	m, err := jsonvalue.DecodeObject(b, jsonvalue.Limits{
		MaxDepth: maxBodyDepth, MaxString: maxBodyString, MaxMembers: maxBodyMembers})
	if err != nil {
		return object{}, err
	}
	return object{m: m}, nil
}

// readObject checks the media type of r's body, reads it (at most
// maxBytes) and decodes it as one JSON object. An empty body is malformed.
func readObject(w http.ResponseWriter, r *http.Request, maxBytes int64, mergePatch bool) (object, error) {
	if err := restapi.CheckContentType(r, mergePatch); err != nil {
		return object{}, err
	}
	b, err := readBody(w, r, maxBytes)
	if err != nil {
		return object{}, err
	}
	return decodeObject(b)
}

// readOptionalObject is readObject for requests whose parameters are all
// optional: an absent or empty body reads as an empty object.
func readOptionalObject(w http.ResponseWriter, r *http.Request, maxBytes int64) (object, error) {
	b, err := readBody(w, r, maxBytes)
	if err != nil || len(b) == 0 {
		return object{m: map[string]any{}}, err
	}
	if err := restapi.CheckContentType(r, false); err != nil {
		return object{}, err
	}
	return decodeObject(b)
}

// object is a decoded request body. Its accessors convert members to Go
// values and record the first error, with a pointer to the member; done
// refuses members that no accessor asked for.
type object struct {
	m    map[string]any
	used []string
	err  error
}

// take returns the member name and whether it is present.
func (o *object) take(name string) (any, bool) {
	o.used = append(o.used, name)
	v, ok := o.m[name]
	return v, ok
}

func (o *object) fail(name, msg string) {
	if o.err == nil {
		o.err = restapi.BodyError("/"+jsonvalue.EscapePointerToken(name), msg)
	}
}

// str returns the string member name ("" when absent).
func (o *object) str(name string) string {
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

// boolean returns the boolean member name; present is false when absent.
func (o *object) boolean(name string) (b, present bool) {
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

// strList returns the member name, an array of strings; present is false
// when absent.
func (o *object) strList(name string) (list []string, present bool) {
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
				o.err = restapi.BodyError("/"+jsonvalue.EscapePointerToken(name)+"/"+strconv.Itoa(i), name+" must hold strings only")
			}
			return nil, true
		}
		list = append(list, s)
	}
	return list, true
}

// timestamp returns the member name, an RFC 3339 timestamp, in UTC (zero
// when absent).
func (o *object) timestamp(name string) time.Time {
	s := o.str(name)
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

// done returns the first conversion error, or an error about the first
// member (in name order) that no accessor asked for.
func (o *object) done() error {
	if o.err != nil {
		return o.err
	}
	for _, k := range slices.Sorted(maps.Keys(o.m)) {
		if !slices.Contains(o.used, k) {
			expected := "no members"
			if len(o.used) > 0 {
				expected = strings.Join(o.used, ", ")
			}
			return restapi.BodyError("/"+jsonvalue.EscapePointerToken(k), "unknown member "+strconv.Quote(k)+" (expected "+expected+")")
		}
	}
	return nil
}
