package vector_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/search/vector/vectortest"
)

// snapshotter is an index that writes snapshots.
type snapshotter interface {
	vector.Index
	vector.Snapshotter
}

func snapshotIndexes(t testing.TB, cfg vector.Config) map[string]snapshotter {
	t.Helper()
	f, err := vector.NewFlat(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := vector.NewHNSW(cfg, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	a, err := vector.NewAuto(cfg, vector.AutoOptions{Threshold: 100000})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]snapshotter{"flat": f, "hnsw": h, "auto": a}
}

func TestSnapshotRoundTrip(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(31, 32))
	for _, m := range vectortest.Metrics() {
		cfg := vector.Config{Dimensions: 12, Metric: m}
		items := vectortest.RandomItems(rng, 600, 12)
		queries := make([][]float32, 20)
		for i := range queries {
			queries[i] = vectortest.RandomVector(rng, 12)
		}
		for name, idx := range snapshotIndexes(t, cfg) {
			t.Run(name+"/"+string(m), func(t *testing.T) {
				defer func() { _ = idx.Close() }()
				if err := idx.Upsert(ctx, items); err != nil {
					t.Fatal(err)
				}
				var gone []string
				for i := 0; i < 600; i += 9 { // tombstones in the HNSW graph
					gone = append(gone, items[i].ID)
				}
				if err := idx.Delete(ctx, gone); err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if err := idx.Snapshot(&buf); err != nil {
					t.Fatal(err)
				}
				loaded, err := vector.Load(bytes.NewReader(buf.Bytes()))
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = loaded.Close() }()
				if got, want := kindOf(loaded), name; got != want {
					t.Fatalf("loaded a %s, wrote a %s", got, want)
				}
				if loaded.Config() != cfg || loaded.Len() != idx.Len() {
					t.Fatalf("loaded %+v holding %d, want %+v holding %d", loaded.Config(), loaded.Len(), cfg, idx.Len())
				}
				for _, it := range items {
					a, okA := idx.Vector(it.ID)
					b, okB := loaded.Vector(it.ID)
					if okA != okB || !slices.Equal(a, b) {
						t.Fatalf("Vector(%s): %v %v before, %v %v after", it.ID, a, okA, b, okB)
					}
				}
				// The same graph answers the same.
				for _, q := range queries {
					a, err := idx.Search(ctx, q, 10, vector.SearchOptions{})
					if err != nil {
						t.Fatal(err)
					}
					b, err := loaded.Search(ctx, q, 10, vector.SearchOptions{})
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(a, b) {
						t.Fatalf("search before %v, after %v", a, b)
					}
				}
				// A loaded index takes writes.
				if err := loaded.Upsert(ctx, []vector.Item{{ID: "new", Vector: queries[0]}}); err != nil {
					t.Fatal(err)
				}
				if hits, err := loaded.Search(ctx, queries[0], 1, vector.SearchOptions{}); err != nil || hits[0].ID != "new" {
					t.Fatalf("after a write to the loaded index: %v, %v", hits, err)
				}
			})
		}
	}
}

func kindOf(idx vector.Index) string {
	switch idx.(type) {
	case *vector.Flat:
		return "flat"
	case *vector.HNSW:
		return "hnsw"
	case *vector.Auto:
		return "auto"
	}
	return "?"
}

// TestSnapshotAutoKeepsHNSW: an Auto past its threshold snapshots its
// graph, and loads as an Auto on HNSW without a rebuild.
func TestSnapshotAutoKeepsHNSW(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(33, 34))
	a, err := vector.NewAuto(vector.Config{Dimensions: 8, Metric: vector.Cosine}, vector.AutoOptions{Threshold: 300, HNSW: testOptions})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close() }()
	if err := a.Upsert(ctx, vectortest.RandomItems(rng, 400, 8)); err != nil {
		t.Fatal(err)
	}
	waitKind(t, a, "hnsw")
	var buf bytes.Buffer
	if err := a.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	loaded, err := vector.Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = loaded.Close() }()
	la, ok := loaded.(*vector.Auto)
	if !ok || la.Kind() != "hnsw" || la.Building() || la.Len() != 400 {
		t.Fatalf("loaded %T (%v)", loaded, loaded.Len())
	}
}

