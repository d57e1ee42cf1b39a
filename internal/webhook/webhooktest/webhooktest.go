// Package webhooktest is the conformance suite of webhook.Store: every
// storage engine runs it (engine=<name>/contract=webhooks/<case>).
package webhooktest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/webhook"
)

// Run runs the suite; open returns a store on an empty database.
func Run(t *testing.T, engine string, open func(t *testing.T) webhook.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s webhook.Store)
	}{
		{"WebhookRoundTrip", webhookRoundTrip},
		{"WebhookMissing", webhookMissing},
		{"DeliveriesOncePerEvent", deliveriesOncePerEvent},
		{"ClaimDueOnly", claimDueOnly},
		{"LeaseExpires", leaseExpires},
		{"ConcurrentClaims", concurrentClaims},
		{"ListNewestFirst", listNewestFirst},
		{"Redeliver", redeliver},
		{"DeleteCascades", deleteCascades},
		{"PurgeFinished", purgeFinished},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("engine=%s/contract=webhooks/%s", engine, c.name), func(t *testing.T) {
			c.fn(t, open(t))
		})
	}
}

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func newID(t *testing.T) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

func addHook(t *testing.T, s webhook.Store, collection string) webhook.Webhook {
	t.Helper()
	w := webhook.Webhook{ID: newID(t), URL: "https://example.com/hook", Collection: collection,
		Types: []eventbus.Type{eventbus.DocumentCreated, eventbus.DocumentDeleted}, Secret: "whsec_c2VjcmV0",
		Enabled: true, Description: "orders → billing", CreatedAt: t0, UpdatedAt: t0, CreatedBy: "acct-1", After: 41}
	if err := s.InsertWebhook(context.Background(), w); err != nil {
		t.Fatalf("InsertWebhook: %v", err)
	}
	return w
}

func event(t *testing.T, pos int64) eventbus.Event {
	return eventbus.Event{ID: newID(t), Type: eventbus.DocumentCreated, Collection: "orders",
		DocumentID: fmt.Sprintf("doc-%d", pos), Version: 1, Time: t0, Payload: json.RawMessage(`{"id":"x","data":{"n":1}}`),
		Position: pos}
}

func delivery(t *testing.T, w webhook.Webhook, ev eventbus.Event, due time.Time) webhook.Delivery {
	return webhook.Delivery{ID: newID(t), WebhookID: w.ID, EventID: ev.ID, Position: ev.Position, Event: ev,
		Status: webhook.Pending, NextAttemptAt: due, CreatedAt: t0, UpdatedAt: t0}
}

func add(t *testing.T, s webhook.Store, ds ...webhook.Delivery) int {
	t.Helper()
	n, err := s.AddDeliveries(context.Background(), ds)
	if err != nil {
		t.Fatalf("AddDeliveries: %v", err)
	}
	return n
}

func claim(t *testing.T, s webhook.Store, now time.Time, lease time.Duration, limit int) []webhook.Delivery {
	t.Helper()
	ds, err := s.ClaimDeliveries(context.Background(), now, lease, limit)
	if err != nil {
		t.Fatalf("ClaimDeliveries: %v", err)
	}
	return ds
}

func webhookRoundTrip(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	w := addHook(t, s, "orders")
	got, err := s.GetWebhook(ctx, w.ID)
	if err != nil {
		t.Fatalf("GetWebhook: %v", err)
	}
	if fmt.Sprint(got) != fmt.Sprint(w) {
		t.Fatalf("GetWebhook = %+v, want %+v", got, w)
	}
	if err := s.InsertWebhook(ctx, w); !fault.Is(err, fault.Conflict) {
		t.Fatalf("InsertWebhook of an existing id = %v, want conflict", err)
	}
	w2 := addHook(t, s, webhook.AnyCollection)
	w.URL, w.Types, w.Enabled, w.Description, w.Secret = "http://example.org/h", nil, false, "", "whsec_bmV3"
	w.PreviousSecret, w.PreviousUntil = "whsec_c2VjcmV0", t0.Add(24*time.Hour)
	w.UpdatedAt = t0.Add(time.Minute)
	if err := s.UpdateWebhook(ctx, w); err != nil {
		t.Fatalf("UpdateWebhook: %v", err)
	}
	all, err := s.ListWebhooks(ctx)
	if err != nil {
		t.Fatalf("ListWebhooks: %v", err)
	}
	if len(all) != 2 || fmt.Sprint(all[0]) != fmt.Sprint(w) || fmt.Sprint(all[1]) != fmt.Sprint(w2) {
		t.Fatalf("ListWebhooks = %+v, want [%+v %+v]", all, w, w2)
	}
}

