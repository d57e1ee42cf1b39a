package restapi

// The HTTP plumbing that every Basalt REST transport shares (the document
// routes of this package and the account routes of authapi): strict
// decoding of paths, query strings and bodies, and the writing of JSON
// answers and problems. Sharing it means every /v1 route accepts the same
// requests and answers mistakes with the same statuses, codes and texts.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/basaltdev/basalt/internal/fault"
)

// Media types accepted in request bodies.
const (
	mediaJSON       = "application/json"
	mediaMergePatch = "application/merge-patch+json"
)

// MaxPathValue bounds a path segment (a collection name, a document or
// account id) and similar opaque values before a service sees them; the
// service applies the exact rules.
const MaxPathValue = 1024

// BadRequest returns an Invalid error about a header, the path or the query
// string. msg names the part, as the "errors" of a problem hold pointers
// into the body only.
func BadRequest(msg string) error {
	return &fault.Error{Kind: fault.Invalid, Op: "restapi", Msg: msg}
}

// BodyError returns an Invalid error about the body member at pointer (a
// JSON Pointer, RFC 6901), which the problem lists in "errors".
func BodyError(pointer, msg string) error {
	return &fault.Error{Kind: fault.Invalid, Op: "restapi", Msg: msg,
		Fields: []fault.FieldError{{Pointer: pointer, Message: msg}}}
}

// PathValue returns the path wildcard name of r; an empty value or one
// longer than MaxPathValue is a 400.
func PathValue(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	if v == "" || len(v) > MaxPathValue {
		return "", BadRequest("the " + name + " in the path must have 1 to " + strconv.Itoa(MaxPathValue) + " characters")
	}
	return v, nil
}

// ParseQuery parses the raw query of r strictly: a malformed escape, a
// parameter other than allowed (most likely a typo) or a parameter given
// more than once is a 400.
func ParseQuery(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, BadRequest("the query string is malformed")
	}
	for k, vs := range q {
		if !slices.Contains(allowed, k) {
			return nil, BadRequest("unknown query parameter " + strconv.Quote(k))
		}
		if len(vs) > 1 {
			return nil, BadRequest("query parameter " + strconv.Quote(k) + " is given more than once")
		}
	}
	return q, nil
}

// CheckContentType requires a JSON body: application/json, or also
// application/merge-patch+json when mergePatch, with no parameter other
// than charset=utf-8. Anything else is a 415. More than one Content-Type
// header is a 400, as more than one Authorization header is a 401: a proxy
// in front of Basalt could read another one than Basalt does.
func CheckContentType(r *http.Request, mergePatch bool) error {
	if len(r.Header.Values("Content-Type")) > 1 {
		return BadRequest("Content-Type must be given once")
	}
	want := mediaJSON
	if mergePatch {
		want = mediaMergePatch + " or " + mediaJSON
	}
	unsupported := &fault.Error{Kind: fault.UnsupportedMedia, Op: "restapi",
		Msg: "the request body must be " + want + " (optionally with charset=utf-8)"}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err != nil:
		return unsupported
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

// mayHaveBody reports whether r can carry a body: its length is positive
// or unknown (chunked, or HTTP/2 without Content-Length).
func mayHaveBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && (r.ContentLength != 0 || len(r.TransferEncoding) > 0)
}

// RejectBody refuses a body on a request that takes none (a 400). A body of
// unknown length is read up to its first byte: one that turns out empty is
// no body, one that does not is refused even without Content-Length.
func RejectBody(r *http.Request) error {
	if !mayHaveBody(r) {
		return nil
	}
	if r.ContentLength <= 0 {
		var one [1]byte
		if n, _ := io.ReadFull(r.Body, one[:]); n == 0 {
			return nil
		}
	}
	return BadRequest("this request takes no body")
}

// ReadBody appends the whole body of r to dst. A body longer than maxBytes
// is a 413 payload_too_large (and the connection is closed after the
// answer, see http.MaxBytesReader); a body that cannot be read is a 400.
// A request without a body appends nothing.
func ReadBody(w http.ResponseWriter, r *http.Request, maxBytes int64, dst *bytes.Buffer) error {
	if !mayHaveBody(r) {
		return nil
	}
	if _, err := dst.ReadFrom(http.MaxBytesReader(w, r.Body, maxBytes)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &fault.Error{Kind: fault.PayloadTooLarge, Op: "restapi",
				Msg: "the request body is larger than " + strconv.FormatInt(mbe.Limit, 10) + " bytes", Err: err}
		}
		return fault.Wrap(fault.Invalid, "restapi", err, "the request body could not be read")
	}
	return nil
}

