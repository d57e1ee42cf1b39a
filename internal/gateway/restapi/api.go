// Package restapi is Basalt's REST transport: the /v1 routes of API.md over
// the document service. Handlers are thin: they decode the request (strictly
// and within bounds), call one docstore.Service method and encode its answer.
// Every error becomes an RFC 9457 problem through one mapping (WriteProblem).
package restapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/jsonvalue"
)

// DefaultMaxBodyBytes applies when Options.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 1 << 20 // 1 MiB

// Options configures an API.
type Options struct {
	// Logger receives internal errors (once each, with the request id).
	// Nil discards logs.
	Logger *slog.Logger
	// MaxBodyBytes bounds every request body; larger bodies are answered
	// 413 payload_too_large. Default 1 MiB.
	MaxBodyBytes int64
	// JSON bounds the structure of request bodies (depth, string length,
	// number of values). Zero fields take jsonvalue's defaults.
	JSON jsonvalue.Limits
	// Authenticator checks the bearer credentials of requests (see
	// Authenticate). Nil makes every request anonymous.
	Authenticator auth.Authenticator
}

// API serves the REST routes over a document service.
type API struct {
	svc  *docstore.Service
	opts Options
	log  *slog.Logger
	bufs sync.Pool // *bytes.Buffer for request and response bodies
}

// New returns the REST API over svc.
func New(svc *docstore.Service, opts Options) *API {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{
		svc: svc, opts: opts, log: log,
		bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
}

// Base is the path prefix of every route of this package.
const Base = "/v1"

// catchAll is the pattern that answers unknown /v1 routes and wrong methods.
const catchAll = Base + "/"

// Register adds the routes of API.md (collections, documents, batch and the
// OpenAPI document) to mux, each behind Authenticate with
// Options.Authenticator, plus a fallback for every other path under /v1
// that answers 404 or, when the path exists with other methods, 405 with
// Allow — both as problems.
func (a *API) Register(mux *http.ServeMux) {
	const (
		colls = Base + "/collections"
		coll  = colls + "/{collection}"
		docs  = coll + "/documents"
		doc   = docs + "/{id}"
	)
	routes := []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{"GET " + colls, a.listCollections},
		{"POST " + colls, a.createCollection},
		{"GET " + coll, a.getCollection},
		{"PUT " + coll, a.replaceCollection},
		{"PATCH " + coll, a.patchCollection},
		{"DELETE " + coll, a.deleteCollection},
		{"GET " + docs, a.listDocuments},
		{"POST " + docs, a.createDocument},
		{"GET " + doc, a.getDocument},
		{"PUT " + doc, a.replaceDocument},
		{"PATCH " + doc, a.patchDocument},
		{"DELETE " + doc, a.deleteDocument},
		{"POST " + Base + "/batch", a.batch},
		{"GET " + Base + "/openapi.json", a.openAPI},
	}
	for _, rt := range routes {
		mux.Handle(rt.pattern, authenticate(a.opts.Authenticator, a.WriteProblem, rt.h))
	}
	mux.Handle(catchAll, fallback{mux: mux})
}

// probeMethods are the methods tried to build the Allow header of a 405.
var probeMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
}

// fallback answers requests under /v1 that no route matched: 405 with Allow
// when the path is served with other methods, 404 otherwise.
type fallback struct{ mux *http.ServeMux }

func (f fallback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range probeMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := f.mux.Handler(probe); pattern != "" && pattern != catchAll {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		NotFoundHandler().ServeHTTP(w, r)
		return
	}
	if slices.Contains(allow, http.MethodGet) && !slices.Contains(allow, http.MethodHead) {
		allow = append(allow, http.MethodHead)
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	// The fault vocabulary has no kind for this transport-level answer: it
	// keeps the code "invalid" (the request is wrong) with status 405.
	p := ProblemFor(fault.New(fault.Invalid, "restapi", "method "+r.Method+" is not allowed for "+r.URL.Path))
	p.Status, p.Title = http.StatusMethodNotAllowed, "Method not allowed"
	writeProblem(w, r, p)
}

// maxPooledBuffer is the largest buffer returned to the pool.
const maxPooledBuffer = 64 << 10

func (a *API) getBuffer() *bytes.Buffer {
	b, _ := a.bufs.Get().(*bytes.Buffer)
	if b == nil {
		b = new(bytes.Buffer)
	}
	b.Reset()
	return b
}

func (a *API) putBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		a.bufs.Put(b)
	}
}

// writeJSON answers status with v encoded as JSON. The body is encoded into
// a pooled buffer first, so an encoding failure still gets a clean problem.
func (a *API) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	buf := a.getBuffer()
	defer a.putBuffer(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		a.WriteProblem(w, r, fault.Internalf("restapi.encode", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, buf)
	}
}

// etag renders a version as a strong entity tag.
func etag(version int64) string {
	return `"` + strconv.FormatInt(version, 10) + `"`
}
