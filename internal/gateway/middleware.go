package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// RequestIDHeader carries the request id, echoed from the client when it
// sends a well-formed one and generated otherwise.
const RequestIDHeader = "X-Request-ID"

// ProblemWriter answers r with an error of the given status in the API's
// error format (application/problem+json), for the answers the gateway
// decides itself: a 500 after a panic, a 431 for oversized headers. detail
// is safe to show to the client; "" lets the writer choose.
type ProblemWriter func(w http.ResponseWriter, r *http.Request, status int, detail string)

// MiddlewareOptions configure NewMiddleware.
type MiddlewareOptions struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer // receives the HTTP metrics
	Buckets    []float64             // of the latency histogram
	// Fallbacks are the patterns of catch-all routes (such as "/"), which
	// answer requests that no route matches: their requests are labelled
	// route="unmatched", like requests the mux answers itself.
	Fallbacks []string
	// Classify names the class of a route pattern (reads, writes, auth,
	// search, realtime: the classes of the service-level objectives), the
	// metrics' class label. A handler may refine a request's class by the
	// pseudo-route it was decided as (ClassRouteOf). Nil, and the
	// fallbacks, give "other".
	Classify func(route string) string
	// Tracer, when set, starts a server span for each request, a child
	// of the trace context the request carries (Propagator: W3C
	// traceparent), which the handlers' spans continue; the latency
	// histogram's observations of sampled requests carry the trace id as
	// an exemplar. Nil traces nothing.
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	// Problem writes the answers the middleware decides.
	Problem ProblemWriter
	// MaxHeaderBytes bounds the request line and header block of a request
	// (as sent over HTTP/1.1); a larger one is answered 431. Default
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int
}

// DefaultMaxHeaderBytes is the default of MiddlewareOptions.MaxHeaderBytes.
// The Server's own limit (Config.MaxHeaderBytes) is set well above it, so
// that an oversized request gets the middleware's 431 problem.
const DefaultMaxHeaderBytes = 64 << 10

// Middleware wraps every request with a request id, panic recovery,
// metrics and a debug access log.
//
// The labels of the metrics come from a fixed set whatever clients send:
// method is one of methods or "other", route a registered pattern or
// "unmatched", class what Classify names a registered pattern (or
// "other"), code a status that HTTP defines or "other".
type Middleware struct {
	log       *slog.Logger
	classify  func(string) string
	tracer    trace.Tracer
	prop      propagation.TextMapPropagator
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	inflight  prometheus.Gauge
	fallbacks map[string]bool
	problem   ProblemWriter
	maxHeader int
}

// methods are the request methods the metrics name; others are "other".
var methods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// NewMiddleware registers the HTTP metrics with opts.Registerer. After a
// handler panicked, opts.Problem answers 500 if nothing was sent yet;
// otherwise the connection is closed.
func NewMiddleware(opts MiddlewareOptions) (*Middleware, error) {
	m := &Middleware{
		log: opts.Logger,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "basalt_http_requests_total",
			Help: "HTTP requests served, by method, route pattern, route class (auth, read, write, search, realtime, other) and status code.",
		}, []string{"method", "route", "class", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "basalt_http_request_duration_seconds",
			Help:    "HTTP request latency, by method, route pattern, route class and status code; an event stream's is its lifetime.",
			Buckets: opts.Buckets,
		}, []string{"method", "route", "class", "code"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "basalt_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		fallbacks: map[string]bool{},
		classify:  opts.Classify,
		tracer:    opts.Tracer,
		prop:      opts.Propagator,
		problem:   opts.Problem,
		maxHeader: opts.MaxHeaderBytes,
	}
	if m.maxHeader <= 0 {
		m.maxHeader = DefaultMaxHeaderBytes
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.problem == nil {
		return nil, errors.New("gateway: MiddlewareOptions.Problem is required")
	}
	for _, p := range opts.Fallbacks {
		m.fallbacks[p] = true
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inflight} {
		if err := opts.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// methodLabel bounds the method label.
func methodLabel(method string) string {
	if slices.Contains(methods, method) {
		return method
	}
	return "other"
}

// routeLabel bounds the route label to the registered patterns.
func (m *Middleware) routeLabel(pattern string) string {
	if pattern == "" || m.fallbacks[pattern] {
		return "unmatched"
	}
	return pattern
}

// endSpan names a request's span by its route ("GET /v1/…/{id}"),
// records its outcome and ends it; a 5xx is an error.
func (m *Middleware) endSpan(span trace.Span, method, route, class string, status int) {
	if !span.IsRecording() {
		span.End()
		return
	}
	if strings.Contains(route, " ") {
		span.SetName(route) // "METHOD /path"
	} else {
		span.SetName(method + " " + route) // an RPC procedure's path, or unmatched
	}
	span.SetAttributes(attribute.String("http.route", route), attribute.String("basalt.class", class),
		attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

// classLabel is the class of a request with route label route, decided as
// classRoute when its handler said so.
func (m *Middleware) classLabel(route, classRoute string) string {
	if route == "unmatched" || m.classify == nil {
		return "other"
	}
	if classRoute != "" {
		route = classRoute
	}
	return m.classify(route)
}

// codeLabel bounds the code label to the statuses HTTP defines.
func codeLabel(status int) string {
	if http.StatusText(status) == "" {
		return "other"
	}
	return strconv.Itoa(status)
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
		var span trace.Span
		if m.tracer != nil {
			ctx := r.Context()
			if m.prop != nil {
				ctx = m.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
			}
			ctx, span = m.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer))
			if span.IsRecording() { // attributes only for the sampled
				span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path),
					attribute.String("basalt.request_id", id))
			}
			r = r.WithContext(ctx) // the mux sets Pattern on this request, read below
		}
		m.inflight.Inc()
		defer func() {
			m.inflight.Dec()
			if p := recover(); p != nil {
				aborted := func() {
					if span != nil {
						span.SetStatus(codes.Error, "the answer was cut off")
						span.End()
					}
				}
				if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					aborted()
					panic(p)
				}
				m.log.ErrorContext(r.Context(), "handler panicked", "request_id", id, "method", r.Method, "path", r.URL.Path, "panic", p)
				if rec.status == 0 {
					m.problem(rec, r, http.StatusInternalServerError, "")
				} else {
					aborted()
					panic(http.ErrAbortHandler)
				}
			}
			status := rec.status
			switch {
			case rec.outcome != 0:
				status = rec.outcome
			case status == 0:
				status = http.StatusOK
			}
			method, route, code := methodLabel(r.Method), m.routeLabel(r.Pattern), codeLabel(status)
			class := m.classLabel(route, rec.classRoute)
			m.requests.WithLabelValues(method, route, class, code).Inc()
			took := time.Since(start).Seconds()
			if span != nil {
				m.endSpan(span, method, route, class, status)
			}
			latency := m.duration.WithLabelValues(method, route, class, code)
			if span != nil && span.SpanContext().IsSampled() {
				latency.(prometheus.ExemplarObserver).ObserveWithExemplar(took, prometheus.Labels{"trace_id": span.SpanContext().TraceID().String()})
			} else {
				latency.Observe(took)
			}
			if m.log.Enabled(r.Context(), slog.LevelDebug) {
				m.log.DebugContext(r.Context(), "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
					"route", route, "status", status, "duration_ms", float64(time.Since(start).Microseconds())/1000)
			}
		}()
		if headerBytes(r, m.maxHeader) > m.maxHeader {
			w.Header().Set("Connection", "close")
			m.problem(rec, r, http.StatusRequestHeaderFieldsTooLarge,
				"the request line and headers are larger than "+strconv.Itoa(m.maxHeader)+" bytes")
			return
		}
		next.ServeHTTP(rec, r)
	})
}

