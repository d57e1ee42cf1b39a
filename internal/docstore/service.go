// Package docstore is the document service: collections and documents with
// schema validation, versions, idempotency and the outbox. Every transport
// (REST, GraphQL, gRPC) calls it; it calls a Store.
package docstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/basaltdev/basalt/internal/fault"
)

// Options configures a Service.
type Options struct {
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// CursorKey signs list cursors (HMAC-SHA256). At least 32 bytes.
	CursorKey []byte
	// IdempotencyTTL is how long a write's answer is kept for retries
	// (default 24 h).
	IdempotencyTTL time.Duration
	// PurgeInterval is how often Run forgets expired idempotency records
	// (default 1 min).
	PurgeInterval time.Duration
	// Limits bound requests; zero fields take DefaultLimits values.
	Limits Limits
	// DefinitionTTL is how long reads trust the definition of a collection
	// (its rules and hidden fields) that this process read last, before
	// reading it again (default 1 s). Changes made through this process
	// apply at once; those made through another process sharing the
	// database apply to reads here within DefinitionTTL. Writes always
	// check the current definition. Negative: read it every time.
	DefinitionTTL time.Duration
	// Committed, when set, is called after each write that recorded
	// change events has committed (never for a write that failed or
	// recorded none, such as an idempotent replay), so that the relay
	// publishes them at once rather than at its next poll. It must not
	// block: the write's caller waits for it.
	Committed func()
	// Embedders checks that a vector field of source "embedder" may name
	// embedder name at dims dimensions (embed.Set.Check): nil when it may,
	// an error wrapping embed.ErrUnknown for a name no embedder has, and
	// embed.ErrDimensions for dimensions it cannot make. Nil: only
	// "builtin", at the dimensions embed.NewBuiltin makes.
	Embedders func(name string, dims int) error
}

// Service is the document service.
type Service struct {
	store  Store
	log    *slog.Logger
	now    func() time.Time
	key    []byte
	ttl    time.Duration
	purge  time.Duration
	limits Limits
	defTTL time.Duration
	// committed is Options.Committed.
	committed func()
	// embedders is Options.Embedders.
	embedders func(name string, dims int) error

	mu      sync.Mutex
	schemas map[string]schemaEntry // collection name → compiled schema of one version
	// all is every collection's definition as this process read it last,
	// for catalogs; allGen counts the collection changes made here, so
	// that a list read before one is not kept after it.
	all    collectionList
	allGen uint64
}

// collectionList is a list of every collection, and when it was read.
type collectionList struct {
	cs     []Collection
	loaded time.Time // zero: no list
}

// schemaEntry is a compiled schema and access definition, and the exact
// definition they were compiled from. A hit needs the same schema bytes,
// rules and hidden fields, not only the same version: a collection deleted
// and created again (by another process, say) starts again at version 1.
type schemaEntry struct {
	schema *compiledSchema
	coll   Collection // the definition last seen, for cachedCollection
	loaded time.Time  // when coll was read (monotonic), for readCollection
}

