package restapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// scenario is one HTTP exchange against the real stack (REST API, document
// service, SQLite), with its expected answer and side effects.
type scenario struct {
	name    string
	seed    bool              // create "posts" with p1 and p2 first
	setup   func(s *stack)    // more preparation, after seed
	method  string            //
	path    string            //
	headers map[string]string // request headers; "" deletes one
	body    string            // sent as application/json unless headers say otherwise
	status  int
	code    string            // problem code, for error answers
	header  map[string]string // exact response headers; "" means absent
	has     []string          // substrings of the response body
	events  int               // outbox rows the request adds (writes)
	check   func(t *testing.T, s *stack, rec *httptest.ResponseRecorder)
	limits  []string // rate-limit specs over the defaults; nil: no limits
}

func (sc scenario) run(t *testing.T) {
	s := newStack(t, sc.limits...)
	if sc.seed {
		s.seedPosts()
	}
	if sc.setup != nil {
		sc.setup(s)
	}
	before, eventsBefore := s.snapshot(), len(s.outbox())
	rec := s.do(sc.method, sc.path, sc.headers, sc.body)
	body := rec.Body.String()
	if rec.Code != sc.status {
		t.Fatalf("%s %s: status %d, want %d; body %s", sc.method, sc.path, rec.Code, sc.status, body)
	}
	for k, want := range sc.header {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	for _, sub := range sc.has {
		if !strings.Contains(body, sub) {
			t.Errorf("body %s does not contain %q", body, sub)
		}
	}
	switch {
	case rec.Code == http.StatusNotModified || rec.Code == http.StatusNoContent:
		if body != "" {
			t.Errorf("%d with body %q", rec.Code, body)
		}
	case rec.Code >= 400:
		assertProblem(t, rec, sc.code)
	default:
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Errorf("body is not JSON: %s", body)
		}
	}
	if rec.Code >= 300 && rec.Code != http.StatusNoContent {
		if after := s.snapshot(); after != before {
			t.Errorf("a refused request changed the state:\nbefore %s\nafter  %s", before, after)
		}
	}
	if got := len(s.outbox()) - eventsBefore; got != sc.events {
		t.Errorf("outbox rows added = %d, want %d", got, sc.events)
	}
	if sc.check != nil {
		sc.check(t, s, rec)
	}
}

// assertProblem checks an RFC 9457 body with the given code.
func assertProblem(t *testing.T, rec *httptest.ResponseRecorder, code string) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != ProblemContentType {
		t.Errorf("Content-Type = %q, want %q", ct, ProblemContentType)
	}
	var p map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body %q: %v", rec.Body.String(), err)
	}
	if p["code"] != code || p["type"] != "urn:basalt:problem:"+code {
		t.Errorf("problem code/type = %v/%v, want %s; body %s", p["code"], p["type"], code, rec.Body.String())
	}
	if st, _ := p["status"].(float64); int(st) != rec.Code {
		t.Errorf("problem status %v, response status %d", p["status"], rec.Code)
	}
	if s, _ := p["title"].(string); s == "" {
		t.Errorf("problem without title: %s", rec.Body.String())
	}
	if rec.Code < 500 {
		if s, _ := p["detail"].(string); s == "" {
			t.Errorf("client error without detail: %s", rec.Body.String())
		}
	}
}

const (
	docsPath = "/v1/collections/posts/documents"
	p1Path   = docsPath + "/p1"
)

var (
	mergePatch = map[string]string{"Content-Type": "application/merge-patch+json"}
	ifMatch1   = map[string]string{"If-Match": `"1"`}
)

