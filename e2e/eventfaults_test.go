package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

// The fault tests of change events run real `basalt serve` processes,
// break them (kill -9, a Kafka that goes away) under a write load, and
// check the streams their consumers received event by event against the
// writes: every write that was acknowledged — or that committed without
// its answer arriving — has its event there, each document's events are
// in the order of its writes, and no event exists for a write that did not
// commit.

// faultCollection is the collection the write loads write to.
const faultCollection = "items"

// Write states in the ledger.
const (
	opUnknown = iota // sent; no answer (the server died): it may have committed
	opAcked          // acknowledged: it committed
)

// writeOp is one write of a load and the event it must give.
type writeOp struct {
	doc     string
	typ     string // the event type it gives
	version int64  // the event's version: the version written, a delete's the deleted one + 1
	state   int
	// sentAt and tookAt: when the write was sent, and how long its
	// answer took (acknowledged writes).
	sentAt time.Time
	took   time.Duration
}

// ledger records every write a load sent, per document, in the order each
// document's writes were sent (one writer per document).
type ledger struct {
	mu    sync.Mutex
	docs  map[string][]*writeOp
	order []string // documents in the order of their first write
	acked atomic.Int64
}

func newLedger() *ledger { return &ledger{docs: map[string][]*writeOp{}} }

// sent records a write about to be sent.
func (l *ledger) sent(doc, typ string, version int64) *writeOp {
	l.mu.Lock()
	defer l.mu.Unlock()
	op := &writeOp{doc: doc, typ: typ, version: version, sentAt: time.Now()}
	if _, ok := l.docs[doc]; !ok {
		l.order = append(l.order, doc)
	}
	l.docs[doc] = append(l.docs[doc], op)
	return op
}

func (l *ledger) ack(op *writeOp) {
	l.mu.Lock()
	op.state, op.took = opAcked, time.Since(op.sentAt)
	l.mu.Unlock()
	l.acked.Add(1)
}

// committed resolves the writes whose answer never came against what the
// restarted server holds and returns, per document, the writes that
// committed, in order: the events every consumer must end up with.
func (l *ledger) committed(t *testing.T, c *client) map[string][]writeOp {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]writeOp{}
	unknown := 0
	for _, doc := range l.order {
		ops := l.docs[doc]
		r := c.do("GET", "/v1/collections/"+faultCollection+"/documents/"+doc, "")
		var held int64 // the version the server holds; 0: none
		switch r.Status {
		case http.StatusOK:
			d, err := decodeDoc([]byte(r.Body))
			if err != nil {
				t.Fatalf("GET %s: %v", doc, err)
			}
			held = d.Version
		case http.StatusNotFound:
		default:
			t.Fatalf("GET %s after the restart: %d %s", doc, r.Status, r.Body)
		}
		var done []writeOp
		for i, op := range ops {
			if op.state == opUnknown {
				if i != len(ops)-1 {
					t.Fatalf("%s: write %d of %d has no answer but later ones were sent", doc, i+1, len(ops))
				}
				unknown++
				if op.typ == "document.deleted" && held == 0 || op.typ != "document.deleted" && held == op.version {
					done = append(done, *op) // it committed: its event must exist
				}
				continue
			}
			done = append(done, *op)
		}
		// What the server holds must be what the committed writes left.
		want := int64(0)
		if n := len(done); n > 0 && done[n-1].typ != "document.deleted" {
			want = done[n-1].version
		}
		if held != want {
			t.Fatalf("%s: the server holds version %d after the restart, the writes %v leave %d", doc, held, ops, want)
		}
		if len(done) > 0 {
			out[doc] = done
		}
	}
	t.Logf("%d documents, %d writes acknowledged, %d without an answer", len(l.order), l.acked.Load(), unknown)
	return out
}

// eventSink collects the events a consumer received, in arrival order.
type eventSink struct {
	mu       sync.Mutex
	events   []changeEvent
	problems []string
}

func (k *eventSink) add(e changeEvent) {
	k.mu.Lock()
	k.events = append(k.events, e)
	k.mu.Unlock()
}

func (k *eventSink) problem(format string, args ...any) {
	k.mu.Lock()
	k.problems = append(k.problems, fmt.Sprintf(format, args...))
	k.mu.Unlock()
}

func (k *eventSink) snapshot() (events []changeEvent, problems []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.events), slices.Clone(k.problems)
}

