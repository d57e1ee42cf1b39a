package authapi

import (
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/jsonvalue"
)

// op names the transport in the errors it makes.
const op = "authapi"

// Bounds on the structure of request bodies. Bodies of this API are a few
// flat members and two short lists, so the bounds are tight.
const (
	maxBodyDepth   = 4
	maxBodyString  = 16 << 10
	maxBodyMembers = 1024
)

// maxPathValue bounds an id in the path before the service sees it.
const maxPathValue = 1024

// badRequest returns an Invalid error about a header, the path or the query.
func badRequest(msg string) error {
	return &fault.Error{Kind: fault.Invalid, Op: op, Msg: msg}
}

// bodyError returns an Invalid error about the body member at pointer.
func bodyError(pointer, msg string) error {
	return &fault.Error{Kind: fault.Invalid, Op: op, Msg: msg,
		Fields: []fault.FieldError{{Pointer: pointer, Message: msg}}}
}

// pathValue returns the path wildcard name after a length check.
func pathValue(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	if v == "" || len(v) > maxPathValue {
		return "", badRequest("the " + name + " in the path must have 1 to 1024 characters")
	}
	return v, nil
}

// checkContentType requires a JSON body: application/json (or, when
// mergePatch, also application/merge-patch+json) with no parameter but
// charset=utf-8.
func checkContentType(r *http.Request, mergePatch bool) error {
	want := "application/json"
	if mergePatch {
		want = "application/merge-patch+json or application/json"
	}
	unsupported := &fault.Error{Kind: fault.UnsupportedMedia, Op: op,
		Msg: "the request body must be " + want + " (optionally with charset=utf-8)"}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err != nil:
		return unsupported
	case mt == "application/json", mergePatch && mt == "application/merge-patch+json":
	default:
		return unsupported
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return unsupported
		}
	}
	return nil
}

// mayHaveBody reports whether r can carry a body: its length is positive
// or unknown (chunked, or HTTP/2 without Content-Length).
func mayHaveBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && (r.ContentLength != 0 || len(r.TransferEncoding) > 0)
}

// rejectBody refuses a body on a request that takes none. A body of
// unknown length that turns out empty is no body.
func rejectBody(r *http.Request) error {
	if !mayHaveBody(r) {
		return nil
	}
	if r.ContentLength <= 0 {
		var one [1]byte
		if n, _ := io.ReadFull(r.Body, one[:]); n == 0 {
			return nil
		}
	}
	return badRequest("this request takes no body")
}

// readBody reads the whole body of r, at most maxBytes.
func readBody(w http.ResponseWriter, r *http.Request, maxBytes int64) ([]byte, error) {
	if !mayHaveBody(r) {
		return nil, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &fault.Error{Kind: fault.PayloadTooLarge, Op: op,
				Msg: "the request body is larger than " + strconv.FormatInt(mbe.Limit, 10) + " bytes", Err: err}
		}
		return nil, fault.Wrap(fault.Invalid, op, err, "the request body could not be read")
	}
	return b, nil
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
	if err := checkContentType(r, mergePatch); err != nil {
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
	if err := checkContentType(r, false); err != nil {
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
		o.err = bodyError("/"+jsonvalue.EscapePointerToken(name), msg)
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
				o.err = bodyError("/"+jsonvalue.EscapePointerToken(name)+"/"+strconv.Itoa(i), name+" must hold strings only")
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
			return bodyError("/"+jsonvalue.EscapePointerToken(k), "unknown member "+strconv.Quote(k)+" (expected "+expected+")")
		}
	}
	return nil
}

// parseQuery parses the raw query strictly: a malformed escape, a parameter
// other than allowed or a repeated one is a 400.
func parseQuery(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("the query string is malformed")
	}
	for k, vs := range q {
		if !slices.Contains(allowed, k) {
			return nil, badRequest("unknown query parameter " + strconv.Quote(k))
		}
		if len(vs) > 1 {
			return nil, badRequest("query parameter " + strconv.Quote(k) + " is given more than once")
		}
	}
	return q, nil
}