// headerBytes returns the size of r's request line and header block as
// HTTP/1.1 sends them (for HTTP/2, the same fields counted alike), or a
// number above limit as soon as the count passes it.
func headerBytes(r *http.Request, limit int) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.RequestURI == "" {
		n += len(r.URL.RequestURI())
	}
	n += len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
		if n > limit {
			return n
		}
	}
	return n + 2
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

// statusRecorder remembers the status code a handler wrote, and the
// outcome a handler recorded when that status does not tell it.
type statusRecorder struct {
	http.ResponseWriter
	status     int
	outcome    int
	classRoute string
}

// SetClassRoute records the pseudo-route whose class the request counts
// in (see ClassRouteOf).
func (r *statusRecorder) SetClassRoute(route string) { r.classRoute = route }

// ClassRouteOf returns the function that records, for a request answered
// through w, the route its class is decided by instead of its pattern's:
// a GraphQL POST is a read until its operation is parsed, then a write
// ("POST /graphql#mutation"), a search, or, upgraded to a WebSocket, an
// event stream. The last route recorded counts. It is a no-op when w does
// not pass through the middleware. Call it from the handler's goroutine,
// before the handler returns.
func ClassRouteOf(w http.ResponseWriter) func(route string) {
	if rec, ok := recorderOf(w); ok {
		return rec.SetClassRoute
	}
	return func(string) {}
}

// recorderOf finds the middleware's recorder under w's wrappers.
func recorderOf(w http.ResponseWriter) (*statusRecorder, bool) {
	for {
		if rec, ok := w.(*statusRecorder); ok {
			return rec, true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil, false
		}
		w = u.Unwrap()
	}
}

// SetOutcome records the status that counts for the request in the
// metrics and the access log (see OutcomeOf).
func (r *statusRecorder) SetOutcome(status int) { r.outcome = status }

// OutcomeOf returns the function that records, for a request answered
// through w, the HTTP status its metrics and access log count instead of
// the one written: an RPC can fail in a 200 answer (gRPC puts its status
// in the trailers, Connect streams in their last message), and its
// transport records the status REST would have answered. It is a no-op
// when w does not pass through the middleware. Call it from the handler's
// goroutine, before the handler returns.
func OutcomeOf(w http.ResponseWriter) func(status int) {
	if rec, ok := recorderOf(w); ok {
		return rec.SetOutcome
	}
	return func(int) {}
}

// WriteHeader records the first final status: informational answers
// (103 Early Hints) come before the answer and are not it; 101 Switching
// Protocols is final.
func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
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

// Flush sends what the handler wrote so far. Streaming RPC handlers
// (Connect's) need the writer itself to be an http.Flusher: they do not go
// through http.ResponseController.
func (r *statusRecorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}
