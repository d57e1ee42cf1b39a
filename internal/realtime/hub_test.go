package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// fixture is a hub over a real SQLite event log, and the document service
// that writes to it.
type fixture struct {
	t     *testing.T
	store *sqlite.Store
	svc   *docstore.Service
	news  *eventbus.Signal
	hub   *Hub
	admin context.Context
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc, err := docstore.NewService(st, docstore.Options{CursorKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, store: st, svc: svc, news: &eventbus.Signal{},
		admin: auth.WithPrincipal(t.Context(), auth.Principal{Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}})}
	open := ""
	if _, err := svc.CreateCollection(f.admin, docstore.CollectionSpec{Name: "posts",
		Schema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer"}}}`),
		Rules:  docstore.Rules{List: &open, Get: &open}}); err != nil {
		t.Fatal(err)
	}
	opts.Log, opts.News = st, f.news
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.hub = h
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return f
}

// write creates document id in posts and tells the hub.
func (f *fixture) write(id string) {
	f.t.Helper()
	if _, err := f.svc.CreateDocument(f.admin, docstore.CreateRequest{Collection: "posts", ID: id,
		Data: docstore.Data{"n": json.Number("1")}}); err != nil {
		f.t.Fatal(err)
	}
	f.news.Notify()
}

// subscribe opens a subscription to posts (or one of its documents) as
// the admin.
func (f *fixture) subscribe(doc string, resume bool, after int64) *Subscription {
	f.t.Helper()
	s, err := f.trySubscribe(Request{Collection: "posts", DocumentID: doc, Resume: resume, After: after})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(s.Close)
	return s
}

func (f *fixture) trySubscribe(r Request) (*Subscription, error) {
	d, err := f.svc.Subscribe(f.admin, docstore.SubscribeRequest{Collection: r.Collection, DocumentID: r.DocumentID})
	if err != nil {
		return nil, err
	}
	r.Deliverer = d
	return f.hub.Subscribe(f.admin, r)
}

// next returns s's next message, failing after a few seconds.
func (f *fixture) next(s *Subscription) Message {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.admin, 10*time.Second)
	defer cancel()
	m, err := s.Next(ctx)
	if err != nil {
		f.t.Fatalf("Next: %v", err)
	}
	return m
}

// expect reads the next messages of s and checks they are the events of
// the documents ids, in order.
func (f *fixture) expect(s *Subscription, ids ...string) []int64 {
	f.t.Helper()
	var pos []int64
	for _, id := range ids {
		m := f.next(s)
		if m.Kind != KindEvent || m.Event.DocumentID != id {
			f.t.Fatalf("got %+v, want the event of %s", m, id)
		}
		pos = append(pos, m.Event.Position)
	}
	return pos
}

// nothingWaiting checks that s has no message within a short while.
func (f *fixture) nothingWaiting(s *Subscription) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.admin, 300*time.Millisecond)
	defer cancel()
	if m, err := s.Next(ctx); err == nil {
		f.t.Fatalf("unexpected message %+v", m)
	}
}

