package docstore_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// docEvent is the event of a write of document id with body, as
// docstore records it.
func docEvent(t testing.TB, typ eventbus.Type, collection, id, body string) eventbus.Event {
	t.Helper()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if typ == eventbus.DocumentDeleted {
		p, _ := json.Marshal(map[string]any{"id": id, "collection": collection, "version": 2})
		return eventbus.Event{ID: "e-" + id, Type: typ, Collection: collection, DocumentID: id, Version: 2, Time: now, Payload: p}
	}
	p, err := json.Marshal(docstore.Document{Collection: collection, ID: id, Version: 1, CreatedAt: now, UpdatedAt: now,
		Data: json.RawMessage(body)})
	if err != nil {
		t.Fatal(err)
	}
	return eventbus.Event{ID: "e-" + id, Type: typ, Collection: collection, DocumentID: id, Version: 1, Time: now, Payload: p}
}

const (
	bodyD1 = `{"author":{"email":"ann@example.com","name":"Ann"},"owner":"u1","secret":"open","title":"one"}`
	bodyD2 = `{"owner":"u2","secret":"closed","title":"two"}`
)

// delivered runs events through d as who and returns what was delivered,
// as "type id data" lines (data without the system fields).
func delivered(ctx context.Context, t *testing.T, d *docstore.Delivery, evs ...eventbus.Event) []string {
	t.Helper()
	var out []string
	for _, e := range evs {
		dec, err := d.Deliver(ctx, e)
		if err != nil {
			t.Fatalf("Deliver %s %s: %v", e.Type, e.DocumentID, err)
		}
		if !dec.Deliver {
			continue
		}
		line := string(e.Type) + " " + e.DocumentID
		if e.Type != eventbus.DocumentDeleted && !e.Type.IsCollection() {
			var doc docstore.Document
			if err := json.Unmarshal(dec.Event.Payload, &doc); err != nil {
				t.Fatal(err)
			}
			line += " " + string(doc.Data)
		}
		out = append(out, line)
	}
	return out
}

