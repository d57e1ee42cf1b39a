package rpcapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
	"github.com/basaltdev/basalt/internal/apilimit"
	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway/restapi/restapitest"
	"github.com/basaltdev/basalt/internal/gateway/rpcapi"
	"github.com/basaltdev/basalt/internal/jsonvalue"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
	"github.com/basaltdev/basalt/internal/rpcfault"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// withToken sends its token as the bearer credential of every call.
type withToken struct {
	token string
	next  http.RoundTripper
}

func (w withToken) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+w.token)
	return w.next.RoundTrip(r)
}

// fixture is a document service on SQLite behind the DocumentService
// handlers, served over HTTP/2 with TLS; callers authenticate with
// restapitest's credentials.
type fixture struct {
	svc *docstore.Service
	srv *httptest.Server
}

func newFixture(t *testing.T, limits ...string) *fixture {
	t.Helper()
	store, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	svc, err := docstore.NewService(store, docstore.Options{CursorKey: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	opts := rpcapi.Options{JSON: jsonvalue.Limits{MaxDepth: 8}, Authenticator: restapitest.Authenticator(nil)}
	if limits != nil {
		cfg := apilimit.DefaultConfig()
		for _, l := range limits {
			if err := cfg.Set(l); err != nil {
				t.Fatal(err)
			}
		}
		lim, err := apilimit.New(apilimit.Options{Config: cfg, Limiter: memory.New(time.Now, 1000)})
		if err != nil {
			t.Fatal(err)
		}
		opts.Limits = lim
	}
	mux := http.NewServeMux()
	rpcapi.New(rpcapi.Services{Documents: svc, Collections: svc}, opts).Register(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	admin := auth.WithPrincipal(t.Context(), auth.Principal{Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}})
	owner := "owner = @auth.id"
	if _, err := svc.CreateCollection(admin, docstore.CollectionSpec{Name: "posts",
		Schema: json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"score":{"type":"number"},"owner":{"type":"string"}},"required":["title"]}`),
		Rules:  docstore.Rules{List: &owner, Get: &owner, Create: &owner, Update: &owner, Delete: &owner}}); err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, srv: srv}
}

// connection calls as the caller of token, in the protocol of opts.
func (f *fixture) connection(token string, opts ...connecthttp.Option) *connect.Client {
	hc := *f.srv.Client() // a copy: the server's own client stays as it is
	hc.Transport = withToken{token: token, next: f.srv.Client().Transport}
	return connect.NewClient(connecthttp.NewTransport(&hc, f.srv.URL, opts...))
}

// client is the DocumentService of connection.
func (f *fixture) client(token string, opts ...connecthttp.Option) basaltv1connect.DocumentServiceClient {
	return basaltv1connect.NewDocumentServiceClient(f.connection(token, opts...))
}

func wantFault(t *testing.T, what string, err error, kind fault.Kind, pointer string) {
	t.Helper()
	back := rpcfault.Fault(err)
	if fault.KindOf(back) != kind {
		t.Fatalf("%s: %v (kind %s), want %s", what, err, fault.KindOf(back), kind)
	}
	if pointer != "" {
		fields := fault.FieldsOf(back)
		if len(fields) == 0 || fields[0].Pointer != pointer {
			t.Fatalf("%s: fields %v, want the pointer %s", what, fields, pointer)
		}
	}
}

func TestDocumentLifecycle(t *testing.T) {
	f := newFixture(t)
	for name, opts := range map[string][]connecthttp.Option{"connect": nil, "grpc": {connecthttp.WithGRPC()}} {
		t.Run(name, func(t *testing.T) {
			u := f.client("user", opts...)
			ctx := context.Background()
			id := "d-" + name
			created, err := u.CreateDocument(ctx, &basaltv1.CreateDocumentRequest{Collection: "posts", Id: id,
				Data: []byte(`{"title":"Basalt","score":0.10,"owner":"u1"}`)})
			if err != nil {
				t.Fatal(err)
			}
			d := created.GetDocument()
			if d.GetId() != id || d.GetVersion() != 1 || d.GetCollection() != "posts" || !d.GetCreatedAt().IsValid() {
				t.Fatalf("created %v", d)
			}
			// The data is what the service stored, numbers as written.
			stored, err := f.svc.GetDocument(auth.WithPrincipal(ctx, auth.System()), "posts", id)
			if err != nil || !bytes.Equal(d.GetData(), stored.Data) || !bytes.Contains(d.GetData(), []byte(`0.10`)) {
				t.Fatalf("data %s, stored %s (%v)", d.GetData(), stored.Data, err)
			}
			got, err := u.GetDocument(ctx, &basaltv1.GetDocumentRequest{Collection: "posts", Id: id})
			if err != nil || got.GetDocument().GetVersion() != 1 {
				t.Fatalf("get: %v, %v", got, err)
			}
			patched, err := u.PatchDocument(ctx, &basaltv1.PatchDocumentRequest{Collection: "posts", Id: id,
				Patch: []byte(`{"score":7}`), ExpectedVersion: 1})
			if err != nil || patched.GetDocument().GetVersion() != 2 {
				t.Fatalf("patch: %v, %v", patched, err)
			}
			_, err = u.ReplaceDocument(ctx, &basaltv1.ReplaceDocumentRequest{Collection: "posts", Id: id,
				Data: []byte(`{"title":"stale","owner":"u1"}`), ExpectedVersion: 1})
			wantFault(t, "a replace at an old version", err, fault.PreconditionFailed, "")
			if connect.CodeOf(err) != connect.CodeAborted {
				t.Errorf("a replace at an old version: code %v, want aborted", connect.CodeOf(err))
			}
			list, err := u.ListDocuments(ctx, &basaltv1.ListDocumentsRequest{Collection: "posts", Filter: `score >= 5 && id = "` + id + `"`,
				Sort: "-score", Total: true})
			if err != nil || len(list.GetItems()) != 1 || list.GetItems()[0].GetId() != id || list.Total == nil || list.GetTotal() != 1 {
				t.Fatalf("list: %v, %v", list, err)
			}
			// Another user sees nothing of it: the rules apply.
			_, err = f.client("nobody-"+name, opts...).GetDocument(ctx, &basaltv1.GetDocumentRequest{Collection: "posts", Id: id})
			wantFault(t, "an unknown credential", err, fault.Unauthenticated, "")
			_, err = f.client("admin", opts...).GetDocument(ctx, &basaltv1.GetDocumentRequest{Collection: "posts", Id: id})
			if err != nil {
				t.Fatalf("the admin reads every document: %v", err)
			}
			if _, err := u.DeleteDocument(ctx, &basaltv1.DeleteDocumentRequest{Collection: "posts", Id: id, ExpectedVersion: 2}); err != nil {
				t.Fatal(err)
			}
			_, err = u.GetDocument(ctx, &basaltv1.GetDocumentRequest{Collection: "posts", Id: id})
			wantFault(t, "a deleted document", err, fault.NotFound, "")
		})
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t)
	u := f.client("user")
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		call    func() error
		kind    fault.Kind
		pointer string
	}{
		{"no data", func() error {
			_, err := u.CreateDocument(ctx, &basaltv1.CreateDocumentRequest{Collection: "posts", Id: "x"})
			return err
		}, fault.Invalid, "/data"},
		{"data that is not JSON", func() error {
			_, err := u.CreateDocument(ctx, &basaltv1.CreateDocumentRequest{Collection: "posts", Id: "x", Data: []byte(`{"title":`)})
			return err
		}, fault.Invalid, "/data/title"},
		{"data that is not an object", func() error {
			_, err := u.CreateDocument(ctx, &basaltv1.CreateDocumentRequest{Collection: "posts", Id: "x", Data: []byte(`["a"]`)})
			return err
		}, fault.Invalid, "/data"},
		{"data deeper than the bound", func() error {
			_, err := u.CreateDocument(ctx, &basaltv1.CreateDocumentRequest{Collection: "posts", Id: "x",
				Data: []byte(`{"title":"t","owner":"u1","a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}}`)})
			return err
		}, fault.Invalid, "/data/a/b/c/d/e/f/g/h"},
		{"data the schema refuses", func() error {
			_, err := u.CreateDocument(ctx, &basaltv1.CreateDocumentRequest{Collection: "posts", Id: "x", Data: []byte(`{"owner":"u1"}`)})
			return err
		}, fault.Validation, ""},
		{"a batch operation with its own idempotency key", func() error {
			_, err := u.Batch(ctx, &basaltv1.BatchRequest{Operations: []*basaltv1.BatchOperation{
				{Operation: &basaltv1.BatchOperation_Create{Create: &basaltv1.CreateDocumentRequest{Collection: "posts", Id: "x",
					Data: []byte(`{"title":"t","owner":"u1"}`), IdempotencyKey: "k"}}}}})
			return err
		}, fault.Invalid, "/operations/0"},
		{"an empty batch operation", func() error {
			_, err := u.Batch(ctx, &basaltv1.BatchRequest{Operations: []*basaltv1.BatchOperation{{}}})
			return err
		}, fault.Invalid, "/operations/0"},
		{"a batch operation with bad data", func() error {
			_, err := u.Batch(ctx, &basaltv1.BatchRequest{Operations: []*basaltv1.BatchOperation{
				{Operation: &basaltv1.BatchOperation_Create{Create: &basaltv1.CreateDocumentRequest{Collection: "posts", Id: "y",
					Data: []byte(`{"title":"t","owner":"u1"}`)}}},
				{Operation: &basaltv1.BatchOperation_Patch{Patch: &basaltv1.PatchDocumentRequest{Collection: "posts", Id: "y", Patch: []byte(`nope`)}}}}})
			return err
		}, fault.Invalid, "/operations/1/patch/patch"},
	} {
		wantFault(t, c.name, c.call(), c.kind, c.pointer)
	}
	page, err := f.svc.ListDocuments(auth.WithPrincipal(ctx, auth.System()), docstore.ListRequest{Collection: "posts"})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("after the refusals: %d documents, %v", len(page.Items), err)
	}
}

