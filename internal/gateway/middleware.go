package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RequestIDHeader carries the request id, echoed from the client when it
// sends a well-formed one and generated otherwise.
const RequestIDHeader = "X-Request-ID"

// Middleware wraps every request with a request id, panic recovery,
// metrics and a debug access log.
type Middleware struct {
	log      *slog.Logger
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
	// OnPanic writes the answer for a handler that panicked.
	onPanic func(w http.ResponseWriter, r *http.Request)
}

// NewMiddleware registers the HTTP metrics with reg. onPanic answers a
// request whose handler panicked (after headers are sent nothing can be
// answered; the connection is closed).
func NewMiddleware(log *slog.Logger, reg prometheus.Registerer, buckets []float64, onPanic func(http.ResponseWriter, *http.Request)) (*Middleware, error) {
	m := &Middleware{
		log: log,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "basalt_http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "basalt_http_request_duration_seconds",
			Help:    "HTTP request latency, by method, route pattern and status code.",
			Buckets: buckets,
		}, []string{"method", "route", "code"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "basalt_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		onPanic: onPanic,
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inflight} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Wrap returns next wrapped in the middleware.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
			r.Header.Set(RequestIDHeader, id)
		}
		w.Header().Set(RequestIDHeader, id)
		rec := &statusRecorder{ResponseWriter: w}
		m.inflight.Inc()
		defer func() {
			m.inflight.Dec()
			if p := recover(); p != nil {
				if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(p)
				}
				m.log.Error("handler panicked", "request_id", id, "method", r.Method, "path", r.URL.Path, "panic", p)
				if rec.status == 0 {
					m.onPanic(rec, r)
				} else {
					panic(http.ErrAbortHandler)
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			code := strconv.Itoa(status)
			m.requests.WithLabelValues(r.Method, route, code).Inc()
			m.duration.WithLabelValues(r.Method, route, code).Observe(time.Since(start).Seconds())
			if m.log.Enabled(r.Context(), slog.LevelDebug) {
				m.log.Debug("request", "request_id", id, "method", r.Method, "path", r.URL.Path,
					"route", route, "status", status, "duration_ms", float64(time.Since(start).Microseconds())/1000)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// validRequestID accepts 1–128 visible ASCII characters.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
