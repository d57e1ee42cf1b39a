package e2e

import (
	"fmt"
	"net/url"
	"testing"
	"time"
)

// TestSearchServe: basalt serve wires search end to end on both engines:
// a document is found by its text at once, by its client vector and, once
// the search-embedder consumer embedded it, by the meaning of a query;
// an updated document is found by its new text and no longer by its old
// one; the collection's status shows the vector indexes.
func TestSearchServe(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		admin, _ := startApp(t, engine)
		admin.must(201, "POST", "/v1/collections", `{"name":"notes",
			"schema":{"type":"object","properties":{"title":{"type":"string"},"emb":{"type":"array","items":{"type":"number"}}}},
			"rules":{"list":"","get":""},
			"search":{"text":{"fields":{"title":2}},
			          "vectors":{"emb":{"dimensions":3,"metric":"l2"},
			                     "sem":{"dimensions":256,"source":"embedder","from":["title"]}}}}`)
		var ids []string
		for i, title := range []string{"raft consensus in distributed systems", "a recipe for sourdough bread", "tuning garbage collection"} {
			r := admin.must(201, "POST", "/v1/collections/notes/documents", fmt.Sprintf(`{"title":%q,"emb":[%d,0,0]}`, title, i))
			ids = append(ids, r.JSON(t)["id"].(string))
		}
		first := func(path string) (string, map[string]any) {
			r := admin.do("GET", path, "")
			if r.Status != 200 {
				return fmt.Sprint("status ", r.Status, " ", string(r.Body)), nil
			}
			m := r.JSON(t)
			items, _ := m["items"].([]any)
			if len(items) == 0 {
				return "", m
			}
			doc := items[0].(map[string]any)["document"].(map[string]any)
			return doc["id"].(string), m
		}
		search := "/v1/collections/notes/search?"
		if id, m := first(search + url.Values{"q": {"consensus"}}.Encode()); id != ids[0] {
			t.Fatalf("text search: %q %v", id, m)
		}
		searchEventually(t, "vector search by meaning finds the bread recipe", func() (bool, string) {
			id, m := first(search + url.Values{"q": {"bread recipes"}, "mode": {"vector"}, "field": {"sem"}}.Encode())
			return id == ids[1] && m["pending"] == float64(0), fmt.Sprint(id, m)
		})
		r := admin.must(200, "POST", "/v1/collections/notes/search", `{"mode":"vector","field":"emb","vector":[2.1,0,0],"limit":1}`)
		if items := r.JSON(t)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["document"].(map[string]any)["id"] != ids[2] {
			t.Errorf("raw vector search: %s", r.Body)
		}
		admin.must(200, "PUT", "/v1/collections/notes/documents/"+ids[0], `{"title":"a list of mountain hikes","emb":[0,0,0]}`)
		if id, m := first(search + url.Values{"q": {"consensus"}}.Encode()); id != "" {
			t.Errorf("the old text still finds %q: %v", id, m)
		}
		if id, _ := first(search + url.Values{"q": {"mountain hikes"}}.Encode()); id != ids[0] {
			t.Errorf("the new text finds %q", id)
		}
		searchEventually(t, "the new embedding of n0 is indexed", func() (bool, string) {
			id, m := first(search + url.Values{"q": {"mountain hikes"}, "mode": {"vector"}, "field": {"sem"}}.Encode())
			return id == ids[0] && m["pending"] == float64(0), fmt.Sprint(id, m)
		})
		c := admin.must(200, "GET", "/v1/collections/notes", "").JSON(t)
		st, _ := c["status"].(map[string]any)
		s, _ := st["search"].(map[string]any)
		vs, _ := s["vectors"].(map[string]any)
		sem, _ := vs["sem"].(map[string]any)
		if sem["indexed"] != float64(3) || sem["pending"] != float64(0) || sem["building"] != false {
			t.Errorf("collection status = %v", c["status"])
		}
	})
}

// searchEventually polls cond until it holds, for at most 10 s.
func searchEventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s; last: %s", what, last)
		}
		<-tick.C
	}
}
