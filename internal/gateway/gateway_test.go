package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newTestMiddleware(t *testing.T) (*Middleware, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMiddleware(MiddlewareOptions{
		Logger: slog.New(slog.DiscardHandler), Registerer: reg, Buckets: []float64{0.1},
		Fallbacks: []string{"/", "/v1/"},
		Problem:   testProblem,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// testProblem writes a problem with the status, and the detail as code.
func testProblem(w http.ResponseWriter, _ *http.Request, status int, detail string) {
	if detail == "" && status == http.StatusInternalServerError {
		detail = "internal"
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"status":%d,"code":%q}`, status, detail)
}

func TestMiddlewareRequestIDsMetricsAndPanics(t *testing.T) {
	m, reg := newTestMiddleware(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "boom" {
			panic("boom")
		}
		w.WriteHeader(http.StatusTeapot)
	})
	h := m.Wrap(mux)

	// A client's well-formed request id is echoed; a bad one is replaced.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/things/1", nil)
	req.Header.Set(RequestIDHeader, "abc-123")
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusTeapot || rec.Header().Get(RequestIDHeader) != "abc-123" {
		t.Fatalf("status %d, id %q", rec.Code, rec.Header().Get(RequestIDHeader))
	}
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("GET", "/things/1", nil)
	req.Header.Set(RequestIDHeader, "bad id\x01"+strings.Repeat("x", 200))
	h.ServeHTTP(rec, req)
	if id := rec.Header().Get(RequestIDHeader); len(id) != 24 {
		t.Fatalf("generated id = %q", id)
	}

	// A panic becomes the panic answer, not a crash.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/things/boom", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "internal") {
		t.Fatalf("panic answered %d %s", rec.Code, rec.Body)
	}

	// Unmatched routes are labelled as such (no label explosion from paths).
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/random/path/123", nil))

	for _, c := range []struct {
		route, code string
		n           float64
	}{
		{"GET /things/{id}", "418", 2},
		{"GET /things/{id}", "500", 1},
		{"unmatched", "404", 1},
	} {
		got := testutil.ToFloat64(m.requests.WithLabelValues("GET", c.route, "other", c.code))
		if got != c.n {
			t.Errorf("requests{%s,%s} = %v, want %v", c.route, c.code, got, c.n)
		}
	}
	if n := testutil.CollectAndCount(reg, "basalt_http_request_duration_seconds"); n != 3 {
		t.Errorf("%d latency series, want 3", n)
	}
	if g := testutil.ToFloat64(m.inflight); g != 0 {
		t.Errorf("in-flight gauge = %v after all requests ended", g)
	}
}

func TestServerDrainsInFlightRequests(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	s := NewServer(Config{Addr: "127.0.0.1:0", DrainTimeout: 10 * time.Second}, h, slog.New(slog.DiscardHandler))
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()

	body := make(chan string, 1)
	go func() {
		res, err := http.Get("http://" + addr.String() + "/")
		if err != nil {
			body <- "error: " + err.Error()
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		body <- string(b)
	}()
	<-started
	cancel() // shutdown begins while the request is in flight
	deadline := time.Now().Add(5 * time.Second)
	for !s.Draining() && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if !s.Draining() {
		t.Fatal("server not draining after cancel")
	}
	close(release)
	if got := <-body; got != "done" {
		t.Fatalf("in-flight request got %q", got)
	}
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res, err := http.Get("http://" + addr.String() + "/"); err == nil {
		res.Body.Close()
		t.Fatal("server still accepts connections after Run returned")
	}
}

// TestServerCutsOffAtDrainTimeout: a request still running when
// DrainTimeout passes has its context cancelled and its connection closed,
// and Run reports ErrDrainTimeout once its handler has returned.
func TestServerCutsOffAtDrainTimeout(t *testing.T) {
	started := make(chan struct{})
	handlerDone := make(chan error, 1)
	h := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // never finishes by itself
		handlerDone <- r.Context().Err()
	})
	s := NewServer(Config{Addr: "127.0.0.1:0", DrainTimeout: 50 * time.Millisecond}, h, slog.New(slog.DiscardHandler))
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()
	clientErr := make(chan error, 1)
	go func() {
		res, err := http.Get("http://" + addr.String() + "/")
		if err == nil {
			res.Body.Close()
		}
		clientErr <- err
	}()
	<-started
	cancel()
	err = <-runErr
	if !errors.Is(err, ErrDrainTimeout) {
		t.Fatalf("Run = %v, want ErrDrainTimeout", err)
	}
	select {
	case herr := <-handlerDone:
		if !errors.Is(herr, context.Canceled) {
			t.Errorf("handler's context ended with %v", herr)
		}
	default:
		t.Error("Run returned before the cut-off handler")
	}
	if err := <-clientErr; err == nil {
		t.Error("the cut-off request was answered")
	}
}
