package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/jsonvalue"
	"github.com/basaltdev/basalt/internal/search"
)

// fakeSearcher records the requests the transport decoded and answers
// with res or err.
type fakeSearcher struct {
	mu   sync.Mutex
	reqs []search.Request
	res  search.Result
	err  error
}

func (f *fakeSearcher) Search(_ context.Context, r search.Request) (search.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
	return f.res, f.err
}

func (f *fakeSearcher) last(t *testing.T) search.Request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("the search service was not called")
	}
	return f.reqs[len(f.reqs)-1]
}

type fakeStatus struct{ st *search.Status }

func (f fakeStatus) SearchStatus(context.Context, docstore.Collection) (*search.Status, error) {
	return f.st, nil
}

// searchStack is the REST stack with a fake search service.
func searchStack(t *testing.T, s Searcher, st SearchStatuser) (*stack, http.Handler) {
	t.Helper()
	base := newStack(t)
	opts := testOptions(base.logs)
	opts.Search, opts.SearchStatus = s, st
	mux := http.NewServeMux()
	New(base.svc, opts).Register(mux)
	return base, mux
}

func serve(t *testing.T, h http.Handler, method, path, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestSearchDecodesQueryAndBody(t *testing.T) {
	f := &fakeSearcher{res: search.Result{Mode: search.ModeText, Hits: []search.Hit{}}}
	_, h := searchStack(t, f, nil)
	w := 0.25
	want := search.Request{Collection: "posts", Query: "raft -paxos", Mode: search.ModeHybrid, Field: "emb",
		Filter: `score > 1`, Sort: "-score", Fields: "title", Limit: 7, Cursor: "c1", Weight: &w, Typo: search.TypoOff}
	q := url.Values{"q": {"raft -paxos"}, "mode": {"hybrid"}, "field": {"emb"}, "filter": {"score > 1"}, "sort": {"-score"},
		"fields": {"title"}, "limit": {"7"}, "cursor": {"c1"}, "weight": {"0.25"}, "typo": {"off"}}
	rec := serve(t, h, "GET", "/v1/collections/posts/search?"+q.Encode(), "", "")
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("GET: %d %q %s", rec.Code, rec.Header().Get("Cache-Control"), rec.Body)
	}
	if got := f.last(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("GET decoded\n %+v\nwant\n %+v", got, want)
	}
	body := `{"q":"raft -paxos","mode":"hybrid","field":"emb","filter":"score > 1","sort":"-score","fields":"title",` +
		`"limit":7,"cursor":"c1","weight":0.25,"typo":"off","vector":[0.5,-1,2e-3]}`
	rec = serve(t, h, "POST", "/v1/collections/posts/search", "application/json", body)
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("POST: %d %s", rec.Code, rec.Body)
	}
	want.Vector = []float32{0.5, -1, 0.002}
	if got := f.last(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("POST decoded\n %+v\nwant\n %+v", got, want)
	}
	// Nothing but the collection: every default is the service's to pick.
	if rec := serve(t, h, "POST", "/v1/collections/posts/search", "application/json", `{}`); rec.Code != 200 {
		t.Fatalf("empty body: %d %s", rec.Code, rec.Body)
	}
	if got := f.last(t); !reflect.DeepEqual(got, search.Request{Collection: "posts"}) {
		t.Fatalf("empty body decoded %+v", got)
	}
}

