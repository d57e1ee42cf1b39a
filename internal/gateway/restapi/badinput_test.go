package restapi

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestBadInputScenarios sends hostile or malformed requests: each must get a
// 4xx problem and change nothing (scenario.run compares the whole state).
func TestBadInputScenarios(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	scenarios := []scenario{
		{name: "oversized body", method: "POST", path: docsPath + "?id=big",
			body: `{"title":"` + strings.Repeat("x", 5000) + `"}`, status: 413, code: "payload_too_large"},
		{name: "deep nesting", method: "POST", path: docsPath, body: deep, status: 400, code: "invalid", has: []string{"deeper than 32"}},
		{name: "duplicate keys", method: "POST", path: docsPath, body: `{"title":"a","title":"b"}`, status: 400, code: "invalid",
			has: []string{`"pointer":"/data/title"`}},
		{name: "invalid UTF-8", method: "POST", path: docsPath, body: "{\"title\":\"\xff\xfe\"}", status: 400, code: "invalid"},
		{name: "NUL escape", method: "PUT", path: p1Path, body: `{"title":"a\u0000b"}`, status: 400, code: "invalid"},
		{name: "number overflow", method: "POST", path: docsPath, body: `{"title":"a","score":1e400}`, status: 400, code: "invalid",
			has: []string{`"pointer":"/data/score"`}},
		{name: "integer beyond 2^53", method: "POST", path: docsPath, body: `{"title":"a","score":9007199254740993}`, status: 400, code: "invalid"},
		{name: "trailing data", method: "POST", path: docsPath, body: `{"title":"a"} {}`, status: 400, code: "invalid"},
		{name: "not an object", method: "POST", path: docsPath, body: `["title"]`, status: 400, code: "invalid"},
		{name: "empty body", method: "PUT", path: p1Path, headers: map[string]string{"Content-Type": "application/json"}, status: 400, code: "invalid"},
		{name: "unknown field with additionalProperties false", method: "POST", path: docsPath, body: `{"title":"a","color":"red"}`,
			status: 400, code: "validation"},
		{name: "wrong type", method: "PUT", path: p1Path, body: `{"title":5}`, status: 400, code: "validation"},
		{name: "id inside data", method: "POST", path: docsPath, body: `{"title":"a","id":"x"}`, status: 400, code: "invalid", has: []string{`"pointer":"/data/id"`}},
		{name: "version inside data", method: "PUT", path: p1Path, body: `{"title":"a","version":9}`, status: 400, code: "invalid"},
		{name: "missing content type", method: "POST", path: docsPath, headers: map[string]string{"Content-Type": ""}, body: `{"title":"a"}`,
			status: 415, code: "unsupported_media_type"},
		{name: "text/plain", method: "POST", path: docsPath, headers: map[string]string{"Content-Type": "text/plain"}, body: `{"title":"a"}`,
			status: 415, code: "unsupported_media_type"},
		{name: "merge-patch on PUT", method: "PUT", path: p1Path, headers: mergePatch, body: `{"title":"a"}`,
			status: 415, code: "unsupported_media_type"},
		{name: "latin1 charset", method: "PUT", path: p1Path, headers: map[string]string{"Content-Type": "application/json; charset=latin1"},
			body: `{"title":"a"}`, status: 415, code: "unsupported_media_type"},
		{name: "unquoted If-Match", method: "PUT", path: p1Path, headers: map[string]string{"If-Match": `1`}, body: `{"title":"a"}`, status: 400, code: "invalid"},
		{name: "If-Match star in a list", method: "DELETE", path: p1Path, headers: map[string]string{"If-Match": `*, "1"`}, status: 400, code: "invalid"},
		{name: "If-Match without commas", method: "DELETE", path: p1Path, headers: map[string]string{"If-Match": `"1" "2"`}, status: 400, code: "invalid"},
		{name: "If-Match lowercase weak", method: "DELETE", path: p1Path, headers: map[string]string{"If-Match": `w/"1"`}, status: 400, code: "invalid"},
		{name: "malformed If-None-Match", method: "GET", path: p1Path, headers: map[string]string{"If-None-Match": `abc`}, status: 400, code: "invalid"},
		{name: "long Idempotency-Key", method: "POST", path: docsPath, headers: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)},
			body: `{"title":"a"}`, status: 400, code: "invalid"},
		{name: "non-ASCII Idempotency-Key", method: "POST", path: docsPath, headers: map[string]string{"Idempotency-Key": "clé"},
			body: `{"title":"a"}`, status: 400, code: "invalid"},
		{name: "bad filter", method: "GET", path: docsPath + "?filter=" + url.QueryEscape("score >"), status: 400, code: "invalid"},
		{name: "unknown filter field", method: "GET", path: docsPath + "?filter=" + url.QueryEscape("color = 'red'"), status: 400, code: "invalid"},
		{name: "SQL in filter", method: "GET", path: docsPath + "?filter=" + url.QueryEscape("1=1; DROP TABLE posts; --"), status: 400, code: "invalid"},
		{name: "SQL in filter value", method: "GET", path: docsPath + "?filter=" + url.QueryEscape(`title = "x' OR '1'='1"`), status: 200},
		{name: "SQL in sort", method: "GET", path: docsPath + "?sort=" + url.QueryEscape("title; DROP TABLE posts"), status: 400, code: "invalid"},
		{name: "SQL in fields", method: "GET", path: docsPath + "?fields=" + url.QueryEscape("title) FROM posts --"), status: 400, code: "invalid"},
		{name: "SQL in cursor", method: "GET", path: docsPath + "?cursor=" + url.QueryEscape("' OR 1=1 --"), status: 400, code: "invalid"},
		{name: "forged cursor", method: "GET", path: docsPath + "?cursor=eyJxIjoiQUFBQSIsImFmdGVyIjpbIjAiXX0", status: 400, code: "invalid"},
		{name: "SQL in collection path", method: "GET", path: "/v1/collections/" + url.PathEscape("posts; DROP TABLE posts") + "/documents", status: 400, code: "invalid"},
		{name: "SQL in id path", method: "GET", path: docsPath + "/" + url.PathEscape("p1' OR '1'='1"), status: 400, code: "invalid"},
		{name: "SQL in create id", method: "POST", path: docsPath + "?id=" + url.QueryEscape("x'); DROP TABLE posts; --"), body: `{"title":"a"}`, status: 400, code: "invalid"},
		{name: "absurd id length", method: "GET", path: docsPath + "/" + strings.Repeat("a", 1025), status: 400, code: "invalid"},
		{name: "non-integer limit", method: "GET", path: docsPath + "?limit=ten", status: 400, code: "invalid"},
		{name: "negative limit", method: "GET", path: docsPath + "?limit=-1", status: 400, code: "invalid"},
		{name: "bad total", method: "GET", path: docsPath + "?total=maybe", status: 400, code: "invalid"},
		{name: "unknown query parameter", method: "GET", path: docsPath + "?filtre=x", status: 400, code: "invalid", has: []string{"filtre"}},
		{name: "repeated query parameter", method: "GET", path: docsPath + "?limit=1&limit=2", status: 400, code: "invalid"},
		{name: "query on a document write", method: "PUT", path: p1Path + "?upsert=true", body: `{"title":"a"}`, status: 400, code: "invalid"},
		{name: "body on delete", method: "DELETE", path: p1Path, body: `{}`, status: 400, code: "invalid"},
		{name: "unknown route", method: "GET", path: "/v1/nothing", status: 404, code: "not_found"},
		{name: "trailing slash", method: "GET", path: "/v1/collections/", status: 404, code: "not_found"},
		{name: "wrong method", method: "DELETE", path: "/v1/collections", status: 405, code: "invalid",
			header: map[string]string{"Allow": "GET, HEAD, POST"}},
		{name: "wrong method on a document", method: "POST", path: p1Path, body: `{}`, status: 405, code: "invalid",
			header: map[string]string{"Allow": "GET, HEAD, PUT, PATCH, DELETE"}},
	}
	for i := range scenarios {
		scenarios[i].seed = true
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t)
		})
	}
}

