package remote_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway/rpcapi"
	"github.com/basaltdev/basalt/internal/remote"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

const token = "an internal token of thirty-two bytes or more"

// service is a document service on a database of its own.
func service(t testing.TB) *docstore.Service {
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
	return svc
}

// component serves svc as a documents component (cleartext HTTP/2, the
// internal token required) and returns its URL.
func component(t testing.TB, svc *docstore.Service) string {
	t.Helper()
	mux := http.NewServeMux()
	rpcapi.New(rpcapi.Services{Documents: svc, Collections: svc}, rpcapi.Options{Internal: &rpcapi.Internal{Token: token, Only: true}}).Register(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// step is one call of the parity script, made as who.
type step struct {
	who  string
	name string
	do   func(ctx context.Context, d services) (any, error)
}

type services interface {
	docstore.Documents
	docstore.Collections
}

var principals = map[string]auth.Principal{
	"admin": {Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}},
	"ada":   {Kind: auth.KindUser, ID: "u1", SessionID: "s1"},
	"bob":   {Kind: auth.KindUser, ID: "u2"},
	"key":   {Kind: auth.KindAPIKey, ID: "k1", Scopes: []string{"notes:read"}, Account: "a1"},
	"anon":  {},
}

func ptr(s string) *string { return &s }

// script exercises the document and collection calls, their rules and
// their errors.
func script() []step {
	owner := ptr("owner = @auth.id")
	data := func(s string) docstore.Data {
		var d docstore.Data
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&d); err != nil {
			panic(err)
		}
		return d
	}
	return []step{
		{"admin", "create the collection", func(ctx context.Context, d services) (any, error) {
			return d.CreateCollection(ctx, docstore.CollectionSpec{Name: "notes",
				Schema:       json.RawMessage(`{"type":"object","properties":{"title":{"type":"string","minLength":1},"owner":{"type":"string"},"n":{"type":"integer"},"secret":{"type":"string"}},"required":["title"]}`),
				Indexes:      []docstore.Index{{Fields: []string{"n"}}},
				Rules:        docstore.Rules{List: owner, Get: owner, Create: owner, Update: owner, Delete: owner},
				HiddenFields: []string{"secret"}})
		}},
		{"admin", "create it again", func(ctx context.Context, d services) (any, error) {
			return d.CreateCollection(ctx, docstore.CollectionSpec{Name: "notes"})
		}},
		{"ada", "create a note", func(ctx context.Context, d services) (any, error) {
			return d.CreateDocument(ctx, docstore.CreateRequest{Collection: "notes", ID: "n1", Data: data(`{"title":"one","owner":"u1","n":1,"secret":"s"}`)})
		}},
		{"ada", "create a note without a title", func(ctx context.Context, d services) (any, error) {
			return d.CreateDocument(ctx, docstore.CreateRequest{Collection: "notes", ID: "n2", Data: data(`{"owner":"u1","n":2}`)})
		}},
		{"ada", "create a note for bob", func(ctx context.Context, d services) (any, error) {
			return d.CreateDocument(ctx, docstore.CreateRequest{Collection: "notes", ID: "n3", Data: data(`{"title":"x","owner":"u2"}`)})
		}},
		{"anon", "create anonymously", func(ctx context.Context, d services) (any, error) {
			return d.CreateDocument(ctx, docstore.CreateRequest{Collection: "notes", ID: "n4", Data: data(`{"title":"x"}`)})
		}},
		{"ada", "get her note", func(ctx context.Context, d services) (any, error) { return d.GetDocument(ctx, "notes", "n1") }},
		{"admin", "get it as admin (hidden fields)", func(ctx context.Context, d services) (any, error) { return d.GetDocument(ctx, "notes", "n1") }},
		{"bob", "get ada's note", func(ctx context.Context, d services) (any, error) { return d.GetDocument(ctx, "notes", "n1") }},
		{"key", "get with a key", func(ctx context.Context, d services) (any, error) { return d.GetDocument(ctx, "notes", "n1") }},
		{"ada", "get a note of another collection", func(ctx context.Context, d services) (any, error) { return d.GetDocument(ctx, "nope", "n1") }},
		{"ada", "replace at version 1", func(ctx context.Context, d services) (any, error) {
			return d.ReplaceDocument(ctx, docstore.ReplaceRequest{Collection: "notes", ID: "n1", Data: data(`{"title":"one'","owner":"u1","n":5}`), IfMatch: docstore.Version(1)})
		}},
		{"ada", "replace at version 1 again", func(ctx context.Context, d services) (any, error) {
			return d.ReplaceDocument(ctx, docstore.ReplaceRequest{Collection: "notes", ID: "n1", Data: data(`{"title":"one''","owner":"u1"}`), IfMatch: docstore.Version(1)})
		}},
		{"ada", "patch at version 1 or 2", func(ctx context.Context, d services) (any, error) {
			return d.PatchDocument(ctx, docstore.PatchRequest{Collection: "notes", ID: "n1", Patch: data(`{"n":7}`), IfMatch: docstore.Versions{1, 2}})
		}},
		{"ada", "patch at version 1 or 2 again", func(ctx context.Context, d services) (any, error) {
			return d.PatchDocument(ctx, docstore.PatchRequest{Collection: "notes", ID: "n1", Patch: data(`{"n":8}`), IfMatch: docstore.Versions{1, 2}})
		}},
		{"ada", "patch at no version", func(ctx context.Context, d services) (any, error) {
			return d.PatchDocument(ctx, docstore.PatchRequest{Collection: "notes", ID: "n1", Patch: data(`{"n":9}`), IfMatch: docstore.Versions{0}})
		}},
		{"ada", "patch the title away", func(ctx context.Context, d services) (any, error) {
			return d.PatchDocument(ctx, docstore.PatchRequest{Collection: "notes", ID: "n1", Patch: data(`{"title":null}`)})
		}},
		{"ada", "batch", func(ctx context.Context, d services) (any, error) {
			return d.Batch(ctx, []docstore.BatchOp{
				{Op: docstore.OpCreate, Collection: "notes", ID: "b1", Data: data(`{"title":"b","owner":"u1","n":3}`)},
				{Op: docstore.OpPatch, Collection: "notes", ID: "n1", Data: data(`{"n":4}`), IfMatch: 3},
			}, "batch-key")
		}},
		{"ada", "the same batch again", func(ctx context.Context, d services) (any, error) {
			return d.Batch(ctx, []docstore.BatchOp{
				{Op: docstore.OpCreate, Collection: "notes", ID: "b1", Data: data(`{"title":"b","owner":"u1","n":3}`)},
				{Op: docstore.OpPatch, Collection: "notes", ID: "n1", Data: data(`{"n":4}`), IfMatch: 3},
			}, "batch-key")
		}},
		{"ada", "a batch that fails", func(ctx context.Context, d services) (any, error) {
			return d.Batch(ctx, []docstore.BatchOp{
				{Op: docstore.OpCreate, Collection: "notes", ID: "b2", Data: data(`{"title":"c","owner":"u1"}`)},
				{Op: docstore.OpDelete, Collection: "notes", ID: "missing"},
			}, "")
		}},
		{"ada", "list", func(ctx context.Context, d services) (any, error) {
			return d.ListDocuments(ctx, docstore.ListRequest{Collection: "notes", Filter: "n >= 1", Sort: "-n", Limit: 1, Total: true})
		}},
		{"ada", "list with a bad filter", func(ctx context.Context, d services) (any, error) {
			return d.ListDocuments(ctx, docstore.ListRequest{Collection: "notes", Filter: "n >="})
		}},
		{"bob", "list as bob", func(ctx context.Context, d services) (any, error) {
			return d.ListDocuments(ctx, docstore.ListRequest{Collection: "notes"})
		}},
		{"ada", "delete at an old version", func(ctx context.Context, d services) (any, error) {
			return nil, d.DeleteDocument(ctx, docstore.DeleteRequest{Collection: "notes", ID: "b1", IfMatch: docstore.Version(7)})
		}},
		{"ada", "delete", func(ctx context.Context, d services) (any, error) {
			return nil, d.DeleteDocument(ctx, docstore.DeleteRequest{Collection: "notes", ID: "b1"})
		}},
		{"ada", "get the deleted note", func(ctx context.Context, d services) (any, error) { return d.GetDocument(ctx, "notes", "b1") }},
		{"ada", "list collections as a user", func(ctx context.Context, d services) (any, error) { return d.ListCollections(ctx) }},
		{"admin", "list collections", func(ctx context.Context, d services) (any, error) { return d.ListCollections(ctx) }},
		{"admin", "patch the rules at version 1", func(ctx context.Context, d services) (any, error) {
			return d.PatchCollection(ctx, "notes", data(`{"rules":{"list":""}}`), docstore.Version(1))
		}},
		{"admin", "replace at version 1", func(ctx context.Context, d services) (any, error) {
			return d.ReplaceCollection(ctx, "notes", docstore.CollectionSpec{Name: "notes"}, docstore.Version(1))
		}},
		{"anon", "list after the rules changed", func(ctx context.Context, d services) (any, error) {
			return d.ListDocuments(ctx, docstore.ListRequest{Collection: "notes"})
		}},
		{"admin", "get the collection", func(ctx context.Context, d services) (any, error) { return d.GetCollection(ctx, "notes") }},
		{"admin", "delete it at version 1", func(ctx context.Context, d services) (any, error) {
			return nil, d.DeleteCollection(ctx, "notes", docstore.Version(1))
		}},
		{"admin", "delete it", func(ctx context.Context, d services) (any, error) { return nil, d.DeleteCollection(ctx, "notes", nil) }},
	}
}