// has reports whether every event of want was received.
func (k *eventSink) has(want map[string][]writeOp) bool {
	events, _ := k.snapshot()
	got := map[string]map[int64]bool{}
	for _, e := range events {
		if got[e.DocumentID] == nil {
			got[e.DocumentID] = map[int64]bool{}
		}
		got[e.DocumentID][e.Version] = true
	}
	for doc, ops := range want {
		for _, op := range ops {
			if !got[doc][op.version] {
				return false
			}
		}
	}
	return true
}

// checkConsumed checks the stream a consumer received against the
// committed writes and returns what is wrong with it:
//   - one event per committed write, none for a write that did not commit
//     (refused, or sent but never committed), nothing of another
//     collection;
//   - an event received more than once is the same event each time (id,
//     type, document, version, position), and positions are never given
//     twice;
//   - each document's events, in position order, are its writes in the
//     order they were made (versions increase);
//   - exactlyOnce: no event twice; ordered: arrival order is position
//     order.
func checkConsumed(got []changeEvent, want map[string][]writeOp, exactlyOnce, ordered bool) []string {
	var problems []string
	report := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	byID := map[string]changeEvent{}
	times := map[string]int{}
	byPosition := map[int64]string{}
	perDoc := map[string][]changeEvent{}
	var last int64
	for i, e := range got {
		if e.Collection != faultCollection || !strings.HasPrefix(e.Type, "document.") {
			if !strings.HasPrefix(e.Type, "collection.") || e.Collection != faultCollection {
				report("event %d is not of the load: %+v", i, e)
			}
			continue
		}
		if ordered && e.Position <= last {
			report("event %d (%s v%d) has position %d after position %d", i, e.DocumentID, e.Version, e.Position, last)
		}
		last = max(last, e.Position)
		times[e.ID]++
		if prev, ok := byID[e.ID]; ok {
			prev.Payload, e.Payload = nil, nil
			if fmt.Sprint(prev) != fmt.Sprint(e) {
				report("event %s arrived as %+v and as %+v", e.ID, prev, e)
			}
			continue
		}
		byID[e.ID] = e
		if other, ok := byPosition[e.Position]; ok {
			report("position %d was given to events %s and %s", e.Position, other, e.ID)
		}
		byPosition[e.Position] = e.ID
		perDoc[e.DocumentID] = append(perDoc[e.DocumentID], e)
	}
	if exactlyOnce {
		for id, n := range times {
			if n > 1 {
				e := byID[id]
				report("event %s (%s %s v%d) arrived %d times", id, e.Type, e.DocumentID, e.Version, n)
			}
		}
	}
	describe := func(typ string, version int64) string {
		return strings.TrimPrefix(typ, "document.") + fmt.Sprintf(" v%d", version)
	}
	for doc, ops := range want {
		events := perDoc[doc]
		slices.SortFunc(events, func(a, b changeEvent) int { return int(a.Position - b.Position) })
		var g, w []string
		for _, e := range events {
			g = append(g, describe(e.Type, e.Version))
		}
		for _, op := range ops {
			w = append(w, describe(op.typ, op.version))
		}
		if !slices.Equal(g, w) {
			report("%s: events in position order %v, writes committed %v", doc, g, w)
		}
	}
	for doc, events := range perDoc {
		if _, ok := want[doc]; !ok {
			report("%s: %d events, but no write of it committed", doc, len(events))
		}
	}
	return problems
}

