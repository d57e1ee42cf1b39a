package e2e

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/apilimit"
	"github.com/basaltdev/basalt/internal/app"
	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/gateway/adminui"
	"github.com/basaltdev/basalt/internal/gateway/authapi"
	"github.com/basaltdev/basalt/internal/gateway/eventsapi"
	"github.com/basaltdev/basalt/internal/gateway/graphqlapi"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/gateway/rpcapi"
	"github.com/basaltdev/basalt/internal/gateway/webhookapi"
)

// The callers of the authorization table, one column each: anonymous, a
// user without roles, an admin user, and API keys with the admin role and
// one scope each, plus a key with every scope but no role.
var callers = []string{
	"anon", "user", "admin",
	"posts:read", "posts:write", "*:*",
	auth.ScopeCollectionsView, auth.ScopeCollectionsManage,
	auth.ScopeAdminAccounts, auth.ScopeAdminSessions, auth.ScopeAdminAPIKeys, auth.ScopeAdminSigningKeys,
	auth.ScopeAdminEvents, auth.ScopeAdminWebhooks,
	"no-role",
}

// codes is the expected status of each column of callers, in order.
type codes [15]int

// call is one request of a cell.
type call struct {
	method, path, body string
	headers            []string
	bearer             string // instead of the column's credential, when set
	h2c                bool   // sent over HTTP/2 (cleartext), not HTTP/1.1
	// subscription, when set, is a GraphQL subscription sent over
	// WebSocket (the upgrade is the GET of path): the answer is its
	// outcome (subscriptionOutcome).
	subscription string
}

// authzRow is one route of the table. req builds the request of one
// caller's cell (creating what the request acts on, so that every cell
// starts alike); gone, for routes that delete, reports whether the target
// is gone afterwards, which must agree with the answer.
type authzRow struct {
	route string // the pattern the server registers
	req   func(f *authzFixture, caller string) (call, string)
	gone  func(f *authzFixture, target string) bool
	want  codes
}

// Expected answers by group of callers, to keep the rows readable.
//
//	anon user admin p:r  p:w  *:*  c:v  c:m  a:acc a:ses a:key a:sig a:ev a:wh no-role
var (
	everyone = func(code int) codes {
		return codes{code, code, code, code, code, code, code, code, code, code, code, code, code, code, code}
	}
	// Documents of posts: everyone may read, admins write (rules), and a
	// key needs the document scope.
	readPosts  = codes{200, 200, 200, 200, 403, 200, 403, 403, 403, 403, 403, 403, 403, 403, 200}
	writePosts = func(ok int) codes {
		return codes{401, 403, ok, 403, ok, ok, 403, 403, 403, 403, 403, 403, 403, 403, 403}
	}
	// An update answers with the document, so a key needs get as well.
	updatePosts = codes{401, 403, 200, 403, 403, 200, 403, 403, 403, 403, 403, 403, 403, 403, 403}
	// Management: admins, and admin keys with the area's scope.
	manage = func(ok int, scopes ...string) codes {
		c := codes{401, 403, ok}
		for i, who := range callers[3:] {
			c[3+i] = 403
			if slices.Contains(scopes, who) {
				c[3+i] = ok
			}
		}
		return c
	}
	// A user's own account: users and admins, never API keys.
	self = func(ok int) codes {
		return codes{401, ok, ok, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403}
	}
)

// TestAuthorizationTable walks every route with every kind of caller and
// checks each answer against the table, which must name every route the
// server registers.
func TestAuthorizationTable(t *testing.T) {
	authorizationTable(t, newAuthzFixture(t, func(configure func(*app.Config)) *client {
		c, _, _ := serveApp(t, "sqlite", true, configure)
		return c
	}))
}

// TestAuthorizationTableSplit is the table through the gateway of a split
// deployment (accounts, documents and gateway apart, on PostgreSQL): the
// same answers, as the components decide them over gRPC.
func TestAuthorizationTableSplit(t *testing.T) {
	t.Parallel() // its own processes and databases
	authorizationTable(t, newAuthzFixture(t, func(configure func(*app.Config)) *client {
		return serveSplitApp(t, configure)
	}))
}