func TestBatchScenarios(t *testing.T) {
	ops := func(items ...string) string { return `{"operations":[` + strings.Join(items, ",") + `]}` }
	scenarios := []scenario{
		{name: "commit", method: "POST", path: "/v1/batch",
			body: ops(`{"op":"create","collection":"posts","id":"p3","data":{"title":"Tuff"}}`,
				`{"op":"patch","collection":"posts","id":"p1","data":{"score":8},"ifMatch":1}`,
				`{"op":"delete","collection":"posts","id":"p2"}`),
			status: 200, events: 3, has: []string{`"results":[{"op":"create","id":"p3","document":{`, `{"op":"delete","id":"p2"}`},
			check: func(t *testing.T, s *stack, _ *httptest.ResponseRecorder) {
				if _, ok := s.document("posts", "p3"); !ok {
					t.Error("p3 missing")
				}
				if _, ok := s.document("posts", "p2"); ok {
					t.Error("p2 still exists")
				}
				if d, _ := s.document("posts", "p1"); d.Version != 2 {
					t.Errorf("p1 version %d", d.Version)
				}
			}},
		{name: "all or nothing", method: "POST", path: "/v1/batch",
			body: ops(`{"op":"create","collection":"posts","id":"p3","data":{"title":"Tuff"}}`,
				`{"op":"replace","collection":"posts","id":"p1","data":{"title":"x"},"ifMatch":5}`),
			status: 412, code: "precondition_failed"},
		{name: "invalid data in second op", method: "POST", path: "/v1/batch",
			body: ops(`{"op":"create","collection":"posts","id":"p3","data":{"title":"Tuff"}}`,
				`{"op":"create","collection":"posts","id":"p4","data":{"title":1}}`),
			status: 400, code: "validation", has: []string{`/operations/1/data`}},
		{name: "too many operations", method: "POST", path: "/v1/batch",
			body: ops(`{"op":"delete","collection":"posts","id":"p1"}`, `{"op":"delete","collection":"posts","id":"p2"}`,
				`{"op":"delete","collection":"posts","id":"p3"}`, `{"op":"delete","collection":"posts","id":"p4"}`),
			status: 413, code: "payload_too_large", has: []string{"at most 3 operations"}},
		{name: "unknown op member", method: "POST", path: "/v1/batch",
			body: ops(`{"op":"delete","collection":"posts","id":"p1","if_match":1}`), status: 400, code: "invalid",
			has: []string{`"pointer":"/operations/0/if_match"`}},
		{name: "unknown top member", method: "POST", path: "/v1/batch", body: `{"operations":[],"atomic":true}`, status: 400, code: "invalid"},
		{name: "missing operations", method: "POST", path: "/v1/batch", body: `{}`, status: 400, code: "invalid"},
		{name: "empty operations", method: "POST", path: "/v1/batch", body: `{"operations":[]}`, status: 400, code: "invalid"},
		{name: "unknown op", method: "POST", path: "/v1/batch", body: ops(`{"op":"upsert","collection":"posts","id":"p1"}`), status: 400, code: "invalid"},
		{name: "ifMatch not an integer", method: "POST", path: "/v1/batch", body: ops(`{"op":"delete","collection":"posts","id":"p1","ifMatch":"1"}`),
			status: 400, code: "invalid", has: []string{`"pointer":"/operations/0/ifMatch"`}},
		{name: "data not an object", method: "POST", path: "/v1/batch", body: ops(`{"op":"create","collection":"posts","data":[1]}`),
			status: 400, code: "invalid"},
		{name: "duplicate key in op", method: "POST", path: "/v1/batch", body: ops(`{"op":"delete","op":"create","collection":"posts","id":"p1"}`),
			status: 400, code: "invalid", has: []string{`"pointer":"/operations/0/op"`}},
	}
	for _, sc := range scenarios {
		sc.seed = true
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t)
		})
	}
}

// TestMethodsAndRoutes checks that every route of API.md answers, with a
// problem, the methods it does not serve.
func TestMethodsAndRoutes(t *testing.T) {
	s := newStack(t)
	for _, tc := range []struct{ method, path, allow string }{
		{"PUT", "/v1/collections", "GET, HEAD, POST"},
		{"POST", "/v1/collections/posts", "GET, HEAD, PUT, PATCH, DELETE"},
		{"DELETE", "/v1/collections/posts/documents", "GET, HEAD, POST"},
		{"GET", "/v1/batch", "POST"},
		{"POST", "/v1/openapi.json", "GET, HEAD"},
	} {
		t.Run(fmt.Sprintf("%s %s", tc.method, tc.path), func(t *testing.T) {
			rec := s.do(tc.method, tc.path, nil, "")
			if rec.Code != 405 || rec.Header().Get("Allow") != tc.allow {
				t.Fatalf("%d Allow %q, want 405 %q", rec.Code, rec.Header().Get("Allow"), tc.allow)
			}
			assertProblem(t, rec, "invalid")
		})
	}
}
