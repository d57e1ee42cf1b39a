package graphqlapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/bearer"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway"
	"github.com/basaltdev/basalt/internal/gateway/authapi"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/realtime"
)

// Media types of GraphQL over HTTP.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// Cataloger is the catalog of the caller in a context (docstore.Service).
type Cataloger interface {
	Catalog(ctx context.Context) (docstore.Catalog, error)
}

// Admitter decides a request's rate limits and authenticates its caller
// (apilimit.Limits implements it).
type Admitter interface {
	Admit(w http.ResponseWriter, r *http.Request, route string, known func() (auth.Principal, bool), authenticate func() (auth.Principal, error)) (auth.Principal, error)
}

// The routes of the API.
const (
	routeGet  = "GET /graphql"
	routePost = "POST /graphql"
	// routeMutation is the route a mutation is limited as, besides the
	// POST that carries it: the write class; routeAuth that of the
	// account flows (login, refresh, logout): the auth class.
	routeMutation = "POST /graphql#mutation"
	routeAuth     = "POST /graphql#auth"
	// routeSearch is the route a query with a search field is limited as
	// too: the search class, as REST's searches.
	routeSearch = "POST /graphql#search"
)

// RoutePatterns are the route patterns Register adds.
func RoutePatterns() []string { return []string{routeGet, routePost} }

// LimitRoutes are the routes a request is rate limited as (apilimit
// classifies each): RoutePatterns, and the route of a mutation, which a
// POST's operation is limited as too once it is parsed.
func LimitRoutes() []string {
	return []string{routeGet, routePost, routeMutation, routeAuth, routeSearch, routeSubscription}
}

// Register serves the API on mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle(routeGet, a)
	mux.Handle(routePost, a)
}

// Options configures an API.
type Options struct {
	// Limits bound each document (DefaultLimits' for zero fields).
	Limits Limits
	// Authenticator checks the bearer credential of the Authorization
	// header; nil makes every caller anonymous.
	Authenticator auth.Authenticator
	// RateLimits admit each request (apilimit.Limits.Admit) under the
	// route's class; nil limits nothing.
	RateLimits Admitter
	// MaxBodyBytes bounds a POST's body (1 MiB when zero).
	MaxBodyBytes int64
	// MaxBatch bounds the operations of one batched POST (a JSON array of
	// requests; 10 when zero).
	MaxBatch int
	// CacheEntries bounds the schemas, the parsed documents and the
	// persisted queries kept (1,000 of each when zero).
	CacheEntries int
	// NoIntrospection turns introspection (__schema, __type) off.
	NoIntrospection bool
	// NoSuggestions leaves the suggestions ("Did you mean …?") out of
	// validation errors.
	NoSuggestions bool
	// ClientIP is a request's client address, recorded on the sessions
	// of logins and refreshes (authapi.ClientIP without trusted proxies
	// when nil).
	ClientIP func(*http.Request) string
	// IDE serves GraphiQL, an IDE in the browser, to a browser's GET
	// /graphql without a query (for development: its scripts come from
	// unpkg.com).
	IDE bool

	// Realtime and Subscriber serve subscriptions (over WebSocket): the
	// hub of change events, and the document service that decides who
	// may subscribe and what each receives. Without them a subscription
	// is answered unavailable.
	Realtime   *realtime.Hub
	Subscriber Subscriber
	// Origins are the origins (--cors-origins) whose browser apps may
	// open a WebSocket besides the server's own ("*": any).
	Origins []string
	// Host is the host a request was sent to, which a browser's
	// WebSocket may come from without being in Origins (r.Host when
	// nil; a gateway in front tells the one it was sent).
	Host func(*http.Request) string
	// InitTimeout bounds the wait for a connection's connection_init
	// (DefaultInitTimeout when zero); Heartbeat is the interval of its
	// pings (DefaultHeartbeat when zero).
	InitTimeout, Heartbeat time.Duration
	// MaxOperations bounds the operations running on one connection
	// (DefaultMaxOperations when zero), MaxConnectionsPerIP the open
	// connections of one client address (DefaultMaxConnectionsPerIP).
	MaxOperations, MaxConnectionsPerIP int
}

