package webhook_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/webhook"
)

func newService(t *testing.T) *webhook.Service {
	r := &fakeResolver{}
	r.set("hooks.example", "93.184.216.34")
	r.set("inside.example", "10.0.0.8")
	return webhook.NewService(webhook.ServiceConfig{Store: openStore(t), Catalog: catalog{}, Guard: webhook.NewGuard(nil, r)})
}

func TestServiceRefusesBadWebhooks(t *testing.T) {
	svc := newService(t)
	cases := []struct {
		n    webhook.NewWebhook
		want map[string]string // pointer → part of the message
	}{
		{webhook.NewWebhook{}, map[string]string{"/url": "required", "/collection": "required"}},
		{webhook.NewWebhook{URL: "ftp://hooks.example/", Collection: "orders"}, map[string]string{"/url": "https or http"}},
		{webhook.NewWebhook{URL: "https://inside.example/", Collection: "orders"}, map[string]string{"/url": "10.0.0.8"}},
		{webhook.NewWebhook{URL: "http://169.254.169.254/latest/meta-data", Collection: "orders"}, map[string]string{"/url": "internal"}},
		{webhook.NewWebhook{URL: "https://hooks.example/" + strings.Repeat("a", webhook.MaxURLBytes), Collection: "orders"},
			map[string]string{"/url": "longer"}},
		{webhook.NewWebhook{URL: "https://hooks.example/", Collection: "missing"}, map[string]string{"/collection": "no collection"}},
		{webhook.NewWebhook{URL: "https://hooks.example/", Collection: "Bad Name"}, map[string]string{"/collection": "not a valid"}},
		{webhook.NewWebhook{URL: "https://hooks.example/", Collection: "orders", Types: []string{"document.created", "document.exploded", "document.created"}},
			map[string]string{"/types/1": "not an event type", "/types/2": "twice"}},
		{webhook.NewWebhook{URL: "https://hooks.example/", Collection: "*", Description: strings.Repeat("x", webhook.MaxDescriptionBytes+1)},
			map[string]string{"/description": "longer"}},
	}
	for _, c := range cases {
		_, err := svc.Create(admin(), c.n)
		if !fault.Is(err, fault.Invalid) {
			t.Errorf("Create(%+v) = %v, want invalid", c.n, err)
			continue
		}
		got := map[string]string{}
		for _, f := range fault.FieldsOf(err) {
			got[f.Pointer] = f.Message
		}
		if len(got) != len(c.want) {
			t.Errorf("Create(%+v): fields %v, want %v", c.n, got, c.want)
		}
		for p, part := range c.want {
			if !strings.Contains(got[p], part) {
				t.Errorf("Create(%+v): %s = %q, want it to mention %q", c.n, p, got[p], part)
			}
		}
	}
}

