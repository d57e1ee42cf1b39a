package vector_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/search/vector/vectortest"
)

// within fails t if f has not returned in d: a call that blocks on the
// compaction never returns.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return in %v while a compaction was under way", what, d)
	}
}

// startCompaction fills a gated HNSW index with n items and deletes
// enough of them to start a compaction, which it waits to begin.
func startCompaction(t *testing.T, rng *rand.Rand, n int, started <-chan struct{}, h *vector.HNSW) (live map[string][]float32) {
	t.Helper()
	ctx := context.Background()
	items := vectortest.RandomItems(rng, n, 16)
	if err := h.Upsert(ctx, items); err != nil {
		t.Fatal(err)
	}
	live = map[string][]float32{}
	var gone []string
	for i, it := range items {
		if i < n*3/10 {
			gone = append(gone, it.ID)
		} else {
			live[it.ID] = it.Vector
		}
	}
	if err := h.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("deleting 30 % of the items started no compaction")
	}
	if !h.Compacting() {
		t.Fatal("Compacting false while a compaction waits at its gate")
	}
	return live
}

// TestHNSWCompactionInBackground: while the graph is rebuilt, searches
// are answered from the old graph, writes and deletes are taken, a
// snapshot holds what the index serves, and after the swap every write is
// there and no delete has come back.
func TestHNSWCompactionInBackground(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	cfg := vector.Config{Dimensions: 16, Metric: vector.L2}
	gate, started := make(chan struct{}), make(chan struct{}, 8)
	h, err := vector.NewHNSWGated(cfg, testOptions, gate, started)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Close() }()
	const n = 1000
	live := startCompaction(t, rng, n, started, h)
	nodesBefore := h.Nodes()

	check := func(when string) {
		t.Helper()
		if h.Len() != len(live) {
			t.Fatalf("%s: Len %d, want %d", when, h.Len(), len(live))
		}
		for i := range n + 100 {
			id := vectortest.ItemID(i)
			v, ok := h.Vector(id)
			want, exists := live[id]
			if ok != exists || !slices.Equal(v, want) {
				t.Fatalf("%s: Vector(%s) = %v, %v; want %v, %v", when, id, v, ok, want, exists)
			}
		}
		var items []vector.Item
		for id, v := range live {
			items = append(items, vector.Item{ID: id, Vector: v})
		}
		var sum float64
		for range 20 {
			q := vectortest.RandomVector(rng, 16)
			hits, err := h.Search(ctx, q, 10, vector.SearchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, hit := range hits {
				if _, ok := live[hit.ID]; !ok {
					t.Fatalf("%s: search returned %s, which is deleted", when, hit.ID)
				}
			}
			sum += vectortest.Recall(hits, vectortest.BruteForce(vector.L2, items, q, 10, nil))
		}
		if r := sum / 20; r < 0.95 {
			t.Fatalf("%s: recall@10 %.3f, want ≥ 0.95", when, r)
		}
	}
	within(t, 30*time.Second, "a search", func() { check("during the compaction") })

	// Writes during the compaction: new items, replaced ones, deleted
	// ones (some of them just added), one deleted before it came back.
	var up []vector.Item
	for i := n; i < n+100; i++ {
		up = append(up, vector.Item{ID: vectortest.ItemID(i), Vector: vectortest.RandomVector(rng, 16)})
	}
	for i := n * 3 / 10; i < n*3/10+50; i++ {
		up = append(up, vector.Item{ID: vectortest.ItemID(i), Vector: vectortest.RandomVector(rng, 16)})
	}
	up = append(up, vector.Item{ID: vectortest.ItemID(0), Vector: vectortest.RandomVector(rng, 16)})
	var del []string
	for i := n*3/10 + 40; i < n*3/10+90; i++ { // 10 just replaced, 40 untouched
		del = append(del, vectortest.ItemID(i))
	}
	for i := n + 90; i < n+100; i++ {
		del = append(del, vectortest.ItemID(i))
	}
	within(t, 30*time.Second, "writes", func() {
		for i := 0; i < len(up); i += 40 {
			if err := h.Upsert(ctx, up[i:min(i+40, len(up))]); err != nil {
				t.Error(err)
			}
		}
		if err := h.Delete(ctx, del); err != nil {
			t.Error(err)
		}
	})
	for _, it := range up {
		live[it.ID] = it.Vector
	}
	for _, id := range del {
		delete(live, id)
	}
	if !h.Compacting() {
		t.Fatal("the compaction ended while held at its gate")
	}
	check("after writes during the compaction")

	// A snapshot now holds the serving graph.
	var buf bytes.Buffer
	within(t, 30*time.Second, "a snapshot", func() {
		if err := h.Snapshot(&buf); err != nil {
			t.Error(err)
		}
	})
	loaded, err := vector.Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Len() != len(live) {
		t.Fatalf("snapshot during the compaction holds %d items, want %d", loaded.Len(), len(live))
	}
	for id, want := range live {
		if v, ok := loaded.Vector(id); !ok || !slices.Equal(v, want) {
			t.Fatalf("snapshot: Vector(%s) = %v, %v; want %v", id, v, ok, want)
		}
	}
	_ = loaded.Close()

	close(gate)
	h.WaitCompaction()
	check("after the compaction")
	if nodes := h.Nodes(); nodes >= nodesBefore || float64(nodes) > 1.2*float64(len(live)) {
		t.Fatalf("%d nodes for %d items after the compaction (%d before): tombstones not dropped", nodes, len(live), nodesBefore)
	}
	if len(started) != 0 {
		t.Fatalf("%d more compactions started", len(started))
	}
}

