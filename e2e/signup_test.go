package e2e

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/app"
)

// inviteToken is an emailed one-time token in the development sender's log.
var inviteToken = regexp.MustCompile(`bse_[A-Za-z0-9_-]{43}`)

// mailedToken waits for the development mail sender to log a message with
// subject to the address, and returns the token it carries.
func mailedToken(t *testing.T, logs *syncBuffer, to, subject string) string {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); <-tick.C {
		for line := range strings.Lines(logs.String()) {
			var rec struct{ Msg, To, Subject, Text string }
			if json.Unmarshal([]byte(line), &rec) != nil || rec.To != to || rec.Subject != subject {
				continue
			}
			if tok := inviteToken.FindString(rec.Text); tok != "" {
				return tok
			}
		}
	}
	t.Fatalf("no mail %q to %s in the log", subject, to)
	return ""
}

// wantSignupProblem wants a 403 problem of the sign-up type typ.
func wantSignupProblem(t *testing.T, r response, typ, title string) {
	t.Helper()
	p := r.JSON(t)
	if r.Status != 403 || p["type"] != "urn:basalt:problem:"+typ || p["code"] != "forbidden" || p["title"] != title {
		t.Errorf("answer %d %s, want 403 %s %q", r.Status, r.Body, typ, title)
	}
}

// TestSignupModes runs servers with --auth-signup=closed and invite and
// checks the sign-up route, invitations and admin-created accounts through
// HTTP, on both engines.
func TestSignupModes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		t.Run("closed", func(t *testing.T) {
			c, _, _ := serveApp(t, engine, true, func(cfg *app.Config) { cfg.Auth.Signup = "closed" })
			admin := c.as(c.login(adminEmail, adminPassword).AccessToken)
			r := c.do("POST", "/v1/auth/signup", credentials(t, "eve@example.com", "a long password"))
			wantSignupProblem(t, r, "signup_closed", "Sign-up is closed")
			if r := c.do("POST", "/v1/auth/login", credentials(t, "eve@example.com", "a long password")); r.Status != 401 {
				t.Errorf("login after a closed sign-up: %d %s", r.Status, r.Body)
			}
			admin.must(201, "POST", "/v1/admin/accounts", credentials(t, "eve@example.com", "a long password"))
			c.login("eve@example.com", "a long password")
		})
		t.Run("invite", func(t *testing.T) {
			c, _, logs := serveApp(t, engine, true, func(cfg *app.Config) { cfg.Auth.Signup = "invite" })
			admin := c.as(c.login(adminEmail, adminPassword).AccessToken)
			r := c.do("POST", "/v1/auth/signup", credentials(t, "bo@example.com", "a long password"))
			wantSignupProblem(t, r, "invite_required", "Sign-up needs an invitation")

			inv := admin.must(202, "POST", "/v1/admin/invites", `{"email":"bo@example.com","roles":["editor"]}`).JSON(t)
			if inv["email"] != "bo@example.com" || inv["expiresAt"] == nil {
				t.Errorf("invitation %v", inv)
			}
			tok := mailedToken(t, logs, "bo@example.com", "You are invited")
			r = c.do("POST", "/v1/auth/signup", `{"email":"cy@example.com","password":"a long password","invite":"`+tok+`"}`)
			wantSignupProblem(t, r, "invite_invalid", "The invitation is not valid")

			c.must(202, "POST", "/v1/auth/signup", `{"email":"bo@example.com","password":"a long password","invite":"`+tok+`"}`)
			bo := c.as(c.login("bo@example.com", "a long password").AccessToken)
			var me struct {
				Roles    []string
				Verified bool
			}
			decodeInto(t, bo.must(200, "GET", "/v1/auth/me", ""), &me)
			if !slices.Equal(me.Roles, []string{"editor"}) || !me.Verified {
				t.Errorf("invited account: %+v", me)
			}
			r = c.do("POST", "/v1/auth/signup", `{"email":"bo@example.com","password":"a long password","invite":"`+tok+`"}`)
			wantSignupProblem(t, r, "invite_invalid", "The invitation is not valid")
		})
	})
}
