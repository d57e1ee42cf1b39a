package restapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/basaltdev/basalt/internal/fault"
)

// ProblemContentType is the media type of every error body (RFC 9457).
const ProblemContentType = "application/problem+json"

// problemTypePrefix prefixes the code to form a problem's type URI.
const problemTypePrefix = "urn:basalt:problem:"

// Problem is the RFC 9457 body of every error answer, as API.md fixes it.
type Problem struct {
	Type   string             `json:"type"`
	Title  string             `json:"title"`
	Status int                `json:"status"`
	Code   string             `json:"code"`
	Detail string             `json:"detail,omitempty"`
	Errors []fault.FieldError `json:"errors,omitempty"`
}

// kindInfo is how one fault kind appears over HTTP.
type kindInfo struct {
	status int
	title  string
}

// kinds maps every fault kind to its status and the title of the problem
// type named like the kind: the one place where REST decides how an error
// looks. The problem types that share a kind have their titles in
// typeTitles.
var kinds = map[fault.Kind]kindInfo{
	fault.Invalid: {http.StatusBadRequest, "The request is invalid"},
	// Validation is a document its schema refuses, but also a schema
	// change that existing documents fail, rules that do not fit the
	// schema, or a bad member of an account request (email, password,
	// token): the title fits them all, the detail and errors say which.
	fault.Validation:          {http.StatusBadRequest, "Members of the request are not valid"},
	fault.Unauthenticated:     {http.StatusUnauthorized, "The request is not authenticated"},
	fault.Forbidden:           {http.StatusForbidden, "The request is not allowed"},
	fault.NotFound:            {http.StatusNotFound, "Not found"},
	fault.Conflict:            {http.StatusConflict, "The request conflicts with the current state"},
	fault.PreconditionFailed:  {http.StatusPreconditionFailed, "A precondition failed"},
	fault.NotModified:         {http.StatusNotModified, "Not modified"},
	fault.PayloadTooLarge:     {http.StatusRequestEntityTooLarge, "The request is too large"},
	fault.UnsupportedMedia:    {http.StatusUnsupportedMediaType, "The media type is not supported"},
	fault.IdempotencyMismatch: {http.StatusUnprocessableEntity, "The idempotency key was used for a different request"},
	fault.TooManyRequests:     {http.StatusTooManyRequests, "Too many requests"},
	fault.Internal:            {http.StatusInternalServerError, "Internal server error"},
	fault.Unavailable:         {http.StatusServiceUnavailable, "The service is unavailable"},
}

// typeTitles are the titles of the problem types that share a kind with
// others (fault.Types): each names its own problem.
var typeTitles = map[string]string{
	fault.TypeSignupClosed:   "Sign-up is closed",
	fault.TypeInviteRequired: "Sign-up needs an invitation",
	fault.TypeInviteInvalid:  "The invitation is not valid",
}

// genericInternalDetail is what clients see for any internal error.
const genericInternalDetail = "an internal error occurred"

// ProblemFor returns the problem that represents err: its kind's status
// and code, its problem type (fault.TypeOf) and that type's title, the
// user-safe message as detail and the field errors.
// Errors that are not *fault.Error are internal, except *http.MaxBytesError
// (payload_too_large). The detail of an internal error is generic.
func ProblemFor(err error) Problem {
	kind, typ := fault.KindOf(err), fault.TypeOf(err)
	detail := fault.Message(err)
	fields := fault.FieldsOf(err)
	var mbe *http.MaxBytesError
	if kind == fault.Internal && errors.As(err, &mbe) {
		kind, typ = fault.PayloadTooLarge, string(fault.PayloadTooLarge)
		detail = "the request body is larger than " + strconv.FormatInt(mbe.Limit, 10) + " bytes"
	}
	info, ok := kinds[kind]
	if !ok {
		kind, info = fault.Internal, kinds[fault.Internal]
	}
	title, ok := typeTitles[typ]
	if !ok { // the type named like the kind, or one this table lacks
		typ, title = string(kind), info.title
	}
	if kind == fault.Internal {
		detail, fields = genericInternalDetail, nil
	}
	return Problem{
		Type:   problemTypePrefix + typ,
		Title:  title,
		Status: info.status,
		Code:   string(kind),
		Detail: detail,
		Errors: fields,
	}
}

