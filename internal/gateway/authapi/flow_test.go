package authapi

import (
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/ratelimit"
)

// account is the decoded account view.
type account struct {
	ID         string   `json:"id"`
	Email      string   `json:"email"`
	Roles      []string `json:"roles"`
	Verified   bool     `json:"verified"`
	VerifiedAt *string  `json:"verifiedAt"`
	Disabled   bool     `json:"disabled"`
	CreatedAt  string   `json:"createdAt"`
	UpdatedAt  string   `json:"updatedAt"`
}

// session is the decoded session view.
type session struct {
	ID           string  `json:"id"`
	Device       string  `json:"device"`
	UserAgent    string  `json:"userAgent"`
	IP           string  `json:"ip"`
	CreatedAt    string  `json:"createdAt"`
	LastUsedAt   string  `json:"lastUsedAt"`
	ExpiresAt    string  `json:"expiresAt"`
	RevokedAt    *string `json:"revokedAt"`
	RevokeReason *string `json:"revokeReason"`
	Current      bool    `json:"current"`
}

type items[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

// parseStamp checks that s is an RFC 3339 timestamp in UTC.
func parseStamp(t *testing.T, what, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		t.Fatalf("%s = %q is not an RFC 3339 UTC timestamp (%v)", what, s, err)
	}
	return ts
}

func TestUserFlow(t *testing.T) {
	s := newStack(t)

	// Sign-up answers 202 without a body and mails a verification token.
	rec := s.expect(request{method: "POST", path: "/v1/auth/signup", body: `{"email":"Ada@Example.com","password":"` + testPassword + `"}`}, 202)
	if rec.Body.Len() != 0 || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("sign-up answer: body %q, Cache-Control %q", rec.Body.String(), rec.Header().Get("Cache-Control"))
	}
	verify := s.mail.Token(t, "ada@example.com", "Verify")

	// Login, with the client's address and User-Agent on the session.
	rec = s.expect(request{method: "POST", path: "/v1/auth/login", remoteAddr: "203.0.113.9:4321",
		body: `{"email":"ada@example.com","password":"` + testPassword + `","device":"Ada's phone"}`}, 200)
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("login Cache-Control = %q", cc)
	}
	tok := decodeJSON[tokens](t, rec)
	if tok.TokenType != "Bearer" || tok.AccessToken == "" || !strings.HasPrefix(tok.RefreshToken, "bsr_") || tok.ExpiresIn <= 0 {
		t.Fatalf("tokens = %+v", tok)
	}
	parseStamp(t, "accessTokenExpiresAt", tok.AccessTokenExpiresAt)
	parseStamp(t, "refreshTokenExpiresAt", tok.RefreshTokenExpiresAt)
	if ss := tok.Session; ss.ID == "" || ss.Device != "Ada's phone" || ss.IP != "203.0.113.9" ||
		ss.UserAgent != "authapi-test/1.0" || !ss.Current || ss.RevokedAt != nil {
		t.Fatalf("login session = %+v", ss)
	}

	// Me, not yet verified; then verified.
	me := decodeJSON[account](t, s.expect(request{method: "GET", path: "/v1/auth/me", bearer: tok.AccessToken}, 200))
	if me.Email != "ada@example.com" || me.Verified || me.VerifiedAt != nil || me.Disabled || me.Roles == nil {
		t.Fatalf("me = %+v", me)
	}
	parseStamp(t, "createdAt", me.CreatedAt)
	parseStamp(t, "updatedAt", me.UpdatedAt)
	s.expect(request{method: "POST", path: "/v1/auth/verify", body: `{"token":"` + verify + `"}`}, 204)
	s.expect(request{method: "POST", path: "/v1/auth/verify", body: `{"token":"` + verify + `"}`}, 400) // used once
	me = decodeJSON[account](t, s.expect(request{method: "GET", path: "/v1/auth/me", bearer: tok.AccessToken}, 200))
	if !me.Verified || me.VerifiedAt == nil {
		t.Fatalf("me after verification = %+v", me)
	}
	parseStamp(t, "verifiedAt", *me.VerifiedAt)
	// HEAD answers like GET without a body.
	if rec := s.expect(request{method: "HEAD", path: "/v1/auth/me", bearer: tok.AccessToken}, 200); rec.Body.Len() != 0 {
		t.Errorf("HEAD body %q", rec.Body.String())
	}

	// A verified caller asking for verification again gets 202 and no mail.
	before := s.mail.Count()
	s.expect(request{method: "POST", path: "/v1/auth/verify/request", bearer: tok.AccessToken}, 202)
	if s.mail.Count() != before {
		t.Error("a verified address got another verification mail")
	}

	// Refresh rotates the refresh token and keeps the session.
	rec = s.expect(request{method: "POST", path: "/v1/auth/refresh", body: `{"refreshToken":"` + tok.RefreshToken + `"}`}, 200)
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("refresh Cache-Control = %q", cc)
	}
	next := decodeJSON[tokens](t, rec)
	if next.RefreshToken == tok.RefreshToken || next.Session.ID != tok.Session.ID || !next.Session.Current {
		t.Fatalf("refresh = %+v", next)
	}

	// Sessions: one, current.
	list := decodeJSON[items[session]](t, s.expect(request{method: "GET", path: "/v1/auth/sessions", bearer: next.AccessToken}, 200))
	if len(list.Items) != 1 || !list.Items[0].Current || list.Items[0].ID != tok.Session.ID {
		t.Fatalf("sessions = %+v", list)
	}

	// Change the password: the wrong current one is refused.
	s.expect(request{method: "POST", path: "/v1/auth/password", bearer: next.AccessToken,
		body: `{"currentPassword":"wrong password","newPassword":"a new password"}`}, 403)
	s.expect(request{method: "POST", path: "/v1/auth/password", bearer: next.AccessToken,
		body: `{"currentPassword":"` + testPassword + `","newPassword":"a new password"}`}, 204)
	s.expect(request{method: "POST", path: "/v1/auth/login", body: `{"email":"ada@example.com","password":"` + testPassword + `"}`}, 401)

	// Logout ends the session: its tokens stop working.
	s.expect(request{method: "POST", path: "/v1/auth/logout", bearer: next.AccessToken}, 204)
	rec = s.expect(request{method: "GET", path: "/v1/auth/me", bearer: next.AccessToken}, 401)
	if rec.Header().Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	s.expect(request{method: "POST", path: "/v1/auth/refresh", body: `{"refreshToken":"` + next.RefreshToken + `"}`}, 401)
}