func TestBatch(t *testing.T) {
	f := newFixture(t)
	u := f.client("user")
	ctx := context.Background()
	res, err := u.Batch(ctx, &basaltv1.BatchRequest{IdempotencyKey: "b1", Operations: []*basaltv1.BatchOperation{
		{Operation: &basaltv1.BatchOperation_Create{Create: &basaltv1.CreateDocumentRequest{Collection: "posts", Id: "a", Data: []byte(`{"title":"A","owner":"u1"}`)}}},
		{Operation: &basaltv1.BatchOperation_Create{Create: &basaltv1.CreateDocumentRequest{Collection: "posts", Id: "b", Data: []byte(`{"title":"B","owner":"u1"}`)}}},
		{Operation: &basaltv1.BatchOperation_Patch{Patch: &basaltv1.PatchDocumentRequest{Collection: "posts", Id: "a", Patch: []byte(`{"score":1}`), ExpectedVersion: 1}}},
		{Operation: &basaltv1.BatchOperation_Delete{Delete: &basaltv1.DeleteDocumentRequest{Collection: "posts", Id: "b"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	rs := res.GetResults()
	if len(rs) != 4 || rs[0].GetId() != "a" || rs[2].GetDocument().GetVersion() != 2 || rs[3].GetId() != "b" || rs[3].Document != nil {
		t.Fatalf("results %v", rs)
	}
	// All or none: a failing operation leaves the others undone.
	_, err = u.Batch(ctx, &basaltv1.BatchRequest{Operations: []*basaltv1.BatchOperation{
		{Operation: &basaltv1.BatchOperation_Create{Create: &basaltv1.CreateDocumentRequest{Collection: "posts", Id: "c", Data: []byte(`{"title":"C","owner":"u1"}`)}}},
		{Operation: &basaltv1.BatchOperation_Delete{Delete: &basaltv1.DeleteDocumentRequest{Collection: "posts", Id: "a", ExpectedVersion: 1}}},
	}})
	wantFault(t, "a batch with a stale version", err, fault.PreconditionFailed, "")
	_, err = u.GetDocument(ctx, &basaltv1.GetDocumentRequest{Collection: "posts", Id: "c"})
	wantFault(t, "the batch's create", err, fault.NotFound, "")
}
