package search

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
	"github.com/basaltdev/basalt/internal/search/embed"
	"github.com/basaltdev/basalt/internal/search/searchdb"
	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// waitLimit bounds every wait of these tests.
const waitLimit = 30 * time.Second

// logStore is what the index tests need of a storage engine.
type logStore interface {
	docstore.Store
	eventbus.Log
}

// memVectors keeps embedder vectors beside a real store's documents, as an
// engine's searchdb.Store does: PutVectors stores a vector only for the
// document's current version, and appends its event in the same
// transaction.
type memVectors struct {
	store docstore.Store
	mu    sync.Mutex
	m     map[string]searchdb.StoredVector // collection/field/id
	// born is when the document of each vector was created: a vector of
	// a document since deleted and created again is gone (an engine's
	// rows leave with their document).
	born map[string]time.Time
}

func newMemVectors(store docstore.Store) *memVectors {
	return &memVectors{store: store, m: map[string]searchdb.StoredVector{}, born: map[string]time.Time{}}
}

func vkey(c, f, id string) string { return c + "/" + f + "/" + id }

func (s *memVectors) PutVectors(ctx context.Context, vs []searchdb.StoredVector, event func(searchdb.StoredVector) (eventbus.Event, error)) (int, error) {
	var stored []searchdb.StoredVector
	var born []time.Time
	// Held across the transaction and the map's update, so that a reader
	// never sees the event committed without the vector (an engine
	// writes both in one transaction).
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.store.Write(ctx, func(tx docstore.Tx) error {
		stored, born = nil, nil
		for _, v := range vs {
			d, err := tx.GetDocument(ctx, v.Collection, v.DocumentID)
			if fault.Is(err, fault.NotFound) || (err == nil && d.Version != v.Version) {
				continue
			}
			if err != nil {
				return err
			}
			e, err := event(v)
			if err != nil {
				return err
			}
			if err := tx.AppendOutbox(ctx, e); err != nil {
				return err
			}
			stored, born = append(stored, v), append(born, d.CreatedAt)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for i, v := range stored {
		s.m[vkey(v.Collection, v.Field, v.DocumentID)] = v
		s.born[vkey(v.Collection, v.Field, v.DocumentID)] = born[i]
	}
	return len(stored), nil
}

func (s *memVectors) GetVectors(ctx context.Context, collection, field string, ids []string) ([]searchdb.StoredVector, error) {
	var out []searchdb.StoredVector
	for _, id := range ids {
		v, ok, err := s.get(ctx, collection, field, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// get returns the vector stored for a document, if that document still
// exists.
func (s *memVectors) get(ctx context.Context, collection, field, id string) (searchdb.StoredVector, bool, error) {
	s.mu.Lock()
	k := vkey(collection, field, id)
	v, ok := s.m[k]
	born := s.born[k]
	s.mu.Unlock()
	if !ok {
		return v, false, nil
	}
	d, err := s.store.GetDocument(ctx, collection, id)
	if fault.Is(err, fault.NotFound) || (err == nil && !d.CreatedAt.Equal(born)) {
		return v, false, nil
	}
	return v, err == nil, err
}

// ListVectors lists the vectors of documents that still exist (an
// engine's rows leave with their document).
func (s *memVectors) ListVectors(ctx context.Context, collection, field, after string, limit int) ([]searchdb.StoredVector, error) {
	s.mu.Lock()
	var all []searchdb.StoredVector
	for _, v := range s.m {
		if v.Collection == collection && v.Field == field && v.DocumentID > after {
			all = append(all, v)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b searchdb.StoredVector) int { return strings.Compare(a.DocumentID, b.DocumentID) })
	var out []searchdb.StoredVector
	for _, v := range all {
		if len(out) == limit {
			break
		}
		if _, ok, err := s.get(ctx, collection, field, v.DocumentID); err != nil {
			return nil, err
		} else if ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// env is a database, its document service, and vectors kept beside it.
type env struct {
	t     *testing.T
	store logStore
	svc   *docstore.Service
	vecs  *memVectors
	news  *eventbus.Signal
	admin context.Context
	// newIndex and loadIndex make the indexes' indexes (default: Flat,
	// snapshots of items).
	newIndex  func(vector.Config) (vector.Index, error)
	loadIndex func(io.Reader) (vector.Index, error)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return newEnvOn(t, st)
}

func newEnvOn(t *testing.T, st logStore) *env {
	t.Helper()
	e := &env{t: t, store: st, vecs: newMemVectors(st), news: &eventbus.Signal{},
		admin: auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}})}
	e.newIndex = func(c vector.Config) (vector.Index, error) { return vector.NewFlat(c) }
	svc, err := docstore.NewService(st, docstore.Options{CursorKey: []byte(strings.Repeat("k", 32)), Committed: e.news.Notify})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	return e
}

// thingsSchema is the schema of the tests' collections.
var thingsSchema = json.RawMessage(`{"type":"object","properties":{"emb":{"type":"array","items":{"type":"number"}},` +
	`"title":{"type":"string"},"n":{"type":"integer"}}}`)

// thingsSearch is the search configuration of the tests' collection: a
// client vector field (l2, 3 dimensions) and an embedder field reading
// title (8 dimensions).
func thingsSearch() *docstore.Search {
	return &docstore.Search{Vectors: map[string]docstore.VectorField{
		"emb": {Dimensions: 3, Metric: docstore.MetricL2, Source: docstore.SourceClient},
		"sem": {Dimensions: 8, Metric: docstore.MetricCosine, Source: docstore.SourceEmbedder, From: []string{"title"}},
	}}
}

func (e *env) createCollection(name string, s *docstore.Search) {
	e.t.Helper()
	open := ""
	if _, err := e.svc.CreateCollection(e.admin, docstore.CollectionSpec{Name: name,
		Schema: thingsSchema, Rules: docstore.Rules{List: &open, Get: &open}, Search: s}); err != nil {
		e.t.Fatal(err)
	}
}

// indexes starts Indexes over e (snapshots in dir, "" for none) and stops
// them when the test ends; stop stops them earlier (saving snapshots).
func (e *env) indexes(dir string, reg prometheus.Registerer) (x *Indexes, stop func()) {
	e.t.Helper()
	x, err := NewIndexes(IndexesConfig{Log: e.store, Catalog: e.store, Stored: e.vecs, News: e.news,
		Poll: 20 * time.Millisecond, SnapshotDir: dir, Registerer: reg, Embedders: builtinOnly,
		NewIndex: e.newIndex, LoadIndex: e.loadIndex})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("Run: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return x, stop
}

// builtinOnly finds the builtin embedder of any dimensions.
func builtinOnly(name string, dims int) (embed.Embedder, error) {
	if name != docstore.BuiltinEmbedder {
		return nil, embed.ErrUnknown
	}
	return embed.NewBuiltin(dims)
}

// caughtUp waits until x has taken in every event of the log.
func (e *env) caughtUp(x *Indexes) {
	e.t.Helper()
	waitUntil(e.t, "the indexes take in the log", func() bool {
		x.mu.RLock()
		loaded := x.loaded
		x.mu.RUnlock()
		_, newest, err := e.store.LogBounds(context.Background())
		return err == nil && loaded && x.Position() >= newest
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("waited %v until %s", waitLimit, what)
		case <-tick.C:
		}
	}
}

// replayAll builds Indexes from the database, then applies the event log
// again over that build, from the last collection event on.
func (e *env) replayAll() *Indexes {
	e.t.Helper()
	x, err := NewIndexes(IndexesConfig{Log: e.store, Catalog: e.store, Stored: e.vecs, Embedders: builtinOnly, NewIndex: e.newIndex})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx := context.Background()
	if err := x.loadAll(ctx); err != nil {
		e.t.Fatal(err)
	}
	// From the last collection event on: replaying that one would
	// rebuild the indexes.
	evs, err := e.store.ReadEvents(ctx, 0, 1_000_000)
	if err != nil {
		e.t.Fatal(err)
	}
	var from int64
	for _, ev := range evs {
		if ev.Type.IsCollection() {
			from = ev.Position
		}
	}
	x.pos = from
	for _, fs := range x.cols {
		for _, f := range fs {
			f.pos = from
		}
	}
	for {
		more, err := x.tailOnce(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		if !more {
			break
		}
	}
	e.t.Cleanup(x.close)
	return x
}

// fieldState is what an index holds of one field, for comparisons.
type fieldState struct {
	Vectors map[string][]float32
	Pending map[string]int64
}

func state(t *testing.T, x *Indexes, collection, name string) fieldState {
	t.Helper()
	x.mu.RLock()
	defer x.mu.RUnlock()
	f := x.cols[collection][name]
	if f == nil || f.idx == nil {
		t.Fatalf("no index of %s.%s", collection, name)
	}
	s := fieldState{Vectors: map[string][]float32{}, Pending: map[string]int64{}}
	for id := range f.held {
		if v, ok := f.idx.Vector(id); ok {
			s.Vectors[id] = v
		}
	}
	if n := f.idx.Len(); n != len(s.Vectors) {
		t.Errorf("%s.%s: the index holds %d vectors, %d are accounted for", collection, name, n, len(s.Vectors))
	}
	for id, v := range f.pending {
		s.Pending[id] = v
	}
	return s
}

func sameState(t *testing.T, what string, got, want fieldState) {
	t.Helper()
	if len(got.Vectors) != len(want.Vectors) || len(got.Pending) != len(want.Pending) {
		t.Errorf("%s: %d vectors and %d pending, want %d and %d", what, len(got.Vectors), len(got.Pending), len(want.Vectors), len(want.Pending))
	}
	for id, v := range want.Vectors {
		if !slices.Equal(got.Vectors[id], v) {
			t.Errorf("%s: document %s: vector %v, want %v", what, id, got.Vectors[id], v)
		}
	}
	for id, v := range want.Pending {
		if got.Pending[id] != v {
			t.Errorf("%s: document %s: pending %d, want %d", what, id, got.Pending[id], v)
		}
	}
}

// embedAll stores, for some documents of things, the vector of their
// current version (as the embedder consumer does), from a fake embedding.
func (e *env) embedSome(rng *rand.Rand, share float64) {
	e.t.Helper()
	docs, err := e.store.ListDocuments(context.Background(), docstore.ListParams{Collection: "things", Limit: 10_000,
		Sort: []query.SortKey{{Field: query.Field{System: query.SystemID, Type: query.TypeString}}}})
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := embed.NewBuiltin(8)
	if err != nil {
		e.t.Fatal(err)
	}
	var vs []searchdb.StoredVector
	for _, d := range docs {
		text := EmbedText(d.Data, []string{"title"})
		if rng.Float64() >= share || text == "" {
			continue
		}
		vs = append(vs, searchdb.StoredVector{Collection: "things", DocumentID: d.ID, Field: "sem", Version: d.Version,
			Hash: TextHash(b.Name(), text), Vector: b.Vector(text)})
	}
	if _, err := e.vecs.PutVectors(context.Background(), vs, VectorsEvent); err != nil {
		e.t.Fatal(err)
	}
	e.news.Notify()
}

// randomData returns a document's data: maybe a client vector, maybe a
// title.
func randomData(rng *rand.Rand) docstore.Data {
	d := docstore.Data{}
	if rng.IntN(4) > 0 {
		d["emb"] = []any{json.Number(fmt.Sprint(rng.IntN(7) - 3)), json.Number(fmt.Sprint(rng.IntN(7) - 3)), json.Number("1")}
	}
	if rng.IntN(4) > 0 {
		d["title"] = fmt.Sprintf("title %d", rng.IntN(5))
	}
	return d
}

// randomWrites makes n random writes to things.
func (e *env) randomWrites(rng *rand.Rand, n int) {
	e.t.Helper()
	for range n {
		id := fmt.Sprintf("d%02d", rng.IntN(30))
		var err error
		switch rng.IntN(5) {
		case 0:
			err = e.svc.DeleteDocument(e.admin, docstore.DeleteRequest{Collection: "things", ID: id})
		case 1:
			_, err = e.svc.PatchDocument(e.admin, docstore.PatchRequest{Collection: "things", ID: id, Patch: randomData(rng)})
		default:
			_, err = e.svc.ReplaceDocument(e.admin, docstore.ReplaceRequest{Collection: "things", ID: id, Data: randomData(rng)})
			if fault.Is(err, fault.NotFound) {
				_, err = e.svc.CreateDocument(e.admin, docstore.CreateRequest{Collection: "things", ID: id, Data: randomData(rng)})
			}
		}
		if err != nil && !fault.Is(err, fault.NotFound) {
			e.t.Fatal(err)
		}
	}
}

// The indexes a process keeps current from the event log hold exactly
// what a rebuild from the database holds, after any mix of writes,
// deletes and embeddings, some before the process started.
func TestIndexesTailMatchesRebuild(t *testing.T) {
	for seed := range uint64(5) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			e := newEnv(t)
			e.createCollection("things", thingsSearch())
			e.randomWrites(rng, 20)
			e.embedSome(rng, 0.5)
			tailed, _ := e.indexes("", nil)
			for range 6 {
				e.randomWrites(rng, 15)
				e.embedSome(rng, 0.4)
			}
			e.caughtUp(tailed)
			fresh, _ := e.indexes("", nil)
			e.caughtUp(fresh)
			for _, f := range []string{"emb", "sem"} {
				want := state(t, fresh, "things", f)
				sameState(t, "field "+f, state(t, tailed, "things", f), want)
				if len(want.Vectors) == 0 {
					t.Errorf("field %s: the test indexed no vector", f)
				}
			}
			if p := state(t, fresh, "things", "sem").Pending; len(p) == 0 {
				t.Error("the test left no document pending")
			}
			// Events seen again (the log's document events replayed over a
			// build from the database) change nothing in the end.
			replayed := e.replayAll()
			for _, f := range []string{"emb", "sem"} {
				sameState(t, "replayed field "+f, state(t, replayed, "things", f), state(t, fresh, "things", f))
			}
		})
	}
}

// Before the first build, a field's index is unavailable; a field the
// collection does not have is not found; the state names pending
// documents.
func TestIndexesVectors(t *testing.T) {
	e := newEnv(t)
	x, err := NewIndexes(IndexesConfig{Log: e.store, Catalog: e.store, Stored: e.vecs,
		NewIndex: func(c vector.Config) (vector.Index, error) { return vector.NewFlat(c) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := x.Vectors("things", "emb"); !fault.Is(err, fault.Unavailable) {
		t.Fatalf("Vectors before the first build: %v, want Unavailable", err)
	}
	e.createCollection("things", thingsSearch())
	for i := range 3 {
		if _, err := e.svc.CreateDocument(e.admin, docstore.CreateRequest{Collection: "things", ID: fmt.Sprint("d", i),
			Data: docstore.Data{"emb": []any{json.Number("1"), json.Number(fmt.Sprint(i)), json.Number("0")}, "title": "hello"}}); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	x, _ = e.indexes("", reg)
	e.caughtUp(x)
	gauge := func(name string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name && len(mf.GetMetric()) == 1 {
				m := mf.GetMetric()[0]
				if m.GetGauge() != nil {
					return m.GetGauge().GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
	if v, p, r, l := gauge("basalt_search_vectors"), gauge("basalt_search_vectors_pending"),
		gauge("basalt_search_index_rebuilds_total"), gauge("basalt_search_index_lag_events"); v != 3 || p != 3 || r != 2 || l != 0 {
		t.Errorf("metrics: %v vectors, %v pending, %v rebuilds, lag %v; want 3, 3, 2, 0", v, p, r, l)
	}
	idx, st, err := x.Vectors("things", "emb")
	if err != nil {
		t.Fatal(err)
	}
	hits, err := idx.Search(context.Background(), []float32{1, 2, 0}, 1, vector.SearchOptions{})
	if err != nil || len(hits) != 1 || hits[0].ID != "d2" || st.Pending != 0 {
		t.Fatalf("search = %v, %v (state %+v), want d2 and nothing pending", hits, err, st)
	}
	_, st, err = x.Vectors("things", "sem")
	if err != nil || st.Pending != 3 || !slices.Equal(st.PendingIDs, []string{"d0", "d1", "d2"}) {
		t.Fatalf("sem state = %+v, %v; want d0, d1, d2 pending", st, err)
	}
	if _, _, err := x.Vectors("things", "nope"); !fault.Is(err, fault.NotFound) {
		t.Errorf("unknown field: %v, want NotFound", err)
	}
	if _, _, err := x.Vectors("nope", "emb"); !fault.Is(err, fault.NotFound) {
		t.Errorf("unknown collection: %v, want NotFound", err)
	}
	st2 := x.Status("things")
	if st2["emb"] != (VectorStatus{Indexed: 3}) || st2["sem"] != (VectorStatus{Pending: 3}) {
		t.Errorf("Status = %+v", st2)
	}
	// The embeddings arrive: nothing is pending any more.
	e.embedSome(rand.New(rand.NewPCG(1, 2)), 1)
	e.caughtUp(x)
	if _, st, err = x.Vectors("things", "sem"); err != nil || st.Pending != 0 || x.Status("things")["sem"].Indexed != 3 {
		t.Errorf("after the embeddings: %+v, %v, status %+v", st, err, x.Status("things"))
	}
	if v, p := gauge("basalt_search_vectors"), gauge("basalt_search_vectors_pending"); v != 6 || p != 0 {
		t.Errorf("metrics after the embeddings: %v vectors, %v pending; want 6, 0", v, p)
	}
}

// Changes of the definition reach the indexes: a new dimension rebuilds
// the field, a removed field and a deleted collection are gone, a new
// collection is indexed.
func TestIndexesFollowCollectionChanges(t *testing.T) {
	e := newEnv(t)
	e.createCollection("things", thingsSearch())
	var calls []string
	var mu sync.Mutex
	x, err := NewIndexes(IndexesConfig{Log: e.store, Catalog: e.store, Stored: e.vecs, News: e.news, Poll: 20 * time.Millisecond,
		NewIndex:     func(c vector.Config) (vector.Index, error) { return vector.NewFlat(c) },
		OnCollection: func(name string) { mu.Lock(); calls = append(calls, name); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	e.caughtUp(x)

	if _, err := e.svc.CreateDocument(e.admin, docstore.CreateRequest{Collection: "things", ID: "a",
		Data: docstore.Data{"title": "no vector yet"}}); err != nil {
		t.Fatal(err)
	}
	s := thingsSearch()
	s.Vectors["emb"] = docstore.VectorField{Dimensions: 2, Metric: docstore.MetricDot, Source: docstore.SourceClient}
	delete(s.Vectors, "sem")
	open := ""
	if _, err := e.svc.ReplaceCollection(e.admin, "things", docstore.CollectionSpec{Name: "things",
		Schema: thingsSchema, Rules: docstore.Rules{List: &open, Get: &open}, Search: s}, nil); err != nil {
		t.Fatal(err)
	}
	e.caughtUp(x)
	idx, _, err := x.Vectors("things", "emb")
	if err != nil || idx.Config() != (vector.Config{Dimensions: 2, Metric: vector.Dot}) || idx.Len() != 0 {
		t.Fatalf("after the change: %v, %v; want an empty 2-dimension dot index", idx, err)
	}
	if _, err := e.svc.PatchDocument(e.admin, docstore.PatchRequest{Collection: "things", ID: "a",
		Patch: docstore.Data{"emb": []any{json.Number("1"), json.Number("2")}}}); err != nil {
		t.Fatal(err)
	}
	e.caughtUp(x)
	if v, ok := idx.Vector("a"); !ok || !slices.Equal(v, []float32{1, 2}) {
		t.Errorf("the rebuilt index holds %v for a, want [1 2]", v)
	}
	if _, _, err := x.Vectors("things", "sem"); !fault.Is(err, fault.NotFound) {
		t.Errorf("removed field: %v, want NotFound", err)
	}
	e.createCollection("more", thingsSearch())
	if _, err := e.svc.CreateDocument(e.admin, docstore.CreateRequest{Collection: "more", ID: "b",
		Data: docstore.Data{"emb": []any{json.Number("1"), json.Number("2"), json.Number("3")}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteCollection(e.admin, "things", nil); err != nil {
		t.Fatal(err)
	}
	e.caughtUp(x)
	if _, _, err := x.Vectors("things", "emb"); !fault.Is(err, fault.NotFound) {
		t.Errorf("deleted collection: %v, want NotFound", err)
	}
	if idx, _, err := x.Vectors("more", "emb"); err != nil || idx.Len() != 1 {
		t.Errorf("new collection: %v, %v; want its document", idx, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(calls, []string{"things", "more", "things"}) {
		t.Errorf("OnCollection calls = %v", calls)
	}
}

// A snapshot written at the end of a run is loaded by the next one (no
// rebuild, same answers, later writes taken in); a corrupted or stale one
// is rebuilt from the database.
func TestIndexesSnapshots(t *testing.T) {
	t.Run("items", func(t *testing.T) { testSnapshots(t, newEnv(t)) })
	t.Run("index", func(t *testing.T) { // the index's own snapshot (an HNSW one above a threshold)
		e := newEnv(t)
		e.newIndex = func(c vector.Config) (vector.Index, error) {
			return vector.NewAuto(c, vector.AutoOptions{Threshold: 8})
		}
		e.loadIndex = vector.Load
		testSnapshots(t, e)
	})
}

func testSnapshots(t *testing.T, e *env) {
	e.createCollection("things", thingsSearch())
	rng := rand.New(rand.NewPCG(7, 7))
	e.randomWrites(rng, 40)
	e.embedSome(rng, 0.6)
	dir := t.TempDir()
	first, stop := e.indexes(dir, nil)
	e.caughtUp(first)
	want := map[string]fieldState{"emb": state(t, first, "things", "emb"), "sem": state(t, first, "things", "sem")}
	stop()
	files, _ := filepath.Glob(filepath.Join(dir, "*.snapshot"))
	if len(files) != 2 {
		t.Fatalf("snapshots written: %v, want 2", files)
	}
	wantBody := bodyItems
	if e.loadIndex != nil {
		wantBody = bodyIndex
	}
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		n := binary.BigEndian.Uint32(raw[len(snapshotMagic):])
		var h snapshotHeader
		if err := json.Unmarshal(raw[len(snapshotMagic)+4:len(snapshotMagic)+4+int(n)], &h); err != nil || h.Body != wantBody {
			t.Errorf("%s: header %+v (%v), want a body of %s", path, h, err, wantBody)
		}
	}

	start := func(what string, rebuilds float64) *Indexes {
		t.Helper()
		reg := prometheus.NewRegistry()
		x, stop := e.indexes(dir, reg)
		e.caughtUp(x)
		for f, w := range want {
			sameState(t, what+": field "+f, state(t, x, "things", f), w)
		}
		if got := testutil.ToFloat64(x.rebuilds); got != rebuilds {
			t.Errorf("%s: %v rebuilds, want %v", what, got, rebuilds)
		}
		stop()
		return x
	}
	start("loaded", 0)

	// A snapshot of another database is not loaded.
	other, err := NewIndexes(IndexesConfig{Log: e.store, Catalog: e.store, Stored: e.vecs, SnapshotDir: dir, SnapshotID: "another",
		NewIndex: func(c vector.Config) (vector.Index, error) { return vector.NewFlat(c) }})
	if err != nil {
		t.Fatal(err)
	}
	if f, err := other.loadSnapshot(context.Background(), "things", "emb", thingsSearch().Vectors["emb"]); f != nil || !errors.Is(err, errStale) {
		t.Errorf("the snapshot of another database: %v, %v; want it refused as stale", f, err)
	}

	// A later write is taken in after the load.
	d, err := e.svc.CreateDocument(e.admin, docstore.CreateRequest{Collection: "things", ID: "zz",
		Data: docstore.Data{"emb": []any{json.Number("9"), json.Number("9"), json.Number("9")}, "title": "new"}})
	if err != nil {
		t.Fatal(err)
	}
	want["emb"].Vectors["zz"] = []float32{9, 9, 9}
	want["sem"].Pending["zz"] = d.Version
	start("loaded, then a write", 0)

	// A flipped byte: the checksum fails, the field is rebuilt.
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x40
	if err := os.WriteFile(files[0], raw, 0o600); err != nil {
		t.Fatal(err)
	}
	start("corrupted", 1)

	// Events after the snapshots trimmed from the log: both rebuilt.
	if _, err := e.svc.PatchDocument(e.admin, docstore.PatchRequest{Collection: "things", ID: "zz", Patch: docstore.Data{"n": json.Number("1")}}); err != nil {
		t.Fatal(err)
	}
	_, newest, err := e.store.LogBounds(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.TrimEvents(context.Background(), time.Now().Add(time.Hour), newest); err != nil {
		t.Fatal(err)
	}
	want["sem"].Pending["zz"] = d.Version + 1
	start("stale", 2)
}

// goneCatalog reads a store, except that the documents of the collections
// in gone are missing, as when a collection is deleted between the read of
// its definition and the read of its documents.
type goneCatalog struct {
	Catalog
	gone map[string]bool
}

func (c goneCatalog) ListDocuments(ctx context.Context, p docstore.ListParams) ([]docstore.Document, error) {
	if c.gone[p.Collection] {
		return nil, fault.New(fault.NotFound, "test", "no such collection")
	}
	return c.Catalog.ListDocuments(ctx, p)
}

// A collection that disappears while its index is built is dropped, and
// the indexes go on with the events after it.
func TestIndexesCollectionGoneDuringBuild(t *testing.T) {
	e := newEnv(t)
	x, err := NewIndexes(IndexesConfig{Log: e.store, Catalog: goneCatalog{Catalog: e.store, gone: map[string]bool{"gone": true}},
		Stored: e.vecs, News: e.news, Poll: 20 * time.Millisecond, NewIndex: e.newIndex})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	e.caughtUp(x)
	e.createCollection("gone", thingsSearch())
	e.createCollection("things", thingsSearch())
	e.caughtUp(x)
	if _, _, err := x.Vectors("gone", "emb"); !fault.Is(err, fault.NotFound) {
		t.Errorf("the collection gone during its build: %v, want NotFound", err)
	}
	if _, _, err := x.Vectors("things", "emb"); err != nil {
		t.Errorf("the next collection: %v", err)
	}
}