// NewService returns a Service over store.
func NewService(store Store, opts Options) (*Service, error) {
	if store == nil {
		return nil, errors.New("docstore: nil store")
	}
	if len(opts.CursorKey) < 32 {
		return nil, errors.New("docstore: cursor key must be at least 32 bytes")
	}
	s := &Service{
		store:     store,
		log:       opts.Logger,
		now:       opts.Now,
		key:       append([]byte(nil), opts.CursorKey...),
		ttl:       opts.IdempotencyTTL,
		purge:     opts.PurgeInterval,
		limits:    withDefaults(opts.Limits),
		defTTL:    opts.DefinitionTTL,
		committed: opts.Committed,
		embedders: opts.Embedders,
		schemas:   make(map[string]schemaEntry),
	}
	if s.embedders == nil {
		s.embedders = defaultEmbedders
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl <= 0 {
		s.ttl = 24 * time.Hour
	}
	if s.purge <= 0 {
		s.purge = time.Minute
	}
	if s.defTTL == 0 {
		s.defTTL = time.Second
	}
	return s, nil
}

func withDefaults(l Limits) Limits {
	d := DefaultLimits()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.MaxDocumentBytes, d.MaxDocumentBytes)
	set(&l.MaxSchemaBytes, d.MaxSchemaBytes)
	set(&l.MaxIndexes, d.MaxIndexes)
	set(&l.MaxIndexFields, d.MaxIndexFields)
	set(&l.MaxBatchOps, d.MaxBatchOps)
	set(&l.DefaultPageSize, d.DefaultPageSize)
	set(&l.MaxPageSize, d.MaxPageSize)
	set(&l.MaxCursorBytes, d.MaxCursorBytes)
	set(&l.MaxSchemaErrors, d.MaxSchemaErrors)
	set(&l.MaxHiddenFields, d.MaxHiddenFields)
	set(&l.MaxReferences, d.MaxReferences)
	set(&l.ListTotalCap, d.ListTotalCap)
	l.ListTotalCap = min(l.ListTotalCap, MaxListTotalCap)
	if l.Query == (Limits{}).Query {
		l.Query = d.Query
	}
	return l
}

// timestamp is the service's clock, in UTC, truncated to what storage keeps.
func (s *Service) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Run purges expired idempotency records until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	p, ok := s.store.(IdempotencyPurger)
	if !ok {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(s.purge)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			n, err := p.PurgeIdempotency(ctx, s.now().Add(-s.ttl))
			if err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "purging idempotency records failed", "err", err)
			} else if n > 0 {
				s.log.DebugContext(ctx, "purged idempotency records", "count", n)
			}
		}
	}
}

// sameDefinition reports whether a and b are the same definition of a
// collection, as far as validation and access checks go.
func sameDefinition(a, b Collection) bool {
	return a.Version == b.Version && bytes.Equal(a.Schema, b.Schema) && a.Rules.Equal(b.Rules) &&
		slices.Equal(a.HiddenFields, b.HiddenFields) && a.Search.Equal(b.Search) && maps.Equal(a.References, b.References)
}

// schemaOf returns the compiled schema and access definition of c,
// compiling them at most once per collection version.
func (s *Service) schemaOf(op string, c Collection) (*compiledSchema, error) {
	s.mu.Lock()
	e, ok := s.schemas[c.Name]
	if ok && sameDefinition(e.coll, c) {
		e.loaded = time.Now() // c was just read: the entry is current
		s.schemas[c.Name] = e
		s.mu.Unlock()
		return e.schema, nil
	}
	s.mu.Unlock()
	cs, _, err := compileSchema(op, c.Name, c.Schema, s.limits)
	if err != nil {
		// A stored schema that no longer compiles is a server-side problem.
		return nil, fault.Internalf(op, fmt.Errorf("stored schema of %q: %w", c.Name, err))
	}
	cs.access, err = compileAccess(op, c.Schema, cs.fields, c.Rules, c.HiddenFields, s.limits)
	if err != nil {
		return nil, fault.Internalf(op, fmt.Errorf("stored access definition of %q: %w", c.Name, err))
	}
	cs.vectors = clientVectors(c.Search)
	if len(cs.access.hidden) > 0 {
		if cs.public, err = schemaWithoutHidden(c.Schema, cs.access.hidden); err != nil {
			return nil, fault.Internalf(op, fmt.Errorf("schema of %q without hidden fields: %w", c.Name, err))
		}
	}
	s.mu.Lock()
	// The definition read last wins, even at a lower version (a collection
	// deleted and created again starts over at 1); a stale one is caught
	// by the transaction's re-check.
	s.schemas[c.Name] = schemaEntry{schema: cs, coll: c, loaded: time.Now()}
	s.mu.Unlock()
	return cs, nil
}

