package graphqlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/storage/postgres"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// fixture is a document service on SQLite with the collection notes:
// owners read their own notes (list and get), everyone reads the public
// ones, callers write notes they own, and the field secret is hidden from
// all but admins.
type fixture struct {
	svc *docstore.Service
	// log is the store's event log; news is notified after each write
	// that recorded events.
	log          eventbus.Log
	news         *eventbus.Signal
	url          string // the PostgreSQL database's
	admin, alice context.Context
	anonymous    context.Context
}

func newFixture(t testing.TB) *fixture { return newFixtureOn(t, "sqlite") }

// newFixtureOn is the fixture on the engine "sqlite" or "postgres".
func newFixtureOn(t testing.TB, engine string) *fixture {
	t.Helper()
	var (
		store docstore.Store
		log   eventbus.Log
		url   string
	)
	switch engine {
	case "sqlite":
		st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		store, log = st, st
	case "postgres":
		url = pgtest.URL(t)
		st, err := postgres.Open(t.Context(), postgres.Options{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		store, log = st, st
	default:
		t.Fatalf("no engine %q", engine)
	}
	news := &eventbus.Signal{}
	svc, err := docstore.NewService(store, docstore.Options{CursorKey: bytes.Repeat([]byte("k"), 32), Committed: news.Notify})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{svc: svc, log: log, news: news, url: url, admin: auth.WithPrincipal(t.Context(), auth.System()),
		alice:     auth.WithPrincipal(t.Context(), auth.Principal{Kind: auth.KindUser, ID: "alice"}),
		anonymous: auth.WithPrincipal(t.Context(), auth.Anonymous())}
	read, own := `public = true || owner = @auth.id`, `owner = @auth.id`
	_, err = svc.CreateCollection(f.admin, docstore.CollectionSpec{
		Name: "notes",
		Schema: json.RawMessage(`{"type": "object", "properties": {"title": {"type": "string"}, "score": {"type": "integer", "minimum": 0, "maximum": 1000},
			"owner": {"type": "string"}, "public": {"type": "boolean"}, "secret": {"type": "string"}, "kind": {"type": "string", "enum": ["memo", "todo"]},
			"meta": {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}}}}`),
		Rules:        docstore.Rules{List: &read, Get: &read, Create: &own, Update: &own, Delete: &own},
		HiddenFields: []string{"secret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range []string{
		`{"title": "alice 1", "score": 1, "owner": "alice", "public": false, "secret": "s1", "kind": "todo", "meta": {"tags": ["a", "b"]}}`,
		`{"title": "bob 2", "score": 2, "owner": "bob", "public": false, "secret": "s2"}`,
		`{"title": "public 3", "score": 3, "owner": "bob", "public": true, "secret": "s3"}`,
		`{"title": "alice 4", "score": 4, "owner": "alice", "public": true, "secret": "s4"}`,
	} {
		var data docstore.Data
		if err := json.Unmarshal([]byte(d), &data); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateDocument(f.admin, docstore.CreateRequest{Collection: "notes", ID: "n" + string(rune('1'+i)), Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// run builds the schema of the caller in ctx, validates query against it
// and executes it, returning the answer as JSON.
func (f *fixture) run(ctx context.Context, t *testing.T, query string, vars map[string]any) (string, *Schema) {
	t.Helper()
	cat, err := f.svc.Catalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := BuildSchema(cat)
	if err != nil {
		t.Fatal(err)
	}
	doc, errs := Parse(s, query, Limits{})
	if len(errs) > 0 {
		b, _ := json.Marshal(Result{Errors: errs})
		return string(b), s
	}
	r := Execute(ctx, s, Services{Documents: f.svc}, doc, "", vars)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), s
}

func TestExecuteListFollowsRules(t *testing.T) {
	f := newFixture(t)
	q := `{ notes(sort: "score") { nodes { id title } totalCount } }`
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"admin", f.admin, `{"data":{"notes":{"nodes":[{"id":"n1","title":"alice 1"},{"id":"n2","title":"bob 2"},{"id":"n3","title":"public 3"},{"id":"n4","title":"alice 4"}],"totalCount":null}}}`},
		{"alice", f.alice, `{"data":{"notes":{"nodes":[{"id":"n1","title":"alice 1"},{"id":"n3","title":"public 3"},{"id":"n4","title":"alice 4"}],"totalCount":null}}}`},
		{"anonymous", f.anonymous, `{"data":{"notes":{"nodes":[{"id":"n3","title":"public 3"},{"id":"n4","title":"alice 4"}],"totalCount":null}}}`},
	} {
		if got, _ := f.run(tc.ctx, t, q, nil); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	// The same filter as REST's, the same documents.
	got, _ := f.run(f.alice, t, `{ notes(where: "score >= 2", sort: "-score", total: true) { nodes { id } totalCount } }`, nil)
	page, err := f.svc.ListDocuments(f.alice, docstore.ListRequest{Collection: "notes", Filter: "score >= 2", Sort: "-score", Total: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range page.Items {
		ids = append(ids, `{"id":"`+d.ID+`"}`)
	}
	want := `{"data":{"notes":{"nodes":[` + strings.Join(ids, ",") + `],"totalCount":` + jsonInt(*page.Total) + `}}}`
	if got != want || len(ids) != 2 {
		t.Errorf("filtered:\n got %s\nwant %s", got, want)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestExecuteHiddenFieldsAndNesting(t *testing.T) {
	f := newFixture(t)
	q := `query One($id: ID!) { note: notesById(id: $id) { __typename id version title kind meta { tags } } }`
	got, s := f.run(f.alice, t, q, map[string]any{"id": "n1"})
	if want := `{"data":{"note":{"__typename":"Notes","id":"n1","version":1,"title":"alice 1","kind":"todo","meta":{"tags":["a","b"]}}}}`; got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	if s.AST.Types["Notes"].Fields.ForName("secret") != nil {
		t.Error("alice's schema has the hidden field secret")
	}
	if got, _ := f.run(f.alice, t, `{ notesById(id: "n1") { secret } }`, nil); !strings.Contains(got, `Cannot query field \"secret\"`) {
		t.Errorf("the hidden field: %s", got)
	}
	if got, s := f.run(f.admin, t, `{ notesById(id: "n1") { secret } }`, nil); got != `{"data":{"notesById":{"secret":"s1"}}}` ||
		s.AST.Types["Notes"].Fields.ForName("secret") == nil {
		t.Errorf("the admin: %s", got)
	}
	// Another owner's private note: null, as REST's 404.
	if got, _ := f.run(f.alice, t, `{ notesById(id: "n2") { id } }`, nil); got != `{"data":{"notesById":null}}` {
		t.Errorf("bob's note: %s", got)
	}
}

func TestExecutePagination(t *testing.T) {
	f := newFixture(t)
	var ids []string
	after := ""
	for range 4 {
		got, _ := f.run(f.admin, t, `query Page($after: String) { notes(first: 1, after: $after, sort: "-score") {
			edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`, map[string]any{"after": after})
		var r struct {
			Data struct {
				Notes struct {
					Edges []struct {
						Cursor string
						Node   struct{ ID string }
					}
					PageInfo struct {
						HasNextPage bool
						EndCursor   string
					}
				}
			}
		}
		if err := json.Unmarshal([]byte(got), &r); err != nil || len(r.Data.Notes.Edges) != 1 {
			t.Fatalf("page %d: %s (%v)", len(ids), got, err)
		}
		n := r.Data.Notes
		ids = append(ids, n.Edges[0].Node.ID)
		if n.Edges[0].Cursor != n.PageInfo.EndCursor || n.PageInfo.HasNextPage != (len(ids) < 4) {
			t.Errorf("page %d: %s", len(ids), got)
		}
		after = n.PageInfo.EndCursor
	}
	if strings.Join(ids, ",") != "n4,n3,n2,n1" {
		t.Errorf("pages: %v", ids)
	}
	// first: 0 tells whether there is anything, with no edge.
	if got, _ := f.run(f.anonymous, t, `{ notes(first: 0) { nodes { id } pageInfo { hasNextPage } } }`, nil); got != `{"data":{"notes":{"nodes":[],"pageInfo":{"hasNextPage":true}}}}` {
		t.Errorf("first: 0: %s", got)
	}
}

func TestExecuteErrors(t *testing.T) {
	f := newFixture(t)
	// A filter REST refuses: the same code, the field null, the data kept
	// for the others.
	got, _ := f.run(f.admin, t, `{ bad: notes(where: "nope = 1") { nodes { id } } ok: notesById(id: "n1") { id } }`, nil)
	var r struct {
		Data   map[string]any
		Errors []struct {
			Message    string
			Path       []any
			Extensions map[string]any
		}
	}
	if err := json.Unmarshal([]byte(got), &r); err != nil {
		t.Fatal(err)
	}
	_, restErr := f.svc.ListDocuments(f.admin, docstore.ListRequest{Collection: "notes", Filter: "nope = 1"})
	if r.Data != nil || len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "invalid" || restErr == nil {
		// bad is non-null (a connection): its null reaches the root.
		t.Errorf("%s (REST: %v)", got, restErr)
	}
	// Fragments, aliases and directives.
	got, _ = f.run(f.admin, t, `query($skip: Boolean!) { notesById(id: "n4") { ...F t: title score @skip(if: $skip) ... on Notes { owner } } }
		fragment F on Notes { id }`, map[string]any{"skip": true})
	if want := `{"data":{"notesById":{"id":"n4","t":"alice 4","owner":"alice"}}}`; got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	// A variable of the wrong type: refused before anything runs (no data
	// entry at all).
	got, _ = f.run(f.admin, t, `query($id: ID!) { notesById(id: $id) { id } }`, map[string]any{"id": []any{1}})
	if strings.Contains(got, `"data"`) || !strings.Contains(got, `"code":"invalid"`) {
		t.Errorf("a bad variable: %s", got)
	}
}

// TestMutations: creates, replaces, patches and deletes go through the
// document service as the caller, with its rules, its schema's validation
// and compare-and-set on expectedVersion; a refused write changes
// nothing, and the root fields of one mutation run in order.
func TestMutations(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) { testMutations(t, newFixtureOn(t, engine)) })
	}
}

func testMutations(t *testing.T, f *fixture) {
	stored := func(id string) string {
		t.Helper()
		d, err := f.svc.GetDocument(f.admin, "notes", id)
		if fault.Is(err, fault.NotFound) {
			return "none"
		}
		if err != nil {
			t.Fatal(err)
		}
		var data any // in key order, whatever the engine keeps
		if err := json.Unmarshal(d.Data, &data); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		return jsonInt(d.Version) + " " + string(b)
	}
	for _, step := range []struct {
		name  string
		ctx   context.Context
		query string
		vars  string
		want  string
		// id and state: what the store holds for id afterwards.
		id, state string
	}{
		{"create, literal", f.alice, `mutation { notesCreate(id: "m1", data: {title: "mine", owner: "alice", score: 5, kind: memo, meta: {tags: ["x"]}}) { id version title score kind meta { tags } } }`, ``,
			`{"data":{"notesCreate":{"id":"m1","version":1,"title":"mine","score":5,"kind":"memo","meta":{"tags":["x"]}}}}`,
			"m1", `1 {"kind":"memo","meta":{"tags":["x"]},"owner":"alice","score":5,"title":"mine"}`},
		{"create for another owner", f.alice, `mutation { notesCreate(id: "m2", data: {title: "bob's", owner: "bob"}) { id } }`, ``,
			`{"data":{"notesCreate":null},"errors":[{"message":"the access rules of collection \"notes\" do not allow this create","path":["notesCreate"],"locations":[{"line":1,"column":12}],"extensions":{"code":"forbidden"}}]}`,
			"m2", "none"},
		{"create against the schema", f.alice, `mutation { notesCreate(id: "m2", data: {owner: "alice", score: 5000}) { id } }`, ``,
			`validation`, "m2", "none"},
		{"create, variables", f.alice, `mutation($d: NotesInput!) { notesCreate(id: "m2", data: $d) { id owner score } }`, `{"d": {"owner": "alice", "score": 7}}`,
			`{"data":{"notesCreate":{"id":"m2","owner":"alice","score":7}}}`, "m2", `1 {"owner":"alice","score":7}`},
		{"a hidden field is no input", f.alice, `mutation { notesCreate(data: {owner: "alice", secret: "x"}) { id } }`, ``,
			`Field \"secret\" is not defined by type \"NotesInput\"`, "", ""},
		{"patch at the expected version", f.alice, `mutation { notesPatch(id: "m1", patch: {kind: null, score: 6}, expectedVersion: 1) { version kind score } }`, ``,
			`{"data":{"notesPatch":{"version":2,"kind":null,"score":6}}}`, "m1", `2 {"meta":{"tags":["x"]},"owner":"alice","score":6,"title":"mine"}`},
		{"patch at a stale version", f.alice, `mutation { notesPatch(id: "m1", patch: {score: 9}, expectedVersion: 1) { version } }`, ``,
			`precondition_failed`, "m1", `2 {"meta":{"tags":["x"]},"owner":"alice","score":6,"title":"mine"}`},
		{"expectedVersion 0 matches no version", f.alice, `mutation { notesPatch(id: "m1", patch: {score: 9}, expectedVersion: 0) { version } }`, ``,
			`precondition_failed`, "m1", `2 {"meta":{"tags":["x"]},"owner":"alice","score":6,"title":"mine"}`},
		{"mutations run in order", f.alice, `mutation { a: notesPatch(id: "m1", patch: {score: 10}, expectedVersion: 2) { version } b: notesPatch(id: "m1", patch: {score: 11}, expectedVersion: 3) { version score } }`, ``,
			`{"data":{"a":{"version":3},"b":{"version":4,"score":11}}}`, "m1", `4 {"meta":{"tags":["x"]},"owner":"alice","score":11,"title":"mine"}`},
		{"one failure leaves the others", f.alice, `mutation { a: notesPatch(id: "m1", patch: {score: 12}, expectedVersion: 1) { version } b: notesPatch(id: "m2", patch: {score: 8}) { version } }`, ``,
			`{"data":{"a":null,"b":{"version":2}},"errors":[{"message":"document \"m1\" is at version 4, not 1","path":["a"],"locations":[{"line":1,"column":12}],"extensions":{"code":"precondition_failed"}}]}`,
			"m2", `2 {"owner":"alice","score":8}`},
		{"replace", f.alice, `mutation($v: Int) { notesReplace(id: "m1", data: {owner: "alice", title: "new"}, expectedVersion: $v) { version title score } }`, `{"v": 4}`,
			`{"data":{"notesReplace":{"version":5,"title":"new","score":null}}}`, "m1", `5 {"owner":"alice","title":"new"}`},
		{"replace another's", f.alice, `mutation { notesReplace(id: "n2", data: {owner: "alice"}) { version } }`, ``,
			`"code":"`, "n2", `1 {"owner":"bob","public":false,"score":2,"secret":"s2","title":"bob 2"}`},
		{"delete at a stale version", f.alice, `mutation { notesDelete(id: "m1", expectedVersion: 4) { id } }`, ``,
			`precondition_failed`, "m1", `5 {"owner":"alice","title":"new"}`},
		{"delete", f.alice, `mutation { notesDelete(id: "m1", expectedVersion: 5) { id collection } }`, ``,
			`{"data":{"notesDelete":{"id":"m1","collection":"notes"}}}`, "m1", "none"},
		{"anonymous callers have no mutations", f.anonymous, `mutation { notesDelete(id: "m2") { id } }`, ``,
			`"code":"invalid"`, "m2", `2 {"owner":"alice","score":8}`},
	} {
		var vars map[string]any
		if step.vars != "" {
			if err := decodeJSON([]byte(step.vars), &vars); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := f.run(step.ctx, t, step.query, vars)
		if got != step.want && (strings.HasPrefix(step.want, "{") || !strings.Contains(got, step.want)) {
			t.Errorf("%s:\n got %s\nwant %s", step.name, got, step.want)
		}
		if step.id != "" && step.state != "" {
			if st := stored(step.id); st != step.state {
				t.Errorf("%s: %s holds %s; want %s", step.name, step.id, st, step.state)
			}
		}
	}
	// The same idempotency key twice: one document, the same answer.
	q := `mutation { notesCreate(data: {owner: "alice"}, idempotencyKey: "k1") { id } }`
	first, _ := f.run(f.alice, t, q, nil)
	again, _ := f.run(f.alice, t, q, nil)
	if first != again || !strings.Contains(first, `"id":"`) {
		t.Errorf("a retried create: %s, then %s", first, again)
	}
}

// TestIntrospection: __type and __schema describe the caller's own
// schema: no hidden field, wrappers as NON_NULL and LIST.
func TestIntrospection(t *testing.T) {
	f := newFixture(t)
	got, _ := f.run(f.alice, t, `{ __type(name: "Notes") { kind name fields { name type { kind name ofType { kind name } } } }
		__schema { queryType { name } mutationType { name } types { name } } }`, nil)
	var r struct {
		Data struct {
			Type struct {
				Kind, Name string
				Fields     []struct {
					Name string
					Type struct {
						Kind, Name string
						OfType     *struct{ Kind, Name string }
					}
				}
			} `json:"__type"`
			Schema struct {
				QueryType    struct{ Name string }
				MutationType *struct{ Name string }
				Types        []struct{ Name string }
			} `json:"__schema"`
		}
	}
	if err := json.Unmarshal([]byte(got), &r); err != nil {
		t.Fatal(err)
	}
	ty := r.Data.Type
	fields := map[string]string{}
	for _, fd := range ty.Fields {
		desc := fd.Type.Kind + " " + fd.Type.Name
		if fd.Type.OfType != nil {
			desc += " of " + fd.Type.OfType.Kind + " " + fd.Type.OfType.Name
		}
		fields[fd.Name] = desc
	}
	if ty.Kind != "OBJECT" || ty.Name != "Notes" || fields["id"] != "NON_NULL  of SCALAR ID" || fields["title"] != "SCALAR String" ||
		fields["meta"] != "OBJECT NotesMeta" || fields["kind"] != "ENUM NotesKind" {
		t.Errorf("__type: %s", got)
	}
	if _, ok := fields["secret"]; ok {
		t.Errorf("the hidden field in alice's introspection: %s", got)
	}
	names := map[string]bool{}
	for _, n := range r.Data.Schema.Types {
		names[n.Name] = true
	}
	if r.Data.Schema.QueryType.Name != "Query" || r.Data.Schema.MutationType == nil || r.Data.Schema.MutationType.Name != "Mutation" ||
		!names["NotesConnection"] || !names["NotesInput"] || !names["__Type"] {
		t.Errorf("__schema: %s", got)
	}
	// Anonymous callers may write no document: their mutations are the
	// account flows only.
	got, _ = f.run(f.anonymous, t, `{ __type(name: "Mutation") { fields { name } } }`, nil)
	if got != `{"data":{"__type":{"fields":[{"name":"login"},{"name":"refresh"},{"name":"logout"},{"name":"revokeSession"}]}}}` {
		t.Errorf("anonymous mutations: %s", got)
	}
	if got, _ := f.run(f.alice, t, `{ __type(name: "Nope") { name } }`, nil); got != `{"data":{"__type":null}}` {
		t.Errorf("an unknown type: %s", got)
	}
}

// recorder records the list requests made of a document service.
type recorder struct {
	docstore.Documents
	lists []docstore.ListRequest
}

func (r *recorder) ListDocuments(ctx context.Context, req docstore.ListRequest) (docstore.Page, error) {
	r.lists = append(r.lists, req)
	return r.Documents.ListDocuments(ctx, req)
}

// TestCursorsSignedWhenAsked: a cursor per document is asked of the
// service only when the selection shows one.
func TestCursorsSignedWhenAsked(t *testing.T) {
	f := newFixture(t)
	cat, err := f.svc.Catalog(f.alice)
	if err != nil {
		t.Fatal(err)
	}
	s, err := BuildSchema(cat)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{`{ notes { nodes { id } pageInfo { hasNextPage } } }`, false},
		{`{ notes { edges { node { id } } } }`, false},
		{`{ notes { edges { cursor } } }`, true},
		{`{ notes { pageInfo { endCursor } } }`, true},
		{`{ notes { ...P } } fragment P on NotesConnection { pageInfo { ... on PageInfo { c: startCursor } } }`, true},
		{`{ notes(first: 0) { pageInfo { hasNextPage } } }`, false},
	} {
		doc, errs := Parse(s, tc.query, Limits{})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		rec := &recorder{Documents: f.svc}
		r := Execute(f.alice, s, Services{Documents: rec}, doc, "", nil)
		if len(r.Errors) > 0 || len(rec.lists) != 1 || rec.lists[0].Cursors != tc.want {
			t.Errorf("%s: %v, requests %+v; want Cursors %v", tc.query, r.Errors, rec.lists, tc.want)
		}
	}
}
