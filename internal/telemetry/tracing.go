package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracingConfig configures NewTracing.
type TracingConfig struct {
	// Endpoint is the OTLP/HTTP collector's URL (http://collector:4318;
	// the path /v1/traces is added when it has none). Empty, and without
	// Exporter, tracing is off.
	Endpoint string
	// SampleRatio is the share of traces started here that are recorded
	// (0 to 1); a request that arrives with a sampled parent is recorded
	// whatever the ratio.
	SampleRatio float64
	// Exporter, for tests, receives the spans instead of an OTLP
	// collector (synchronously: each span when it ends).
	Exporter sdktrace.SpanExporter
	// Version and Instance describe the process (service.version,
	// service.instance.id).
	Version, Instance string
}

// Tracing is a process's tracer provider and the propagation of trace
// context (W3C traceparent) on its requests and events. Off, its provider
// is a no-op: spans cost a nil check.
type Tracing struct {
	Provider   trace.TracerProvider
	Propagator propagation.TextMapPropagator
	sdk        *sdktrace.TracerProvider
}

// NewTracing returns the tracing of cfg: off without an endpoint or an
// exporter.
func NewTracing(ctx context.Context, cfg TracingConfig) (*Tracing, error) {
	t := &Tracing{Provider: noop.NewTracerProvider(), Propagator: propagation.TraceContext{}}
	if cfg.Endpoint == "" && cfg.Exporter == nil {
		return t, nil
	}
	if cfg.SampleRatio < 0 || cfg.SampleRatio > 1 {
		return nil, fmt.Errorf("the trace sample ratio must be from 0 to 1, got %v", cfg.SampleRatio)
	}
	var span sdktrace.SpanProcessor
	if cfg.Exporter != nil {
		span = sdktrace.NewSimpleSpanProcessor(cfg.Exporter)
	} else {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--otlp-endpoint %q: want http(s)://host:port of an OTLP/HTTP collector", cfg.Endpoint)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()))
		if err != nil {
			return nil, fmt.Errorf("--otlp-endpoint: %w", err)
		}
		span = sdktrace.NewBatchSpanProcessor(exp)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "basalt"),
		attribute.String("service.version", cfg.Version), attribute.String("service.instance.id", cfg.Instance))
	t.sdk = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(span), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))))
	t.Provider = t.sdk
	return t, nil
}

// On reports whether spans are recorded and exported.
func (t *Tracing) On() bool { return t.sdk != nil }

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}

// traceHandler adds the trace_id and span_id of the span in a record's
// context to the record, so that a log line names the trace of the
// request it is about.
type traceHandler struct{ slog.Handler }

// WithTraceIDs wraps h so that records logged with a context holding a
// recorded span carry its trace_id and span_id.
func WithTraceIDs(h slog.Handler) slog.Handler { return traceHandler{h} }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}

// Transport returns next, or, with a tracer, a transport that makes a
// client span of each request sent within a recorded span and passes the
// span's context on in the request's traceparent header, so that the
// component called continues the trace.
func Transport(next http.RoundTripper, tracer trace.Tracer, prop propagation.TextMapPropagator) http.RoundTripper {
	if tracer == nil {
		return next
	}
	return tracingTransport{next: next, tracer: tracer, prop: prop}
}

type tracingTransport struct {
	next   http.RoundTripper
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

func (t tracingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if parent := trace.SpanFromContext(r.Context()); !parent.IsRecording() {
		if !parent.SpanContext().IsValid() {
			return t.next.RoundTrip(r)
		}
		// A trace not sampled: the component called follows the
		// decision rather than sample it again.
		out := r.Clone(r.Context())
		t.prop.Inject(r.Context(), propagation.HeaderCarrier(out.Header))
		return t.next.RoundTrip(out)
	}
	ctx, span := t.tracer.Start(r.Context(), r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("server.address", r.URL.Host),
			attribute.String("url.path", r.URL.Path)))
	out := r.Clone(ctx)
	t.prop.Inject(ctx, propagation.HeaderCarrier(out.Header))
	res, err := t.next.RoundTrip(out)
	if err != nil {
		span.SetStatus(codes.Error, "the request failed")
	} else {
		span.SetAttributes(attribute.Int("http.response.status_code", res.StatusCode))
		if res.StatusCode >= 500 {
			span.SetStatus(codes.Error, http.StatusText(res.StatusCode))
		}
	}
	span.End()
	return res, err
}
