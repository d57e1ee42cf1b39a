package eventbus

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// TestTraceParentRoundTrip: the traceparent of a span, put on an event,
// gives back the span's context; an event without one, or with a
// malformed one, continues no trace.
func TestTraceParentRoundTrip(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	tp := TraceParentOf(trace.ContextWithSpanContext(context.Background(), sc))
	if tp != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Fatalf("TraceParentOf = %q", tp)
	}
	if TraceParentOf(context.Background()) != "" {
		t.Error("a context without a span has a traceparent")
	}
	_, got := TraceContext(context.Background(), Event{TraceParent: tp})
	if !got.IsRemote() || got.TraceID() != tid || got.SpanID() != sid || !got.IsSampled() {
		t.Errorf("TraceContext = %+v", got)
	}
	for _, bad := range []string{"", "00-nothex-00f067aa0ba902b7-01"} {
		if _, got := TraceContext(context.Background(), Event{TraceParent: bad}); got.IsValid() {
			t.Errorf("TraceContext(%q) is valid: %+v", bad, got)
		}
	}
}