func TestSignUpDoesNotRevealAccounts(t *testing.T) {
	s := newStack(t)
	s.signUp("ada@example.com")
	for _, email := range []string{"ada@example.com", "new@example.com"} {
		rec := s.expect(request{method: "POST", path: "/v1/auth/signup", body: `{"email":"` + email + `","password":"` + testPassword + `"}`}, 202)
		if rec.Body.Len() != 0 {
			t.Errorf("sign-up of %s answered %q", email, rec.Body.String())
		}
		rec = s.expect(request{method: "POST", path: "/v1/auth/password/reset", body: `{"email":"` + email + `"}`}, 202)
		if rec.Body.Len() != 0 {
			t.Errorf("reset of %s answered %q", email, rec.Body.String())
		}
	}
	s.expect(request{method: "POST", path: "/v1/auth/password/reset", body: `{"email":"nobody@example.com"}`}, 202)
}

func TestPasswordReset(t *testing.T) {
	s := newStack(t)
	tok := s.user("ada@example.com")
	s.expect(request{method: "POST", path: "/v1/auth/password/reset", body: `{"email":"ada@example.com"}`}, 202)
	reset := s.mail.Token(t, "ada@example.com", "Reset")
	s.expect(request{method: "POST", path: "/v1/auth/password/reset/confirm", body: `{"token":"` + reset + `","newPassword":"short"}`}, 400)
	s.expect(request{method: "POST", path: "/v1/auth/password/reset/confirm", body: `{"token":"bse_nope","newPassword":"a new password"}`}, 400)
	s.expect(request{method: "POST", path: "/v1/auth/password/reset/confirm", body: `{"token":"` + reset + `","newPassword":"a new password"}`}, 204)
	// Every session ended; the new password works.
	s.expect(request{method: "GET", path: "/v1/auth/me", bearer: tok.AccessToken}, 401)
	s.login("ada@example.com", "a new password")
}

