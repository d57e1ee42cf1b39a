package webhookapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway/restapi/restapitest"
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
	authn := restapitest.Authenticator(nil)
	mux := http.NewServeMux()
	webhookapi.New(svc, authn, nil).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, store
}

type answer = restapitest.Answer

func do(t *testing.T, srv *httptest.Server, bearer, method, path, body string) answer {
	t.Helper()
	return restapitest.Do(t, srv, bearer, method, path, body)
}

func TestWebhookRoutes(t *testing.T) {
	srv, store := server(t)
	hookURL := srv.URL + "/receiver"
	created := do(t, srv, "admin", "POST", "/v1/admin/webhooks",
		`{"url":"`+hookURL+`","collection":"orders","types":["document.created"],"description":"billing"}`)
	if created.Status != 201 || !strings.HasPrefix(created.Body["secret"].(string), "whsec_") || created.Body["enabled"] != true {
		t.Fatalf("create: %d %s", created.Status, created.Raw)
	}
	id := created.Body["id"].(string)
	if loc := created.Header.Get("Location"); loc != "/v1/admin/webhooks/"+id {
		t.Fatalf("Location %q", loc)
	}
	if cc := created.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
	got := do(t, srv, "admin", "GET", "/v1/admin/webhooks/"+id, "")
	if got.Status != 200 || got.Body["secret"] != nil || got.Body["url"] != hookURL || got.Body["createdBy"] != "a1" {
		t.Fatalf("get: %d %s", got.Status, got.Raw)
	}
	list := do(t, srv, "admin", "GET", "/v1/admin/webhooks", "")
	if list.Status != 200 || len(list.Body["items"].([]any)) != 1 || strings.Contains(list.Raw, "whsec_") {
		t.Fatalf("list: %d %s", list.Status, list.Raw)
	}
	patched := do(t, srv, "admin", "PATCH", "/v1/admin/webhooks/"+id, `{"enabled":false,"types":[]}`)
	if patched.Status != 200 || patched.Body["enabled"] != false || len(patched.Body["types"].([]any)) != 0 ||
		patched.Body["description"] != "billing" {
		t.Fatalf("patch: %d %s", patched.Status, patched.Raw)
	}
	rotated := do(t, srv, "admin", "POST", "/v1/admin/webhooks/"+id+"/rotate-secret", "")
	if rotated.Status != 200 || rotated.Body["secret"] == created.Body["secret"] || rotated.Body["previousSecretExpiresAt"] == nil ||
		strings.Count(rotated.Raw, "whsec_") != 1 {
		t.Fatalf("rotate: %d %s", rotated.Status, rotated.Raw)
	}
	leaked := do(t, srv, "admin", "POST", "/v1/admin/webhooks/"+id+"/rotate-secret", `{"keepPreviousSeconds":0}`)
	if leaked.Status != 200 || leaked.Body["previousSecretExpiresAt"] != nil {
		t.Fatalf("rotate keeping nothing: %d %s", leaked.Status, leaked.Raw)
	}

	// A delivery, as the dispatcher records it.
	if err := webhook.NewDispatcher(store, nil, nil).Handle(context.Background(), eventbus.Event{ID: "0193b000-0000-7000-8000-000000000001",
		Type: eventbus.DocumentCreated, Collection: "orders", DocumentID: "o1", Version: 1, Position: 4,
		Payload: json.RawMessage(`{"secretData":1}`)}); err != nil {
		t.Fatal(err)
	}
	// The webhook is disabled: nothing was added. Enable it and try again.
	if page := do(t, srv, "admin", "GET", "/v1/admin/webhooks/"+id+"/deliveries", ""); page.Status != 200 || len(page.Body["items"].([]any)) != 0 {
		t.Fatalf("deliveries of a disabled webhook: %s", page.Raw)
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
	items, _ := page.Body["items"].([]any)
	if page.Status != 200 || len(items) != 2 || page.Body["nextCursor"] == nil || strings.Contains(page.Raw, "secretData") {
		t.Fatalf("deliveries page 1: %d %s", page.Status, page.Raw)
	}
	first := items[0].(map[string]any)
	if first["event"].(map[string]any)["position"] != float64(6) || first["status"] != "pending" || first["lastError"] != nil {
		t.Fatalf("newest delivery: %v", first)
	}
	page2 := do(t, srv, "admin", "GET", "/v1/admin/webhooks/"+id+"/deliveries?limit=2&cursor="+page.Body["nextCursor"].(string), "")
	if items2, _ := page2.Body["items"].([]any); page2.Status != 200 || len(items2) != 1 || page2.Body["nextCursor"] != nil {
		t.Fatalf("deliveries page 2: %d %s", page2.Status, page2.Raw)
	}
	did := first["id"].(string)
	one := do(t, srv, "admin", "GET", "/v1/admin/webhooks/"+id+"/deliveries/"+did, "")
	if one.Status != 200 || one.Body["id"] != did {
		t.Fatalf("get delivery: %d %s", one.Status, one.Raw)
	}
	re := do(t, srv, "admin", "POST", "/v1/admin/webhooks/"+id+"/deliveries/"+did+"/redeliver", "{}")
	if re.Status != 202 || re.Body["status"] != "pending" {
		t.Fatalf("redeliver: %d %s", re.Status, re.Raw)
	}
	if del := do(t, srv, "admin", "DELETE", "/v1/admin/webhooks/"+id, ""); del.Status != 204 {
		t.Fatalf("delete: %d %s", del.Status, del.Raw)
	}
	if gone := do(t, srv, "admin", "GET", "/v1/admin/webhooks/"+id, ""); gone.Status != 404 || gone.Body["code"] != "not_found" {
		t.Fatalf("after delete: %d %s", gone.Status, gone.Raw)
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
		if a.Status != c.status || (c.code != "" && a.Body["code"] != c.code) ||
			!strings.HasPrefix(a.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s %s as %q: %d %s", c.method, c.path, c.bearer, a.Status, a.Raw)
			continue
		}
		if c.pointer != "" && !strings.Contains(a.Raw, `"pointer":"`+c.pointer+`"`) {
			t.Errorf("%s %s %s: no field error at %s: %s", c.method, c.path, c.body, c.pointer, a.Raw)
		}
	}
}

func TestDescribeOpenAPI(t *testing.T) {
	admin := restapitest.Describe(t, auth.Principal{Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}}, webhookapi.DescribeOpenAPI)
	user := restapitest.Describe(t, auth.Principal{Kind: auth.KindUser, ID: "u1"}, webhookapi.DescribeOpenAPI)
	restapitest.CheckDescribed(t, admin, user, webhookapi.RoutePatterns())
}