// outcome is a step's result as a transcript line: times and cursors
// (which differ by process) left out, errors by kind, type, message and
// fields.
func outcome(res any, err error) string {
	if err != nil {
		var fe *fault.Error
		if !errors.As(err, &fe) {
			return "error " + err.Error()
		}
		return fmt.Sprintf("error %s %s %q %v", fault.KindOf(err), fault.TypeOf(err), fault.Message(err), fault.FieldsOf(err))
	}
	b, jerr := json.Marshal(normalize(res))
	if jerr != nil {
		return "unencodable " + jerr.Error()
	}
	return string(b)
}

func normalize(v any) any {
	switch x := v.(type) {
	case docstore.Document:
		return map[string]any{"id": x.ID, "collection": x.Collection, "version": x.Version, "data": json.RawMessage(x.Data)}
	case docstore.Page:
		items := make([]any, len(x.Items))
		for i, d := range x.Items {
			items[i] = normalize(d)
		}
		return map[string]any{"items": items, "more": x.NextCursor != "", "total": x.Total, "capped": x.TotalCapped}
	case []docstore.BatchResult:
		out := make([]any, len(x))
		for i, r := range x {
			var doc any
			if r.Document != nil {
				doc = normalize(*r.Document)
			}
			out[i] = map[string]any{"op": r.Op, "id": r.ID, "document": doc}
		}
		return out
	case docstore.Collection:
		return map[string]any{"name": x.Name, "schema": json.RawMessage(x.Schema), "indexes": x.Indexes, "rules": x.Rules,
			"hidden": x.HiddenFields, "search": x.Search, "version": x.Version}
	case []docstore.Collection:
		out := make([]any, len(x))
		for i, c := range x {
			out[i] = normalize(c)
		}
		return out
	}
	return v
}

