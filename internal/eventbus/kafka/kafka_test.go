package kafka_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/eventbus/kafka"
	"github.com/basaltdev/basalt/internal/fault"
)

func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newBus(t *testing.T, brokers []string, mod ...func(*kafka.Config)) *kafka.Bus {
	t.Helper()
	cfg := kafka.Config{Brokers: brokers, Partitions: 3, RetryMin: 10 * time.Millisecond, RetryMax: 200 * time.Millisecond}
	for _, m := range mod {
		m(&cfg)
	}
	b, err := kafka.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func events(n int, docs int) []eventbus.Event {
	out := make([]eventbus.Event, n)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	versions := map[string]int64{}
	for i := range out {
		doc := fmt.Sprintf("d%d", i%docs)
		versions[doc]++
		out[i] = eventbus.Event{
			ID: fmt.Sprintf("e%04d", i), Type: eventbus.DocumentPatched, Collection: "c", DocumentID: doc,
			Version: versions[doc], Time: now.Add(time.Duration(i) * time.Millisecond),
			Payload: json.RawMessage(`{"n":1}`), Position: int64(i + 1),
		}
	}
	return out
}

// collect is a handler that records acknowledged events and signals.
type collect struct {
	mu     sync.Mutex
	got    []eventbus.Event
	calls  int
	fail   func(call int, events []eventbus.Event) error
	update chan struct{}
}

func newCollect() *collect { return &collect{update: make(chan struct{}, 1)} }

func (c *collect) handle(_ context.Context, evs []eventbus.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.calls
	c.calls++
	if c.fail != nil {
		if err := c.fail(n, evs); err != nil {
			return err
		}
	}
	c.got = append(c.got, evs...)
	select {
	case c.update <- struct{}{}:
	default:
	}
	return nil
}

func (c *collect) waitFor(t *testing.T, n int) []eventbus.Event {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		c.mu.Lock()
		got := append([]eventbus.Event(nil), c.got...)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-c.update:
		case <-deadline:
			t.Fatalf("got %d of %d events", len(got), n)
		}
	}
}

// TestRecords checks what reaches Kafka: the topic per stream, the key per
// document (collection events keyed by the collection), the JSON envelope
// as the value and the headers.
func TestRecords(t *testing.T) {
	c := newCluster(t)
	b := newBus(t, c.ListenAddrs(), func(cfg *kafka.Config) { cfg.TopicPrefix = "app1." })
	ctx := context.Background()
	doc := events(1, 1)[0]
	coll := eventbus.Event{ID: "e-coll", Type: eventbus.CollectionCreated, Collection: "c", Version: 1,
		Time: doc.Time, Payload: json.RawMessage(`{"name":"c"}`), Position: 2}
	if err := b.Publish(ctx, []eventbus.Event{doc, coll}); err != nil {
		t.Fatal(err)
	}
	docs, colls := b.Topics()
	if docs != "app1.documents" || colls != "app1.collections" {
		t.Fatalf("topics %q %q", docs, colls)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(docs, colls),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	byTopic := map[string]*kgo.Record{}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(byTopic) < 2 {
		fs := cl.PollFetches(pctx)
		if err := pctx.Err(); err != nil {
			t.Fatalf("got records of %d topics: %v", len(byTopic), err)
		}
		fs.EachRecord(func(r *kgo.Record) { byTopic[r.Topic] = r })
	}
	for topic, want := range map[string]eventbus.Event{docs: doc, colls: coll} {
		r := byTopic[topic]
		if string(r.Key) != want.Key() {
			t.Errorf("%s: key %q, want %q", topic, r.Key, want.Key())
		}
		var got eventbus.Event
		if err := json.Unmarshal(r.Value, &got); err != nil || got.ID != want.ID || got.Position != want.Position || got.Type != want.Type {
			t.Errorf("%s: value %s (%v), want the envelope of %s", topic, r.Value, err, want.ID)
		}
		headers := map[string]string{}
		for _, h := range r.Headers {
			headers[h.Key] = string(h.Value)
		}
		wantHeaders := map[string]string{
			kafka.HeaderID: want.ID, kafka.HeaderType: string(want.Type),
			kafka.HeaderPosition: fmt.Sprint(want.Position),
		}
		for k, v := range wantHeaders {
			if headers[k] != v {
				t.Errorf("%s: header %s = %q, want %q", topic, k, headers[k], v)
			}
		}
	}
}

// metric returns the value of the series of name whose labels include
// label=value (any series when label is empty).
func metric(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if match {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no metric %s{%s=%q}", name, label, value)
	return 0
}

// TestPublishFailsWhileBrokersRefuse: while the brokers refuse produce
// requests, Publish fails (within PublishTimeout) and counts the failure;
// once they accept again the same events are published and consumed, each
// once, in order.
func TestPublishFailsWhileBrokersRefuse(t *testing.T) {
	c := newCluster(t)
	reg := prometheus.NewRegistry()
	b := newBus(t, c.ListenAddrs(), func(cfg *kafka.Config) {
		cfg.PublishTimeout = time.Second
		cfg.Registerer = reg
	})
	ctx := context.Background()
	evs := events(20, 4)
	if err := b.Publish(ctx, evs[:10]); err != nil {
		t.Fatal(err)
	}
	refuse := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicas, Count: -1})
	for range 2 {
		if err := b.Publish(ctx, evs[10:]); err == nil {
			t.Fatal("Publish succeeded while every produce request failed")
		}
	}
	if refuse.Hits() == 0 {
		t.Fatal("no produce request reached the fault")
	}
	if got := metric(t, reg, "basalt_kafka_publish_errors_total", "", ""); got != 2 {
		t.Errorf("publish errors = %v, want 2", got)
	}
	refuse.Remove()
	if err := b.Publish(ctx, evs[10:]); err != nil {
		t.Fatalf("Publish after the brokers recovered: %v", err)
	}
	col := newCollect()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Consume(cctx, "after-fault", col.handle) }()
	got := col.waitFor(t, len(evs))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkOnceInOrder(t, evs, got)
	if got := metric(t, reg, "basalt_kafka_published_total", "stream", "documents"); got != 20 {
		t.Errorf("published = %v, want 20", got)
	}
}

