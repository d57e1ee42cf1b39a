package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"
)

// The admin account scenarios act as: collections are admin-only unless
// their rules say otherwise.
const (
	adminEmail    = "admin@basalt.test"
	adminPassword = "e2e admin password"
)

// tokens is the answer to a login or a refresh.
type tokens struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	Session      struct {
		ID string `json:"id"`
	} `json:"session"`
}

func decodeTokens(t *testing.T, r response) tokens {
	t.Helper()
	var tk tokens
	if err := json.Unmarshal(r.Body, &tk); err != nil {
		t.Fatalf("tokens: %v\n%s", err, r.Body)
	}
	if tk.AccessToken == "" || tk.RefreshToken == "" || tk.Session.ID == "" {
		t.Fatalf("tokens lack the access token, the refresh token or the session: %s", r.Body)
	}
	return tk
}

// credentials is the body of a sign-up or a login.
func credentials(t *testing.T, email, password string) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"email": email, "password": password})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// login logs email in (200) and returns the tokens.
func (c *client) login(email, password string) tokens {
	c.t.Helper()
	return decodeTokens(c.t, c.anonymous().must(200, "POST", "/v1/auth/login", credentials(c.t, email, password)))
}

// signUp creates a user account (202) and logs it in.
func (c *client) signUp(email, password string) tokens {
	c.t.Helper()
	c.anonymous().must(202, "POST", "/v1/auth/signup", credentials(c.t, email, password))
	return c.login(email, password)
}

// accountID returns the ID of the account whose token the client sends
// (GET /v1/auth/me).
func (c *client) accountID() string {
	c.t.Helper()
	r := c.must(200, "GET", "/v1/auth/me", "")
	id, _ := r.JSON(c.t)["id"].(string)
	if id == "" {
		c.t.Fatalf("GET /v1/auth/me has no id: %s", r.Body)
	}
	return id
}

// createAdmin runs the built binary's `admin create` for the admin account
// with a server's storage flags (--data-dir, --db), the way an operator
// makes the first admin; it may run while the server runs.
func createAdmin(t *testing.T, storage ...string) {
	t.Helper()
	args := append([]string{"admin", "create", "--email", adminEmail}, storage...)
	cmd := exec.CommandContext(t.Context(), basaltBinary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "BASALT_PASSWORD=" + adminPassword}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("basalt %v: %v\n%s", args, err, out)
	}
}

// actAsAdmin creates the admin account on the database of servers (given
// by their storage flags), logs in through the first server, and makes the
// clients of every server send the admin's access token.
func actAsAdmin(t *testing.T, storage []string, servers ...*server) {
	t.Helper()
	createAdmin(t, storage...)
	tok := servers[0].client(t).login(adminEmail, adminPassword).AccessToken
	for _, s := range servers {
		s.token = tok
	}
}
