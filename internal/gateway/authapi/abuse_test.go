package authapi

import (
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/auth/password"
	"github.com/basaltdev/basalt/internal/ratelimit"
)

// TestLookalikeAddressesRefused: sign-up and admin create answer 400 with a
// message at /email for an address that displays as another or names a
// host by IP address.
func TestLookalikeAddressesRefused(t *testing.T) {
	s := newStack(t)
	as := s.admin().AccessToken
	for _, email := range []string{`ada\u202e@example.com`, `ad\u200ba@example.com`, `ada@exa\u2028mple.com`, `ada@[192.0.2.1]`} {
		body := `{"email":"` + email + `","password":"` + testPassword + `"}`
		for _, path := range []string{"/v1/auth/signup", "/v1/admin/accounts"} {
			p := assertProblem(t, s.expect(request{method: "POST", path: path, body: body, bearer: as}, 400))
			if len(p.Errors) != 1 || p.Errors[0].Pointer != "/email" || !strings.Contains(p.Errors[0].Message, "must") {
				t.Errorf("POST %s with %s: %+v", path, email, p)
			}
		}
	}
	if n := s.mail.Count(); n != 0 {
		t.Errorf("%d messages sent to refused addresses", n)
	}
}

// TestSpentBudgetRevealsNoAccount: while the hashing budget is spent, a
// login for an address with an account and one for an address without get
// the same status, headers and body.
func TestSpentBudgetRevealsNoAccount(t *testing.T) {
	s := newStack(t, func(o *accounts.Options, _ *Options) {
		h, err := password.New(password.Params{Memory: password.MinMemoryKiB, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
			2, password.MaxRate(0.001, 2)) // two hashes, then one per 1000 s
		if err != nil {
			t.Fatal(err)
		}
		o.Hasher, o.HashSharePerIP = h, 1 // every request here comes from one IP; this test is about the budget
	})
	s.signUp("ada@example.com")              // one hash
	s.login("ada@example.com", testPassword) // the other
	var recs []*httptest.ResponseRecorder
	for _, email := range []string{"ada@example.com", "nobody@example.com"} {
		recs = append(recs, s.do(request{method: "POST", path: "/v1/auth/login", remoteAddr: "198.51.100.20:1000",
			body: `{"email":"` + email + `","password":"wrong password"}`}))
	}
	known, unknown := recs[0], recs[1]
	if known.Code != 429 {
		t.Fatalf("known address over budget: %d %s", known.Code, known.Body.String())
	}
	if unknown.Code != known.Code || unknown.Body.String() != known.Body.String() || !maps.EqualFunc(known.Header(), unknown.Header(), slices.Equal) {
		t.Fatalf("answers differ:\nknown   %d %v %s\nunknown %d %v %s", known.Code, known.Header(), known.Body.String(),
			unknown.Code, unknown.Header(), unknown.Body.String())
	}
}

// TestResetConfirmFloodLeavesLoginsAlone: a loop of made-up reset tokens
// from one IP is throttled like logins and hashes nothing, so a login from
// another IP still gets its hash.
func TestResetConfirmFloodLeavesLoginsAlone(t *testing.T) {
	s := newStack(t, func(o *accounts.Options, _ *Options) {
		h, err := password.New(password.Params{Memory: password.MinMemoryKiB, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
			2, password.MaxRate(0.001, 2)) // two hashes, then one per 1000 s
		if err != nil {
			t.Fatal(err)
		}
		o.Hasher = h
		o.LoginPerIP = ratelimit.Limit{Rate: 1.0 / 600, Burst: 10}
	})
	s.signUp("ada@example.com") // one hash
	flood := request{method: "POST", path: "/v1/auth/password/reset/confirm", remoteAddr: "198.51.100.66:4000",
		body: `{"token":"bse_` + strings.Repeat("Q", 43) + `","newPassword":"a new password"}`}
	for range 10 {
		s.expect(flood, 400)
	}
	if ra := s.expect(flood, 429).Header().Get("Retry-After"); ra == "" {
		t.Error("429 without Retry-After")
	}
	rec := s.expect(request{method: "POST", path: "/v1/auth/login", remoteAddr: "203.0.113.9:5000",
		body: `{"email":"ada@example.com","password":"` + testPassword + `"}`}, 200)
	decodeJSON[tokens](t, rec)
}