// checkOnceInOrder checks that got holds each event of want once, and each
// document's events in position order.
func checkOnceInOrder(t *testing.T, want, got []eventbus.Event) {
	t.Helper()
	seen := map[string]int{}
	last := map[string]int64{}
	for _, e := range got {
		seen[e.ID]++
		if e.Position <= last[e.Key()] {
			t.Errorf("%s: position %d after %d", e.Key(), e.Position, last[e.Key()])
		}
		last[e.Key()] = e.Position
	}
	for _, e := range want {
		if seen[e.ID] != 1 {
			t.Errorf("event %s delivered %d times", e.ID, seen[e.ID])
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d events, want %d", len(got), len(want))
	}
}

// TestSkipsRecordsThatAreNotEvents: a record another producer wrote to the
// topic is counted and skipped; the events around it are delivered.
func TestSkipsRecordsThatAreNotEvents(t *testing.T) {
	c := newCluster(t)
	reg := prometheus.NewRegistry()
	b := newBus(t, c.ListenAddrs(), func(cfg *kafka.Config) { cfg.Registerer = reg; cfg.Partitions = 1 })
	ctx := context.Background()
	evs := events(4, 1)
	if err := b.Publish(ctx, evs[:2]); err != nil {
		t.Fatal(err)
	}
	docs, _ := b.Topics()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: docs, Key: []byte("c/d0"), Value: []byte("not json")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, evs[2:]); err != nil {
		t.Fatal(err)
	}
	col := newCollect()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Consume(cctx, "skipper", col.handle) }()
	got := col.waitFor(t, len(evs))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkOnceInOrder(t, evs, got)
	if got := metric(t, reg, "basalt_kafka_consume_errors_total", "reason", "decode"); got != 1 {
		t.Errorf("decode errors = %v, want 1", got)
	}
}