func TestDeliveryDecisions(t *testing.T) {
	onEngines(t, func(t *testing.T, f *accessFixture) {
		f.createNotes(t, "notes", docstore.Rules{List: rule(""), Get: rule("owner = @auth.id")})
		f.seedNotes(t, "notes")
		f.createNotes(t, "open", docstore.Rules{List: rule(""), Get: rule("")})
		f.seedNotes(t, "open")
		c1 := docEvent(t, eventbus.DocumentCreated, "notes", "d1", bodyD1)
		c2 := docEvent(t, eventbus.DocumentCreated, "notes", "d2", bodyD2)
		del1 := docEvent(t, eventbus.DocumentDeleted, "notes", "d1", "")
		del2 := docEvent(t, eventbus.DocumentDeleted, "notes", "d2", "")
		elsewhere := docEvent(t, eventbus.DocumentCreated, "open", "d1", bodyD1)
		stripped1 := `{"author":{"name":"Ann"},"owner":"u1","title":"one"}`
		cases := []struct {
			name, who  string
			req        docstore.SubscribeRequest
			events     []eventbus.Event
			want       []string
			subscribeK fault.Kind // refused at subscribe time
		}{
			{name: "rule admits its own document, hidden fields removed", who: "owner",
				req: docstore.SubscribeRequest{Collection: "notes"}, events: []eventbus.Event{c1, c2, elsewhere},
				want: []string{"document.created d1 " + stripped1}},
			{name: "admin sees every document whole", who: "admin",
				req: docstore.SubscribeRequest{Collection: "notes"}, events: []eventbus.Event{c1, c2},
				want: []string{"document.created d1 " + bodyD1, "document.created d2 " + bodyD2}},
			{name: "rule refuses another caller", who: "other",
				req: docstore.SubscribeRequest{Collection: "notes"}, events: []eventbus.Event{c1},
				want: nil},
			{name: "delete delivered after the document was shown, not otherwise", who: "owner",
				req: docstore.SubscribeRequest{Collection: "notes"}, events: []eventbus.Event{c1, del1, del2},
				want: []string{"document.created d1 " + stripped1, "document.deleted d1"}},
			{name: "delete of a document never shown is not delivered", who: "owner",
				req: docstore.SubscribeRequest{Collection: "notes"}, events: []eventbus.Event{del1}, want: nil},
			{name: "open rule: deletes delivered to everyone", who: "",
				req:    docstore.SubscribeRequest{Collection: "open"},
				events: []eventbus.Event{docEvent(t, eventbus.DocumentDeleted, "open", "d9", "")},
				want:   []string{"document.deleted d9"}},
			{name: "admin gets every delete", who: "admin",
				req: docstore.SubscribeRequest{Collection: "notes"}, events: []eventbus.Event{del2},
				want: []string{"document.deleted d2"}},
			{name: "filter", who: "admin",
				req: docstore.SubscribeRequest{Collection: "notes", Filter: `title = "two"`}, events: []eventbus.Event{c1, c2},
				want: []string{"document.created d2 " + bodyD2}},
			{name: "filter on a hidden field is an unknown field to a caller who is not an admin", who: "owner",
				req: docstore.SubscribeRequest{Collection: "notes", Filter: `secret = "open"`}, subscribeK: fault.Invalid},
			{name: "filter on a hidden field for an admin", who: "admin",
				req: docstore.SubscribeRequest{Collection: "notes", Filter: `secret = "open"`}, events: []eventbus.Event{c1, c2},
				want: []string{"document.created d1 " + bodyD1}},
			{name: "malformed filter", who: "admin",
				req: docstore.SubscribeRequest{Collection: "notes", Filter: `title = `}, subscribeK: fault.Invalid},
			{name: "API key with scopes on the collection", who: "key",
				req: docstore.SubscribeRequest{Collection: "open"}, events: []eventbus.Event{elsewhere},
				want: []string{"document.created d1 " + stripped1}},
			{name: "a get rule that can never hold refuses the stream", who: "",
				req: docstore.SubscribeRequest{Collection: "notes"}, subscribeK: fault.Unauthenticated},
			{name: "API key without scopes on the collection", who: "keyOut",
				req: docstore.SubscribeRequest{Collection: "open"}, subscribeK: fault.Forbidden},
			{name: "document stream: a document the rule hides is not found", who: "owner",
				req: docstore.SubscribeRequest{Collection: "notes", DocumentID: "d2"}, subscribeK: fault.NotFound},
			{name: "document stream: only that document", who: "owner",
				req: docstore.SubscribeRequest{Collection: "notes", DocumentID: "d1"}, events: []eventbus.Event{c2, c1, del2, del1},
				want: []string{"document.created d1 " + stripped1, "document.deleted d1"}},
			{name: "missing collection", who: "admin",
				req: docstore.SubscribeRequest{Collection: "nope"}, subscribeK: fault.NotFound},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ctx := as(t, tc.who)
				d, err := f.svc.Subscribe(ctx, tc.req)
				if tc.subscribeK != "" {
					if fault.KindOf(err) != tc.subscribeK {
						t.Fatalf("Subscribe: %v, want kind %s", err, tc.subscribeK)
					}
					return
				}
				if err != nil {
					t.Fatalf("Subscribe: %v", err)
				}
				got := delivered(ctx, t, d, tc.events...)
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Errorf("delivered:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
			})
		}
	})
}

