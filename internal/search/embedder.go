package search

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
	"github.com/basaltdev/basalt/internal/search/embed"
	"github.com/basaltdev/basalt/internal/search/searchdb"
)

// EmbedderConsumerName is the durable consumer that computes the vectors
// of embedder-sourced vector fields.
const EmbedderConsumerName = "search-embedder"

// EmbedderVectors is what the embedder consumer uses of the stored
// vectors: searchdb.Store.
type EmbedderVectors interface {
	GetVectors(ctx context.Context, collection, field string, ids []string) ([]searchdb.StoredVector, error)
	PutVectors(ctx context.Context, vs []searchdb.StoredVector, event func(searchdb.StoredVector) (eventbus.Event, error)) (int, error)
}

// Collections reads a collection's definition and its documents:
// docstore.Store.
type Collections interface {
	GetCollection(ctx context.Context, name string) (docstore.Collection, error)
	ListDocuments(ctx context.Context, p docstore.ListParams) ([]docstore.Document, error)
}

// EmbedderConfig configures the embedder consumer. Bus, DeadLetters,
// Collections, Vectors and Embedders are required.
type EmbedderConfig struct {
	Bus         eventbus.Bus
	DeadLetters consumer.DeadLetterStore
	Collections Collections
	Vectors     EmbedderVectors
	// Embedders finds the embedder of a field by name and dimensions
	// (embed.Set.Embedder).
	Embedders func(name string, dims int) (embed.Embedder, error)
	// Committed, when set, is called after vectors were stored (their
	// events are in the log): the relay's Wake.
	Committed func()
	// MaxAttempts and Backoff shape the retries of temporary failures
	// (consumer.Config): by default 10 attempts, 1 s doubling to 1 min
	// apart (with the embedder's own retries of each call, an embedding
	// server may be away for several minutes before an event is set
	// aside).
	MaxAttempts int
	Backoff     consumer.Backoff
	// RetryInterval is how often dead letters marked for retry are tried
	// (consumer.Config).
	RetryInterval time.Duration
	Logger        *slog.Logger
	Registerer    prometheus.Registerer
	// Tracer, when set, makes a span of the embedding of each event of a
	// traced write (consumer.Config.Tracer).
	Tracer trace.Tracer
}

// Embedder is the consumer that keeps the vectors of embedder-sourced
// vector fields current: for each write of a document of such a
// collection, it builds the text of the field's From paths and, unless
// the stored vector was computed from the same text by the same embedder
// (TextHash), embeds it; it then stores the vector under the document's
// new version (with the search.vectors event that brings it to every
// process's index). Temporary failures of the embedder are retried with
// backoff; permanent ones (an embedder not configured, vectors of the
// wrong length, a refused request) set the event aside as a dead letter
// with the reason.
type Embedder struct {
	cfg      EmbedderConfig
	log      *slog.Logger
	consumer *consumer.Consumer

	// cache holds the vectors the last Prepare computed, by embedder name
	// and text hash: Handle takes them instead of embedding one by one.
	mu    sync.Mutex
	cache map[string][]float32
}

