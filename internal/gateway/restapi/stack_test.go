package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// stack is the real REST stack of one test: the REST API over the real
// document service over a fresh SQLite database.
type stack struct {
	t       testing.TB
	store   *sqlite.Store
	svc     *docstore.Service
	handler http.Handler
	logs    *bytes.Buffer
}

// Test credentials that testAuthenticator knows. Requests of the scenarios
// carry adminToken unless they set Authorization themselves.
const (
	adminToken   = "test-admin"
	ownerToken   = "user-u1"  // user u1
	otherToken   = "user-u2"  // user u2
	readerToken  = "key-read" // API key r1 with scope *:read
	downToken    = "down"     // the authenticator cannot decide
	brokenToken  = "broken"   // the authenticator fails unexpectedly
	nobodyToken  = "nobody"   // accepted without a principal
	unknownToken = "unknown"
)

// testAuthenticator maps the test credentials to principals.
func testAuthenticator() auth.Authenticator {
	return auth.AuthenticatorFunc(func(_ context.Context, credential string) (auth.Principal, error) {
		switch credential {
		case adminToken:
			return auth.Principal{Kind: auth.KindUser, ID: "admin-1", Roles: []string{auth.RoleAdmin}}, nil
		case ownerToken:
			return auth.Principal{Kind: auth.KindUser, ID: "u1"}, nil
		case otherToken:
			return auth.Principal{Kind: auth.KindUser, ID: "u2"}, nil
		case readerToken:
			return auth.Principal{Kind: auth.KindAPIKey, ID: "r1", Scopes: []string{"*:read"}}, nil
		case downToken:
			return auth.Principal{}, fault.New(fault.Unavailable, "test.Authenticate", "cannot check the session right now")
		case brokenToken:
			return auth.Principal{}, errors.New("the session store exploded")
		case nobodyToken:
			return auth.Principal{}, nil
		}
		return auth.Principal{}, fault.New(fault.Unauthenticated, "test.Authenticate", "invalid or expired credential")
	})
}

// adminCtx returns tb's context carrying an admin, for direct calls of the
// service.
func adminCtx(tb testing.TB) context.Context {
	return auth.WithPrincipal(tb.Context(), auth.Principal{Kind: auth.KindUser, ID: "admin-1", Roles: []string{auth.RoleAdmin}})
}

// testOptions are the API options of the scenarios: small limits, so the
// bounds are cheap to reach.
func testOptions(logs io.Writer) Options {
	return Options{
		Logger:        slog.New(slog.NewJSONHandler(logs, nil)),
		MaxBodyBytes:  4096,
		Authenticator: testAuthenticator(),
	}
}

// newStack returns the stack; with limits (specs over apilimit's
// defaults), its routes are behind those rate limits.
func newStack(t testing.TB, limits ...string) *stack {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	svc, err := docstore.NewService(store, docstore.Options{CursorKey: bytes.Repeat([]byte("k"), 32),
		Limits: docstore.Limits{MaxBatchOps: 3, ListTotalCap: 1}}) // small, so the bounds are cheap to reach
	if err != nil {
		t.Fatalf("docstore.NewService: %v", err)
	}
	logs := new(bytes.Buffer)
	mux := http.NewServeMux()
	opts := testOptions(logs)
	if limits != nil {
		opts.Limits = testLimits(t, limits...)
	}
	opts.Catalog, opts.Subscriber = svc, svc
	New(svc, opts).Register(mux)
	return &stack{t: t, store: store, svc: svc, handler: mux, logs: logs}
}

// postsSchema is the schema of the "posts" collection the scenarios seed.
const postsSchema = `{"type":"object","properties":{"title":{"type":"string"},"score":{"type":"integer"},` +
	`"tags":{"type":"array","items":{"type":"string"}}},"required":["title"],"additionalProperties":false}`

// seedPosts creates the collection "posts" with documents p1 (score 7) and
// p2 (score 3).
func (s *stack) seedPosts() {
	s.t.Helper()
	ctx := adminCtx(s.t)
	if _, err := s.svc.CreateCollection(ctx, docstore.CollectionSpec{Name: "posts", Schema: json.RawMessage(postsSchema)}); err != nil {
		s.t.Fatalf("seeding posts: %v", err)
	}
	for _, d := range []struct {
		id    string
		title string
		score int
	}{{"p1", "Basalt", 7}, {"p2", "Granite", 3}} {
		_, err := s.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: "posts", ID: d.id,
			Data: docstore.Data{"title": d.title, "score": json.Number(itoa(d.score))}})
		if err != nil {
			s.t.Fatalf("seeding %s: %v", d.id, err)
		}
	}
}

// do sends one request through the handler, as an admin unless headers
// set Authorization ("" sends none: anonymous).
func (s *stack) do(method, path string, headers map[string]string, body string) *httptest.ResponseRecorder {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequestWithContext(s.t.Context(), method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return rec
}

// outbox returns every outbox event.
func (s *stack) outbox() []eventbus.Event {
	s.t.Helper()
	events, err := s.store.ReadEvents(s.t.Context(), 0, 100_000)
	if err != nil {
		s.t.Fatalf("ReadEvents: %v", err)
	}
	return events
}

// documentEvents returns the outbox's document events (not those of
// collection definitions), in position order.
func (s *stack) documentEvents() []eventbus.Event {
	s.t.Helper()
	var out []eventbus.Event
	for _, e := range s.outbox() {
		if !e.Type.IsCollection() {
			out = append(out, e)
		}
	}
	return out
}

// snapshot renders every collection, document and outbox row as text, to
// assert that a refused request changed nothing.
func (s *stack) snapshot() string {
	s.t.Helper()
	ctx := context.WithoutCancel(adminCtx(s.t))
	var b strings.Builder
	cs, err := s.store.ListCollections(ctx)
	if err != nil {
		s.t.Fatalf("ListCollections: %v", err)
	}
	for _, c := range cs {
		cj, _ := json.Marshal(c)
		b.Write(cj)
		b.WriteByte('\n')
		page, err := s.svc.ListDocuments(ctx, docstore.ListRequest{Collection: c.Name, Limit: 200})
		if err != nil {
			s.t.Fatalf("ListDocuments(%s): %v", c.Name, err)
		}
		for _, d := range page.Items {
			dj, _ := json.Marshal(d)
			b.Write(dj)
			b.WriteByte('\n')
		}
	}
	for _, e := range s.outbox() {
		b.WriteString(e.ID + " " + string(e.Type) + " " + e.DocumentID + "\n")
	}
	return b.String()
}

// document returns a document straight from the service; found is false
// when it does not exist.
func (s *stack) document(collection, id string) (docstore.Document, bool) {
	s.t.Helper()
	d, err := s.svc.GetDocument(adminCtx(s.t), collection, id)
	if err != nil {
		return docstore.Document{}, false
	}
	return d, true
}
