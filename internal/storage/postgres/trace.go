package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// queryTracer makes a span of each statement run within a recorded span
// (pgx's QueryTracer): its SQL text, never its arguments. Statements
// outside a traced request or event (polls, the relay's reads) start no
// trace.
type queryTracer struct{ tracer trace.Tracer }

var _ pgx.QueryTracer = queryTracer{}

func (q queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	verb, _, _ := strings.Cut(strings.TrimSpace(data.SQL), " ")
	ctx, span := q.tracer.Start(ctx, "postgres "+strings.ToUpper(verb), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.query.text", data.SQL)))
	return context.WithValue(ctx, statementSpan{}, span)
}

// statementSpan keys the span TraceQueryStart started, which
// TraceQueryEnd ends (and no other).
type statementSpan struct{}

func (q queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	span, ok := ctx.Value(statementSpan{}).(trace.Span)
	if !ok {
		return
	}
	if data.Err != nil {
		span.SetStatus(codes.Error, "statement failed")
	}
	span.End()
}
