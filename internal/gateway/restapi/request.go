package restapi

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/jsonvalue"
)

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
	if err := CheckContentType(r, mergePatch); err != nil {
		return nil, err
	}
	buf := a.resp.getBuffer()
	defer a.resp.putBuffer(buf)
	if err := ReadBody(w, r, a.opts.MaxBodyBytes, buf); err != nil {
		return nil, err
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
	return "", BadRequest(name + " must be given once")
}

// maxIfMatchTags bounds the entity tags of If-Match.
const maxIfMatchTags = 16

// parseIfMatch reads If-Match (RFC 9110 §13.1.1) as the versions a write
// accepts: none for no header or "*" (the target must exist, which every
// conditional write requires anyway), else the versions of the listed
// entity tags ("3", W/"3"; several header lines form one list), of which
// the target's must be one. If-Match compares strongly: weak tags never
// match, and neither do tags that hold no version, so a list of only such
// tags is docstore.Versions{0}, which no version matches. Anything else,
// "*" beside a tag, or more than maxIfMatchTags tags is a 400.
func parseIfMatch(r *http.Request) (docstore.Versions, error) {
	lines := r.Header.Values("If-Match")
	if len(lines) == 0 {
		return nil, nil
	}
	malformed := BadRequest(`If-Match must be "*" or a comma-separated list of entity tags, like "3"`)
	if len(lines) == 1 && strings.TrimSpace(lines[0]) == "*" {
		return nil, nil
	}
	var versions docstore.Versions
	tags := 0
	for _, line := range lines {
		for tag := range strings.SplitSeq(line, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "" { // RFC 9110 §5.6.1: empty list elements are ignored
				continue
			}
			weak := strings.HasPrefix(tag, "W/")
			if !entityTag(strings.TrimPrefix(tag, "W/")) {
				return nil, malformed
			}
			if tags++; tags > maxIfMatchTags {
				return nil, BadRequest("If-Match must list at most " + strconv.Itoa(maxIfMatchTags) + " entity tags")
			}
			if v, ok := parseETag(tag); ok && !weak && !slices.Contains(versions, v) {
				versions = append(versions, v)
			}
		}
	}
	if tags == 0 {
		return nil, malformed
	}
	if len(versions) == 0 {
		return docstore.Versions{0}, nil
	}
	slices.Sort(versions)
	return versions, nil
}

// entityTag reports whether s is an opaque-tag of RFC 9110 §8.8.3: a
// quoted string of visible characters other than '"' (or obs-text).
func entityTag(s string) bool {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; c < 0x21 || c == '"' || c == 0x7f {
			return false
		}
	}
	return true
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
	malformed := BadRequest(`If-None-Match must be "*" or a list of entity tags`)
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
			return "", BadRequest("Idempotency-Key must not be empty")
		}
		return "", err
	}
	if len(v) > maxIdempotencyKey {
		return "", BadRequest("Idempotency-Key must have at most 255 characters")
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return "", BadRequest("Idempotency-Key must be printable ASCII")
		}
	}
	return v, nil
}

// rejectIdempotencyKey refuses Idempotency-Key where the service cannot
// honour it (collection writes), rather than silently ignoring it.
func rejectIdempotencyKey(r *http.Request) error {
	if len(r.Header.Values("Idempotency-Key")) > 0 {
		return BadRequest("Idempotency-Key is not supported on collection writes")
	}
	return nil
}