// TestHNSWCloseDuringCompaction: Close stops a compaction held at its
// gate, waits for it to end, and starts no other; the index is closed.
func TestHNSWCloseDuringCompaction(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(9, 10))
	cfg := vector.Config{Dimensions: 16, Metric: vector.L2}
	gate, started := make(chan struct{}), make(chan struct{}, 8)
	h, err := vector.NewHNSWGated(cfg, testOptions, gate, started)
	if err != nil {
		t.Fatal(err)
	}
	defer close(gate)
	startCompaction(t, rng, 1000, started, h)
	// More tombstones while the compaction is held start no second one.
	var gone []string
	for i := 300; i < 700; i++ {
		gone = append(gone, vectortest.ItemID(i))
	}
	if err := h.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	within(t, 30*time.Second, "Close", func() {
		if err := h.Close(); err != nil {
			t.Error(err)
		}
	})
	if h.Compacting() {
		t.Fatal("Close returned before the compaction ended")
	}
	if n := len(started); n != 0 {
		t.Fatalf("%d more compactions started while one was under way", n)
	}
	if _, err := h.Search(ctx, vectortest.RandomVector(rng, 16), 1, vector.SearchOptions{}); !errors.Is(err, vector.ErrClosed) {
		t.Fatalf("Search after Close: %v, want ErrClosed", err)
	}
	if err := h.Upsert(ctx, vectortest.RandomItems(rng, 1, 16)); !errors.Is(err, vector.ErrClosed) {
		t.Fatalf("Upsert after Close: %v, want ErrClosed", err)
	}
}

// TestHNSWCompactionFewWrites: a handful of writes during a compaction
// (applied at the swap itself) are all there after it.
func TestHNSWCompactionFewWrites(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 12))
	cfg := vector.Config{Dimensions: 16, Metric: vector.L2}
	gate, started := make(chan struct{}), make(chan struct{}, 8)
	h, err := vector.NewHNSWGated(cfg, testOptions, gate, started)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Close() }()
	live := startCompaction(t, rng, 1000, started, h)
	up := []vector.Item{
		{ID: vectortest.ItemID(1000), Vector: vectortest.RandomVector(rng, 16)},
		{ID: vectortest.ItemID(500), Vector: vectortest.RandomVector(rng, 16)},
		{ID: vectortest.ItemID(5), Vector: vectortest.RandomVector(rng, 16)},
	}
	if err := h.Upsert(ctx, up); err != nil {
		t.Fatal(err)
	}
	del := []string{vectortest.ItemID(600), vectortest.ItemID(1000)}
	if err := h.Delete(ctx, del); err != nil {
		t.Fatal(err)
	}
	for _, it := range up {
		live[it.ID] = it.Vector
	}
	for _, id := range del {
		delete(live, id)
	}
	close(gate)
	h.WaitCompaction()
	if h.Len() != len(live) {
		t.Fatalf("Len %d, want %d", h.Len(), len(live))
	}
	for i := range 1001 {
		id := vectortest.ItemID(i)
		v, ok := h.Vector(id)
		want, exists := live[id]
		if ok != exists || !slices.Equal(v, want) {
			t.Fatalf("Vector(%s) = %v, %v; want %v, %v", id, v, ok, want, exists)
		}
	}
	if nodes := h.Nodes(); nodes > len(live)+2 {
		t.Fatalf("%d nodes for %d items after the compaction", nodes, len(live))
	}
}