func TestRequestVerification(t *testing.T) {
	s := newStack(t)
	s.expect(request{method: "POST", path: "/v1/auth/signup", body: `{"email":"ada@example.com","password":"` + testPassword + `"}`}, 202)
	tok := s.login("ada@example.com", testPassword)
	first := s.mail.Token(t, "ada@example.com", "Verify")
	s.expect(request{method: "POST", path: "/v1/auth/verify/request", bearer: tok.AccessToken, body: `{}`}, 202)
	second := s.mail.Token(t, "ada@example.com", "Verify")
	if second == first {
		t.Fatal("no new verification token")
	}
	s.expect(request{method: "POST", path: "/v1/auth/verify", body: `{"token":"` + second + `"}`}, 204)
	s.expect(request{method: "POST", path: "/v1/auth/verify/request", body: `{}`}, 401)
}

func TestDeleteMe(t *testing.T) {
	s := newStack(t)
	tok := s.user("ada@example.com")
	s.expect(request{method: "DELETE", path: "/v1/auth/me", bearer: tok.AccessToken}, 415) // the password is a JSON body
	s.expect(request{method: "DELETE", path: "/v1/auth/me", bearer: tok.AccessToken, body: `{}`}, 400)
	s.expect(request{method: "DELETE", path: "/v1/auth/me", bearer: tok.AccessToken, body: `{"password":"wrong password"}`}, 403)
	s.expect(request{method: "DELETE", path: "/v1/auth/me", bearer: tok.AccessToken, body: `{"password":"` + testPassword + `"}`}, 204)
	s.expect(request{method: "GET", path: "/v1/auth/me", bearer: tok.AccessToken}, 401)
	s.expect(request{method: "POST", path: "/v1/auth/login", body: `{"email":"ada@example.com","password":"` + testPassword + `"}`}, 401)
}

func TestRevokeOwnSession(t *testing.T) {
	s := newStack(t)
	phone := s.user("ada@example.com")
	laptop := s.login("ada@example.com", testPassword)
	other := s.user("bob@example.com")

	list := decodeJSON[items[session]](t, s.expect(request{method: "GET", path: "/v1/auth/sessions", bearer: laptop.AccessToken}, 200))
	if len(list.Items) != 2 {
		t.Fatalf("sessions = %+v", list)
	}
	for _, ss := range list.Items {
		if ss.Current != (ss.ID == laptop.Session.ID) {
			t.Errorf("session %s current = %v", ss.ID, ss.Current)
		}
	}
	// Another user's session is not found; one's own ends.
	s.expect(request{method: "DELETE", path: "/v1/auth/sessions/" + other.Session.ID, bearer: laptop.AccessToken}, 404)
	s.expect(request{method: "DELETE", path: "/v1/auth/sessions/nope", bearer: laptop.AccessToken}, 404)
	s.expect(request{method: "DELETE", path: "/v1/auth/sessions/" + phone.Session.ID, bearer: laptop.AccessToken}, 204)
	s.expect(request{method: "GET", path: "/v1/auth/me", bearer: phone.AccessToken}, 401)
	s.expect(request{method: "GET", path: "/v1/auth/me", bearer: other.AccessToken}, 200)

	list = decodeJSON[items[session]](t, s.expect(request{method: "GET", path: "/v1/auth/sessions", bearer: laptop.AccessToken}, 200))
	for _, ss := range list.Items {
		if ss.ID == phone.Session.ID && (ss.RevokedAt == nil || ss.RevokeReason == nil || *ss.RevokeReason == "") {
			t.Errorf("revoked session = %+v", ss)
		}
		if ss.ID == laptop.Session.ID && (ss.RevokedAt != nil || ss.RevokeReason != nil) {
			t.Errorf("live session = %+v", ss)
		}
	}
}

