package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// jsFence finds the JavaScript examples of a docs page.
var jsFence = regexp.MustCompile("(?s)```js\n(.*?)```")

// TestBrowserDocExample runs the fetch helper of docs/browser.md in
// Node.js (whose fetch is the browser's API) against a live server: it
// logs in, creates, reads and updates a document with the entity tag as
// received — compressed answers' tags included — and reads a stale
// update's problem, as the page says an app does.
func TestBrowserDocExample(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("Node.js runs the browser example of docs/browser.md: %v (.ci/run installs Debian's nodejs)", err)
	}
	page, err := os.ReadFile("../docs/browser.md")
	if err != nil {
		t.Fatal(err)
	}
	m := jsFence.FindSubmatch(page)
	if m == nil {
		t.Fatal("docs/browser.md has no ```js example")
	}
	example := string(m[1])
	const apiLine = `const api = "https://api.example.com";`
	if !strings.Contains(example, apiLine) {
		t.Fatalf("the example no longer starts from %s:\n%s", apiLine, example)
	}

	admin, _ := startApp(t, "sqlite")
	admin.must(201, "POST", "/v1/collections", `{"name":"notes","schema":{"type":"object","properties":{"text":{"type":"string"}}}}`)
	example = strings.Replace(example, apiLine, "const api = "+jsString(t, admin.base)+";", 1)

	// Long enough to be compressed (Node's fetch asks for gzip).
	text := strings.Repeat("a note worth compressing. ", 100)
	driver := `
(async () => {
  const login = await fetch(api + "/v1/auth/login", { method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: ` + jsString(t, adminEmail) + `, password: ` + jsString(t, adminPassword) + ` }) });
  if (!login.ok) throw new Error("login: " + login.status);
  access = (await login.json()).accessToken;

  const text = ` + jsString(t, text) + `;
  const created = await call("/v1/collections/notes/documents?id=n1", { method: "POST", body: { text } });
  const got = await call("/v1/collections/notes/documents/n1");
  const patched = await call("/v1/collections/notes/documents/n1", { method: "PATCH", body: { text: text + "!" }, etag: got.etag });
  let stale = null;
  try {
    await call("/v1/collections/notes/documents/n1", { method: "PATCH", body: { text: "stale" }, etag: got.etag });
  } catch (e) {
    stale = { status: e.problem && e.problem.status, code: e.problem && e.problem.code, requestId: e.requestId };
  }
  const deleted = await call("/v1/collections/notes/documents/n1", { method: "DELETE", etag: patched.etag });
  console.log(JSON.stringify({ created: created.etag, got: got.etag, gotVersion: got.data.version,
    patched: patched.etag, patchedText: patched.data.data.text, stale, deleted: deleted.data }));
})().catch((e) => { console.error(e); process.exit(1); });
`
	script := filepath.Join(t.TempDir(), "example.js")
	if err := os.WriteFile(script, []byte(example+driver), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), node, script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s\n%s", script, err, stdout.String(), stderr.String())
	}
	var out struct {
		Created, Got, Patched string
		GotVersion            int
		PatchedText           string
		Stale                 struct {
			Status    int
			Code      string
			RequestID string
		}
		Deleted any
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	// The read was compressed, and its tag names the coding; the update
	// with that tag as received still went through.
	if out.Got != `"1-gzip"` || out.GotVersion != 1 {
		t.Errorf("read: ETag %s, version %d; want \"1-gzip\" and 1", out.Got, out.GotVersion)
	}
	if !strings.HasPrefix(out.Patched, `"2`) || out.PatchedText != text+"!" {
		t.Errorf("update: ETag %s, text %.30q…", out.Patched, out.PatchedText)
	}
	if out.Stale.Status != 412 || out.Stale.Code != "precondition_failed" || out.Stale.RequestID == "" {
		t.Errorf("stale update: %+v; want a 412 precondition_failed problem with a request id", out.Stale)
	}
	if out.Deleted != nil {
		t.Errorf("delete answered %v, want no body", out.Deleted)
	}
	admin.must(404, "GET", "/v1/collections/notes/documents/n1", "")
}

// jsString quotes s as a JavaScript string literal (JSON is one).
func jsString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