// waitUntil polls cond until it holds (true) or limit passes (false).
func waitUntil(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// waitConsumed waits until sink holds every event of want, then checks
// its stream; at the deadline it reports what is missing.
func waitConsumed(t *testing.T, name string, sink *eventSink, want map[string][]writeOp, limit time.Duration, exactlyOnce, ordered bool) {
	t.Helper()
	waitUntil(limit, func() bool { return sink.has(want) })
	events, problems := sink.snapshot()
	problems = append(problems, checkConsumed(events, want, exactlyOnce, ordered)...)
	for _, p := range problems {
		t.Errorf("%s: %s", name, p)
	}
	if t.Failed() {
		t.Fatalf("%s: %d events received; the stream is wrong (above)", name, len(events))
	}
	t.Logf("%s: %d events received, every committed write's event there", name, len(events))
}

// webhookReceiver is a webhook endpoint on 127.0.0.1 that records the
// events it acknowledges. While holding, it keeps each request open until
// release is called or the sender goes away (those are not acknowledged).
type webhookReceiver struct {
	*httptest.Server
	sink    eventSink
	holding atomic.Bool
	held    atomic.Int64 // requests being held now
	release func()
}

func newWebhookReceiver(t *testing.T, hold bool) *webhookReceiver {
	r := &webhookReceiver{}
	r.holding.Store(hold)
	released := make(chan struct{})
	r.release = sync.OnceFunc(func() {
		r.holding.Store(false)
		close(released)
	})
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return // the sender went away
		}
		if r.holding.Load() {
			r.held.Add(1)
			select {
			case <-released:
				r.held.Add(-1)
			case <-req.Context().Done():
				r.held.Add(-1)
				return
			}
		}
		var e changeEvent
		if err := json.Unmarshal(body, &e); err != nil {
			r.sink.problem("a delivery that is not an event: %v: %.200s", err, body)
		} else {
			r.sink.add(e)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	t.Cleanup(r.release) // before Close: Close waits for held requests
	return r
}

// followStream collects the events of an event stream into sink until the
// stream ends, and then closes done.
func followStream(s *sseStream, sink *eventSink, lastID *atomic.Int64) (done chan struct{}) {
	done = make(chan struct{})
	go func() {
		defer close(done)
		for m := range s.messages {
			if !strings.HasPrefix(m.Event, "document.") && !strings.HasPrefix(m.Event, "collection.") {
				sink.problem("a %s message: %s", m.Event, m.Data)
				continue
			}
			var e changeEvent
			if err := json.Unmarshal([]byte(m.Data), &e); err != nil {
				sink.problem("event data: %v: %.200s", err, m.Data)
				continue
			}
			if m.ID != fmt.Sprint(e.Position) || m.Event != e.Type {
				sink.problem("message id %s event %s carries position %d type %s", m.ID, m.Event, e.Position, e.Type)
			}
			sink.add(e)
			lastID.Store(e.Position)
		}
	}()
	return done
}

// runWriters starts writers that each write their own documents until
// stop is closed, the server stops answering, or a bound is reached;
// every write is in the ledger. Each writer makes, per document in turn,
// one of a few histories, with a write the server refuses (no event)
// among them. wait returns when every writer has stopped.
func runWriters(t *testing.T, s *server, l *ledger, writers int, stop chan struct{}) (wait func()) {
	hc := &http.Client{Timeout: 5 * time.Second}
	base := "http://" + s.addr + "/v1/collections/" + faultCollection + "/documents"
	deadline := time.Now().Add(40 * time.Second)
	var wg sync.WaitGroup
	quit := make(chan struct{}) // the test ended (it may have failed early)
	t.Cleanup(func() {
		close(quit)
		wg.Wait()
	})
	for w := range writers {
		wg.Go(func() {
			// do sends one write; ok is false when the writer must stop.
			do := func(doc, typ string, version int64, method, url, body string, want int, headers ...string) bool {
				select {
				case <-stop:
					return false
				case <-quit:
					return false
				default:
				}
				if time.Now().After(deadline) {
					return false
				}
				var op *writeOp
				if typ != "" {
					op = l.sent(doc, typ, version)
				}
				st, b, err := hit(t.Context(), hc, s.token, method, url, body, headers...)
				if err != nil {
					return false // the server is gone: op stays unknown
				}
				if st != want {
					t.Errorf("%s %s: %d %s, want %d", method, url, st, b, want)
					return false
				}
				if op == nil {
					return true
				}
				if st != http.StatusNoContent {
					d, err := decodeDoc(b)
					if err != nil || d.Version != version {
						t.Errorf("%s %s: answered version %d (%v), want %d", method, url, d.Version, err, version)
						return false
					}
				}
				l.ack(op)
				return true
			}
			patch := []string{"Content-Type", "application/merge-patch+json"}
			for k := 0; k < 2000; k++ {
				doc := fmt.Sprintf("w%d-%d", w, k)
				u := base + "/" + doc
				if !do(doc, "document.created", 1, "POST", base+"?id="+doc, fmt.Sprintf(`{"n":%d}`, k), http.StatusCreated) {
					return
				}
				var ok bool
				switch k % 3 {
				case 0: // created, patched twice, deleted
					ok = do(doc, "document.patched", 2, "PATCH", u, `{"n":2}`, http.StatusOK, patch...) &&
						do(doc, "document.patched", 3, "PATCH", u, `{"n":3}`, http.StatusOK, patch...) &&
						do(doc, "document.deleted", 4, "DELETE", u, "", http.StatusNoContent)
				case 1: // created, replaced, patched: it stays
					ok = do(doc, "document.replaced", 2, "PUT", u, `{"n":20}`, http.StatusOK, "Content-Type", "application/json") &&
						do(doc, "document.patched", 3, "PATCH", u, `{"n":30}`, http.StatusOK, patch...)
				case 2: // created, patched, a refused patch (no event), deleted
					ok = do(doc, "document.patched", 2, "PATCH", u, `{"n":2}`, http.StatusOK, patch...) &&
						do(doc, "", 0, "PATCH", u, `{"n":99}`, http.StatusPreconditionFailed, append(patch, "If-Match", `"1"`)...) &&
						do(doc, "document.deleted", 3, "DELETE", u, "", http.StatusNoContent)
				}
				if !ok {
					return
				}
			}
		})
	}
	return wg.Wait
}

// killScenario is a kill -9 under write load and a restart on the same
// data, with a webhook and a realtime subscriber following the writes.
type killScenario struct {
	// serve are the flags of both processes beyond the data directory.
	serve []string
	// admin are `basalt admin create`'s storage flags.
	admin []string
	// hold makes the webhook endpoint hold its requests until the kill,
	// so that deliveries are in flight when the process dies.
	hold bool
	// ackedBeforeKill is how many acknowledged writes the kill waits for.
	ackedBeforeKill int64
	// peer (PostgreSQL) runs a second process on the database, which is
	// not killed and not restarted: the realtime subscriber follows it
	// without reconnecting, and it takes over the dead process's work
	// (relay, consumers, deliveries).
	peer bool
}

// webhookFlags let webhooks reach the test's endpoint on 127.0.0.1 and
// retry soon; a delivery in flight when a process dies is due again when
// its lease ends (twice the timeout plus 30 s).
var webhookFaultFlags = []string{"--webhook-allow-networks", "127.0.0.1/32", "--webhook-timeout", "1s",
	"--webhook-backoff-base", "100ms", "--webhook-backoff-max", "1s"}

func (sc killScenario) run(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startProcess(t, dataDir, sc.serve...)
	servers := []*server{s}
	if sc.peer {
		servers = append(servers, startProcess(t, filepath.Join(t.TempDir(), "peer"), sc.serve...))
	}
	actAsAdmin(t, append([]string{"--data-dir", dataDir}, sc.admin...), servers...)
	for i, p := range servers {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("logs of process %d (the first is killed):\n%s", i, p.logs.String())
			}
		})
	}
	follow := servers[len(servers)-1] // the realtime subscriber's server
	c := s.client(t)
	c.must(201, "POST", "/v1/collections", `{"name":"`+faultCollection+`","schema":{"type":"object","properties":{"n":{"type":"integer"}}}}`)
	rcv := newWebhookReceiver(t, sc.hold)
	c.must(201, "POST", "/v1/admin/webhooks", `{"url":"`+rcv.URL+`/hook","collection":"`+faultCollection+`"}`)
	var sse eventSink
	var lastID atomic.Int64
	streamDone := followStream(openStream(t, "http://"+follow.addr, "/v1/collections/"+faultCollection+"/events", follow.token), &sse, &lastID)

	l := newLedger()
	stop := make(chan struct{})
	wait := runWriters(t, s, l, 6, stop)
	waitFor(t, 20*time.Second, fmt.Sprintf("%d acknowledged writes", sc.ackedBeforeKill), func() bool {
		return l.acked.Load() >= sc.ackedBeforeKill
	})
	if sc.hold {
		waitFor(t, 20*time.Second, "four deliveries in flight at once", func() bool { return rcv.held.Load() >= 4 })
	}
	heldAtKill := rcv.held.Load()
	// SIGKILL: no chance to flush, record or drain.
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	close(stop)
	wait()
	if ok, err := s.wait(30 * time.Second); !ok || err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("server exit: %v (exited: %v), want killed", err, ok)
	}
	rcv.release()
	if !sc.peer {
		select {
		case <-streamDone:
		case <-time.After(10 * time.Second):
			t.Fatal("the event stream did not end when its server was killed")
		}
	}
	before, _ := sse.snapshot()
	t.Logf("killed with %d writes acknowledged and %d events streamed", l.acked.Load(), len(before))
	if sc.hold {
		t.Logf("%d webhook requests were in flight at the kill", heldAtKill)
	}

	var c2 *client
	if sc.peer {
		c2 = follow.client(t)
	} else {
		s2 := startProcess(t, dataDir, sc.serve...)
		s2.token = s.token // sessions survive the kill
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("logs of the restarted process:\n%s", s2.logs.String())
			}
		})
		c2 = s2.client(t)
		// Resume the stream where it stopped.
		followStream(openStream(t, c2.base, "/v1/collections/"+faultCollection+"/events", s2.token,
			"Last-Event-ID", fmt.Sprint(lastID.Load())), &sse, &lastID)
	}
	want := l.committed(t, c2)
	// A write after the restart: the stream, in position order, has every
	// earlier event once it has this one.
	marker := l.sent("marker", "document.created", 1)
	c2.must(201, "POST", "/v1/collections/"+faultCollection+"/documents?id=marker", `{"n":0}`)
	l.ack(marker)
	want["marker"] = []writeOp{*marker}

	waitConsumed(t, "realtime stream", &sse, want, 20*time.Second, true, true)
	waitConsumed(t, "webhook endpoint", &rcv.sink, want, 60*time.Second, false, false)
	t.Logf("every consumer complete %v after the kill", time.Since(killedAt).Round(time.Millisecond))
}

