package restapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/realtime"
)

// testLog is an event log in memory.
type testLog struct {
	mu  sync.Mutex
	evs []eventbus.Event
	// reads, when set, receives the position each ReadEvents reads after
	// (dropped when full).
	reads chan int64
}

func (l *testLog) append(evs ...eventbus.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range evs {
		e.Position = int64(len(l.evs) + 1)
		l.evs = append(l.evs, e)
	}
}

func (l *testLog) Sequence(context.Context, int) (int, error) { return 0, nil }

func (l *testLog) ReadEvents(_ context.Context, after int64, limit int) ([]eventbus.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reads != nil {
		select {
		case l.reads <- after:
		default:
		}
	}
	if after >= int64(len(l.evs)) {
		return nil, nil
	}
	return append([]eventbus.Event(nil), l.evs[after:min(int(after)+limit, len(l.evs))]...), nil
}

func (l *testLog) LogBounds(context.Context) (int64, int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return 0, int64(len(l.evs)), nil
}

func (l *testLog) TrimEvents(context.Context, time.Time, int64) (int64, error) { return 0, nil }
func (l *testLog) LogSize(context.Context) (int64, int64, error)               { return 0, 0, nil }

// everything delivers every event whole.
type everything struct{}

func (everything) DeliverShared(_ context.Context, e *docstore.SharedEvent) (docstore.Decision, error) {
	v := e.AsWritten()
	return docstore.Decision{Deliver: true, Event: v.Event(), View: v}, nil
}

// writeRecorder records each write of a stream, and counts its flushes.
type writeRecorder struct {
	mu      sync.Mutex
	h       http.Header
	writes  []string
	flushes int
	wrote   chan struct{} // a write happened
}

func (w *writeRecorder) Header() http.Header { return w.h }
func (w *writeRecorder) WriteHeader(int)     {}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.writes = append(w.writes, string(p))
	w.mu.Unlock()
	select {
	case w.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (w *writeRecorder) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushes++
}

// waitFor waits until cond holds for the writes so far, or fails after
// 10 s.
func (w *writeRecorder) waitFor(t *testing.T, cond func(writes []string) bool) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		w.mu.Lock()
		writes := append([]string(nil), w.writes...)
		w.mu.Unlock()
		if cond(writes) {
			return writes
		}
		select {
		case <-w.wrote:
		case <-deadline:
			t.Fatalf("writes so far: %q", writes)
		}
	}
}

// TestStreamSendsQueuedMessagesTogether: the events waiting for a stream
// go out in one write and one flush, each encoded exactly as alone, and a
// message that ends the stream goes out with the events before it.
func TestStreamSendsQueuedMessagesTogether(t *testing.T) {
	log, news := &testLog{reads: make(chan int64, 16)}, &eventbus.Signal{}
	hub, err := realtime.New(realtime.Options{Log: log, News: news, Poll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan error, 1)
	go func() { hubDone <- hub.Run(hubCtx) }()
	t.Cleanup(func() {
		stopHub()
		if err := <-hubDone; err != nil {
			t.Errorf("hub: %v", err)
		}
	})
	sub, err := hub.Subscribe(t.Context(), realtime.Request{Collection: "posts", Deliverer: everything{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var evs []eventbus.Event
	for _, id := range []string{"d0", "d1", "d2", "d3"} {
		evs = append(evs, eventbus.Event{ID: "e-" + id, Type: eventbus.DocumentCreated, Collection: "posts", DocumentID: id,
			Version: 1, Time: at, Payload: []byte(`{"id":"` + id + `","data":{"html":"<b>"}}`)})
	}
	log.append(evs...)
	// The four events wait in the subscription's queue before the stream
	// reads it: the hub reads the log after position 4 only once it has
	// queued them (it fans a batch out before it reads again).
	deadline := time.After(10 * time.Second)
	for queued := false; !queued; {
		news.Notify()
		select {
		case after := <-log.reads:
			queued = after == int64(len(evs))
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatal("the hub did not read the events")
		}
	}
	w := &writeRecorder{h: http.Header{}, wrote: make(chan struct{}, 1)}
	a := New(nil, Options{Heartbeat: time.Hour})
	r := httptest.NewRequest(http.MethodGet, "/v1/collections/posts/events", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.stream(w, r, sub)
	}()
	writes := w.waitFor(t, func(ws []string) bool { return strings.Count(strings.Join(ws, ""), "event: document.created") == 4 })
	if len(writes) != 2 {
		t.Fatalf("%d writes, want the stream's opening and one with the four events: %q", len(writes), writes)
	}
	var want strings.Builder
	for i, e := range evs {
		e.Position = int64(i + 1)
		b, err := sseFrame(strconv.Itoa(i+1), string(e.Type), e)
		if err != nil {
			t.Fatal(err)
		}
		want.Write(b)
	}
	if writes[1] != want.String() {
		t.Errorf("sent:\n%s\nwant:\n%s", writes[1], want.String())
	}
	if !strings.Contains(writes[1], "id: 1\nevent: document.created\ndata: {\"id\":\"e-d0\"") ||
		!strings.Contains(writes[1], `"payload":{"id":"d0","data":{"html":"<b>"}}`) {
		t.Errorf("not the SSE encoding of the events: %q", writes[1])
	}
	log.append(eventbus.Event{ID: "e-d4", Type: eventbus.DocumentCreated, Collection: "posts", DocumentID: "d4", Time: at,
		Payload: []byte(`{"id":"d4"}`)})
	news.Notify()
	w.waitFor(t, func(ws []string) bool { return strings.Contains(strings.Join(ws, ""), "id: 5\n") })
	hub.Drain()
	<-done
	w.mu.Lock()
	defer w.mu.Unlock()
	if last := w.writes[len(w.writes)-1]; !strings.HasPrefix(last, "event: shutdown\n") {
		t.Errorf("last write %q, want the shutdown message", last)
	}
	if w.flushes != len(w.writes) {
		t.Errorf("%d flushes for %d writes", w.flushes, len(w.writes))
	}
}
