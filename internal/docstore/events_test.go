package docstore_test

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// eventsFixture is a service over one engine whose Committed hook counts
// its calls and, at each, how many events another connection already sees.
type eventsFixture struct {
	svc   *docstore.Service
	store engineStore
	hooks atomic.Int64
	// seen is the number of events readable at the last hook call.
	seen atomic.Int64
	// read is the number of events the test has looked at (next).
	read int
}

func newEventsFixture(t *testing.T, engine string) *eventsFixture {
	t.Helper()
	f := &eventsFixture{store: openEngine(t, engine)}
	svc, err := docstore.NewService(f.store, docstore.Options{CursorKey: []byte(strings.Repeat("k", 32)),
		Committed: func() {
			f.hooks.Add(1)
			// Count the events another connection sees (Sequence numbers
			// only committed ones on PostgreSQL).
			if _, err := f.store.Sequence(t.Context(), 100000); err != nil {
				t.Error(err)
			}
			evs, err := f.store.ReadEvents(t.Context(), 0, 100000)
			if err != nil {
				t.Error(err)
			}
			f.seen.Store(int64(len(evs)))
		}})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

// next returns the events recorded since the last call, and checks that
// the hook ran once if there are any (after they were visible) and not at
// all otherwise.
func (f *eventsFixture) next(t *testing.T, step string) []eventbus.Event {
	t.Helper()
	evs := readLog(t.Context(), t, f.store)
	if len(evs) < f.read {
		t.Fatalf("%s: the outbox shrank from %d to %d events", step, f.read, len(evs))
	}
	out := evs[f.read:]
	f.read = len(evs)
	hooks := f.hooks.Swap(0)
	switch {
	case len(out) == 0 && hooks != 0:
		t.Errorf("%s: the Committed hook ran %d times for a write without events", step, hooks)
	case len(out) > 0 && hooks != 1:
		t.Errorf("%s: the Committed hook ran %d times, want 1", step, hooks)
	case len(out) > 0 && f.seen.Load() != int64(len(evs)):
		t.Errorf("%s: at the hook, %d events were visible, want %d (it ran before the commit)", step, f.seen.Load(), len(evs))
	}
	return out
}

// wantEvent checks one event's envelope.
func wantEvent(t *testing.T, step string, e eventbus.Event, typ eventbus.Type, collection, id string, version int64, batchID string) {
	t.Helper()
	if e.Type != typ || e.Collection != collection || e.DocumentID != id || e.Version != version || e.BatchID != batchID {
		t.Errorf("%s: event = {%s %s/%s v%d batch %q}, want {%s %s/%s v%d batch %q}", step,
			e.Type, e.Collection, e.DocumentID, e.Version, e.BatchID, typ, collection, id, version, batchID)
	}
	if e.ID == "" || e.Time.IsZero() || !json.Valid(e.Payload) {
		t.Errorf("%s: event %+v lacks an id, a time or a JSON payload", step, e)
	}
}

func TestEventsOfEveryWrite(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run("engine="+engine, func(t *testing.T) {
			t.Parallel()
			testEventsOfEveryWrite(t, newEventsFixture(t, engine))
		})
	}
}

