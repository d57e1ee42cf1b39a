// Package vectorbench measures the in-process vector indexes against each
// other: recall@k of HNSW against exact (Flat) search, queries per second
// of both, build time and memory per vector, on generated data sets. The
// recall tests of package vector and the `vectors` scenario of
// basalt-bench both run it.
package vectorbench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/basaltdev/basalt/internal/search/vector"
)

// The data sets.
const (
	// Uniform: every component uniform in [−1, 1).
	Uniform = "uniform"
	// Clustered: 100 Gaussian clusters of varied spreads and sizes
	// around uniform centres, a non-uniform set like real embeddings.
	Clustered = "clustered"
)

// Generate returns n vectors of dim components of the named data set
// (Uniform or Clustered), drawn from seed.
func Generate(set string, seed uint64, n, dim int) ([][]float32, error) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	slab := make([]float32, n*dim)
	out := make([][]float32, n)
	for i := range out {
		out[i] = slab[i*dim : (i+1)*dim : (i+1)*dim]
	}
	switch set {
	case Uniform:
		for i := range slab {
			slab[i] = float32(2*rng.Float64() - 1)
		}
	case Clustered:
		const clusters = 100
		centres := make([][]float64, clusters)
		spreads := make([]float64, clusters)
		weights := make([]float64, clusters)
		total := 0.0
		for c := range centres {
			centres[c] = make([]float64, dim)
			for j := range centres[c] {
				centres[c][j] = 2*rng.Float64() - 1
			}
			spreads[c] = 0.02 + 0.3*rng.Float64()*rng.Float64() // mostly tight, some wide
			weights[c] = 0.2 + rng.ExpFloat64()                 // uneven sizes
			total += weights[c]
		}
		for i := range out {
			r, c := rng.Float64()*total, 0
			for ; c < clusters-1 && r >= weights[c]; c++ {
				r -= weights[c]
			}
			for j := range out[i] {
				out[i][j] = float32(centres[c][j] + spreads[c]*rng.NormFloat64())
			}
		}
	default:
		return nil, fmt.Errorf("vectorbench: unknown data set %q (want %s or %s)", set, Uniform, Clustered)
	}
	return out, nil
}

// Spec is one measurement.
type Spec struct {
	// Set is the data set (Uniform or Clustered), N its size, Dim its
	// dimensions, Seed its draw.
	Set  string
	N    int
	Dim  int
	Seed uint64
	// Metric compares the vectors.
	Metric vector.Metric
	// K is the k of recall@k; Queries the number of queries (drawn from
	// the same distribution, not in the set).
	K, Queries int
	// Options tune the HNSW index; Efs are the beam widths measured, in
	// order (the index's EfSearch when empty). With StopAt > 0 the
	// measurement stops at the first beam width whose recall reaches it.
	Options vector.HNSWOptions
	Efs     []int
	StopAt  float64
}

// EfLadder is a sequence of beam widths for Spec.Efs, each about 1.5×
// the one before.
func EfLadder() []int {
	return []int{16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096}
}

// EfResult is HNSW at one beam width.
type EfResult struct {
	Ef     int     `json:"ef"`
	Recall float64 `json:"recall"`
	QPS    float64 `json:"qps"`
	// Ratio is QPS over Flat's.
	Ratio float64 `json:"ratio"`
}