func TestCollectionScenarios(t *testing.T) {
	scenarios := []scenario{
		{name: "list", seed: true, method: "GET", path: "/v1/collections", status: 200,
			has: []string{`"items":[{"name":"posts"`, `"additionalProperties":false`}},
		{name: "list empty", method: "GET", path: "/v1/collections", status: 200, has: []string{`{"items":[]}`}},
		{name: "create", method: "POST", path: "/v1/collections",
			body:   `{"name":"notes","schema":{"type":"object","properties":{"text":{"type":"string"}}},"indexes":[{"fields":["text"]}]}`,
			status: 201, header: map[string]string{"Location": "/v1/collections/notes", "ETag": `"1"`}, events: 1,
			has: []string{`"name":"notes"`, `"version":1`},
			check: func(t *testing.T, s *stack, _ *httptest.ResponseRecorder) {
				if _, err := s.svc.GetCollection(adminCtx(t), "notes"); err != nil {
					t.Errorf("collection notes after create: %v", err)
				}
			}},
		{name: "create existing", seed: true, method: "POST", path: "/v1/collections",
			body: `{"name":"posts","schema":{"type":"object"}}`, status: 409, code: "conflict"},
		{name: "create bad name", method: "POST", path: "/v1/collections",
			body: `{"name":"Bad-Name","schema":{"type":"object"}}`, status: 400, code: "invalid"},
		{name: "create unknown member", method: "POST", path: "/v1/collections",
			body: `{"name":"notes","schema":{"type":"object"},"rulez":{}}`, status: 400, code: "invalid", has: []string{`"pointer":"/rulez"`}},
		{name: "create schema declaring a system field", method: "POST", path: "/v1/collections",
			body: `{"name":"notes","schema":{"type":"object","properties":{"version":{"type":"integer"}}}}`, status: 400, code: "invalid"},
		{name: "create with idempotency key", method: "POST", path: "/v1/collections", headers: map[string]string{"Idempotency-Key": "k1"},
			body: `{"name":"notes","schema":{"type":"object"}}`, status: 400, code: "invalid"},
		{name: "get", seed: true, method: "GET", path: "/v1/collections/posts", status: 200,
			header: map[string]string{"ETag": `"1"`}, has: []string{`"name":"posts"`}},
		{name: "get not modified", seed: true, method: "GET", path: "/v1/collections/posts",
			headers: map[string]string{"If-None-Match": `"1"`}, status: 304, header: map[string]string{"ETag": `"1"`}},
		{name: "get missing", method: "GET", path: "/v1/collections/nope", status: 404, code: "not_found"},
		{name: "replace", seed: true, method: "PUT", path: "/v1/collections/posts", headers: ifMatch1,
			body:   `{"schema":{"type":"object","properties":{"title":{"type":"string"},"score":{"type":"integer"},"body":{"type":"string"}}}}`,
			status: 200, header: map[string]string{"ETag": `"2"`}, has: []string{`"body"`}, events: 1},
		{name: "replace with other name", seed: true, method: "PUT", path: "/v1/collections/posts",
			body: `{"name":"other","schema":{"type":"object"}}`, status: 400, code: "invalid", has: []string{`"pointer":"/name"`}},
		{name: "replace stale", seed: true, method: "PUT", path: "/v1/collections/posts", headers: map[string]string{"If-Match": `"7"`},
			body: `{"schema":{"type":"object"}}`, status: 412, code: "precondition_failed"},
		{name: "patch", seed: true, method: "PATCH", path: "/v1/collections/posts", headers: mergePatch,
			body: `{"indexes":[{"fields":["score"]}]}`, status: 200, header: map[string]string{"ETag": `"2"`}, events: 1,
			has: []string{`"indexes":[{"fields":["score"]}]`}},
		{name: "patch wrong media type", seed: true, method: "PATCH", path: "/v1/collections/posts",
			headers: map[string]string{"Content-Type": "text/plain"}, body: `{}`, status: 415, code: "unsupported_media_type"},
		{name: "delete", seed: true, method: "DELETE", path: "/v1/collections/posts", headers: ifMatch1, status: 204, events: 1,
			check: func(t *testing.T, s *stack, _ *httptest.ResponseRecorder) {
				if _, err := s.svc.GetCollection(adminCtx(t), "posts"); err == nil {
					t.Error("collection posts still exists")
				}
			}},
		{name: "delete stale", seed: true, method: "DELETE", path: "/v1/collections/posts", headers: map[string]string{"If-Match": `"2"`},
			status: 412, code: "precondition_failed"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t)
		})
	}
}