func testEventsOfEveryWrite(t *testing.T, f *eventsFixture) {
	ctx := as(t, "admin")

	// Collections: one event per change of the definition, its payload
	// the definition as the admin API shows it.
	c, err := f.svc.CreateCollection(ctx, docstore.CollectionSpec{Name: "notes", Schema: json.RawMessage(notesSchema)})
	if err != nil {
		t.Fatal(err)
	}
	evs := f.next(t, "create collection")
	if len(evs) != 1 {
		t.Fatalf("create collection: %d events, want 1", len(evs))
	}
	wantEvent(t, "create collection", evs[0], eventbus.CollectionCreated, "notes", "", 1, "")
	shown, _ := json.Marshal(c)
	if string(evs[0].Payload) != string(shown) || !evs[0].Time.Equal(c.UpdatedAt) {
		t.Errorf("create collection: payload %s at %v, want %s at %v", evs[0].Payload, evs[0].Time, shown, c.UpdatedAt)
	}
	c, err = f.svc.PatchCollection(ctx, "notes", data(t, `{"rules":{"get":""}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	evs = f.next(t, "patch collection")
	if len(evs) != 1 {
		t.Fatalf("patch collection: %d events, want 1", len(evs))
	}
	wantEvent(t, "patch collection", evs[0], eventbus.CollectionReplaced, "notes", "", 2, "")
	shown, _ = json.Marshal(c)
	if string(evs[0].Payload) != string(shown) || !evs[0].Time.Equal(c.UpdatedAt) {
		t.Errorf("patch collection: payload %s, want %s", evs[0].Payload, shown)
	}
	if _, err := f.svc.ReplaceCollection(ctx, "notes", docstore.CollectionSpec{Schema: json.RawMessage(notesSchema)}, docstore.Version(2)); err != nil {
		t.Fatal(err)
	}
	evs = f.next(t, "replace collection")
	if len(evs) != 1 {
		t.Fatalf("replace collection: %d events, want 1", len(evs))
	}
	wantEvent(t, "replace collection", evs[0], eventbus.CollectionReplaced, "notes", "", 3, "")

	// Documents.
	d, err := f.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: "notes", ID: "d1", Data: data(t, `{"title":"one","secret":"s"}`)})
	if err != nil {
		t.Fatal(err)
	}
	evs = f.next(t, "create document")
	if len(evs) != 1 {
		t.Fatalf("create document: %d events, want 1", len(evs))
	}
	wantEvent(t, "create document", evs[0], eventbus.DocumentCreated, "notes", "d1", 1, "")
	shown, _ = json.Marshal(d)
	if string(evs[0].Payload) != string(shown) || !evs[0].Time.Equal(d.UpdatedAt) {
		t.Errorf("create document: payload %s, want %s", evs[0].Payload, shown)
	}
	if _, err := f.svc.ReplaceDocument(ctx, docstore.ReplaceRequest{Collection: "notes", ID: "d1", Data: data(t, `{"title":"two"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PatchDocument(ctx, docstore.PatchRequest{Collection: "notes", ID: "d1", Patch: data(t, `{"owner":"u1"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteDocument(ctx, docstore.DeleteRequest{Collection: "notes", ID: "d1"}); err != nil {
		t.Fatal(err)
	}
	// Each write above committed separately: three events, in order; the
	// hook ran three times.
	all := readLog(t.Context(), t, f.store)
	evs = all[f.read:]
	f.read = len(all)
	if n := f.hooks.Swap(0); n != 3 || len(evs) != 3 {
		t.Fatalf("replace, patch, delete: %d events, %d hook calls, want 3 and 3", len(evs), n)
	}
	wantEvent(t, "replace document", evs[0], eventbus.DocumentReplaced, "notes", "d1", 2, "")
	wantEvent(t, "patch document", evs[1], eventbus.DocumentPatched, "notes", "d1", 3, "")
	wantEvent(t, "delete document", evs[2], eventbus.DocumentDeleted, "notes", "d1", 4, "")
	if string(evs[2].Payload) != `{"collection":"notes","id":"d1","version":4}` {
		t.Errorf("delete document: payload %s", evs[2].Payload)
	}

	// Batches: every operation's event carries the batch's id, a new one
	// per batch call.
	batch := []docstore.BatchOp{
		{Op: docstore.OpCreate, Collection: "notes", ID: "b1", Data: data(t, `{"title":"b1"}`)},
		{Op: docstore.OpCreate, Collection: "notes", ID: "b2", Data: data(t, `{"title":"b2"}`)},
		{Op: docstore.OpPatch, Collection: "notes", ID: "b1", Data: data(t, `{"owner":"u2"}`)},
		{Op: docstore.OpDelete, Collection: "notes", ID: "b2"},
	}
	if _, err := f.svc.Batch(ctx, batch, "key-1"); err != nil {
		t.Fatal(err)
	}
	evs = f.next(t, "batch")
	if len(evs) != 4 {
		t.Fatalf("batch: %d events, want 4", len(evs))
	}
	first := evs[0].BatchID
	if len(first) != 36 {
		t.Fatalf("batch: batch id %q is not a UUID", first)
	}
	wantEvent(t, "batch op 0", evs[0], eventbus.DocumentCreated, "notes", "b1", 1, first)
	wantEvent(t, "batch op 1", evs[1], eventbus.DocumentCreated, "notes", "b2", 1, first)
	wantEvent(t, "batch op 2", evs[2], eventbus.DocumentPatched, "notes", "b1", 2, first)
	wantEvent(t, "batch op 3", evs[3], eventbus.DocumentDeleted, "notes", "b2", 2, first)
	// An idempotent replay writes nothing, so records nothing.
	if _, err := f.svc.Batch(ctx, batch, "key-1"); err != nil {
		t.Fatal(err)
	}
	if evs := f.next(t, "batch replay"); len(evs) != 0 {
		t.Fatalf("batch replay: %d events, want none", len(evs))
	}
	if _, err := f.svc.Batch(ctx, []docstore.BatchOp{{Op: docstore.OpDelete, Collection: "notes", ID: "b1"}}, ""); err != nil {
		t.Fatal(err)
	}
	evs = f.next(t, "second batch")
	if len(evs) != 1 || evs[0].BatchID == "" || evs[0].BatchID == first {
		t.Fatalf("second batch: events %+v, want one with a new batch id", evs)
	}
	for i := range 3 {
		if _, err := f.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: "notes", Data: data(t, `{"title":"x"}`)}); err != nil {
			t.Fatal(err)
		}
		f.next(t, "create "+string(rune('a'+i)))
	}

	// Deleting a collection with documents is one event, at the deleted
	// version + 1.
	if err := f.svc.DeleteCollection(ctx, "notes", docstore.Version(3)); err != nil {
		t.Fatal(err)
	}
	evs = f.next(t, "delete collection")
	if len(evs) != 1 {
		t.Fatalf("delete collection: %d events, want 1", len(evs))
	}
	wantEvent(t, "delete collection", evs[0], eventbus.CollectionDeleted, "notes", "", 4, "")
	if string(evs[0].Payload) != `{"name":"notes","version":4}` {
		t.Errorf("delete collection: payload %s", evs[0].Payload)
	}

	// Event ids are unique.
	seen := map[string]bool{}
	for _, e := range all {
		if seen[e.ID] {
			t.Errorf("event id %s appears twice", e.ID)
		}
		seen[e.ID] = true
	}
}

func TestNoEventsForRefusedWritesOrReads(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run("engine="+engine, func(t *testing.T) {
			t.Parallel()
			testNoEvents(t, newEventsFixture(t, engine))
		})
	}
}

func testNoEvents(t *testing.T, f *eventsFixture) {
	ctx := as(t, "admin")
	if _, err := f.svc.CreateCollection(ctx, docstore.CollectionSpec{Name: "notes", Schema: json.RawMessage(notesSchema)}); err != nil {
		t.Fatal(err)
	}
	f.next(t, "create collection")
	if _, err := f.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: "notes", ID: "d1", Data: data(t, `{"title":"one"}`)}); err != nil {
		t.Fatal(err)
	}
	f.next(t, "create document")

	strict := `{"type":"object","properties":{"title":{"type":"string"}},"required":["owner"]}`
	refused := []struct {
		name string
		kind fault.Kind
		run  func() error
	}{
		{"existing collection", fault.Conflict, func() error {
			_, err := f.svc.CreateCollection(ctx, docstore.CollectionSpec{Name: "notes", Schema: json.RawMessage(notesSchema)})
			return err
		}},
		{"collection at another version", fault.PreconditionFailed, func() error {
			_, err := f.svc.ReplaceCollection(ctx, "notes", docstore.CollectionSpec{Schema: json.RawMessage(notesSchema)}, docstore.Version(7))
			return err
		}},
		{"schema the documents break (rolled back)", fault.Validation, func() error {
			_, err := f.svc.ReplaceCollection(ctx, "notes", docstore.CollectionSpec{Schema: json.RawMessage(strict)}, nil)
			return err
		}},
		{"delete collection at another version", fault.PreconditionFailed, func() error {
			return f.svc.DeleteCollection(ctx, "notes", docstore.Version(9))
		}},
		{"refused by rules", fault.Forbidden, func() error {
			_, err := f.svc.CreateDocument(as(t, "owner"), docstore.CreateRequest{Collection: "notes", Data: data(t, `{"title":"x"}`)})
			return err
		}},
		{"existing document", fault.Conflict, func() error {
			_, err := f.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: "notes", ID: "d1", Data: data(t, `{"title":"x"}`)})
			return err
		}},
		{"document at another version", fault.PreconditionFailed, func() error {
			return f.svc.DeleteDocument(ctx, docstore.DeleteRequest{Collection: "notes", ID: "d1", IfMatch: docstore.Version(5)})
		}},
		{"batch failing at its last operation (rolled back)", fault.NotFound, func() error {
			_, err := f.svc.Batch(ctx, []docstore.BatchOp{
				{Op: docstore.OpCreate, Collection: "notes", ID: "b1", Data: data(t, `{"title":"b"}`)},
				{Op: docstore.OpDelete, Collection: "notes", ID: "missing"},
			}, "")
			return err
		}},
	}
	for _, r := range refused {
		wantKind(t, r.run(), r.kind)
		if evs := f.next(t, r.name); len(evs) != 0 {
			t.Errorf("%s: %d events, want none", r.name, len(evs))
		}
	}
	// Reads record nothing.
	if _, err := f.svc.GetCollection(ctx, "notes"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ListCollections(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.GetDocument(ctx, "notes", "d1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ListDocuments(ctx, docstore.ListRequest{Collection: "notes"}); err != nil {
		t.Fatal(err)
	}
	if evs := f.next(t, "reads"); len(evs) != 0 {
		t.Errorf("reads: %d events, want none", len(evs))
	}
}
