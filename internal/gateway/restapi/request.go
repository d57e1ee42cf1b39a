package restapi

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/jsonvalue"
)

// Media types accepted in request bodies.
const (
	mediaJSON       = "application/json"
	mediaMergePatch = "application/merge-patch+json"
)

// maxPathValue bounds a path segment (collection name or document id)
// before the service sees it; the service applies the exact rules.
const maxPathValue = 1024

// badRequest returns an Invalid error about a header, the path or the query
// string; msg names the part, as problem "errors" hold body pointers only.
func badRequest(msg string) error {
	return &fault.Error{Kind: fault.Invalid, Op: "restapi", Msg: msg}
}

// bodyError returns an Invalid error about the body member at pointer.
func bodyError(pointer, msg string) error {
	return &fault.Error{Kind: fault.Invalid, Op: "restapi", Msg: msg,
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

// checkContentType requires a JSON body: application/json, or also
// application/merge-patch+json when mergePatch, with no parameter other
// than charset=utf-8.
func checkContentType(r *http.Request, mergePatch bool) error {
	ct := r.Header.Get("Content-Type")
	want := "application/json"
	if mergePatch {
		want = "application/merge-patch+json or application/json"
	}
	unsupported := &fault.Error{Kind: fault.UnsupportedMedia, Op: "restapi",
		Msg: "the request body must be " + want + " (optionally with charset=utf-8)"}
	if ct == "" {
		return unsupported
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return unsupported
	}
	switch {
	case mt == mediaJSON, mergePatch && mt == mediaMergePatch:
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

// readBody reads the whole body, bounded by MaxBodyBytes, checks its media
// type and decodes it as a JSON object. Pointers of decoding errors are
// relative to the body.
func (a *API) readBody(w http.ResponseWriter, r *http.Request, mergePatch bool) (map[string]any, error) {
	return a.readBodyAt(w, r, mergePatch, "")
}

// readData is readBody for bodies that are a document's data: error
// pointers start with /data, as the service's do.
func (a *API) readData(w http.ResponseWriter, r *http.Request, mergePatch bool) (map[string]any, error) {
	return a.readBodyAt(w, r, mergePatch, "/data")
}

func (a *API) readBodyAt(w http.ResponseWriter, r *http.Request, mergePatch bool, prefix string) (map[string]any, error) {
	if err := checkContentType(r, mergePatch); err != nil {
		return nil, err
	}
	buf := a.getBuffer()
	defer a.putBuffer(buf)
	body := http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes)
	if _, err := buf.ReadFrom(body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &fault.Error{Kind: fault.PayloadTooLarge, Op: "restapi",
				Msg: "the request body is larger than " + strconv.FormatInt(mbe.Limit, 10) + " bytes", Err: err}
		}
		return nil, fault.Wrap(fault.Invalid, "restapi", err, "the request body could not be read")
	}
	// Decoded values never alias buf, so it can go back to the pool.
	m, err := jsonvalue.DecodeObject(buf.Bytes(), a.opts.JSON)
	if err != nil && prefix != "" {
		var fe *fault.Error
		if errors.As(err, &fe) {
			for i := range fe.Fields {
				fe.Fields[i].Pointer = prefix + fe.Fields[i].Pointer
			}
		}
	}
	return m, err
}

// checkQuery rejects query parameters other than allowed (probably typos)
// and parameters given more than once.
func checkQuery(q url.Values, allowed ...string) error {
	for k, vs := range q {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			return badRequest("unknown query parameter " + strconv.Quote(k))
		}
		if len(vs) > 1 {
			return badRequest("query parameter " + strconv.Quote(k) + " is given more than once")
		}
	}
	return nil
}

// parseQuery parses the raw query strictly (a malformed escape is a 400).
func parseQuery(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("the query string is malformed")
	}
	return q, checkQuery(q, allowed...)
}

// singleHeader returns the one value of header name, "" if absent, and an
// error if it is repeated.
func singleHeader(r *http.Request, name string) (string, error) {
	vs := r.Header.Values(name)
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return strings.TrimSpace(vs[0]), nil
	}
	return "", badRequest(name + " must be given once")
}

// parseIfMatch reads If-Match: one strong entity tag holding a version
// ("3"), or "*" (the target must exist, which every conditional write
// requires anyway: 0). Weak tags, lists and other tags are malformed.
func parseIfMatch(r *http.Request) (int64, error) {
	v, err := singleHeader(r, "If-Match")
	if err != nil || v == "" || v == "*" {
		return 0, err
	}
	version, ok := parseETag(v)
	if !ok {
		return 0, badRequest(`If-Match must be "*" or one strong entity tag holding a version, like "3"`)
	}
	return version, nil
}

// parseETag reads a strong entity tag holding a positive version.
func parseETag(s string) (int64, bool) {
	if len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' {
		return 0, false
	}
	digits := s[1 : len(s)-1]
	if digits == "" || digits[0] < '1' || digits[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// notModified reports whether If-None-Match matches version, using weak
// comparison as RFC 9110 prescribes for If-None-Match. A malformed header
// is a 400.
func notModified(r *http.Request, version int64) (bool, error) {
	vs := r.Header.Values("If-None-Match")
	if len(vs) == 0 {
		return false, nil
	}
	malformed := badRequest(`If-None-Match must be "*" or a list of entity tags`)
	for _, line := range vs {
		for tag := range strings.SplitSeq(line, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" {
				return true, nil
			}
			tag = strings.TrimPrefix(tag, "W/")
			if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' || strings.Contains(tag[1:len(tag)-1], `"`) {
				return false, malformed
			}
			if n, ok := parseETag(tag); ok && n == version {
				return true, nil
			}
		}
	}
	return false, nil
}

// maxIdempotencyKey is the longest Idempotency-Key accepted.
const maxIdempotencyKey = 255

// parseIdempotencyKey reads Idempotency-Key: 1 to 255 printable ASCII
// characters, or absent.
func parseIdempotencyKey(r *http.Request) (string, error) {
	v, err := singleHeader(r, "Idempotency-Key")
	if err != nil || v == "" {
		if err == nil && len(r.Header.Values("Idempotency-Key")) == 1 {
			return "", badRequest("Idempotency-Key must not be empty")
		}
		return "", err
	}
	if len(v) > maxIdempotencyKey {
		return "", badRequest("Idempotency-Key must have at most 255 characters")
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return "", badRequest("Idempotency-Key must be printable ASCII")
		}
	}
	return v, nil
}

// rejectIdempotencyKey refuses Idempotency-Key where the service cannot
// honour it (collection writes), rather than silently ignoring it.
func rejectIdempotencyKey(r *http.Request) error {
	if len(r.Header.Values("Idempotency-Key")) > 0 {
		return badRequest("Idempotency-Key is not supported on collection writes")
	}
	return nil
}
