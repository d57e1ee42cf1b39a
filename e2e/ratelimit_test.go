package e2e

import (
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/app"
	"github.com/basaltdev/basalt/internal/redistest"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

// TestRateLimits runs a live Basalt with a small limit on anonymous reads:
// a caller over it gets 429 problem+json with Retry-After and the
// RateLimit fields, other callers (another address, an account) are
// served, and after Retry-After the caller is served again.
func TestRateLimits(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		c, _, logs := serveApp(t, engine, true, func(cfg *app.Config) {
			// The scenario's callers come through a proxy on loopback
			// that names them in X-Forwarded-For.
			cfg.Auth.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			if err := cfg.RateLimits.Set("read:anonymous=1/1s:2"); err != nil {
				t.Fatal(err)
			}
		})
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("server logs:\n%s", logs.String())
			}
		})
		const jwks = "/.well-known/jwks.json"
		anon := c.anonymous()
		from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }

		for i := range 2 {
			r := anon.must(200, "GET", jwks, "", from("198.51.100.1")...)
			if got, want := r.Header.Get("RateLimit"), `"read-anonymous";r=`+strconv.Itoa(1-i)+";t="; !strings.HasPrefix(got, want) {
				t.Errorf("read %d: RateLimit = %q, want %s…", i, got, want)
			}
		}
		r := anon.must(429, "GET", jwks, "", from("198.51.100.1")...)
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("429 Content-Type %q", ct)
		}
		if code := r.JSON(t)["code"]; code != "too_many_requests" {
			t.Errorf("429 code %v", code)
		}
		retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || retry != 1 {
			t.Errorf("Retry-After %q, want 1", r.Header.Get("Retry-After"))
		}
		if got, want := r.Header.Get("RateLimit-Policy"), `"read-ip";q=1000;w=4, "read-anonymous";q=2;w=2`; got != want {
			t.Errorf("RateLimit-Policy = %q, want %q", got, want)
		}
		if got, want := r.Header.Get("RateLimit"), `"read-anonymous";r=0;t=2`; got != want {
			t.Errorf("RateLimit = %q, want %q", got, want)
		}

		// Other callers are served: another address, and an account from
		// the refused address.
		anon.must(200, "GET", jwks, "", from("198.51.100.2")...)
		admin := c.as(c.login(adminEmail, adminPassword).AccessToken)
		r = admin.must(200, "GET", "/v1/auth/me", "", from("198.51.100.1")...)
		if got := r.Header.Get("RateLimit"); !strings.HasPrefix(got, `"read-account";r=199;`) {
			t.Errorf("the account's RateLimit = %q", got)
		}

		// After Retry-After, the refused caller is served again.
		waitFor(t, time.Duration(retry)*time.Second+10*time.Second, "the refused caller to be served", func() bool {
			r := anon.do("GET", jwks, "", from("198.51.100.1")...)
			if r.Status != 200 && r.Status != 429 {
				t.Fatalf("after Retry-After: %d %s", r.Status, r.Body)
			}
			return r.Status == 200
		})
	})
}

// TestRateLimitsAcrossProcesses runs two processes on one PostgreSQL
// database and one Redis: an anonymous caller's read budget spent on one
// is spent on the other. With Redis stopped, reads are served (fail open)
// while the auth class is still limited, in process.
func TestRateLimitsAcrossProcesses(t *testing.T) {
	db := pgtest.URL(t)
	rs := redistest.Start(t) // stopped below: a server of this test's own
	basaltBinary(t)
	flags := []string{"--db", db, "--redis", rs.URL(), "--rate-limits=true",
		"--rate-limit", "read:anonymous=1/1h:3", "--rate-limit", "auth:ip=1/1h:2"}
	waitA := launch(t, filepath.Join(t.TempDir(), "a"), flags...)
	waitB := launch(t, filepath.Join(t.TempDir(), "b"), flags...)
	a, b := waitA(), waitB()
	ca, cb := a.client(t).anonymous(), b.client(t).anonymous()

	const jwks = "/.well-known/jwks.json"
	ca.must(200, "GET", jwks, "")
	ca.must(200, "GET", jwks, "")
	r := cb.must(200, "GET", jwks, "")
	if got := r.Header.Get("RateLimit"); !strings.HasPrefix(got, `"read-anonymous";r=0;`) {
		t.Errorf("B's RateLimit = %q: B does not count A's reads", got)
	}
	cb.must(429, "GET", jwks, "")
	ca.must(429, "GET", jwks, "")

	// Redis goes away: reads are let through, without RateLimit fields;
	// the auth class is decided in each process.
	rs.Stop(t)
	for range 5 {
		if r := cb.must(200, "GET", jwks, ""); r.Header.Get("RateLimit") != "" {
			t.Errorf("RateLimit %q without a limiter", r.Header.Get("RateLimit"))
		}
	}
	refresh := func(c *client, status int) {
		t.Helper()
		c.must(status, "POST", "/v1/auth/refresh", `{"refreshToken":"bsr_not-a-token"}`)
	}
	refresh(cb, 401)
	refresh(cb, 401)
	refresh(cb, 429)
	b.waitForLog(t, "the rate limiter failed: requests of the auth class are decided in process, the others are let through")
}
