package eventbus

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TraceParentOf is the W3C traceparent of the span in ctx, for
// Event.TraceParent ("" when ctx holds none).
func TraceParentOf(ctx context.Context) string {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier["traceparent"]
}

// TraceContext is ctx continuing the trace of e's write, and the span
// context of that write (invalid when e.TraceParent is empty or not a
// traceparent).
func TraceContext(ctx context.Context, e Event) (context.Context, trace.SpanContext) {
	if e.TraceParent == "" {
		return ctx, trace.SpanContext{}
	}
	ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": e.TraceParent})
	return ctx, trace.SpanContextFromContext(ctx)
}