// The kill -9 tests run in parallel: most of their time is spent waiting
// for the leases of the webhook deliveries in flight at the kill (and on
// Kafka for the dead process's consumer group session) to end.

// TestEventsSurviveKill9 kills a server with SIGKILL during a write load of
// creates, replaces, patches, deletes and refused writes, restarts it on
// the same data, and checks what a webhook endpoint and a realtime
// subscriber (which resumes with Last-Event-ID) received: every committed
// write's event, per document in order, none for a write that did not
// commit; the subscriber each exactly once in position order. On each
// engine, on the Kafka bus, and with webhook deliveries in flight.
func TestEventsSurviveKill9(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		killScenario{serve: webhookFaultFlags, ackedBeforeKill: 300}.run(t)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		db := pgtest.URL(t)
		killScenario{serve: append([]string{"--db", db}, webhookFaultFlags...), admin: []string{"--db", db},
			ackedBeforeKill: 300}.run(t)
	})
	t.Run("sqlite+kafka", func(t *testing.T) {
		t.Parallel()
		// The relay publishes to Kafka and the webhooks consumer is a
		// consumer group: both are killed mid-batch.
		k := startDevKafka(t, "127.0.0.1:0", filepath.Join(t.TempDir(), "kafka"))
		killScenario{serve: append([]string{"--kafka", k.addr}, webhookFaultFlags...), ackedBeforeKill: 300}.run(t)
	})
	t.Run("postgres, a second process takes over", func(t *testing.T) {
		t.Parallel()
		db := pgtest.URL(t)
		killScenario{serve: append([]string{"--db", db}, webhookFaultFlags...), admin: []string{"--db", db},
			ackedBeforeKill: 300, peer: true}.run(t)
	})
	t.Run("deliveries in flight", func(t *testing.T) {
		t.Parallel()
		// The webhook endpoint holds its requests open, so deliveries
		// are in flight at the kill, while writes go on (the webhooks
		// consumer is mid-batch).
		killScenario{serve: webhookFaultFlags, hold: true, ackedBeforeKill: 100}.run(t)
	})
}

