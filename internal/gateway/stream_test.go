package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/realtime"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// streamServer is a real server (listener, middleware, compression, REST
// API with realtime) whose read and write timeouts are far shorter than
// the streams its test keeps open.
type streamServer struct {
	base    string
	svc     *docstore.Service
	news    *eventbus.Signal
	revoked atomic.Bool // the test credential is refused from now on
	stop    context.CancelFunc
	done    chan error
}

const streamToken = "stream-admin"

func newStreamServer(t *testing.T) *streamServer {
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
	ss := &streamServer{svc: svc, news: &eventbus.Signal{}, done: make(chan error, 1)}
	hub, err := realtime.New(realtime.Options{Log: st, News: ss.news, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.AuthenticatorFunc(func(_ context.Context, credential string) (auth.Principal, error) {
		if credential != streamToken || ss.revoked.Load() {
			return auth.Principal{}, fault.New(fault.Unauthenticated, "test", "revoked")
		}
		return auth.Principal{Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}}, nil
	})
	api := restapi.New(svc, restapi.Options{Authenticator: authn, Realtime: hub, Subscriber: svc, Heartbeat: 50 * time.Millisecond})
	mux := http.NewServeMux()
	api.Register(mux)
	mw, _ := newTestMiddleware(t)
	h, err := NewHandler(mw, mux, HandlerConfig{CompressMinBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(Config{Addr: "127.0.0.1:0", ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
		DrainTimeout: 30 * time.Second}, h, slog.New(slog.DiscardHandler))
	s.OnDrain(hub.Drain)
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ss.base = "http://" + addr.String()
	ctx, cancel := context.WithCancel(context.Background())
	ss.stop = cancel
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan error, 1)
	go func() { hubDone <- hub.Run(hubCtx) }()
	go func() { ss.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		stopHub()
		if err := <-hubDone; err != nil {
			t.Errorf("hub: %v", err)
		}
	})
	if _, err := svc.CreateCollection(auth.WithPrincipal(t.Context(), auth.System()), docstore.CollectionSpec{
		Name: "posts", Schema: json.RawMessage(`{"type":"object"}`)}); err != nil {
		t.Fatal(err)
	}
	return ss
}

// streamLines opens the collection's stream, asking for compression, and
// returns its lines as they come (the channel closes at its end).
func (ss *streamServer) streamLines(t *testing.T) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", ss.base+"/v1/collections/posts/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+streamToken)
	req.Header.Set("Accept-Encoding", "gzip, zstd")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = res.Body.Close() })
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" || res.Header.Get("Content-Encoding") != "" {
		_ = res.Body.Close()
		t.Fatalf("status %d, Content-Type %q, Content-Encoding %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Encoding"))
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines
}

// waitLine returns the first line with prefix, failing after 10 s or at
// the end of the stream.
func waitLine(t *testing.T, lines <-chan string, prefix string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended before a line %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line %q within 10s", prefix)
		}
	}
}

// TestEventStreamOutlivesTimeouts: a stream stays open far beyond the
// server's read and write timeouts, heartbeats and events arrive as they
// are written (compression never holds them), and a revoked credential
// ends it.
func TestEventStreamOutlivesTimeouts(t *testing.T) {
	ss := newStreamServer(t)
	lines := ss.streamLines(t)
	start := time.Now()
	for time.Since(start) < time.Second { // five times both timeouts
		waitLine(t, lines, ": heartbeat")
	}
	if _, err := ss.svc.CreateDocument(auth.WithPrincipal(t.Context(), auth.System()),
		docstore.CreateRequest{Collection: "posts", ID: "p1", Data: docstore.Data{}}); err != nil {
		t.Fatal(err)
	}
	ss.news.Notify()
	if l := waitLine(t, lines, "event: "); l != "event: document.created" {
		t.Fatalf("got %q", l)
	}
	if l := waitLine(t, lines, "data: "); !strings.Contains(l, `"documentId":"p1"`) {
		t.Fatalf("got %q", l)
	}
	ss.revoked.Store(true)
	if l := waitLine(t, lines, "event: "); l != "event: revoked" {
		t.Fatalf("got %q, want revoked", l)
	}
	for range lines { // the stream ends
	}
}

// TestEventStreamsEndWhenTheServerDrains: open streams end with a shutdown
// event when the drain begins, so the drain finishes at once.
func TestEventStreamsEndWhenTheServerDrains(t *testing.T) {
	ss := newStreamServer(t)
	lines := ss.streamLines(t)
	waitLine(t, lines, ": stream open")
	ss.stop()
	if l := waitLine(t, lines, "event: "); l != "event: shutdown" {
		t.Fatalf("got %q, want shutdown", l)
	}
	select {
	case err := <-ss.done:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the drain waited for the stream")
	}
}

// TestBusyStreamChecksCredentials: a credential revoked while a stream is
// busy delivering a burst (the client reads slowly, so the server is
// never idle) ends the stream within about a second, not after the burst.
func TestBusyStreamChecksCredentials(t *testing.T) {
	ss := newStreamServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", ss.base+"/v1/collections/posts/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+streamToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = res.Body.Close() })
	// The reader takes 32 KiB every 5 ms: about 6 MB/s.
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		buf := make([]byte, 32<<10)
		var pending []byte
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			n, err := res.Body.Read(buf)
			pending = append(pending, buf[:n]...)
			for {
				i := strings.IndexByte(string(pending), '\n')
				if i < 0 {
					break
				}
				select {
				case lines <- string(pending[:i]):
				case <-ctx.Done():
					return
				}
				pending = pending[i+1:]
			}
			if err != nil {
				return
			}
		}
	}()
	waitLine(t, lines, ": stream open")
	const burst = 100 // of 200 KB each: about 3 s of reading
	big := strings.Repeat("x", 200<<10)
	admin := auth.WithPrincipal(t.Context(), auth.System())
	for i := range burst {
		if _, err := ss.svc.CreateDocument(admin, docstore.CreateRequest{Collection: "posts",
			Data: docstore.Data{"text": big, "n": json.Number(strconv.Itoa(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	ss.news.Notify()
	waitLine(t, lines, "event: document.created")
	ss.revoked.Store(true)
	delivered := 1
	for {
		l := waitLine(t, lines, "event: ")
		if l == "event: revoked" {
			break
		}
		delivered++
	}
	if delivered >= burst {
		t.Fatalf("the whole burst (%d events) was delivered after the revocation", delivered)
	}
	t.Logf("%d of %d events delivered before the revocation ended the stream", delivered, burst)
}
