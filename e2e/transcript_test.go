package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

// TestSplitTranscriptMatchesMonolith runs one scripted session —
// collections, documents, accounts, API keys, rules and errors — against a
// monolith and against a split deployment (gateway, documents and
// accounts in separate processes), each on a fresh PostgreSQL database,
// records every exchange (request, status, the headers a client acts on,
// the body with ids, times and secrets replaced by stable placeholders)
// and requires the two transcripts to be identical, line by line.
func TestSplitTranscriptMatchesMonolith(t *testing.T) {
	t.Parallel() // its own processes and databases
	monolith := func() *server {
		db := pgtest.URL(t)
		dir := t.TempDir()
		p := startProcess(t, filepath.Join(dir, "all"), "--db", db)
		actAsAdmin(t, []string{"--data-dir", filepath.Join(dir, "admin"), "--db", db}, p)
		return p
	}()
	split := startSplit(t)

	want := transcript(t, monolith)
	got := transcript(t, split.gateway)
	if len(want) < 40 {
		t.Fatalf("the transcript has only %d lines", len(want))
	}
	if testing.Verbose() {
		t.Logf("the monolith's transcript:\n%s", strings.Join(want, "\n"))
	}
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Errorf("line %d:\nmonolith: %s\nsplit:    %s", i+1, w, g)
		}
	}
}

// recorder makes requests and records each exchange as a normalized line.
type recorder struct {
	t     *testing.T
	base  *client
	lines []string
	// seen numbers the dynamic values (ids, tokens) in the order they
	// first appear, so that the same value reads the same everywhere.
	seen map[string]string
}

var (
	uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	// secretRe matches refresh tokens and API keys ("bsr_…", "bsk_…").
	secretRe = regexp.MustCompile(`\bbs[a-z]_[A-Za-z0-9_-]{16,}`)
	// dynamicFields hold values that differ between any two runs (times,
	// secrets, signed cursors, request ids), by what they stand for.
	dynamicFields = map[string]string{"createdAt": "time", "updatedAt": "time", "expiresAt": "time", "lastUsedAt": "time",
		"verifiedAt": "time", "accessTokenExpiresAt": "time", "refreshTokenExpiresAt": "time", "revokedAt": "time", "notAfter": "time",
		"time": "time", "accessToken": "secret", "refreshToken": "secret", "key": "secret", "prefix": "secret",
		"nextCursor": "cursor", "requestId": "request", "instance": "request", "expiresIn": "seconds"}
)

// placeholder is the stable name of id: the same id reads the same
// everywhere, ids numbered in the order they first appear.
func (r *recorder) placeholder(id string) string {
	if p, ok := r.seen[id]; ok {
		return p
	}
	p := fmt.Sprintf("<id-%d>", len(r.seen)+1)
	r.seen[id] = p
	return p
}

// normalize replaces the ids and secrets of s.
func (r *recorder) normalize(s string) string {
	s = secretRe.ReplaceAllString(s, "<secret>")
	return uuidRe.ReplaceAllStringFunc(s, r.placeholder)
}

// normalizeJSON rewrites a JSON value with its dynamic fields replaced,
// visiting object members in key order (so ids are numbered alike).
func (r *recorder) normalizeJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if kind, ok := dynamicFields[k]; ok && x[k] != nil && x[k] != "" {
				x[k] = "<" + kind + ">"
				continue
			}
			x[k] = r.normalizeJSON(x[k])
		}
		return x
	case []any:
		for i := range x {
			x[i] = r.normalizeJSON(x[i])
		}
		return x
	case string:
		return r.normalize(x)
	}
	return v
}

// encode is v as JSON text, keys sorted, without HTML escapes.
func encode(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(b.String())
}

// do makes the request as c and records it.
func (r *recorder) do(c *client, method, path, body string, headers ...string) response {
	r.t.Helper()
	res := c.do(method, path, body, headers...)
	line := fmt.Sprintf("%s %s %s → %d", method, r.normalize(path), r.normalize(body), res.Status)
	for _, h := range []string{"Content-Type", "ETag", "Location", "Allow", "Retry-After"} {
		if v := res.Header.Get(h); v != "" {
			line += fmt.Sprintf(" %s=%s", h, r.normalize(v))
		}
	}
	if len(res.Body) > 0 {
		var v any
		if err := json.Unmarshal(res.Body, &v); err != nil {
			line += " " + r.normalize(string(res.Body))
		} else {
			line += " " + encode(r.normalizeJSON(v))
		}
	}
	r.lines = append(r.lines, line)
	return res
}