func TestSearchRefusesBadRequests(t *testing.T) {
	f := &fakeSearcher{}
	_, h := searchStack(t, f, nil)
	for _, c := range []struct {
		method, query, ctype, body string
		status                     int
		detail, pointer            string
	}{
		{"GET", "q=x&nope=1", "", "", 400, `unknown query parameter "nope"`, ""},
		{"GET", "q=x&q=y", "", "", 400, "more than once", ""},
		{"GET", "limit=0", "", "", 400, "limit must be an integer from 1 to 100", ""},
		{"GET", "limit=101", "", "", 400, "limit must be an integer from 1 to 100", ""},
		{"GET", "limit=x", "", "", 400, "limit must be", ""},
		{"GET", "weight=2", "", "", 400, "weight must be a number from 0 to 1", ""},
		{"GET", "weight=NaN", "", "", 400, "weight must be", ""},
		{"GET", "weight=-0.1", "", "", 400, "weight must be", ""},
		{"POST", "", "application/json", `{"q":"x","vector":[1,"a"]}`, 400, "finite numbers", "/vector/1"},
		{"POST", "", "application/json", `{"vector":[1e39]}`, 400, "finite numbers", "/vector/0"},
		{"POST", "", "application/json", `{"vector":[]}`, 400, "at least one", "/vector"},
		{"POST", "", "application/json", `{"vector":"1,2"}`, 400, "array of numbers", "/vector"},
		{"POST", "", "application/json", `{"q":1}`, 400, "q must be a string", "/q"},
		{"POST", "", "application/json", `{"limit":1.5}`, 400, "whole number", "/limit"},
		{"POST", "", "application/json", `{"limit":500}`, 400, "from 1 to 100", "/limit"},
		{"POST", "", "application/json", `{"weight":"0.5"}`, 400, "finite number", "/weight"},
		{"POST", "", "application/json", `{"weight":1.5}`, 400, "from 0 to 1", "/weight"},
		{"POST", "", "application/json", `{"query":"x"}`, 400, `unknown member "query"`, "/query"},
		{"POST", "", "application/json", `[1]`, 400, "", ""},
		{"POST", "", "application/json", ``, 400, "", ""},
		{"POST", "", "text/plain", `{"q":"x"}`, 415, "", ""},
		{"POST", "q=x", "application/json", `{"q":"x"}`, 400, `unknown query parameter "q"`, ""},
	} {
		path := "/v1/collections/posts/search"
		if c.query != "" {
			path += "?" + c.query
		}
		n := len(f.reqs)
		rec := serve(t, h, c.method, path, c.ctype, c.body)
		var p struct {
			Detail string
			Errors []struct{ Pointer string }
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		if rec.Code != c.status || !strings.Contains(p.Detail, c.detail) || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s %s: %d %s, want %d with %q", c.method, path, c.body, rec.Code, rec.Body, c.status, c.detail)
			continue
		}
		if c.pointer != "" && (len(p.Errors) != 1 || p.Errors[0].Pointer != c.pointer) {
			t.Errorf("%s %s: errors %+v, want pointer %s", c.method, c.body, p.Errors, c.pointer)
		}
		if len(f.reqs) != n {
			t.Errorf("%s %s %s: the service was called", c.method, path, c.body)
		}
	}
}

