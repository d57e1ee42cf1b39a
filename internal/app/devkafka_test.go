package app

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDevKafkaFlags: "basalt dev kafka" takes its flags from the command
// line only: serve's environment (BASALT_ADDR, BASALT_DATA_DIR) leaves it
// on its own defaults.
func TestDevKafkaFlags(t *testing.T) {
	env := map[string]string{"BASALT_ADDR": "127.0.0.1:8080", "BASALT_DATA_DIR": "/var/lib/basalt", "BASALT_BROKERS": "7"}
	cmd, err := parse(t, env, "dev", "kafka")
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Name != "dev kafka" || cmd.Config.DevKafka.Addr != "127.0.0.1:9092" || cmd.Config.DevKafka.Brokers != 1 || cmd.Config.DevKafka.DataDir != "" {
		t.Errorf("dev kafka with serve's environment: %q %+v", cmd.Name, cmd.Config.DevKafka)
	}
	cmd, err = parse(t, env, "dev", "kafka", "--addr", "127.0.0.1:0", "--brokers", "3", "--data-dir", "/tmp/k")
	if err != nil {
		t.Fatal(err)
	}
	if got := cmd.Config.DevKafka; got.Addr != "127.0.0.1:0" || got.Brokers != 3 || got.DataDir != "/tmp/k" {
		t.Errorf("dev kafka flags: %+v", got)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDevKafka runs the command on a free port: it prints the bootstrap
// address, a client produces and consumes a record there, and the command
// returns when its context ends.
func TestDevKafka(t *testing.T) {
	cmd, err := parse(t, nil, "dev", "kafka", "--addr", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, logs lockedBuffer
	cmd.Config.Logs = &logs
	done := make(chan error, 1)
	go func() { done <- DevKafka(ctx, cmd.Config, &out) }()

	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	addr := ""
	for addr == "" {
		if _, rest, ok := strings.Cut(out.String(), "basalt serve --kafka "); ok {
			addr, _, _ = strings.Cut(rest, "\n")
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("no bootstrap address printed: %q", out.String())
		}
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(),
		kgo.ConsumeTopics("try"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	defer pcancel()
	if err := cl.ProduceSync(pctx, &kgo.Record{Topic: "try", Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) == 0 {
		fs := cl.PollFetches(pctx)
		if pctx.Err() != nil {
			t.Fatal("no record consumed")
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if got[0] != "hello" {
		t.Errorf("consumed %q", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-deadline.C:
		t.Fatal("dev kafka did not stop when its context ended")
	}
}
