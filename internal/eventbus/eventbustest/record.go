package eventbustest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/basaltdev/basalt/internal/eventbus"
)

// waitTimeout bounds every wait of the suite.
const waitTimeout = 30 * time.Second

// call is one handler call as the suite saw it.
type call struct {
	who    string // which consumer (session) was called
	events []eventbus.Event
	acked  bool // the handler returned nil
}

// recorder records the handler calls of one case and the overlaps between
// calls in progress at once.
type recorder struct {
	mu       sync.Mutex
	calls    []call
	inflight map[string]string // event id → the consumer handling it now
	overlaps []string
	news     eventbus.Signal
}

func newRecorder() *recorder { return &recorder{inflight: map[string]string{}} }

// behaviour decides a handler call's outcome; n counts the calls of one
// consumer from 0.
type behaviour func(ctx context.Context, n int, events []eventbus.Event) error

// ack acknowledges every batch.
func ack(context.Context, int, []eventbus.Event) error { return nil }

// handler returns a Handler that records its calls under who and returns
// what b decides.
func (r *recorder) handler(who string, b behaviour) eventbus.Handler {
	n := 0
	return func(ctx context.Context, events []eventbus.Event) error {
		r.mu.Lock()
		for _, e := range events {
			if other, ok := r.inflight[e.ID]; ok {
				r.overlaps = append(r.overlaps, fmt.Sprintf("event %d (%s) handled by %s and %s at once", e.Position, e.ID, other, who))
			}
			r.inflight[e.ID] = who
		}
		i := len(r.calls)
		r.calls = append(r.calls, call{who: who, events: append([]eventbus.Event(nil), events...)})
		k := n
		n++
		r.mu.Unlock()

		err := b(ctx, k, events)

		r.mu.Lock()
		for _, e := range events {
			delete(r.inflight, e.ID)
		}
		r.calls[i].acked = err == nil
		r.mu.Unlock()
		r.news.Notify()
		return err
	}
}

// snapshot returns the calls so far, in the order they started.
func (r *recorder) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// acked returns the events of the acknowledged calls of the consumers
// named, in call order (every consumer when who is empty).
func (r *recorder) acked(who ...string) []eventbus.Event {
	var out []eventbus.Event
	for _, c := range r.snapshot() {
		if c.acked && (len(who) == 0 || contains(who, c.who)) {
			out = append(out, c.events...)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// waitAcked waits until every event of want is in an acknowledged call of
// one of the consumers named (any consumer when who is empty).
func (r *recorder) waitAcked(t *testing.T, want []eventbus.Event, who ...string) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		ch := r.news.C()
		missing := missingFrom(want, r.acked(who...))
		if len(missing) == 0 {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("after %v, %d of %d events were never acknowledged by %v (first missing: position %d); calls: %s",
				waitTimeout, len(missing), len(want), who, missing[0].Position, describe(r.snapshot()))
		}
	}
}

// waitCalls waits until cond holds for the calls recorded.
func (r *recorder) waitCalls(t *testing.T, what string, cond func([]call) bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		ch := r.news.C()
		if cond(r.snapshot()) {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("after %v, still waiting for %s; calls: %s", waitTimeout, what, describe(r.snapshot()))
		}
	}
}

// checkNoOverlap fails t if two handler calls ever held one event at once.
func (r *recorder) checkNoOverlap(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.overlaps {
		t.Error(o)
	}
}

func missingFrom(want, got []eventbus.Event) []eventbus.Event {
	seen := make(map[string]bool, len(got))
	for _, e := range got {
		seen[e.ID] = true
	}
	var missing []eventbus.Event
	for _, e := range want {
		if !seen[e.ID] {
			missing = append(missing, e)
		}
	}
	return missing
}

func describe(calls []call) string {
	s := ""
	for i, c := range calls {
		if i == 20 {
			return s + fmt.Sprintf(" … (%d calls)", len(calls))
		}
		from, to := int64(0), int64(0)
		if len(c.events) > 0 {
			from, to = c.events[0].Position, c.events[len(c.events)-1].Position
		}
		s += fmt.Sprintf(" [%s %d events %d..%d acked=%v]", c.who, len(c.events), from, to, c.acked)
	}
	return s
}

// checkStream checks an acknowledged stream against the events appended:
// each appended event is in it, equal to what was appended, no other event
// is, and the events of each key (document) appear in strictly increasing
// position order, so none appears twice.
func checkStream(t *testing.T, what string, want, got []eventbus.Event) {
	t.Helper()
	byID := make(map[string]eventbus.Event, len(want))
	for _, e := range want {
		byID[e.ID] = e
	}
	last := map[string]int64{}
	for _, e := range got {
		w, ok := byID[e.ID]
		if !ok {
			t.Errorf("%s: event %s (position %d) was never appended", what, e.ID, e.Position)
			continue
		}
		checkEvent(t, what, w, e)
		if p, ok := last[e.Key()]; ok && e.Position <= p {
			t.Errorf("%s: key %s: position %d after %d (out of order or twice)", what, e.Key(), e.Position, p)
		}
		last[e.Key()] = e.Position
	}
	for _, e := range missingFrom(want, got) {
		t.Errorf("%s: event at position %d (%s %s v%d) never acknowledged", what, e.Position, e.Type, e.Key(), e.Version)
	}
}

