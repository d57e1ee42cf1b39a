// Package restapi is Basalt's REST transport: the /v1 routes of API.md over
// the document service. Handlers are thin: they decode the request (strictly
// and within bounds), call one method of the document service (Documents)
// and encode its answer.
// Every error becomes an RFC 9457 problem through one mapping (WriteProblem).
//
// The package also exports the HTTP plumbing of every Basalt REST transport
// (PathValue, ParseQuery, CheckContentType, ReadBody, RejectBody,
// WriteMethodNotAllowed and Responder), which the account transport
// (authapi) uses too: all /v1 routes decode and answer alike.
package restapi

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/jsonvalue"
	"github.com/basaltdev/basalt/internal/realtime"
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
	// OpenAPI describe the routes that other packages serve beside these
	// in the document of GET /v1/openapi.json (see BuildOpenAPI).
	OpenAPI []OpenAPIDescriber
	// Realtime serves the event streams (GET …/events); nil answers them
	// 503.
	Realtime *realtime.Hub
	// Heartbeat is the interval of the comments that keep an idle event
	// stream open through proxies (default DefaultHeartbeat).
	Heartbeat time.Duration
	// ClientIP returns the client address of a request, which the limit
	// of streams per address counts; nil takes the socket peer's.
	ClientIP func(*http.Request) string
	// Search runs the searches of GET and POST …/search; nil answers them
	// 503.
	Search Searcher
	// SearchStatus reports the state of a collection's search indexes in
	// GET /v1/collections/{name}; nil leaves it out.
	SearchStatus SearchStatuser
	// Limits are the API-wide rate limits of every route (see
	// Responder.Guard); nil limits nothing.
	Limits Limits
	// Catalog describes the caller's API in GET /v1/openapi.json; nil
	// answers it 503.
	Catalog Cataloger
	// Subscriber decides the event streams' subscriptions, with Realtime.
	Subscriber Subscriber
	// Elsewhere, when set, serves the routes whose services live in
	// another process (ElsewhereRoutes: search, event streams and the
	// OpenAPI document, which the process with the document database
	// serves), passing the requests on as they came: it authenticates and
	// limits them itself.
	Elsewhere http.Handler
}

// Documents is the document service the REST routes call: collections,
// documents and batches. *docstore.Service is the one in the process, a
// remote.Documents the one of a documents component in another. Its
// methods authorize the caller (auth.FromContext) themselves.
type Documents interface {
	docstore.Documents
	docstore.Collections
}

// Cataloger tells what a caller may reach (the OpenAPI document).
type Cataloger interface {
	Catalog(ctx context.Context) (docstore.Catalog, error)
}

// Subscriber decides the subscriptions and events of the event streams.
type Subscriber interface {
	Subscribe(ctx context.Context, r docstore.SubscribeRequest) (*docstore.Delivery, error)
}

var (
	_ Documents  = (*docstore.Service)(nil)
	_ Cataloger  = (*docstore.Service)(nil)
	_ Subscriber = (*docstore.Service)(nil)
)

// API serves the REST routes over a document service.
type API struct {
	svc  Documents
	opts Options
	resp *Responder
}

// New returns the REST API over svc.
func New(svc Documents, opts Options) *API {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return &API{svc: svc, opts: opts, resp: NewResponder("restapi", opts.Logger)}
}

// Base is the path prefix of every route of this package.
const Base = "/v1"

// CatchAll is the pattern that answers unknown /v1 routes and wrong
// methods (the metrics label its requests as unmatched).
const CatchAll = Base + "/"

// Register adds the routes of API.md (collections, documents, batch and the
// OpenAPI document) to mux, each behind Options.Limits and Authenticate
// with Options.Authenticator (Responder.Guard), plus a fallback for every
// other path under /v1 that answers 404 or, when the path exists with
// other methods, 405 with Allow — both as problems.
func (a *API) Register(mux *http.ServeMux) {
	for _, rt := range a.routes() {
		if rt.local && a.opts.Elsewhere != nil {
			mux.Handle(rt.pattern, a.opts.Elsewhere)
			continue
		}
		mux.Handle(rt.pattern, a.resp.Guard(rt.pattern, a.opts.Limits, a.opts.Authenticator, rt.h))
	}
	mux.Handle(CatchAll, fallback{mux: mux})
}

// RoutePatterns returns the pattern ("METHOD /path") of every route
// Register adds, the fallback aside.
func RoutePatterns() []string {
	var out []string
	for _, rt := range (&API{}).routes() {
		out = append(out, rt.pattern)
	}
	return out
}

type route struct {
	pattern string
	h       http.HandlerFunc
	// local: the route's service lives with the document database
	// (Options.Elsewhere).
	local bool
}

// ElsewhereRoutes returns the patterns of the routes Options.Elsewhere
// serves when set.
func ElsewhereRoutes() []string {
	var out []string
	for _, rt := range (&API{}).routes() {
		if rt.local {
			out = append(out, rt.pattern)
		}
	}
	return out
}

func (a *API) routes() []route {
	const (
		colls = Base + "/collections"
		coll  = colls + "/{collection}"
		docs  = coll + "/documents"
		doc   = docs + "/{id}"
	)
	return []route{
		{"GET " + colls, a.listCollections, false},
		{"POST " + colls, a.createCollection, false},
		{"GET " + coll, a.getCollection, false},
		{"PUT " + coll, a.replaceCollection, false},
		{"PATCH " + coll, a.patchCollection, false},
		{"DELETE " + coll, a.deleteCollection, false},
		{"GET " + docs, a.listDocuments, false},
		{"POST " + docs, a.createDocument, false},
		{"GET " + doc, a.getDocument, false},
		{"PUT " + doc, a.replaceDocument, false},
		{"PATCH " + doc, a.patchDocument, false},
		{"DELETE " + doc, a.deleteDocument, false},
		{"GET " + coll + "/search", a.searchGet, true},
		{"POST " + coll + "/search", a.searchPost, true},
		{"GET " + coll + "/events", a.collectionEvents, true},
		{"GET " + doc + "/events", a.documentEvents, true},
		{"POST " + Base + "/batch", a.batch, false},
		{"GET " + Base + "/openapi.json", a.openAPI, true},
	}
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
		if _, pattern := f.mux.Handler(probe); pattern != "" && pattern != CatchAll {
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
	WriteMethodNotAllowed(w, r, allow)
}

// etag renders a version as a strong entity tag.
func etag(version int64) string {
	return `"` + strconv.FormatInt(version, 10) + `"`
}