func TestSearchRendersHits(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := docstore.Document{Collection: "posts", ID: "p1", Version: 2, CreatedAt: when, UpdatedAt: when,
		Data: json.RawMessage(`{"title":"a <b>"}`)}
	f := &fakeSearcher{res: search.Result{Mode: search.ModeHybrid, NextCursor: "next", Fuzzy: true, Pending: 3, PendingIDs: []string{"p9"},
		Hits: []search.Hit{{Document: d, Score: 0.03, Text: &search.TextScore{Score: 0.61, Rank: 1},
			Vector: &search.VectorScore{Score: 0.88, Distance: 0.12, Rank: 3}, Highlights: map[string]string{"title": "a <mark>&lt;b&gt;</mark>"}}}}}
	_, h := searchStack(t, f, nil)
	rec := serve(t, h, "GET", "/v1/collections/posts/search?q=b", "", "")
	want := `{"mode":"hybrid","items":[{"document":{"id":"p1","collection":"posts","version":2,"createdAt":"2026-01-02T03:04:05.000000Z",` +
		`"updatedAt":"2026-01-02T03:04:05.000000Z","data":{"title":"a <b>"}},"score":0.03,"text":{"score":0.61,"rank":1},` +
		`"vector":{"score":0.88,"distance":0.12,"rank":3},"highlights":{"title":"a <mark>&lt;b&gt;</mark>"}}],` +
		`"nextCursor":"next","fuzzy":true,"pending":3,"pendingIds":["p9"]}`
	if got := strings.TrimSpace(rec.Body.String()); rec.Code != 200 || !jsonEqual(t, got, want) {
		t.Fatalf("%d\n%s\nwant\n%s", rec.Code, got, want)
	}
	// Text mode: no pending; vector mode: no fuzzy; the last page: no
	// nextCursor; no pending: no pendingIds.
	f.res = search.Result{Mode: search.ModeText, Hits: []search.Hit{}}
	if got := strings.TrimSpace(serve(t, h, "GET", "/v1/collections/posts/search?q=b", "", "").Body.String()); !jsonEqual(t, got, `{"mode":"text","items":[],"fuzzy":false}`) {
		t.Errorf("text page %s", got)
	}
	f.res = search.Result{Mode: search.ModeVector}
	if got := strings.TrimSpace(serve(t, h, "GET", "/v1/collections/posts/search?q=b", "", "").Body.String()); !jsonEqual(t, got, `{"mode":"vector","items":[],"pending":0}`) {
		t.Errorf("vector page %s", got)
	}
	// The service's faults are problems.
	f.err = fault.New(fault.Unavailable, "search", "the vector index of field \"emb\" is not ready yet")
	if rec := serve(t, h, "GET", "/v1/collections/posts/search?q=b", "", ""); rec.Code != 503 || !strings.Contains(rec.Body.String(), "not ready") {
		t.Errorf("unavailable: %d %s", rec.Code, rec.Body)
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("%v: %s", err, a)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return reflect.DeepEqual(x, y)
}

func TestSearchWithoutServiceIsUnavailable(t *testing.T) {
	s := newStack(t)
	for _, c := range []struct{ method, ctype, body string }{{"GET", "", ""}, {"POST", "application/json", `{"q":"x"}`}} {
		rec := serve(t, s.handler, c.method, "/v1/collections/posts/search?"+map[string]string{"GET": "q=x"}[c.method], c.ctype, c.body)
		if rec.Code != 503 || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s", c.method, rec.Code, rec.Body)
		}
	}
	if rec := serve(t, s.handler, "DELETE", "/v1/collections/posts/search", "", ""); rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("DELETE: %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestCollectionStatusShowsSearch(t *testing.T) {
	st := &search.Status{Text: &search.TextStatus{Building: true, Indexed: 120, Total: 130},
		Vectors: map[string]search.VectorStatus{"emb": {Indexed: 118, Pending: 2}}}
	base, h := searchStack(t, &fakeSearcher{}, fakeStatus{st})
	spec := docstore.CollectionSpec{Name: "notes", Schema: json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"}}}`),
		Search: &docstore.Search{Text: &docstore.TextSearch{Fields: map[string]int{"title": 1}}}}
	if _, err := base.svc.CreateCollection(adminCtx(t), spec); err != nil {
		t.Fatal(err)
	}
	rec := serve(t, h, "GET", "/v1/collections/notes", "", "")
	var got struct {
		Name   string
		Status json.RawMessage
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 || got.Name != "notes" || rec.Header().Get("ETag") != `"1"` {
		t.Fatalf("%d %v %s", rec.Code, err, rec.Body)
	}
	want := `{"search":{"text":{"building":true,"indexed":120,"total":130},"vectors":{"emb":{"building":false,"indexed":118,"pending":2}}}}`
	if !jsonEqual(t, string(got.Status), want) {
		t.Fatalf("status %s, want %s", got.Status, want)
	}
	// The status changes without a new version: a conditional GET still
	// shows it, never a 304 that would hide the build's progress.
	req := httptest.NewRequestWithContext(t.Context(), "GET", "/v1/collections/notes", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("If-None-Match", `"1"`)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || !bytes.Contains(rec.Body.Bytes(), []byte(`"status"`)) {
		t.Fatalf("If-None-Match with the version: %d %s", rec.Code, rec.Body)
	}
	// Without search configuration, no status.
	base.seedPosts()
	rec = serve(t, h, "GET", "/v1/collections/posts", "", "")
	if bytes.Contains(rec.Body.Bytes(), []byte(`"status"`)) || rec.Header().Get("ETag") == "" {
		t.Fatalf("posts: %s", rec.Body)
	}
	req = httptest.NewRequestWithContext(t.Context(), "GET", "/v1/collections/posts", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("posts, If-None-Match with its version: %d, want 304", rec.Code)
	}
}

// FuzzSearchRequest decodes arbitrary query strings and bodies of the
// search routes: every refusal is a 400 with a message, never a panic.
func FuzzSearchRequest(f *testing.F) {
	f.Add("q=raft&mode=hybrid&weight=0.3&limit=5", `{"q":"raft","vector":[1,2],"limit":5,"weight":0.3}`)
	f.Add("limit=-1&weight=1e400", `{"vector":[1e400]}`)
	f.Add("q=%zz", `{"limit":"5","typo":false}`)
	f.Add("mode=vector&cursor=abc&typo=auto", `{"vector":[],"x":1}`)
	f.Fuzz(func(t *testing.T, query, body string) {
		check := func(req search.Request, err error) {
			if err != nil {
				if fault.KindOf(err) != fault.Invalid || fault.Message(err) == "" {
					t.Fatalf("%q %q: %v", query, body, err)
				}
				return
			}
			if req.Collection != "c" || req.Limit < 0 || req.Limit > maxSearchLimit {
				t.Fatalf("decoded %+v", req)
			}
			if req.Weight != nil && (*req.Weight < 0 || *req.Weight > 1) {
				t.Fatalf("weight %v", *req.Weight)
			}
		}
		q, err := url.ParseQuery(query)
		if err == nil {
			check(searchValues("c", q))
		}
		o, err := DecodeBodyObject([]byte(body), jsonvalue.DefaultLimits())
		if err == nil {
			check(searchBody("c", o))
		}
	})
}