// TestDeliveryFollowsRuleChanges changes a collection's rules, through
// another process, while a subscription is open: the events after the
// collection.replaced event are decided under the new rules, although this
// process cached the old definition (and trusts its cache for an hour).
func TestDeliveryFollowsRuleChanges(t *testing.T) {
	onEngines(t, func(t *testing.T, f *accessFixture) {
		f.createNotes(t, "notes", docstore.Rules{List: rule(""), Get: rule("owner = @auth.id")})
		f.seedNotes(t, "notes")
		owner, admin := as(t, "owner"), as(t, "admin")
		here, err := docstore.NewService(f.store, docstore.Options{CursorKey: []byte(strings.Repeat("k", 32)), DefinitionTTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		d, err := here.Subscribe(owner, docstore.SubscribeRequest{Collection: "notes"})
		if err != nil {
			t.Fatal(err)
		}
		adm, err := here.Subscribe(admin, docstore.SubscribeRequest{Collection: "notes"})
		if err != nil {
			t.Fatal(err)
		}
		c1 := docEvent(t, eventbus.DocumentCreated, "notes", "d1", bodyD1)
		if got := delivered(owner, t, d, c1); len(got) != 1 {
			t.Fatalf("before the change: %v", got)
		}
		// A read caches the definition in this process.
		if _, err := here.GetDocument(owner, "notes", "d1"); err != nil {
			t.Fatal(err)
		}
		replaced := changeRules(admin, t, f, docstore.Rules{List: rule(""), Get: rule(`owner = "nobody"`)})
		if got := delivered(owner, t, d, replaced); len(got) != 0 {
			t.Errorf("a caller who may not view definitions got %v", got)
		}
		if got := delivered(admin, t, adm, replaced); len(got) != 1 {
			t.Errorf("the admin got %v, want the collection.replaced event", got)
		}
		if got := delivered(owner, t, d, c1, docEvent(t, eventbus.DocumentDeleted, "notes", "d1", "")); len(got) != 0 {
			t.Errorf("after the rule change the owner got %v", got)
		}
		// A list rule that now refuses the caller ends the stream.
		replaced = changeRules(admin, t, f, docstore.Rules{List: nil, Get: rule("")})
		dec, err := d.Deliver(owner, replaced)
		if err != nil || dec.End != docstore.EndRefused || dec.Deliver {
			t.Errorf("after the list rule closed: %+v, %v; want the stream refused", dec, err)
		}
		// A deleted collection ends every stream; only viewers see the definition.
		if err := f.svc.DeleteCollection(admin, "notes", nil); err != nil {
			t.Fatal(err)
		}
		gone := eventbus.Event{ID: "e-gone", Type: eventbus.CollectionDeleted, Collection: "notes", Version: 4,
			Payload: json.RawMessage(`{"name":"notes","schema":{}}`)}
		dec, err = adm.Deliver(admin, gone)
		if err != nil || !dec.Deliver || dec.End != docstore.EndDeleted || string(dec.Event.Payload) != string(gone.Payload) {
			t.Errorf("admin, collection deleted: %+v, %v", dec, err)
		}
		other, err := here.Subscribe(owner, docstore.SubscribeRequest{Collection: "open"})
		if fault.KindOf(err) != fault.NotFound || other != nil {
			t.Fatalf("subscribe to a missing collection: %v", err)
		}
		dec, err = d.Deliver(owner, gone)
		if err != nil || !dec.Deliver || dec.End != docstore.EndDeleted || string(dec.Event.Payload) != `{"collection":"notes"}` {
			t.Errorf("owner, collection deleted: %+v (%s), %v", dec, dec.Event.Payload, err)
		}
	})
}

// changeRules replaces the rules of notes and returns the
// collection.replaced event of the change.
func changeRules(admin context.Context, t *testing.T, f *accessFixture, rules docstore.Rules) eventbus.Event {
	t.Helper()
	c, err := f.svc.ReplaceCollection(admin, "notes", docstore.CollectionSpec{Name: "notes", Schema: json.RawMessage(notesSchema),
		Rules: rules, HiddenFields: []string{"secret", "author.email"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return eventbus.Event{ID: "e-rules", Type: eventbus.CollectionReplaced, Collection: "notes", Version: c.Version, Payload: p}
}
