package devkafka_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/basaltdev/basalt/internal/devkafka"
)

// roundTrip produces one record to topic (created on first use) and
// returns the values the topic holds.
func roundTrip(t *testing.T, addrs []string, topic, value string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.AllowAutoTopicCreation(),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	var got []string
	for !contains(got, value) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %q, waiting for %q: %v", got, value, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestStartProduceConsume(t *testing.T) {
	c, err := devkafka.Start(devkafka.Config{Addr: "127.0.0.1:0", Brokers: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n := len(c.Addrs()); n != 3 {
		t.Fatalf("%d brokers, want 3", n)
	}
	if got := roundTrip(t, c.Addrs()[1:2], "hello", "world"); len(got) != 1 {
		t.Errorf("topic holds %q, want one record", got)
	}
}

// TestDataDirKeepsRecords: with a data directory, a cluster started again
// on the same ports has the records of the one before.
func TestDataDirKeepsRecords(t *testing.T) {
	dir := t.TempDir()
	c, err := devkafka.Start(devkafka.Config{Addr: "127.0.0.1:0", Brokers: 1, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.Addrs()[0]
	roundTrip(t, c.Addrs(), "kept", "first")
	c.Close()

	c, err = devkafka.Start(devkafka.Config{Addr: addr, Brokers: 1, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := roundTrip(t, c.Addrs(), "kept", "second")
	// Records without a key may go to any partition of the topic, and
	// partitions are read in no set order: the records, not their order.
	if len(got) != 2 || !contains(got, "first") || !contains(got, "second") {
		t.Errorf("after a restart the topic holds %q, want first and second", got)
	}
}

// syncBuffer is a bytes.Buffer safe to read while Run writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRun prints the bootstrap address, serves until its context ends and
// then stops listening.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- devkafka.Run(ctx, devkafka.Config{Addr: "127.0.0.1:0", Brokers: 1}, &out) }()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var addr string
	for addr == "" {
		if _, rest, ok := strings.Cut(out.String(), "--kafka "); ok {
			addr, _, _ = strings.Cut(rest, "\n")
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("no address printed: %q", out.String())
		}
	}
	roundTrip(t, []string{addr}, "run", "x")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-deadline.C:
		t.Fatal("Run did not return after its context ended")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []devkafka.Config{
		{Addr: "127.0.0.1:0", Brokers: 0},
		{Addr: "nonsense", Brokers: 1},
		{Addr: "127.0.0.1:65535", Brokers: 2},
	} {
		if c, err := devkafka.Start(cfg); err == nil {
			c.Close()
			t.Errorf("Start(%+v) = nil error", cfg)
		}
	}
}