// API serves GraphQL over HTTP (POST and GET /graphql) per the
// GraphQL-over-HTTP specification.
type API struct {
	svc     Services
	catalog Cataloger
	opts    Options
	// schemas are the schemas built, by their catalog's fingerprint;
	// documents the documents parsed, by schema fingerprint and text.
	schemas   *lru.Cache[[32]byte, *Schema]
	documents *lru.Cache[docKey, *ast.QueryDocument]
	// persisted are the texts of automatic persisted queries, by the hex
	// SHA-256 of each.
	persisted  *lru.Cache[string, string]
	validation Validation
	ideCSP     string
	// conns are the open WebSocket connections.
	conns conns
	// bufs are buffers to write answers in (*[]byte).
	bufs sync.Pool
}

// maxPooledAnswer is the largest buffer kept for the next answer.
const maxPooledAnswer = 256 << 10

type docKey struct {
	schema [32]byte
	query  string
}

// New returns the API over svc, whose callers' schemas come from cat.
func New(svc Services, cat Cataloger, opts Options) (*API, error) {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 10
	}
	if opts.CacheEntries <= 0 {
		opts.CacheEntries = 1000
	}
	opts.Limits = opts.Limits.withDefaults()
	if opts.InitTimeout <= 0 {
		opts.InitTimeout = DefaultInitTimeout
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.MaxOperations <= 0 {
		opts.MaxOperations = DefaultMaxOperations
	}
	if opts.MaxConnectionsPerIP <= 0 {
		opts.MaxConnectionsPerIP = DefaultMaxConnectionsPerIP
	}
	schemas, err := lru.New[[32]byte, *Schema](opts.CacheEntries)
	if err != nil {
		return nil, err
	}
	documents, err := lru.New[docKey, *ast.QueryDocument](opts.CacheEntries)
	if err != nil {
		return nil, err
	}
	persisted, err := lru.New[string, string](opts.CacheEntries)
	if err != nil {
		return nil, err
	}
	return &API{svc: svc, catalog: cat, opts: opts, schemas: schemas, documents: documents, persisted: persisted,
		validation: NewValidation(!opts.NoIntrospection, !opts.NoSuggestions), ideCSP: ideCSP()}, nil
}

// request is one GraphQL-over-HTTP request's parameters.
type request struct {
	Query         *string         `json:"query"`
	OperationName *string         `json:"operationName"`
	Variables     map[string]any  `json:"variables"`
	Extensions    json.RawMessage `json:"extensions"`
	// persisted is the request's automatic persisted query, if any.
	persisted *persistedQuery
}

// extensions are the request extensions Basalt reads.
type extensions struct {
	// PersistedQuery is Apollo's automatic persisted query: the query's
	// SHA-256, with or without its text.
	PersistedQuery *persistedQuery `json:"persistedQuery"`
}

type persistedQuery struct {
	Version    int    `json:"version"`
	SHA256Hash string `json:"sha256Hash"`
}

// orNull is b, or the JSON null when b is empty.
func orNull(b []byte) []byte {
	if len(bytes.TrimSpace(b)) == 0 {
		return []byte("null")
	}
	return b
}

