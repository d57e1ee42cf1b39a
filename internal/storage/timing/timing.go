// Package timing wraps a docstore.Store and records how long each database
// call takes, as the Prometheus histogram basalt_db_duration_seconds
// labelled by operation and outcome, and, with a tracer, a span of each
// call.
package timing

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// Store is a docstore.Store that observes the latency of every call and,
// with a tracer, makes a span of it.
type Store struct {
	next   docstore.Store
	hist   *prometheus.HistogramVec
	engine string
	tracer trace.Tracer // nil: no spans
}

// Option tunes a Store.
type Option func(*Store)

// Traced makes a span of every call made within a recorded span ("db
// get_document", "db write"), and within a write one per change of the
// transaction and per event appended to the outbox.
func Traced(tp trace.TracerProvider) Option {
	return func(s *Store) { s.tracer = tp.Tracer("github.com/basaltdev/basalt/internal/storage") }
}

var (
	_ docstore.Store             = (*Store)(nil)
	_ docstore.IdempotencyPurger = (*Store)(nil)
)

// New wraps next and registers its histogram with reg.
func New(next docstore.Store, engine string, reg prometheus.Registerer, buckets []float64, opts ...Option) (*Store, error) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "basalt_db_duration_seconds",
		Help:        "Time spent in database calls, by operation and outcome (ok, or the error kind).",
		Buckets:     buckets,
		ConstLabels: prometheus.Labels{"engine": engine},
	}, []string{"operation", "outcome"})
	if err := reg.Register(h); err != nil {
		return nil, err
	}
	s := &Store{next: next, hist: h, engine: engine}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// dbCall is a database call being timed (and traced).
type dbCall struct {
	op    string
	start time.Time
	span  trace.Span
}

// begin starts timing op, and, when tracing, its span: a child of the
// caller's recorded span (a call outside a traced request or event, such
// as a poll, starts no trace of its own).
func (s *Store) begin(ctx context.Context, op string) (context.Context, dbCall) {
	c := dbCall{op: op, start: time.Now()}
	if s.tracer != nil && trace.SpanFromContext(ctx).IsRecording() {
		ctx, c.span = s.tracer.Start(ctx, "db "+op, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("db.system.name", s.engine)))
	}
	return ctx, c
}

// end records the call's latency and outcome, and ends its span.
func (s *Store) end(c dbCall, err error) {
	outcome := "ok"
	if err != nil {
		outcome = string(fault.KindOf(err))
	}
	s.hist.WithLabelValues(c.op, outcome).Observe(time.Since(c.start).Seconds())
	endSpan(c.span, err)
}

// endSpan ends span (nil: none), an error when err is one.
func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, string(fault.KindOf(err)))
	}
	span.End()
}

// GetCollection implements docstore.Store.
func (s *Store) GetCollection(ctx context.Context, name string) (c docstore.Collection, err error) {
	ctx, call := s.begin(ctx, "get_collection")
	defer func() { s.end(call, err) }()
	return s.next.GetCollection(ctx, name)
}

// ListCollections implements docstore.Store.
func (s *Store) ListCollections(ctx context.Context) (cs []docstore.Collection, err error) {
	ctx, call := s.begin(ctx, "list_collections")
	defer func() { s.end(call, err) }()
	return s.next.ListCollections(ctx)
}

// GetDocument implements docstore.Store.
func (s *Store) GetDocument(ctx context.Context, collection, id string) (d docstore.Document, err error) {
	ctx, call := s.begin(ctx, "get_document")
	defer func() { s.end(call, err) }()
	return s.next.GetDocument(ctx, collection, id)
}

// GetDocumentWhere implements docstore.Store.
func (s *Store) GetDocumentWhere(ctx context.Context, collection, id string, filter query.Expr) (d docstore.Document, err error) {
	ctx, call := s.begin(ctx, "get_document_where")
	defer func() { s.end(call, err) }()
	return s.next.GetDocumentWhere(ctx, collection, id, filter)
}

// ListDocuments implements docstore.Store.
func (s *Store) ListDocuments(ctx context.Context, p docstore.ListParams) (ds []docstore.Document, err error) {
	ctx, call := s.begin(ctx, "list_documents")
	defer func() { s.end(call, err) }()
	return s.next.ListDocuments(ctx, p)
}

// CountDocuments implements docstore.Store.
func (s *Store) CountDocuments(ctx context.Context, p docstore.CountParams) (n int64, err error) {
	ctx, call := s.begin(ctx, "count_documents")
	defer func() { s.end(call, err) }()
	return s.next.CountDocuments(ctx, p)
}

// Write implements docstore.Store; it times the whole transaction.
func (s *Store) Write(ctx context.Context, fn func(docstore.Tx) error) (err error) {
	ctx, call := s.begin(ctx, "write")
	defer func() { s.end(call, err) }()
	if call.span == nil {
		return s.next.Write(ctx, fn)
	}
	return s.next.Write(ctx, func(tx docstore.Tx) error {
		return fn(tracedTx{Tx: tx, tracer: s.tracer, parent: call.span})
	})
}

// tracedTx makes a span, a child of the write's, of each change of a
// transaction and of each event it appends to the outbox.
type tracedTx struct {
	docstore.Tx
	tracer trace.Tracer
	parent trace.Span
}

func (t tracedTx) start(ctx context.Context, name string) (context.Context, trace.Span) {
	return t.tracer.Start(trace.ContextWithSpan(ctx, t.parent), name, trace.WithSpanKind(trace.SpanKindClient))
}

func (t tracedTx) InsertDocument(ctx context.Context, d docstore.Document) (err error) {
	ctx, span := t.start(ctx, "db insert_document")
	defer func() { endSpan(span, err) }()
	return t.Tx.InsertDocument(ctx, d)
}

func (t tracedTx) UpdateDocument(ctx context.Context, d docstore.Document, prevVersion int64) (err error) {
	ctx, span := t.start(ctx, "db update_document")
	defer func() { endSpan(span, err) }()
	return t.Tx.UpdateDocument(ctx, d, prevVersion)
}

func (t tracedTx) DeleteDocument(ctx context.Context, collection, id string, prevVersion int64) (err error) {
	ctx, span := t.start(ctx, "db delete_document")
	defer func() { endSpan(span, err) }()
	return t.Tx.DeleteDocument(ctx, collection, id, prevVersion)
}

// AppendOutbox records, with the event, the traceparent of its span: the
// relay and the event's consumers continue the write's trace from it.
func (t tracedTx) AppendOutbox(ctx context.Context, e eventbus.Event) (err error) {
	ctx, span := t.start(ctx, "outbox append")
	span.SetAttributes(attribute.String("basalt.event.type", string(e.Type)), attribute.String("basalt.event.id", e.ID))
	defer func() { endSpan(span, err) }()
	e.TraceParent = eventbus.TraceParentOf(ctx)
	return t.Tx.AppendOutbox(ctx, e)
}

// Ping implements docstore.Store.
func (s *Store) Ping(ctx context.Context) (err error) {
	ctx, call := s.begin(ctx, "ping")
	defer func() { s.end(call, err) }()
	return s.next.Ping(ctx)
}

// PurgeIdempotency implements docstore.IdempotencyPurger when the wrapped
// store does; otherwise it purges nothing.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (n int64, err error) {
	p, ok := s.next.(docstore.IdempotencyPurger)
	if !ok {
		return 0, nil
	}
	ctx, call := s.begin(ctx, "purge_idempotency")
	defer func() { s.end(call, err) }()
	return p.PurgeIdempotency(ctx, before)
}
