package eventsapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway/eventsapi"
	"github.com/basaltdev/basalt/internal/gateway/restapi/restapitest"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// server serves the routes over a SQLite database with three events, a
// cursor and three dead letters: bearer "admin" is an admin, "user" a
// user, "key" an admin's API key without admin:events.
func server(t *testing.T) (*httptest.Server, *sqlite.Store, []int64) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	var evs []eventbus.Event
	err = store.Write(ctx, func(tx docstore.Tx) error {
		for i := range 3 {
			e := eventbus.Event{ID: fmt.Sprintf("ev-%d", i), Type: eventbus.DocumentCreated, Collection: "orders",
				DocumentID: fmt.Sprintf("o%d", i), Version: 1, Time: time.Date(2026, 12, 1, 12, 0, i, 0, time.UTC),
				Payload: json.RawMessage(`{"secret":"not for this area"}`)}
			evs = append(evs, e)
			if err := tx.AppendOutbox(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SetCursor(ctx, "search", 1); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i, c := range []string{"search", "webhooks", "webhooks"} {
		evs[i].Position = int64(i + 1)
		id, err := store.AddDeadLetter(ctx, consumer.DeadLetter{Consumer: c, Event: evs[i], Error: "boom", Attempts: 8})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	admin, err := consumer.NewAdmin(consumer.AdminConfig{Log: store, Cursors: store, DeadLetters: store})
	if err != nil {
		t.Fatal(err)
	}
	authn := restapitest.Authenticator(map[string]auth.Principal{
		"key": {Kind: auth.KindAPIKey, ID: "k1", Roles: []string{auth.RoleAdmin}, Scopes: []string{auth.ScopeAdminWebhooks}},
	})
	mux := http.NewServeMux()
	eventsapi.New(admin, authn, nil).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, store, ids
}

type answer = restapitest.Answer

func do(t *testing.T, srv *httptest.Server, bearer, method, path, body string) answer {
	t.Helper()
	return restapitest.Do(t, srv, bearer, method, path, body)
}

// conforms checks a JSON answer against a schema of the OpenAPI document.
func conforms(t *testing.T, doc *openapi3.T, schema string, a answer) {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(a.Raw), &v); err != nil {
		t.Fatalf("answer is not JSON: %s", a.Raw)
	}
	if err := doc.Components.Schemas[schema].Value.VisitJSON(v); err != nil {
		t.Errorf("answer does not match schema %s: %v\n%s", schema, err, a.Raw)
	}
}

func TestRoutes(t *testing.T) {
	srv, store, ids := server(t)
	doc := describe(t, auth.Principal{Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}})

	list := do(t, srv, "admin", "GET", "/v1/admin/consumers", "")
	want := `{"items":[{"name":"search","position":1,"lag":2,"deadLetters":1},` +
		`{"name":"webhooks","position":null,"lag":3,"deadLetters":2}],` +
		`"log":{"events":3,"bytes":BYTES,"newest":3,"trimmed":0}}`
	bytes := fmt.Sprint(list.Body["log"].(map[string]any)["bytes"])
	if list.Status != 200 || list.Raw != strings.Replace(want, "BYTES", bytes, 1)+"\n" || bytes == "0" {
		t.Errorf("GET consumers = %d %s, want %s", list.Status, list.Raw, want)
	}
	if list.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", list.Header.Get("Cache-Control"))
	}
	conforms(t, doc, "ConsumerList", list)

	// Pages by id; the event is shown without its payload.
	page := do(t, srv, "admin", "GET", "/v1/admin/dead-letters?limit=2", "")
	if page.Status != 200 || len(page.Body["items"].([]any)) != 2 || page.Body["nextCursor"] != fmt.Sprint(ids[1]) {
		t.Fatalf("first page = %d %s", page.Status, page.Raw)
	}
	if strings.Contains(page.Raw, "payload") || strings.Contains(page.Raw, "not for this area") {
		t.Errorf("a dead letter shows the event's payload: %s", page.Raw)
	}
	conforms(t, doc, "DeadLetterPage", page)
	last := do(t, srv, "admin", "GET", "/v1/admin/dead-letters?limit=2&after="+page.Body["nextCursor"].(string), "")
	if last.Status != 200 || len(last.Body["items"].([]any)) != 1 || last.Body["nextCursor"] != nil {
		t.Fatalf("last page = %d %s", last.Status, last.Raw)
	}
	one := last.Body["items"].([]any)[0].(map[string]any)
	if one["id"] != float64(ids[2]) || one["consumer"] != "webhooks" || one["attempts"] != float64(8) || one["error"] != "boom" {
		t.Errorf("dead letter = %v", one)
	}
	if ev := one["event"].(map[string]any); ev["id"] != "ev-2" || ev["position"] != float64(3) || ev["documentId"] != "o2" {
		t.Errorf("dead letter's event = %v", ev)
	}
	search := do(t, srv, "admin", "GET", "/v1/admin/dead-letters?consumer=search", "")
	if search.Status != 200 || len(search.Body["items"].([]any)) != 1 || search.Body["nextCursor"] != nil {
		t.Errorf("search's dead letters = %d %s", search.Status, search.Raw)
	}

	path := fmt.Sprintf("/v1/admin/dead-letters/%d", ids[0])
	got := do(t, srv, "admin", "GET", path, "")
	if got.Status != 200 || got.Body["retry"] != false {
		t.Errorf("GET dead letter = %d %s", got.Status, got.Raw)
	}
	conforms(t, doc, "DeadLetter", got)
	retried := do(t, srv, "admin", "POST", path+"/retry", "")
	if retried.Status != 202 || retried.Body["retry"] != true {
		t.Errorf("retry = %d %s", retried.Status, retried.Raw)
	}
	conforms(t, doc, "DeadLetter", retried)
	if d, _ := store.GetDeadLetter(context.Background(), ids[0]); !d.Retry {
		t.Error("retry was not stored")
	}
	if a := do(t, srv, "admin", "POST", path+"/retry", "{}"); a.Status != 202 {
		t.Errorf("retry with {} = %d %s", a.Status, a.Raw)
	}
	if a := do(t, srv, "admin", "DELETE", path, ""); a.Status != 204 || a.Raw != "" {
		t.Errorf("DELETE = %d %s", a.Status, a.Raw)
	}
	if _, err := store.GetDeadLetter(context.Background(), ids[0]); !fault.Is(err, fault.NotFound) {
		t.Errorf("after DELETE: %v", err)
	}
	for _, c := range []struct{ method, path string }{{"GET", path}, {"DELETE", path}, {"POST", path + "/retry"}} {
		if a := do(t, srv, "admin", c.method, c.path, ""); a.Status != 404 || a.Body["code"] != "not_found" {
			t.Errorf("%s %s of a deleted dead letter = %d %s", c.method, c.path, a.Status, a.Raw)
		}
	}
}

func TestRoutesRefuse(t *testing.T) {
	srv, store, ids := server(t)
	one := fmt.Sprintf("/v1/admin/dead-letters/%d", ids[1])
	for _, c := range []struct {
		bearer, method, path, body string
		status                     int
		code                       string
	}{
		{"", "GET", "/v1/admin/consumers", "", 401, "unauthenticated"},
		{"user", "GET", "/v1/admin/consumers", "", 403, "forbidden"},
		{"key", "GET", "/v1/admin/dead-letters", "", 403, "forbidden"},
		{"user", "POST", one + "/retry", "", 403, "forbidden"},
		{"key", "DELETE", one, "", 403, "forbidden"},
		{"admin", "GET", "/v1/admin/consumers?x=1", "", 400, "invalid"},
		{"admin", "GET", "/v1/admin/dead-letters?limit=0", "", 400, "invalid"},
		{"admin", "GET", "/v1/admin/dead-letters?limit=501", "", 400, "invalid"},
		{"admin", "GET", "/v1/admin/dead-letters?after=-1", "", 400, "invalid"},
		{"admin", "GET", "/v1/admin/dead-letters?after=x", "", 400, "invalid"},
		{"admin", "GET", "/v1/admin/dead-letters?consumer=Not+A+Name", "", 400, "invalid"},
		{"admin", "POST", one + "/retry", `{"now":true}`, 400, "invalid"},
		{"admin", "POST", one + "/retry", `[`, 400, "invalid"},
		{"admin", "GET", "/v1/admin/dead-letters/abc", "", 404, "not_found"},
		{"admin", "DELETE", "/v1/admin/dead-letters/0", "", 404, "not_found"},
		{"admin", "PUT", one, "", 405, ""},
		{"admin", "POST", "/v1/admin/consumers", "", 405, ""},
	} {
		a := do(t, srv, c.bearer, c.method, c.path, c.body)
		if a.Status != c.status || (c.code != "" && a.Body["code"] != c.code) ||
			!strings.HasPrefix(a.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s %s %s (%s) = %d %s %s, want %d %s", c.method, c.path, c.body, c.bearer, a.Status,
				a.Header.Get("Content-Type"), a.Raw, c.status, c.code)
		}
	}
	// Nothing changed.
	d, err := store.GetDeadLetter(context.Background(), ids[1])
	if err != nil || d.Retry {
		t.Errorf("the dead letter changed after refusals: %+v %v", d, err)
	}
}

func describe(t *testing.T, p auth.Principal) *openapi3.T {
	t.Helper()
	return restapitest.Describe(t, p, eventsapi.DescribeOpenAPI)
}

func TestDescribeOpenAPI(t *testing.T) {
	admin := describe(t, auth.Principal{Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}})
	user := describe(t, auth.Principal{Kind: auth.KindUser, ID: "u1"})
	restapitest.CheckDescribed(t, admin, user, eventsapi.RoutePatterns())
}
