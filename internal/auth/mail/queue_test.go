package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/fault"
)

// fakeSender records attempts; fail decides whether an attempt fails.
type fakeSender struct {
	mu       sync.Mutex
	attempts []string // subjects, one per attempt
	sent     []string // subjects delivered
	fail     func(m Message, attempt int) error
	block    bool // wait for the context instead of sending
	started  chan string
}

func (f *fakeSender) Send(ctx context.Context, m Message) error {
	f.mu.Lock()
	f.attempts = append(f.attempts, m.Subject)
	n := 0
	for _, s := range f.attempts {
		if s == m.Subject {
			n++
		}
	}
	fail, block, started := f.fail, f.block, f.started
	f.mu.Unlock()
	if started != nil {
		started <- m.Subject
	}
	if block {
		<-ctx.Done()
		return fault.Wrap(fault.Unavailable, "fake", ctx.Err(), "cancelled")
	}
	if fail != nil {
		if err := fail(m, n); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.sent = append(f.sent, m.Subject)
	f.mu.Unlock()
	return nil
}

func (f *fakeSender) snapshot() (attempts, sent []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.attempts...), append([]string(nil), f.sent...)
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// runQueue starts q.Run and returns a function that stops it and returns
// Run's result.
func runQueue(t *testing.T, q *Queue) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	stopped := false
	var result error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case result = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func msg(subject string) Message {
	return Message{To: "ada@example.com", Subject: subject, Text: "x"}
}

func TestQueueSendsInOrder(t *testing.T) {
	f := &fakeSender{}
	q := NewQueue(f, 10, nil)
	var want []string
	for i := range 10 {
		s := fmt.Sprint("m", i)
		want = append(want, s)
		if err := q.Enqueue(msg(s)); err != nil {
			t.Fatal(err)
		}
	}
	stop := runQueue(t, q)
	waitFor(t, "all mail sent", func() bool { _, sent := f.snapshot(); return len(sent) == 10 })
	if _, sent := f.snapshot(); strings.Join(sent, ",") != strings.Join(want, ",") {
		t.Fatalf("sent %v, want %v", sent, want)
	}
	// Mail enqueued while running is sent too.
	if err := q.Enqueue(msg("later")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "later mail sent", func() bool { _, sent := f.snapshot(); return len(sent) == 11 })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestQueueRetriesThenSends(t *testing.T) {
	f := &fakeSender{fail: func(m Message, attempt int) error {
		if m.Subject == "flaky" && attempt < 3 {
			return fault.New(fault.Unavailable, "fake", "server busy")
		}
		return nil
	}}
	q := NewQueue(f, 10, nil)
	q.backoff = time.Millisecond
	for _, s := range []string{"flaky", "after"} {
		if err := q.Enqueue(msg(s)); err != nil {
			t.Fatal(err)
		}
	}
	runQueue(t, q)
	waitFor(t, "both sent", func() bool { _, sent := f.snapshot(); return len(sent) == 2 })
	attempts, sent := f.snapshot()
	if strings.Join(attempts, ",") != "flaky,flaky,flaky,after" || strings.Join(sent, ",") != "flaky,after" {
		t.Fatalf("attempts %v, sent %v", attempts, sent)
	}
}

func TestQueueDropsAfterRetries(t *testing.T) {
	logs := &syncBuffer{}
	f := &fakeSender{fail: func(m Message, _ int) error {
		switch m.Subject {
		case "down":
			return errors.New("connection refused")
		case "invalid":
			return fault.New(fault.Invalid, "fake", "mailbox does not exist")
		}
		return nil
	}}
	q := NewQueue(f, 10, slog.New(slog.NewJSONHandler(logs, nil)))
	q.backoff = time.Millisecond
	for _, s := range []string{"down", "invalid", "ok"} {
		if err := q.Enqueue(msg(s)); err != nil {
			t.Fatal(err)
		}
	}
	runQueue(t, q)
	waitFor(t, "the last message", func() bool { _, sent := f.snapshot(); return len(sent) == 1 })
	attempts, _ := f.snapshot()
	want := strings.Repeat("down,", DefaultSendAttempts) + "invalid,ok"
	if strings.Join(attempts, ",") != want {
		t.Fatalf("attempts %v, want %s", attempts, want)
	}
	out := logs.String()
	if strings.Count(out, `"msg":"mail dropped"`) != 2 || strings.Contains(out, `"text"`) {
		t.Fatalf("logs:\n%s", out)
	}
}

func TestQueueStopsOnCancel(t *testing.T) {
	// While a send is in flight.
	f := &fakeSender{block: true, started: make(chan string, 1)}
	q := NewQueue(f, 10, nil)
	for _, s := range []string{"a", "b"} {
		if err := q.Enqueue(msg(s)); err != nil {
			t.Fatal(err)
		}
	}
	stop := runQueue(t, q)
	<-f.started
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if attempts, _ := f.snapshot(); len(attempts) != 1 || q.Len() != 1 {
		t.Fatalf("attempts %v, %d left; want one attempt and b left", attempts, q.Len())
	}

	// While waiting to retry.
	f = &fakeSender{fail: func(Message, int) error { return errors.New("down") }, started: make(chan string, 1)}
	q = NewQueue(f, 10, nil)
	q.backoff = time.Hour
	if err := q.Enqueue(msg("a")); err != nil {
		t.Fatal(err)
	}
	stop = runQueue(t, q)
	<-f.started
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if attempts, _ := f.snapshot(); len(attempts) != 1 {
		t.Fatalf("attempts %v", attempts)
	}
}

// TestQueueFlushSendsEverythingQueued: Flush returns once every message
// queued has been sent, so that ending Run's context afterwards loses
// nothing; a Flush whose context ends first returns its error and leaves
// Run sending.
func TestQueueFlushSendsEverythingQueued(t *testing.T) {
	f := &fakeSender{}
	q := NewQueue(f, 10, nil)
	for _, s := range []string{"a", "b", "c"} {
		if err := q.Enqueue(msg(s)); err != nil {
			t.Fatal(err)
		}
	}
	stop := runQueue(t, q)
	if err := q.Flush(t.Context()); err != nil {
		t.Fatalf("Flush = %v", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if _, sent := f.snapshot(); strings.Join(sent, ",") != "a,b,c" || q.Len() != 0 {
		t.Fatalf("sent %v, %d left; want a,b,c and none", sent, q.Len())
	}

	// A send that does not finish: Flush gives up with its context.
	f = &fakeSender{block: true, started: make(chan string, 1)}
	q = NewQueue(f, 10, nil)
	if err := q.Enqueue(msg("slow")); err != nil {
		t.Fatal(err)
	}
	stop = runQueue(t, q)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-f.started
		cancel()
	}()
	if err := q.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush = %v, want context.Canceled", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestQueueEnqueueNeverBlocks(t *testing.T) {
	q := NewQueue(&fakeSender{}, 2, nil)
	for i := range 2 {
		if err := q.Enqueue(msg(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- q.Enqueue(msg("overflow")) }()
	select {
	case err := <-done:
		if !fault.Is(err, fault.Unavailable) {
			t.Fatalf("Enqueue on a full queue = %v, want Unavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Enqueue blocked on a full queue")
	}
	if q.Len() != 2 {
		t.Fatalf("Len = %d", q.Len())
	}
	if got := NewQueue(&fakeSender{}, 0, nil); cap(got.pending) != DefaultQueueCapacity {
		t.Fatalf("default capacity = %d", cap(got.pending))
	}
}

// The queue and the SMTP sender together: what is enqueued arrives.
func TestQueueOverSMTP(t *testing.T) {
	srv := startSMTP(t, nil)
	q := NewQueue(newSender(t, SMTPConfig{Addr: srv.addr(), From: "no-reply@basalt.example"}), 10, nil)
	for _, s := range []string{"one", "two"} {
		if err := q.Enqueue(msg(s)); err != nil {
			t.Fatal(err)
		}
	}
	runQueue(t, q)
	got := srv.waitSessions(t, 2)
	all := got[0].Data + got[1].Data
	for _, want := range []string{"Subject: one\r\n", "Subject: two\r\n"} {
		if !strings.Contains(all, want) {
			t.Errorf("no session carried %q:\n%s", want, all)
		}
	}
}
