package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestNewTracing(t *testing.T) {
	off, err := NewTracing(t.Context(), TracingConfig{})
	if err != nil || off.On() {
		t.Fatalf("without an endpoint: %v, on=%v", err, off.On())
	}
	if _, span := off.Provider.Tracer("t").Start(t.Context(), "x"); span.IsRecording() {
		t.Error("tracing off records spans")
	}
	for _, c := range []struct {
		cfg  TracingConfig
		want string
	}{
		{TracingConfig{Endpoint: "collector:4318", SampleRatio: 1}, "want http(s)://host:port"},
		{TracingConfig{Endpoint: "http://collector:4318", SampleRatio: 1.5}, "from 0 to 1"},
	} {
		if _, err := NewTracing(t.Context(), c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewTracing(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
	on, err := NewTracing(t.Context(), TracingConfig{Endpoint: "http://127.0.0.1:4318", SampleRatio: 0.5})
	if err != nil || !on.On() {
		t.Fatalf("with an endpoint: %v", err)
	}
	if err := on.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestLogsNameTheTrace: a line logged with the context of a recorded span
// carries its trace and span ids; one without, neither.
func TestLogsNameTheTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr, err := NewTracing(t.Context(), TracingConfig{Exporter: exp, SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log, err := NewLogger(&buf, "info")
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := tr.Provider.Tracer("t").Start(t.Context(), "request")
	log.InfoContext(ctx, "inside")
	log.Info("outside")
	span.End()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var inside, outside map[string]any
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &inside) != nil || json.Unmarshal([]byte(lines[1]), &outside) != nil {
		t.Fatalf("log: %q", buf.String())
	}
	if inside["trace_id"] != span.SpanContext().TraceID().String() || inside["span_id"] != span.SpanContext().SpanID().String() {
		t.Errorf("inside the span: %v", inside)
	}
	if _, ok := outside["trace_id"]; ok {
		t.Errorf("outside any span: %v", outside)
	}
}