func webhookMissing(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	if _, err := s.GetWebhook(ctx, "nope"); !fault.Is(err, fault.NotFound) {
		t.Errorf("GetWebhook = %v, want not_found", err)
	}
	if err := s.UpdateWebhook(ctx, webhook.Webhook{ID: "nope", UpdatedAt: t0}); !fault.Is(err, fault.NotFound) {
		t.Errorf("UpdateWebhook = %v, want not_found", err)
	}
	if err := s.DeleteWebhook(ctx, "nope"); !fault.Is(err, fault.NotFound) {
		t.Errorf("DeleteWebhook = %v, want not_found", err)
	}
	if _, err := s.GetDelivery(ctx, "nope", "nope"); !fault.Is(err, fault.NotFound) {
		t.Errorf("GetDelivery = %v, want not_found", err)
	}
	if _, err := s.RedeliverDelivery(ctx, "nope", "nope", t0); !fault.Is(err, fault.NotFound) {
		t.Errorf("RedeliverDelivery = %v, want not_found", err)
	}
}

func deliveriesOncePerEvent(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	w := addHook(t, s, "orders")
	ev := event(t, 1)
	d := delivery(t, w, ev, t0)
	if n := add(t, s, d); n != 1 {
		t.Fatalf("AddDeliveries = %d, want 1", n)
	}
	// The same event again (a redelivery of the stream), under a new
	// delivery id, and a delivery for a webhook that does not exist.
	again := delivery(t, w, ev, t0)
	orphan := delivery(t, webhook.Webhook{ID: "gone"}, ev, t0)
	if n := add(t, s, again, orphan); n != 0 {
		t.Fatalf("AddDeliveries of a known event and a missing webhook = %d, want 0", n)
	}
	got, err := s.GetDelivery(ctx, w.ID, d.ID)
	if err != nil {
		t.Fatalf("GetDelivery: %v", err)
	}
	if got.EventID != ev.ID || got.Event.ID != ev.ID || string(got.Event.Payload) != string(ev.Payload) ||
		got.Status != webhook.Pending || got.Position != 1 || !got.NextAttemptAt.Equal(t0) {
		t.Fatalf("GetDelivery = %+v", got)
	}
	if _, err := s.GetDelivery(ctx, w.ID, again.ID); !fault.Is(err, fault.NotFound) {
		t.Fatalf("the duplicate delivery was stored: %v", err)
	}
}

