// Package authapi is the REST transport of the account service: the
// /v1/auth routes (sign-up, login, refresh, logout, sessions, password,
// email verification), the /v1/admin routes of accounts, API keys and
// signing keys, and the public JWKS at /.well-known/jwks.json.
//
// Like restapi, it is thin: each handler decodes the request strictly and
// within bounds, calls one method of the account service (Accounts) and
// encodes the answer.
// The service decides who may do what; routes that need a caller are
// wrapped in restapi's bearer authentication, which only says who the
// caller is. Requests are decoded and answers written with restapi's shared
// HTTP plumbing (restapi.ParseQuery, restapi.ReadBody, restapi.Responder,
// …), so these routes accept and refuse requests exactly like the document
// routes, and every error is an RFC 9457 problem of restapi.WriteProblem.
package authapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/accounts"
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
	// Limits are the API-wide rate limits of every route, public ones
	// included (see restapi.Responder.Guard); nil limits nothing.
	Limits restapi.Limits
}

// Accounts is the account service the routes call; it also authenticates
// their bearer credentials. *accounts.Service is the one in the process;
// a client of an accounts component elsewhere is another. Its methods
// authorize the caller (auth.FromContext) themselves.
type Accounts interface {
	auth.Authenticator
	accounts.Auth
	accounts.Admin
	accounts.APIKeys
	JWKS(ctx context.Context) ([]byte, error)
}

var _ Accounts = (*accounts.Service)(nil)

// API serves the account routes over an account service.
type API struct {
	svc  Accounts
	opts Options
	resp *restapi.Responder
}

// New returns the account API over svc.
func New(svc Accounts, opts Options) *API {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return &API{svc: svc, opts: opts, resp: restapi.NewResponder("authapi", opts.Logger)}
}

// Route prefixes.
const (
	authBase  = "/v1/auth"
	adminBase = "/v1/admin"
	// JWKSPath is where the public signing keys are published.
	JWKSPath = "/.well-known/jwks.json"
)

// route is one method and path with its handler. public routes run without
// authentication; the others run behind restapi's bearer authentication.
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
		{"DELETE", adminBase + "/sessions/{id}", false, a.revokeAnySession},
		{"POST", adminBase + "/invites", false, a.createInvite},
		{"GET", adminBase + "/api-keys", false, a.listAPIKeys},
		{"POST", adminBase + "/api-keys", false, a.createAPIKey},
		{"DELETE", adminBase + "/api-keys/{id}", false, a.revokeAPIKey},
		{"GET", adminBase + "/keys", false, a.listSigningKeys},
		{"POST", adminBase + "/keys/rotate", false, a.rotateKeys},

		{"GET", JWKSPath, true, a.jwks},
	}
}

// RoutePatterns returns the pattern ("METHOD /path") of every route
// Register adds, the 405 answers aside.
func RoutePatterns() []string {
	var out []string
	for _, rt := range (&API{}).routes() {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

// Register adds the routes to mux, each behind Options.Limits (public
// routes too). Every path also answers other methods with a 405 problem
// listing the allowed ones in Allow. Every answer but the JWKS carries
// Cache-Control: no-store: they hold tokens, secrets or personal data.
func (a *API) Register(mux *http.ServeMux) {
	var routes []restapi.Route
	for _, rt := range a.routes() {
		var h http.Handler = rt.h
		switch {
		case !rt.public:
			h = a.resp.Guard(rt.method+" "+rt.path, a.opts.Limits, a.svc, h)
		case a.opts.Limits != nil:
			h = a.resp.Guard(rt.method+" "+rt.path, a.opts.Limits, nil, h)
		}
		if rt.path != JWKSPath {
			h = restapi.NoStore(h)
		}
		routes = append(routes, restapi.Route{Method: rt.method, Path: rt.path, Handler: h.ServeHTTP})
	}
	restapi.RegisterRoutes(mux, routes, nil)
}
