package vector_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/search/vector/vectortest"
)

func TestAuto(t *testing.T) {
	// A low threshold, so that the suite's larger cases run on HNSW after
	// a background build, and its small ones on the flat index.
	vectortest.Run(t, vectortest.Harness{
		Name: "auto",
		New: func(cfg vector.Config) (vector.Index, error) {
			return vector.NewAuto(cfg, vector.AutoOptions{Threshold: 500, HNSW: testOptions})
		},
		MinRecall: 0.95,
	})
}

// waitKind polls until a holds kind, or fails after a deadline.
func waitKind(t *testing.T, a *vector.Auto, kind string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for a.Kind() != kind || a.Building() {
		if time.Now().After(deadline) {
			t.Fatalf("Auto holds %s (building %v), want %s", a.Kind(), a.Building(), kind)
		}
		<-tick.C
	}
}

func TestAutoSwitchesWithWritesDuringTheBuild(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(21, 22))
	const dim = 16
	items := vectortest.RandomItems(rng, 1500, dim)
	gate, started := make(chan struct{}), make(chan struct{}, 1)
	a, err := vector.NewAutoGated(vector.Config{Dimensions: dim, Metric: vector.L2}, vector.AutoOptions{Threshold: 1000, HNSW: testOptions}, gate, started)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close() }()
	if err := a.Upsert(ctx, items[:1000]); err != nil {
		t.Fatal(err)
	}
	if a.Kind() != "flat" || a.Building() {
		t.Fatalf("at the threshold: %s, building %v; want flat, not building", a.Kind(), a.Building())
	}
	if err := a.Upsert(ctx, items[1000:1100]); err != nil {
		t.Fatal(err)
	}
	<-started
	if !a.Building() || a.Kind() != "flat" {
		t.Fatalf("above the threshold: %s, building %v; want flat, building", a.Kind(), a.Building())
	}
	// Writes while the build is held: the flat index serves them at once,
	// and the HNSW index must have them all after the swap.
	if err := a.Upsert(ctx, items[1100:]); err != nil {
		t.Fatal(err)
	}
	moved := vectortest.RandomVector(rng, dim)
	if err := a.Upsert(ctx, []vector.Item{{ID: items[3].ID, Vector: moved}}); err != nil {
		t.Fatal(err)
	}
	var gone []string
	for i := 0; i < 1500; i += 10 {
		gone = append(gone, items[i].ID)
	}
	if err := a.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	hits, err := a.Search(ctx, moved, 1, vector.SearchOptions{})
	if err != nil || len(hits) != 1 || hits[0].ID != items[3].ID {
		t.Fatalf("during the build: %v, %v; want %s", hits, err, items[3].ID)
	}
	close(gate)
	waitKind(t, a, "hnsw")

	want := map[string][]float32{}
	for i, it := range items {
		if i%10 != 0 {
			want[it.ID] = it.Vector
		}
	}
	want[items[3].ID] = moved
	if a.Len() != len(want) {
		t.Fatalf("Len = %d after the swap, want %d", a.Len(), len(want))
	}
	for _, id := range gone {
		if _, ok := a.Vector(id); ok {
			t.Fatalf("%s, deleted during the build, is held", id)
		}
	}
	for id, v := range want {
		got, ok := a.Vector(id)
		if !ok || vectortest.Distance(vector.L2, got, v) != 0 {
			t.Fatalf("Vector(%s) = %v, %v after the swap; want %v", id, got, ok, v)
		}
	}
	hits, err = a.Search(ctx, moved, 1, vector.SearchOptions{})
	if err != nil || len(hits) != 1 || hits[0].ID != items[3].ID {
		t.Fatalf("after the swap: %v, %v; want %s", hits, err, items[3].ID)
	}

	// Back to flat only well below the threshold.
	var ids []string
	for id := range want {
		ids = append(ids, id)
	}
	if err := a.Delete(ctx, ids[:len(ids)-600]); err != nil { // 600 left: above half
		t.Fatal(err)
	}
	if a.Kind() != "hnsw" {
		t.Fatalf("with 600 of threshold 1000: %s, want hnsw", a.Kind())
	}
	if err := a.Delete(ctx, ids[len(ids)-600:len(ids)-200]); err != nil { // 200 left
		t.Fatal(err)
	}
	if a.Kind() != "flat" || a.Len() != 200 {
		t.Fatalf("with 200 of threshold 1000: %s holding %d, want flat holding 200", a.Kind(), a.Len())
	}
	for _, id := range ids[len(ids)-200:] {
		if got, ok := a.Vector(id); !ok || vectortest.Distance(vector.L2, got, want[id]) != 0 {
			t.Fatalf("Vector(%s) after going back to flat: %v, %v", id, got, ok)
		}
	}
}

func TestAutoCloseStopsTheBuild(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(23, 24))
	gate, started := make(chan struct{}), make(chan struct{}, 1)
	a, err := vector.NewAutoGated(vector.Config{Dimensions: 8, Metric: vector.Cosine}, vector.AutoOptions{Threshold: 100}, gate, started)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Upsert(ctx, vectortest.RandomItems(rng, 200, 8)); err != nil {
		t.Fatal(err)
	}
	<-started
	// The gate stays shut: only Close's cancellation lets the build end.
	done := make(chan error, 1)
	go func() { done <- a.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not stop the build")
	}
	if _, err := a.Search(ctx, vectortest.RandomVector(rng, 8), 1, vector.SearchOptions{}); err == nil {
		t.Fatal("Search after Close succeeded")
	}
}

func TestAutoOptions(t *testing.T) {
	cfg := vector.Config{Dimensions: 4, Metric: vector.Dot}
	for _, o := range []vector.AutoOptions{{Threshold: -1}, {Threshold: 1}, {HNSW: vector.HNSWOptions{M: 2}}, {HNSW: vector.HNSWOptions{M: 16, EfConstruction: 8}}} {
		if _, err := vector.NewAuto(cfg, o); err == nil {
			t.Fatalf("NewAuto(%+v) accepted", o)
		}
	}
}