func (f *fixture) newest() int64 {
	f.t.Helper()
	_, n, err := f.store.LogBounds(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func TestLiveEvents(t *testing.T) {
	f := newFixture(t, Options{})
	f.write("d0")
	all := f.subscribe("", false, 0)
	one := f.subscribe("d0", false, 0)
	f.write("d1")
	if _, err := f.svc.ReplaceDocument(f.admin, docstore.ReplaceRequest{Collection: "posts", ID: "d0",
		Data: docstore.Data{"n": json.Number("2")}}); err != nil {
		t.Fatal(err)
	}
	f.write("d3")
	pos := f.expect(all, "d1", "d0", "d3")
	if pos[0] >= pos[1] || pos[1] >= pos[2] {
		t.Errorf("positions not increasing: %v", pos)
	}
	f.expect(one, "d0")
	f.nothingWaiting(one)
}

// TestResume: a subscription that resumes after a position gets exactly
// the events after it, from the log then live, each once, in order.
func TestResume(t *testing.T) {
	f := newFixture(t, Options{})
	f.write("d1")
	p1 := f.newest()
	f.write("d2")
	f.write("d3")
	s := f.subscribe("", true, p1)
	f.write("d4") // live while the subscription has not read the log yet
	f.expect(s, "d2", "d3", "d4")
	f.write("d5")
	f.expect(s, "d5")
	f.nothingWaiting(s)

	// Resuming at the newest position misses nothing and repeats nothing.
	s2 := f.subscribe("", true, f.newest())
	f.write("d6")
	f.expect(s2, "d6")
	f.nothingWaiting(s2)
}

// TestGap: resuming after events that were trimmed gives a gap message,
// then live events.
func TestGap(t *testing.T) {
	f := newFixture(t, Options{})
	f.write("d1")
	p1 := f.newest()
	f.write("d2")
	f.write("d3")
	if _, err := f.store.TrimEvents(t.Context(), time.Now().Add(time.Hour), f.newest()-1); err != nil {
		t.Fatal(err)
	}
	s := f.subscribe("", true, p1)
	m := f.next(s)
	if m.Kind != KindGap || m.Position != f.newest() {
		t.Fatalf("got %+v, want a gap going on from %d", m, f.newest())
	}
	f.write("d4")
	f.expect(s, "d4")

	// Resuming after the trimmed position loses nothing: no gap.
	trimmed, _, err := f.store.LogBounds(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s2 := f.subscribe("", true, trimmed)
	f.expect(s2, "d3", "d4")
}

// TestSlowSubscriberDropped: a subscriber whose queue is full and that
// takes nothing for SlowAfter is dropped without holding up the others.
func TestSlowSubscriberDropped(t *testing.T) {
	f := newFixture(t, Options{Queue: 2, SlowAfter: 300 * time.Millisecond, Poll: 50 * time.Millisecond})
	slow := f.subscribe("", false, 0)
	fast := f.subscribe("", false, 0)
	for i := range 5 {
		id := fmt.Sprintf("d%d", i)
		f.write(id)
		f.expect(fast, id)
	}
	select {
	case <-slow.stop:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow subscriber was not dropped")
	}
	f.expect(slow, "d0", "d1")
	if m := f.next(slow); m.Kind != KindDropped {
		t.Fatalf("got %+v, want dropped", m)
	}
	if _, err := slow.Next(t.Context()); !errors.Is(err, ErrEnded) {
		t.Fatalf("after dropped: %v", err)
	}
	if got := testutil.ToFloat64(f.hub.dropped); got != 1 {
		t.Errorf("dropped metric = %v", got)
	}
	if got := testutil.ToFloat64(f.hub.delivered); got != 7 {
		t.Errorf("delivered metric = %v, want 7", got)
	}
	// The fast one goes on.
	f.write("d5")
	f.expect(fast, "d5")
}

// TestBurstLargerThanTheQueue: a subscriber that keeps reading gets every
// event of a burst larger than its queue, in order, from the log.
func TestBurstLargerThanTheQueue(t *testing.T) {
	f := newFixture(t, Options{Queue: 2, SlowAfter: time.Minute})
	s := f.subscribe("", false, 0)
	ops := make([]docstore.BatchOp, 20)
	var ids []string
	for i := range ops {
		id := fmt.Sprintf("b%02d", i)
		ops[i] = docstore.BatchOp{Op: docstore.OpCreate, Collection: "posts", ID: id, Data: docstore.Data{"n": json.Number("1")}}
		ids = append(ids, id)
	}
	if _, err := f.svc.Batch(f.admin, ops, ""); err != nil {
		t.Fatal(err)
	}
	f.news.Notify()
	f.expect(s, ids...)
	f.write("after")
	f.expect(s, "after")
	f.nothingWaiting(s)
	if got := testutil.ToFloat64(f.hub.dropped); got != 0 {
		t.Errorf("dropped metric = %v", got)
	}
}

// TestLaggingSubscriberDropped: a subscriber more than MaxLag events
// behind is dropped even while it makes progress.
func TestLaggingSubscriberDropped(t *testing.T) {
	f := newFixture(t, Options{Queue: 1, MaxLag: 3, SlowAfter: time.Minute, Poll: 50 * time.Millisecond})
	s := f.subscribe("", false, 0)
	for i := range 6 {
		f.write(fmt.Sprintf("d%d", i))
	}
	select {
	case <-s.stop:
	case <-time.After(10 * time.Second):
		t.Fatal("the lagging subscriber was not dropped")
	}
	f.expect(s, "d0")
	if m := f.next(s); m.Kind != KindDropped {
		t.Fatalf("got %+v, want dropped", m)
	}
}

func TestLimits(t *testing.T) {
	f := newFixture(t, Options{MaxPerAccount: 1, MaxPerIP: 2})
	a, err := f.trySubscribe(Request{Collection: "posts", Account: "user:u1", ClientIP: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.trySubscribe(Request{Collection: "posts", Account: "user:u1", ClientIP: "10.0.0.2"}); fault.KindOf(err) != fault.TooManyRequests {
		t.Fatalf("second stream of one account: %v", err)
	}
	b, err := f.trySubscribe(Request{Collection: "posts", Account: "user:u2", ClientIP: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.trySubscribe(Request{Collection: "posts", ClientIP: "10.0.0.1"}); fault.KindOf(err) != fault.TooManyRequests {
		t.Fatalf("third stream of one address: %v", err)
	}
	a.Close()
	a.Close() // twice releases once
	c, err := f.trySubscribe(Request{Collection: "posts", Account: "user:u1", ClientIP: "10.0.0.1"})
	if err != nil {
		t.Fatalf("after a stream closed: %v", err)
	}
	b.Close()
	c.Close()
}

func TestDrain(t *testing.T) {
	f := newFixture(t, Options{})
	s := f.subscribe("", false, 0)
	f.hub.Drain()
	if m := f.next(s); m.Kind != KindShutdown {
		t.Fatalf("got %+v, want shutdown", m)
	}
	if _, err := f.trySubscribe(Request{Collection: "posts"}); fault.KindOf(err) != fault.Unavailable {
		t.Fatalf("subscribe while draining: %v", err)
	}
}

// TestStreamEndsWithItsCollection: a deleted collection ends the stream
// after its event.
func TestStreamEndsWithItsCollection(t *testing.T) {
	f := newFixture(t, Options{})
	s := f.subscribe("", false, 0)
	if err := f.svc.DeleteCollection(f.admin, "posts", nil); err != nil {
		t.Fatal(err)
	}
	f.news.Notify()
	m := f.next(s)
	if m.Kind != KindEvent || m.Event.Type != eventbus.CollectionDeleted {
		t.Fatalf("got %+v, want collection.deleted", m)
	}
	if m := f.next(s); m.Kind != KindEnd || m.End != docstore.EndDeleted {
		t.Fatalf("got %+v, want the end", m)
	}
}

// TestDocumentStreams: document streams are found by their document: each
// gets its document's events and the collection's, whatever the other
// streams of the collection, and closing one leaves the others of its
// document in place.
func TestDocumentStreams(t *testing.T) {
	f := newFixture(t, Options{})
	for _, id := range []string{"d0", "d1", "d2"} {
		f.write(id)
	}
	a, b := f.subscribe("d0", false, 0), f.subscribe("d0", false, 0)
	one := f.subscribe("d1", false, 0)
	all := f.subscribe("", false, 0)
	replace := func(id string) {
		t.Helper()
		if _, err := f.svc.ReplaceDocument(f.admin, docstore.ReplaceRequest{Collection: "posts", ID: id,
			Data: docstore.Data{"n": json.Number("2")}}); err != nil {
			t.Fatal(err)
		}
		f.news.Notify()
	}
	replace("d2")
	replace("d0")
	replace("d1")
	f.expect(all, "d2", "d0", "d1")
	ma, mb := f.expect(a, "d0"), f.expect(b, "d0")
	if ma[0] != mb[0] {
		t.Errorf("the two streams of d0 got different events: %v, %v", ma, mb)
	}
	f.expect(one, "d1")
	// A collection event reaches every document stream.
	open := ""
	if _, err := f.svc.ReplaceCollection(f.admin, "posts", docstore.CollectionSpec{Name: "posts",
		Schema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer"},"m":{"type":"integer"}}}`),
		Rules:  docstore.Rules{List: &open, Get: &open}}, nil); err != nil {
		t.Fatal(err)
	}
	f.news.Notify()
	for _, s := range []*Subscription{a, b, one, all} {
		if m := f.next(s); m.Kind != KindEvent || m.Event.Type != eventbus.CollectionReplaced {
			t.Fatalf("got %+v, want collection.replaced", m)
		}
	}
	a.Close()
	replace("d0")
	f.expect(b, "d0")
	b.Close()
	one.Close()
	f.hub.mu.Lock()
	left := len(f.hub.subs["posts"].docs)
	f.hub.mu.Unlock()
	if left != 0 {
		t.Errorf("%d documents still have streams after every document stream closed", left)
	}
	f.nothingWaiting(f.subscribe("d1", false, 0))
}

// TestTryNext: TryNext returns the messages there are without waiting for
// more, and the end of a drained stream.
func TestTryNext(t *testing.T) {
	f := newFixture(t, Options{Poll: time.Hour}) // the hub reads on notices only
	s := f.subscribe("", false, 0)
	if m, ok, err := s.TryNext(t.Context()); ok || err != nil {
		t.Fatalf("nothing written: %+v, %v, %v", m, ok, err)
	}
	for _, id := range []string{"d0", "d1", "d2"} {
		if _, err := f.svc.CreateDocument(f.admin, docstore.CreateRequest{Collection: "posts", ID: id,
			Data: docstore.Data{"n": json.Number("1")}}); err != nil {
			t.Fatal(err)
		}
	}
	f.news.Notify()
	// Once the hub has read up to the newest event, all three are queued
	// (it queues a read's events before it moves its position).
	newest := f.newest()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		f.hub.mu.Lock()
		pos := f.hub.pos
		f.hub.mu.Unlock()
		if pos >= newest {
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("the hub read up to %d, not %d", pos, newest)
		}
	}
	f.expect(s, "d0")
	for _, id := range []string{"d1", "d2"} {
		m, ok, err := s.TryNext(t.Context())
		if !ok || err != nil || m.Kind != KindEvent || m.Event.DocumentID != id {
			t.Fatalf("got %+v, %v, %v; want the event of %s", m, ok, err, id)
		}
	}
	if m, ok, err := s.TryNext(t.Context()); ok || err != nil {
		t.Fatalf("after the queued events: %+v, %v, %v", m, ok, err)
	}
	f.hub.Drain()
	if m, ok, err := s.TryNext(t.Context()); !ok || err != nil || m.Kind != KindShutdown {
		t.Fatalf("drained: %+v, %v, %v; want shutdown", m, ok, err)
	}
}
