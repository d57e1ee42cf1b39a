package docstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
)

// BenchmarkDeliver decides one document event for 1,000 subscribers of
// one collection stream (one op: the event, every subscriber), as the
// realtime hub does: callers who are not admins, each with their own
// identity, under a collection with hidden fields; with an owner rule
// (one subscriber sees the document) and with an open rule (every
// subscriber receives it, hidden fields removed).
func BenchmarkDeliver(b *testing.B) {
	const subscribers = 1000
	f := newFixtureTB(b)
	admin := as(b, "admin")
	for name, get := range map[string]string{"owner_rule": "owner = @auth.id", "open_rule": ""} {
		if _, err := f.svc.CreateCollection(admin, docstore.CollectionSpec{Name: name, Schema: []byte(notesSchema),
			Rules: docstore.Rules{List: rule(""), Get: rule(get)}, HiddenFields: []string{"secret", "author.email"}}); err != nil {
			b.Fatal(err)
		}
	}
	for _, name := range []string{"owner_rule", "open_rule"} {
		b.Run(fmt.Sprintf("%s/subscribers=%d", name, subscribers), func(b *testing.B) {
			ctxs := make([]context.Context, subscribers)
			ds := make([]*docstore.Delivery, subscribers)
			for i := range ds {
				ctxs[i] = auth.WithPrincipal(b.Context(), auth.Principal{Kind: auth.KindUser, ID: fmt.Sprintf("u%d", i)})
				d, err := f.svc.Subscribe(ctxs[i], docstore.SubscribeRequest{Collection: name})
				if err != nil {
					b.Fatal(err)
				}
				ds[i] = d
			}
			e := docEvent(b, eventbus.DocumentCreated, name, "d1", bodyD1)
			b.ReportAllocs()
			for b.Loop() {
				n := deliverAll(b, ctxs, ds, e)
				if want := map[string]int{"owner_rule": 1, "open_rule": subscribers}[name]; n != want {
					b.Fatalf("delivered to %d subscribers, want %d", n, want)
				}
			}
		})
	}
}

// deliverAll decides e for every subscriber, shared as the hub shares
// it, and returns how many receive it.
func deliverAll(b *testing.B, ctxs []context.Context, ds []*docstore.Delivery, e eventbus.Event) int {
	n := 0
	sh := docstore.NewSharedEvent(e)
	for i, d := range ds {
		dec, err := d.DeliverShared(ctxs[i], sh)
		if err != nil {
			b.Fatal(err)
		}
		if dec.Deliver {
			n++
		}
	}
	return n
}
