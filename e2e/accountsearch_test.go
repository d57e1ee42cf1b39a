package e2e

import (
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/app"
)

// TestAccountSearchAndVerify: an admin finds accounts by part of their
// address and marks an address verified, over REST and Connect, in one
// process on each engine and through the gateway of a split deployment
// (where the accounts component answers over gRPC).
func TestAccountSearchAndVerify(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		c, _, _ := serveApp(t, engine, true)
		accountSearchAndVerify(t, c)
	})
	t.Run("split", func(t *testing.T) {
		accountSearchAndVerify(t, serveSplitApp(t, func(*app.Config) {}))
	})
}

func accountSearchAndVerify(t *testing.T, c *client) {
	admin := c.as(c.login(adminEmail, adminPassword).AccessToken)
	var ids []string
	for _, email := range []string{"ada.lovelace@example.com", "alan.turing@example.org", "grace.hopper@example.com"} {
		var a struct {
			ID string `json:"id"`
		}
		mustDecode(t, admin.must(201, "POST", "/v1/admin/accounts", `{"email": "`+email+`", "password": "a long enough password"}`), &a)
		ids = append(ids, a.ID)
	}
	emails := func(r response) string {
		var page struct {
			Items []struct {
				Email string `json:"email"`
			} `json:"items"`
		}
		mustDecode(t, r, &page)
		var out []string
		for _, a := range page.Items {
			out = append(out, a.Email)
		}
		return strings.Join(out, ",")
	}
	if got := emails(admin.must(200, "GET", "/v1/admin/accounts?email=EXAMPLE.COM", "")); got != "ada.lovelace@example.com,grace.hopper@example.com" {
		t.Errorf("REST search for EXAMPLE.COM found %q", got)
	}
	if got := emails(admin.must(200, "POST", "/basalt.v1.AdminService/ListAccounts", `{"email": "turing"}`, "Content-Type", "application/json")); got != "alan.turing@example.org" {
		t.Errorf("Connect search for turing found %q", got)
	}
	admin.must(400, "GET", "/v1/admin/accounts?email="+strings.Repeat("x", 255), "")

	var acct struct {
		Verified   bool    `json:"verified"`
		VerifiedAt *string `json:"verifiedAt"`
	}
	mustDecode(t, admin.must(200, "PATCH", "/v1/admin/accounts/"+ids[0], `{"verified": true}`), &acct)
	if !acct.Verified || acct.VerifiedAt == nil {
		t.Errorf("after PATCH verified: %+v", acct)
	}
	var rpcAcct struct {
		Account struct {
			Verified bool `json:"verified"`
		} `json:"account"`
	}
	mustDecode(t, admin.must(200, "POST", "/basalt.v1.AdminService/UpdateAccount", `{"id": "`+ids[1]+`", "verified": true}`, "Content-Type", "application/json"), &rpcAcct)
	if !rpcAcct.Account.Verified {
		t.Errorf("after UpdateAccount verified: %+v", rpcAcct)
	}
	mustDecode(t, admin.must(200, "GET", "/v1/admin/accounts/"+ids[1], ""), &acct)
	if !acct.Verified {
		t.Errorf("the account verified over Connect reads %+v over REST", acct)
	}
}
