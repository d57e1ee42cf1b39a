package search

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// benchIndexes returns Indexes over a SQLite database holding n documents
// with a client vector of dims dimensions (cosine), and the field's
// definition as stored.
func benchIndexes(b *testing.B, n, dims int) (*Indexes, docstore.VectorField) {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(b.TempDir(), "basalt.db"), Synchronous: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	e := newEnvOn(&testing.T{}, st)
	open := ""
	schema := json.RawMessage(`{"type":"object","properties":{"emb":{"type":"array","items":{"type":"number"}}}}`)
	if _, err := e.svc.CreateCollection(e.admin, docstore.CollectionSpec{Name: "things", Schema: schema,
		Rules: docstore.Rules{List: &open}, Search: &docstore.Search{Vectors: map[string]docstore.VectorField{
			"emb": {Dimensions: dims}}}}); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC()
	for start := 0; start < n; start += 5000 {
		err := st.Write(ctx, func(tx docstore.Tx) error {
			for i := start; i < min(start+5000, n); i++ {
				v := make([]float32, dims)
				for j := range v {
					v[j] = float32(rng.NormFloat64())
				}
				data, err := json.Marshal(map[string]any{"emb": v})
				if err != nil {
					return err
				}
				if err := tx.InsertDocument(ctx, docstore.Document{Collection: "things", ID: fmt.Sprintf("d%07d", i),
					Version: 1, CreatedAt: now, UpdatedAt: now, Data: data}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	c, err := st.GetCollection(ctx, "things")
	if err != nil {
		b.Fatal(err)
	}
	x, err := NewIndexes(IndexesConfig{Log: st, Catalog: st, Stored: e.vecs, SnapshotDir: b.TempDir(),
		NewIndex:  func(c vector.Config) (vector.Index, error) { return vector.NewAuto(c, vector.AutoOptions{}) },
		LoadIndex: vector.Load})
	if err != nil {
		b.Fatal(err)
	}
	return x, c.Search.Vectors["emb"]
}

// BenchmarkIndexesStart compares the two ways a process gets a vector
// field's index at start: rebuilding it from the documents (until it is
// served, exact), and loading its snapshot (an HNSW index at this size:
// 12,000 documents of 128 dimensions, above Auto's threshold).
func BenchmarkIndexesStart(b *testing.B) {
	const n, dims = 12_000, 128
	x, def := benchIndexes(b, n, dims)
	ctx := context.Background()
	// The rebuild reads the documents into an exact index (Auto starts
	// as one and builds its HNSW graph in the background: that build is
	// the vector package's, measured there).
	newAuto := x.cfg.NewIndex
	x.cfg.NewIndex = func(c vector.Config) (vector.Index, error) { return vector.NewFlat(c) }
	b.Run("rebuild", func(b *testing.B) {
		for b.Loop() {
			f, err := x.build(ctx, "things", "emb", def)
			if err != nil || f.idx.Len() != n {
				b.Fatalf("build: %v", err)
			}
			_ = f.idx.Close()
		}
	})
	x.cfg.NewIndex = newAuto
	f, err := x.build(ctx, "things", "emb", def)
	if err != nil {
		b.Fatal(err)
	}
	waitBuilt(b, f.idx)
	if err := x.save(f); err != nil {
		b.Fatal(err)
	}
	if a, ok := f.idx.(*vector.Auto); ok {
		b.Logf("snapshot of a %s index", a.Kind())
	}
	b.Run("snapshot", func(b *testing.B) {
		for b.Loop() {
			g, err := x.loadSnapshot(ctx, "things", "emb", def)
			if err != nil || g == nil || g.idx.Len() != n {
				b.Fatalf("load: %v", err)
			}
			_ = g.idx.Close()
		}
	})
}

// waitBuilt waits until an Auto index has swapped in its HNSW graph (it
// builds it in the background), so that the snapshot holds the graph.
func waitBuilt(b *testing.B, idx vector.Index) {
	b.Helper()
	a, ok := idx.(*vector.Auto)
	if !ok {
		return
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Minute)
	for a.Kind() != "hnsw" || a.Building() {
		select {
		case <-tick.C:
		case <-deadline:
			b.Fatal("the HNSW graph was not built within 5 minutes")
		}
	}
}
