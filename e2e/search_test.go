package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/app"
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

// TestSearchSnapshotsAcrossRestart: basalt serve saves its vector indexes
// when it stops, and the next start loads them (no rebuild) and answers
// from them at once.
func TestSearchSnapshotsAcrossRestart(t *testing.T) {
	cfg := app.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Auth.PasswordIPShare = 1
	admin := cfg
	admin.Admin = app.AdminAccount{Email: adminEmail, Password: adminPassword}
	admin.Logs = &syncBuffer{}
	if err := app.CreateAdmin(t.Context(), admin); err != nil {
		t.Fatal(err)
	}
	// run serves until the returned stop is called, which waits for Run.
	run := func() (*client, *syncBuffer, func()) {
		t.Helper()
		c := cfg
		logs := &syncBuffer{}
		c.Logs = logs
		addr := make(chan string, 1)
		c.Ready = func(a string) { addr <- a }
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- app.Run(ctx, c) }()
		stop := func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("app.Run: %v", err)
			}
		}
		select {
		case a := <-addr:
			cl := &client{t: t, base: "http://" + a, http: &http.Client{Timeout: 30 * time.Second}}
			return cl.as(cl.login(adminEmail, adminPassword).AccessToken), logs, stop
		case err := <-done:
			t.Fatalf("app.Run: %v\n%s", err, logs.String())
		}
		return nil, nil, nil
	}
	c, _, stop := run()
	c.must(201, "POST", "/v1/collections", `{"name":"points",
		"schema":{"type":"object","properties":{"emb":{"type":"array","items":{"type":"number"}}}},
		"rules":{"list":"","get":""}, "search":{"vectors":{"emb":{"dimensions":2,"metric":"l2"}}}}`)
	id := c.must(201, "POST", "/v1/collections/points/documents", `{"emb":[3,4]}`).JSON(t)["id"].(string)
	nearest := func(c *client) string {
		r := c.do("POST", "/v1/collections/points/search", `{"mode":"vector","vector":[3,4],"limit":1}`)
		if r.Status != 200 {
			return fmt.Sprint(r.Status)
		}
		items := r.JSON(t)["items"].([]any)
		if len(items) == 0 {
			return ""
		}
		return items[0].(map[string]any)["document"].(map[string]any)["id"].(string)
	}
	searchEventually(t, "the document is found", func() (bool, string) { got := nearest(c); return got == id, got })
	stop()
	files, err := filepath.Glob(filepath.Join(cfg.DataDir, "search", "*.snapshot"))
	if err != nil || len(files) != 1 {
		t.Fatalf("snapshots after the stop: %v, %v", files, err)
	}
	c, logs, stop := run()
	defer stop()
	searchEventually(t, "the document is found after the restart", func() (bool, string) { got := nearest(c); return got == id, got })
	if !strings.Contains(logs.String(), "vector index loaded from its snapshot") || strings.Contains(logs.String(), "vector index built") {
		t.Errorf("the restart did not load the snapshot:\n%s", logs.String())
	}
}

// searchAcrossProcesses: on one PostgreSQL database, a document written
// through one process is found through the other by its text at once, and
// by its client vector and its embedding once the other process's index
// has taken in the events; after an update, by its new text and vectors
// only. Client vectors reach the other process's index within a second
// (the log is numbered in commit order and NOTIFY wakes every process).
func searchAcrossProcesses(t *testing.T, a, b *server) {
	ca, cb := a.client(t), b.client(t)
	ca.must(201, "POST", "/v1/collections", `{"name":"shared_notes",
		"schema":{"type":"object","properties":{"title":{"type":"string"},"emb":{"type":"array","items":{"type":"number"}}}},
		"search":{"text":{"fields":{"title":1}},
		          "vectors":{"emb":{"dimensions":2,"metric":"l2"},
		                     "sem":{"dimensions":256,"source":"embedder","from":["title"]}}}}`)
	ids := func(r response) []string {
		out := []string{}
		for _, it := range r.JSON(t)["items"].([]any) {
			out = append(out, it.(map[string]any)["document"].(map[string]any)["id"].(string))
		}
		return out
	}
	text := func(q string) []string {
		return ids(cb.must(200, "GET", "/v1/collections/shared_notes/search?"+url.Values{"q": {q}, "typo": {"off"}}.Encode(), ""))
	}
	nearest := func(x float64) []string {
		r := cb.do("POST", "/v1/collections/shared_notes/search", fmt.Sprintf(`{"mode":"vector","field":"emb","vector":[%g,0],"limit":1}`, x))
		if r.Status != 200 { // 503 until b's index of the new field is built
			return nil
		}
		return ids(r)
	}
	// Both processes have read the definition once b answers vector searches.
	searchEventually(t, "b serves the new vector field", func() (bool, string) { return nearest(0) != nil, "" })
	var n []string
	for i, title := range []string{"sourdough bread recipe", "glacier hiking routes"} {
		r := ca.must(201, "POST", "/v1/collections/shared_notes/documents", fmt.Sprintf(`{"title":%q,"emb":[%d,0]}`, title, 10*i))
		n = append(n, r.JSON(t)["id"].(string))
	}
	if got := text("sourdough"); !slices.Equal(got, []string{n[0]}) {
		t.Fatalf("b's text search right after a's write = %v", got)
	}
	fresh := func(what string, x float64, want string) {
		t.Helper()
		start := time.Now()
		searchEventually(t, what, func() (bool, string) {
			got := nearest(x)
			return slices.Equal(got, []string{want}), fmt.Sprint(got)
		})
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: found through the other process after %v, want within 1 s", what, d)
		} else {
			t.Logf("%s: found through the other process after %v", what, d)
		}
	}
	fresh("b's vector index takes in n1", 9, n[1])
	semantic := func(q string) []string {
		r := cb.do("GET", "/v1/collections/shared_notes/search?"+url.Values{"q": {q}, "mode": {"vector"}, "field": {"sem"}, "limit": {"1"}}.Encode(), "")
		if r.Status != 200 {
			return nil
		}
		return ids(r)
	}
	searchEventually(t, "b finds n1 by the embedding a's consumer computed", func() (bool, string) {
		got := semantic("hiking routes")
		return slices.Equal(got, []string{n[1]}), fmt.Sprint(got)
	})

	ca.must(200, "PUT", "/v1/collections/shared_notes/documents/"+n[0], `{"title":"volcano hiking trails","emb":[100,0]}`)
	if got := text("sourdough"); len(got) != 0 {
		t.Errorf("b still finds the old text: %v", got)
	}
	if got := text("volcano"); !slices.Equal(got, []string{n[0]}) {
		t.Errorf("b's search for the new text = %v", got)
	}
	fresh("b's vector index moves n0", 99, n[0])
	// n0's old embedding matched its old title almost exactly; its new one
	// does not.
	oldScore := func() float64 {
		r := cb.must(200, "GET", "/v1/collections/shared_notes/search?"+url.Values{"q": {"sourdough bread recipe"}, "mode": {"vector"}, "field": {"sem"}}.Encode(), "")
		for _, it := range r.JSON(t)["items"].([]any) {
			hit := it.(map[string]any)
			if hit["document"].(map[string]any)["id"] == n[0] {
				return hit["score"].(float64)
			}
		}
		return 0
	}
	searchEventually(t, "b finds n0 by its new embedding only", func() (bool, string) {
		got, old := semantic("volcano trails"), oldScore()
		return slices.Equal(got, []string{n[0]}) && old < 0.5, fmt.Sprint(got, " ", old)
	})
}
