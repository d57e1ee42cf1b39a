package gateway

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetricLabelsAreBounded sends what an anonymous client can send — any
// method, however long, and any path — and checks that the HTTP metrics get
// no series beyond the fixed set: the served methods or "other", the route
// patterns or "unmatched", the status codes the handlers write.
func TestMetricLabelsAreBounded(t *testing.T) {
	m, reg := newTestMiddleware(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	// The catch-alls of a real mux: outside and inside /v1.
	notFound := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) }
	mux.HandleFunc("/", notFound)
	mux.HandleFunc("/v1/", notFound)
	h := m.Wrap(mux)

	send := func(method, path string) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		req.Method = method
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	// One request of each served method on each kind of route, so that
	// the fixed set is reached before it is counted.
	for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHERMETHOD"} {
		send(method, "/v1/things/1")
		send(method, "/nowhere")
		send(method, "/v1/nowhere")
	}
	fixed := testutil.CollectAndCount(reg, "basalt_http_requests_total")

	long := strings.Repeat("X", 3000)
	for i := range 200 {
		path := "/" + rand.Text()
		if i%2 == 0 {
			path = "/v1/" + rand.Text() + "/" + rand.Text()
		}
		send(long, path)
		send(long[:i+1], "/v1/things/"+rand.Text())
		send("get", path)
		send("CONNECT", path)
	}
	if n := testutil.CollectAndCount(reg, "basalt_http_requests_total"); n != fixed {
		t.Errorf("%d request series after hostile requests, want the fixed %d", n, fixed)
	}
	if n := testutil.CollectAndCount(reg, "basalt_http_request_duration_seconds"); n != fixed {
		t.Errorf("%d latency series after hostile requests, want the fixed %d", n, fixed)
	}
	// 8 methods on 3 routes: GET /v1/things/{id} serves GET (200) and, as
	// it is a GET route, HEAD; every other request ends in a catch-all.
	if fixed > 8*3 {
		t.Errorf("%d series for 8 methods on 3 kinds of route", fixed)
	}
	for _, want := range []struct{ method, route, code string }{
		{"GET", "GET /v1/things/{id}", "200"},
		{"other", "unmatched", "404"},
		{"GET", "unmatched", "404"},
	} {
		if testutil.ToFloat64(m.requests.WithLabelValues(want.method, want.route, "other", want.code)) == 0 {
			t.Errorf("no requests counted as %v", want)
		}
	}
}

// TestMetricCodeLabelIsBounded: a handler writing a status outside the
// ones HTTP defines is counted as "other".
func TestMetricCodeLabelIsBounded(t *testing.T) {
	m, reg := newTestMiddleware(t)
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/odd":
			w.WriteHeader(599)
		case "/early-hints":
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
		}
	}))
	for _, p := range []string{"/odd", "/early-hints"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("GET", "unmatched", "other", "other")); got != 1 {
		t.Errorf("requests{code=other} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("GET", "unmatched", "other", "201")); got != 1 {
		t.Errorf("requests{code=201} = %v, want 1 (a 103 before it is not the answer)", got)
	}
	if n := testutil.CollectAndCount(reg, "basalt_http_requests_total"); n != 2 {
		t.Errorf("%d series, want 2", n)
	}
}

// TestMetricClassLabel: the class label is Classify's name of the route
// pattern, or of the pseudo-route a handler records (through the wrappers
// of the chain), and "other" for requests no route matched, whatever a
// handler records.
func TestMetricClassLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMiddleware(MiddlewareOptions{
		Registerer: reg, Buckets: []float64{0.1}, Fallbacks: []string{"/"}, Problem: testProblem,
		Classify: func(route string) string {
			switch route {
			case "POST /query":
				return "read"
			case "POST /query#write":
				return "write"
			}
			return "other"
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /query", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("write") {
			ClassRouteOf(w)("POST /query#write")
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		ClassRouteOf(w)("POST /query#write")
		w.WriteHeader(http.StatusNotFound)
	})
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(&notModifiedTagWriter{ResponseWriter: w}, r) // a wrapper with Unwrap, as in the chain
	}))
	for _, target := range []string{"/query", "/query?write", "/query?write", "/elsewhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", target, nil))
	}
	for _, c := range []struct {
		route, class, code string
		want               float64
	}{
		{"POST /query", "read", "200", 1},
		{"POST /query", "write", "200", 2},
		{"unmatched", "other", "404", 1},
	} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues("POST", c.route, c.class, c.code)); got != c.want {
			t.Errorf("requests{route=%q,class=%q} = %v, want %v", c.route, c.class, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(reg, "basalt_http_requests_total"); n != 3 {
		t.Errorf("%d series, want 3", n)
	}
	// Outside the middleware, recording a class does nothing.
	ClassRouteOf(httptest.NewRecorder())("POST /query#write")
}