func authorizationTable(t *testing.T, f *authzFixture) {
	rows := authzRows()

	registered := append(restapi.RoutePatterns(), authapi.RoutePatterns()...)
	registered = append(registered, webhookapi.RoutePatterns()...)
	registered = append(registered, eventsapi.RoutePatterns()...)
	registered = append(registered, rpcapi.RoutePatterns()...)
	registered = append(registered, rpcapi.GetPatterns()...)
	registered = append(registered, graphqlapi.RoutePatterns()...)
	registered = append(registered, rpcapi.HealthPatterns()...)
	registered = append(registered, adminui.RoutePatterns()...)
	registered = append(registered, "GET /healthz", "GET /readyz", "GET /metrics")
	var inTable []string
	for _, r := range rows {
		inTable = append(inTable, r.route)
	}
	for _, p := range registered {
		if !slices.Contains(inTable, p) {
			t.Errorf("route %q is not in the authorization table", p)
		}
	}
	for _, p := range inTable {
		if !slices.Contains(registered, p) {
			t.Errorf("the authorization table names %q, which the server does not register", p)
		}
	}

	// Every route is rate limited, but the operators' probes and metrics,
	// and the admin console's static files (served from memory; the API
	// calls the console makes are limited like any other).
	unlimited := append([]string{"GET /healthz", "GET /readyz", "GET /metrics"}, rpcapi.HealthPatterns()...)
	unlimited = append(unlimited, adminui.RoutePatterns()...)
	for _, row := range rows {
		t.Run(row.route, func(t *testing.T) {
			for i, who := range callers {
				f.t = t
				c, target := row.req(f, who)
				bearer := f.bearer(who)
				if c.bearer != "" {
					bearer = c.bearer
				}
				cl := f.base.as(bearer)
				if c.h2c {
					cl.http = h2cClient(t)
				}
				var r response
				if c.subscription != "" {
					r = subscriptionOutcome(t, cl, c.subscription)
				} else {
					r = cl.do(c.method, c.path, c.body, c.headers...)
				}
				if c.h2c && r.Status == 200 {
					r.Status = streamOutcome(t, r.Body)
				}
				if r.Status != row.want[i] {
					t.Errorf("%s: %s %s: status %d, want %d\n%s", who, c.method, c.path, r.Status, row.want[i], r.Body)
					continue
				}
				errorType := "application/problem+json"
				switch {
				case c.h2c:
					errorType = "application/connect+json" // a Connect stream's, in its last message
				case strings.HasPrefix(row.route, "POST /basalt.v1.") || strings.HasPrefix(row.route, "GET /basalt.v1.") ||
					strings.HasPrefix(row.route, "POST /grpc."):
					errorType = "application/json" // the Connect protocol's errors
				case c.subscription != "":
					errorType = "" // an error message of the connection
				case strings.HasSuffix(row.route, " /graphql"):
					errorType = "application/graphql-response+json; charset=utf-8" // GraphQL's errors
				}
				if r.Status >= 400 && errorType != "" && r.Header.Get("Content-Type") != errorType {
					t.Errorf("%s: %s %s: %d with Content-Type %q", who, c.method, c.path, r.Status, r.Header.Get("Content-Type"))
				}
				if limited := !slices.Contains(unlimited, row.route); limited != (r.Header.Get("RateLimit") != "") {
					t.Errorf("%s: %s %s: RateLimit %q, want it on every route but %q", who, c.method, c.path, r.Header.Get("RateLimit"), unlimited)
				}
				if row.gone != nil {
					if gone := row.gone(f, target); gone != (r.Status < 300) {
						t.Errorf("%s: %s %s answered %d, and the target is gone: %v", who, c.method, c.path, r.Status, gone)
					}
				}
			}
		})
	}
}

// authzFixture is the server of the table with its callers' credentials.
type authzFixture struct {
	t     *testing.T
	base  *client // anonymous
	admin *client
	user  *client // the user column's account
	keys  map[string]string
	seq   atomic.Int64
}

const authzPassword = "authz test password"

