package app

import (
	"context"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/basaltdev/basalt/internal/telemetry"
)

// TracingConfig configures OpenTelemetry tracing.
type TracingConfig struct {
	// Endpoint is the OTLP/HTTP collector (--otlp-endpoint); empty turns
	// tracing off.
	Endpoint string
	// SampleRatio is the share of traces started here that are recorded.
	SampleRatio float64
	// Exporter, for tests, receives the spans instead of a collector.
	Exporter sdktrace.SpanExporter
}

// tracingFlags configure tracing.
type tracingFlags struct {
	OTLPEndpoint     string  `name:"otlp-endpoint" help:"OpenTelemetry collector that receives traces over OTLP/HTTP, e.g. http://collector:4318 (the path /v1/traces is added when the URL has none); tracing is off without it ($$BASALT_OTLP_ENDPOINT)." placeholder:"URL"`
	TraceSampleRatio float64 `name:"trace-sample-ratio" help:"Share of the traces that start here (0 to 1) that are recorded; a request whose caller sampled its trace (traceparent) is recorded whatever the ratio ($$BASALT_TRACE_SAMPLE_RATIO)." default:"0.05"`
}

func (f tracingFlags) apply(cfg *Config) {
	cfg.Tracing = TracingConfig{Endpoint: f.OTLPEndpoint, SampleRatio: f.TraceSampleRatio, Exporter: cfg.Tracing.Exporter}
}

// newTracing returns the process's tracing, off without an endpoint
// (or a test's exporter).
func newTracing(ctx context.Context, cfg Config) (*telemetry.Tracing, error) {
	return telemetry.NewTracing(ctx, telemetry.TracingConfig{Endpoint: cfg.Tracing.Endpoint, SampleRatio: cfg.Tracing.SampleRatio,
		Exporter: cfg.Tracing.Exporter, Version: cfg.Version})
}

// shutdownTracing exports the spans still buffered, for at most 5 s.
func shutdownTracing(t *telemetry.Tracing, log interface{ Error(string, ...any) }) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		log.Error("exporting the last spans failed", "err", err)
	}
}

// tracerOf returns the tracer of a component, or nil when tp is (tracing
// off).
func tracerOf(tp trace.TracerProvider, component string) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer("github.com/basaltdev/basalt/internal/" + component)
}
