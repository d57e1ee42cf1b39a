package authapi

import (
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/apilimit"
	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
)

// TestRateLimits: the account flows, public ones included, are the auth
// class, limited per address before anything else runs; the caller's own
// routes are reads and writes with budgets of their own.
func TestRateLimits(t *testing.T) {
	cfg := apilimit.DefaultConfig()
	for _, spec := range []string{"auth:ip=1/1h:3", "read:account=1/1h:1"} {
		if err := cfg.Set(spec); err != nil {
			t.Fatal(err)
		}
	}
	s := newStack(t, func(_ *accounts.Options, o *Options) {
		// The limiter's clock stands still: the answers' reset times are
		// exact however slowly the requests run.
		now := time.Now()
		lim, err := apilimit.New(apilimit.Options{Config: cfg, Limiter: memory.New(func() time.Time { return now }, 1000)})
		if err != nil {
			t.Fatal(err)
		}
		o.Limits = lim
	})
	const flood = "192.0.2.66:4711"
	for range 3 {
		s.expect(request{method: "POST", path: "/v1/auth/login", remoteAddr: flood,
			body: `{"email":"nobody@example.com","password":"` + testPassword + `"}`}, 401)
	}
	for _, rt := range []request{
		{method: "POST", path: "/v1/auth/signup", body: `{"email":"ada@example.com","password":"` + testPassword + `"}`},
		{method: "POST", path: "/v1/auth/login", body: `{"email":"ada@example.com","password":"` + testPassword + `"}`},
		{method: "POST", path: "/v1/auth/refresh", body: `{"refreshToken":"x"}`},
		{method: "POST", path: "/v1/auth/logout", bearer: "not-a-token"},
		{method: "POST", path: "/v1/auth/password", bearer: "not-a-token"},
		{method: "POST", path: "/v1/auth/password/reset", body: `{"email":"ada@example.com"}`},
		{method: "POST", path: "/v1/auth/password/reset/confirm", body: `{"token":"x","password":"` + testPassword + `"}`},
		{method: "POST", path: "/v1/auth/verify/request", bearer: "not-a-token"},
		{method: "POST", path: "/v1/auth/verify", body: `{"token":"x"}`},
	} {
		rt.remoteAddr = flood
		rec := s.expect(rt, 429)
		if got, want := rec.Header().Get("RateLimit"), `"auth-ip";r=0;t=10800`; got != want {
			t.Errorf("%s %s: RateLimit = %q, want %q", rt.method, rt.path, got, want)
		}
		if rec.Header().Get("Retry-After") != "3600" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Retry-After %q, Cache-Control %q", rt.method, rt.path, rec.Header().Get("Retry-After"), rec.Header().Get("Cache-Control"))
		}
		if rec.Header().Get("WWW-Authenticate") != "" {
			t.Errorf("%s %s: the credential was checked before the limit", rt.method, rt.path)
		}
	}
	if n := s.mail.Count(); n != 0 {
		t.Errorf("%d mails sent by refused requests", n)
	}
	// Other addresses (sign-up, verification and login: three auth
	// requests), and other classes from the same address, are not
	// affected.
	ada := s.user("ada@example.com").AccessToken
	s.expect(request{method: "GET", path: "/.well-known/jwks.json", remoteAddr: flood}, 200)
	s.expect(request{method: "GET", path: "/v1/auth/me", bearer: ada, remoteAddr: flood}, 200)
	rec := s.expect(request{method: "GET", path: "/v1/auth/sessions", bearer: ada, remoteAddr: flood}, 429)
	if got, want := rec.Header().Get("RateLimit"), `"read-account";r=0;t=3600`; got != want {
		t.Errorf("RateLimit = %q, want %q", got, want)
	}
}