// Result is what a measurement found.
type Result struct {
	Spec Spec `json:"spec"`
	// Options are the HNSW options used, defaults filled in.
	Options vector.HNSWOptions `json:"options"`
	// HNSWBuild and FlatBuild are the times to insert every vector in one
	// batch (HNSW links on every core); HNSWBuildCPU is the CPU time the
	// HNSW build took (0 where unknown): on a shared machine, its wall
	// time depends on what else runs.
	HNSWBuild    time.Duration `json:"hnswBuildNs"`
	HNSWBuildCPU time.Duration `json:"hnswBuildCPUNs"`
	FlatBuild    time.Duration `json:"flatBuildNs"`
	// HNSWBytes and FlatBytes are the heap each index holds per vector
	// (runtime.MemStats after a GC, the input excluded).
	HNSWBytes float64 `json:"hnswBytesPerVector"`
	FlatBytes float64 `json:"flatBytesPerVector"`
	// FlatQPS is exact search's queries per second (one goroutine, the
	// fastest of several rounds, per second of the thread's CPU time on
	// Linux: see qps).
	FlatQPS float64 `json:"flatQPS"`
	// Efs are HNSW's recall and queries per second (one goroutine) at
	// each beam width.
	Efs []EfResult `json:"efs"`
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Run builds both indexes over the spec's data and measures them.
func Run(ctx context.Context, s Spec) (Result, error) {
	res := Result{Spec: s}
	data, err := Generate(s.Set, s.Seed, s.N+s.Queries, s.Dim)
	if err != nil {
		return res, err
	}
	queries := data[s.N:]
	items := make([]vector.Item, s.N)
	for i := range items {
		items[i] = vector.Item{ID: fmt.Sprintf("v%07d", i), Vector: data[i]}
	}
	cfg := vector.Config{Dimensions: s.Dim, Metric: s.Metric}

	before := heapInUse()
	start := time.Now()
	flat, err := vector.NewFlat(cfg)
	if err != nil {
		return res, err
	}
	defer func() { _ = flat.Close() }()
	if err := flat.Upsert(ctx, items); err != nil {
		return res, err
	}
	res.FlatBuild = time.Since(start)
	res.FlatBytes = float64(max(int64(heapInUse())-int64(before), 0)) / float64(s.N)

	before = heapInUse()
	start, cpu := time.Now(), cpuTime()
	hnsw, err := vector.NewHNSW(cfg, s.Options)
	if err != nil {
		return res, err
	}
	defer func() { _ = hnsw.Close() }()
	if err := hnsw.Upsert(ctx, items); err != nil {
		return res, err
	}
	res.HNSWBuild = time.Since(start)
	if c := cpuTime(); c > 0 {
		res.HNSWBuildCPU = c - cpu
	}
	res.HNSWBytes = float64(max(int64(heapInUse())-int64(before), 0)) / float64(s.N)
	res.Options = hnsw.Options()

	truth := make([][]vector.Hit, len(queries))
	if res.FlatQPS, err = qps(ctx, queries, func(i int, q []float32) (err error) {
		truth[i], err = flat.Search(ctx, q, s.K, vector.SearchOptions{})
		return err
	}); err != nil {
		return res, err
	}

	efs := s.Efs
	if len(efs) == 0 {
		efs = []int{res.Options.EfSearch}
	}
	for _, ef := range efs {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("vectorbench: %w", err)
		}
		hits := make([][]vector.Hit, len(queries))
		qps, err := qps(ctx, queries, func(i int, q []float32) (err error) {
			hits[i], err = hnsw.Search(ctx, q, s.K, vector.SearchOptions{Ef: ef})
			return err
		})
		if err != nil {
			return res, err
		}
		var sum float64
		for i := range queries {
			sum += Recall(hits[i], truth[i])
		}
		r := EfResult{Ef: ef, Recall: sum / float64(len(queries)), QPS: qps}
		if res.FlatQPS > 0 {
			r.Ratio = qps / res.FlatQPS
		}
		res.Efs = append(res.Efs, r)
		if s.StopAt > 0 && r.Recall >= s.StopAt {
			break
		}
	}
	return res, nil
}

// qps runs every query through search in rounds (at least 3, and for at
// least a second in all, at most 20) on one OS thread and returns the
// queries per second of the fastest round, counted in that thread's CPU
// time where it can be read (Linux), else in wall time: on a shared
// machine, time the thread spent waiting for a core says nothing about
// the index.
func qps(ctx context.Context, queries [][]float32, search func(i int, q []float32) error) (float64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var best, total time.Duration
	for round := 0; round < 20 && (round < 3 || total < time.Second); round++ {
		start, cpu := time.Now(), threadCPU()
		for i, q := range queries {
			if err := search(i, q); err != nil {
				return 0, err
			}
		}
		d := time.Since(start)
		total += d
		if c := threadCPU(); cpu > 0 && c > cpu {
			d = c - cpu
		}
		if best == 0 || d < best {
			best = d
		}
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("vectorbench: %w", err)
		}
	}
	return float64(len(queries)) / max(best.Seconds(), 1e-9), nil
}

// Recall is the fraction of want's ids that got holds: recall@k when want
// is the exact k nearest.
func Recall(got, want []vector.Hit) float64 {
	if len(want) == 0 {
		return 1
	}
	ids := make(map[string]bool, len(got))
	for _, h := range got {
		ids[h.ID] = true
	}
	n := 0
	for _, h := range want {
		if ids[h.ID] {
			n++
		}
	}
	return float64(n) / float64(len(want))
}

// Reaching returns the first measured beam width whose recall reaches
// target, and whether one did.
func (r Result) Reaching(target float64) (EfResult, bool) {
	for _, e := range r.Efs {
		if e.Recall >= target {
			return e, true
		}
	}
	return EfResult{}, false
}

// At returns the result at the index's default beam width, or the first.
func (r Result) At() EfResult {
	for _, e := range r.Efs {
		if e.Ef == r.Options.EfSearch {
			return e
		}
	}
	if len(r.Efs) == 0 {
		return EfResult{Recall: math.NaN()}
	}
	return r.Efs[0]
}
