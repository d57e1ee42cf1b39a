package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
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
