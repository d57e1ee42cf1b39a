package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// auditResult is one of graphql-http's server audits.
type auditResult struct {
	ID, Name, Status, Reason string
}

// TestGraphQLOverHTTPAudits runs the graphql-http package's server audits
// (GraphQL over HTTP, npm, in Node.js) against a live Basalt: every
// mandatory audit (MUST) passes. Then graphql-js reads the admin's schema
// by introspection and builds it, which checks that the answer is a valid
// schema holding the collection's types. make test installs the pinned
// packages (e2e/graphqlhttp, npm ci).
func TestGraphQLOverHTTPAudits(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("Node.js runs the GraphQL-over-HTTP audits (apt-get install nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join("graphqlhttp", "node_modules", "graphql-http")); err != nil {
		t.Fatal("the audits' packages are not installed: run make test, or npm ci in e2e/graphqlhttp")
	}
	admin, _ := startApp(t, "sqlite")
	admin.must(201, "POST", "/v1/collections", `{"name": "blog_posts", "rules": {"list": "", "get": ""}, "schema": {"type": "object", "properties": {
		"title": {"type": "string"}, "status": {"type": "string", "enum": ["draft", "published"]},
		"author": {"type": "object", "properties": {"name": {"type": "string"}}}, "tags": {"type": "array", "items": {"type": "string"}}}}}`)

	cmd := exec.CommandContext(t.Context(), node, "audit.mjs", admin.base+"/graphql", admin.token)
	cmd.Dir = "graphqlhttp"
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node audit.mjs: %v\n%s", err, out)
	}
	var report struct {
		Audits      []auditResult
		Schema      string
		SchemaError string
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("the audits' report: %v\n%s", err, out)
	}
	if len(report.Audits) < 30 {
		t.Fatalf("only %d audits ran", len(report.Audits))
	}
	var warnings []string
	for _, a := range report.Audits {
		switch a.Status {
		case "ok":
		case "error":
			t.Errorf("audit %s %q failed: %s", a.ID, a.Name, a.Reason)
		default:
			warnings = append(warnings, a.Status+" "+a.ID+" "+a.Name+": "+a.Reason)
		}
	}
	if len(warnings) > 0 {
		t.Logf("%d audits that are not mandatory did not pass:\n%s", len(warnings), strings.Join(warnings, "\n"))
	}
	if report.SchemaError != "" {
		t.Fatalf("the schema read by introspection: %s", report.SchemaError)
	}
	for _, want := range []string{"type BlogPosts {", "author: BlogPostsAuthor", "status: BlogPostsStatus", "enum BlogPostsStatus {",
		"blogPosts(first: Int, after: String, filter: BlogPostsFilter, orderBy: [BlogPostsOrderBy!], where: String, sort: String, total: Boolean): BlogPostsConnection!",
		"input BlogPostsFilter {", "status: BlogPostsStatusComparison", "me: Account"} {
		if !strings.Contains(report.Schema, want) {
			t.Errorf("the introspected schema lacks %q:\n%s", want, report.Schema)
		}
	}
}

// gql posts a GraphQL request as c and decodes the answer (any status).
func gql(t *testing.T, c *client, query string, vars map[string]any, headers ...string) (int, map[string]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	r := c.do("POST", "/graphql", string(body), headers...)
	return r.Status, r.JSON(t)
}

// TestGraphQLAccountFlows: a user logs in, reads their account and
// sessions, refreshes, revokes another session and logs out, all through
// GraphQL, with REST's outcomes: the refreshed token is spent, the revoked
// session's tokens stop working, and the logged-out access token is
// refused within a second. A wrong password is REST's error.
func TestGraphQLAccountFlows(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		admin, _ := startApp(t, engine)
		admin.must(201, "POST", "/v1/admin/accounts", `{"email": "gina@example.com", "password": "a long password of gina"}`)
		anon := admin.anonymous()
		const login = `mutation($e: String!, $p: String!, $d: String) { login(email: $e, password: $p, device: $d) {
			accessToken refreshToken tokenType expiresIn session { id device current userAgent } } }`
		status, bad := gql(t, anon, login, map[string]any{"e": "gina@example.com", "p": "not her password"})
		if status != 200 || bad["data"].(map[string]any)["login"] != nil || !strings.Contains(fmt.Sprint(bad["errors"]), "code:unauthenticated") {
			t.Fatalf("a wrong password: %d %v", status, bad)
		}
		logIn := func(device string) map[string]any {
			t.Helper()
			status, r := gql(t, anon, login, map[string]any{"e": "gina@example.com", "p": "a long password of gina", "d": device}, "User-Agent", "phone-app/1.0")
			tokens, _ := r["data"].(map[string]any)["login"].(map[string]any)
			if status != 200 || tokens == nil || tokens["tokenType"] != "Bearer" || tokens["session"].(map[string]any)["device"] != device ||
				tokens["session"].(map[string]any)["userAgent"] != "phone-app/1.0" || tokens["session"].(map[string]any)["current"] != true {
				t.Fatalf("login: %d %v", status, r)
			}
			return tokens
		}
		phone, laptop := logIn("phone"), logIn("laptop")
		gina := anon.as(phone["accessToken"].(string))
		_, r := gql(t, gina, `{ me { email } sessions { id device current } }`, nil)
		data := r["data"].(map[string]any)
		if data["me"].(map[string]any)["email"] != "gina@example.com" || len(data["sessions"].([]any)) != 2 {
			t.Fatalf("me and sessions: %v", r)
		}
		for _, s := range data["sessions"].([]any) {
			s := s.(map[string]any)
			if (s["device"] == "phone") != (s["current"] == true) {
				t.Errorf("current session: %v", s)
			}
		}
		// A refresh gives the next tokens and spends the one used.
		const refresh = `mutation($r: String!) { refresh(refreshToken: $r) { accessToken refreshToken session { id } } }`
		_, r = gql(t, anon, refresh, map[string]any{"r": phone["refreshToken"]})
		next, _ := r["data"].(map[string]any)["refresh"].(map[string]any)
		if next == nil || next["refreshToken"] == phone["refreshToken"] || next["session"].(map[string]any)["id"] != phone["session"].(map[string]any)["id"] {
			t.Fatalf("refresh: %v", r)
		}
		gina = anon.as(next["accessToken"].(string))
		// The laptop's session revoked from the phone: its refresh fails.
		_, r = gql(t, gina, `mutation($id: ID!) { revokeSession(id: $id) }`, map[string]any{"id": laptop["session"].(map[string]any)["id"]})
		if r["data"].(map[string]any)["revokeSession"] != true {
			t.Fatalf("revokeSession: %v", r)
		}
		if got := anon.do("POST", "/v1/auth/refresh", `{"refreshToken": "`+laptop["refreshToken"].(string)+`"}`); got.Status != 401 {
			t.Errorf("the revoked session's refresh: %d %s", got.Status, got.Body)
		}
		// Logout ends the session: its access token is refused soon after.
		_, r = gql(t, gina, `mutation { logout }`, nil)
		if r["data"].(map[string]any)["logout"] != true {
			t.Fatalf("logout: %v", r)
		}
		if !waitUntil(2*time.Second, func() bool { return gina.do("GET", "/v1/auth/me", "").Status == 401 }) {
			t.Error("the logged-out access token still works after 2 s")
		}
		// Without credentials, sessions and logout are REST's 401s.
		_, r = gql(t, anon, `{ sessions { id } }`, nil)
		if !strings.Contains(fmt.Sprint(r["errors"]), "code:unauthenticated") {
			t.Errorf("anonymous sessions: %v", r)
		}
	})
}