// checkBatchOrder checks that within every call, each key's events are in
// strictly increasing position order.
func checkBatchOrder(t *testing.T, calls []call) {
	t.Helper()
	for i, c := range calls {
		last := map[string]int64{}
		for _, e := range c.events {
			if p, ok := last[e.Key()]; ok && e.Position <= p {
				t.Errorf("call %d (%s): key %s: position %d after %d", i, c.who, e.Key(), e.Position, p)
			}
			last[e.Key()] = e.Position
		}
	}
}

// checkEvent checks that a delivered event equals the appended one.
func checkEvent(t *testing.T, what string, want, got eventbus.Event) {
	t.Helper()
	if got.Type != want.Type || got.Collection != want.Collection || got.DocumentID != want.DocumentID ||
		got.Version != want.Version || got.BatchID != want.BatchID || got.Position != want.Position ||
		!got.Time.Equal(want.Time) || !sameJSON(got.Payload, want.Payload) || got.TraceParent != want.TraceParent {
		t.Errorf("%s: event %s delivered as\n%+v\nappended as\n%+v", what, want.ID, got, want)
	}
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return string(ja) == string(jb)
}

// generator makes change events for a few documents, with versions that
// follow each document's history (a delete and a create again restart at
// version 1, so only positions order them).
type generator struct {
	t        *testing.T
	n        int
	versions map[string]int64
	coll     int64
	now      time.Time
}

func newGenerator(t *testing.T) *generator {
	return &generator{t: t, versions: map[string]int64{}, now: time.Now().UTC().Truncate(time.Millisecond)}
}

// events returns n events spread over docs documents of collection
// "things", interleaved, with now and then a collection event, a delete and
// a create again.
func (g *generator) events(n, docs int) []eventbus.Event {
	out := make([]eventbus.Event, 0, n)
	for range n {
		g.n++
		g.now = g.now.Add(time.Millisecond)
		id, err := uuid.NewV7()
		if err != nil {
			g.t.Fatal(err)
		}
		e := eventbus.Event{ID: id.String(), Collection: "things", Time: g.now}
		switch {
		case g.n%17 == 0:
			g.coll++
			e.Type, e.Version = eventbus.CollectionReplaced, g.coll
			if g.coll == 1 {
				e.Type = eventbus.CollectionCreated
			}
			e.Payload = json.RawMessage(fmt.Sprintf(`{"name":"things","version":%d}`, g.coll))
			out = append(out, e)
			continue
		case g.n%29 == 0:
			e.BatchID = fmt.Sprintf("batch-%d", g.n)
		}
		if g.n%3 == 0 { // the event of a traced write
			e.TraceParent = fmt.Sprintf("00-%032x-%016x-01", g.n, g.n)
		}
		// A stride co-prime with docs interleaves the documents.
		e.DocumentID = fmt.Sprintf("doc-%d", (g.n*7)%docs)
		v := g.versions[e.DocumentID]
		switch {
		case v == 0:
			e.Type, e.Version = eventbus.DocumentCreated, 1
		case v%5 == 4:
			e.Type, e.Version = eventbus.DocumentDeleted, v+1
		case v%2 == 0:
			e.Type, e.Version = eventbus.DocumentReplaced, v+1
		default:
			e.Type, e.Version = eventbus.DocumentPatched, v+1
		}
		if e.Type == eventbus.DocumentDeleted {
			g.versions[e.DocumentID] = 0 // created again next time, at version 1
			e.Payload = json.RawMessage(fmt.Sprintf(`{"id":%q,"collection":"things","version":%d}`, e.DocumentID, v))
		} else {
			g.versions[e.DocumentID] = e.Version
			e.Payload = json.RawMessage(fmt.Sprintf(`{"id":%q,"version":%d,"data":{"n":%d}}`, e.DocumentID, e.Version, g.n))
		}
		out = append(out, e)
	}
	return out
}

// consumer is one Consume call running in its own goroutine.
type consumer struct {
	cancel context.CancelFunc
	done   chan error
}

// consume runs bus.Consume(name, h) until stop (or the end of the test).
func consume(t *testing.T, bus eventbus.Bus, name string, h eventbus.Handler) *consumer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &consumer{cancel: cancel, done: make(chan error, 1)}
	go func() { c.done <- bus.Consume(ctx, name, h) }()
	t.Cleanup(func() { _ = c.stop(t) })
	return c
}

// stop cancels the call and returns what Consume returned; it fails t if
// Consume does not return in time.
func (c *consumer) stop(t *testing.T) error {
	t.Helper()
	c.cancel()
	return c.wait(t)
}

// wait returns what Consume returned (once; later calls return nil).
func (c *consumer) wait(t *testing.T) error {
	t.Helper()
	select {
	case err, ok := <-c.done:
		if ok {
			close(c.done)
		}
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("Consume did not return within %v after its context ended", waitTimeout)
		return nil
	}
}