// WriteProblem answers r with the problem that represents err (see
// ProblemFor). It is exported so middleware (panic recovery, body limits,
// rate limits) answers exactly like the REST handlers. It does not log:
// callers log internal errors once, with their own logger (the API's
// handlers do so through API.WriteProblem).
//
// not_modified is answered 304 without a body; too_many_requests and
// unavailable carry Retry-After (the error's fault.RetryAfterOf in whole
// seconds, rounded up, at least 1) and unauthenticated WWW-Authenticate:
// Bearer realm="basalt", unless the caller set these headers already.
func WriteProblem(w http.ResponseWriter, r *http.Request, err error) {
	if d := fault.RetryAfterOf(err); d > 0 && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", RetryAfterSeconds(d))
	}
	writeProblem(w, r, ProblemFor(err))
}

// WriteStatusProblem answers r with a problem of the given status, for the
// answers decided before any route runs: by the gateway (500 after a
// panic, 431 for oversized headers) or by the HTTP server for requests it
// cannot parse (400, 501, 505). The code is the fault kind answered with
// that status (payload_too_large for 414 and 431; invalid for another 4xx
// or for 501 and 505, which refuse what the client asked for; internal for
// another 5xx); detail, which must be safe to show, defaults to the
// status's text and is generic for a 500.
func WriteStatusProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	writeProblem(w, r, StatusProblem(status, detail))
}

// StatusProblem returns the problem WriteStatusProblem writes.
func StatusProblem(status int, detail string) Problem {
	kind := fault.Invalid
	switch status {
	case http.StatusRequestURITooLong, http.StatusRequestHeaderFieldsTooLarge:
		kind = fault.PayloadTooLarge
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
	default:
		for k, info := range kinds {
			if info.status == status && k != fault.Validation {
				kind = k
				break
			}
		}
		if kinds[kind].status != status && status >= 500 {
			kind = fault.Internal
		}
	}
	if detail == "" {
		detail = http.StatusText(status)
	}
	p := ProblemFor(fault.New(kind, "gateway", detail))
	if p.Status != status {
		p.Status, p.Title = status, http.StatusText(status)
	}
	return p
}

// RetryAfterSeconds renders d as a Retry-After value: whole seconds,
// rounded up, at least 1.
func RetryAfterSeconds(d time.Duration) string {
	s := int64(min(d, math.MaxInt32*time.Second)+time.Second-1) / int64(time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}

// MarshalProblem encodes p as JSON without escaping HTML characters: a
// detail or a pointer with &, < or > shows them as themselves, not as
// \u0026, \u003c and \u003e (problem bodies are never embedded in HTML).
func MarshalProblem(p Problem) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// writeProblem writes p as the answer.
func writeProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	h := w.Header()
	if p.Status == http.StatusNotModified {
		w.WriteHeader(p.Status)
		return
	}
	if (p.Status == http.StatusServiceUnavailable || p.Status == http.StatusTooManyRequests) && h.Get("Retry-After") == "" {
		h.Set("Retry-After", "1")
	}
	if p.Status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", challenge)
	}
	body, err := MarshalProblem(p)
	if err != nil { // cannot happen: Problem holds only strings and ints
		body = []byte(`{"type":"urn:basalt:problem:internal","title":"Internal server error","status":500,"code":"internal"}`)
		p.Status = http.StatusInternalServerError
	}
	// A problem replaces whatever representation headers a handler set.
	h.Del("ETag")
	h.Del("Location")
	h.Set("Content-Type", ProblemContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// WriteProblem is the package WriteProblem that also logs internal errors
// (with their detail and the request id) through the API's logger.
func (a *API) WriteProblem(w http.ResponseWriter, r *http.Request, err error) {
	a.resp.WriteProblem(w, r, err)
}

// NotFoundHandler answers every request with a not_found problem. Mount it
// as the server's fallback so unknown routes outside /v1 answer like Basalt.
func NotFoundHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, r, fault.New(fault.NotFound, "restapi", "no route matches "+r.URL.Path))
	})
}
