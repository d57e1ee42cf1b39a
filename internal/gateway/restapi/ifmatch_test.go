package restapi

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestIfMatchScenarios: If-Match as RFC 9110 §13.1.1 has it. It compares
// strongly, so a weak tag never matches (412, not 400); a list matches
// when any member does; "*" matches any existing target.
func TestIfMatchScenarios(t *testing.T) {
	ifMatch := func(v string) map[string]string { return map[string]string{"If-Match": v} }
	const collPath = "/v1/collections/posts"
	scenarios := []scenario{
		{name: "weak current tag", seed: true, method: "PUT", path: p1Path, headers: ifMatch(`W/"1"`),
			body: `{"title":"B"}`, status: 412, code: "precondition_failed"},
		{name: "weak current tag on delete", seed: true, method: "DELETE", path: p1Path, headers: ifMatch(`W/"1"`),
			status: 412, code: "precondition_failed"},
		{name: "list with the current version", seed: true, method: "PUT", path: p1Path, headers: ifMatch(`"5", "1"`),
			body: `{"title":"B"}`, status: 200, events: 1, header: map[string]string{"ETag": `"2"`}},
		{name: "list with the current version on patch", seed: true, method: "PATCH", path: p1Path,
			headers: map[string]string{"Content-Type": "application/merge-patch+json", "If-Match": `"x", W/"2", "1"`},
			body:    `{"score":1}`, status: 200, events: 1, header: map[string]string{"ETag": `"2"`}},
		{name: "list with the current version on delete", seed: true, method: "DELETE", path: p1Path, headers: ifMatch(`"2","1"`),
			status: 204, events: 1},
		{name: "list without the current version", seed: true, method: "PUT", path: p1Path, headers: ifMatch(`"2", "3"`),
			body: `{"title":"B"}`, status: 412, code: "precondition_failed"},
		{name: "current version only as a weak tag", seed: true, method: "PUT", path: p1Path, headers: ifMatch(`W/"1", "2"`),
			body: `{"title":"B"}`, status: 412, code: "precondition_failed"},
		{name: "tag holding no version", seed: true, method: "DELETE", path: p1Path, headers: ifMatch(`"abc"`),
			status: 412, code: "precondition_failed"},
		{name: "list on a missing document", seed: true, method: "DELETE", path: docsPath + "/nope", headers: ifMatch(`"1", "2"`),
			status: 404, code: "not_found"},
		{name: "collection: list with the current version", seed: true, method: "PUT", path: collPath, headers: ifMatch(`"9", "1"`),
			body: `{"schema":` + postsSchema + `}`, status: 200, events: 1},
		{name: "collection: weak tag", seed: true, method: "DELETE", path: collPath, headers: ifMatch(`W/"1"`),
			status: 412, code: "precondition_failed"},
		{name: "collection: list without the current version", seed: true, method: "DELETE", path: collPath, headers: ifMatch(`"2", "3"`),
			status: 412, code: "precondition_failed"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, sc.run)
	}
}

// TestIfMatchLines: several If-Match lines form one list, and a retried
// conditional write with an Idempotency-Key gets its first answer again.
func TestIfMatchLines(t *testing.T) {
	s := newStack(t)
	s.seedPosts()
	put := func(key string, lines ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(t.Context(), "PUT", p1Path, strings.NewReader(`{"title":"lines"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+adminToken)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		for _, l := range lines {
			req.Header.Add("If-Match", l)
		}
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		return rec
	}
	if rec := put("", `"3"`, `"4"`); rec.Code != 412 {
		t.Fatalf("no line matches: %d %s", rec.Code, rec.Body)
	}
	if rec := put("", `"3"`, `W/"7", "1"`); rec.Code != 200 || rec.Header().Get("ETag") != `"2"` {
		t.Fatalf("second line matches: %d %s", rec.Code, rec.Body)
	}
	if rec := put("", `*`, `"2"`); rec.Code != 400 {
		t.Fatalf("* with a tag: %d %s", rec.Code, rec.Body)
	}
	events := len(s.outbox())
	first := put("k1", `"1"`, `"2"`)
	if first.Code != 200 || first.Header().Get("ETag") != `"3"` {
		t.Fatalf("idempotent write: %d %s", first.Code, first.Body)
	}
	again := put("k1", `"1"`, `"2"`)
	if again.Code != 200 || again.Body.String() != first.Body.String() {
		t.Fatalf("retry: %d %s, want the first answer %s", again.Code, again.Body, first.Body)
	}
	if got := len(s.outbox()) - events; got != 1 {
		t.Fatalf("%d events for a write and its retry, want 1", got)
	}
}
