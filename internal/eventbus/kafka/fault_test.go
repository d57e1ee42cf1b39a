package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/eventbus/kafka"
	"github.com/basaltdev/basalt/internal/outbox"
)

// TestKafkaStoppedDuringWrites stops the Kafka cluster while documents are
// written and the relay publishes them, then starts it again on the same
// port and data directory. Writes go on while Kafka is down; the relay
// keeps failing without moving its cursor past what Kafka did not take;
// once Kafka is back the backlog drains and a consumer that ran all along
// has every event, each document's in position order.
func TestKafkaStoppedDuringWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	addr := cluster.ListenAddrs()[0]
	_, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cluster.Close()
		}
	})

	st := openSQLite(t)
	reg := prometheus.NewRegistry()
	bus := newBus(t, []string{addr}, func(c *kafka.Config) {
		c.PublishTimeout = time.Second
		c.Registerer = reg
	})
	relay, err := outbox.New(outbox.Config{Log: st, Cursors: st, Bus: bus, Registerer: reg,
		PollInterval: 50 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() { stopRun(); wg.Wait() })
	wg.Go(func() { _ = relay.Run(runCtx) })

	seen := &stream{update: make(chan struct{}, 1)}
	wg.Go(func() {
		if err := bus.Consume(runCtx, "checker", seen.handle); err != nil {
			t.Errorf("Consume: %v", err)
		}
	})

	w := &writer{t: t, st: st, relay: relay, versions: map[string]int64{}}
	w.write(10, 3) // 30 events before the outage
	seen.waitFor(t, w.all)

	// The consumer may see a batch before the relay stored its cursor:
	// let the relay finish with what Kafka took.
	_, newest, err := st.LogBounds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the relay's cursor to reach the newest event", func() bool { return relayCursor(t, st) == newest })
	cursorBefore := newest
	cluster.Close()
	stopped = true
	failuresBefore := metric(t, reg, "basalt_outbox_publish_failures_total", "", "")
	start := time.Now()
	w.write(20, 3) // 60 events while Kafka is down
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("20 writes took %v while Kafka was down: writes must not wait for the bus", d)
	}
	waitUntil(t, "the relay failing to publish twice", func() bool {
		return metric(t, reg, "basalt_outbox_publish_failures_total", "", "") >= failuresBefore+2
	})
	if got := relayCursor(t, st); got != cursorBefore {
		t.Errorf("the relay's cursor moved from %d to %d while Kafka was down", cursorBefore, got)
	}
	if metric(t, reg, "basalt_kafka_publish_errors_total", "", "") == 0 {
		t.Error("the bus counted no publish errors while Kafka was down")
	}

	cluster, err = kfake.NewCluster(kfake.Ports(port), kfake.DataDir(dir))
	if err != nil {
		t.Fatalf("starting Kafka again on port %d: %v", port, err)
	}
	stopped = false
	w.write(10, 3) // 30 more after it is back
	seen.waitFor(t, w.all)
	checkAtLeastOnceInOrder(t, w.all, seen.events())
	waitUntil(t, "the consumer's lag to reach 0", func() bool {
		lag, err := bus.Lag(ctx, "checker")
		return err == nil && lag == 0
	})
}

// writer commits change events to the outbox, as document writes do, and
// wakes the relay.
type writer struct {
	t        *testing.T
	st       engineStore
	relay    *outbox.Relay
	n        int
	versions map[string]int64
	all      []eventbus.Event
}

// write commits writes transactions of perWrite events each.
func (w *writer) write(writes, perWrite int) {
	w.t.Helper()
	for range writes {
		var batch []eventbus.Event
		for range perWrite {
			w.n++
			doc := fmt.Sprintf("doc-%d", (w.n*7)%10)
			w.versions[doc]++
			id, err := uuid.NewV7()
			if err != nil {
				w.t.Fatal(err)
			}
			typ := eventbus.DocumentPatched
			if w.versions[doc] == 1 {
				typ = eventbus.DocumentCreated
			}
			batch = append(batch, eventbus.Event{ID: id.String(), Type: typ, Collection: "things", DocumentID: doc,
				Version: w.versions[doc], Time: time.Now().UTC().Truncate(time.Millisecond),
				Payload: json.RawMessage(fmt.Sprintf(`{"id":%q,"n":%d}`, doc, w.n))})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.st.Write(ctx, func(tx docstore.Tx) error {
			for _, e := range batch {
				if err := tx.AppendOutbox(ctx, e); err != nil {
					return err
				}
			}
			return nil
		})
		cancel()
		if err != nil {
			w.t.Fatalf("write: %v", err)
		}
		w.relay.Wake()
		w.all = append(w.all, batch...)
	}
}

func relayCursor(t *testing.T, st eventbus.Cursors) int64 {
	t.Helper()
	pos, _, err := st.Cursor(context.Background(), eventbus.RelayName)
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

// stream is a consumer's acknowledged events.
type stream struct {
	mu     sync.Mutex
	got    []eventbus.Event
	update chan struct{}
}

func (s *stream) handle(_ context.Context, events []eventbus.Event) error {
	s.mu.Lock()
	s.got = append(s.got, events...)
	s.mu.Unlock()
	select {
	case s.update <- struct{}{}:
	default:
	}
	return nil
}

func (s *stream) events() []eventbus.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]eventbus.Event(nil), s.got...)
}

// waitFor waits until every event of want was delivered.
func (s *stream) waitFor(t *testing.T, want []eventbus.Event) {
	t.Helper()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		seen := map[string]bool{}
		for _, e := range s.events() {
			seen[e.ID] = true
		}
		missing := 0
		for _, e := range want {
			if !seen[e.ID] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		select {
		case <-s.update:
		case <-deadline.C:
			t.Fatalf("%d of %d events never delivered", missing, len(want))
		}
	}
}

// checkAtLeastOnceInOrder checks a delivered stream against the events
// written: every event is delivered, as written, and nothing else; per
// document, each event delivered for the first time comes after every
// earlier one of that document (an event delivered again, after a retried
// publish, may repeat, but nothing is skipped or reordered).
func checkAtLeastOnceInOrder(t *testing.T, written, got []eventbus.Event) {
	t.Helper()
	byID := map[string]eventbus.Event{}
	next := map[string]int{} // per document, index of the next event due
	perDoc := map[string][]string{}
	for _, e := range written {
		byID[e.ID] = e
		perDoc[e.Key()] = append(perDoc[e.Key()], e.ID)
	}
	seen := map[string]bool{}
	dups := 0
	for _, e := range got {
		w, ok := byID[e.ID]
		if !ok {
			t.Errorf("event %s was never written", e.ID)
			continue
		}
		if e.Version != w.Version || e.Type != w.Type || e.Key() != w.Key() || string(e.Payload) != string(w.Payload) {
			t.Errorf("event %s delivered as %+v, written as %+v", e.ID, e, w)
		}
		if seen[e.ID] {
			dups++
			continue
		}
		seen[e.ID] = true
		k := e.Key()
		if due := perDoc[k][next[k]]; due != e.ID {
			t.Errorf("%s: event v%d delivered before v%d", k, e.Version, byID[due].Version)
		}
		next[k]++
	}
	for k, ids := range perDoc {
		if next[k] != len(ids) {
			t.Errorf("%s: %d of %d events delivered", k, next[k], len(ids))
		}
	}
	t.Logf("%d events written, %d delivered (%d again)", len(written), len(got), dups)
}

// waitUntil polls cond until it holds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("waited 60s for %s", what)
		}
	}
}