// ServeHTTP answers POST and GET /graphql.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isUpgrade(r) {
		a.serveWS(w, r)
		return
	}
	if a.opts.IDE && wantsIDE(r) {
		a.serveIDE(w)
		return
	}
	media, ok := negotiate(r.Header.Values("Accept"))
	if !ok {
		a.write(w, media, http.StatusNotAcceptable, requestError(fault.Invalid, "the answer is "+mediaGraphQLResponse+" or "+mediaJSON+": accept one"))
		return
	}
	// The limits and the caller are decided before the body is read: a
	// refused request costs no parsing.
	p, err := a.admit(w, r)
	if err != nil {
		if c := restapi.Challenge(err); c != "" {
			w.Header().Set("WWW-Authenticate", c)
		}
		if d := fault.RetryAfterOf(err); d > 0 {
			w.Header().Set("Retry-After", restapi.RetryAfterSeconds(d))
		}
		a.write(w, media, statusOf(err), Result{Errors: gqlerror.List{errorOf(err)}})
		return
	}
	var reqs []request
	batch := false
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		req := request{}
		if q.Has("query") {
			s := q.Get("query")
			req.Query = &s
		}
		if q.Has("operationName") {
			s := q.Get("operationName")
			req.OperationName = &s
		}
		if v := q.Get("variables"); v != "" {
			if err := decodeJSON([]byte(v), &req.Variables); err != nil {
				a.write(w, media, http.StatusBadRequest, requestError(fault.Invalid, "variables is not a JSON object: "+err.Error()))
				return
			}
		}
		if v := q.Get("extensions"); v != "" {
			req.Extensions = json.RawMessage(v)
		}
		reqs = []request{req}
	case http.MethodPost:
		ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || ct != mediaJSON {
			a.write(w, media, http.StatusUnsupportedMediaType, requestError(fault.UnsupportedMedia, "the body must be "+mediaJSON))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				a.write(w, media, http.StatusRequestEntityTooLarge, requestError(fault.PayloadTooLarge, "the body is larger than the limit"))
				return
			}
			a.write(w, media, http.StatusBadRequest, requestError(fault.Invalid, "the body could not be read"))
			return
		}
		if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '[' {
			batch = true
			if err := decodeJSON(body, &reqs); err != nil {
				a.write(w, media, http.StatusBadRequest, requestError(fault.Invalid, "the body is not a JSON array of GraphQL requests: "+err.Error()))
				return
			}
			if len(reqs) == 0 || len(reqs) > a.opts.MaxBatch {
				a.write(w, media, http.StatusBadRequest, requestError(fault.Invalid, "a batch holds 1 to "+itoa(a.opts.MaxBatch)+" requests"))
				return
			}
		} else {
			var req request
			if err := decodeJSON(body, &req); err != nil {
				a.write(w, media, http.StatusBadRequest, requestError(fault.Invalid, "the body is not a GraphQL request (a JSON object): "+err.Error()))
				return
			}
			reqs = []request{req}
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		a.write(w, media, http.StatusMethodNotAllowed, requestError(fault.Invalid, "GraphQL is served to GET and POST"))
		return
	}

	ctx := auth.WithPrincipal(r.Context(), p)
	for i, req := range reqs {
		var ext extensions
		if err := decodeJSON(orNull(req.Extensions), &ext); err != nil {
			a.write(w, media, http.StatusBadRequest, requestError(fault.Invalid, "extensions must be a JSON object: "+err.Error()))
			return
		}
		reqs[i].persisted = ext.PersistedQuery
	}
	ctx = withClient(ctx, client{ip: a.clientIP(r), userAgent: authapi.UserAgent(r)})
	// A mutation is also limited as a write, once per operation (as a
	// REST batch is), and the account flows in the auth class, by the
	// caller already authenticated.
	class := gateway.ClassRouteOf(w)
	write := func(route string) error {
		class(route) // the request's class in the metrics
		if a.opts.RateLimits == nil {
			return nil
		}
		caller := func() (auth.Principal, bool) { return p, true }
		_, err := a.opts.RateLimits.Admit(w, r, route, caller, func() (auth.Principal, error) { return p, nil })
		if d := fault.RetryAfterOf(err); d > 0 {
			w.Header().Set("Retry-After", restapi.RetryAfterSeconds(d))
		}
		return err
	}
	results := make([]Result, len(reqs))
	status := http.StatusOK
	for i, req := range reqs {
		var st int
		results[i], st = a.one(ctx, r.Method, req, write)
		if media == mediaJSON && st == http.StatusBadRequest && (req.persisted != nil || req.Query != nil && *req.Query != "") {
			// A GraphQL request error of a well-formed request: 200 with
			// the legacy type (GraphQL-over-HTTP).
			st = http.StatusOK
		}
		if !batch {
			status = st
		}
	}
	if batch {
		a.write(w, media, http.StatusOK, results)
		return
	}
	a.write(w, media, status, results[0])
}