func TestServiceLifecycle(t *testing.T) {
	svc := newService(t)
	ctx := admin()
	w, err := svc.Create(ctx, webhook.NewWebhook{URL: "https://hooks.example/in", Collection: "orders",
		Types: []string{"document.created"}, Description: "billing"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.Secret, "whsec_") || !w.Enabled || w.CreatedBy != "admin-1" || len(w.Types) != 1 {
		t.Fatalf("Create = %+v", w)
	}
	got, err := svc.Get(ctx, w.ID)
	if err != nil || got.Secret != "" || got.URL != w.URL {
		t.Fatalf("Get = %+v, %v (no secret expected)", got, err)
	}
	list, err := svc.List(ctx)
	if err != nil || len(list) != 1 || list[0].Secret != "" {
		t.Fatalf("List = %+v, %v", list, err)
	}
	off, url, types := false, "https://hooks.example/v2", []string{}
	up, err := svc.Update(ctx, w.ID, webhook.Update{Enabled: &off, URL: &url, Types: &types})
	if err != nil || up.Enabled || up.URL != url || len(up.Types) != 0 || up.Secret != "" || up.Description != "billing" {
		t.Fatalf("Update = %+v, %v", up, err)
	}
	bad := "https://inside.example/"
	if _, err := svc.Update(ctx, w.ID, webhook.Update{URL: &bad}); !fault.Is(err, fault.Invalid) {
		t.Fatalf("Update to an internal URL = %v", err)
	}
	rot, err := svc.RotateSecret(ctx, w.ID, webhook.DefaultKeepPrevious)
	if err != nil || rot.Secret == w.Secret || !strings.HasPrefix(rot.Secret, "whsec_") || rot.PreviousSecret != "" ||
		rot.PreviousUntil.IsZero() {
		t.Fatalf("RotateSecret = %+v, %v", rot, err)
	}
	if got, _ := svc.Get(ctx, w.ID); got.Secret != "" || got.PreviousSecret != "" || !got.PreviousUntil.Equal(rot.PreviousUntil) {
		t.Fatalf("Get after a rotation = %+v", got)
	}
	again, err := svc.RotateSecret(ctx, w.ID, 0) // a leaked secret: nothing kept
	if err != nil || !again.PreviousUntil.IsZero() {
		t.Fatalf("RotateSecret keeping nothing = %+v, %v", again, err)
	}
	if _, err := svc.RotateSecret(ctx, w.ID, webhook.MaxKeepPrevious+time.Second); !fault.Is(err, fault.Invalid) {
		t.Fatalf("RotateSecret keeping too long = %v", err)
	}
	if _, _, err := svc.ListDeliveries(ctx, w.ID, "not-a-cursor", 10); !fault.Is(err, fault.Invalid) {
		t.Fatalf("ListDeliveries with a bad cursor = %v", err)
	}
	if _, _, err := svc.ListDeliveries(ctx, w.ID, "", webhook.MaxPageSize+1); !fault.Is(err, fault.Invalid) {
		t.Fatalf("ListDeliveries with a big limit = %v", err)
	}
	if err := svc.Delete(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(ctx, w.ID); !fault.Is(err, fault.NotFound) {
		t.Fatalf("Get after Delete = %v", err)
	}
	if _, _, err := svc.ListDeliveries(ctx, w.ID, "", 10); !fault.Is(err, fault.NotFound) {
		t.Fatalf("ListDeliveries of a deleted webhook = %v", err)
	}
}

func TestServiceNeedsTheWebhooksScope(t *testing.T) {
	svc := newService(t)
	cases := []struct {
		p    auth.Principal
		want fault.Kind
	}{
		{auth.Anonymous(), fault.Unauthenticated},
		{auth.Principal{Kind: auth.KindUser, ID: "u1"}, fault.Forbidden},
		{auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Roles: []string{auth.RoleAdmin}, Scopes: []string{"*:*", auth.ScopeAdminEvents}}, fault.Forbidden},
	}
	for _, c := range cases {
		ctx := auth.WithPrincipal(context.Background(), c.p)
		calls := map[string]error{}
		_, calls["Create"] = svc.Create(ctx, webhook.NewWebhook{URL: "https://hooks.example/", Collection: "orders"})
		_, calls["List"] = svc.List(ctx)
		_, calls["Get"] = svc.Get(ctx, "x")
		_, calls["Update"] = svc.Update(ctx, "x", webhook.Update{})
		_, calls["RotateSecret"] = svc.RotateSecret(ctx, "x", 0)
		calls["Delete"] = svc.Delete(ctx, "x")
		_, _, calls["ListDeliveries"] = svc.ListDeliveries(ctx, "x", "", 0)
		_, calls["GetDelivery"] = svc.GetDelivery(ctx, "x", "y")
		_, calls["Redeliver"] = svc.Redeliver(ctx, "x", "y")
		for name, err := range calls {
			if !fault.Is(err, c.want) {
				t.Errorf("%s as %+v = %v, want %s", name, c.p, err, c.want)
			}
		}
	}
	key := auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindAPIKey, ID: "k2",
		Roles: []string{auth.RoleAdmin}, Scopes: []string{auth.ScopeAdminWebhooks}})
	if _, err := svc.List(key); err != nil {
		t.Fatalf("List with the admin:webhooks scope = %v", err)
	}
}

// positions is an event log whose newest position is fixed.
type positions int64

func (p positions) LogBounds(context.Context) (int64, int64, error) { return 0, int64(p), nil }

// A webhook receives the events after its registration only, even when
// the stream hands it older ones (a consumer that lags, or starts anew).
func TestWebhookStartsAfterItsRegistration(t *testing.T) {
	store := openStore(t)
	svc := webhook.NewService(webhook.ServiceConfig{Store: store, Catalog: catalog{}, Guard: webhook.NewGuard(loopback(t), nil),
		Log: positions(10)})
	w, err := svc.Create(admin(), webhook.NewWebhook{URL: "http://127.0.0.1:9/", Collection: "orders"})
	if err != nil || w.After != 10 {
		t.Fatalf("Create = %+v, %v; want After 10", w, err)
	}
	disp := webhook.NewDispatcher(store, nil, nil)
	old, next := newEvent(t, eventbus.DocumentCreated, "orders", 10), newEvent(t, eventbus.DocumentCreated, "orders", 11)
	if err := disp.HandleBatch(context.Background(), []eventbus.Event{old, next}); err != nil {
		t.Fatal(err)
	}
	ds, _, err := svc.ListDeliveries(admin(), w.ID, "", 10)
	if err != nil || len(ds) != 1 || ds[0].EventID != next.ID {
		t.Fatalf("deliveries = %+v, %v; want only the event at position 11", ds, err)
	}
}