func TestDocumentScenarios(t *testing.T) {
	scenarios := []scenario{
		{name: "create with id", seed: true, method: "POST", path: docsPath + "?id=p3", body: `{"title":"Obsidian","score":9}`,
			status: 201, events: 1,
			header: map[string]string{"Location": docsPath + "/p3", "ETag": `"1"`},
			has:    []string{`"id":"p3"`, `"collection":"posts"`, `"version":1`, `"data":{"score":9,"title":"Obsidian"}`},
			check: func(t *testing.T, s *stack, _ *httptest.ResponseRecorder) {
				d, ok := s.document("posts", "p3")
				if !ok || string(d.Data) != `{"score":9,"title":"Obsidian"}` {
					t.Errorf("p3 after create = %s, %v", d.Data, ok)
				}
				ev := s.outbox()
				if last := ev[len(ev)-1]; last.DocumentID != "p3" || last.Type != "document.created" || last.Version != 1 {
					t.Errorf("last event = %+v", last)
				}
			}},
		{name: "create with generated id", seed: true, method: "POST", path: docsPath, body: `{"title":"Pumice"}`,
			status: 201, events: 1, check: func(t *testing.T, s *stack, rec *httptest.ResponseRecorder) {
				var d struct{ ID string }
				_ = json.Unmarshal(rec.Body.Bytes(), &d)
				if d.ID == "" || rec.Header().Get("Location") != docsPath+"/"+url.PathEscape(d.ID) {
					t.Errorf("id %q, Location %q", d.ID, rec.Header().Get("Location"))
				}
				if _, ok := s.document("posts", d.ID); !ok {
					t.Errorf("document %s does not exist", d.ID)
				}
			}},
		{name: "create charset utf-8", seed: true, method: "POST", path: docsPath + "?id=p3",
			headers: map[string]string{"Content-Type": "application/json; charset=UTF-8"}, body: `{"title":"é"}`, status: 201, events: 1},
		{name: "create existing id", seed: true, method: "POST", path: docsPath + "?id=p1", body: `{"title":"x"}`,
			status: 409, code: "conflict"},
		{name: "create in missing collection", method: "POST", path: "/v1/collections/nope/documents", body: `{"title":"x"}`,
			status: 404, code: "not_found"},
		{name: "create idempotent retry", seed: true, method: "POST", path: docsPath + "?id=p3",
			headers: map[string]string{"Idempotency-Key": "retry-1"}, body: `{"title":"Tuff"}`, status: 201, events: 1,
			check: func(t *testing.T, s *stack, first *httptest.ResponseRecorder) {
				again := s.do("POST", docsPath+"?id=p3", map[string]string{"Idempotency-Key": "retry-1"}, `{"title":"Tuff"}`)
				if again.Code != 201 || again.Body.String() != first.Body.String() {
					t.Errorf("retry: %d %s, first %s", again.Code, again.Body.String(), first.Body.String())
				}
				if n := len(s.documentEvents()); n != 3 {
					t.Errorf("outbox has %d document events after the retry, want 3", n)
				}
				other := s.do("POST", docsPath+"?id=p3", map[string]string{"Idempotency-Key": "retry-1"}, `{"title":"Other"}`)
				if other.Code != 422 {
					t.Errorf("same key, other body: %d %s", other.Code, other.Body.String())
				}
				assertProblem(t, other, "idempotency_mismatch")
			}},
		{name: "get", seed: true, method: "GET", path: p1Path, status: 200,
			header: map[string]string{"ETag": `"1"`}, has: []string{`"id":"p1"`, `"data":{"score":7,"title":"Basalt"}`}},
		{name: "get not modified", seed: true, method: "GET", path: p1Path, headers: map[string]string{"If-None-Match": `"1"`},
			status: 304, header: map[string]string{"ETag": `"1"`, "Content-Type": ""}},
		{name: "get not modified weak and list", seed: true, method: "GET", path: p1Path,
			headers: map[string]string{"If-None-Match": `"5", W/"1"`}, status: 304},
		{name: "get modified", seed: true, method: "GET", path: p1Path, headers: map[string]string{"If-None-Match": `"2"`},
			status: 200, header: map[string]string{"ETag": `"1"`}},
		{name: "get missing", seed: true, method: "GET", path: docsPath + "/nope", status: 404, code: "not_found"},
		{name: "replace", seed: true, method: "PUT", path: p1Path, headers: ifMatch1, body: `{"title":"Basalt 2"}`,
			status: 200, events: 1, header: map[string]string{"ETag": `"2"`}, has: []string{`"version":2`, `"data":{"title":"Basalt 2"}`},
			check: func(t *testing.T, s *stack, _ *httptest.ResponseRecorder) {
				if d, _ := s.document("posts", "p1"); d.Version != 2 || string(d.Data) != `{"title":"Basalt 2"}` {
					t.Errorf("p1 after replace: %d %s", d.Version, d.Data)
				}
			}},
		{name: "replace unconditional", seed: true, method: "PUT", path: p1Path, body: `{"title":"B"}`, status: 200, events: 1},
		{name: "replace if-match star", seed: true, method: "PUT", path: p1Path, headers: map[string]string{"If-Match": "*"},
			body: `{"title":"B"}`, status: 200, events: 1},
		{name: "replace stale", seed: true, method: "PUT", path: p1Path, headers: map[string]string{"If-Match": `"4"`},
			body: `{"title":"B"}`, status: 412, code: "precondition_failed"},
		{name: "replace missing", seed: true, method: "PUT", path: docsPath + "/nope", body: `{"title":"B"}`, status: 404, code: "not_found"},
		{name: "patch", seed: true, method: "PATCH", path: p1Path, headers: map[string]string{"Content-Type": "application/merge-patch+json", "If-Match": `"1"`},
			body: `{"score":null,"tags":["rock"]}`, status: 200, events: 1, header: map[string]string{"ETag": `"2"`},
			has: []string{`"data":{"tags":["rock"],"title":"Basalt"}`}},
		{name: "patch as application/json", seed: true, method: "PATCH", path: p1Path, body: `{"score":8}`, status: 200, events: 1},
		{name: "patch breaking the schema", seed: true, method: "PATCH", path: p1Path, headers: mergePatch,
			body: `{"title":null}`, status: 400, code: "validation"},
		{name: "delete", seed: true, method: "DELETE", path: p1Path, headers: ifMatch1, status: 204, events: 1,
			check: func(t *testing.T, s *stack, _ *httptest.ResponseRecorder) {
				if _, ok := s.document("posts", "p1"); ok {
					t.Error("p1 still exists")
				}
			}},
		{name: "delete if-match star", seed: true, method: "DELETE", path: p1Path, headers: map[string]string{"If-Match": "*"}, status: 204, events: 1},
		{name: "delete stale", seed: true, method: "DELETE", path: p1Path, headers: map[string]string{"If-Match": `"3"`}, status: 412, code: "precondition_failed"},
		{name: "delete missing", seed: true, method: "DELETE", path: docsPath + "/nope", status: 404, code: "not_found"},
		{name: "list", seed: true, method: "GET", path: docsPath, status: 200,
			has: []string{`"items":[{"id":"p1"`, `{"id":"p2"`, `"nextCursor":null`},
			check: func(t *testing.T, _ *stack, rec *httptest.ResponseRecorder) {
				if strings.Contains(rec.Body.String(), `"total`) {
					t.Error("total or totalCapped present without total=true")
				}
			}},
		{name: "list sorted page with total", seed: true, method: "GET", path: docsPath + "?sort=-score&limit=1&total=true", status: 200,
			has: []string{`"items":[{"id":"p1"`, `"total":1,"totalCapped":true`}, // 2 match, the stack's cap is 1
			check: func(t *testing.T, s *stack, rec *httptest.ResponseRecorder) {
				var page struct {
					Items      []map[string]any
					NextCursor *string
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.NextCursor == nil {
					t.Fatalf("page %s: %v", rec.Body.String(), err)
				}
				next := s.do("GET", docsPath+"?sort=-score&limit=1&cursor="+url.QueryEscape(*page.NextCursor), nil, "")
				if next.Code != 200 || !strings.Contains(next.Body.String(), `"id":"p2"`) {
					t.Errorf("next page: %d %s", next.Code, next.Body.String())
				}
			}},
		{name: "list filtered with fields", seed: true, method: "GET", path: docsPath + "?filter=" + url.QueryEscape("score > 5") + "&fields=title",
			status: 200, has: []string{`"data":{"title":"Basalt"}`}, check: func(t *testing.T, _ *stack, rec *httptest.ResponseRecorder) {
				if strings.Contains(rec.Body.String(), "p2") {
					t.Errorf("filter let p2 through: %s", rec.Body.String())
				}
			}},
		{name: "list missing collection", method: "GET", path: "/v1/collections/nope/documents", status: 404, code: "not_found"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t)
		})
	}
}

// BenchmarkGetDocument measures GET …/documents/{id} through the handler
// against the real stack.
func BenchmarkGetDocument(b *testing.B) {
	s := newStack(b)
	s.seedPosts()
	req := httptest.NewRequest("GET", p1Path, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
