// Package authapi is the REST transport of the account service: the
// /v1/auth routes (sign-up, login, refresh, logout, sessions, password,
// email verification), the /v1/admin routes of accounts, API keys and
// signing keys, and the public JWKS at /.well-known/jwks.json.
//
// Like restapi, it is thin: each handler decodes the request strictly and
// within bounds, calls one accounts.Service method and encodes the answer.
// The service decides who may do what; routes that need a caller are
// wrapped in restapi.Authenticate, which only says who the caller is. Every
// error is an RFC 9457 problem written by restapi.WriteProblem.
package authapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
)

// DefaultMaxBodyBytes applies when Options.MaxBodyBytes is zero. The
// bodies of this API are small (the longest is an API key specification).
const DefaultMaxBodyBytes = 64 << 10

// Options configures an API.
type Options struct {
	// Logger receives internal errors (once each, with the request id).
	// Nil discards logs.
	Logger *slog.Logger
	// MaxBodyBytes bounds every request body; larger bodies are answered
	// 413 payload_too_large. Default 64 KiB.
	MaxBodyBytes int64
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed when they are the socket peer (see ClientIP). None by
	// default: the peer is the client.
	TrustedProxies []netip.Prefix
}

// API serves the account routes over an account service.
type API struct {
	svc  *accounts.Service
	opts Options
	log  *slog.Logger
}

// New returns the account API over svc.
func New(svc *accounts.Service, opts Options) *API {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{svc: svc, opts: opts, log: log}
}

// Route prefixes.
const (
	authBase  = "/v1/auth"
	adminBase = "/v1/admin"
	// JWKSPath is where the public signing keys are published.
	JWKSPath = "/.well-known/jwks.json"
)

// route is one method and path with its handler. public routes run without
// authentication; the others run behind restapi.Authenticate.
type route struct {
	method, path string
	public       bool
	h            http.HandlerFunc
}

func (a *API) routes() []route {
	return []route{
		{"POST", authBase + "/signup", true, a.signUp},
		{"POST", authBase + "/login", true, a.login},
		{"POST", authBase + "/refresh", true, a.refresh},
		{"POST", authBase + "/logout", false, a.logout},
		{"GET", authBase + "/me", false, a.me},
		{"DELETE", authBase + "/me", false, a.deleteMe},
		{"GET", authBase + "/sessions", false, a.sessions},
		{"DELETE", authBase + "/sessions/{id}", false, a.revokeSession},
		{"POST", authBase + "/password", false, a.changePassword},
		{"POST", authBase + "/password/reset", true, a.requestPasswordReset},
		{"POST", authBase + "/password/reset/confirm", true, a.resetPassword},
		{"POST", authBase + "/verify/request", false, a.requestVerification},
		{"POST", authBase + "/verify", true, a.verifyEmail},

		{"GET", adminBase + "/accounts", false, a.listAccounts},
		{"POST", adminBase + "/accounts", false, a.createAccount},
		{"GET", adminBase + "/accounts/{id}", false, a.getAccount},
		{"PATCH", adminBase + "/accounts/{id}", false, a.updateAccount},
		{"DELETE", adminBase + "/accounts/{id}", false, a.deleteAccount},
		{"GET", adminBase + "/accounts/{id}/sessions", false, a.accountSessions},
		{"DELETE", adminBase + "/sessions/{id}", false, a.revokeSession},
		{"GET", adminBase + "/api-keys", false, a.listAPIKeys},
		{"POST", adminBase + "/api-keys", false, a.createAPIKey},
		{"DELETE", adminBase + "/api-keys/{id}", false, a.revokeAPIKey},
		{"GET", adminBase + "/keys", false, a.listSigningKeys},
		{"POST", adminBase + "/keys/rotate", false, a.rotateKeys},

		{"GET", JWKSPath, true, a.jwks},
	}
}

// Register adds the routes to mux. Every path also answers other methods
// with a 405 problem listing the allowed ones in Allow. Every answer but
// the JWKS carries Cache-Control: no-store: they hold tokens, secrets or
// personal data.
func (a *API) Register(mux *http.ServeMux) {
	allowed := map[string][]string{}
	var paths []string
	for _, rt := range a.routes() {
		var h http.Handler = rt.h
		if !rt.public {
			h = restapi.Authenticate(a.svc, h)
		}
		if rt.path != JWKSPath {
			h = noStore(h)
		}
		mux.Handle(rt.method+" "+rt.path, h)
		if _, ok := allowed[rt.path]; !ok {
			paths = append(paths, rt.path)
		}
		allowed[rt.path] = append(allowed[rt.path], rt.method)
		if rt.method == http.MethodGet {
			allowed[rt.path] = append(allowed[rt.path], http.MethodHead)
		}
	}
	for _, p := range paths {
		mux.Handle(p, methodNotAllowed(allowed[p]))
	}
}

// noStore forbids caches to keep any answer of next.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// methodNotAllowed answers 405 with Allow, as a problem whose code is
// "invalid" (the request is wrong; the fault vocabulary has no kind for
// this transport-level answer), exactly like restapi's fallback.
func methodNotAllowed(allow []string) http.Handler {
	allowHeader := strings.Join(allow, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := restapi.ProblemFor(fault.New(fault.Invalid, op, "method "+r.Method+" is not allowed for "+r.URL.Path))
		p.Status, p.Title = http.StatusMethodNotAllowed, "Method not allowed"
		body, err := json.Marshal(p)
		if err != nil { // cannot happen: Problem holds only strings and ints
			restapi.WriteProblem(w, r, fault.Internalf(op, err))
			return
		}
		h := w.Header()
		h.Set("Allow", allowHeader)
		h.Set("Content-Type", restapi.ProblemContentType)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusMethodNotAllowed)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}

// writeJSON answers status with v encoded as JSON.
func (a *API) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		a.writeProblem(w, r, fault.Internalf(op+".encode", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// maxLoggedRequestID bounds the client-supplied request id written to logs.
const maxLoggedRequestID = 128

// writeProblem answers r with the problem for err through
// restapi.WriteProblem (which adds Retry-After and WWW-Authenticate), after
// logging an internal error once.
func (a *API) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	if fault.KindOf(err) == fault.Internal {
		a.logInternal(r, err)
	}
	restapi.WriteProblem(w, r, err)
}

// logInternal logs an internal error with the request's method, path and
// id. A request the client abandoned is logged at debug level only.
func (a *API) logInternal(r *http.Request, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return
	}
	rid := r.Header.Get("X-Request-ID")
	if len(rid) > maxLoggedRequestID {
		rid = rid[:maxLoggedRequestID]
	}
	level, msg := slog.LevelError, "authapi: internal error"
	if r.Context().Err() != nil {
		level, msg = slog.LevelDebug, "authapi: request canceled by the client"
	}
	a.log.LogAttrs(r.Context(), level, msg,
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("request_id", rid),
		slog.Any("error", err))
}
