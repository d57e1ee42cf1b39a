package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/search/embed"
	"github.com/basaltdev/basalt/internal/search/searchdb"
	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/search/websearch"
)

// Mode is how a search ranks documents.
type Mode string

// The modes.
const (
	// ModeText ranks by full-text relevance (or orders by a sort).
	ModeText Mode = "text"
	// ModeVector ranks by nearness of a vector field to the query vector.
	ModeVector Mode = "vector"
	// ModeHybrid fuses the text and vector rankings by reciprocal rank
	// fusion.
	ModeHybrid Mode = "hybrid"
)

// Typo says whether a text query falls back to typo-tolerant matching.
type Typo string

// The typo settings.
const (
	// TypoAuto: when the exact query finds fewer than min(limit, 3) hits
	// on the first page, the fuzzy (trigram) query answers instead.
	TypoAuto Typo = "auto"
	// TypoOff: never.
	TypoOff Typo = "off"
)

// DefaultWeight is the text side's weight in a hybrid search unless the
// request sets one.
const DefaultWeight = 0.5

// Limits bound searches. Zero fields take DefaultLimits values.
type Limits struct {
	// DefaultLimit is the page size when a request sets none (20).
	DefaultLimit int
	// MaxLimit is the largest page a request may ask for (100).
	MaxLimit int
	// MaxDepth is how many hits of one query are served over all its
	// pages (1,000): the cursor ends there.
	MaxDepth int
	// MaxQueryBytes bounds the query text (websearch.MaxQueryBytes, 1,000
	// bytes: the most a text query may have, so that every mode takes the
	// same q).
	MaxQueryBytes int
	// AllowList bounds the ids a vector search under a filter (the
	// caller's, or the list rule's) reads to search among exactly the
	// documents it admits (an allow-list) instead of widening its
	// candidates until enough pass (10,000; below it the search reads up
	// to √(hits needed × vectors) ids, see nearest).
	AllowList int
	// Timeout bounds the time one search may take, its wait for a turn
	// included (3 s): past it the search answers 503 (fault.Unavailable),
	// except that a typo-tolerant fallback that takes more than half of it
	// gives way to the exact query's hits.
	Timeout time.Duration
	// Concurrency is how many searches run at once in this process (4); the
	// others wait for a turn within their Timeout. It keeps expensive
	// queries from taking every database connection and processor.
	Concurrency int
}

// DefaultLimits returns the limits Basalt applies unless configured
// otherwise.
func DefaultLimits() Limits {
	return Limits{DefaultLimit: 20, MaxLimit: 100, MaxDepth: 1000, MaxQueryBytes: websearch.MaxQueryBytes, AllowList: 10000,
		Timeout: 3 * time.Second, Concurrency: 4}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.DefaultLimit, d.DefaultLimit)
	set(&l.MaxLimit, d.MaxLimit)
	set(&l.MaxDepth, d.MaxDepth)
	set(&l.MaxQueryBytes, d.MaxQueryBytes)
	set(&l.AllowList, d.AllowList)
	set(&l.Concurrency, d.Concurrency)
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	return l
}

// Options configures a Service.
type Options struct {
	// Docs is the document service: access rules, hidden fields, the
	// query language and cursors.
	Docs *docstore.Service
	// DB runs full-text queries and holds the embedders' vectors.
	DB searchdb.Store
	// Vectors gives the vector indexes; nil: vector and hybrid searches
	// are unavailable.
	Vectors VectorSource
	// Embedders finds the embedder of a vector field by name and
	// dimensions (embed.Set.Embedder); nil knows none.
	Embedders func(name string, dims int) (embed.Embedder, error)
	// Limits bound searches.
	Limits Limits
}

// Service runs searches for the transports.
type Service struct {
	docs      *docstore.Service
	db        searchdb.Store
	vectors   VectorSource
	embedders func(string, int) (embed.Embedder, error)
	limits    Limits
	// turns holds a token per search running (Limits.Concurrency).
	turns chan struct{}
	// chooseAllowList replaces the allow-list rule in benchmarks.
	chooseAllowList func(need, n int) int
}

// New returns a search service.
func New(opts Options) (*Service, error) {
	if opts.Docs == nil || opts.DB == nil {
		return nil, errors.New("search: the document service and the search store are required")
	}
	limits := opts.Limits.withDefaults()
	return &Service{docs: opts.Docs, db: opts.DB, vectors: opts.Vectors, embedders: opts.Embedders,
		limits: limits, turns: make(chan struct{}, limits.Concurrency)}, nil
}

