package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