// TestCheckConsumed checks the checker: each way a stream can be wrong is
// reported, and a right stream passes.
func TestCheckConsumed(t *testing.T) {
	want := map[string][]writeOp{
		"a": {{doc: "a", typ: "document.created", version: 1}, {doc: "a", typ: "document.patched", version: 2},
			{doc: "a", typ: "document.deleted", version: 3}},
		"b": {{doc: "b", typ: "document.created", version: 1}},
	}
	ev := func(id, typ, doc string, version, position int64) changeEvent {
		return changeEvent{ID: id, Type: typ, Collection: faultCollection, DocumentID: doc, Version: version, Position: position}
	}
	a1 := ev("1", "document.created", "a", 1, 10)
	b1 := ev("2", "document.created", "b", 1, 11)
	a2 := ev("3", "document.patched", "a", 2, 12)
	a3 := ev("4", "document.deleted", "a", 3, 13)
	coll := changeEvent{ID: "5", Type: "collection.replaced", Collection: faultCollection, Version: 2, Position: 14}
	right := []changeEvent{a1, b1, a2, a3, coll}
	for _, tc := range []struct {
		name                 string
		got                  []changeEvent
		exactlyOnce, ordered bool
		wrong                string // a part of the problem reported; "" for none
	}{
		{name: "right", got: right, exactlyOnce: true, ordered: true},
		{name: "right, any arrival order", got: []changeEvent{a3, b1, a1, a2, a1}},
		{name: "missing", got: []changeEvent{a1, b1, a3}, wrong: "a: events in position order [created v1 deleted v3]"},
		{name: "no write committed", got: append(slices.Clone(right), ev("6", "document.created", "c", 1, 15)), wrong: "c: 1 events, but no write"},
		{name: "write not committed", got: append(slices.Clone(right), ev("6", "document.patched", "b", 2, 15)), wrong: "b: events in position order"},
		{name: "twice", got: append(slices.Clone(right), a3), exactlyOnce: true, wrong: "arrived 2 times"},
		{name: "out of order", got: []changeEvent{a1, a2, b1, a3}, ordered: true, wrong: "has position 11 after position 12"},
		{name: "positions against versions", got: []changeEvent{a1, b1, ev("3", "document.patched", "a", 2, 14), a3},
			wrong: "[created v1 deleted v3 patched v2]"},
		{name: "one position twice", got: []changeEvent{a1, ev("2", "document.created", "b", 1, 10), a2, a3}, wrong: "position 10 was given"},
		{name: "changed content", got: append(slices.Clone(right), ev("4", "document.deleted", "a", 3, 16)), wrong: "arrived as"},
		{name: "other collection", got: append(slices.Clone(right), changeEvent{ID: "7", Type: "document.created", Collection: "x", DocumentID: "a", Position: 20}),
			wrong: "not of the load"},
	} {
		problems := checkConsumed(tc.got, want, tc.exactlyOnce, tc.ordered)
		switch {
		case tc.wrong == "" && len(problems) > 0:
			t.Errorf("%s: problems %q", tc.name, problems)
		case tc.wrong != "" && !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.wrong) }):
			t.Errorf("%s: problems %q, want one with %q", tc.name, problems, tc.wrong)
		}
	}
}

