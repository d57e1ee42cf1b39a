package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/app"
)

// received is one request a webhook receiver got.
type received struct {
	header http.Header
	body   []byte
}

// TestWebhookDelivery registers a webhook through the API and checks that
// a document write reaches the endpoint, signed, without the collection's
// hidden fields, once, and that the delivery is recorded — on both
// engines, through the whole server (event log, bus, consumer, worker).
func TestWebhookDelivery(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		got := make(chan received, 16)
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			got <- received{header: r.Header.Clone(), body: body}
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(rcv.Close)
		c, _, logs := serveApp(t, engine, true, func(cfg *app.Config) {
			cfg.Webhooks.AllowNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		})
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("server logs:\n%s", logs.String())
			}
		})
		admin := c.as(c.login(adminEmail, adminPassword).AccessToken)
		admin.must(201, "POST", "/v1/collections", `{"name":"orders","schema":{"type":"object",
			"properties":{"total":{"type":"number"},"card":{"type":"string"}}},"hiddenFields":["card"]}`)
		hook := admin.must(201, "POST", "/v1/admin/webhooks",
			`{"url":"`+rcv.URL+`/in","collection":"orders","types":["document.created"]}`).JSON(t)
		secret, id := hook["secret"].(string), hook["id"].(string)

		admin.must(201, "POST", "/v1/collections/orders/documents?id=o1", `{"total":12,"card":"4111"}`)
		admin.must(200, "PATCH", "/v1/collections/orders/documents/o1", `{"total":13}`,
			"Content-Type", "application/merge-patch+json") // another type: not delivered

		var r received
		select {
		case r = <-got:
		case <-time.After(20 * time.Second):
			t.Fatal("no delivery within 20 s")
		}
		var ev struct {
			ID, Type, Collection, DocumentID string
			Payload                          struct{ Data map[string]any }
		}
		if err := json.Unmarshal(r.body, &ev); err != nil {
			t.Fatalf("body %s: %v", r.body, err)
		}
		if ev.Type != "document.created" || ev.Collection != "orders" || ev.DocumentID != "o1" ||
			ev.Payload.Data["total"] != float64(12) || ev.Payload.Data["card"] != nil {
			t.Fatalf("delivered %s (want the created event without the hidden card)", r.body)
		}
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(r.header.Get("webhook-id") + "." + r.header.Get("webhook-timestamp") + "."))
		mac.Write(r.body)
		if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); r.header.Get("webhook-signature") != want ||
			r.header.Get("webhook-id") != ev.ID {
			t.Fatalf("headers %v, want signature %s", r.header, want)
		}

		// The delivery is recorded as succeeded (the record is written
		// just after the answer).
		deadline := time.Now().Add(10 * time.Second)
		for {
			page := admin.must(200, "GET", "/v1/admin/webhooks/"+id+"/deliveries", "").JSON(t)
			items := page["items"].([]any)
			if len(items) != 1 {
				t.Fatalf("deliveries: %v", page)
			}
			d := items[0].(map[string]any)
			if d["status"] == "succeeded" {
				if d["attempts"] != float64(1) || d["lastStatusCode"] != float64(204) || d["eventId"] != ev.ID {
					t.Fatalf("delivery %v", d)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("delivery not recorded as succeeded: %v", d)
			}
			select {
			case extra := <-got:
				t.Fatalf("a second request: %s", extra.body)
			case <-time.After(20 * time.Millisecond):
			}
		}
		select {
		case extra := <-got:
			t.Fatalf("a second request: %s", extra.body)
		default:
		}
	})
}