// Request is one search, as a transport decoded it.
type Request struct {
	Collection string
	// Query is the query text (q): web-search syntax for the text side,
	// embedded for the vector side when the field's source is an
	// embedder.
	Query string
	// Mode is "" for the collection's default: text when it has a text
	// configuration, else vector.
	Mode Mode
	// Field is the vector field; "" for the collection's only one.
	Field string
	// Filter, Sort and Fields are in the list query language and mean
	// what they mean for a list.
	Filter, Sort, Fields string
	// Limit is the page size; 0 for the default.
	Limit int
	// Cursor continues a search from the page that returned it.
	Cursor string
	// Weight is the text side's weight in [0, 1] (hybrid only); nil for
	// DefaultWeight.
	Weight *float64
	// Typo is "" for TypoAuto.
	Typo Typo
	// Vector is a raw query vector, instead of embedding Query.
	Vector []float32
}

// Result is one page of a search.
type Result struct {
	Mode Mode
	Hits []Hit
	// NextCursor continues the search; "" on the last page.
	NextCursor string
	// Fuzzy reports that the typo-tolerant query answered (text and
	// hybrid modes).
	Fuzzy bool
	// Pending counts documents whose vectors the index does not hold yet
	// (vector and hybrid modes), and PendingIDs names some of them (at
	// most 100, only documents the caller may list).
	Pending    int
	PendingIDs []string
}

// Hit is one document a search found.
type Hit struct {
	// Document is the document as the caller may see it (fields applied,
	// hidden fields removed).
	Document docstore.Document
	// Score orders the hits, higher is better: the text score, the vector
	// similarity or the fused score, by mode.
	Score float64
	// Text and Vector are each side's own score and rank; nil for a side
	// that did not find the document.
	Text   *TextScore
	Vector *VectorScore
	// Highlights maps shown text fields that matched to an HTML snippet:
	// escaped text with the matches in <mark>…</mark>.
	Highlights map[string]string
}

// TextScore is a hit's full-text score and 1-based rank.
type TextScore struct {
	Score float64
	Rank  int
}

// VectorScore is a hit's vector similarity, distance and 1-based rank.
type VectorScore struct {
	Score    float64
	Distance float64
	Rank     int
}

const op = "search.Search"

// invalid is a 400 with msg.
func invalid(msg string) error { return fault.New(fault.Invalid, op, msg) }

// run is one search being answered.
type run struct {
	req    Request
	plan   *docstore.ReadPlan
	coll   docstore.Collection
	mode   Mode
	limit  int
	weight float64
	typo   Typo
	// field and vf are the vector field (vector and hybrid modes).
	field string
	vf    docstore.VectorField
	fp    []byte
	cur   cursorState
	// first is true without a cursor.
	first bool
}

// Search runs one search. The caller's list rule, API key scope and hidden
// fields apply as on a list: every hit is a document the caller may list,
// shown as the caller may see it.
//
// A search takes at most Limits.Timeout, its wait for a turn among the
// Limits.Concurrency searches that run at once included; past it, it
// answers fault.Unavailable.
func (s *Service) Search(ctx context.Context, req Request) (Result, error) {
	caller := ctx
	ctx, cancel := context.WithTimeout(ctx, s.limits.Timeout)
	defer cancel()
	res, err := s.search(ctx, req)
	if err != nil && ctx.Err() != nil && caller.Err() == nil {
		return Result{}, s.overtime(err)
	}
	return res, err
}

// errNoTurn is the error of a search that ran out of time waiting for a
// turn.
var errNoTurn = errors.New("no turn to search")

// overtime is the error of a search that ran out of time (err: what
// failed when it did).
func (s *Service) overtime(err error) error {
	msg := fmt.Sprintf("the search did not finish within %s: the server is busy, or the query is too expensive "+
		"(many OR alternatives, very common words or phrases): narrow it or try again shortly", s.limits.Timeout)
	if errors.Is(err, errNoTurn) {
		msg = fmt.Sprintf("too many searches are running: none could start within %s; try again shortly", s.limits.Timeout)
	}
	e := fault.New(fault.Unavailable, op, msg)
	e.Err, e.RetryAfter = err, time.Second
	return e
}