func TestLoadRefusesDamage(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(35, 36))
	for name, idx := range snapshotIndexes(t, vector.Config{Dimensions: 4, Metric: vector.L2}) {
		t.Run(name, func(t *testing.T) {
			defer func() { _ = idx.Close() }()
			if err := idx.Upsert(ctx, vectortest.RandomItems(rng, 50, 4)); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := idx.Snapshot(&buf); err != nil {
				t.Fatal(err)
			}
			good := buf.Bytes()
			for cut := 0; cut < len(good); cut += max(1, len(good)/97) {
				if _, err := vector.Load(bytes.NewReader(good[:cut])); !errors.Is(err, vector.ErrSnapshot) {
					t.Fatalf("truncated at %d of %d: %v", cut, len(good), err)
				}
			}
			for i := 0; i < len(good); i += max(1, len(good)/89) {
				bad := slices.Clone(good)
				bad[i] ^= 0x5a
				if _, err := vector.Load(bytes.NewReader(bad)); !errors.Is(err, vector.ErrSnapshot) {
					t.Fatalf("byte %d flipped: %v", i, err)
				}
			}
			if _, err := vector.Load(bytes.NewReader(append(slices.Clone(good), 0))); err != nil {
				t.Fatalf("a snapshot followed by more data: %v", err) // Load reads one snapshot
			}
		})
	}
	if err := (func() error { _, err := vector.Load(bytes.NewReader(nil)); return err })(); !errors.Is(err, vector.ErrSnapshot) {
		t.Fatalf("empty input: %v", err)
	}
}

// FuzzLoad: no input makes Load panic; what loads is a usable index.
func FuzzLoad(f *testing.F) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(37, 38))
	for _, m := range vectortest.Metrics() {
		for _, idx := range snapshotIndexes(f, vector.Config{Dimensions: 3, Metric: m}) {
			for _, n := range []int{0, 1, 40} {
				_ = idx.Upsert(ctx, vectortest.RandomItems(rng, n, 3))
				_ = idx.Delete(ctx, []string{vectortest.ItemID(0)})
				var buf bytes.Buffer
				if err := idx.Snapshot(&buf); err != nil {
					f.Fatal(err)
				}
				f.Add(buf.Bytes())
			}
			_ = idx.Close()
		}
	}
	f.Add([]byte("BVIX"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzLoad(t, b)
		// The same bytes framed with a valid length and checksum, so that
		// mutations reach the decoders behind the checksum.
		if len(b) >= 15 {
			payload := b[15 : len(b)-min(4, len(b)-15)]
			framed := append(binary.LittleEndian.AppendUint64(slices.Clone(b[:7]), uint64(len(payload))), payload...)
			framed = binary.LittleEndian.AppendUint32(framed, crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)))
			fuzzLoad(t, framed)
		}
	})
}

func fuzzLoad(t *testing.T, b []byte) {
	ctx := context.Background()
	{
		idx, err := vector.Load(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, vector.ErrSnapshot) {
				t.Fatalf("error not wrapping ErrSnapshot: %v", err)
			}
			return
		}
		defer func() { _ = idx.Close() }()
		q := make([]float32, idx.Config().Dimensions)
		for i := range q {
			q[i] = float32(i + 1)
		}
		hits, err := idx.Search(ctx, q, 5, vector.SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) > min(5, idx.Len()) {
			t.Fatalf("%d hits of %d items", len(hits), idx.Len())
		}
		if err := idx.Upsert(ctx, []vector.Item{{ID: "x", Vector: q}}); err != nil {
			t.Fatal(err)
		}
	}
}
