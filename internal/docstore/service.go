// Package docstore is the document service: collections and documents with
// schema validation, versions, idempotency and the outbox. Every transport
// calls it; it calls a Store.
package docstore

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Options configures a Service.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// CursorKey signs list cursors (HMAC-SHA256). At least 32 bytes.
	CursorKey []byte
	// IdempotencyTTL is how long a write's answer is kept for retries.
	IdempotencyTTL time.Duration
}

// Service is the document service.
type Service struct {
	store Store
	opts  Options
}

// NewService returns a Service over store.
func NewService(store Store, opts Options) (*Service, error) {
	return &Service{store: store, opts: opts}, nil
}

var errTODO = errors.New("not implemented yet")

// CreateCollection creates a collection.
func (s *Service) CreateCollection(ctx context.Context, spec CollectionSpec) (Collection, error) {
	return Collection{}, errTODO
}

// GetCollection returns a collection.
func (s *Service) GetCollection(ctx context.Context, name string) (Collection, error) {
	return Collection{}, errTODO
}

// ListCollections returns all collections ordered by name.
func (s *Service) ListCollections(ctx context.Context) ([]Collection, error) {
	return nil, errTODO
}

// ReplaceCollection replaces a collection's schema and indexes. ifMatch,
// when non-zero, is the version the collection must have. Existing
// documents must all match the new schema.
func (s *Service) ReplaceCollection(ctx context.Context, name string, spec CollectionSpec, ifMatch int64) (Collection, error) {
	return Collection{}, errTODO
}

// PatchCollection applies a JSON Merge Patch to the collection definition
// ({"schema":…, "indexes":…}) and replaces it with the result.
func (s *Service) PatchCollection(ctx context.Context, name string, patch Data, ifMatch int64) (Collection, error) {
	return Collection{}, errTODO
}

// DeleteCollection deletes a collection and its documents.
func (s *Service) DeleteCollection(ctx context.Context, name string, ifMatch int64) error {
	return errTODO
}

// CreateDocument creates a document.
func (s *Service) CreateDocument(ctx context.Context, r CreateRequest) (Document, error) {
	return Document{}, errTODO
}

// GetDocument returns a document.
func (s *Service) GetDocument(ctx context.Context, collection, id string) (Document, error) {
	return Document{}, errTODO
}

// ReplaceDocument replaces a document's data.
func (s *Service) ReplaceDocument(ctx context.Context, r ReplaceRequest) (Document, error) {
	return Document{}, errTODO
}

// PatchDocument merge-patches a document's data.
func (s *Service) PatchDocument(ctx context.Context, r PatchRequest) (Document, error) {
	return Document{}, errTODO
}

// DeleteDocument deletes a document.
func (s *Service) DeleteDocument(ctx context.Context, r DeleteRequest) error {
	return errTODO
}

// ListDocuments runs a list query.
func (s *Service) ListDocuments(ctx context.Context, r ListRequest) (Page, error) {
	return Page{}, errTODO
}

// Batch applies ops in one transaction: all or nothing.
func (s *Service) Batch(ctx context.Context, ops []BatchOp, idempotencyKey string) ([]BatchResult, error) {
	return nil, errTODO
}

// Run purges expired idempotency records until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
