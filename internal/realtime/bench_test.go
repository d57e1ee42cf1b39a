package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// memLog is an event log in memory: the hub's fan-out measured without
// the database's reads.
type memLog struct {
	mu  sync.Mutex
	evs []eventbus.Event
}

func (l *memLog) append(e eventbus.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Position = int64(len(l.evs) + 1)
	l.evs = append(l.evs, e)
}

func (l *memLog) Sequence(context.Context, int) (int, error) { return 0, nil }

func (l *memLog) ReadEvents(_ context.Context, after int64, limit int) ([]eventbus.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if after >= int64(len(l.evs)) {
		return nil, nil
	}
	out := l.evs[after:min(int(after)+limit, len(l.evs))]
	return append([]eventbus.Event(nil), out...), nil
}

func (l *memLog) LogBounds(context.Context) (int64, int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return 0, int64(len(l.evs)), nil
}

func (l *memLog) TrimEvents(context.Context, time.Time, int64) (int64, error) { return 0, nil }
func (l *memLog) LogSize(context.Context) (int64, int64, error)               { return 0, 0, nil }

// BenchmarkHubFanOut fans one document event out to 1,000 collection
// streams and 1,000 document streams (of other documents) of one
// collection, and has every subscriber read it (one op: the event's read
// from the log, its fan-out, and every delivery), for subscribers who
// are not admins of a collection with a hidden field.
func BenchmarkHubFanOut(b *testing.B) {
	const streams = 1000
	st, err := sqlite.Open(b.Context(), sqlite.Options{Path: filepath.Join(b.TempDir(), "basalt.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	svc, err := docstore.NewService(st, docstore.Options{CursorKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		b.Fatal(err)
	}
	admin := auth.WithPrincipal(b.Context(), auth.Principal{Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}})
	open := ""
	if _, err := svc.CreateCollection(admin, docstore.CollectionSpec{Name: "posts",
		Schema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer"},"secret":{"type":"string"}}}`),
		Rules:  docstore.Rules{List: &open, Get: &open}, HiddenFields: []string{"secret"}}); err != nil {
		b.Fatal(err)
	}
	for i := range streams {
		if _, err := svc.CreateDocument(admin, docstore.CreateRequest{Collection: "posts", ID: fmt.Sprintf("d%d", i),
			Data: docstore.Data{"n": json.Number("1")}}); err != nil {
			b.Fatal(err)
		}
	}
	log := &memLog{}
	h, err := New(Options{Log: log})
	if err != nil {
		b.Fatal(err)
	}
	close(h.ready)
	var coll []*Subscription
	for i := range 2 * streams {
		ctx := auth.WithPrincipal(b.Context(), auth.Principal{Kind: auth.KindUser, ID: fmt.Sprintf("u%d", i)})
		r := docstore.SubscribeRequest{Collection: "posts"}
		if i >= streams {
			r.DocumentID = fmt.Sprintf("d%d", i-streams)
		}
		d, err := svc.Subscribe(ctx, r)
		if err != nil {
			b.Fatal(err)
		}
		s, err := h.Subscribe(ctx, Request{Collection: "posts", DocumentID: r.DocumentID, Deliverer: d})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Close)
		if i < streams {
			coll = append(coll, s)
		}
	}
	payload := []byte(`{"collection":"posts","id":"other","version":1,"createdAt":"2026-12-01T12:00:00Z",` +
		`"updatedAt":"2026-12-01T12:00:00Z","data":{"n":2,"secret":"s"}}`)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		log.append(eventbus.Event{ID: "e", Type: eventbus.DocumentCreated, Collection: "posts", DocumentID: "other",
			Version: 1, Payload: payload})
		if n, err := h.readOnce(ctx); err != nil || n != 1 {
			b.Fatalf("readOnce: %d, %v", n, err)
		}
		for _, s := range coll {
			m, err := s.Next(ctx)
			if err != nil || m.Kind != KindEvent || strings.Contains(string(m.Event.Payload), "secret") {
				b.Fatalf("Next: %+v, %v", m, err)
			}
		}
	}
}
