package authapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/gateway/restapi"
)

// postRoutes are the routes that take a JSON body, with a valid body each.
var postRoutes = []struct{ method, path, body string }{
	{"POST", "/v1/auth/signup", `{"email":"new@example.com","password":"` + testPassword + `"}`},
	{"POST", "/v1/auth/login", `{"email":"ada@example.com","password":"` + testPassword + `"}`},
	{"POST", "/v1/auth/refresh", `{"refreshToken":"bsr_x"}`},
	{"POST", "/v1/auth/logout", `{}`},
	{"DELETE", "/v1/auth/me", `{"password":"` + testPassword + `"}`},
	{"POST", "/v1/auth/password", `{"currentPassword":"` + testPassword + `","newPassword":"a new password"}`},
	{"POST", "/v1/auth/password/reset", `{"email":"ada@example.com"}`},
	{"POST", "/v1/auth/password/reset/confirm", `{"token":"bse_x","newPassword":"a new password"}`},
	{"POST", "/v1/auth/verify/request", `{}`},
	{"POST", "/v1/auth/verify", `{"token":"bse_x"}`},
	{"POST", "/v1/admin/accounts", `{"email":"x@example.com","password":"` + testPassword + `"}`},
	{"PATCH", "/v1/admin/accounts/x", `{"disabled":true}`},
	{"POST", "/v1/admin/api-keys", `{"name":"x","scopes":["*:*"]}`},
	{"POST", "/v1/admin/keys/rotate", `{}`},
}

// TestBadBodies sends malformed bodies to every route that takes one, as an
// admin so that authorization never answers first: each gets a 4xx problem.
func TestBadBodies(t *testing.T) {
	s := newStack(t)
	as := s.admin().AccessToken
	cases := []struct {
		name, body string
		headers    map[string]string
		status     int
		code       string
		pointer    string
	}{
		{name: "malformed JSON", body: `{"email":`, status: 400, code: "invalid"},
		{name: "not an object", body: `["email"]`, status: 400, code: "invalid"},
		{name: "trailing data", body: `{} {}`, status: 400, code: "invalid"},
		{name: "duplicate member", body: `{"a":"1","a":"2"}`, status: 400, code: "invalid"},
		{name: "invalid UTF-8", body: "{\"email\":\"\xff\"}", status: 400, code: "invalid"},
		{name: "NUL", body: `{"email":"a\u0000b"}`, status: 400, code: "invalid"},
		{name: "unknown member", body: `{"zzz_unknown":1}`, status: 400, code: "invalid", pointer: "/zzz_unknown"},
		{name: "too deep", body: `{"a":[[[[["x"]]]]]}`, status: 400, code: "invalid"},
		{name: "too large", body: `{"email":"` + strings.Repeat("x", 3000) + `"}`, status: 413, code: "payload_too_large"},
		{name: "no content type", body: `{}`, headers: map[string]string{"Content-Type": ""}, status: 415, code: "unsupported_media_type"},
		{name: "form", body: `email=a`, headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			status: 415, code: "unsupported_media_type"},
		{name: "other charset", body: `{}`, headers: map[string]string{"Content-Type": "application/json; charset=utf-16"},
			status: 415, code: "unsupported_media_type"},
	}
	for _, rt := range postRoutes {
		for _, tc := range cases {
			t.Run(rt.method+" "+rt.path+"/"+tc.name, func(t *testing.T) {
				rec := s.do(request{method: rt.method, path: rt.path, body: tc.body, bearer: as, headers: tc.headers})
				if rec.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
				}
				p := assertProblem(t, rec)
				if p.Code != tc.code {
					t.Errorf("code %q, want %q", p.Code, tc.code)
				}
				if tc.pointer != "" && (len(p.Errors) != 1 || p.Errors[0].Pointer != tc.pointer) {
					t.Errorf("errors %+v, want one at %s", p.Errors, tc.pointer)
				}
			})
		}
		t.Run(rt.method+" "+rt.path+"/query parameter", func(t *testing.T) {
			s.expect(request{method: rt.method, path: rt.path + "?debug=1", body: rt.body, bearer: as}, 400)
		})
	}
}

