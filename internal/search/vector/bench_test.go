package vector_test

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/search/vector/vectorbench"
)

// The benchmarks' sizes: 10,000 by default (the smoke run of every
// benchmark stays short); -vector.sizes=10000,100000 for the full range.
var benchSizes = flag.String("vector.sizes", "10000", "comma-separated index sizes of the vector benchmarks")

const benchDim = 128

func sizes(b *testing.B) []int {
	var out []int
	for _, f := range strings.Split(*benchSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("-vector.sizes: %q", *benchSizes)
		}
		out = append(out, n)
	}
	return out
}

// benchData returns n items and 256 queries of the clustered set.
func benchData(b *testing.B, n int) ([]vector.Item, [][]float32) {
	b.Helper()
	data, err := vectorbench.Generate(vectorbench.Clustered, 1, n+256, benchDim)
	if err != nil {
		b.Fatal(err)
	}
	items := make([]vector.Item, n)
	for i := range items {
		items[i] = vector.Item{ID: fmt.Sprintf("v%07d", i), Vector: data[i]}
	}
	return items, data[n:]
}

func benchSearch(b *testing.B, idx vector.Index, queries [][]float32) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := idx.Search(ctx, queries[i%len(queries)], 10, vector.SearchOptions{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkFlatSearch(b *testing.B) {
	for _, n := range sizes(b) {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			items, queries := benchData(b, n)
			f, err := vector.NewFlat(vector.Config{Dimensions: benchDim, Metric: vector.L2})
			if err != nil {
				b.Fatal(err)
			}
			if err := f.Upsert(context.Background(), items); err != nil {
				b.Fatal(err)
			}
			benchSearch(b, f, queries)
		})
	}
}

// BenchmarkHNSWSearch searches with the default options (recall@10 on
// this clustered set: see TestHNSWRecall and the vectors scenario).
func BenchmarkHNSWSearch(b *testing.B) {
	for _, n := range sizes(b) {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			items, queries := benchData(b, n)
			h, err := vector.NewHNSW(vector.Config{Dimensions: benchDim, Metric: vector.L2}, vector.HNSWOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if err := h.Upsert(context.Background(), items); err != nil {
				b.Fatal(err)
			}
			benchSearch(b, h, queries)
		})
	}
}

// BenchmarkHNSWInsert inserts one vector at a time into an index of n.
func BenchmarkHNSWInsert(b *testing.B) {
	ctx := context.Background()
	for _, n := range sizes(b) {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			items, more := benchData(b, n)
			h, err := vector.NewHNSW(vector.Config{Dimensions: benchDim, Metric: vector.L2}, vector.HNSWOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if err := h.Upsert(ctx, items); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				item := vector.Item{ID: fmt.Sprintf("new%d", i), Vector: more[i%len(more)]}
				if err := h.Upsert(ctx, []vector.Item{item}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkHNSWSearchUniform searches uniform vectors (the hard case: no
// clusters to descend into) at beam widths 256 and 512, walking the graph
// by the vectors' 8-bit codes (the default) and by the float vectors, and
// reports the recall@10 against Flat's exact answers.
func BenchmarkHNSWSearchUniform(b *testing.B) {
	ctx := context.Background()
	for _, n := range sizes(b) {
		data, err := vectorbench.Generate(vectorbench.Uniform, 1, n+256, benchDim)
		if err != nil {
			b.Fatal(err)
		}
		items := make([]vector.Item, n)
		for i := range items {
			items[i] = vector.Item{ID: fmt.Sprintf("v%07d", i), Vector: data[i]}
		}
		queries := data[n:]
		cfg := vector.Config{Dimensions: benchDim, Metric: vector.L2}
		h, err := vector.NewHNSW(cfg, vector.HNSWOptions{})
		if err != nil {
			b.Fatal(err)
		}
		f, err := vector.NewFlat(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := h.Upsert(ctx, items); err != nil {
			b.Fatal(err)
		}
		if err := f.Upsert(ctx, items); err != nil {
			b.Fatal(err)
		}
		exact := make([][]vector.Hit, len(queries))
		for i, q := range queries {
			if exact[i], err = f.Search(ctx, q, 10, vector.SearchOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		for _, ef := range []int{256, 512} {
			for _, walk := range []string{"codes", "floats"} {
				b.Run(fmt.Sprintf("n=%d/ef=%d/walk=%s", n, ef, walk), func(b *testing.B) {
					h.SetFloatWalk(walk == "floats")
					opts := vector.SearchOptions{Ef: ef}
					var recall float64
					for i, q := range queries {
						got, err := h.Search(ctx, q, 10, opts)
						if err != nil {
							b.Fatal(err)
						}
						recall += vectorbench.Recall(got, exact[i])
					}
					b.ReportAllocs()
					b.ResetTimer()
					i := 0
					for b.Loop() {
						if _, err := h.Search(ctx, queries[i%len(queries)], 10, opts); err != nil {
							b.Fatal(err)
						}
						i++
					}
					b.ReportMetric(recall/float64(len(queries)), "recall@10")
				})
			}
		}
	}
}
