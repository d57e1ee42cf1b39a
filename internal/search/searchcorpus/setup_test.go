package searchcorpus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/search"
	"github.com/basaltdev/basalt/internal/search/embed"
	"github.com/basaltdev/basalt/internal/search/searchcorpus"
	"github.com/basaltdev/basalt/internal/search/searchdb"
	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/storage/postgres"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// dims is the dimensions of the corpus's embedder field.
const dims = 256

// stdName is the collection of the corpus: one document per package,
// with a visibility its list rule reads (users see the public packages,
// administrators all) and a hidden field, maintainer.
const stdName = "std"

const corpusSchema = `{"type":"object","properties":{"path":{"type":"string"},"name":{"type":"string"},` +
	`"kind":{"type":"string"},"synopsis":{"type":"string"},"doc":{"type":"string"},"visibility":{"type":"string"},` +
	`"maintainer":{"type":"string"}}}`

// corpusSearch is the search configuration of the collection.
func corpusSearch() *docstore.Search {
	return &docstore.Search{
		Text: &docstore.TextSearch{Fields: map[string]int{"name": 4, "path": 4, "synopsis": 2, "doc": 1}, Language: "english"},
		Vectors: map[string]docstore.VectorField{"embedding": {Dimensions: dims, Metric: docstore.MetricCosine,
			Source: docstore.SourceEmbedder, From: []string{"synopsis", "doc"}}},
	}
}

// hiddenFromUsers reports whether the list rule hides a package from
// users: the cryptography and networking packages are for staff.
func hiddenFromUsers(path string) bool {
	return path == "crypto" || strings.HasPrefix(path, "crypto/") || path == "net" || strings.HasPrefix(path, "net/")
}

// maintainerSecret is the value of the hidden field, a word no package
// documentation holds, so a leak is easy to see.
const maintainerSecret = "zyxwvut-maintainer"

// corpusStore is what an engine gives search.
type corpusStore interface {
	docstore.Store
	searchdb.Store
	eventbus.Log
}

// corpus is the documents of a collection and their embeddings,
// computed once for every engine.
type corpus struct {
	ids  []string
	data []docstore.Data
	// texts and vecs are the text each document's embedding field reads
	// and its builtin embedding, in ids order.
	texts []string
	vecs  [][]float32
}

// env is the search service of one engine over the corpus.
type env struct {
	engine string
	corpus *corpus
	docs   *docstore.Service
	db     searchdb.Store
	svc    *search.Service
	emb    *embed.Builtin
	// ranks holds, per mode, the rank of each plain query's package.
	ranks map[search.Mode]map[string]int
}

