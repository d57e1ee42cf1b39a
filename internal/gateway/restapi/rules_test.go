package restapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
)

func withToken(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// anonymous sends no Authorization header.
var anonymous = map[string]string{"Authorization": ""}

// notesSpec is a collection whose documents belong to their owner, with a
// hidden field.
const notesSpec = `{"name":"notes","schema":{"type":"object","properties":{"owner":{"type":"string"},` +
	`"text":{"type":"string"},"secret":{"type":"string"}}},` +
	`"rules":{"list":"owner = @auth.id","get":"owner = @auth.id","create":"owner = @auth.id","update":"owner = @auth.id"},` +
	`"hiddenFields":["secret"]}`

// seedNotes creates notes with n1 (owner u1) and n2 (owner u2).
func seedNotes(s *stack) {
	s.t.Helper()
	if rec := s.do("POST", "/v1/collections", nil, notesSpec); rec.Code != 201 {
		s.t.Fatalf("creating notes: %d %s", rec.Code, rec.Body.String())
	}
	for _, d := range []struct{ id, body string }{
		{"n1", `{"owner":"u1","text":"one","secret":"s1"}`},
		{"n2", `{"owner":"u2","text":"two","secret":"s2"}`},
	} {
		if rec := s.do("POST", "/v1/collections/notes/documents?id="+d.id, nil, d.body); rec.Code != 201 {
			s.t.Fatalf("creating %s: %d %s", d.id, rec.Code, rec.Body.String())
		}
	}
}

const notesDocs = "/v1/collections/notes/documents"

func TestAuthenticationScenarios(t *testing.T) {
	const challenge = `Bearer realm="basalt"`
	invalid := `Bearer realm="basalt", error="invalid_token"`
	malformed := `Bearer realm="basalt", error="invalid_request"`
	scenarios := []scenario{
		{name: "anonymous on an admin route", method: "GET", path: "/v1/collections", headers: anonymous,
			status: 401, code: "unauthenticated", header: map[string]string{"WWW-Authenticate": challenge}, has: []string{"authentication required"}},
		{name: "user on an admin route", method: "GET", path: "/v1/collections", headers: withToken(ownerToken),
			status: 403, code: "forbidden", header: map[string]string{"WWW-Authenticate": ""}},
		{name: "rejected credential", method: "GET", path: "/v1/collections", headers: withToken(unknownToken),
			status: 401, code: "unauthenticated", header: map[string]string{"WWW-Authenticate": invalid}},
		{name: "accepted without a principal", method: "GET", path: "/v1/collections", headers: withToken(nobodyToken),
			status: 401, code: "unauthenticated", header: map[string]string{"WWW-Authenticate": invalid}},
		{name: "other scheme", method: "GET", path: "/v1/collections", headers: map[string]string{"Authorization": "Basic dTpw"},
			status: 401, code: "unauthenticated", header: map[string]string{"WWW-Authenticate": malformed}},
		{name: "empty credential", method: "GET", path: "/v1/collections", headers: map[string]string{"Authorization": "Bearer "},
			status: 401, code: "unauthenticated", header: map[string]string{"WWW-Authenticate": malformed}},
		{name: "scheme only", method: "GET", path: "/v1/collections", headers: map[string]string{"Authorization": "Bearer"},
			status: 401, code: "unauthenticated"},
		{name: "two credentials", method: "GET", path: "/v1/collections", headers: map[string]string{"Authorization": "Bearer a, Bearer b"},
			status: 401, code: "unauthenticated", header: map[string]string{"WWW-Authenticate": malformed}},
		{name: "oversized header", method: "GET", path: "/v1/collections",
			headers: map[string]string{"Authorization": "Bearer " + strings.Repeat("a", MaxAuthorizationBytes)},
			status:  401, code: "unauthenticated", has: []string{"longer than 8192 bytes"}},
		{name: "authenticator unavailable", method: "GET", path: "/v1/collections", headers: withToken(downToken),
			status: 503, code: "unavailable", header: map[string]string{"Retry-After": "1", "WWW-Authenticate": ""}},
		{name: "authenticator failure", method: "GET", path: "/v1/collections", headers: withToken(brokenToken),
			status: 500, code: "internal",
			check: func(t *testing.T, s *stack, _ *httptest.ResponseRecorder) {
				if !strings.Contains(s.logs.String(), "the session store exploded") {
					t.Errorf("internal authenticator failure not logged: %s", s.logs.String())
				}
			}},
		{name: "scheme is case-insensitive", seed: true, method: "GET", path: "/v1/collections",
			headers: map[string]string{"Authorization": "bearer " + adminToken}, status: 200},
		{name: "credential refused before the body is read", method: "POST", path: "/v1/collections", headers: withToken(unknownToken),
			body: `{"name":`, status: 401, code: "unauthenticated"},
		{name: "anonymous write under an admin-only rule", seed: true, method: "POST", path: docsPath, headers: anonymous,
			body: `{"title":"x"}`, status: 401, code: "unauthenticated", header: map[string]string{"WWW-Authenticate": challenge}},
		{name: "user write under an admin-only rule", seed: true, method: "DELETE", path: p1Path, headers: withToken(ownerToken),
			status: 403, code: "forbidden"},
		{name: "openapi for everyone, without admin-only collections", seed: true, method: "GET", path: "/v1/openapi.json",
			headers: anonymous, status: 200, has: []string{`"operationId":"getOpenAPI"`},
			check: func(t *testing.T, _ *stack, rec *httptest.ResponseRecorder) {
				if strings.Contains(rec.Body.String(), "posts") {
					t.Errorf("the anonymous document names the admin-only collection posts")
				}
			}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, sc.run)
	}
}

func TestRuleScenarios(t *testing.T) {
	seed := func(s *stack) { seedNotes(s) }
	scenarios := []scenario{
		{name: "collection shape", setup: seed, method: "GET", path: "/v1/collections/notes", status: 200,
			has: []string{`"rules":{"list":"owner = @auth.id","get":"owner = @auth.id","create":"owner = @auth.id",` +
				`"update":"owner = @auth.id","delete":null},"hiddenFields":["secret"]`}},
		{name: "owner lists own", setup: seed, method: "GET", path: notesDocs + "?total=true", headers: withToken(ownerToken), status: 200,
			has: []string{`"items":[{"id":"n1"`, `"total":1`, `"data":{"owner":"u1","text":"one"}`}},
		{name: "anonymous lists nothing", setup: seed, method: "GET", path: notesDocs + "?total=true", headers: anonymous, status: 200,
			has: []string{`{"items":[],"nextCursor":null,"total":0,"totalCapped":false}`}},
		{name: "hidden field in a filter is unknown", setup: seed, method: "GET", path: notesDocs + `?filter=secret%3D%22s1%22`,
			headers: withToken(ownerToken), status: 400, code: "invalid", has: []string{`unknown field \"secret\"`}},
		{name: "admin filters on a hidden field", setup: seed, method: "GET", path: notesDocs + `?filter=secret%3D%22s1%22`,
			status: 200, has: []string{`"secret":"s1"`}},
		{name: "owner gets own without hidden fields", setup: seed, method: "GET", path: notesDocs + "/n1", headers: withToken(ownerToken),
			status: 200, header: map[string]string{"ETag": `"1"`}, has: []string{`"data":{"owner":"u1","text":"one"}`}},
		{name: "other's document is not found", setup: seed, method: "GET", path: notesDocs + "/n2", headers: withToken(ownerToken),
			status: 404, code: "not_found"},
		{name: "owner creates own", setup: seed, method: "POST", path: notesDocs + "?id=n3", headers: withToken(ownerToken),
			body: `{"owner":"u1","text":"three","secret":"s3"}`, status: 201, events: 1,
			has: []string{`"data":{"owner":"u1","text":"three"}`},
			check: func(t *testing.T, s *stack, _ *httptest.ResponseRecorder) {
				if d, _ := s.document("notes", "n3"); !strings.Contains(string(d.Data), `"secret":"s3"`) {
					t.Errorf("stored n3 = %s", d.Data)
				}
			}},
		{name: "create for someone else", setup: seed, method: "POST", path: notesDocs + "?id=n3", headers: withToken(ownerToken),
			body: `{"owner":"u2","text":"three"}`, status: 403, code: "forbidden"},
		{name: "hand a document over", setup: seed, method: "PATCH", path: notesDocs + "/n1", headers: withToken(ownerToken),
			body: `{"owner":"u2"}`, status: 403, code: "forbidden"},
		{name: "update other's", setup: seed, method: "PUT", path: notesDocs + "/n2", headers: withToken(ownerToken),
			body: `{"owner":"u1"}`, status: 404, code: "not_found"},
		{name: "delete is admin-only", setup: seed, method: "DELETE", path: notesDocs + "/n1", headers: withToken(ownerToken),
			status: 403, code: "forbidden"},
		{name: "API key without write scope", setup: seed, method: "POST", path: "/v1/batch", headers: withToken(readerToken),
			body: `{"operations":[{"op":"create","collection":"notes","data":{"owner":"r1"}}]}`, status: 403, code: "forbidden"},
		{name: "batch as the owner", setup: seed, method: "POST", path: "/v1/batch", headers: withToken(ownerToken),
			body: `{"operations":[{"op":"create","collection":"notes","id":"n4","data":{"owner":"u1","secret":"x"}},` +
				`{"op":"patch","collection":"notes","id":"n1","data":{"text":"edited"}}]}`,
			status: 200, events: 2, has: []string{`"data":{"owner":"u1"}`, `"data":{"owner":"u1","text":"edited"}`}},
		{name: "batch rolls back on a refused op", setup: seed, method: "POST", path: "/v1/batch", headers: withToken(ownerToken),
			body: `{"operations":[{"op":"create","collection":"notes","id":"n4","data":{"owner":"u1"}},` +
				`{"op":"patch","collection":"notes","id":"n1","data":{"owner":"u2"}}]}`,
			status: 403, code: "forbidden", has: []string{`/operations/1`}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, sc.run)
	}
}

func TestCollectionAccessDefinition(t *testing.T) {
	base := `{"name":"c","schema":{"type":"object","properties":{"owner":{"type":"string"},"secret":{"type":"string"}}}`
	scenarios := []scenario{
		{name: "defaults", method: "POST", path: "/v1/collections", body: base + `}`, status: 201, events: 1,
			has: []string{`"rules":{"list":null,"get":null,"create":null,"update":null,"delete":null},"hiddenFields":[]`}},
		{name: "null and empty differ", method: "POST", path: "/v1/collections", body: base + `,"rules":{"list":"","get":null},"hiddenFields":null}`,
			status: 201, events: 1, has: []string{`"rules":{"list":"","get":null,`}},
		{name: "rules not an object", method: "POST", path: "/v1/collections", body: base + `,"rules":"owner = @auth.id"}`,
			status: 400, code: "invalid", has: []string{`"pointer":"/rules"`}},
		{name: "unknown action", method: "POST", path: "/v1/collections", body: base + `,"rules":{"read":""}}`,
			status: 400, code: "invalid", has: []string{`"pointer":"/rules/read"`}},
		{name: "rule not a string", method: "POST", path: "/v1/collections", body: base + `,"rules":{"list":true}}`,
			status: 400, code: "invalid", has: []string{`"pointer":"/rules/list"`}},
		{name: "rule does not parse", method: "POST", path: "/v1/collections", body: base + `,"rules":{"get":"nope = @auth.id"}}`,
			status: 400, code: "validation", has: []string{`"pointer":"/rules/get"`}},
		{name: "hidden fields not an array", method: "POST", path: "/v1/collections", body: base + `,"hiddenFields":"secret"}`,
			status: 400, code: "invalid", has: []string{`"pointer":"/hiddenFields"`}},
		{name: "hidden field not a string", method: "POST", path: "/v1/collections", body: base + `,"hiddenFields":["secret",1]}`,
			status: 400, code: "invalid", has: []string{`"pointer":"/hiddenFields/1"`}},
		{name: "hidden system field", method: "POST", path: "/v1/collections", body: base + `,"hiddenFields":["id"]}`,
			status: 400, code: "validation", has: []string{`"pointer":"/hiddenFields/0"`}},
		{name: "patch rules", setup: func(s *stack) { seedNotes(s) }, method: "PATCH", path: "/v1/collections/notes",
			headers: mergePatch, body: `{"rules":{"list":null,"delete":""},"hiddenFields":[]}`, status: 200, events: 1,
			header: map[string]string{"ETag": `"2"`},
			has:    []string{`"rules":{"list":null,"get":"owner = @auth.id","create":"owner = @auth.id","update":"owner = @auth.id","delete":""},"hiddenFields":[]`}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, sc.run)
	}
}

// TestAuthenticateMiddleware checks the exported middleware on its own: the
// principal it puts in the context, the nil authenticator, and several
// Authorization headers.
func TestAuthenticateMiddleware(t *testing.T) {
	var seen auth.Principal
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = auth.FromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})
	send := func(h http.Handler, values ...string) *httptest.ResponseRecorder {
		seen = auth.Principal{Kind: auth.KindAPIKey, ID: "stale"}
		req := httptest.NewRequestWithContext(t.Context(), "GET", "/x", nil)
		for _, v := range values {
			req.Header.Add("Authorization", v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	h := Authenticate(testAuthenticator(), echo)
	if rec := send(h, "Bearer "+ownerToken); rec.Code != 204 || seen.ID != "u1" || seen.Kind != auth.KindUser {
		t.Fatalf("owner: %d, principal %+v", rec.Code, seen)
	}
	if rec := send(h); rec.Code != 204 || seen.Authenticated() {
		t.Fatalf("no header: %d, principal %+v", rec.Code, seen)
	}
	rec := send(h, "Bearer "+ownerToken, "Bearer "+adminToken)
	if rec.Code != 401 || seen.ID != "stale" || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("two headers: %d %v, principal %+v", rec.Code, rec.Header(), seen)
	}
	if rec := send(h, "Bearer "+unknownToken); rec.Code != 401 || seen.ID != "stale" {
		t.Fatalf("rejected credential reached the handler: %d %+v", rec.Code, seen)
	}
	for _, v := range []string{"Bearer a b", "Bearer a\tb", "Bearer ==", "Bearer a=b", "Token " + adminToken} {
		if rec := send(h, v); rec.Code != 401 || seen.ID != "stale" {
			t.Errorf("%q: %d, principal %+v", v, rec.Code, seen)
		}
	}
	for _, v := range []string{"Bearer abc.DEF-ghi_jkl~0+/9==", "BEARER " + adminToken} {
		if rec := send(h, v); rec.Code == 401 && strings.Contains(rec.Header().Get("WWW-Authenticate"), "invalid_request") {
			t.Errorf("%q was refused as malformed", v)
		}
	}
	// Without an authenticator every request is anonymous.
	if rec := send(Authenticate(nil, echo), "Bearer "+adminToken); rec.Code != 204 || seen.Authenticated() {
		t.Fatalf("nil authenticator: %d, principal %+v", rec.Code, seen)
	}
}

// TestCursorOfAnotherCaller checks over HTTP that a cursor issued to one
// caller is refused for another.
func TestCursorOfAnotherCaller(t *testing.T) {
	s := newStack(t)
	seedNotes(s)
	if rec := s.do("PATCH", "/v1/collections/notes", mergePatch, `{"rules":{"list":""}}`); rec.Code != 200 {
		t.Fatalf("opening the list: %d %s", rec.Code, rec.Body.String())
	}
	rec := s.do("GET", notesDocs+"?limit=1", withToken(ownerToken), "")
	var page struct {
		NextCursor string `json:"nextCursor"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.NextCursor == "" {
		t.Fatalf("first page: %s, %v", rec.Body.String(), err)
	}
	next := notesDocs + "?limit=1&cursor=" + page.NextCursor
	if rec := s.do("GET", next, withToken(ownerToken), ""); rec.Code != 200 {
		t.Fatalf("the owner's cursor: %d %s", rec.Code, rec.Body.String())
	}
	if rec := s.do("GET", next, withToken(otherToken), ""); rec.Code != 400 || !strings.Contains(rec.Body.String(), "cursor") {
		t.Fatalf("another caller's cursor: %d %s", rec.Code, rec.Body.String())
	}
}

// TestIdempotencyKeyPerCaller checks over HTTP that two callers sending
// one Idempotency-Key get their own answers.
func TestIdempotencyKeyPerCaller(t *testing.T) {
	s := newStack(t)
	if _, err := s.svc.CreateCollection(adminCtx(t), docstore.CollectionSpec{Name: "open",
		Schema: json.RawMessage(`{"type":"object"}`), Rules: docstore.Rules{Create: new("")}}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, token := range []string{ownerToken, otherToken, ownerToken} {
		h := withToken(token)
		h["Idempotency-Key"] = "same"
		rec := s.do("POST", "/v1/collections/open/documents", h, `{"n":1}`)
		var d struct {
			ID string `json:"id"`
		}
		if rec.Code != 201 || json.Unmarshal(rec.Body.Bytes(), &d) != nil {
			t.Fatalf("create as %s: %d %s", token, rec.Code, rec.Body.String())
		}
		if prev, ok := ids[token]; ok && prev != d.ID {
			t.Fatalf("%s's retry created %s, first %s", token, d.ID, prev)
		}
		ids[token] = d.ID
	}
	if ids[ownerToken] == ids[otherToken] {
		t.Fatalf("two callers shared the answer %s", ids[ownerToken])
	}
	if n := len(s.documentEvents()); n != 2 {
		t.Fatalf("outbox has %d document events, want 2", n)
	}
}

// TestAuthenticateLogsNothingForRejections checks that refused credentials
// are client errors, not logged as internal ones.
func TestAuthenticateLogsNothingForRejections(t *testing.T) {
	logs := new(bytes.Buffer)
	h := authenticate(testAuthenticator(), New(nil, Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))}).WriteProblem,
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	for _, token := range []string{unknownToken, downToken, nobodyToken} {
		req := httptest.NewRequestWithContext(t.Context(), "GET", "/x", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 400 || rec.Code >= 500 && rec.Code != 503 {
			t.Errorf("%s: status %d", token, rec.Code)
		}
		body, _ := io.ReadAll(rec.Body)
		if !json.Valid(body) {
			t.Errorf("%s: body %q", token, body)
		}
	}
	if logs.Len() != 0 {
		t.Errorf("rejections were logged: %s", logs.String())
	}
}