// search runs one search within ctx's deadline.
func (s *Service) search(ctx context.Context, req Request) (Result, error) {
	r, err := s.prepare(ctx, req)
	if err != nil {
		return Result{}, err
	}
	res := Result{Mode: r.mode, Hits: []Hit{}}
	if r.plan.None() {
		return res, nil
	}
	select {
	case s.turns <- struct{}{}:
		defer func() { <-s.turns }()
	case <-ctx.Done():
		return Result{}, fmt.Errorf("%w: %w", errNoTurn, ctx.Err())
	}
	switch r.mode {
	case ModeText:
		err = s.textSearch(ctx, r, &res)
	case ModeVector:
		err = s.vectorSearch(ctx, r, &res)
	default:
		err = s.hybridSearch(ctx, r, &res)
	}
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// prepare checks a request and plans its read.
func (s *Service) prepare(ctx context.Context, req Request) (*run, error) {
	r := &run{req: req, typo: req.Typo, weight: DefaultWeight}
	switch req.Mode {
	case "", ModeText, ModeVector, ModeHybrid:
	default:
		return nil, invalid("mode must be text, vector or hybrid")
	}
	switch req.Typo {
	case "":
		r.typo = TypoAuto
	case TypoAuto, TypoOff:
	default:
		return nil, invalid("typo must be auto or off")
	}
	if len(req.Query) > s.limits.MaxQueryBytes {
		return nil, invalid(fmt.Sprintf("q must have at most %d bytes", s.limits.MaxQueryBytes))
	}
	if !utf8.ValidString(req.Query) || strings.ContainsRune(req.Query, 0) {
		return nil, invalid("q must be UTF-8 text without NUL characters")
	}
	switch {
	case req.Limit < 0 || req.Limit > s.limits.MaxLimit:
		return nil, invalid("limit must be an integer from 1 to " + strconv.Itoa(s.limits.MaxLimit))
	case req.Limit == 0:
		r.limit = s.limits.DefaultLimit
	default:
		r.limit = req.Limit
	}
	if w := req.Weight; w != nil {
		if math.IsNaN(*w) || *w < 0 || *w > 1 {
			return nil, invalid("weight must be a number from 0 to 1")
		}
		r.weight = *w
	}
	for _, x := range req.Vector {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, invalid("vector must hold finite numbers only")
		}
	}
	plan, err := s.docs.PlanRead(ctx, docstore.ReadRequest{Collection: req.Collection, Filter: req.Filter, Sort: req.Sort, Fields: req.Fields})
	if err != nil {
		return nil, err
	}
	r.plan, r.coll = plan, plan.Collection()
	cfg := r.coll.Search
	if !cfg.Enabled() {
		return nil, invalid(fmt.Sprintf("collection %q has no search configuration", r.coll.Name))
	}
	r.mode = req.Mode
	if r.mode == "" {
		r.mode = ModeVector
		if cfg.Text != nil {
			r.mode = ModeText
		}
	}
	if err := s.checkMode(r); err != nil {
		return nil, err
	}
	weight := ""
	if r.mode == ModeHybrid {
		weight = strconv.FormatFloat(r.weight, 'g', -1, 64)
	}
	r.fp = plan.Fingerprint("search", req.Query, string(r.mode), r.field, weight, string(r.typo), vectorKey(req.Vector))
	r.first = req.Cursor == ""
	if !r.first {
		if r.cur, err = s.openCursor(r, req.Cursor); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// checkMode checks that the collection and the request have what the mode
// needs, and picks the vector field.
func (s *Service) checkMode(r *run) error {
	cfg, req := r.coll.Search, r.req
	needText := r.mode == ModeText || r.mode == ModeHybrid
	if needText && cfg.Text == nil {
		return invalid(fmt.Sprintf("collection %q has no text search configuration: %s search needs one", r.coll.Name, r.mode))
	}
	if needText && strings.TrimSpace(req.Query) == "" {
		return invalid(fmt.Sprintf("%s search needs q, the query text", r.mode))
	}
	if r.mode == ModeText {
		switch {
		case req.Field != "":
			return invalid("field names a vector field: text search takes none")
		case req.Vector != nil:
			return invalid("vector is for vector and hybrid search: text search takes none")
		case req.Weight != nil:
			return invalid("weight is for hybrid search only")
		}
		return nil
	}
	if req.Weight != nil && r.mode != ModeHybrid {
		return invalid("weight is for hybrid search only")
	}
	if r.plan.Sort() != nil {
		return invalid(fmt.Sprintf("%s search ranks by nearness and takes no sort (sort is for text search)", r.mode))
	}
	if len(cfg.Vectors) == 0 {
		return invalid(fmt.Sprintf("collection %q has no vector field: %s search needs one", r.coll.Name, r.mode))
	}
	r.field = req.Field
	if r.field == "" {
		if len(cfg.Vectors) > 1 {
			return invalid("field must name the vector field to search: one of " + strings.Join(vectorFields(cfg), ", "))
		}
		for name := range cfg.Vectors {
			r.field = name
		}
	}
	vf, ok := cfg.Vectors[r.field]
	if !ok {
		return invalid(fmt.Sprintf("field %q is not a vector field of collection %q (it has %s)", r.field, r.coll.Name,
			strings.Join(vectorFields(cfg), ", ")))
	}
	r.vf = vf
	if req.Vector == nil {
		if strings.TrimSpace(req.Query) == "" {
			return invalid(fmt.Sprintf("%s search needs q (embedded with the field's embedder) or vector", r.mode))
		}
		if vf.Source != docstore.SourceEmbedder {
			return invalid(fmt.Sprintf("vector field %q holds vectors the client supplies: pass the query vector as vector (POST)", r.field))
		}
	}
	if req.Vector != nil && len(req.Vector) != vf.Dimensions {
		return invalid(fmt.Sprintf("vector must have %d numbers, the dimensions of field %q", vf.Dimensions, r.field))
	}
	if s.vectors == nil {
		return fault.New(fault.Unavailable, op, "vector search is not available on this server")
	}
	return nil
}

// vectorFields returns the names of the vector fields of cfg, sorted.
func vectorFields(cfg docstore.Search) []string {
	names := make([]string, 0, len(cfg.Vectors))
	for n := range cfg.Vectors {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// queryVector returns the vector to search with: the request's, or the
// query text embedded by the field's embedder.
func (s *Service) queryVector(ctx context.Context, r *run) ([]float32, error) {
	if r.req.Vector != nil {
		return r.req.Vector, nil
	}
	name := r.vf.Embedder
	if name == "" {
		name = docstore.BuiltinEmbedder
	}
	if s.embedders == nil {
		return nil, fault.Newf(fault.Unavailable, op, "the embedder %q of vector field %q is not configured on this server", name, r.field)
	}
	e, err := s.embedders(name, r.vf.Dimensions)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, op, err,
			fmt.Sprintf("the embedder %q of vector field %q is not configured on this server for %d dimensions", name, r.field, r.vf.Dimensions))
	}
	vs, err := e.Embed(ctx, []string{r.req.Query})
	if err != nil {
		var refused *embed.APIError
		switch {
		case errors.Is(err, embed.ErrTemporary):
			return nil, fault.Wrap(fault.Unavailable, op, err, fmt.Sprintf("the embedder %q is unavailable; try again later", name))
		case errors.As(err, &refused):
			// The embedding server refused the query (a wrong key or
			// model, most likely): the server's configuration, not the
			// request, is at fault. Its message is not shown to the
			// client; the embedder consumer's dead letters carry it.
			return nil, fault.Wrap(fault.Unavailable, op, err,
				fmt.Sprintf("the embedder %q refused the query; vector search by text is unavailable until its configuration is fixed", name))
		}
		return nil, fault.Internalf(op, err)
	}
	if len(vs) != 1 || len(vs[0]) != r.vf.Dimensions {
		return nil, fault.Internalf(op, fmt.Errorf("embedder %q returned a vector of %d dimensions for field %q of %d", name,
			lenFirst(vs), r.field, r.vf.Dimensions))
	}
	return vs[0], nil
}

func lenFirst(vs [][]float32) int {
	if len(vs) == 0 {
		return 0
	}
	return len(vs[0])
}

// index returns the vector index of the run's field and its state.
func (s *Service) index(r *run) (vector.Index, VectorState, error) {
	idx, st, err := s.vectors.Vectors(r.coll.Name, r.field)
	switch {
	case fault.Is(err, fault.NotFound):
		return nil, VectorState{}, fault.Newf(fault.Unavailable, op, "the vector index of field %q is not ready yet; try again shortly", r.field)
	case err != nil:
		return nil, VectorState{}, err
	}
	metric := vector.Metric(r.vf.Metric)
	if metric == "" {
		metric = vector.Cosine
	}
	if c := idx.Config(); c.Dimensions != r.vf.Dimensions || c.Metric != metric {
		return nil, VectorState{}, fault.Newf(fault.Unavailable, op, "the vector index of field %q is being rebuilt; try again shortly", r.field)
	}
	return idx, st, nil
}

// pending fills the pending documents of a vector or hybrid search. A
// caller whom neither a rule nor a filter restricts gets the index's count
// and the ids it named. Any other caller gets only the named documents it
// may list, and a count of those alone: the documents the index only
// counted may be ones the caller may not see, and counting them would tell
// how many such documents were written a moment ago.
func (s *Service) pending(ctx context.Context, r *run, st VectorState, res *Result) error {
	if st.Pending <= 0 {
		return nil
	}
	ids := st.PendingIDs
	if len(ids) > 100 {
		ids = ids[:100]
	}
	if r.plan.Filter() == nil {
		res.Pending = max(st.Pending, len(ids))
		if len(ids) > 0 {
			res.PendingIDs = append([]string(nil), ids...)
		}
		return nil
	}
	if len(ids) == 0 {
		return nil
	}
	docs, err := s.docs.GetDocuments(ctx, r.plan, ids)
	if err != nil {
		return err
	}
	for _, d := range docs {
		res.PendingIDs = append(res.PendingIDs, d.ID)
	}
	res.Pending = len(res.PendingIDs)
	return nil
}