// acknowledged returns, per document, the writes acknowledged so far.
func (l *ledger) acknowledged() map[string][]writeOp {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]writeOp{}
	for doc, ops := range l.docs {
		for _, op := range ops {
			if op.state == opAcked {
				out[doc] = append(out[doc], *op)
			}
		}
	}
	return out
}

// acknowledgedBetween returns how long the acknowledged writes sent
// between from and to took, slowest first.
func (l *ledger) acknowledgedBetween(from, to time.Time) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Duration
	for _, ops := range l.docs {
		for _, op := range ops {
			if op.state == opAcked && !op.sentAt.Before(from) && op.sentAt.Before(to) {
				out = append(out, op.took)
			}
		}
	}
	slices.SortFunc(out, func(a, b time.Duration) int { return int(b - a) })
	return out
}

// devKafka is a `basalt dev kafka` process.
type devKafka struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

// startDevKafka starts `basalt dev kafka` on addr (port 0: a free one)
// keeping its data in dataDir, and waits until it prints its address.
func startDevKafka(t *testing.T, addr, dataDir string) *devKafka {
	t.Helper()
	cmd := exec.Command(basaltBinary(t), "dev", "kafka", "--addr", addr, "--data-dir", dataDir)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	k := &devKafka{cmd: cmd, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "Start Basalt with:  basalt serve --kafka "); ok {
				addrc <- a
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(k.done)
	}()
	t.Cleanup(func() {
		select {
		case <-k.done:
		default:
			_ = cmd.Process.Kill()
			<-k.done
		}
	})
	select {
	case k.addr = <-addrc:
		return k
	case <-k.done:
		t.Fatalf("basalt dev kafka exited before serving\n%s", logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("basalt dev kafka did not start within 30s\n%s", logs.String())
	}
	return nil
}

// kill stops the process with SIGKILL and waits until it has exited.
func (k *devKafka) kill(t *testing.T) {
	t.Helper()
	if err := k.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-k.done:
	case <-time.After(10 * time.Second):
		t.Fatal("basalt dev kafka did not exit within 10s of SIGKILL")
	}
}

