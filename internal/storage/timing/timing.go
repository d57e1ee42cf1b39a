// Package timing wraps a docstore.Store and records how long each database
// call takes, as the Prometheus histogram basalt_db_duration_seconds
// labelled by operation and outcome.
package timing

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// Store is a docstore.Store that observes the latency of every call.
type Store struct {
	next docstore.Store
	hist *prometheus.HistogramVec
}

var (
	_ docstore.Store             = (*Store)(nil)
	_ docstore.IdempotencyPurger = (*Store)(nil)
)

// New wraps next and registers its histogram with reg.
func New(next docstore.Store, engine string, reg prometheus.Registerer, buckets []float64) (*Store, error) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "basalt_db_duration_seconds",
		Help:        "Time spent in database calls, by operation and outcome (ok, or the error kind).",
		Buckets:     buckets,
		ConstLabels: prometheus.Labels{"engine": engine},
	}, []string{"operation", "outcome"})
	if err := reg.Register(h); err != nil {
		return nil, err
	}
	return &Store{next: next, hist: h}, nil
}

func (s *Store) observe(op string, start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = string(fault.KindOf(err))
	}
	s.hist.WithLabelValues(op, outcome).Observe(time.Since(start).Seconds())
}

// GetCollection implements docstore.Store.
func (s *Store) GetCollection(ctx context.Context, name string) (c docstore.Collection, err error) {
	defer func(t time.Time) { s.observe("get_collection", t, err) }(time.Now())
	return s.next.GetCollection(ctx, name)
}

// ListCollections implements docstore.Store.
func (s *Store) ListCollections(ctx context.Context) (cs []docstore.Collection, err error) {
	defer func(t time.Time) { s.observe("list_collections", t, err) }(time.Now())
	return s.next.ListCollections(ctx)
}

// GetDocument implements docstore.Store.
func (s *Store) GetDocument(ctx context.Context, collection, id string) (d docstore.Document, err error) {
	defer func(t time.Time) { s.observe("get_document", t, err) }(time.Now())
	return s.next.GetDocument(ctx, collection, id)
}

// GetDocumentWhere implements docstore.Store.
func (s *Store) GetDocumentWhere(ctx context.Context, collection, id string, filter query.Expr) (d docstore.Document, err error) {
	defer func(t time.Time) { s.observe("get_document_where", t, err) }(time.Now())
	return s.next.GetDocumentWhere(ctx, collection, id, filter)
}

// ListDocuments implements docstore.Store.
func (s *Store) ListDocuments(ctx context.Context, p docstore.ListParams) (ds []docstore.Document, err error) {
	defer func(t time.Time) { s.observe("list_documents", t, err) }(time.Now())
	return s.next.ListDocuments(ctx, p)
}

// CountDocuments implements docstore.Store.
func (s *Store) CountDocuments(ctx context.Context, p docstore.CountParams) (n int64, err error) {
	defer func(t time.Time) { s.observe("count_documents", t, err) }(time.Now())
	return s.next.CountDocuments(ctx, p)
}

// Write implements docstore.Store; it times the whole transaction.
func (s *Store) Write(ctx context.Context, fn func(docstore.Tx) error) (err error) {
	defer func(t time.Time) { s.observe("write", t, err) }(time.Now())
	return s.next.Write(ctx, fn)
}

// Ping implements docstore.Store.
func (s *Store) Ping(ctx context.Context) (err error) {
	defer func(t time.Time) { s.observe("ping", t, err) }(time.Now())
	return s.next.Ping(ctx)
}

// PurgeIdempotency implements docstore.IdempotencyPurger when the wrapped
// store does; otherwise it purges nothing.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (n int64, err error) {
	p, ok := s.next.(docstore.IdempotencyPurger)
	if !ok {
		return 0, nil
	}
	defer func(t time.Time) { s.observe("purge_idempotency", t, err) }(time.Now())
	return p.PurgeIdempotency(ctx, before)
}
