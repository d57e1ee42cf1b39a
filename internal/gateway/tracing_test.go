package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestTracing: with a tracer, each request gets a server span named by
// its route, a child of the caller's traceparent, marked an error on a
// 5xx; handlers see it in their context; the latency of a sampled request
// carries its trace id as an exemplar.
func TestTracing(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	reg := prometheus.NewRegistry()
	m, err := NewMiddleware(MiddlewareOptions{Registerer: reg, Buckets: []float64{0.1}, Fallbacks: []string{"/"}, Problem: testProblem,
		Tracer: tp.Tracer("test"), Propagator: propagation.TraceContext{}})
	if err != nil {
		t.Fatal(err)
	}
	var handlerSpan trace.SpanContext
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		handlerSpan = trace.SpanContextFromContext(r.Context())
		if r.PathValue("id") == "bad" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	h := m.Wrap(mux)
	req := httptest.NewRequest("GET", "/things/1", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/things/bad", nil))

	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	first, second := spans[0], spans[1]
	if first.Name != "GET /things/{id}" || first.SpanKind != trace.SpanKindServer ||
		first.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || first.Parent.SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("first span %q kind %v trace %s parent %s", first.Name, first.SpanKind, first.SpanContext.TraceID(), first.Parent.SpanID())
	}
	if first.Status.Code == codes.Error || second.Status.Code != codes.Error {
		t.Errorf("statuses %v, %v; want the 503's an error only", first.Status, second.Status)
	}
	if !handlerSpan.Equal(second.SpanContext) {
		t.Error("the handler's context does not hold the request's span")
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exemplars := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "basalt_http_request_duration_seconds" {
			continue
		}
		for _, metric := range mf.GetMetric() {
			for _, b := range metric.GetHistogram().GetBucket() {
				for _, l := range b.GetExemplar().GetLabel() {
					if l.GetName() == "trace_id" {
						exemplars[l.GetValue()] = true
					}
				}
			}
		}
	}
	if !exemplars["4bf92f3577b34da6a3ce929d0e0e4736"] || !exemplars[second.SpanContext.TraceID().String()] || len(exemplars) != 2 {
		t.Errorf("exemplars %v, want both requests' traces", exemplars)
	}
}