// TestEventsSurviveKafkaOutage runs Basalt on a Kafka development cluster
// (another process), kills the cluster with SIGKILL during a write load,
// and starts it again on the same port and data. Writes must go on being
// acknowledged quickly meanwhile (they never wait for Kafka), and the
// webhook endpoint — fed by a consumer group on Kafka — must end up with
// every write's event.
func TestEventsSurviveKafkaOutage(t *testing.T) {
	kafkaDir := filepath.Join(t.TempDir(), "kafka")
	k := startDevKafka(t, "127.0.0.1:0", kafkaDir)
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startProcess(t, dataDir, append([]string{"--kafka", k.addr}, webhookFaultFlags...)...)
	actAsAdmin(t, []string{"--data-dir", dataDir}, s)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logs.String())
		}
	})
	c := s.client(t)
	c.must(201, "POST", "/v1/collections", `{"name":"`+faultCollection+`","schema":{"type":"object","properties":{"n":{"type":"integer"}}}}`)
	rcv := newWebhookReceiver(t, false)
	c.must(201, "POST", "/v1/admin/webhooks", `{"url":"`+rcv.URL+`/hook","collection":"`+faultCollection+`"}`)
	// Realtime streams read the database's event log, not Kafka.
	var sse eventSink
	var lastID atomic.Int64
	followStream(openStream(t, c.base, "/v1/collections/"+faultCollection+"/events", s.token), &sse, &lastID)

	l := newLedger()
	stop := make(chan struct{})
	wait := runWriters(t, s, l, 2, stop)
	stopWriters := sync.OnceFunc(func() { close(stop); wait() })
	defer stopWriters()
	received := func() int { events, _ := rcv.sink.snapshot(); return len(events) }
	waitFor(t, 20*time.Second, "50 events at the webhook endpoint through Kafka", func() bool { return received() >= 50 })

	k.kill(t)
	down := time.Now()
	atDown := l.acked.Load()
	waitFor(t, 15*time.Second, "two seconds and 200 writes acknowledged with Kafka down (writes must not wait for Kafka)", func() bool {
		return l.acked.Load() >= atDown+200 && time.Since(down) >= 2*time.Second
	})
	if ack := l.acknowledged(); !waitUntil(5*time.Second, func() bool { return sse.has(ack) }) {
		t.Errorf("a realtime stream did not receive the writes acknowledged while Kafka was down")
	}
	up := time.Now()
	if n, acked := received(), l.acked.Load(); int64(n) >= acked-100 {
		t.Fatalf("the endpoint received %d events of %d writes while Kafka was down: are events going through Kafka?", n, acked)
	}
	startDevKafka(t, k.addr, kafkaDir) // the same port and data: stopped at the end of the test
	atUp := l.acked.Load()
	waitFor(t, 15*time.Second, "50 writes acknowledged after Kafka's return", func() bool { return l.acked.Load() >= atUp+50 })
	stopWriters()

	took := l.acknowledgedBetween(down, up)
	t.Logf("Kafka down %v: %d writes acknowledged meanwhile, slowest %v, median %v", up.Sub(down).Round(time.Millisecond),
		len(took), took[0], took[len(took)/2])
	// A write that waited for Kafka would take until it came back: the
	// median catches that; the slowest bound leaves room for a busy machine.
	if median := took[len(took)/2]; median > 100*time.Millisecond || took[0] > 1500*time.Millisecond {
		t.Errorf("writes took %v (median) and %v (slowest: %v) while Kafka was down: writes must not wait for Kafka",
			median, took[0], took[:min(5, len(took))])
	}
	want := l.committed(t, c)
	waitConsumed(t, "webhook endpoint", &rcv.sink, want, 40*time.Second, false, false)
	t.Logf("every event delivered %v after Kafka came back", time.Since(up).Round(time.Millisecond))
	waitConsumed(t, "realtime stream", &sse, want, 10*time.Second, true, true)
}