// transcript runs the scripted session against s (whose clients act as
// the admin) and returns its lines.
func transcript(t *testing.T, s *server) []string {
	r := &recorder{t: t, base: s.client(t), seen: map[string]string{}}
	admin, anon := s.client(t), s.client(t).anonymous()

	// Collections: a good one, a bad schema, a duplicate, a bad rule.
	r.do(admin, "POST", "/v1/collections", `{"name":"notes","schema":{"type":"object","properties":{"owner":{"type":"string"},"title":{"type":"string","maxLength":20},"n":{"type":"integer"}},"required":["owner","title"]},
		"rules":{"list":"owner = @auth.id","get":"owner = @auth.id","create":"owner = @auth.id","update":"owner = @auth.id","delete":"owner = @auth.id"},
		"indexes":[{"fields":["n"]}]}`)
	r.do(admin, "POST", "/v1/collections", `{"name":"bad","schema":{"type":"nonsense"}}`)
	r.do(admin, "POST", "/v1/collections", `{"name":"notes","schema":{"type":"object"}}`)
	r.do(admin, "POST", "/v1/collections", `{"name":"badrule","schema":{"type":"object"},"rules":{"list":"owner = = 1"}}`)
	r.do(admin, "GET", "/v1/collections/notes", "")
	r.do(admin, "GET", "/v1/collections/missing", "")
	r.do(anon, "GET", "/v1/collections", "")

	// Accounts: sign-ups, logins right and wrong, the account, sessions.
	r.do(anon, "POST", "/v1/auth/signup", `{"email":"ada@example.com","password":"correct horse battery"}`)
	r.do(anon, "POST", "/v1/auth/signup", `{"email":"bob@example.com","password":"correct horse battery"}`)
	r.do(anon, "POST", "/v1/auth/signup", `{"email":"not-an-address","password":"correct horse battery"}`)
	r.do(anon, "POST", "/v1/auth/signup", `{"email":"eve@example.com","password":"short"}`)
	r.do(anon, "POST", "/v1/auth/login", `{"email":"ada@example.com","password":"wrong password!"}`)
	adaTokens := decodeTokens(t, r.do(anon, "POST", "/v1/auth/login", `{"email":"ada@example.com","password":"correct horse battery"}`))
	bobTokens := decodeTokens(t, r.do(anon, "POST", "/v1/auth/login", `{"email":"bob@example.com","password":"correct horse battery"}`))
	ada, bob := s.client(t).as(adaTokens.AccessToken), s.client(t).as(bobTokens.AccessToken)
	var me struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.do(ada, "GET", "/v1/auth/me", "").Body, &me); err != nil {
		t.Fatal(err)
	}
	r.do(ada, "GET", "/v1/auth/sessions", "")
	r.do(anon, "GET", "/v1/auth/me", "")
	r.do(s.client(t).as("not-a-token"), "GET", "/v1/auth/me", "")

	// Documents under the rules, with validation and compare-and-set.
	owned := `"owner":"` + me.ID + `"`
	r.do(ada, "POST", "/v1/collections/notes/documents?id=a1", `{`+owned+`,"title":"first","n":1}`)
	r.do(ada, "POST", "/v1/collections/notes/documents?id=a2", `{`+owned+`,"title":"second","n":2}`)
	r.do(ada, "POST", "/v1/collections/notes/documents?id=a1", `{`+owned+`,"title":"again","n":1}`)
	r.do(ada, "POST", "/v1/collections/notes/documents", `{`+owned+`,"title":"this title is far too long","n":"x","extra":true}`)
	r.do(ada, "POST", "/v1/collections/notes/documents", `{"owner":"someone else","title":"not mine"}`)
	r.do(ada, "POST", "/v1/collections/notes/documents", `{"owner":`)
	r.do(ada, "GET", "/v1/collections/notes/documents/a1", "")
	r.do(bob, "GET", "/v1/collections/notes/documents/a1", "")
	r.do(anon, "GET", "/v1/collections/notes/documents/a1", "")
	r.do(ada, "GET", "/v1/collections/notes/documents?filter=n%20%3E%3D%202&sort=-n", "")
	r.do(ada, "GET", "/v1/collections/notes/documents?filter=n%20%3E%3E%202", "")
	r.do(ada, "GET", "/v1/collections/notes/documents?filter=secret%20%3D%201", "")
	r.do(bob, "GET", "/v1/collections/notes/documents", "")
	r.do(ada, "GET", "/v1/collections/notes/documents?limit=1", "")
	r.do(ada, "PATCH", "/v1/collections/notes/documents/a1", `{"n":10}`, "If-Match", `"7"`)
	r.do(ada, "PATCH", "/v1/collections/notes/documents/a1", `{"n":10}`, "If-Match", `"1"`)
	r.do(ada, "PUT", "/v1/collections/notes/documents/a1", `{`+owned+`,"title":"replaced"}`, "If-Match", `"2"`)
	r.do(bob, "DELETE", "/v1/collections/notes/documents/a1", "")
	r.do(ada, "POST", "/v1/batch", `{"operations":[{"op":"create","collection":"notes","id":"b1","data":{`+owned+`,"title":"b1"}},
		{"op":"create","collection":"notes","id":"b2","data":{"owner":"someone else","title":"b2"}}]}`)
	r.do(ada, "GET", "/v1/collections/notes/documents/b1", "")
	r.do(ada, "POST", "/v1/batch", `{"operations":[{"op":"create","collection":"notes","id":"b1","data":{`+owned+`,"title":"b1"}},
		{"op":"delete","collection":"notes","id":"a2"}]}`)
	r.do(ada, "DELETE", "/v1/collections/notes/documents/a1", "", "If-Match", `"3"`)
	r.do(ada, "GET", "/v1/collections/notes/documents/a1", "")

	// API keys: scoped, used, refused beyond their scope, revoked.
	var key struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	if err := json.Unmarshal(r.do(admin, "POST", "/v1/admin/api-keys", `{"name":"reader","roles":["admin"],"scopes":["notes:read"]}`).Body, &key); err != nil {
		t.Fatal(err)
	}
	reader := s.client(t).as(key.Key)
	r.do(reader, "GET", "/v1/collections/notes/documents/b1", "")
	r.do(reader, "POST", "/v1/collections/notes/documents", `{"owner":"x","title":"by a key"}`)
	r.do(reader, "GET", "/v1/admin/accounts", "")
	r.do(admin, "POST", "/v1/admin/api-keys", `{"name":"bad","scopes":["nonsense"]}`)
	r.do(admin, "DELETE", "/v1/admin/api-keys/"+key.ID, "")
	r.do(reader, "GET", "/v1/collections/notes/documents/b1", "")

	// Administration of accounts, and the end of sessions.
	r.do(admin, "GET", "/v1/admin/accounts", "")
	r.do(ada, "GET", "/v1/admin/accounts", "")
	r.do(anon, "POST", "/v1/auth/refresh", `{"refreshToken":"`+bobTokens.RefreshToken+`"}`)
	r.do(anon, "POST", "/v1/auth/refresh", `{"refreshToken":"`+bobTokens.RefreshToken+`x"}`)
	r.do(ada, "POST", "/v1/auth/logout", "")
	r.do(ada, "GET", "/v1/auth/me", "")

	// Errors of the HTTP layer itself.
	r.do(admin, "GET", "/v1/nowhere", "")
	r.do(admin, "PATCH", "/v1/collections", "{}")
	r.do(admin, "POST", "/v1/collections", `{"name":`, "Content-Type", "application/json")
	r.do(admin, "DELETE", "/v1/collections/notes", "")
	r.do(admin, "GET", "/v1/collections/notes/documents/b1", "")
	return r.lines
}

// TestRecorderNormalizes: the transcript is only as good as its
// normalization. Ids keep their identity, secrets and times do not show.
func TestRecorderNormalizes(t *testing.T) {
	r := &recorder{t: t, seen: map[string]string{}}
	a := r.normalize("/v1/x/0190a0b0-0000-7000-8000-000000000001/y/0190a0b0-0000-7000-8000-000000000002?k=bsk_abcdefghijklmnopqrstu")
	b := r.normalize("0190a0b0-0000-7000-8000-000000000001")
	if a != "/v1/x/<id-1>/y/<id-2>?k=<secret>" || b != "<id-1>" {
		t.Errorf("normalized %q, %q", a, b)
	}
	v := r.normalizeJSON(map[string]any{"accessToken": "eyJ.x.y", "n": 1.0, "revokedAt": nil,
		"items": []any{map[string]any{"createdAt": "2026-12-05T00:00:00Z", "owner": "0190a0b0-0000-7000-8000-000000000002"}}})
	if got, want := encode(v), `{"accessToken":"<secret>","items":[{"createdAt":"<time>","owner":"<id-2>"}],"n":1,"revokedAt":null}`; got != want {
		t.Errorf("normalized %s, want %s", got, want)
	}
}
