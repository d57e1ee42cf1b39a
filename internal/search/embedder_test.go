package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/eventbus/memory"
	"github.com/basaltdev/basalt/internal/search/embed"
	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// fakeEmbedder wraps the builtin embedder: it counts calls and texts, and
// fails as fail says (nil: never).
type fakeEmbedder struct {
	inner *embed.Builtin
	mu    sync.Mutex
	calls [][]string
	fail  func(call int) error
}

func (f *fakeEmbedder) Name() string    { return f.inner.Name() }
func (f *fakeEmbedder) Dimensions() int { return f.inner.Dimensions() }
func (f *fakeEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	f.mu.Lock()
	f.calls = append(f.calls, append([]string(nil), texts...))
	n := len(f.calls)
	f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(n); err != nil {
			return nil, err
		}
	}
	return f.inner.Embed(ctx, texts)
}

func (f *fakeEmbedder) texts() (calls, texts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		texts += len(c)
	}
	return len(f.calls), texts
}

// embedEnv is a SQLite database with an in-process bus and the embedder
// consumer over it.
type embedEnv struct {
	*env
	st  *sqlite.Store
	bus *memory.Bus
	emb *fakeEmbedder
}

func newEmbedEnv(t *testing.T, dims int) *embedEnv {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := &embedEnv{env: newEnvOn(t, st), st: st}
	e.bus, err = memory.New(memory.Config{Log: st, Cursors: st, News: e.news, PollInterval: 20 * time.Millisecond,
		RetryBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.bus.Close() })
	b, err := embed.NewBuiltin(dims)
	if err != nil {
		t.Fatal(err)
	}
	e.emb = &fakeEmbedder{inner: b}
	open := ""
	if _, err := e.svc.CreateCollection(e.admin, docstore.CollectionSpec{Name: "notes", Schema: thingsSchema,
		Rules: docstore.Rules{List: &open, Get: &open}, Search: &docstore.Search{Vectors: map[string]docstore.VectorField{
			"sem": {Dimensions: dims, Source: docstore.SourceEmbedder, From: []string{"title"}}}}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// run starts the consumer until the test ends.
func (e *embedEnv) run(maxAttempts int) {
	e.t.Helper()
	c, err := NewEmbedder(EmbedderConfig{Bus: e.bus, DeadLetters: e.st, Collections: e.st, Vectors: e.vecs,
		Embedders: func(name string, dims int) (embed.Embedder, error) {
			if name != docstore.BuiltinEmbedder {
				return nil, embed.ErrUnknown
			}
			return e.emb, nil
		},
		Committed: e.news.Notify, MaxAttempts: maxAttempts, RetryInterval: 20 * time.Millisecond,
		Backoff: consumer.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond}})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Run: %v", err)
		}
	})
}