func claimDueOnly(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	w := addHook(t, s, "orders")
	due := delivery(t, w, event(t, 1), t0)
	later := delivery(t, w, event(t, 2), t0.Add(time.Hour))
	add(t, s, due, later)
	got := claim(t, s, t0.Add(time.Second), time.Minute, 10)
	if len(got) != 1 || got[0].ID != due.ID || got[0].Status != webhook.Delivering ||
		!got[0].NextAttemptAt.Equal(t0.Add(time.Second+time.Minute)) {
		t.Fatalf("ClaimDeliveries = %+v, want only %s, delivering until +1m1s", got, due.ID)
	}
	if again := claim(t, s, t0.Add(2*time.Second), time.Minute, 10); len(again) != 0 {
		t.Fatalf("a claimed delivery was claimed again within its lease: %+v", again)
	}
	// Finish it: a stale lease changes nothing, the right one does.
	d := got[0]
	d.Status, d.Attempts, d.LastStatusCode, d.LastError = webhook.Pending, 1, 503, "the endpoint answered 503"
	d.NextAttemptAt, d.UpdatedAt = t0.Add(10*time.Second), t0.Add(3*time.Second)
	if ok, err := s.FinishAttempt(ctx, d, t0); err != nil || ok {
		t.Fatalf("FinishAttempt with a stale lease = %v, %v; want false", ok, err)
	}
	if ok, err := s.FinishAttempt(ctx, d, got[0].NextAttemptAt); err != nil || !ok {
		t.Fatalf("FinishAttempt = %v, %v; want true", ok, err)
	}
	stored, err := s.GetDelivery(ctx, w.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != webhook.Pending || stored.Attempts != 1 || stored.LastStatusCode != 503 ||
		stored.LastError != d.LastError || !stored.NextAttemptAt.Equal(d.NextAttemptAt) || !stored.UpdatedAt.Equal(d.UpdatedAt) {
		t.Fatalf("after FinishAttempt: %+v", stored)
	}
	if ok, err := s.FinishAttempt(ctx, d, got[0].NextAttemptAt); err != nil || ok {
		t.Fatalf("FinishAttempt of a delivery no longer delivering = %v, %v; want false", ok, err)
	}
	if got := claim(t, s, t0.Add(9*time.Second), time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed before its retry time: %+v", got)
	}
	if got := claim(t, s, t0.Add(10*time.Second), time.Minute, 10); len(got) != 1 || got[0].ID != d.ID {
		t.Fatalf("not claimed at its retry time: %+v", got)
	}
	// Finished deliveries are never claimed.
	for _, st := range []webhook.Status{webhook.Succeeded, webhook.Failed} {
		x := delivery(t, w, event(t, 3), t0)
		add(t, s, x)
		c := claim(t, s, t0.Add(time.Hour), time.Minute, 10)
		var mine webhook.Delivery
		for _, y := range c {
			if y.ID == x.ID {
				mine = y
			}
		}
		mine.Status, mine.UpdatedAt = st, t0.Add(time.Hour)
		until := mine.NextAttemptAt
		if ok, err := s.FinishAttempt(ctx, mine, until); err != nil || !ok {
			t.Fatalf("FinishAttempt(%s) = %v, %v", st, ok, err)
		}
	}
	if got := claim(t, s, t0.Add(48*time.Hour), time.Minute, 10); len(got) != 2 {
		t.Fatalf("after two deliveries finished: claimed %d, want the 2 left unfinished", len(got))
	}
}

func leaseExpires(t *testing.T, s webhook.Store) {
	w := addHook(t, s, "orders")
	d := delivery(t, w, event(t, 1), t0)
	add(t, s, d)
	first := claim(t, s, t0, 30*time.Second, 1)
	if len(first) != 1 {
		t.Fatalf("claimed %d, want 1", len(first))
	}
	// The worker that claimed it died: after the lease it is due again.
	if got := claim(t, s, t0.Add(29*time.Second), 30*time.Second, 1); len(got) != 0 {
		t.Fatalf("claimed within the lease: %+v", got)
	}
	second := claim(t, s, t0.Add(30*time.Second), 30*time.Second, 1)
	if len(second) != 1 || second[0].ID != d.ID {
		t.Fatalf("not claimed after the lease: %+v", second)
	}
	// The first worker's late report is refused.
	late := first[0]
	late.Status, late.UpdatedAt = webhook.Succeeded, t0.Add(31*time.Second)
	if ok, err := s.FinishAttempt(context.Background(), late, first[0].NextAttemptAt); err != nil || ok {
		t.Fatalf("FinishAttempt after losing the lease = %v, %v; want false", ok, err)
	}
}

func concurrentClaims(t *testing.T, s webhook.Store) {
	w := addHook(t, s, "orders")
	const total = 60
	var ds []webhook.Delivery
	for i := range total {
		ds = append(ds, delivery(t, w, event(t, int64(i+1)), t0))
	}
	add(t, s, ds...)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.ClaimDeliveries(context.Background(), t0.Add(time.Second), time.Hour, 4)
				if err != nil {
					t.Errorf("ClaimDeliveries: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != total {
		t.Fatalf("claimed %d distinct deliveries, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("delivery %s claimed %d times", id, n)
		}
	}
}

func listNewestFirst(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	w, other := addHook(t, s, "orders"), addHook(t, s, "orders")
	var ids []string
	for i := range 5 {
		d := delivery(t, w, event(t, int64(i+1)), t0)
		add(t, s, d, delivery(t, other, d.Event, t0))
		ids = append(ids, d.ID)
	}
	page, err := s.ListDeliveries(ctx, w.ID, "", 3)
	if err != nil {
		t.Fatalf("ListDeliveries: %v", err)
	}
	if len(page) != 3 || page[0].ID != ids[4] || page[1].ID != ids[3] || page[2].ID != ids[2] {
		t.Fatalf("first page = %v, want %v", deliveryIDs(page), []string{ids[4], ids[3], ids[2]})
	}
	page, err = s.ListDeliveries(ctx, w.ID, page[2].ID, 3)
	if err != nil {
		t.Fatalf("ListDeliveries: %v", err)
	}
	if len(page) != 2 || page[0].ID != ids[1] || page[1].ID != ids[0] {
		t.Fatalf("second page = %v, want %v", deliveryIDs(page), []string{ids[1], ids[0]})
	}
	if _, err := s.GetDelivery(ctx, other.ID, ids[0]); !fault.Is(err, fault.NotFound) {
		t.Fatalf("GetDelivery under another webhook = %v, want not_found", err)
	}
}

func deliveryIDs(ds []webhook.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func redeliver(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	w := addHook(t, s, "orders")
	d := delivery(t, w, event(t, 1), t0)
	add(t, s, d)
	c := claim(t, s, t0, time.Minute, 1)[0]
	c.Status, c.Attempts, c.LastStatusCode, c.LastError, c.UpdatedAt = webhook.Failed, 30, 500, "boom", t0.Add(time.Second)
	if ok, err := s.FinishAttempt(ctx, c, c.NextAttemptAt); err != nil || !ok {
		t.Fatalf("FinishAttempt = %v, %v", ok, err)
	}
	at := t0.Add(time.Hour)
	got, err := s.RedeliverDelivery(ctx, w.ID, d.ID, at)
	if err != nil {
		t.Fatalf("RedeliverDelivery: %v", err)
	}
	if got.Status != webhook.Pending || !got.NextAttemptAt.Equal(at) || got.Attempts != 30 || got.LastError != "boom" {
		t.Fatalf("RedeliverDelivery = %+v: want pending, due at %v, the record kept", got, at)
	}
	if c := claim(t, s, at, time.Minute, 1); len(c) != 1 || c[0].ID != d.ID {
		t.Fatalf("a redelivered delivery is not due: %+v", c)
	}
	if _, err := s.RedeliverDelivery(ctx, "other", d.ID, at); !fault.Is(err, fault.NotFound) {
		t.Fatalf("RedeliverDelivery under another webhook = %v, want not_found", err)
	}
}

func purgeFinished(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	w := addHook(t, s, "orders")
	finish := func(st webhook.Status, at time.Time) webhook.Delivery {
		d := delivery(t, w, event(t, 1), t0)
		add(t, s, d)
		var mine webhook.Delivery
		for _, c := range claim(t, s, t0.Add(time.Minute), time.Minute, 10) {
			if c.ID == d.ID {
				mine = c
			}
		}
		until := mine.NextAttemptAt
		mine.Status, mine.UpdatedAt = st, at
		if ok, err := s.FinishAttempt(ctx, mine, until); err != nil || !ok {
			t.Fatalf("FinishAttempt = %v, %v", ok, err)
		}
		return mine
	}
	oldOK, oldFailed := finish(webhook.Succeeded, t0), finish(webhook.Failed, t0.Add(time.Second))
	recent := finish(webhook.Succeeded, t0.Add(time.Hour))
	pending := delivery(t, w, event(t, 2), t0) // unfinished, however old
	add(t, s, pending)
	if n, err := s.PurgeDeliveries(ctx, t0.Add(time.Minute), 1); err != nil || n != 1 {
		t.Fatalf("PurgeDeliveries(limit 1) = %d, %v", n, err)
	}
	if n, err := s.PurgeDeliveries(ctx, t0.Add(time.Minute), 10); err != nil || n != 1 {
		t.Fatalf("PurgeDeliveries = %d, %v; want the second old one", n, err)
	}
	for _, d := range []webhook.Delivery{oldOK, oldFailed} {
		if _, err := s.GetDelivery(ctx, w.ID, d.ID); !fault.Is(err, fault.NotFound) {
			t.Fatalf("an old finished delivery remains: %v", err)
		}
	}
	for _, d := range []webhook.Delivery{recent, pending} {
		if _, err := s.GetDelivery(ctx, w.ID, d.ID); err != nil {
			t.Fatalf("a delivery that must stay is gone: %v", err)
		}
	}
}

func deleteCascades(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	w := addHook(t, s, "orders")
	d := delivery(t, w, event(t, 1), t0)
	add(t, s, d)
	if err := s.DeleteWebhook(ctx, w.ID); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	if _, err := s.GetDelivery(ctx, w.ID, d.ID); !fault.Is(err, fault.NotFound) {
		t.Fatalf("a deleted webhook's delivery remains: %v", err)
	}
	if c := claim(t, s, t0.Add(time.Hour), time.Minute, 10); len(c) != 0 {
		t.Fatalf("claimed a deleted webhook's delivery: %+v", c)
	}
}
