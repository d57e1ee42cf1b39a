package webhook_test

import (
	"context"
	"testing"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/webhook"
)

// Internal events (search.vectors) are never delivered, not even to a
// webhook of every type and collection; the dispatcher gets none from its
// consumer, and refuses them all the same.
func TestInternalEventsNeverDelivered(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	rcv := newReceiver(t, 200)
	all := f.create(t, webhook.NewWebhook{URL: rcv.srv.URL, Collection: webhook.AnyCollection})
	internal := newEvent(t, eventbus.SearchVectors, "orders", 1)
	public := newEvent(t, eventbus.DocumentCreated, "orders", 2)
	if err := f.disp.HandleBatch(context.Background(), []eventbus.Event{internal, public}); err != nil {
		t.Fatal(err)
	}
	d := f.waitDelivery(t, all.ID, finished)
	if d.EventID != public.ID {
		t.Fatalf("delivered %+v, want only the public event", d)
	}
	if (webhook.Webhook{Enabled: true, Collection: webhook.AnyCollection}).Matches(internal) {
		t.Error("a webhook of every type matches an internal event")
	}
}
