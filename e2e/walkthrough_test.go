package e2e

import (
	"net/url"
	"strings"
	"testing"
)

const postsCollection = `{
  "name": "posts",
  "schema": {
    "type": "object",
    "properties": {
      "title": {"type": "string", "minLength": 1},
      "score": {"type": "integer"},
      "tags":  {"type": "array", "items": {"type": "string"}}
    },
    "required": ["title"],
    "additionalProperties": false
  },
  "indexes": [{"fields": ["score"]}]
}`

// TestWalkthrough is the README's walk-through through app.Run on a random
// port: create a collection, insert, query, patch with If-Match, delete.
func TestWalkthrough(t *testing.T) { forEachEngine(t, walkthrough) }

func walkthrough(t *testing.T, engine string) {
	c, _ := startApp(t, engine)
	walkthroughSteps(t, c, engine)
}

// walkthroughSteps are the README's walk-through as client c, the admin,
// makes it on a server of engine ("" for a gateway, which has no
// database).
func walkthroughSteps(t *testing.T, c *client, engine string) {
	t.Helper()
	c.must(200, "GET", "/healthz", "")
	c.must(200, "GET", "/readyz", "")

	r := c.must(201, "POST", "/v1/collections", postsCollection)
	if got := r.Header.Get("Location"); got != "/v1/collections/posts" {
		t.Errorf("Location = %q", got)
	}

	r = c.must(201, "POST", "/v1/collections/posts/documents", `{"title":"Hello Basalt","score":7,"tags":["rock"]}`)
	doc := r.JSON(t)
	id, _ := doc["id"].(string)
	if len(id) != 36 || doc["version"] != float64(1) || doc["collection"] != "posts" {
		t.Fatalf("created document = %v", doc)
	}
	if r.Header.Get("ETag") != `"1"` || r.Header.Get("Location") != "/v1/collections/posts/documents/"+id {
		t.Errorf("headers = %v", r.Header)
	}
	c.must(201, "POST", "/v1/collections/posts/documents?id=intro", `{"title":"Intro","score":3}`)
	c.must(409, "POST", "/v1/collections/posts/documents?id=intro", `{"title":"Intro again","score":3}`)

	// Schema violations name each failing pointer.
	r = c.must(400, "POST", "/v1/collections/posts/documents", `{"score":"high","color":"red"}`)
	p := r.JSON(t)
	if p["code"] != "validation" || !strings.Contains(string(r.Body), `"/data/score"`) {
		t.Errorf("problem = %s", r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("problem Content-Type = %q", ct)
	}

	q := url.Values{"filter": {`score >= 5 && tags ?= "rock"`}, "sort": {"-score"}, "limit": {"10"}}
	r = c.must(200, "GET", "/v1/collections/posts/documents?"+q.Encode(), "")
	list := r.JSON(t)
	items, _ := list["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != id || list["nextCursor"] != nil {
		t.Fatalf("list = %s", r.Body)
	}
	if _, ok := list["total"]; ok {
		t.Errorf("total present without total=true: %s", r.Body)
	}

	r = c.must(200, "PATCH", "/v1/collections/posts/documents/intro", `{"score":9}`,
		"Content-Type", "application/merge-patch+json", "If-Match", `"1"`)
	if d := r.JSON(t); d["version"] != float64(2) || d["data"].(map[string]any)["score"] != float64(9) {
		t.Fatalf("patched = %s", r.Body)
	}
	c.must(412, "PATCH", "/v1/collections/posts/documents/intro", `{"score":10}`,
		"Content-Type", "application/merge-patch+json", "If-Match", `"1"`)
	c.must(304, "GET", "/v1/collections/posts/documents/intro", "", "If-None-Match", `"2"`)

	r = c.must(200, "GET", "/v1/collections/posts/documents?"+url.Values{"sort": {"-score"}, "limit": {"1"}, "total": {"true"}}.Encode(), "")
	page := r.JSON(t)
	if page["total"] != float64(2) || page["nextCursor"] == nil {
		t.Fatalf("page 1 = %s", r.Body)
	}
	r = c.must(200, "GET", "/v1/collections/posts/documents?"+url.Values{"sort": {"-score"}, "limit": {"1"}, "cursor": {page["nextCursor"].(string)}}.Encode(), "")
	if items := r.JSON(t)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != id {
		t.Fatalf("page 2 = %s", r.Body)
	}

	c.must(412, "DELETE", "/v1/collections/posts/documents/intro", "", "If-Match", `"1"`)
	c.must(204, "DELETE", "/v1/collections/posts/documents/intro", "", "If-Match", `"2"`)
	c.must(404, "GET", "/v1/collections/posts/documents/intro", "")

	r = c.must(200, "GET", "/v1/openapi.json", "")
	if oa := r.JSON(t); !strings.HasPrefix(oa["openapi"].(string), "3.1") {
		t.Errorf("openapi = %v", oa["openapi"])
	}
	r = c.must(200, "GET", "/metrics", "", "Authorization", "Bearer "+metricsToken)
	want := []string{"basalt_http_requests_total", `route="POST /v1/collections/{collection}/documents"`}
	if engine != "" { // "": a gateway, without a database of its own
		want = append(want, `basalt_db_duration_seconds_count{engine="`+engine+`"`)
	}
	if engine == "postgres" {
		want = append(want, "basalt_db_pool_conns", "basalt_db_pool_acquires_total")
	}
	for _, want := range want {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