// loadCorpus reads the standard library's package documentation, one
// document per package with its visibility (crypto and net are for staff)
// and the hidden maintainer, and embeds it, once for both engines.
func loadCorpus(t *testing.T) *corpus {
	t.Helper()
	root, err := searchcorpus.GOROOT(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := searchcorpus.StdPackages(root)
	if err != nil {
		t.Fatal(err)
	}
	c := &corpus{}
	for _, p := range pkgs {
		visibility := "public"
		if hiddenFromUsers(p.Path) {
			visibility = "staff"
		}
		c.ids = append(c.ids, p.ID())
		c.data = append(c.data, docstore.Data{"path": p.Path, "name": p.Name, "synopsis": p.Synopsis, "doc": p.Doc,
			"visibility": visibility, "maintainer": maintainerSecret})
	}
	c.embed(t)
	return c
}

// loadDecls reads the documented exported declarations of a few
// packages every Go programmer uses, one document each, all public.
func loadDecls(t *testing.T) *corpus {
	t.Helper()
	root, err := searchcorpus.GOROOT(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	decls, err := searchcorpus.StdDecls(root, "strings", "strconv", "os", "time", "encoding/json", "slices", "path/filepath")
	if err != nil {
		t.Fatal(err)
	}
	c := &corpus{}
	for _, d := range decls {
		c.ids = append(c.ids, d.ID())
		c.data = append(c.data, docstore.Data{"path": d.Path, "name": d.Name, "kind": d.Kind, "synopsis": d.Synopsis, "doc": d.Doc,
			"visibility": "public"})
	}
	c.embed(t)
	return c
}

// embed computes the text and builtin embedding of every document.
func (c *corpus) embed(t *testing.T) {
	t.Helper()
	emb, err := embed.NewBuiltin(dims)
	if err != nil {
		t.Fatal(err)
	}
	from := corpusSearch().Vectors["embedding"].From
	c.texts = make([]string, len(c.ids))
	for i, d := range c.data {
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		c.texts[i] = search.EmbedText(raw, from)
	}
	if c.vecs, err = emb.Embed(t.Context(), c.texts); err != nil {
		t.Fatal(err)
	}
}

func openSQLite(t *testing.T) docstore.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db"), Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func openPostgres(t *testing.T) docstore.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), postgres.Options{URL: pgtest.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func adminCtx(ctx context.Context) context.Context {
	return auth.WithPrincipal(ctx, auth.Principal{Kind: auth.KindUser, ID: "admin-1", Roles: []string{auth.RoleAdmin}})
}

func userCtx(ctx context.Context) context.Context {
	return auth.WithPrincipal(ctx, auth.Principal{Kind: auth.KindUser, ID: "user-1"})
}

// newEnv writes the corpus into the engine's store, stores each
// document's embedding as the embedder consumer does (PutVectors with its
// search.vectors event), and starts the vector indexes, which load the
// stored vectors, for the search service to read.
func newEnv(t *testing.T, engine string, store docstore.Store, c *corpus) *env {
	t.Helper()
	ctx := t.Context()
	db, ok := store.(corpusStore)
	if !ok {
		t.Fatalf("the %s engine does not implement searchdb.Store and eventbus.Log", engine)
	}
	docs, err := docstore.NewService(db, docstore.Options{CursorKey: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	emb, err := embed.NewBuiltin(dims)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{engine: engine, corpus: c, docs: docs, db: db, emb: emb, ranks: map[search.Mode]map[string]int{}}
	public := `visibility = "public"`
	if _, err := docs.CreateCollection(adminCtx(ctx), docstore.CollectionSpec{Name: stdName, Schema: json.RawMessage(corpusSchema),
		Rules: docstore.Rules{List: &public}, HiddenFields: []string{"maintainer"}, Search: corpusSearch()}); err != nil {
		t.Fatal(err)
	}
	e.embed(t, e.write(t))
	x := e.startIndexes(t, db)
	e.svc, err = search.New(search.Options{Docs: docs, DB: db, Vectors: x, Embedders: e.embedders})
	if err != nil {
		t.Fatal(err)
	}
	st, err := db.TextStatus(ctx, stdName)
	if err != nil {
		t.Fatal(err)
	}
	if n := int64(len(c.ids)); st.Building || st.Indexed != n || st.Total != n {
		t.Fatalf("%s text index: %+v, want %d documents indexed", engine, st, n)
	}
	return e
}

// write creates the corpus's documents, 100 per batch, and returns each
// document's version.
func (e *env) write(t *testing.T) map[string]int64 {
	t.Helper()
	versions := map[string]int64{}
	c := e.corpus
	for start := 0; start < len(c.ids); start += 100 {
		var ops []docstore.BatchOp
		for i := start; i < min(start+100, len(c.ids)); i++ {
			ops = append(ops, docstore.BatchOp{Op: docstore.OpCreate, Collection: stdName, ID: c.ids[i], Data: c.data[i]})
		}
		res, err := e.docs.Batch(adminCtx(t.Context()), ops, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			versions[r.ID] = r.Document.Version
		}
	}
	return versions
}

// embed stores, through the engine, the builtin embedding of each
// document's synopsis and doc (joined by a blank line, the field's From
// order), as the embedder consumer does.
func (e *env) embed(t *testing.T, versions map[string]int64) {
	t.Helper()
	texts, vecs := e.corpus.texts, e.corpus.vecs
	stored := make([]searchdb.StoredVector, len(texts))
	for i, id := range e.corpus.ids {
		stored[i] = searchdb.StoredVector{Collection: stdName, DocumentID: id, Field: "embedding",
			Version: versions[id], Hash: search.TextHash(e.emb.Name(), texts[i]), Vector: vecs[i]}
	}
	n, err := e.db.PutVectors(t.Context(), stored, search.VectorsEvent)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(stored) {
		t.Fatalf("%s stored %d vectors of %d", e.engine, n, len(stored))
	}
}

// startIndexes runs the vector indexes of the engine's database (the
// in-process Indexes the server runs, over flat indexes), which build
// each embedder field's index from the stored vectors, and waits until
// the collection's index holds every document's current vector.
func (e *env) startIndexes(t *testing.T, store corpusStore) *search.Indexes {
	t.Helper()
	x, err := search.NewIndexes(search.IndexesConfig{Log: store, Catalog: store, Stored: store, Poll: 20 * time.Millisecond,
		NewIndex:  func(c vector.Config) (vector.Index, error) { return vector.NewFlat(c) },
		Embedders: e.embedders})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Indexes.Run: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		idx, st, err := x.Vectors(stdName, "embedding")
		if err == nil && st.Pending == 0 && !st.Building && idx.Len() == len(e.corpus.ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the vector index is not built after 30 s (err %v, state %+v)", e.engine, err, st)
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
	}
	return x
}

// embedders finds the builtin embedder of the corpus's dimensions.
func (e *env) embedders(name string, n int) (embed.Embedder, error) {
	if name != embed.BuiltinName || n != dims {
		return nil, embed.ErrUnknown
	}
	return e.emb, nil
}