// WriteMethodNotAllowed answers 405 with Allow listing allow, as a problem
// whose code is "invalid": the request is wrong, and the fault vocabulary
// has no kind for this transport-level answer.
func WriteMethodNotAllowed(w http.ResponseWriter, r *http.Request, allow []string) {
	w.Header().Set("Allow", strings.Join(allow, ", "))
	p := ProblemFor(fault.New(fault.Invalid, "restapi", "method "+r.Method+" is not allowed for "+r.URL.Path))
	p.Status, p.Title = http.StatusMethodNotAllowed, "Method not allowed"
	writeProblem(w, r, p)
}

// Responder writes the answers of one REST transport: JSON bodies and RFC
// 9457 problems. It logs each internal error once, with the request's
// method, path and id. It is safe for concurrent use.
type Responder struct {
	name string
	log  *slog.Logger
	bufs sync.Pool // *bytes.Buffer for request and response bodies
}

// NewResponder returns a Responder that logs internal errors to log (nil
// discards them), in messages that start with name (the transport's name,
// such as "restapi").
func NewResponder(name string, log *slog.Logger) *Responder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Responder{
		name: name, log: log,
		bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
}

// maxPooledBuffer is the largest buffer returned to the pool.
const maxPooledBuffer = 64 << 10

func (rs *Responder) getBuffer() *bytes.Buffer {
	b, _ := rs.bufs.Get().(*bytes.Buffer)
	if b == nil {
		b = new(bytes.Buffer)
	}
	b.Reset()
	return b
}

func (rs *Responder) putBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		rs.bufs.Put(b)
	}
}

// WriteJSON answers status with v encoded as JSON, HTML characters
// unescaped: &, < and > appear as themselves, also in what a
// json.Marshaler of v wrote (see unescapeHTML). The body is encoded before
// anything is written, so an encoding failure is still answered with a
// clean internal problem. HEAD requests get the headers only.
func (rs *Responder) WriteJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	buf := rs.getBuffer()
	defer rs.putBuffer(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		rs.WriteProblem(w, r, fault.Internalf(rs.name+".encode", err))
		return
	}
	body := unescapeHTML(buf.Bytes())
	h := w.Header()
	h.Set("Content-Type", mediaJSON)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// unescapeHTML turns the \u0026, \u003c and \u003e that encoding/json
// writes for &, < and > back into those characters, in place, and returns
// the shortened JSON. An encoder's SetEscapeHTML(false) does not reach the
// output of a json.Marshaler (kin-openapi's documents, for one), which
// json.Marshal escaped already. An escaped backslash followed by u0026 is
// left alone: only a backslash that starts an escape is read as one.
func unescapeHTML(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u00`)) {
		return b
	}
	out := b[:0]
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 == len(b) {
			out = append(out, c)
			continue
		}
		if b[i+1] == 'u' && i+5 < len(b) && b[i+2] == '0' && b[i+3] == '0' {
			if r := htmlEscaped(b[i+4], b[i+5]); r != 0 {
				out = append(out, r)
				i += 5
				continue
			}
		}
		out = append(out, c, b[i+1]) // an escape that stays: both bytes
		i++
	}
	return out
}

// htmlEscaped returns the character of the escape \u00XY that unescapeHTML
// undoes, or 0 for another one.
func htmlEscaped(x, y byte) byte {
	switch {
	case x == '2' && y == '6':
		return '&'
	case x == '3' && y == 'c':
		return '<'
	case x == '3' && y == 'e':
		return '>'
	}
	return 0
}

// WriteProblem is the package WriteProblem that first logs err if it is
// internal.
func (rs *Responder) WriteProblem(w http.ResponseWriter, r *http.Request, err error) {
	rs.logError(r, err)
	WriteProblem(w, r, err)
}

// maxLoggedRequestID bounds the client-supplied request id written to logs.
const maxLoggedRequestID = 128

// logError logs err if it is internal. An oversized body is the client's
// fault, not an internal one, and is not logged; a cancellation caused by
// the client abandoning the request is logged at debug level only.
func (rs *Responder) logError(r *http.Request, err error) {
	kind := fault.KindOf(err)
	var mbe *http.MaxBytesError
	if kind != fault.Internal || errors.As(err, &mbe) {
		return
	}
	rid := r.Header.Get("X-Request-ID")
	if len(rid) > maxLoggedRequestID {
		rid = rid[:maxLoggedRequestID]
	}
	level, msg := slog.LevelError, rs.name+": internal error"
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		level, msg = slog.LevelDebug, rs.name+": request canceled by the client"
	}
	rs.log.LogAttrs(r.Context(), level, msg,
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("request_id", rid),
		slog.Any("error", err))
}
