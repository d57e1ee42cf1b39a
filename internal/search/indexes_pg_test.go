package search

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus/memory"
	"github.com/basaltdev/basalt/internal/outbox"
	"github.com/basaltdev/basalt/internal/search/embed"
	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/storage/postgres"
)

// process is one Basalt process on a shared PostgreSQL database: its
// store, relay (woken by its writes and, through LISTEN, by the others'),
// document service and vector indexes.
type process struct {
	*env
	pg      *postgres.Store
	indexes *Indexes
}

// goRun runs fn until the test ends.
func goRun(t *testing.T, what string, fn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", what, err)
		}
	})
}

func startProcess(t *testing.T, url string, embedder bool) *process {
	t.Helper()
	st, err := postgres.Open(t.Context(), postgres.Options{URL: url, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	p := &process{env: newEnvOn(t, st), pg: st}
	bus, err := memory.New(memory.Config{Log: st, Cursors: st, News: p.news})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	relay, err := outbox.New(outbox.Config{Log: st, Cursors: st, Bus: bus, Waker: st, News: p.news, WaitForConsumers: true})
	if err != nil {
		t.Fatal(err)
	}
	p.svc, err = docstore.NewService(st, docstore.Options{CursorKey: []byte("kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"), Committed: relay.Wake})
	if err != nil {
		t.Fatal(err)
	}
	p.indexes, err = NewIndexes(IndexesConfig{Log: st, Catalog: st, Stored: st, News: p.news, Embedders: builtinOnly,
		NewIndex: func(c vector.Config) (vector.Index, error) { return vector.NewFlat(c) }})
	if err != nil {
		t.Fatal(err)
	}
	goRun(t, "relay", relay.Run)
	goRun(t, "indexes", p.indexes.Run)
	if embedder {
		e, err := NewEmbedder(EmbedderConfig{Bus: bus, DeadLetters: st, Collections: st, Vectors: st,
			Embedders: builtinOnly, Committed: relay.Wake})
		if err != nil {
			t.Fatal(err)
		}
		goRun(t, "embedder", e.Run)
	}
	return p
}

// Two processes on one PostgreSQL database: a document written through
// one is found by the vector indexes of both within a second — by its
// client vector, and by the embedding the other process's consumer
// computed.
func TestIndexesOfTwoProcessesOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	a := startProcess(t, url, false)
	b := startProcess(t, url, true) // runs the embedder
	a.createCollection("things", thingsSearch())
	for _, p := range []*process{a, b} {
		waitUntil(t, "the field is served", func() bool {
			_, _, err := p.indexes.Vectors("things", "emb")
			return err == nil
		})
	}
	builtin, err := embed.NewBuiltin(8)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		id := fmt.Sprint("doc", i)
		title := fmt.Sprintf("raft consensus note %d", i)
		vec := []float32{float32(i), 7, -1}
		_, err := a.svc.CreateDocument(a.admin, docstore.CreateRequest{Collection: "things", ID: id,
			Data: docstore.Data{"title": title, "emb": []any{json.Number(fmt.Sprint(i)), json.Number("7"), json.Number("-1")}}})
		if err != nil {
			t.Fatal(err)
		}
		written := time.Now()
		var wg sync.WaitGroup
		for name, p := range map[string]*process{"a": a, "b": b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				foundWithin(t, written, name+" by client vector", p.indexes, "emb", vec, id)
				foundWithin(t, written, name+" by embedding", p.indexes, "sem", builtin.Vector(title), id)
			}()
		}
		wg.Wait()
	}
}

// foundWithin polls x until a search of field near q finds id first, and
// fails when that takes more than a second from since.
func foundWithin(t *testing.T, since time.Time, what string, x *Indexes, field string, q []float32, id string) {
	t.Helper()
	deadline := since.Add(time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if idx, _, err := x.Vectors("things", field); err == nil {
			hits, err := idx.Search(context.Background(), q, 1, vector.SearchOptions{})
			if err == nil && len(hits) == 1 && hits[0].ID == id {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %s not found within 1 s of its write", what, id)
			return
		}
		<-tick.C
	}
}