// admit decides the request's rate limits and authenticates its caller.
func (a *API) admit(w http.ResponseWriter, r *http.Request) (auth.Principal, error) {
	values := r.Header.Values("Authorization")
	authenticate := func() (auth.Principal, error) {
		if a.opts.Authenticator == nil {
			return auth.Anonymous(), nil
		}
		return bearer.Authenticate(r.Context(), a.opts.Authenticator, values)
	}
	if a.opts.RateLimits == nil {
		return authenticate()
	}
	known := func() (auth.Principal, bool) {
		if a.opts.Authenticator == nil {
			return auth.Anonymous(), true
		}
		return bearer.Recognize(a.opts.Authenticator, values)
	}
	route := routePost
	if r.Method == http.MethodGet {
		route = routeGet
	}
	return a.opts.RateLimits.Admit(w, r, route, known, authenticate)
}

// one runs one request, a mutation once write admits it; the status is
// its answer's alone (a request error's is 400 when the answer is
// application/graphql-response+json).
func (a *API) one(ctx context.Context, method string, req request, write func(route string) error) (Result, int) {
	query, refused, ok := a.queryOf(req)
	if !ok {
		return refused, http.StatusBadRequest
	}
	s, err := a.schema(ctx)
	if err != nil {
		return Result{Errors: gqlerror.List{errorOf(err)}}, statusOf(err)
	}
	doc, errs := a.document(s, query)
	if len(errs) > 0 {
		status := http.StatusBadRequest
		if errs[0].Extensions["code"] == string(fault.PayloadTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		return Result{Errors: errs}, status
	}
	if p := req.persisted; p != nil && req.Query != nil {
		a.persisted.Add(strings.ToLower(p.SHA256Hash), query) // valid against a schema: kept for its hash
	}
	name := ""
	if req.OperationName != nil {
		name = *req.OperationName
	}
	if opDef := doc.Operations.ForName(name); opDef != nil && opDef.Operation == ast.Query && searchSelected(s, doc, opDef.SelectionSet) {
		if err := write(routeSearch); err != nil {
			return Result{Errors: gqlerror.List{errorOf(err)}}, statusOf(err)
		}
	} else if opDef != nil && opDef.Operation != ast.Query {
		if method == http.MethodGet {
			return requestError(fault.Invalid, "a "+string(opDef.Operation)+" is sent with POST"), http.StatusMethodNotAllowed
		}
		flows, writes := mutationClasses(doc, opDef.SelectionSet)
		for _, c := range []struct {
			route string
			in    bool
		}{{routeAuth, flows}, {routeMutation, writes}} {
			if !c.in {
				continue
			}
			if err := write(c.route); err != nil {
				return Result{Errors: gqlerror.List{errorOf(err)}}, statusOf(err)
			}
		}
	}
	res := Execute(ctx, s, a.svc, doc, name, req.Variables)
	if !res.executed {
		return res, http.StatusBadRequest
	}
	return res, http.StatusOK
}

// mutationClasses reports whether the root fields of a mutation's
// selection set (fragments expanded) hold account flows, and other
// writes.
func mutationClasses(doc *ast.QueryDocument, set ast.SelectionSet) (flows, writes bool) {
	seen := map[string]bool{}
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				switch {
				case authMutation(s.Name):
					flows = true
				case s.Name != "__typename":
					writes = true
				}
			case *ast.InlineFragment:
				walk(s.SelectionSet)
			case *ast.FragmentSpread:
				if f := doc.Fragments.ForName(s.Name); f != nil && !seen[s.Name] {
					seen[s.Name] = true
					walk(f.SelectionSet)
				}
			}
		}
	}
	walk(set)
	return flows, writes
}

// queryOf is the text of req's query: its own, or with only the hash of
// an automatic persisted query, the text registered under that hash by an
// earlier request (with both, the text must have that hash). A request
// whose hash is not known is answered PersistedQueryNotFound, the message
// Apollo's clients answer by sending the text with the hash.
func (a *API) queryOf(req request) (string, Result, bool) {
	p := req.persisted
	if p == nil {
		if req.Query == nil || *req.Query == "" {
			return "", requestError(fault.Invalid, "the request has no query"), false
		}
		return *req.Query, Result{}, true
	}
	if p.Version != 1 || len(p.SHA256Hash) != 64 {
		return "", requestError(fault.Invalid, "persistedQuery is version 1 with a sha256Hash of 64 hexadecimal digits"), false
	}
	if req.Query != nil && *req.Query != "" {
		sum := sha256.Sum256([]byte(*req.Query))
		if hex.EncodeToString(sum[:]) != strings.ToLower(p.SHA256Hash) {
			return "", requestError(fault.Invalid, "provided sha does not match query"), false
		}
		return *req.Query, Result{}, true
	}
	if q, ok := a.persisted.Get(strings.ToLower(p.SHA256Hash)); ok {
		return q, Result{}, true
	}
	return "", requestError(fault.NotFound, "PersistedQueryNotFound"), false
}