func TestLoginThrottled(t *testing.T) {
	s := newStack(t, func(o *accounts.Options, _ *Options) {
		o.LoginPerIP = ratelimit.Limit{Rate: 0.1, Burst: 2}
	})
	s.signUp("ada@example.com")
	bad := request{method: "POST", path: "/v1/auth/login", body: `{"email":"ada@example.com","password":"wrong password"}`,
		remoteAddr: "198.51.100.7:1000"}
	s.expect(bad, 401)
	s.expect(bad, 401)
	rec := s.expect(bad, 429)
	if ra := rec.Header().Get("Retry-After"); ra == "" || ra == "0" || strings.Trim(ra, "0123456789") != "" {
		t.Fatalf("Retry-After = %q", ra)
	}
	// Another address is not throttled.
	bad.remoteAddr = "198.51.100.8:1000"
	s.expect(bad, 401)
	// Later the first may try again.
	s.clock.Advance(time.Minute)
	bad.remoteAddr = "198.51.100.7:1000"
	s.expect(bad, 401)
}

func TestForwardedClientAddress(t *testing.T) {
	s := newStack(t, trust("10.0.0.0/8"))
	s.signUp("ada@example.com")
	login := `{"email":"ada@example.com","password":"` + testPassword + `"}`
	via := decodeJSON[tokens](t, s.expect(request{method: "POST", path: "/v1/auth/login", body: login, remoteAddr: "10.0.0.2:443",
		headers: map[string]string{"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}}, 200))
	if via.Session.IP != "203.0.113.9" {
		t.Errorf("through a trusted proxy, session IP = %q", via.Session.IP)
	}
	spoof := decodeJSON[tokens](t, s.expect(request{method: "POST", path: "/v1/auth/login", body: login, remoteAddr: "198.51.100.1:5000",
		headers: map[string]string{"X-Forwarded-For": "203.0.113.9"}}, 200))
	if spoof.Session.IP != "198.51.100.1" {
		t.Errorf("spoofed X-Forwarded-For believed: session IP = %q", spoof.Session.IP)
	}
	refreshed := decodeJSON[tokens](t, s.expect(request{method: "POST", path: "/v1/auth/refresh", remoteAddr: "10.0.0.3:443",
		body: `{"refreshToken":"` + via.RefreshToken + `"}`, headers: map[string]string{"X-Forwarded-For": "192.0.2.44"}}, 200))
	if refreshed.Session.IP != "192.0.2.44" {
		t.Errorf("after refresh, session IP = %q", refreshed.Session.IP)
	}
}

func TestJWKS(t *testing.T) {
	s := newStack(t)
	rec := s.expect(request{method: "GET", path: "/.well-known/jwks.json"}, 200)
	if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=60" {
		t.Errorf("Cache-Control = %q", cc)
	}
	doc := decodeJSON[struct {
		Keys []map[string]any `json:"keys"`
	}](t, rec)
	if len(doc.Keys) != 1 || doc.Keys[0]["kid"] == "" || doc.Keys[0]["d"] != nil {
		t.Fatalf("JWKS = %s", rec.Body.String())
	}
	if rec := s.expect(request{method: "HEAD", path: "/.well-known/jwks.json"}, 200); rec.Body.Len() != 0 {
		t.Errorf("HEAD body %q", rec.Body.String())
	}
	rec = s.expect(request{method: "POST", path: "/.well-known/jwks.json", body: `{}`}, 405)
	if allow := rec.Header().Get("Allow"); allow != "GET, HEAD" {
		t.Errorf("Allow = %q", allow)
	}
	s.expect(request{method: "GET", path: "/.well-known/jwks.json?x=1"}, 400)
}