// DefinitionChanged tells the service that the definition of the
// collection name changed through another process (a collection event of
// the log): it forgets its copy, and reads the definition again at once
// rather than within DefinitionTTL.
func (s *Service) DefinitionChanged(name string) { s.forgetSchema(name) }

// forgetSchema drops what this process keeps of the definition of the
// collection name, after it changed: its compiled schema, and the list of
// collections.
func (s *Service) forgetSchema(name string) {
	s.mu.Lock()
	delete(s.schemas, name)
	s.all = collectionList{}
	s.allGen++
	s.mu.Unlock()
}

// allCollections returns every collection's definition: the list this
// process read last when it is younger than DefinitionTTL and no
// collection changed through this process since, else the store's (as
// readCollection does for one collection).
func (s *Service) allCollections(ctx context.Context, op string) ([]Collection, error) {
	s.mu.Lock()
	all, gen := s.all, s.allGen
	s.mu.Unlock()
	if !all.loaded.IsZero() && time.Since(all.loaded) < s.defTTL {
		return all.cs, nil
	}
	cs, err := s.store.ListCollections(ctx)
	if err != nil {
		return nil, s.storeErr(op, err)
	}
	s.mu.Lock()
	if s.allGen == gen {
		s.all = collectionList{cs: cs, loaded: time.Now()}
	}
	s.mu.Unlock()
	return cs, nil
}

// collection loads a collection and its compiled schema.
func (s *Service) collection(ctx context.Context, op, name string) (Collection, *compiledSchema, error) {
	if err := checkCollectionName(op, name); err != nil {
		return Collection{}, nil, err
	}
	c, err := s.store.GetCollection(ctx, name)
	if err != nil {
		return Collection{}, nil, s.storeErr(op, err)
	}
	cs, err := s.schemaOf(op, c)
	if err != nil {
		return Collection{}, nil, err
	}
	return c, cs, nil
}

// cachedCollection returns the definition of a collection this process saw
// last, without asking the database, for the checks a write makes before
// its transaction. It may be stale: the transaction re-reads the definition
// under a lock and validates again if it changed (recheck), and a write the
// cached schema refuses is checked against a fresh read (prepareData).
func (s *Service) cachedCollection(ctx context.Context, op, name string) (c Collection, cs *compiledSchema, fresh bool, err error) {
	if err := checkCollectionName(op, name); err != nil {
		return Collection{}, nil, false, err
	}
	s.mu.Lock()
	e, ok := s.schemas[name]
	s.mu.Unlock()
	if ok && e.coll.Name != "" {
		return e.coll, e.schema, false, nil
	}
	c, cs, err = s.collection(ctx, op, name)
	return c, cs, true, err
}

// readCollection returns the definition of a collection for a read by a
// caller who is not an admin: the one this process saw last when it is
// younger than DefinitionTTL, else the current one.
func (s *Service) readCollection(ctx context.Context, op, name string) (Collection, *compiledSchema, error) {
	if err := checkCollectionName(op, name); err != nil {
		return Collection{}, nil, err
	}
	s.mu.Lock()
	e, ok := s.schemas[name]
	s.mu.Unlock()
	if ok && e.coll.Name != "" && time.Since(e.loaded) < s.defTTL {
		return e.coll, e.schema, nil
	}
	return s.collection(ctx, op, name)
}

// storeErr gives store errors the operation name of the service call while
// keeping their kind.
func (s *Service) storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var fe *fault.Error
	if errors.As(err, &fe) {
		if fe.Kind == fault.Internal {
			return &fault.Error{Kind: fault.Internal, Op: op, Err: err}
		}
		return &fault.Error{Kind: fe.Kind, Op: op, Msg: fe.Msg, Fields: fe.Fields, Err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &fault.Error{Kind: fault.Unavailable, Op: op, Msg: "the request was cancelled or timed out", Err: err}
	}
	return fault.Internalf(op, err)
}
