package graphqlapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/search"
)

// tokens is an Authenticator of two made-up credentials.
type tokens struct{}

func (tokens) Authenticate(_ context.Context, credential string) (auth.Principal, error) {
	switch credential {
	case "alice-token":
		return auth.Principal{Kind: auth.KindUser, ID: "alice"}, nil
	case "admin-token":
		return auth.System(), nil
	}
	return auth.Principal{}, fault.New(fault.Unauthenticated, "test", "unknown credential")
}

func (tokens) Recognize(string) (auth.Principal, bool) { return auth.Principal{}, false }

type answer struct {
	status      int
	contentType string
	body        string
}

func serve(t *testing.T, a *API, method, target, body string, headers ...string) answer {
	t.Helper()
	r := httptest.NewRequestWithContext(t.Context(), method, target, strings.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	b, err := io.ReadAll(w.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{w.Code, w.Header().Get("Content-Type"), string(b)}
}

func newAPI(t *testing.T, f *fixture) *API {
	t.Helper()
	a, err := New(Services{Documents: f.svc}, f.svc, Options{Authenticator: tokens{}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestHTTP(t *testing.T) {
	f := newFixture(t)
	a := newAPI(t, f)
	const gql, js = "application/graphql-response+json; charset=utf-8", "application/json; charset=utf-8"
	q := `{"query": "{ notes(sort: \"score\") { nodes { id } } }"}`
	for _, tc := range []struct {
		name, method, target, body string
		headers                    []string
		want                       answer
	}{
		{"anonymous POST", "POST", "/graphql", q, []string{"Content-Type", "application/json", "Accept", "application/graphql-response+json"},
			answer{200, gql, `{"data":{"notes":{"nodes":[{"id":"n3"},{"id":"n4"}]}}}`}},
		{"alice's POST, JSON by default", "POST", "/graphql", q, []string{"Content-Type", "application/json; charset=utf-8", "Authorization", "Bearer alice-token"},
			answer{200, js, `{"data":{"notes":{"nodes":[{"id":"n1"},{"id":"n3"},{"id":"n4"}]}}}`}},
		{"GET", "GET", "/graphql?query=" + url.QueryEscape(`query($id: ID!) { notesById(id: $id) { title } }`) + "&variables=" + url.QueryEscape(`{"id": "n3"}`), "", nil,
			answer{200, js, `{"data":{"notesById":{"title":"public 3"}}}`}},
		{"a credential refused", "POST", "/graphql", q, []string{"Content-Type", "application/json", "Authorization", "Bearer nope"},
			answer{401, js, `{"errors":[{"message":"unknown credential","extensions":{"code":"unauthenticated"}}]}`}},
		{"not JSON", "POST", "/graphql", `{"query": `, []string{"Content-Type", "application/json", "Accept", "application/graphql-response+json"},
			answer{400, gql, ""}},
		{"no query", "POST", "/graphql", `{}`, []string{"Content-Type", "application/json"},
			answer{400, js, `{"errors":[{"message":"the request has no query","extensions":{"code":"invalid"}}]}`}},
		{"a form", "POST", "/graphql", `query=x`, []string{"Content-Type", "application/x-www-form-urlencoded"},
			answer{415, js, ""}},
		{"validation error, graphql-response", "POST", "/graphql", `{"query": "{ nope }"}`, []string{"Content-Type", "application/json", "Accept", "application/graphql-response+json"},
			answer{400, gql, ""}},
		{"validation error, legacy JSON", "POST", "/graphql", `{"query": "{ nope }"}`, []string{"Content-Type", "application/json", "Accept", "application/json"},
			answer{200, js, ""}},
		{"nothing acceptable", "POST", "/graphql", q, []string{"Content-Type", "application/json", "Accept", "text/html"},
			answer{406, js, ""}},
		{"PUT", "PUT", "/graphql", q, nil, answer{405, js, ""}},
		{"a batch", "POST", "/graphql", `[` + q + `, {"query": "{ notesById(id: \"n4\") { id } }"}]`, []string{"Content-Type", "application/json"},
			answer{200, js, `[{"data":{"notes":{"nodes":[{"id":"n3"},{"id":"n4"}]}}},{"data":{"notesById":{"id":"n4"}}}]`}},
		{"a batch too large", "POST", "/graphql", `[` + strings.Repeat(q+",", 10) + q + `]`, []string{"Content-Type", "application/json"},
			answer{400, js, `{"errors":[{"message":"a batch holds 1 to 10 requests","extensions":{"code":"invalid"}}]}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := serve(t, a, tc.method, tc.target, tc.body, tc.headers...)
			if got.status != tc.want.status || got.contentType != tc.want.contentType || (tc.want.body != "" && got.body != tc.want.body) {
				t.Errorf("got %d %s %s\nwant %d %s %s", got.status, got.contentType, got.body, tc.want.status, tc.want.contentType, tc.want.body)
			}
			if got.status >= 400 && !strings.Contains(got.body, `"code":`) {
				t.Errorf("an error without its code: %s", got.body)
			}
		})
	}
}

// admitter records the routes it is asked to admit, and refuses the
// route refuse.
type admitter struct {
	routes []string
	refuse string
}

func (a *admitter) Admit(_ http.ResponseWriter, r *http.Request, route string, known func() (auth.Principal, bool), authenticate func() (auth.Principal, error)) (auth.Principal, error) {
	a.routes = append(a.routes, route)
	if route == a.refuse {
		e := fault.New(fault.TooManyRequests, "test", "slow down")
		e.RetryAfter = 3 * time.Second
		return auth.Principal{}, e
	}
	return authenticate()
}

// TestHTTPMutations: a mutation is sent with POST, and is limited as a
// write besides the POST's read; refused there, it writes nothing.
func TestHTTPMutations(t *testing.T) {
	f := newFixture(t)
	limits := &admitter{}
	a, err := New(Services{Documents: f.svc}, f.svc, Options{Authenticator: tokens{}, RateLimits: limits})
	if err != nil {
		t.Fatal(err)
	}
	create := `mutation { notesCreate(id: "h1", data: {owner: "alice"}) { id version } }`
	got := serve(t, a, "GET", "/graphql?query="+url.QueryEscape(create), "", "Authorization", "Bearer alice-token")
	if got.status != 405 || !strings.Contains(got.body, "is sent with POST") {
		t.Errorf("a mutation by GET: %d %s", got.status, got.body)
	}
	body := `{"query": ` + strconv.Quote(create) + `}`
	limits.routes = nil
	got = serve(t, a, "POST", "/graphql", body, "Content-Type", "application/json", "Authorization", "Bearer alice-token")
	if got.status != 200 || got.body != `{"data":{"notesCreate":{"id":"h1","version":1}}}` || !slices.Equal(limits.routes, []string{routePost, routeMutation}) {
		t.Errorf("a mutation: %d %s, limited as %v", got.status, got.body, limits.routes)
	}
	limits.routes = nil
	serve(t, a, "POST", "/graphql", `{"query": "{ me { id } }"}`, "Content-Type", "application/json", "Authorization", "Bearer alice-token")
	if !slices.Equal(limits.routes, []string{routePost}) {
		t.Errorf("a query limited as %v", limits.routes)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{`mutation { login(email: \"a@b.c\", password: \"p\") { accessToken } }`, []string{routePost, routeAuth}},
		{`mutation { ...F } fragment F on Mutation { logout notesDelete(id: \"x\") { id } }`, []string{routePost, routeAuth, routeMutation}},
		{`mutation { revokeSession(id: \"x\") }`, []string{routePost, routeMutation}},
	} {
		limits.routes = nil
		serve(t, a, "POST", "/graphql", `{"query": "`+tc.query+`"}`, "Content-Type", "application/json", "Authorization", "Bearer alice-token")
		if !slices.Equal(limits.routes, tc.want) {
			t.Errorf("%s: limited as %v, want %v", tc.query, limits.routes, tc.want)
		}
	}
	limits.refuse = routeMutation
	r := httptest.NewRequestWithContext(t.Context(), "POST", "/graphql", strings.NewReader(strings.ReplaceAll(body, "h1", "h2")))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer alice-token")
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	if w.Code != 429 || w.Header().Get("Retry-After") != "3" || !strings.Contains(w.Body.String(), `"code":"too_many_requests"`) {
		t.Errorf("a mutation past the write limit: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if _, err := f.svc.GetDocument(f.admin, "notes", "h2"); !fault.Is(err, fault.NotFound) {
		t.Errorf("a refused mutation wrote: %v", err)
	}
}

// TestHTTPCaches: callers with the same catalog share one schema; a
// document is parsed once per schema; a collection's change gives a new
// schema.
func TestHTTPCaches(t *testing.T) {
	f := newFixture(t)
	a := newAPI(t, f)
	post := func(token, query string) answer {
		return serve(t, a, "POST", "/graphql", `{"query": "`+query+`"}`, "Content-Type", "application/json", "Authorization", "Bearer "+token)
	}
	post("alice-token", "{ me { id } }")
	post("alice-token", "{ me { id } }")
	if a.schemas.Len() != 1 || a.documents.Len() != 1 {
		t.Errorf("%d schemas, %d documents after two identical requests", a.schemas.Len(), a.documents.Len())
	}
	post("admin-token", "{ me { id } }") // the admin sees the hidden field: another schema
	if a.schemas.Len() != 2 {
		t.Errorf("%d schemas for two catalogs", a.schemas.Len())
	}
	if _, err := f.svc.PatchCollection(f.admin, "notes", map[string]any{"hiddenFields": []any{}}, nil); err != nil {
		t.Fatal(err)
	}
	got := post("alice-token", "{ notesById(id: \\\"n1\\\") { secret } }")
	if got.status != 200 || got.body != `{"data":{"notesById":{"secret":"s1"}}}` {
		t.Errorf("after the field stopped being hidden: %d %s", got.status, got.body)
	}
}

// BenchmarkList measures a list of the notes through POST /graphql (the
// handler in process: the caller's catalog read, the cached schema and
// document, execution, encoding) against the same list from the document
// service alone, paired, and reports the medians and how much longer
// GraphQL's is:
//
//	go test -run '^$' -bench BenchmarkList -count 6 ./internal/gateway/graphqlapi/
func BenchmarkList(b *testing.B) {
	f := newFixture(b)
	a, err := New(Services{Documents: f.svc}, f.svc, Options{})
	if err != nil {
		b.Fatal(err)
	}
	body := `{"query": "{ notes(sort: \"score\") { nodes { id title score owner } } }"}`
	graphql := func() time.Duration {
		r := httptest.NewRequestWithContext(f.admin, "POST", "/graphql", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		start := time.Now()
		a.ServeHTTP(w, r)
		d := time.Since(start)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
		return d
	}
	service := func() time.Duration {
		start := time.Now()
		page, err := f.svc.ListDocuments(f.admin, docstore.ListRequest{Collection: "notes", Sort: "score"})
		d := time.Since(start)
		if err != nil || len(page.Items) != 4 {
			b.Fatal(page, err)
		}
		return d
	}
	var gq, sv []time.Duration
	for b.Loop() {
		gq, sv = append(gq, graphql()), append(sv, service())
	}
	slices.Sort(gq)
	slices.Sort(sv)
	g, s := gq[len(gq)/2], sv[len(sv)/2]
	b.ReportMetric(float64(g.Nanoseconds()), "graphql-ns/op")
	b.ReportMetric(float64(s.Nanoseconds()), "service-ns/op")
	b.ReportMetric(100*(float64(g)/float64(s)-1), "overhead-%")
}

// TestHTTPPersistedQueries: Apollo's automatic persisted queries — a hash
// alone that the server does not know is PersistedQueryNotFound; sent
// with its text it runs and is kept; then the hash alone runs it, by POST
// or GET. A text that does not match its hash is refused.
func TestHTTPPersistedQueries(t *testing.T) {
	f := newFixture(t)
	a := newAPI(t, f)
	query := `{ notesById(id: "n3") { title } }`
	sum := sha256.Sum256([]byte(query))
	hash := hex.EncodeToString(sum[:])
	ext := `{"persistedQuery": {"version": 1, "sha256Hash": "` + hash + `"}}`
	post := func(body string, accept string) answer {
		return serve(t, a, "POST", "/graphql", body, "Content-Type", "application/json", "Accept", accept)
	}
	const want = `{"data":{"notesById":{"title":"public 3"}}}`
	got := post(`{"extensions": `+ext+`}`, "application/json")
	if got.status != 200 || got.body != `{"errors":[{"message":"PersistedQueryNotFound","extensions":{"code":"not_found"}}]}` {
		t.Errorf("an unknown hash: %d %s", got.status, got.body)
	}
	if got := post(`{"extensions": `+ext+`}`, "application/graphql-response+json"); got.status != 400 || !strings.Contains(got.body, "PersistedQueryNotFound") {
		t.Errorf("an unknown hash, graphql-response+json: %d %s", got.status, got.body)
	}
	if got := post(`{"query": `+strconv.Quote(`{ notesById(id: "n4") { title } }`)+`, "extensions": `+ext+`}`, "application/graphql-response+json"); got.status != 400 ||
		!strings.Contains(got.body, "provided sha does not match query") {
		t.Errorf("a text that does not match its hash: %d %s", got.status, got.body)
	}
	if got := post(`{"query": `+strconv.Quote(query)+`, "extensions": `+ext+`}`, "application/json"); got.status != 200 || got.body != want {
		t.Errorf("the text with its hash: %d %s", got.status, got.body)
	}
	if got := post(`{"extensions": `+ext+`}`, "application/json"); got.status != 200 || got.body != want {
		t.Errorf("the hash alone, then: %d %s", got.status, got.body)
	}
	if got := serve(t, a, "GET", "/graphql?extensions="+url.QueryEscape(ext), ""); got.status != 200 || got.body != want {
		t.Errorf("the hash alone by GET: %d %s", got.status, got.body)
	}
	for _, bad := range []string{`{"persistedQuery": {"version": 2, "sha256Hash": "` + hash + `"}}`, `{"persistedQuery": {"version": 1, "sha256Hash": "abc"}}`, `[1]`} {
		if got := post(`{"extensions": `+bad+`}`, "application/graphql-response+json"); got.status != 400 || !strings.Contains(got.body, `"code":"invalid"`) {
			t.Errorf("extensions %s: %d %s", bad, got.status, got.body)
		}
	}
}

// TestHTTPValidationOptions: introspection and suggestions turned off.
func TestHTTPValidationOptions(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		opts                   Options
		introspects, suggested bool
	}{
		{Options{}, true, true},
		{Options{NoIntrospection: true}, false, true},
		{Options{NoSuggestions: true}, true, false},
		{Options{NoIntrospection: true, NoSuggestions: true}, false, false},
	} {
		a, err := New(Services{Documents: f.svc}, f.svc, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		got := serve(t, a, "POST", "/graphql", `{"query": "{ __schema { queryType { name } } __type(name: \"Notes\") { name } }"}`, "Content-Type", "application/json")
		if introspects := strings.Contains(got.body, `"queryType":{"name":"Query"}`); introspects != tc.introspects {
			t.Errorf("%+v: introspection %s", tc.opts, got.body)
		}
		if !tc.introspects && (!strings.Contains(got.body, "introspection is turned off") || strings.Contains(got.body, `"data"`)) {
			t.Errorf("%+v: introspection refused with %s", tc.opts, got.body)
		}
		got = serve(t, a, "POST", "/graphql", `{"query": "{ notes { nodes { titel } } }"}`, "Content-Type", "application/json")
		if suggested := strings.Contains(got.body, "Did you mean"); suggested != tc.suggested || !strings.Contains(got.body, `Cannot query field \"titel\"`) {
			t.Errorf("%+v: suggestions %s", tc.opts, got.body)
		}
		got = serve(t, a, "POST", "/graphql", `{"query": "{ __typename notes { nodes { __typename } } }"}`, "Content-Type", "application/json")
		if !strings.Contains(got.body, `"__typename":"Query"`) {
			t.Errorf("%+v: __typename %s", tc.opts, got.body)
		}
	}
}

// TestHTTPIDE: with IDE, a browser's GET /graphql without a query is the
// GraphiQL page, its scripts pinned by their hashes and its own script
// allowed by the CSP; anything else is GraphQL as before, and without IDE
// the browser is told what the endpoint speaks.
func TestHTTPIDE(t *testing.T) {
	f := newFixture(t)
	a, err := New(Services{Documents: f.svc}, f.svc, Options{IDE: true})
	if err != nil {
		t.Fatal(err)
	}
	browser := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	r := httptest.NewRequestWithContext(t.Context(), "GET", "/graphql", nil)
	r.Header.Set("Accept", browser)
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	body := w.Body.String()
	csp := w.Header().Get("Content-Security-Policy")
	sum := sha256.Sum256([]byte(ideScript))
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") || !strings.Contains(body, "<script>"+ideScript+"</script>") ||
		!strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("%d %v\n%s", w.Code, w.Header(), body)
	}
	if n := strings.Count(body, `integrity="sha384-`); n != 4 || strings.Count(body, "https://unpkg.com/") != 4 {
		t.Errorf("%d pinned assets of 4:\n%s", n, body)
	}
	if got := serve(t, a, "GET", "/graphql?query="+url.QueryEscape("{ __typename }"), "", "Accept", browser); got.status != 200 || got.body != `{"data":{"__typename":"Query"}}` {
		t.Errorf("a browser's query: %d %s", got.status, got.body)
	}
	if got := serve(t, a, "GET", "/graphql", "", "Accept", "application/json"); got.status != 400 || !strings.Contains(got.body, "no query") {
		t.Errorf("a client's GET without a query: %d %s", got.status, got.body)
	}
	off := newAPI(t, f)
	if got := serve(t, off, "GET", "/graphql", "", "Accept", browser); got.status != 400 || strings.Contains(got.body, "graphiql") {
		t.Errorf("without IDE: %d %s", got.status, got.body)
	}
}

// fakeSearch records the searches asked for and finds the note n4.
type fakeSearch struct {
	f    *fixture
	reqs []search.Request
}

func (s *fakeSearch) Search(ctx context.Context, r search.Request) (search.Result, error) {
	s.reqs = append(s.reqs, r)
	d, err := s.f.svc.GetDocument(ctx, "notes", "n4")
	if err != nil {
		return search.Result{}, err
	}
	return search.Result{Mode: search.ModeHybrid, NextCursor: "next", Pending: 1, PendingIDs: []string{"n9"}, Hits: []search.Hit{{
		Document: d, Score: 0.5, Text: &search.TextScore{Score: 0.25, Rank: 2}, Vector: &search.VectorScore{Score: 0.75, Distance: 0.1, Rank: 1},
		Highlights: map[string]string{"title": "<mark>alice</mark> 4"}}}}, nil
}

// TestHTTPSearch: a searchable collection's search field makes the
// search service's request of its arguments, answers its result, and is
// limited in the search class besides the request's read.
func TestHTTPSearch(t *testing.T) {
	f := newFixture(t)
	f.patchNotes(t, "emb", map[string]any{"type": "array", "items": map[string]any{"type": "number"}}, docstore.Data{"search": map[string]any{
		"text":    map[string]any{"fields": map[string]any{"title": json.Number("1")}},
		"vectors": map[string]any{"emb": map[string]any{"dimensions": json.Number("2"), "metric": "l2"}}}})
	limits, searcher := &admitter{}, &fakeSearch{f: f}
	a, err := New(Services{Documents: f.svc, Search: searcher}, f.svc, Options{Authenticator: tokens{}, RateLimits: limits})
	if err != nil {
		t.Fatal(err)
	}
	query := `{ notesSearch(q: \"alice\", mode: HYBRID, field: \"emb\", vector: [1, 2.5], weight: 0.25, typo: OFF, filter: {score: {gt: 1}}, where: \"public = true\", orderBy: [{score: DESC}], first: 5, after: \"c1\") {` +
		` mode fuzzy pending pendingIds pageInfo { hasNextPage hasPreviousPage endCursor }` +
		` items { score text { score rank } vector { score distance rank } highlights { field snippet } document { id title } } } }`
	got := serve(t, a, "POST", "/graphql", `{"query": "`+query+`"}`, "Content-Type", "application/json", "Authorization", "Bearer alice-token")
	want := `{"data":{"notesSearch":{"mode":"HYBRID","fuzzy":false,"pending":1,"pendingIds":["n9"],"pageInfo":{"hasNextPage":true,"hasPreviousPage":true,"endCursor":"next"},` +
		`"items":[{"score":0.5,"text":{"score":0.25,"rank":2},"vector":{"score":0.75,"distance":0.1,"rank":1},"highlights":[{"field":"title","snippet":"<mark>alice</mark> 4"}],"document":{"id":"n4","title":"alice 4"}}]}}}`
	if got.status != 200 || got.body != want {
		t.Fatalf("%d %s", got.status, got.body)
	}
	if len(searcher.reqs) != 1 || searcher.reqs[0].Weight == nil || *searcher.reqs[0].Weight != 0.25 {
		t.Fatalf("the search asked for: %+v", searcher.reqs)
	}
	searcher.reqs[0].Weight = nil
	if fmt.Sprintf("%+v", searcher.reqs[0]) != fmt.Sprintf("%+v", search.Request{Collection: "notes", Query: "alice", Mode: search.ModeHybrid,
		Field: "emb", Filter: "(public = true) && (score > 1)", Sort: "-score", Limit: 5, Cursor: "c1", Typo: search.TypoOff, Vector: []float32{1, 2.5}}) {
		t.Errorf("the search asked for: %+v", searcher.reqs[0])
	}
	if !slices.Equal(limits.routes, []string{routePost, routeSearch}) {
		t.Errorf("a search limited as %v", limits.routes)
	}
	for _, bad := range []string{`first: 0`, `vector: []`, `vector: [1e300]`} {
		got := serve(t, a, "POST", "/graphql", `{"query": "{ notesSearch(`+strings.ReplaceAll(bad, `"`, `\"`)+`) { mode } }"}`, "Content-Type", "application/json")
		if got.status != 200 || !strings.Contains(got.body, `"code":"invalid"`) {
			t.Errorf("%s: %d %s", bad, got.status, got.body)
		}
	}
	limits.refuse, searcher.reqs = routeSearch, nil
	got = serve(t, a, "POST", "/graphql", `{"query": "{ notesSearch(q: \"x\") { mode } }"}`, "Content-Type", "application/json")
	if got.status != 429 || len(searcher.reqs) != 0 {
		t.Errorf("a search past its limit: %d %s, searched %v", got.status, got.body, searcher.reqs)
	}
}

// patchNotes adds the property name, of JSON Schema prop, to the schema of
// notes, with the other members of patch.
func (f *fixture) patchNotes(t *testing.T, name string, prop map[string]any, patch docstore.Data) {
	t.Helper()
	c, err := f.svc.GetCollection(f.admin, "notes")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(c.Schema, &schema); err != nil {
		t.Fatal(err)
	}
	schema["properties"].(map[string]any)[name] = prop
	if patch == nil {
		patch = docstore.Data{}
	}
	patch["schema"] = schema
	if _, err := f.svc.PatchCollection(f.admin, "notes", patch, nil); err != nil {
		t.Fatal(err)
	}
}
