package webhookapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/gateway/webhookapi"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
	"github.com/basaltdev/basalt/internal/webhook"
)

type catalog struct{}

func (catalog) GetCollection(_ context.Context, name string) (docstore.Collection, error) {
	if name == "orders" {
		return docstore.Collection{Name: name}, nil
	}
	return docstore.Collection{}, fault.New(fault.NotFound, "test", "no collection")
}

// server serves the webhook routes: bearer "admin" is an admin, "user" a
// user, anything else unknown.
func server(t *testing.T) (*httptest.Server, *sqlite.Store) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	allow, _ := webhook.ParseNetworks([]string{"127.0.0.1/32"})
	svc := webhook.NewService(webhook.ServiceConfig{Store: store, Catalog: catalog{}, Guard: webhook.NewGuard(allow, nil)})
	authn := auth.AuthenticatorFunc(func(_ context.Context, cred string) (auth.Principal, error) {
		switch cred {
		case "admin":
			return auth.Principal{Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}}, nil
		case "user":
			return auth.Principal{Kind: auth.KindUser, ID: "u1"}, nil
		}
		return auth.Principal{}, fault.New(fault.Unauthenticated, "test", "unknown credential")
	})
	mux := http.NewServeMux()
	webhookapi.New(svc, authn, nil).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, store
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func do(t *testing.T, srv *httptest.Server, bearer, method, path, body string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func TestWebhookRoutes(t *testing.T) {
	srv, store := server(t)
	hookURL := srv.URL + "/receiver"
	created := do(t, srv, "admin", "POST", "/v1/admin/webhooks",
		`{"url":"`+hookURL+`","collection":"orders","types":["document.created"],"description":"billing"}`)
	if created.status != 201 || !strings.HasPrefix(created.body["secret"].(string), "whsec_") || created.body["enabled"] != true {
		t.Fatalf("create: %d %s", created.status, created.raw)
	}
	id := created.body["id"].(string)
	if loc := created.header.Get("Location"); loc != "/v1/admin/webhooks/"+id {
		t.Fatalf("Location %q", loc)
	}
	if cc := created.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
	got := do(t, srv, "admin", "GET", "/v1/admin/webhooks/"+id, "")
	if got.status != 200 || got.body["secret"] != nil || got.body["url"] != hookURL || got.body["createdBy"] != "a1" {
		t.Fatalf("get: %d %s", got.status, got.raw)
	}
	list := do(t, srv, "admin", "GET", "/v1/admin/webhooks", "")
	if list.status != 200 || len(list.body["items"].([]any)) != 1 || strings.Contains(list.raw, "whsec_") {
		t.Fatalf("list: %d %s", list.status, list.raw)
	}
	patched := do(t, srv, "admin", "PATCH", "/v1/admin/webhooks/"+id, `{"enabled":false,"types":[]}`)
	if patched.status != 200 || patched.body["enabled"] != false || len(patched.body["types"].([]any)) != 0 ||
		patched.body["description"] != "billing" {
		t.Fatalf("patch: %d %s", patched.status, patched.raw)
	}
	rotated := do(t, srv, "admin", "POST", "/v1/admin/webhooks/"+id+"/rotate-secret", "")
	if rotated.status != 200 || rotated.body["secret"] == created.body["secret"] || rotated.body["previousSecretExpiresAt"] == nil ||
		strings.Count(rotated.raw, "whsec_") != 1 {
		t.Fatalf("rotate: %d %s", rotated.status, rotated.raw)
	}
	leaked := do(t, srv, "admin", "POST", "/v1/admin/webhooks/"+id+"/rotate-secret", `{"keepPreviousSeconds":0}`)
	if leaked.status != 200 || leaked.body["previousSecretExpiresAt"] != nil {
		t.Fatalf("rotate keeping nothing: %d %s", leaked.status, leaked.raw)
	}

	// A delivery, as the dispatcher records it.
	if err := webhook.NewDispatcher(store, nil, nil).Handle(context.Background(), eventbus.Event{ID: "0193b000-0000-7000-8000-000000000001",
		Type: eventbus.DocumentCreated, Collection: "orders", DocumentID: "o1", Version: 1, Position: 4,
		Payload: json.RawMessage(`{"secretData":1}`)}); err != nil {
		t.Fatal(err)
	}
	// The webhook is disabled: nothing was added. Enable it and try again.
	if page := do(t, srv, "admin", "GET", "/v1/admin/webhooks/"+id+"/deliveries", ""); page.status != 200 || len(page.body["items"].([]any)) != 0 {
		t.Fatalf("deliveries of a disabled webhook: %s", page.raw)
	}
	do(t, srv, "admin", "PATCH", "/v1/admin/webhooks/"+id, `{"enabled":true}`)
	for i := range 3 {
		if err := webhook.NewDispatcher(store, nil, nil).Handle(context.Background(), eventbus.Event{
			ID: "0193b000-0000-7000-8000-00000000000" + string(rune('1'+i)), Type: eventbus.DocumentCreated, Collection: "orders",
			DocumentID: "o1", Version: 1, Position: int64(4 + i), Payload: json.RawMessage(`{"secretData":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	page := do(t, srv, "admin", "GET", "/v1/admin/webhooks/"+id+"/deliveries?limit=2", "")
	items, _ := page.body["items"].([]any)
	if page.status != 200 || len(items) != 2 || page.body["nextCursor"] == nil || strings.Contains(page.raw, "secretData") {
		t.Fatalf("deliveries page 1: %d %s", page.status, page.raw)
	}
	first := items[0].(map[string]any)
	if first["event"].(map[string]any)["position"] != float64(6) || first["status"] != "pending" || first["lastError"] != nil {
		t.Fatalf("newest delivery: %v", first)
	}
	page2 := do(t, srv, "admin", "GET", "/v1/admin/webhooks/"+id+"/deliveries?limit=2&cursor="+page.body["nextCursor"].(string), "")
	if items2, _ := page2.body["items"].([]any); page2.status != 200 || len(items2) != 1 || page2.body["nextCursor"] != nil {
		t.Fatalf("deliveries page 2: %d %s", page2.status, page2.raw)
	}
	did := first["id"].(string)
	one := do(t, srv, "admin", "GET", "/v1/admin/webhooks/"+id+"/deliveries/"+did, "")
	if one.status != 200 || one.body["id"] != did {
		t.Fatalf("get delivery: %d %s", one.status, one.raw)
	}
	re := do(t, srv, "admin", "POST", "/v1/admin/webhooks/"+id+"/deliveries/"+did+"/redeliver", "{}")
	if re.status != 202 || re.body["status"] != "pending" {
		t.Fatalf("redeliver: %d %s", re.status, re.raw)
	}
	if del := do(t, srv, "admin", "DELETE", "/v1/admin/webhooks/"+id, ""); del.status != 204 {
		t.Fatalf("delete: %d %s", del.status, del.raw)
	}
	if gone := do(t, srv, "admin", "GET", "/v1/admin/webhooks/"+id, ""); gone.status != 404 || gone.body["code"] != "not_found" {
		t.Fatalf("after delete: %d %s", gone.status, gone.raw)
	}
}

func TestWebhookRoutesRefuse(t *testing.T) {
	srv, _ := server(t)
	cases := []struct {
		bearer, method, path, body string
		status                     int
		code, pointer              string
	}{
		{"", "GET", "/v1/admin/webhooks", "", 401, "unauthenticated", ""},
		{"user", "GET", "/v1/admin/webhooks", "", 403, "forbidden", ""},
		{"user", "POST", "/v1/admin/webhooks", `{"url":"https://example.com","collection":"orders"}`, 403, "forbidden", ""},
		{"admin", "POST", "/v1/admin/webhooks", `{"url":"http://10.0.0.1/","collection":"orders"}`, 400, "invalid", "/url"},
		{"admin", "POST", "/v1/admin/webhooks", `{"url":"http://169.254.169.254/","collection":"orders"}`, 400, "invalid", "/url"},
		{"admin", "POST", "/v1/admin/webhooks", `{"url":"https://example.com","collection":"nope"}`, 400, "invalid", "/collection"},
		{"admin", "POST", "/v1/admin/webhooks", `{"url":"https://example.com","collection":"orders","types":["x"]}`, 400, "invalid", "/types/0"},
		{"admin", "POST", "/v1/admin/webhooks", `{"url":"https://example.com","collection":"orders","secret":"mine"}`, 400, "invalid", "/secret"},
		{"admin", "POST", "/v1/admin/webhooks", `{"url":5,"collection":"orders"}`, 400, "invalid", "/url"},
		{"admin", "GET", "/v1/admin/webhooks/nope", "", 404, "not_found", ""},
		{"admin", "GET", "/v1/admin/webhooks/nope/deliveries?limit=0", "", 400, "invalid", ""},
		{"admin", "GET", "/v1/admin/webhooks/nope/deliveries?page=2", "", 400, "invalid", ""},
		{"admin", "POST", "/v1/admin/webhooks/nope/deliveries/x/redeliver", "", 404, "not_found", ""},
		{"admin", "PUT", "/v1/admin/webhooks/nope", "{}", 405, "", ""},
		{"admin", "POST", "/v1/admin/webhooks/nope/rotate-secret", `{"keepPreviousSeconds":1.5}`, 400, "invalid", "/keepPreviousSeconds"},
		{"admin", "POST", "/v1/admin/webhooks/nope/rotate-secret", `{"keepPreviousSeconds":99999999}`, 400, "invalid", "/keepPreviousSeconds"},
		{"admin", "POST", "/v1/admin/webhooks/nope/rotate-secret", `{"keep":1}`, 400, "invalid", "/keep"},
	}
	for _, c := range cases {
		a := do(t, srv, c.bearer, c.method, c.path, c.body)
		if a.status != c.status || (c.code != "" && a.body["code"] != c.code) ||
			!strings.HasPrefix(a.header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s %s as %q: %d %s", c.method, c.path, c.bearer, a.status, a.raw)
			continue
		}
		if c.pointer != "" && !strings.Contains(a.raw, `"pointer":"`+c.pointer+`"`) {
			t.Errorf("%s %s %s: no field error at %s: %s", c.method, c.path, c.body, c.pointer, a.raw)
		}
	}
}

func TestDescribeOpenAPI(t *testing.T) {
	describe := func(p auth.Principal) *openapi3.T {
		t.Helper()
		doc, err := restapi.BuildOpenAPI(auth.WithPrincipal(t.Context(), p), docstore.Catalog{}, webhookapi.DescribeOpenAPI)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := openapi3.NewLoader().LoadFromData(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := loaded.Validate(t.Context(), openapi3.IsOpenAPI31OrLater()); err != nil {
			t.Fatalf("invalid OpenAPI: %v", err)
		}
		return loaded
	}
	admin := describe(auth.Principal{Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}})
	user := describe(auth.Principal{Kind: auth.KindUser, ID: "u1"})
	for _, pattern := range webhookapi.RoutePatterns() {
		method, path, _ := strings.Cut(pattern, " ")
		item := admin.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("%s is not described", pattern)
			continue
		}
		if op := item.GetOperation(method); op.Summary == "" || op.Description == "" || op.Security == nil {
			t.Errorf("%s: summary %q, description %q", pattern, op.Summary, op.Description)
		}
		if user.Paths.Find(path) != nil {
			t.Errorf("%s is described to a user", pattern)
		}
	}
}