// TestBadRequests covers missing and mistyped members, paths, queries and
// methods.
func TestBadRequests(t *testing.T) {
	s := newStack(t)
	as := s.admin().AccessToken
	tests := []struct {
		name    string
		req     request
		status  int
		pointer string
		allow   string
	}{
		{name: "sign-up without email", req: request{method: "POST", path: "/v1/auth/signup", body: `{"password":"` + testPassword + `"}`},
			status: 400, pointer: "/email"},
		{name: "sign-up without password", req: request{method: "POST", path: "/v1/auth/signup", body: `{"email":"a@example.com"}`},
			status: 400, pointer: "/password"},
		{name: "sign-up with a short password", req: request{method: "POST", path: "/v1/auth/signup", body: `{"email":"a@example.com","password":"short"}`},
			status: 400, pointer: "/password"},
		{name: "sign-up with a bad address", req: request{method: "POST", path: "/v1/auth/signup", body: `{"email":"not an address","password":"` + testPassword + `"}`},
			status: 400, pointer: "/email"},
		{name: "sign-up with a numeric email", req: request{method: "POST", path: "/v1/auth/signup", body: `{"email":5,"password":"` + testPassword + `"}`},
			status: 400, pointer: "/email"},
		{name: "sign-up with an unknown member", req: request{method: "POST", path: "/v1/auth/signup",
			body: `{"email":"a@example.com","password":"` + testPassword + `","admin":true}`}, status: 400, pointer: "/admin"},
		{name: "login without password", req: request{method: "POST", path: "/v1/auth/login", body: `{"email":"a@example.com"}`},
			status: 400, pointer: "/password"},
		{name: "login with an empty body", req: request{method: "POST", path: "/v1/auth/login", headers: map[string]string{"Content-Type": "application/json"}},
			status: 400},
		{name: "login with a boolean device", req: request{method: "POST", path: "/v1/auth/login", body: `{"email":"a@example.com","password":"x","device":true}`},
			status: 400, pointer: "/device"},
		{name: "login with a long device", req: request{method: "POST", path: "/v1/auth/login",
			body: `{"email":"a@example.com","password":"x","device":"` + strings.Repeat("d", 200) + `"}`}, status: 400, pointer: "/device"},
		{name: "login with unknown credentials", req: request{method: "POST", path: "/v1/auth/login", body: `{"email":"nobody@example.com","password":"` + testPassword + `"}`},
			status: 401},
		{name: "refresh without token", req: request{method: "POST", path: "/v1/auth/refresh", body: `{}`}, status: 401},
		{name: "refresh with a forged token", req: request{method: "POST", path: "/v1/auth/refresh", body: `{"refreshToken":"bsr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`}, status: 401},
		{name: "refresh with an array", req: request{method: "POST", path: "/v1/auth/refresh", body: `{"refreshToken":["x"]}`}, status: 400, pointer: "/refreshToken"},
		{name: "verify without token", req: request{method: "POST", path: "/v1/auth/verify", body: `{}`}, status: 400, pointer: "/token"},
		{name: "reset without email", req: request{method: "POST", path: "/v1/auth/password/reset", body: `{}`}, status: 400, pointer: "/email"},
		{name: "logout with members", req: request{method: "POST", path: "/v1/auth/logout", bearer: as, body: `{"all":true}`}, status: 400, pointer: "/all"},
		{name: "revoke with a body", req: request{method: "DELETE", path: "/v1/auth/sessions/x", bearer: as, body: `{}`}, status: 400},
		{name: "overlong id", req: request{method: "GET", path: "/v1/admin/accounts/" + strings.Repeat("a", 1025), bearer: as}, status: 400},
		{name: "unknown query parameter", req: request{method: "GET", path: "/v1/auth/me?fields=email", bearer: as}, status: 400},
		{name: "malformed query", req: request{method: "GET", path: "/v1/auth/sessions?%zz", bearer: as}, status: 400},
		{name: "API key creation with a numeric name", req: request{method: "POST", path: "/v1/admin/api-keys", bearer: as, body: `{"name":1,"scopes":["*:*"]}`},
			status: 400, pointer: "/name"},
		{name: "API key creation with a bad scope", req: request{method: "POST", path: "/v1/admin/api-keys", bearer: as, body: `{"name":"x","scopes":["*:*",7]}`},
			status: 400, pointer: "/scopes/1"},

		{name: "GET login", req: request{method: "GET", path: "/v1/auth/login"}, status: 405, allow: "POST"},
		{name: "PUT me", req: request{method: "PUT", path: "/v1/auth/me", body: `{}`}, status: 405, allow: "GET, HEAD, DELETE"},
		{name: "GET a session", req: request{method: "GET", path: "/v1/auth/sessions/x"}, status: 405, allow: "DELETE"},
		{name: "DELETE accounts", req: request{method: "DELETE", path: "/v1/admin/accounts"}, status: 405, allow: "GET, HEAD, POST"},
		{name: "PUT an account", req: request{method: "PUT", path: "/v1/admin/accounts/x", body: `{}`}, status: 405, allow: "GET, HEAD, PATCH, DELETE"},
		{name: "GET rotate", req: request{method: "GET", path: "/v1/admin/keys/rotate"}, status: 405, allow: "POST"},
		{name: "POST keys", req: request{method: "POST", path: "/v1/admin/keys"}, status: 405, allow: "GET, HEAD"},
		{name: "GET an API key", req: request{method: "GET", path: "/v1/admin/api-keys/x"}, status: 405, allow: "DELETE"},
		{name: "HEAD reset", req: request{method: "HEAD", path: "/v1/auth/password/reset"}, status: 405, allow: "POST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := s.do(tc.req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
			}
			if tc.req.method == "HEAD" {
				return
			}
			p := assertProblem(t, rec)
			if tc.pointer != "" && (len(p.Errors) == 0 || p.Errors[0].Pointer != tc.pointer) {
				t.Errorf("errors %+v, want one at %s", p.Errors, tc.pointer)
			}
			if tc.status == 405 && p.Code != "invalid" {
				t.Errorf("405 with code %q", p.Code)
			}
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
			if tc.status == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

// TestNoSecretsInAnswers runs every route and then searches every answer
// for secrets: password hashes, private keys, and credentials anywhere
// but where they are handed out.
func TestNoSecretsInAnswers(t *testing.T) {
	s := newStack(t)
	root := s.admin()
	as := root.AccessToken
	user := s.user("ada@example.com")
	key := decodeJSON[apiKey](t, s.expect(request{method: "POST", path: "/v1/admin/api-keys", bearer: as, body: `{"name":"ci","scopes":["*:*","admin:api-keys"],"roles":["admin"]}`}, 201))
	adaID := decodeJSON[account](t, s.expect(request{method: "GET", path: "/v1/auth/me", bearer: user.AccessToken}, 200)).ID
	for _, rt := range []request{
		{method: "GET", path: "/v1/auth/sessions", bearer: user.AccessToken},
		{method: "GET", path: "/v1/admin/accounts", bearer: as},
		{method: "GET", path: "/v1/admin/accounts/" + adaID, bearer: as},
		{method: "GET", path: "/v1/admin/accounts/" + adaID + "/sessions", bearer: as},
		{method: "PATCH", path: "/v1/admin/accounts/" + adaID, bearer: as, body: `{"roles":["editor"]}`},
		{method: "GET", path: "/v1/admin/api-keys", bearer: as},
		{method: "GET", path: "/v1/admin/api-keys", bearer: key.Key},
		{method: "GET", path: "/v1/admin/keys", bearer: as},
		{method: "POST", path: "/v1/admin/keys/rotate", bearer: as},
		{method: "GET", path: "/.well-known/jwks.json"},
	} {
		rec := s.do(rt)
		if rec.Code >= 300 {
			t.Fatalf("%s %s: %d %s", rt.method, rt.path, rec.Code, rec.Body.String())
		}
	}

	// Stored secrets: password hashes and private signing keys.
	for _, e := range s.responses {
		for _, marker := range []string{"$argon2id$", "passwordHash", "PasswordHash", "private", "Private", `"hash"`, `"d":`} {
			if strings.Contains(e.body, marker) {
				t.Errorf("%s %s answered with %q: %s", e.method, e.path, marker, e.body)
			}
		}
	}
	// Credentials only where they are handed out.
	handedOut := func(paths ...string) func(exchange) bool {
		return func(e exchange) bool {
			for _, p := range paths {
				if e.path == p && e.status < 300 {
					return true
				}
			}
			return false
		}
	}
	for _, secret := range []string{user.RefreshToken, root.RefreshToken, user.AccessToken, root.AccessToken} {
		if leaks := s.leaked(secret, handedOut("/v1/auth/login", "/v1/auth/refresh")); len(leaks) > 0 {
			t.Errorf("a token appears in %+v", leaks)
		}
	}
	if leaks := s.leaked(key.Key, handedOut("/v1/admin/api-keys")); len(leaks) != 0 {
		t.Errorf("the API key appears in %+v", leaks)
	}
	var creations int
	for _, e := range s.responses {
		if strings.Contains(e.body, key.Key) {
			creations++
		}
	}
	if creations != 1 {
		t.Errorf("the API key appears in %d answers, want 1 (its creation)", creations)
	}
}

// TestRegisterBesideRESTAPI mounts the account routes on the mux of the
// document API, as the server does: neither takes the other's paths, and
// both answer unknown routes and wrong methods with problems.
func TestRegisterBesideRESTAPI(t *testing.T) {
	s := newStack(t)
	mux := http.NewServeMux()
	restapi.New(nil, restapi.Options{}).Register(mux) // no document route is called
	New(s.svc, Options{}).Register(mux)
	s.handler = mux
	s.expect(request{method: "GET", path: "/.well-known/jwks.json"}, 200)
	s.expect(request{method: "GET", path: "/v1/auth/nothing"}, 404)
	s.expect(request{method: "GET", path: "/v1/admin/nothing"}, 404)
	if rec := s.expect(request{method: "GET", path: "/v1/auth/login"}, 405); rec.Header().Get("Allow") != "POST" {
		t.Errorf("Allow = %q", rec.Header().Get("Allow"))
	}
	if rec := s.expect(request{method: "PUT", path: "/v1/admin/api-keys/x", body: `{}`}, 405); rec.Header().Get("Allow") != "DELETE" {
		t.Errorf("Allow = %q", rec.Header().Get("Allow"))
	}
	s.user("ada@example.com")
}