func (e *embedEnv) write(id, title string) docstore.Document {
	e.t.Helper()
	data := docstore.Data{"n": json.Number("1")}
	if title != "" {
		data["title"] = title
	}
	d, err := e.svc.ReplaceDocument(e.admin, docstore.ReplaceRequest{Collection: "notes", ID: id, Data: data})
	if err != nil {
		d, err = e.svc.CreateDocument(e.admin, docstore.CreateRequest{Collection: "notes", ID: id, Data: data})
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// waitStored waits until the vector of d's version is stored.
func (e *embedEnv) waitStored(d docstore.Document) {
	e.t.Helper()
	waitUntil(e.t, "the vector of "+d.ID+" is stored", func() bool {
		vs, err := e.vecs.GetVectors(context.Background(), "notes", "sem", []string{d.ID})
		return err == nil && len(vs) == 1 && vs[0].Version == d.Version
	})
}

func (e *embedEnv) stored(id string) []float32 {
	e.t.Helper()
	vs, err := e.vecs.GetVectors(context.Background(), "notes", "sem", []string{id})
	if err != nil || len(vs) != 1 {
		e.t.Fatalf("stored vector of %s: %v, %v", id, vs, err)
	}
	return vs[0].Vector
}

// The consumer embeds new documents (a batch in one call), stores the same
// vector under a new version without embedding when the text did not
// change, embeds again when it did, and each stored vector reaches the
// indexes through a search.vectors event: nothing stays pending.
func TestEmbedderBuiltin(t *testing.T) {
	e := newEmbedEnv(t, 16)
	var docs []docstore.Document
	for i := range 5 {
		docs = append(docs, e.write(fmt.Sprint("n", i), fmt.Sprintf("note number %d about rafts", i)))
	}
	e.write("blank", "") // nothing to embed
	x, _ := e.indexes("", nil)
	e.run(0)
	for _, d := range docs {
		e.waitStored(d)
	}
	if calls, texts := e.emb.texts(); calls != 1 || texts != 5 {
		t.Errorf("embedded %d texts in %d calls, want 5 in one", texts, calls)
	}
	for i, d := range docs {
		if got, want := e.stored(d.ID), e.emb.inner.Vector(fmt.Sprintf("note number %d about rafts", i)); !slices.Equal(got, want) {
			t.Errorf("%s: stored %v, want the builtin vector %v", d.ID, got, want)
		}
	}

	// Same title, new version: the vector is stored again, not embedded.
	before := e.stored("n1")
	d := e.write("n1", "note number 1 about rafts")
	e.waitStored(d)
	if calls, _ := e.emb.texts(); calls != 1 {
		t.Errorf("an unchanged text was embedded again (%d calls)", calls)
	}
	if !slices.Equal(e.stored("n1"), before) {
		t.Error("the re-stamped vector differs")
	}
	// A new title: embedded.
	d = e.write("n2", "a different note")
	e.waitStored(d)
	if got, want := e.stored("n2"), e.emb.inner.Vector("a different note"); !slices.Equal(got, want) {
		t.Errorf("n2 after its new title: %v, want %v", got, want)
	}
	e.caughtUp(x)
	waitUntil(t, "no document pending", func() bool {
		_, st, err := x.Vectors("notes", "sem")
		return err == nil && st.Pending == 0
	})
	idx, _, err := x.Vectors("notes", "sem")
	if err != nil || idx.Len() != 5 {
		t.Fatalf("index: %v, %v; want 5 vectors", idx, err)
	}
	q := e.emb.inner.Vector("a different note")
	hits, err := idx.Search(context.Background(), q, 1, vector.SearchOptions{})
	if err != nil || len(hits) != 1 || hits[0].ID != "n2" {
		t.Errorf("search by n2's text: %v, %v", hits, err)
	}
	// The events carry the field and the vector.
	evs, err := e.st.ReadEvents(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Type != eventbus.SearchVectors {
			continue
		}
		n++
		var p struct {
			Field  string    `json:"field"`
			Vector []float32 `json:"vector"`
		}
		if err := json.Unmarshal(ev.Payload, &p); err != nil || p.Field != "sem" || len(p.Vector) != 16 || ev.DocumentID == "" || ev.Version < 1 {
			t.Errorf("search.vectors event %+v: payload %s (%v)", ev, ev.Payload, err)
		}
	}
	if n < 7 { // more when the collection's backfill and a document's event stored one vector both
		t.Errorf("%d search.vectors events, want at least 7 (5 new, 1 re-stamped, 1 re-embedded)", n)
	}
}

// Temporary failures of the embedder are retried until it answers; a
// permanent failure sets the event aside as a dead letter with the reason.
func TestEmbedderFailures(t *testing.T) {
	t.Run("temporary", func(t *testing.T) {
		e := newEmbedEnv(t, 8)
		e.emb.fail = func(call int) error {
			if call <= 3 {
				return fmt.Errorf("server overloaded: %w", embed.ErrTemporary)
			}
			return nil
		}
		d := e.write("a", "hello there")
		e.run(8)
		e.waitStored(d)
		if calls, _ := e.emb.texts(); calls < 4 {
			t.Errorf("%d calls, want the 3 failures and a success", calls)
		}
		letters, err := e.st.ListDeadLetters(context.Background(), EmbedderConsumerName, 0, 10)
		if err != nil || len(letters) != 0 {
			t.Errorf("dead letters: %v, %v", letters, err)
		}
	})
	t.Run("permanent", func(t *testing.T) {
		e := newEmbedEnv(t, 8)
		refused := errors.New("400 Bad Request: input too long")
		e.emb.fail = func(int) error { return refused }
		d := e.write("a", "hello there")
		e.run(8)
		var letters []consumer.DeadLetter
		waitUntil(t, "the dead letters of the collection's and the document's events", func() bool {
			var err error
			letters, err = e.st.ListDeadLetters(context.Background(), EmbedderConsumerName, 0, 10)
			return err == nil && len(letters) == 2
		})
		l := letters[0]
		if l.Event.DocumentID == "" {
			l = letters[1]
		}
		if l.Event.DocumentID != d.ID || l.Attempts != 1 || !strings.Contains(l.Error, refused.Error()) {
			t.Errorf("dead letter %+v, want a's event after one attempt with the embedder's reason", l)
		}
		// The collection's backfill, the batch's call, the event's own:
		// no retries.
		if calls, _ := e.emb.texts(); calls != 3 {
			t.Errorf("%d calls, want 3 (no retries)", calls)
		}
		for _, l := range letters {
			if l.Attempts != 1 {
				t.Errorf("dead letter %+v after %d attempts, want 1", l.Event, l.Attempts)
			}
		}
	})
	t.Run("wrong dimensions", func(t *testing.T) {
		e := newEmbedEnv(t, 8)
		other, err := embed.NewBuiltin(12)
		if err != nil {
			t.Fatal(err)
		}
		e.emb.inner = other
		e.write("a", "hello there")
		e.run(8)
		waitUntil(t, "dead letters", func() bool {
			letters, err := e.st.ListDeadLetters(context.Background(), EmbedderConsumerName, 0, 10)
			return err == nil && len(letters) == 2 && strings.Contains(letters[0].Error, "dimensions") &&
				strings.Contains(letters[1].Error, "dimensions")
		})
	})
}

// A vector field added to a collection that holds documents is filled in:
// the consumer embeds every document after the collection event (a call
// per page of documents), and the indexes have nothing pending; changing
// the field's from paths embeds them again from the new text.
func TestEmbedderBackfill(t *testing.T) {
	e := newEmbedEnv(t, 16)
	open := ""
	spec := docstore.CollectionSpec{Name: "late", Rules: docstore.Rules{List: &open, Get: &open},
		Schema: json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"body":{"type":"string"}}}`)}
	if _, err := e.svc.CreateCollection(e.admin, spec); err != nil {
		t.Fatal(err)
	}
	const n = 230 // more than two pages
	for i := range n {
		if _, err := e.svc.CreateDocument(e.admin, docstore.CreateRequest{Collection: "late", ID: fmt.Sprintf("d%03d", i),
			Data: docstore.Data{"title": fmt.Sprintf("late note %d", i), "body": fmt.Sprintf("body %d", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	x, _ := e.indexes("", nil)
	e.run(0)
	waitUntil(t, "the consumer has taken the documents' events", func() bool {
		lag, err := e.bus.Lag(context.Background(), EmbedderConsumerName)
		return err == nil && lag == 0
	})
	if calls, _ := e.emb.texts(); calls != 0 {
		t.Fatalf("%d embedder calls before the collection has a vector field", calls)
	}
	replace := func(from string) {
		t.Helper()
		spec.Search = &docstore.Search{Vectors: map[string]docstore.VectorField{
			"sem": {Dimensions: 16, Source: docstore.SourceEmbedder, From: []string{from}}}}
		if _, err := e.svc.ReplaceCollection(e.admin, "late", spec, nil); err != nil {
			t.Fatal(err)
		}
	}
	filled := func(text string) {
		t.Helper()
		waitUntil(t, "every document's vector is stored and indexed", func() bool {
			idx, st, err := x.Vectors("late", "sem")
			if err != nil || st.Pending != 0 || idx.Len() != n {
				return false
			}
			v, ok := idx.Vector("d007")
			return ok && slices.Equal(v, e.emb.inner.Vector(text))
		})
	}
	replace("title")
	filled("late note 7")
	if calls, texts := e.emb.texts(); texts != n || calls != 3 {
		t.Errorf("embedded %d texts in %d calls, want %d in a call per page of 100", texts, calls, n)
	}
	replace("body")
	filled("body 7")
	if _, texts := e.emb.texts(); texts != 2*n {
		t.Errorf("embedded %d texts in all, want %d", texts, 2*n)
	}
}
