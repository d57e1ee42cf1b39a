package realtime

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
)

// writeInternal appends a search.vectors event of document id to the log.
func (f *fixture) writeInternal(id string) {
	f.t.Helper()
	err := f.store.Write(f.t.Context(), func(tx docstore.Tx) error {
		return tx.AppendOutbox(f.t.Context(), eventbus.Event{ID: uuid.Must(uuid.NewV7()).String(), Type: eventbus.SearchVectors,
			Collection: "posts", DocumentID: id, Version: 1, Time: time.Now(),
			Payload: json.RawMessage(`{"field":"embedding","vector":[1,2]}`)})
	})
	if err != nil {
		f.t.Fatal(err)
	}
	f.news.Notify()
}

// Internal events reach no stream: not live, not while a subscription
// catches up from the log.
func TestInternalEventsSkipped(t *testing.T) {
	f := newFixture(t, Options{})
	f.write("d1")
	p1 := f.newest()
	f.writeInternal("d1")
	f.write("d2")
	resumed := f.subscribe("", true, p1) // reads d1's internal event from the log
	live := f.subscribe("", false, 0)
	doc := f.subscribe("d1", false, 0)
	f.writeInternal("d1")
	f.write("d3")
	if _, err := f.svc.ReplaceDocument(f.admin, docstore.ReplaceRequest{Collection: "posts", ID: "d1",
		Data: docstore.Data{"n": json.Number("2")}}); err != nil {
		t.Fatal(err)
	}
	f.writeInternal("d1")
	f.expect(resumed, "d2", "d3", "d1")
	f.expect(live, "d3", "d1")
	m := f.next(doc)
	if m.Kind != KindEvent || m.Event.Type != eventbus.DocumentReplaced {
		t.Fatalf("document stream got %+v, want d1's replacement", m)
	}
	for _, s := range []*Subscription{resumed, live, doc} {
		ctx, cancel := context.WithTimeout(f.admin, 300*time.Millisecond)
		if m, err := s.Next(ctx); err == nil {
			t.Errorf("unexpected message %+v", m)
		}
		cancel()
	}
}
