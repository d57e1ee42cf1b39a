package docstore_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
)

func TestOutboundEvent(t *testing.T) {
	onEngines(t, func(t *testing.T, f *accessFixture) {
		f.createNotes(t, "notes", docstore.Rules{List: rule(""), Get: rule("owner = @auth.id")})
		ctx := context.Background() // no caller: outbound events are decided for no one in particular
		got, ok, err := f.svc.OutboundEvent(ctx, docEvent(t, eventbus.DocumentCreated, "notes", "d1", bodyD1))
		if err != nil || !ok {
			t.Fatalf("OutboundEvent = %v, %v", ok, err)
		}
		var doc docstore.Document
		if err := json.Unmarshal(got.Payload, &doc); err != nil {
			t.Fatal(err)
		}
		if want := `{"author":{"name":"Ann"},"owner":"u1","title":"one"}`; string(doc.Data) != want {
			t.Fatalf("payload data = %s, want %s (hidden fields removed)", doc.Data, want)
		}
		if doc.ID != "d1" || doc.Version != 1 || got.ID != "e-d1" {
			t.Fatalf("system fields lost: %+v %+v", doc, got)
		}
		del := docEvent(t, eventbus.DocumentDeleted, "notes", "d1", "")
		if got, ok, err := f.svc.OutboundEvent(ctx, del); err != nil || !ok || string(got.Payload) != string(del.Payload) {
			t.Fatalf("delete: %s, %v, %v", got.Payload, ok, err)
		}
		if _, ok, err := f.svc.OutboundEvent(ctx, docEvent(t, eventbus.DocumentCreated, "gone", "d1", bodyD1)); err != nil || ok {
			t.Fatalf("event of a missing collection = %v, %v; want not ok", ok, err)
		}
	})
}