// NewEmbedder checks cfg and returns the consumer; Run starts it.
func NewEmbedder(cfg EmbedderConfig) (*Embedder, error) {
	if cfg.Collections == nil || cfg.Vectors == nil || cfg.Embedders == nil {
		return nil, fault.Internalf("search.NewEmbedder", errors.New("the collections, the vectors and the embedders are required"))
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Backoff == (consumer.Backoff{}) {
		cfg.Backoff = consumer.Backoff{Base: time.Second, Max: time.Minute}
	}
	e := &Embedder{cfg: cfg, log: log.With("consumer", EmbedderConsumerName)}
	c, err := consumer.New(consumer.Config{Name: EmbedderConsumerName, Bus: cfg.Bus, DeadLetters: cfg.DeadLetters,
		Handle: e.Handle, Prepare: e.prepare, MaxAttempts: cfg.MaxAttempts, Backoff: cfg.Backoff,
		RetryInterval: cfg.RetryInterval, Logger: log, Registerer: cfg.Registerer, Tracer: cfg.Tracer})
	if err != nil {
		return nil, err
	}
	e.consumer = c
	return e, nil
}

// Run consumes until ctx ends.
func (e *Embedder) Run(ctx context.Context) error { return e.consumer.Run(ctx) }

// work is what one document's event asks of one embedder field.
type work struct {
	field   string
	def     docstore.VectorField
	emb     embed.Embedder
	text    string
	hash    []byte
	key     string                 // cache key: embedder name and hash
	current *searchdb.StoredVector // the stored vector, if any
}

// plan returns the work of a document event: one entry per embedder field
// of the collection whose text is not blank. A collection that is gone,
// or has no embedder field, asks for nothing.
func (e *Embedder) plan(ctx context.Context, ev eventbus.Event, defs map[string]docstore.Collection) (docstore.Document, []work, error) {
	var doc docstore.Document
	switch ev.Type {
	case eventbus.DocumentCreated, eventbus.DocumentReplaced, eventbus.DocumentPatched:
	default:
		return doc, nil, nil // deletes: the stored vectors leave with the document
	}
	c, ok := defs[ev.Collection]
	if !ok {
		var err error
		c, err = e.cfg.Collections.GetCollection(ctx, ev.Collection)
		if fault.Is(err, fault.NotFound) {
			c = docstore.Collection{Name: ev.Collection}
		} else if err != nil {
			return doc, nil, err
		}
		if defs != nil {
			defs[ev.Collection] = c
		}
	}
	var fields []string
	for _, name := range sortedKeys(c.Search.Vectors) {
		if c.Search.Vectors[name].Source == docstore.SourceEmbedder {
			fields = append(fields, name)
		}
	}
	if len(fields) == 0 {
		return doc, nil, nil
	}
	if err := json.Unmarshal(ev.Payload, &doc); err != nil {
		return doc, nil, consumer.Permanent(fmt.Errorf("the event's document is unreadable: %w", err))
	}
	var out []work
	for _, name := range fields {
		def := c.Search.Vectors[name]
		text := EmbedText(doc.Data, def.From)
		if embed.Blank(text) {
			continue
		}
		emb, err := e.cfg.Embedders(def.Embedder, def.Dimensions)
		if err != nil {
			return doc, nil, consumer.Permanent(fmt.Errorf("vector field %q: %w", name, err))
		}
		h := TextHash(emb.Name(), text)
		out = append(out, work{field: name, def: def, emb: emb, text: text, hash: h, key: emb.Name() + "\x00" + string(h)})
	}
	for i := range out {
		got, err := e.cfg.Vectors.GetVectors(ctx, doc.Collection, out[i].field, []string{doc.ID})
		if err != nil {
			return doc, nil, err
		}
		if len(got) == 1 {
			out[i].current = &got[0]
		}
	}
	return doc, out, nil
}

// prepare embeds, in one call per embedder, the texts of a batch that are
// not embedded yet, for Handle to take from the cache. Its failures are
// left to Handle, which embeds what the cache lacks and reports them.
func (e *Embedder) prepare(ctx context.Context, events []eventbus.Event) {
	defs := map[string]docstore.Collection{}
	byEmbedder := map[string][]work{}
	var order []string
	seen := map[string]bool{}
	for _, ev := range events {
		_, ws, err := e.plan(ctx, ev, defs)
		if err != nil {
			continue
		}
		for _, w := range ws {
			if (w.current != nil && (w.current.Version > ev.Version || bytes.Equal(w.current.Hash, w.hash))) || seen[w.key] {
				continue
			}
			seen[w.key] = true
			n := w.emb.Name()
			if _, ok := byEmbedder[n]; !ok {
				order = append(order, n)
			}
			byEmbedder[n] = append(byEmbedder[n], w)
		}
	}
	cache := map[string][]float32{}
	for _, n := range order {
		ws := byEmbedder[n]
		texts := make([]string, len(ws))
		for i, w := range ws {
			texts[i] = w.text
		}
		vecs, err := ws[0].emb.Embed(ctx, texts)
		if err != nil {
			e.log.DebugContext(ctx, "embedding a batch failed; each event will be tried alone", "embedder", n, "err", err)
			continue
		}
		for i, w := range ws {
			if i < len(vecs) {
				cache[w.key] = vecs[i]
			}
		}
	}
	e.mu.Lock()
	e.cache = cache
	e.mu.Unlock()
}

// Handle computes and stores the vectors of one document event; after a
// collection event, those of every document of the collection that lacks
// the vector of its current text (a new embedder field, or one whose from
// paths or embedder changed). It is idempotent: a vector already stored
// for a document's version and text is not stored again.
func (e *Embedder) Handle(ctx context.Context, ev eventbus.Event) error {
	if ev.Type == eventbus.CollectionCreated || ev.Type == eventbus.CollectionReplaced {
		return e.backfill(ctx, ev.Collection)
	}
	doc, ws, err := e.plan(ctx, ev, nil)
	if err != nil || len(ws) == 0 {
		return err
	}
	var vs []searchdb.StoredVector
	for _, w := range ws {
		v := searchdb.StoredVector{Collection: doc.Collection, DocumentID: doc.ID, Field: w.field, Version: doc.Version, Hash: w.hash}
		switch {
		case w.current != nil && w.current.Version > doc.Version:
			continue // a later write's vector is stored
		case w.current != nil && bytes.Equal(w.current.Hash, w.hash) && len(w.current.Vector) == w.def.Dimensions:
			if w.current.Version >= doc.Version {
				continue // stored already (a redelivery), or a later write's
			}
			v.Vector = w.current.Vector // the same text: the same vector, under the new version
		default:
			vec, err := e.embed(ctx, w)
			if err != nil {
				return err
			}
			v.Vector = vec
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil
	}
	n, err := e.cfg.Vectors.PutVectors(ctx, vs, VectorsEvent)
	if err != nil {
		return err
	}
	if n > 0 && e.cfg.Committed != nil {
		e.cfg.Committed()
	}
	return nil
}

// backfillPage is how many documents a backfill reads, and embeds, at once.
const backfillPage = 100

// backfill stores the vectors every document of collection lacks, page by
// page, one Embed call per page and field.
func (e *Embedder) backfill(ctx context.Context, collection string) error {
	c, err := e.cfg.Collections.GetCollection(ctx, collection)
	if fault.Is(err, fault.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var fields []string
	for _, name := range sortedKeys(c.Search.Vectors) {
		if c.Search.Vectors[name].Source == docstore.SourceEmbedder {
			fields = append(fields, name)
		}
	}
	if len(fields) == 0 {
		return nil
	}
	sortByID := []query.SortKey{{Field: query.Field{System: query.SystemID, Type: query.TypeString}}}
	var after []any
	stored := 0
	for {
		docs, err := e.cfg.Collections.ListDocuments(ctx, docstore.ListParams{Collection: collection, Sort: sortByID, After: after, Limit: backfillPage})
		if fault.Is(err, fault.NotFound) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		for _, name := range fields {
			n, err := e.backfillPage(ctx, collection, name, c.Search.Vectors[name], docs)
			if err != nil {
				return err
			}
			stored += n
		}
		if len(docs) < backfillPage {
			break
		}
		after = []any{docs[len(docs)-1].ID}
	}
	if stored > 0 {
		e.log.InfoContext(ctx, "embedded the documents of a collection", "collection", collection, "vectors", stored)
	}
	return nil
}

// backfillPage stores the vectors of field that docs lack.
func (e *Embedder) backfillPage(ctx context.Context, collection, field string, def docstore.VectorField, docs []docstore.Document) (int, error) {
	emb, err := e.cfg.Embedders(def.Embedder, def.Dimensions)
	if err != nil {
		return 0, consumer.Permanent(fmt.Errorf("vector field %q: %w", field, err))
	}
	ids := make([]string, 0, len(docs))
	for _, d := range docs {
		ids = append(ids, d.ID)
	}
	have, err := e.cfg.Vectors.GetVectors(ctx, collection, field, ids)
	if err != nil {
		return 0, err
	}
	byID := make(map[string]searchdb.StoredVector, len(have))
	for _, v := range have {
		byID[v.DocumentID] = v
	}
	var vs []searchdb.StoredVector
	var todo []int // indexes in vs of the vectors to compute
	var texts []string
	for _, d := range docs {
		text := EmbedText(d.Data, def.From)
		if embed.Blank(text) {
			continue
		}
		h := TextHash(emb.Name(), text)
		v := searchdb.StoredVector{Collection: collection, DocumentID: d.ID, Field: field, Version: d.Version, Hash: h}
		cur, ok := byID[d.ID]
		switch {
		case ok && bytes.Equal(cur.Hash, h) && len(cur.Vector) == def.Dimensions:
			if cur.Version >= d.Version {
				continue // current
			}
			v.Vector = cur.Vector
		default:
			e.mu.Lock()
			vec, ok := e.cache[emb.Name()+"\x00"+string(h)] // the batch's events may have embedded it
			e.mu.Unlock()
			if ok && len(vec) == def.Dimensions {
				v.Vector = vec
				break
			}
			todo = append(todo, len(vs))
			texts = append(texts, text)
		}
		vs = append(vs, v)
	}
	if len(texts) > 0 {
		vecs, err := emb.Embed(ctx, texts)
		switch {
		case errors.Is(err, embed.ErrTemporary):
			return 0, fmt.Errorf("vector field %q: %w", field, err)
		case err != nil:
			return 0, consumer.Permanent(fmt.Errorf("vector field %q: %w", field, err))
		case len(vecs) != len(texts):
			return 0, consumer.Permanent(fmt.Errorf("vector field %q: the embedder returned %d vectors for %d texts", field, len(vecs), len(texts)))
		}
		for i, at := range todo {
			if len(vecs[i]) != def.Dimensions {
				return 0, consumer.Permanent(fmt.Errorf("vector field %q: %w: the embedder %s returned %d, the field has %d",
					field, embed.ErrDimensions, emb.Name(), len(vecs[i]), def.Dimensions))
			}
			vs[at].Vector = vecs[i]
		}
	}
	if len(vs) == 0 {
		return 0, nil
	}
	n, err := e.cfg.Vectors.PutVectors(ctx, vs, VectorsEvent)
	if err != nil {
		return 0, err
	}
	if n > 0 && e.cfg.Committed != nil {
		e.cfg.Committed()
	}
	return n, nil
}

// embed returns the vector of w's text: from the batch's cache, or from
// one call to the embedder.
func (e *Embedder) embed(ctx context.Context, w work) ([]float32, error) {
	e.mu.Lock()
	vec, ok := e.cache[w.key]
	e.mu.Unlock()
	if !ok {
		vecs, err := w.emb.Embed(ctx, []string{w.text})
		switch {
		case errors.Is(err, embed.ErrTemporary):
			return nil, fmt.Errorf("vector field %q: %w", w.field, err)
		case err != nil:
			return nil, consumer.Permanent(fmt.Errorf("vector field %q: %w", w.field, err))
		case len(vecs) != 1:
			return nil, consumer.Permanent(fmt.Errorf("vector field %q: the embedder returned %d vectors for one text", w.field, len(vecs)))
		}
		vec = vecs[0]
	}
	if len(vec) != w.def.Dimensions {
		return nil, consumer.Permanent(fmt.Errorf("vector field %q: %w: the embedder %s returned %d, the field has %d",
			w.field, embed.ErrDimensions, w.emb.Name(), len(vec), w.def.Dimensions))
	}
	return vec, nil
}

// VectorsEvent returns the search.vectors event of a stored vector: the
// internal event that brings it to every process's vector index.
func VectorsEvent(v searchdb.StoredVector) (eventbus.Event, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return eventbus.Event{}, fault.Internalf("search.VectorsEvent", err)
	}
	payload, err := json.Marshal(struct {
		Field  string    `json:"field"`
		Vector []float32 `json:"vector"`
	}{v.Field, v.Vector})
	if err != nil {
		return eventbus.Event{}, fault.Internalf("search.VectorsEvent", err)
	}
	return eventbus.Event{ID: id.String(), Type: eventbus.SearchVectors, Collection: v.Collection,
		DocumentID: v.DocumentID, Version: v.Version, Time: time.Now().UTC(), Payload: payload}, nil
}