func newAuthzFixture(t *testing.T, serve func(configure func(*app.Config)) *client) *authzFixture {
	c := serve(func(cfg *app.Config) {
		// The table logs in far more often than a person would.
		cfg.Auth.LoginIPBurst, cfg.Auth.LoginEmailBurst = 100_000, 100_000
		cfg.Auth.PasswordMaxRate = 100_000
		cfg.Auth.PasswordMemoryKiB = 8192
		// And calls far faster than any client, all from one address: the
		// rate limits stay on (every answer carries them) with budgets it
		// cannot spend.
		for _, class := range apilimit.Classes() {
			for _, kind := range apilimit.Kinds() {
				if err := cfg.RateLimits.Set(class.String() + ":" + kind.String() + "=1000000/1s:1000000"); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
	f := &authzFixture{t: t, base: c, keys: map[string]string{}}
	f.admin = c.as(c.login(adminEmail, adminPassword).AccessToken)
	f.user = c.as(c.signUp("user@authz.test", authzPassword).AccessToken)
	f.admin.must(201, "POST", "/v1/collections",
		`{"name":"posts","schema":{"type":"object","properties":{"title":{"type":"string"}}},"rules":{"list":"","get":""},`+
			`"search":{"text":{"fields":{"title":1}}}}`)
	every := append([]string{"*:*"}, auth.ManagementScopes()...)
	for _, who := range callers[3:] {
		roles, scopes := []string{auth.RoleAdmin}, []string{who}
		if who == "no-role" {
			roles, scopes = nil, every
		}
		body := fmt.Sprintf(`{"name":%q,"roles":%s,"scopes":%s}`, who, jsonList(roles), jsonList(scopes))
		var k struct{ Key string }
		decodeInto(t, f.admin.must(201, "POST", "/v1/admin/api-keys", body), &k)
		f.keys[who] = k.Key
	}
	return f
}

func decodeInto(t *testing.T, r response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%v\n%s", err, r.Body)
	}
}

func jsonList(s []string) string {
	if len(s) == 0 {
		return "[]"
	}
	return `["` + strings.Join(s, `","`) + `"]`
}

// bearer is the credential of a column.
func (f *authzFixture) bearer(who string) string {
	switch who {
	case "anon":
		return ""
	case "user":
		return f.user.token
	case "admin":
		return f.admin.token
	}
	return f.keys[who]
}

// name returns a name no earlier cell used.
func (f *authzFixture) name(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, f.seq.Add(1))
}

// account creates a fresh account (with roles) and returns its ID and
// email address.
func (f *authzFixture) account(roles ...string) (id, email string) {
	email = f.name("acct") + "@authz.test"
	body := fmt.Sprintf(`{"email":%q,"password":%q,"roles":%s}`, email, authzPassword, jsonList(roles))
	return f.admin.must(201, "POST", "/v1/admin/accounts", body).JSON(f.t)["id"].(string), email
}

// fresh returns, for the user and admin columns, a bearer of a new account
// of that kind (for routes that change or end the caller's own account),
// and the column's usual credential for the others.
func (f *authzFixture) fresh(who string) (bearer, email string) {
	switch who {
	case "user", "admin":
		var roles []string
		if who == "admin" {
			roles = []string{auth.RoleAdmin}
		}
		_, email = f.account(roles...)
		return f.base.login(email, authzPassword).AccessToken, email
	}
	return f.bearer(who), ""
}

// post creates a document of posts and returns its ID.
func (f *authzFixture) post() string {
	id := f.name("p")
	f.admin.must(201, "POST", "/v1/collections/posts/documents?id="+id, `{"title":"t"}`)
	return id
}

// collection creates a collection and returns its name.
func (f *authzFixture) collection() string {
	n := f.name("c")
	f.admin.must(201, "POST", "/v1/collections", `{"name":"`+n+`"}`)
	return n
}

func fixed(method, path, body string) func(*authzFixture, string) (call, string) {
	return func(*authzFixture, string) (call, string) { return call{method: method, path: path, body: body}, "" }
}

func authzRows() []authzRow {
	const docs = "/v1/collections/posts/documents"
	rows := []authzRow{
		// Process routes: open to everyone (the metrics token is not any of these).
		{route: "GET /healthz", req: fixed("GET", "/healthz", ""), want: everyone(200)},
		{route: "GET /readyz", req: fixed("GET", "/readyz", ""), want: everyone(200)},
		{route: "GET /metrics", req: fixed("GET", "/metrics", ""), want: everyone(401)},

		// The admin console's files are public: it holds no privilege, and
		// signs an admin in through the API (GET /_ redirects to /_/).
		{route: "GET /_/{file...}", req: fixed("GET", "/_/", ""), want: everyone(200)},
		{route: "GET /_", req: fixed("GET", "/_", ""), want: everyone(200)},

		// Collections.
		{route: "GET /v1/collections", req: fixed("GET", "/v1/collections", ""),
			want: manage(200, auth.ScopeCollectionsView, auth.ScopeCollectionsManage)},
		{route: "POST /v1/collections", req: func(f *authzFixture, _ string) (call, string) {
			return call{method: "POST", path: "/v1/collections", body: `{"name":"` + f.name("n") + `"}`}, ""
		}, want: manage(201, auth.ScopeCollectionsManage)},
		{route: "GET /v1/collections/{collection}", req: fixed("GET", "/v1/collections/posts", ""),
			want: manage(200, auth.ScopeCollectionsView, auth.ScopeCollectionsManage)},
		{route: "PUT /v1/collections/{collection}", req: func(f *authzFixture, _ string) (call, string) {
			return call{method: "PUT", path: "/v1/collections/" + f.collection(), body: `{"schema":{"type":"object"}}`}, ""
		}, want: manage(200, auth.ScopeCollectionsManage)},
		{route: "PATCH /v1/collections/{collection}", req: func(f *authzFixture, _ string) (call, string) {
			return call{method: "PATCH", path: "/v1/collections/" + f.collection(), body: `{"rules":{"get":""}}`,
				headers: []string{"Content-Type", "application/merge-patch+json"}}, ""
		}, want: manage(200, auth.ScopeCollectionsManage)},
		{route: "DELETE /v1/collections/{collection}", req: func(f *authzFixture, _ string) (call, string) {
			n := f.collection()
			return call{method: "DELETE", path: "/v1/collections/" + n}, n
		}, gone: func(f *authzFixture, n string) bool {
			return f.admin.do("GET", "/v1/collections/"+n, "").Status == 404
		}, want: manage(204, auth.ScopeCollectionsManage)},
		// Everyone gets the document, describing what they may reach.
		{route: "GET /v1/openapi.json", req: fixed("GET", "/v1/openapi.json", ""), want: everyone(200)},

		// Documents.
		{route: "GET /v1/collections/{collection}/documents", req: fixed("GET", docs, ""), want: readPosts},
		{route: "POST /v1/collections/{collection}/documents", req: fixed("POST", docs, `{"title":"new"}`), want: writePosts(201)},
		{route: "GET /v1/collections/{collection}/documents/{id}", req: func(f *authzFixture, _ string) (call, string) {
			return call{method: "GET", path: docs + "/" + f.post()}, ""
		}, want: readPosts},
		{route: "PUT /v1/collections/{collection}/documents/{id}", req: func(f *authzFixture, _ string) (call, string) {
			return call{method: "PUT", path: docs + "/" + f.post(), body: `{"title":"replaced"}`}, ""
		}, want: updatePosts},
		{route: "PATCH /v1/collections/{collection}/documents/{id}", req: func(f *authzFixture, _ string) (call, string) {
			return call{method: "PATCH", path: docs + "/" + f.post(), body: `{"title":"patched"}`,
				headers: []string{"Content-Type", "application/merge-patch+json"}}, ""
		}, want: updatePosts},
		{route: "DELETE /v1/collections/{collection}/documents/{id}", req: func(f *authzFixture, _ string) (call, string) {
			id := f.post()
			return call{method: "DELETE", path: docs + "/" + id}, id
		}, gone: func(f *authzFixture, id string) bool {
			return f.admin.do("GET", docs+"/"+id, "").Status == 404
		}, want: writePosts(204)},
		// Search: a list with a query, under the same rule and scopes.
		{route: "GET /v1/collections/{collection}/search", req: fixed("GET", "/v1/collections/posts/search?q=t", ""), want: readPosts},
		{route: "POST /v1/collections/{collection}/search", req: fixed("POST", "/v1/collections/posts/search", `{"q":"t"}`), want: readPosts},
		// Realtime: HEAD makes every check of a subscription and answers
		// without opening the stream.
		{route: "GET /v1/collections/{collection}/events", req: fixed("HEAD", "/v1/collections/posts/events", ""), want: readPosts},
		{route: "GET /v1/collections/{collection}/documents/{id}/events", req: func(f *authzFixture, _ string) (call, string) {
			return call{method: "HEAD", path: docs + "/" + f.post() + "/events"}, ""
		}, want: readPosts},
		{route: "POST /v1/batch", req: fixed("POST", "/v1/batch",
			`{"operations":[{"op":"create","collection":"posts","data":{"title":"batched"}}]}`), want: writePosts(200)},

		// The caller's own account.
		{route: "POST /v1/auth/signup", req: func(f *authzFixture, _ string) (call, string) {
			return call{method: "POST", path: "/v1/auth/signup", body: credentials(f.t, f.name("s")+"@authz.test", authzPassword)}, ""
		}, want: everyone(202)},
		{route: "POST /v1/auth/login", req: fixed("POST", "/v1/auth/login", `{"email":"user@authz.test","password":"`+authzPassword+`"}`),
			want: everyone(200)},
		{route: "POST /v1/auth/refresh", req: func(f *authzFixture, _ string) (call, string) {
			tk := f.base.login("user@authz.test", authzPassword)
			return call{method: "POST", path: "/v1/auth/refresh", body: `{"refreshToken":"` + tk.RefreshToken + `"}`}, ""
		}, want: everyone(200)},
		{route: "POST /v1/auth/logout", req: func(f *authzFixture, who string) (call, string) {
			b, _ := f.fresh(who)
			return call{method: "POST", path: "/v1/auth/logout", bearer: b}, b
		}, gone: func(f *authzFixture, b string) bool {
			return b != "" && f.base.as(b).do("GET", "/v1/auth/sessions", "").Status == 401
		}, want: self(204)},
		{route: "GET /v1/auth/me", req: fixed("GET", "/v1/auth/me", ""), want: self(200)},
		{route: "DELETE /v1/auth/me", req: func(f *authzFixture, who string) (call, string) {
			b, email := f.fresh(who)
			return call{method: "DELETE", path: "/v1/auth/me", body: `{"password":"` + authzPassword + `"}`, bearer: b}, email
		}, gone: func(f *authzFixture, email string) bool {
			return email != "" && f.base.do("POST", "/v1/auth/login", credentials(f.t, email, authzPassword)).Status == 401
		}, want: self(204)},
		{route: "GET /v1/auth/sessions", req: fixed("GET", "/v1/auth/sessions", ""), want: self(200)},
		{route: "DELETE /v1/auth/sessions/{id}", req: func(f *authzFixture, who string) (call, string) {
			// A second session of the caller's own account.
			email := "user@authz.test"
			if who == "admin" {
				email = adminEmail
			}
			pw := map[string]string{adminEmail: adminPassword}[email]
			if pw == "" {
				pw = authzPassword
			}
			return call{method: "DELETE", path: "/v1/auth/sessions/" + f.base.login(email, pw).Session.ID}, ""
		}, want: self(204)},
		{route: "POST /v1/auth/password", req: func(f *authzFixture, who string) (call, string) {
			b, _ := f.fresh(who)
			return call{method: "POST", path: "/v1/auth/password", bearer: b,
				body: `{"currentPassword":"` + authzPassword + `","newPassword":"another password"}`}, ""
		}, want: self(204)},
		{route: "POST /v1/auth/password/reset", req: fixed("POST", "/v1/auth/password/reset", `{"email":"user@authz.test"}`),
			want: everyone(202)},
		{route: "POST /v1/auth/password/reset/confirm", req: fixed("POST", "/v1/auth/password/reset/confirm",
			`{"token":"bse_made-up","newPassword":"a new password"}`), want: everyone(400)},
		{route: "POST /v1/auth/verify/request", req: fixed("POST", "/v1/auth/verify/request", ""), want: self(202)},
		{route: "POST /v1/auth/verify", req: fixed("POST", "/v1/auth/verify", `{"token":"bse_made-up"}`), want: everyone(400)},

		// Administration.
		{route: "GET /v1/admin/accounts", req: fixed("GET", "/v1/admin/accounts", ""), want: manage(200, auth.ScopeAdminAccounts)},
		{route: "POST /v1/admin/accounts", req: func(f *authzFixture, _ string) (call, string) {
			return call{method: "POST", path: "/v1/admin/accounts", body: credentials(f.t, f.name("a")+"@authz.test", authzPassword)}, ""
		}, want: manage(201, auth.ScopeAdminAccounts)},
		{route: "GET /v1/admin/accounts/{id}", req: func(f *authzFixture, _ string) (call, string) {
			id, _ := f.account()
			return call{method: "GET", path: "/v1/admin/accounts/" + id}, ""
		}, want: manage(200, auth.ScopeAdminAccounts)},
		{route: "PATCH /v1/admin/accounts/{id}", req: func(f *authzFixture, _ string) (call, string) {
			id, _ := f.account()
			return call{method: "PATCH", path: "/v1/admin/accounts/" + id, body: `{"disabled":true}`}, ""
		}, want: manage(200, auth.ScopeAdminAccounts)},
		{route: "DELETE /v1/admin/accounts/{id}", req: func(f *authzFixture, _ string) (call, string) {
			id, _ := f.account()
			return call{method: "DELETE", path: "/v1/admin/accounts/" + id}, id
		}, gone: func(f *authzFixture, id string) bool {
			return f.admin.do("GET", "/v1/admin/accounts/"+id, "").Status == 404
		}, want: manage(204, auth.ScopeAdminAccounts)},
		{route: "GET /v1/admin/accounts/{id}/sessions", req: func(f *authzFixture, _ string) (call, string) {
			return call{method: "GET", path: "/v1/admin/accounts/" + f.user.accountID() + "/sessions"}, ""
		}, want: manage(200, auth.ScopeAdminSessions)},
		{route: "DELETE /v1/admin/sessions/{id}", req: func(f *authzFixture, _ string) (call, string) {
			tk := f.base.login("user@authz.test", authzPassword)
			return call{method: "DELETE", path: "/v1/admin/sessions/" + tk.Session.ID}, tk.AccessToken
		}, gone: func(f *authzFixture, access string) bool {
			return f.base.as(access).do("GET", "/v1/auth/me", "").Status == 401
		}, want: manage(204, auth.ScopeAdminSessions)},
		{route: "POST /v1/admin/invites", req: func(f *authzFixture, _ string) (call, string) {
			return call{method: "POST", path: "/v1/admin/invites", body: `{"email":"` + f.name("i") + `@authz.test"}`}, ""
		}, want: manage(202, auth.ScopeAdminAccounts)},
		{route: "GET /v1/admin/api-keys", req: fixed("GET", "/v1/admin/api-keys", ""), want: manage(200, auth.ScopeAdminAPIKeys)},
		{route: "POST /v1/admin/api-keys", req: fixed("POST", "/v1/admin/api-keys", `{"name":"made","scopes":["admin:api-keys"]}`),
			want: manage(201, auth.ScopeAdminAPIKeys)},
		{route: "DELETE /v1/admin/api-keys/{id}", req: func(f *authzFixture, _ string) (call, string) {
			var k struct{ ID, Key string }
			decodeInto(f.t, f.admin.must(201, "POST", "/v1/admin/api-keys", `{"name":"victim","scopes":["posts:read"]}`), &k)
			return call{method: "DELETE", path: "/v1/admin/api-keys/" + k.ID}, k.Key
		}, gone: func(f *authzFixture, key string) bool {
			return f.base.as(key).do("GET", docs, "").Status == 401
		}, want: manage(204, auth.ScopeAdminAPIKeys)},
		{route: "GET /v1/admin/keys", req: fixed("GET", "/v1/admin/keys", ""), want: manage(200, auth.ScopeAdminSigningKeys)},
		{route: "POST /v1/admin/keys/rotate", req: fixed("POST", "/v1/admin/keys/rotate", ""), want: manage(201, auth.ScopeAdminSigningKeys)},

		{route: "GET /.well-known/jwks.json", req: fixed("GET", "/.well-known/jwks.json", ""), want: everyone(200)},
	}
	rows = append(rows, webhookRows()...)
	rows = append(rows, rpcRows()...)
	rows = append(rows, rpcAccountRows()...)
	rows = append(rows, rpcGetRows(rows)...)
	rows = append(rows, graphqlRows()...)
	return append(rows, eventsAdminRows()...)
}

// graphqlRows get, search, subscribe to and delete a post through
// GraphQL: the callers who may get (list, delete) posts find postsById
// and postsByIdChanges (postsSearch, postsDelete) in their schema (200);
// for the others the field does not exist, and the document is refused
// before it runs (400).
func graphqlRows() []authzRow {
	absent := func(c codes) codes {
		for i, code := range c {
			if code == 401 || code == 403 {
				c[i] = 400
			}
		}
		return c
	}
	want := absent(readPosts)
	query := func(f *authzFixture) string { return `{ postsById(id: "` + f.post() + `") { id } }` }
	accept := []string{"Accept", "application/graphql-response+json"}
	return []authzRow{
		{route: "POST /graphql", req: func(f *authzFixture, _ string) (call, string) {
			body, err := json.Marshal(map[string]string{"query": query(f)})
			if err != nil {
				f.t.Fatal(err)
			}
			return call{method: "POST", path: "/graphql", body: string(body), headers: append([]string{"Content-Type", "application/json"}, accept...)}, ""
		}, want: want},
		{route: "GET /graphql", req: func(f *authzFixture, _ string) (call, string) {
			return call{method: "GET", path: "/graphql?query=" + url.QueryEscape(query(f)), headers: accept}, ""
		}, want: want},
		// A search: the field of the callers who may list posts.
		{route: "POST /graphql", req: func(f *authzFixture, _ string) (call, string) {
			return call{method: "POST", path: "/graphql", body: `{"query": "{ postsSearch(q: \"t\") { nodes { id } } }"}`,
				headers: append([]string{"Content-Type", "application/json"}, accept...)}, ""
		}, want: want},
		// A subscription over WebSocket to a post's changes: opened for
		// the callers who may get it.
		{route: "GET /graphql", req: func(f *authzFixture, _ string) (call, string) {
			return call{method: "GET", path: "/graphql", subscription: `subscription { postsByIdChanges(id: "` + f.post() + `") { type } }`}, ""
		}, want: want},
		{route: "POST /graphql", req: func(f *authzFixture, _ string) (call, string) {
			id := f.post()
			body, err := json.Marshal(map[string]string{"query": `mutation { postsDelete(id: "` + id + `") { id } }`})
			if err != nil {
				f.t.Fatal(err)
			}
			return call{method: "POST", path: "/graphql", body: string(body), headers: append([]string{"Content-Type", "application/json"}, accept...)}, id
		}, gone: func(f *authzFixture, id string) bool {
			return f.admin.do("GET", "/v1/collections/posts/documents/"+id, "").Status == 404
		}, want: absent(writePosts(200))},
	}
}

// rpcGetRows are the procedures that change nothing called as Connect
// GETs, the message in the URL: the answers of their POST rows in rows.
func rpcGetRows(rows []authzRow) []authzRow {
	var out []authzRow
	for _, get := range rpcapi.GetPatterns() {
		i := slices.IndexFunc(rows, func(r authzRow) bool { return r.route == "POST "+strings.TrimPrefix(get, "GET ") })
		if i < 0 {
			out = append(out, authzRow{route: get}) // no row to mirror: the table reports it missing
			continue
		}
		row := rows[i]
		req := row.req
		row.route, row.req = get, func(f *authzFixture, who string) (call, string) {
			c, target := req(f, who)
			c.method, c.path = "GET", c.path+"?connect=v1&encoding=json&message="+url.QueryEscape(c.body)
			c.body, c.headers = "", nil
			return c, target
		}
		out = append(out, row)
	}
	return out
}

// rpc is a call of a basalt.v1 procedure in the Connect protocol with a
// JSON message: a success is 200, an error the status of its code (401,
// 403, 404 …) with a JSON body.
func rpc(procedure, message string) call {
	return call{method: "POST", path: procedure, body: message, headers: []string{"Content-Type", "application/json"}}
}

// rpcStream is a call of a streaming procedure over the Connect protocol,
// with one JSON message, over HTTP/2.
func rpcStream(procedure, message string) call {
	prefix := []byte{0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(prefix[1:], uint32(len(message)))
	return call{method: "POST", path: procedure, body: string(prefix) + message,
		headers: []string{"Content-Type", "application/connect+json"}, h2c: true}
}

// streamOutcome is the status that stands for how a Connect stream ended:
// 200 when it ended without error or by its deadline (Connect-Timeout-Ms:
// the stream was admitted and open), else the HTTP status of its error's
// code, as the Connect protocol maps them for unary calls.
func streamOutcome(t *testing.T, body []byte) int {
	t.Helper()
	var last []byte
	for len(body) >= 5 {
		n := int(binary.BigEndian.Uint32(body[1:5]))
		if len(body) < 5+n {
			t.Fatalf("a truncated stream message: %q", body)
		}
		if body[0]&0x02 != 0 {
			last = body[5 : 5+n]
		}
		body = body[5+n:]
	}
	var end struct {
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(last, &end); err != nil {
		t.Fatalf("the stream's end message %q: %v", last, err)
	}
	if end.Error == nil {
		return 200
	}
	status := map[string]int{"deadline_exceeded": 200, "invalid_argument": 400, "unauthenticated": 401, "permission_denied": 403,
		"not_found": 404, "resource_exhausted": 429, "unimplemented": 501, "unavailable": 503}[end.Error.Code]
	if status == 0 {
		t.Fatalf("the stream ended with %q", end.Error.Code)
	}
	return status
}

// h2cClient is an HTTP client that speaks HTTP/2 without TLS.
func h2cClient(t *testing.T) *http.Client {
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: protocols}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// b64 is JSON text as a bytes field of a JSON message.
func b64(json string) string { return `"` + base64.StdEncoding.EncodeToString([]byte(json)) + `"` }

// rpcRows are the basalt.v1 procedures, with the answers of the REST
// routes they mirror.
func rpcRows() []authzRow {
	const docs, colls = "/basalt.v1.DocumentService/", "/basalt.v1.CollectionService/"
	fixedRPC := func(procedure, message string) func(*authzFixture, string) (call, string) {
		return func(*authzFixture, string) (call, string) { return rpc(procedure, message), "" }
	}
	postGone := func(f *authzFixture, id string) bool {
		return f.admin.do("GET", "/v1/collections/posts/documents/"+id, "").Status == 404
	}
	return []authzRow{
		{route: "POST " + docs + "GetDocument", req: func(f *authzFixture, _ string) (call, string) {
			return rpc(docs+"GetDocument", `{"collection":"posts","id":"`+f.post()+`"}`), ""
		}, want: readPosts},
		{route: "POST " + docs + "BatchGetDocuments", req: func(f *authzFixture, _ string) (call, string) {
			return rpc(docs+"BatchGetDocuments", `{"collection":"posts","ids":["`+f.post()+`"]}`), ""
		}, want: readPosts},
		{route: "POST " + docs + "ListDocuments", req: fixedRPC(docs+"ListDocuments", `{"collection":"posts"}`), want: readPosts},
		{route: "POST " + docs + "CreateDocument", req: fixedRPC(docs+"CreateDocument", `{"collection":"posts","data":`+b64(`{"title":"new"}`)+`}`),
			want: writePosts(200)},
		{route: "POST " + docs + "ReplaceDocument", req: func(f *authzFixture, _ string) (call, string) {
			return rpc(docs+"ReplaceDocument", `{"collection":"posts","id":"`+f.post()+`","data":`+b64(`{"title":"replaced"}`)+`}`), ""
		}, want: updatePosts},
		{route: "POST " + docs + "PatchDocument", req: func(f *authzFixture, _ string) (call, string) {
			return rpc(docs+"PatchDocument", `{"collection":"posts","id":"`+f.post()+`","patch":`+b64(`{"title":"patched"}`)+`}`), ""
		}, want: updatePosts},
		{route: "POST " + docs + "DeleteDocument", req: func(f *authzFixture, _ string) (call, string) {
			id := f.post()
			return rpc(docs+"DeleteDocument", `{"collection":"posts","id":"`+id+`"}`), id
		}, gone: postGone, want: writePosts(200)},
		{route: "POST " + docs + "Batch", req: fixedRPC(docs+"Batch",
			`{"operations":[{"create":{"collection":"posts","data":`+b64(`{"title":"batched"}`)+`}}]}`), want: writePosts(200)},

		{route: "POST " + colls + "ListCollections", req: fixedRPC(colls+"ListCollections", `{}`),
			want: manage(200, auth.ScopeCollectionsView, auth.ScopeCollectionsManage)},
		{route: "POST " + colls + "GetCollection", req: fixedRPC(colls+"GetCollection", `{"name":"posts"}`),
			want: manage(200, auth.ScopeCollectionsView, auth.ScopeCollectionsManage)},
		{route: "POST " + colls + "CreateCollection", req: func(f *authzFixture, _ string) (call, string) {
			return rpc(colls+"CreateCollection", `{"spec":{"name":"`+f.name("n")+`"}}`), ""
		}, want: manage(200, auth.ScopeCollectionsManage)},
		{route: "POST " + colls + "ReplaceCollection", req: func(f *authzFixture, _ string) (call, string) {
			return rpc(colls+"ReplaceCollection", `{"name":"`+f.collection()+`","spec":{"schema":`+b64(`{"type":"object"}`)+`}}`), ""
		}, want: manage(200, auth.ScopeCollectionsManage)},
		{route: "POST " + colls + "PatchCollection", req: func(f *authzFixture, _ string) (call, string) {
			return rpc(colls+"PatchCollection", `{"name":"`+f.collection()+`","patch":`+b64(`{"rules":{"get":""}}`)+`}`), ""
		}, want: manage(200, auth.ScopeCollectionsManage)},
		{route: "POST " + colls + "DeleteCollection", req: func(f *authzFixture, _ string) (call, string) {
			n := f.collection()
			return rpc(colls+"DeleteCollection", `{"name":"`+n+`"}`), n
		}, gone: func(f *authzFixture, n string) bool {
			return f.admin.do("GET", "/v1/collections/"+n, "").Status == 404
		}, want: manage(200, auth.ScopeCollectionsManage)},

		// A stream of the posts' changes, open for 300 ms: admitted like a
		// list of them.
		{route: "POST " + docs + "WatchDocuments", req: func(*authzFixture, string) (call, string) {
			c := rpcStream(docs+"WatchDocuments", `{"collection":"posts"}`)
			c.headers = append(c.headers, "Connect-Timeout-Ms", "300")
			return c, ""
		}, want: readPosts},

		// Health checks and reflection are public; the streams answer
		// 200 and carry any error in their last message.
		{route: "POST /grpc.health.v1.Health/Check", req: fixedRPC("/grpc.health.v1.Health/Check", `{}`), want: everyone(200)},
		{route: "POST /grpc.health.v1.Health/Watch", req: func(*authzFixture, string) (call, string) {
			return rpcStream("/grpc.health.v1.Health/Watch", `{}`), ""
		}, want: everyone(501)},
		{route: "POST /grpc.reflection.v1.ServerReflection/ServerReflectionInfo", req: func(*authzFixture, string) (call, string) {
			return rpcStream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", `{"listServices":""}`), ""
		}, want: everyone(200)},
		{route: "POST /grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", req: func(*authzFixture, string) (call, string) {
			return rpcStream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", `{"listServices":""}`), ""
		}, want: everyone(200)},
	}
}

// webhookRows are the rows of /v1/admin/webhooks. The webhooks point at a
// public address (no name to resolve) and wait for an event that never
// comes (posts is never deleted), so no cell sends anything.
func webhookRows() []authzRow {
	const hooks = "/v1/admin/webhooks"
	const spec = `{"url":"https://93.184.216.34/hook","collection":"posts","types":["collection.deleted"]}`
	var shared string // one webhook for the cells that leave it in place
	hook := func(f *authzFixture) string {
		if shared == "" {
			shared = f.admin.must(201, "POST", hooks, spec).JSON(f.t)["id"].(string)
		}
		return shared
	}
	on := func(method, suffix, body string) func(*authzFixture, string) (call, string) {
		return func(f *authzFixture, _ string) (call, string) {
			return call{method: method, path: hooks + "/" + hook(f) + suffix, body: body}, ""
		}
	}
	const missing = "/deliveries/0193b000-0000-7000-8000-000000000000"
	return []authzRow{
		{route: "GET " + hooks, req: fixed("GET", hooks, ""), want: manage(200, auth.ScopeAdminWebhooks)},
		{route: "POST " + hooks, req: fixed("POST", hooks, spec), want: manage(201, auth.ScopeAdminWebhooks)},
		{route: "GET " + hooks + "/{id}", req: on("GET", "", ""), want: manage(200, auth.ScopeAdminWebhooks)},
		{route: "PATCH " + hooks + "/{id}", req: on("PATCH", "", `{"description":"changed"}`), want: manage(200, auth.ScopeAdminWebhooks)},
		{route: "DELETE " + hooks + "/{id}", req: func(f *authzFixture, _ string) (call, string) {
			id := f.admin.must(201, "POST", hooks, spec).JSON(f.t)["id"].(string)
			return call{method: "DELETE", path: hooks + "/" + id}, id
		}, gone: func(f *authzFixture, id string) bool {
			return f.admin.do("GET", hooks+"/"+id, "").Status == 404
		}, want: manage(204, auth.ScopeAdminWebhooks)},
		{route: "POST " + hooks + "/{id}/rotate-secret", req: on("POST", "/rotate-secret", ""), want: manage(200, auth.ScopeAdminWebhooks)},
		{route: "GET " + hooks + "/{id}/deliveries", req: on("GET", "/deliveries", ""), want: manage(200, auth.ScopeAdminWebhooks)},
		// No delivery exists: the callers admitted learn that, the others
		// learn nothing.
		{route: "GET " + hooks + "/{id}/deliveries/{deliveryId}", req: on("GET", missing, ""), want: manage(404, auth.ScopeAdminWebhooks)},
		{route: "POST " + hooks + "/{id}/deliveries/{deliveryId}/redeliver", req: on("POST", missing+"/redeliver", ""),
			want: manage(404, auth.ScopeAdminWebhooks)},
	}
}

// rpcAccountRows are the basalt.v1 account procedures, with the answers
// of the REST routes they mirror (200 where REST answers 201, 202 or 204).
func rpcAccountRows() []authzRow {
	const authSvc, admin, keys = "/basalt.v1.AuthService/", "/basalt.v1.AdminService/", "/basalt.v1.APIKeyService/"
	fixedRPC := func(procedure, message string) func(*authzFixture, string) (call, string) {
		return func(*authzFixture, string) (call, string) { return rpc(procedure, message), "" }
	}
	withBearer := func(c call, b string) call {
		c.bearer = b
		return c
	}
	return []authzRow{
		{route: "POST " + authSvc + "SignUp", req: func(f *authzFixture, _ string) (call, string) {
			return rpc(authSvc+"SignUp", credentials(f.t, f.name("s")+"@authz.test", authzPassword)), ""
		}, want: everyone(200)},
		{route: "POST " + authSvc + "Login", req: fixedRPC(authSvc+"Login", `{"email":"user@authz.test","password":"`+authzPassword+`"}`),
			want: everyone(200)},
		{route: "POST " + authSvc + "Refresh", req: func(f *authzFixture, _ string) (call, string) {
			tk := f.base.login("user@authz.test", authzPassword)
			return rpc(authSvc+"Refresh", `{"refreshToken":"`+tk.RefreshToken+`"}`), ""
		}, want: everyone(200)},
		{route: "POST " + authSvc + "Logout", req: func(f *authzFixture, who string) (call, string) {
			b, _ := f.fresh(who)
			return withBearer(rpc(authSvc+"Logout", `{}`), b), b
		}, gone: func(f *authzFixture, b string) bool {
			return b != "" && f.base.as(b).do("GET", "/v1/auth/sessions", "").Status == 401
		}, want: self(200)},
		{route: "POST " + authSvc + "GetMe", req: fixedRPC(authSvc+"GetMe", `{}`), want: self(200)},
		{route: "POST " + authSvc + "DeleteMe", req: func(f *authzFixture, who string) (call, string) {
			b, email := f.fresh(who)
			return withBearer(rpc(authSvc+"DeleteMe", `{"password":"`+authzPassword+`"}`), b), email
		}, gone: func(f *authzFixture, email string) bool {
			return email != "" && f.base.do("POST", "/v1/auth/login", credentials(f.t, email, authzPassword)).Status == 401
		}, want: self(200)},
		{route: "POST " + authSvc + "ListSessions", req: fixedRPC(authSvc+"ListSessions", `{}`), want: self(200)},
		{route: "POST " + authSvc + "RevokeSession", req: func(f *authzFixture, who string) (call, string) {
			email, pw := "user@authz.test", authzPassword
			if who == "admin" {
				email, pw = adminEmail, adminPassword
			}
			return rpc(authSvc+"RevokeSession", `{"id":"`+f.base.login(email, pw).Session.ID+`"}`), ""
		}, want: self(200)},
		{route: "POST " + authSvc + "ChangePassword", req: func(f *authzFixture, who string) (call, string) {
			b, _ := f.fresh(who)
			return withBearer(rpc(authSvc+"ChangePassword", `{"currentPassword":"`+authzPassword+`","newPassword":"another password"}`), b), ""
		}, want: self(200)},
		{route: "POST " + authSvc + "RequestPasswordReset", req: fixedRPC(authSvc+"RequestPasswordReset", `{"email":"user@authz.test"}`),
			want: everyone(200)},
		{route: "POST " + authSvc + "ResetPassword", req: fixedRPC(authSvc+"ResetPassword", `{"token":"bse_made-up","newPassword":"a new password"}`),
			want: everyone(400)},
		{route: "POST " + authSvc + "RequestVerification", req: fixedRPC(authSvc+"RequestVerification", `{}`), want: self(200)},
		{route: "POST " + authSvc + "VerifyEmail", req: fixedRPC(authSvc+"VerifyEmail", `{"token":"bse_made-up"}`), want: everyone(400)},

		{route: "POST " + admin + "ListAccounts", req: fixedRPC(admin+"ListAccounts", `{}`), want: manage(200, auth.ScopeAdminAccounts)},
		{route: "POST " + admin + "CreateAccount", req: func(f *authzFixture, _ string) (call, string) {
			return rpc(admin+"CreateAccount", credentials(f.t, f.name("a")+"@authz.test", authzPassword)), ""
		}, want: manage(200, auth.ScopeAdminAccounts)},
		{route: "POST " + admin + "GetAccount", req: func(f *authzFixture, _ string) (call, string) {
			id, _ := f.account()
			return rpc(admin+"GetAccount", `{"id":"`+id+`"}`), ""
		}, want: manage(200, auth.ScopeAdminAccounts)},
		{route: "POST " + admin + "UpdateAccount", req: func(f *authzFixture, _ string) (call, string) {
			id, _ := f.account()
			return rpc(admin+"UpdateAccount", `{"id":"`+id+`","disabled":true}`), ""
		}, want: manage(200, auth.ScopeAdminAccounts)},
		{route: "POST " + admin + "DeleteAccount", req: func(f *authzFixture, _ string) (call, string) {
			id, _ := f.account()
			return rpc(admin+"DeleteAccount", `{"id":"`+id+`"}`), id
		}, gone: func(f *authzFixture, id string) bool {
			return f.admin.do("GET", "/v1/admin/accounts/"+id, "").Status == 404
		}, want: manage(200, auth.ScopeAdminAccounts)},
		{route: "POST " + admin + "ListAccountSessions", req: func(f *authzFixture, _ string) (call, string) {
			return rpc(admin+"ListAccountSessions", `{"accountId":"`+f.user.accountID()+`"}`), ""
		}, want: manage(200, auth.ScopeAdminSessions)},
		{route: "POST " + admin + "RevokeAccountSession", req: func(f *authzFixture, _ string) (call, string) {
			tk := f.base.login("user@authz.test", authzPassword)
			return rpc(admin+"RevokeAccountSession", `{"id":"`+tk.Session.ID+`"}`), tk.AccessToken
		}, gone: func(f *authzFixture, access string) bool {
			return f.base.as(access).do("GET", "/v1/auth/me", "").Status == 401
		}, want: manage(200, auth.ScopeAdminSessions)},
		{route: "POST " + admin + "InviteAccount", req: func(f *authzFixture, _ string) (call, string) {
			return rpc(admin+"InviteAccount", `{"email":"`+f.name("i")+`@authz.test"}`), ""
		}, want: manage(200, auth.ScopeAdminAccounts)},
		{route: "POST " + admin + "ListSigningKeys", req: fixedRPC(admin+"ListSigningKeys", `{}`), want: manage(200, auth.ScopeAdminSigningKeys)},
		{route: "POST " + admin + "RotateSigningKeys", req: fixedRPC(admin+"RotateSigningKeys", `{}`), want: manage(200, auth.ScopeAdminSigningKeys)},

		{route: "POST " + keys + "ListAPIKeys", req: fixedRPC(keys+"ListAPIKeys", `{}`), want: manage(200, auth.ScopeAdminAPIKeys)},
		{route: "POST " + keys + "CreateAPIKey", req: fixedRPC(keys+"CreateAPIKey", `{"name":"made","scopes":["admin:api-keys"]}`),
			want: manage(200, auth.ScopeAdminAPIKeys)},
		{route: "POST " + keys + "RevokeAPIKey", req: func(f *authzFixture, _ string) (call, string) {
			var k struct{ ID, Key string }
			decodeInto(f.t, f.admin.must(201, "POST", "/v1/admin/api-keys", `{"name":"victim","scopes":["posts:read"]}`), &k)
			return rpc(keys+"RevokeAPIKey", `{"id":"`+k.ID+`"}`), k.Key
		}, gone: func(f *authzFixture, key string) bool {
			return f.base.as(key).do("GET", "/v1/collections/posts/documents", "").Status == 401
		}, want: manage(200, auth.ScopeAdminAPIKeys)},
	}
}