// TestSameAsLocal runs one script against a local document service and
// against another one reached as a remote component: every answer and
// every error is the same.
func TestSameAsLocal(t *testing.T) {
	local := service(t)
	far, err := remote.NewDocuments(remote.Options{URL: component(t, service(t)), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range script() {
		ctx := auth.WithPrincipal(t.Context(), principals[s.who])
		want := outcome(s.do(ctx, local))
		got := outcome(s.do(ctx, far))
		if got != want {
			t.Errorf("%s: %s:\nremote %s\nlocal  %s", s.who, s.name, got, want)
		}
	}
}

// TestInternalToken: the component refuses calls without the deployment's
// token, and a caller cannot claim a principal without it.
func TestInternalToken(t *testing.T) {
	svc := service(t)
	url := component(t, svc)
	ctx := auth.WithPrincipal(t.Context(), principals["admin"])
	for name, tok := range map[string]string{"another token": strings.Repeat("x", 40)} {
		far, err := remote.NewDocuments(remote.Options{URL: url, Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := far.ListCollections(ctx); fault.KindOf(err) != fault.Unauthenticated {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A plain client, no token: refused, whatever principal it claims.
	req, _ := http.NewRequest("POST", url+"/basalt.v1.CollectionService/ListCollections", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(rpcapi.PrincipalHeader, rpcapi.EncodePrincipal(principals["admin"]))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a call without the token: %d", res.StatusCode)
	}
	if _, err := remote.NewDocuments(remote.Options{URL: url, Token: "short"}); err == nil {
		t.Error("a short token was accepted")
	}
}

// flaky fails the first failures requests it is given as a connection
// would that the component refused.
type flaky struct {
	next     http.RoundTripper
	failures atomic.Int32
	calls    atomic.Int32
}

func (f *flaky) RoundTrip(r *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	if f.failures.Add(-1) >= 0 {
		return nil, errors.New("connection refused")
	}
	return f.next.RoundTrip(r)
}

// TestRetries: a read is tried again when the component could not be
// reached; a write is not (its outcome would be unknown).
func TestRetries(t *testing.T) {
	svc := service(t)
	url := component(t, svc)
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	f := &flaky{next: &http.Transport{Protocols: p}}
	far, err := remote.NewDocuments(remote.Options{URL: url, Token: token, HTTPClient: &http.Client{Transport: f}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := auth.WithPrincipal(t.Context(), principals["admin"])
	f.failures.Store(2)
	if _, err := far.ListCollections(ctx); err != nil || f.calls.Load() != 3 {
		t.Errorf("a read after two failures: %v after %d calls", err, f.calls.Load())
	}
	f.failures.Store(1)
	f.calls.Store(0)
	_, err = far.CreateCollection(ctx, docstore.CollectionSpec{Name: "c"})
	if fault.KindOf(err) != fault.Unavailable || f.calls.Load() != 1 {
		t.Errorf("a write after a failure: %v after %d calls", err, f.calls.Load())
	}
	if _, err := svc.GetCollection(ctx, "c"); fault.KindOf(err) != fault.NotFound {
		t.Errorf("the failed write happened: %v", err)
	}
}