// TestClosed: a closed bus refuses every call with ErrClosed.
func TestClosed(t *testing.T) {
	c := newCluster(t)
	b := newBus(t, c.ListenAddrs())
	ctx := context.Background()
	if err := b.Check(ctx); err != nil {
		t.Fatalf("Check on a live cluster: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, events(1, 1)); !errors.Is(err, kafka.ErrClosed) {
		t.Errorf("Publish = %v", err)
	}
	if _, err := b.Lag(ctx, "x"); !errors.Is(err, kafka.ErrClosed) {
		t.Errorf("Lag = %v", err)
	}
	if err := b.Consume(ctx, "x", newCollect().handle); !errors.Is(err, kafka.ErrClosed) {
		t.Errorf("Consume = %v", err)
	}
	if err := b.Check(ctx); !errors.Is(err, kafka.ErrClosed) {
		t.Errorf("Check = %v", err)
	}
}

func TestConfig(t *testing.T) {
	for _, brokers := range [][]string{nil, {""}} {
		if _, err := kafka.New(kafka.Config{Brokers: brokers}); err == nil {
			t.Errorf("New with brokers %q = nil error", brokers)
		}
	}
	b, err := kafka.New(kafka.Config{Brokers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if d, c := b.Topics(); d != "basalt.documents" || c != "basalt.collections" || b.Group("search") != "basalt.search" {
		t.Errorf("default names: %s %s %s", d, c, b.Group("search"))
	}
}

// TestLargeEvents: an event larger than Kafka's default record limit (1
// MB), as a large document gives, is published and consumed.
func TestLargeEvents(t *testing.T) {
	c := newCluster(t)
	b := newBus(t, c.ListenAddrs())
	ctx := context.Background()
	evs := events(2, 1)
	big := `{"blob":"` + strings.Repeat("x", 2<<20) + `"}`
	evs[1].Payload = json.RawMessage(big)
	if err := b.Publish(ctx, evs); err != nil {
		t.Fatalf("publishing a 2 MiB event: %v", err)
	}
	col := newCollect()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Consume(cctx, "large", col.handle) }()
	got := col.waitFor(t, 2)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got[1].Payload) != len(big) {
		t.Errorf("consumed a payload of %d bytes, want %d", len(got[1].Payload), len(big))
	}
}

// TestLagWhileBrokersHang: Lag answers within AdminTimeout, with an
// Unavailable fault, while the brokers accept requests but do not answer
// them, and again once they do.
func TestLagWhileBrokersHang(t *testing.T) {
	c := newCluster(t)
	b := newBus(t, c.ListenAddrs(), func(cfg *kafka.Config) { cfg.AdminTimeout = 500 * time.Millisecond })
	ctx := context.Background()
	if err := b.Publish(ctx, events(3, 1)); err != nil {
		t.Fatal(err)
	}
	if lag, err := b.Lag(ctx, "late"); err != nil || lag != 3 {
		t.Fatalf("Lag = %d, %v; want 3", lag, err)
	}
	var hang sync.Mutex
	hanging := true
	c.ControlKey(int16(kmsg.OffsetFetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		hang.Lock()
		defer hang.Unlock()
		if !hanging {
			return nil, nil, false
		}
		c.KeepControl()
		return nil, nil, true // no answer
	})
	start := time.Now()
	_, err := b.Lag(ctx, "late")
	if !fault.Is(err, fault.Unavailable) {
		t.Errorf("Lag with hanging brokers = %v, want an Unavailable fault", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Lag took %v with hanging brokers, want about AdminTimeout", d)
	}
	hang.Lock()
	hanging = false
	hang.Unlock()
}

// TestPublishWhileBrokersHang: a produce request the brokers never answer
// fails Publish at PublishTimeout (the relay then backs off and publishes
// again) instead of blocking it, and the events are published once the
// brokers answer again.
func TestPublishWhileBrokersHang(t *testing.T) {
	c := newCluster(t)
	b := newBus(t, c.ListenAddrs(), func(cfg *kafka.Config) { cfg.PublishTimeout = time.Second })
	ctx := context.Background()
	evs := events(6, 2)
	if err := b.Publish(ctx, evs[:3]); err != nil {
		t.Fatal(err)
	}
	var hang sync.Mutex
	hanging := true
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		hang.Lock()
		defer hang.Unlock()
		if !hanging {
			return nil, nil, false
		}
		c.KeepControl()
		return nil, nil, true // no answer
	})
	start := time.Now()
	if err := b.Publish(ctx, evs[3:]); err == nil {
		t.Fatal("Publish succeeded while the brokers answered no produce request")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Publish took %v with hanging brokers, want about PublishTimeout", d)
	}
	hang.Lock()
	hanging = false
	hang.Unlock()
	if err := b.Publish(ctx, evs[3:]); err != nil {
		t.Fatalf("Publish once the brokers answer again: %v", err)
	}
	st := &stream{update: make(chan struct{}, 1)}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Consume(cctx, "after-hang", st.handle) }()
	st.waitFor(t, evs)
	got := st.events()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The hung request may have been written: repeats are allowed, gaps
	// and reordering are not.
	seen := map[string]bool{}
	last := map[string]int64{}
	for _, e := range got {
		if !seen[e.ID] && e.Position < last[e.Key()] {
			t.Errorf("%s: position %d first delivered after %d", e.Key(), e.Position, last[e.Key()])
		}
		seen[e.ID] = true
		last[e.Key()] = max(last[e.Key()], e.Position)
	}
	for _, e := range evs {
		if !seen[e.ID] {
			t.Errorf("event %s never delivered", e.ID)
		}
	}
}
