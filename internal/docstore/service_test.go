package docstore_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// adminCtx returns tb's context carrying an admin: the caller of the tests
// that are not about access.
func adminCtx(tb testing.TB) context.Context {
	return auth.WithPrincipal(tb.Context(), auth.Principal{Kind: auth.KindUser, ID: "admin-1", Roles: []string{auth.RoleAdmin}})
}

// clock is an injected clock that advances one second per reading.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

type fixture struct {
	svc   *docstore.Service
	store *sqlite.Store
	clock *clock
}

func newFixture(t *testing.T) *fixture { return newFixtureTB(t) }

func newFixtureTB(t testing.TB) *fixture {
	t.Helper()
	st, err := sqlite.Open(adminCtx(t), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	clk := &clock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	svc, err := docstore.NewService(st, docstore.Options{Now: clk.Now, CursorKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, store: st, clock: clk}
}

const postsSchema = `{"type":"object","properties":{
	"title":{"type":"string","minLength":1},
	"score":{"type":"integer"},
	"tags":{"type":"array","items":{"type":"string"}},
	"author":{"type":"object","properties":{"name":{"type":"string"}}}
},"required":["title"],"additionalProperties":false}`

func (f *fixture) posts(t *testing.T) { f.postsTB(t) }

func (f *fixture) postsTB(t testing.TB) {
	t.Helper()
	_, err := f.svc.CreateCollection(adminCtx(t), docstore.CollectionSpec{Name: "posts", Schema: json.RawMessage(postsSchema),
		Indexes: []docstore.Index{{Fields: []string{"score"}}}})
	if err != nil {
		t.Fatal(err)
	}
}

// outbox returns the outbox's document events (collection events are the
// subject of events_test.go).
func (f *fixture) outbox(t *testing.T) []eventbus.Event {
	t.Helper()
	return documentEvents(readLog(adminCtx(t), t, f.store))
}

// documentEvents returns the events of evs that are about documents.
func documentEvents(evs []eventbus.Event) []eventbus.Event {
	var out []eventbus.Event
	for _, e := range evs {
		if !e.Type.IsCollection() {
			out = append(out, e)
		}
	}
	return out
}

func data(t *testing.T, s string) docstore.Data { return dataTB(t, s) }

func dataTB(t testing.TB, s string) docstore.Data {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func wantKind(t *testing.T, err error, kind fault.Kind) {
	t.Helper()
	if got := fault.KindOf(err); got != kind {
		t.Fatalf("error kind = %q (%v), want %q", got, err, kind)
	}
}

func TestCollections(t *testing.T) {
	f := newFixture(t)
	ctx := adminCtx(t)
	c, err := f.svc.CreateCollection(ctx, docstore.CollectionSpec{Name: "posts", Schema: json.RawMessage(postsSchema)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != 1 || c.CreatedAt.IsZero() {
		t.Fatalf("created = %+v", c)
	}
	_, err = f.svc.CreateCollection(ctx, docstore.CollectionSpec{Name: "posts", Schema: json.RawMessage(postsSchema)})
	wantKind(t, err, fault.Conflict)

	bad := []struct {
		name   string
		spec   docstore.CollectionSpec
		inText string
	}{
		{"upper case name", docstore.CollectionSpec{Name: "Posts"}, "must match"},
		{"sql in name", docstore.CollectionSpec{Name: "x; drop table collections"}, "must match"},
		{"long name", docstore.CollectionSpec{Name: strings.Repeat("a", 64)}, "must match"},
		{"array schema", docstore.CollectionSpec{Name: "a", Schema: json.RawMessage(`{"type":"array"}`)}, `"type": "object"`},
		{"system property", docstore.CollectionSpec{Name: "a", Schema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"}}}`)}, "system field"},
		{"bad keyword value", docstore.CollectionSpec{Name: "a", Schema: json.RawMessage(`{"type":"object","minProperties":-1}`)}, "not a valid JSON Schema"},
		{"external ref", docstore.CollectionSpec{Name: "a", Schema: json.RawMessage(`{"type":"object","properties":{"x":{"$ref":"file:///etc/passwd"}}}`)}, "schema"},
		{"remote ref", docstore.CollectionSpec{Name: "a", Schema: json.RawMessage(`{"type":"object","properties":{"x":{"$ref":"http://127.0.0.1:1/s.json"}}}`)}, "schema"},
		{"index on unknown field", docstore.CollectionSpec{Name: "a", Schema: json.RawMessage(postsSchema), Indexes: []docstore.Index{{Fields: []string{"nope"}}}}, "not a property"},
		{"index on array", docstore.CollectionSpec{Name: "a", Schema: json.RawMessage(postsSchema), Indexes: []docstore.Index{{Fields: []string{"tags"}}}}, "scalar"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreateCollection(ctx, tc.spec)
			wantKind(t, err, fault.Invalid)
			if !strings.Contains(fault.Message(err), tc.inText) {
				t.Errorf("message %q lacks %q", fault.Message(err), tc.inText)
			}
		})
	}
	list, err := f.svc.ListCollections(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("collections = %v, %v", list, err)
	}
}

func TestSchemaChangeValidatesExistingDocuments(t *testing.T) {
	f := newFixture(t)
	f.posts(t)
	ctx := adminCtx(t)
	for _, s := range []string{`{"title":"a","score":1}`, `{"title":"b"}`} {
		if _, err := f.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: "posts", Data: data(t, s)}); err != nil {
			t.Fatal(err)
		}
	}
	stricter := strings.Replace(postsSchema, `"required":["title"]`, `"required":["title","score"]`, 1)
	_, err := f.svc.ReplaceCollection(ctx, "posts", docstore.CollectionSpec{Schema: json.RawMessage(stricter)}, nil)
	wantKind(t, err, fault.Validation)
	fields := fault.FieldsOf(err)
	if len(fields) != 1 || !strings.HasPrefix(fields[0].Pointer, "/documents/") {
		t.Fatalf("fields = %+v", fields)
	}
	c, _ := f.svc.GetCollection(ctx, "posts")
	if c.Version != 1 {
		t.Fatalf("refused change still changed the collection: %+v", c)
	}
	looser := strings.Replace(postsSchema, `"additionalProperties":false`, `"additionalProperties":true`, 1)
	c, err = f.svc.ReplaceCollection(ctx, "posts", docstore.CollectionSpec{Schema: json.RawMessage(looser)}, docstore.Version(1))
	if err != nil || c.Version != 2 {
		t.Fatalf("replace = %+v, %v", c, err)
	}
	_, err = f.svc.ReplaceCollection(ctx, "posts", docstore.CollectionSpec{Schema: json.RawMessage(looser)}, docstore.Version(1))
	wantKind(t, err, fault.PreconditionFailed)
	// A document with an extra member is now accepted.
	if _, err := f.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: "posts", Data: data(t, `{"title":"c","extra":true}`)}); err != nil {
		t.Fatal(err)
	}
	c, err = f.svc.PatchCollection(ctx, "posts", data(t, `{"indexes":[{"fields":["title"]}]}`), nil)
	if err != nil || c.Version != 3 || len(c.Indexes) != 1 || c.Indexes[0].Fields[0] != "title" {
		t.Fatalf("patch = %+v, %v", c, err)
	}
	// A patch under a condition of several versions applies at one of
	// them, and only then.
	_, err = f.svc.PatchCollection(ctx, "posts", data(t, `{"indexes":[]}`), docstore.Versions{1, 2, 4})
	wantKind(t, err, fault.PreconditionFailed)
	c, err = f.svc.PatchCollection(ctx, "posts", data(t, `{"indexes":[]}`), docstore.Versions{1, 3})
	if err != nil || c.Version != 4 || len(c.Indexes) != 0 {
		t.Fatalf("patch at one of two versions = %+v, %v", c, err)
	}
	if err := f.svc.DeleteCollection(ctx, "posts", docstore.Versions{2, 3}); !fault.Is(err, fault.PreconditionFailed) {
		t.Fatalf("delete with stale versions: %v", err)
	}
	if err := f.svc.DeleteCollection(ctx, "posts", docstore.Versions{3, 4}); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.GetCollection(ctx, "posts")
	wantKind(t, err, fault.NotFound)
}

func TestDocumentLifecycle(t *testing.T) {
	f := newFixture(t)
	f.posts(t)
	ctx := adminCtx(t)

	d, err := f.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: "posts", Data: data(t, `{"title":"Hello","score":7,"author":{"name":"Ada"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.ID) != 36 || d.ID[14] != '7' || d.Version != 1 || !d.CreatedAt.Equal(d.UpdatedAt) {
		t.Fatalf("created = %+v (want a UUIDv7 id)", d)
	}
	if string(d.Data) != `{"author":{"name":"Ada"},"score":7,"title":"Hello"}` {
		t.Fatalf("data = %s", d.Data)
	}
	got, err := f.svc.GetDocument(ctx, "posts", d.ID)
	if err != nil || got.Version != 1 || string(got.Data) != string(d.Data) || !got.CreatedAt.Equal(d.CreatedAt) {
		t.Fatalf("get = %+v, %v", got, err)
	}

	// Patch: nested merge, null removes.
	p, err := f.svc.PatchDocument(ctx, docstore.PatchRequest{Collection: "posts", ID: d.ID, IfMatch: docstore.Version(1),
		Patch: data(t, `{"score":null,"author":{"name":"Grace"},"tags":["x"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 2 || string(p.Data) != `{"author":{"name":"Grace"},"tags":["x"],"title":"Hello"}` || !p.UpdatedAt.After(p.CreatedAt) {
		t.Fatalf("patched = %+v %s", p, p.Data)
	}
	// Stale version.
	_, err = f.svc.PatchDocument(ctx, docstore.PatchRequest{Collection: "posts", ID: d.ID, IfMatch: docstore.Version(1), Patch: data(t, `{"score":1}`)})
	wantKind(t, err, fault.PreconditionFailed)
	// A patch that breaks the schema changes nothing.
	_, err = f.svc.PatchDocument(ctx, docstore.PatchRequest{Collection: "posts", ID: d.ID, Patch: data(t, `{"title":null}`)})
	wantKind(t, err, fault.Validation)
	if fields := fault.FieldsOf(err); len(fields) == 0 || fields[0].Pointer != "/data" {
		t.Fatalf("fields = %+v", fields)
	}
	// Replace.
	r, err := f.svc.ReplaceDocument(ctx, docstore.ReplaceRequest{Collection: "posts", ID: d.ID, IfMatch: docstore.Version(2), Data: data(t, `{"title":"New"}`)})
	if err != nil || r.Version != 3 || string(r.Data) != `{"title":"New"}` {
		t.Fatalf("replace = %+v, %v", r, err)
	}
	_, err = f.svc.ReplaceDocument(ctx, docstore.ReplaceRequest{Collection: "posts", ID: "missing", Data: data(t, `{"title":"x"}`)})
	wantKind(t, err, fault.NotFound)
	// A condition of several versions accepts any of them, and only them;
	// Versions{0} accepts none.
	for _, vs := range []docstore.Versions{{1, 2}, {4, 5}, {0}} {
		_, err = f.svc.PatchDocument(ctx, docstore.PatchRequest{Collection: "posts", ID: d.ID, IfMatch: vs, Patch: data(t, `{"score":2}`)})
		wantKind(t, err, fault.PreconditionFailed)
	}
	// The same idempotency key with a condition that accepts nothing is
	// another request than without one.
	keyed := docstore.PatchRequest{Collection: "posts", ID: d.ID, Patch: data(t, `{"score":3}`), IdempotencyKey: "k-versions"}
	if _, err := f.svc.PatchDocument(ctx, keyed); err != nil {
		t.Fatal(err)
	}
	keyed.IfMatch = docstore.Versions{0}
	_, err = f.svc.PatchDocument(ctx, keyed)
	wantKind(t, err, fault.IdempotencyMismatch)
	r, err = f.svc.PatchDocument(ctx, docstore.PatchRequest{Collection: "posts", ID: d.ID, IfMatch: docstore.Versions{2, 4, 9}, Patch: data(t, `{"score":null}`)})
	if err != nil || r.Version != 5 {
		t.Fatalf("patch at one of several versions = %+v, %v", r, err)
	}
	// Delete.
	err = f.svc.DeleteDocument(ctx, docstore.DeleteRequest{Collection: "posts", ID: d.ID, IfMatch: docstore.Version(3)})
	wantKind(t, err, fault.PreconditionFailed)
	if err := f.svc.DeleteDocument(ctx, docstore.DeleteRequest{Collection: "posts", ID: d.ID, IfMatch: docstore.Version(5)}); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.GetDocument(ctx, "posts", d.ID)
	wantKind(t, err, fault.NotFound)

	evs := f.outbox(t)
	ops := []eventbus.Type{eventbus.DocumentCreated, eventbus.DocumentPatched, eventbus.DocumentReplaced, eventbus.DocumentPatched, eventbus.DocumentPatched, eventbus.DocumentDeleted}
	if len(evs) != len(ops) {
		t.Fatalf("outbox has %d events, want %d: %+v", len(evs), len(ops), evs)
	}
	for i, e := range evs {
		if e.Type != ops[i] || e.Version != int64(i+1) || e.DocumentID != d.ID || e.Collection != "posts" {
			t.Errorf("event %d = %+v", i, e)
		}
	}
	var payload docstore.Document
	if err := json.Unmarshal(evs[2].Payload, &payload); err != nil || payload.Version != 3 || string(payload.Data) != `{"title":"New"}` {
		t.Errorf("replace payload = %s (%v)", evs[2].Payload, err)
	}
}

func TestDocumentBadInputChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.posts(t)
	ctx := adminCtx(t)
	cases := []struct {
		name string
		req  docstore.CreateRequest
		kind fault.Kind
		ptr  string
	}{
		{"schema violation", docstore.CreateRequest{Collection: "posts", Data: data(t, `{"title":"","score":"x"}`)}, fault.Validation, "/data/score"},
		{"unknown member", docstore.CreateRequest{Collection: "posts", Data: data(t, `{"title":"a","color":"red"}`)}, fault.Validation, "/data"},
		{"system field id", docstore.CreateRequest{Collection: "posts", Data: data(t, `{"title":"a","id":"x"}`)}, fault.Invalid, "/data/id"},
		{"system field version", docstore.CreateRequest{Collection: "posts", Data: data(t, `{"title":"a","version":9}`)}, fault.Invalid, "/data/version"},
		{"system field createdAt", docstore.CreateRequest{Collection: "posts", Data: data(t, `{"title":"a","createdAt":"x"}`)}, fault.Invalid, "/data/createdAt"},
		{"bad id", docstore.CreateRequest{Collection: "posts", ID: "../etc", Data: data(t, `{"title":"a"}`)}, fault.Invalid, ""},
		{"sql id", docstore.CreateRequest{Collection: "posts", ID: "1' OR '1'='1", Data: data(t, `{"title":"a"}`)}, fault.Invalid, ""},
		{"unknown collection", docstore.CreateRequest{Collection: "nope", Data: data(t, `{"title":"a"}`)}, fault.NotFound, ""},
		{"nil data", docstore.CreateRequest{Collection: "posts"}, fault.Invalid, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreateDocument(ctx, tc.req)
			wantKind(t, err, tc.kind)
			if tc.ptr != "" {
				found := false
				for _, fe := range fault.FieldsOf(err) {
					found = found || fe.Pointer == tc.ptr
				}
				if !found {
					t.Errorf("no field error at %s: %+v", tc.ptr, fault.FieldsOf(err))
				}
			}
		})
	}
	if evs := f.outbox(t); len(evs) != 0 {
		t.Fatalf("rejected writes left %d outbox rows", len(evs))
	}
	page, err := f.svc.ListDocuments(ctx, docstore.ListRequest{Collection: "posts", Total: true})
	if err != nil || *page.Total != 0 {
		t.Fatalf("rejected writes left documents: %+v %v", page, err)
	}
}

func TestIdempotency(t *testing.T) {
	f := newFixture(t)
	f.posts(t)
	ctx := adminCtx(t)
	req := docstore.CreateRequest{Collection: "posts", Data: data(t, `{"title":"once"}`), IdempotencyKey: "key-1"}
	first, err := f.svc.CreateDocument(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.CreateDocument(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || again.Version != first.Version || !again.CreatedAt.Equal(first.CreatedAt) || string(again.Data) != string(first.Data) {
		t.Fatalf("retry answered %+v, first answer was %+v", again, first)
	}
	_, err = f.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: "posts", Data: data(t, `{"title":"twice"}`), IdempotencyKey: "key-1"})
	wantKind(t, err, fault.IdempotencyMismatch)
	// The same key on another operation is a different request too.
	err = f.svc.DeleteDocument(ctx, docstore.DeleteRequest{Collection: "posts", ID: first.ID, IdempotencyKey: "key-1"})
	wantKind(t, err, fault.IdempotencyMismatch)
	// Deletes replay as success.
	for range 2 {
		if err := f.svc.DeleteDocument(ctx, docstore.DeleteRequest{Collection: "posts", ID: first.ID, IdempotencyKey: "key-2"}); err != nil {
			t.Fatal(err)
		}
	}
	if evs := f.outbox(t); len(evs) != 2 {
		t.Fatalf("outbox has %d events, want 2 (one create, one delete)", len(evs))
	}
}

func TestIdempotencyConcurrentRetries(t *testing.T) {
	f := newFixture(t)
	f.posts(t)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			d, err := f.svc.CreateDocument(adminCtx(t), docstore.CreateRequest{Collection: "posts", Data: data(t, `{"title":"x"}`), IdempotencyKey: "same"})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = d.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent retries created different documents: %v", ids)
		}
	}
	if evs := f.outbox(t); len(evs) != 1 {
		t.Fatalf("outbox has %d events, want 1", len(evs))
	}
}