// schema is the caller's schema, built once per distinct catalog.
func (a *API) schema(ctx context.Context) (*Schema, error) {
	cat, err := a.catalog.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	fp := fingerprint(cat)
	if s, ok := a.schemas.Get(fp); ok {
		return s, nil
	}
	s, err := BuildSchema(cat)
	if err != nil {
		return nil, fault.Internalf(op, err)
	}
	s.fingerprint = fp
	a.schemas.Add(fp, s)
	return s, nil
}

// fingerprint identifies a catalog's schema: callers whose catalogs are
// alike share one. It hashes what the schema is built from (names,
// actions, schemas), each part prefixed by its length.
func fingerprint(cat docstore.Catalog) [32]byte {
	h := sha256.New()
	part := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, e := range cat.Collections {
		part([]byte(e.Name))
		part([]byte(strings.Join(e.Actions, ",")))
		part(e.Schema)
		for _, f := range slices.Sorted(maps.Keys(e.References)) {
			part([]byte(f))
			part([]byte(e.References[f]))
		}
		if e.Search != nil {
			part([]byte(fmt.Sprint(e.Search.Text, e.Search.Vectors)))
		}
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// document is query parsed, validated and bounded against s, once per
// schema and text.
func (a *API) document(s *Schema, query string) (*ast.QueryDocument, gqlerror.List) {
	key := docKey{schema: s.fingerprint, query: query}
	if doc, ok := a.documents.Get(key); ok {
		return doc, nil
	}
	doc, errs := ParseWith(s, query, a.opts.Limits, a.validation)
	if len(errs) == 0 {
		a.documents.Add(key, doc)
	}
	return doc, errs
}

// negotiate picks the answer's media type from Accept: the GraphQL
// response type when accepted, else JSON (also without Accept); false
// when neither is.
func negotiate(accept []string) (string, bool) {
	if len(accept) == 0 {
		return mediaJSON, true
	}
	plain := false
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || params["q"] == "0" {
				continue
			}
			switch mt {
			case mediaGraphQLResponse:
				return mediaGraphQLResponse, true
			case mediaJSON, "*/*", "application/*":
				plain = true
			}
		}
	}
	return mediaJSON, plain
}

// write writes v as the answer, of media type media.
func (a *API) write(w http.ResponseWriter, media string, status int, v any) {
	var (
		b   []byte
		err error
	)
	if r, ok := v.(Result); ok {
		// The buffers of answers are reused: a page's answer is written
		// into one grown by earlier answers, rather than grown again.
		bp, _ := a.bufs.Get().(*[]byte)
		if bp == nil {
			bp = new([]byte)
		}
		b, err = appendResult((*bp)[:0], r)
		defer func() {
			if cap(b) <= maxPooledAnswer {
				*bp = b
				a.bufs.Put(bp)
			}
		}()
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		b, _ = json.Marshal(requestError(fault.Internal, "the answer could not be encoded"))
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", media+"; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// requestError is the answer to a request that does not run: no data.
func requestError(kind fault.Kind, msg string) Result {
	return Result{Errors: gqlerror.List{{Message: msg, Extensions: code(string(kind))}}}
}

// errorOf is err as a GraphQL error with its code.
func errorOf(err error) *gqlerror.Error {
	return &gqlerror.Error{Message: fault.Message(err), Extensions: code(fault.TypeOf(err))}
}

// statusOf is the HTTP status of an error that keeps a request from
// running: REST's for the same error.
func statusOf(err error) int { return restapi.ProblemFor(err).Status }

// decodeJSON decodes b into v, numbers kept as json.Number.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
