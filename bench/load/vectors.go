package load

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/search/vector/vectorbench"
)

// ScenarioVectors measures Basalt's in-process vector indexes in the load
// generator's own process (no server): HNSW against exact search.
const ScenarioVectors = "vectors"

// VectorsConfig shapes ScenarioVectors.
type VectorsConfig struct {
	// N vectors of Dim dimensions per data set, searched by Queries
	// queries of the same distribution for their K nearest.
	N, Dim, Queries, K int
	// Sets are the data sets (vectorbench.Uniform, vectorbench.Clustered).
	Sets []string
	// Metric compares the vectors.
	Metric vector.Metric
	// MinRecall is the recall@K HNSW must reach (at some beam width) for
	// PASS; the queries per second are those at the first beam width
	// that reaches it.
	MinRecall float64
	// M and EfConstruction build the HNSW index (0: the defaults).
	M, EfConstruction int
}

// DefaultVectorsConfig is the acceptance measurement: 100,000 × 128,
// uniform and clustered, recall@10 ≥ 0.95.
func DefaultVectorsConfig() VectorsConfig {
	return VectorsConfig{N: 100_000, Dim: 128, Queries: 200, K: 10, Sets: []string{vectorbench.Uniform, vectorbench.Clustered},
		Metric: vector.L2, MinRecall: 0.95}
}

// Validate checks the configuration.
func (c VectorsConfig) Validate() error {
	if c.N < 1 || c.Dim < 1 || c.Queries < 1 || c.K < 1 || len(c.Sets) == 0 || c.MinRecall < 0 || c.MinRecall > 1 {
		return fmt.Errorf("load: vectors: need n, dim, queries, k ≥ 1, a data set and 0 ≤ min recall ≤ 1 (got %d, %d, %d, %d, %q, %g)",
			c.N, c.Dim, c.Queries, c.K, c.Sets, c.MinRecall)
	}
	for _, s := range c.Sets {
		if s != vectorbench.Uniform && s != vectorbench.Clustered {
			return fmt.Errorf("load: vectors: unknown data set %q (want %s or %s)", s, vectorbench.Uniform, vectorbench.Clustered)
		}
	}
	return nil
}

// reserve is the time set aside for ScenarioVectors when it is among
// scenarios: up to about 100 s per data set of 100,000 × 128 on two idle cores (building HNSW over uniform vectors takes some 3 minutes of CPU).
func (c VectorsConfig) reserve(scenarios []string) time.Duration {
	for _, s := range scenarios {
		if s == ScenarioVectors {
			per := time.Duration(float64(100*time.Second) * float64(c.N) * float64(c.Dim) / (100_000 * 128))
			return time.Duration(len(c.Sets)) * max(per, 5*time.Second)
		}
	}
	return 0
}

// VectorsReport is the outcome of ScenarioVectors.
type VectorsReport struct {
	Config VectorsConfig `json:"config"`
	// Sets holds one measurement per data set.
	Sets []VectorsSet `json:"sets"`
}

// VectorsSet is the measurement of one data set.
type VectorsSet struct {
	vectorbench.Result
	// Err is the error that ended it, if any.
	Err string `json:"error,omitempty"`
}

// runVectors builds the indexes over each data set and measures them.
func runVectors(ctx context.Context, cfg VectorsConfig, logf func(string, ...any)) ScenarioReport {
	sr := ScenarioReport{Name: ScenarioVectors, Vectors: &VectorsReport{Config: cfg}}
	for i, set := range cfg.Sets {
		logf("%-6s %s: %d × %d, building Flat and HNSW", ScenarioVectors, set, cfg.N, cfg.Dim)
		res, err := vectorbench.Run(ctx, vectorbench.Spec{Set: set, N: cfg.N, Dim: cfg.Dim, Seed: uint64(i + 1), Metric: cfg.Metric,
			K: cfg.K, Queries: cfg.Queries, Options: vector.HNSWOptions{M: cfg.M, EfConstruction: cfg.EfConstruction},
			Efs: vectorbench.EfLadder(), StopAt: cfg.MinRecall})
		vs := VectorsSet{Result: res}
		if err != nil {
			vs.Err = err.Error()
		}
		for _, e := range res.Efs {
			logf("%-6s %s: ef %4d recall@%d %.3f  %8.0f q/s (flat %.0f q/s, %.1f×)", ScenarioVectors, set, e.Ef, cfg.K, e.Recall, e.QPS, res.FlatQPS, e.Ratio)
		}
		sr.Vectors.Sets = append(sr.Vectors.Sets, vs)
		if ctx.Err() != nil {
			sr.Err = ctx.Err().Error()
			break
		}
	}
	return sr
}

// evaluate returns the verdict: PASS when every data set reached the
// recall target at some beam width.
func (r *VectorsReport) evaluate() (string, []string) {
	var notes []string
	verdict := VerdictPass
	for _, s := range r.Sets {
		if s.Err != "" {
			verdict = VerdictFail
			notes = append(notes, s.Spec.Set+": "+s.Err)
			continue
		}
		e, ok := s.Reaching(r.Config.MinRecall)
		if !ok {
			verdict = VerdictFail
			notes = append(notes, fmt.Sprintf("%s: no beam width up to %d reached recall@%d %.2f", s.Spec.Set, lastEf(s.Efs), r.Config.K, r.Config.MinRecall))
			continue
		}
		if e.Ratio < 10 {
			notes = append(notes, fmt.Sprintf("%s: HNSW is %.1f× exact search at recall@%d ≥ %.2f, under the 10× target", s.Spec.Set, e.Ratio, r.Config.K, r.Config.MinRecall))
		}
	}
	if len(r.Sets) < len(r.Config.Sets) {
		verdict = VerdictFail
	}
	return verdict, notes
}

func lastEf(efs []vectorbench.EfResult) int {
	if len(efs) == 0 {
		return 0
	}
	return efs[len(efs)-1].Ef
}

// markdown is the report's table of the vector indexes.
func (r *VectorsReport) markdown(verdict string) string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "%s: %s vectors of %d dimensions per data set (%s), %d queries of the same distribution, recall@%d of HNSW against exact search (Flat); "+
		"queries per second of one goroutine (per second of its thread's CPU time on Linux, the fastest of several rounds), at the first beam width (ef) whose recall reaches %.2f: %s.\n\n",
		ScenarioVectors, thousands(int64(c.N)), c.Dim, c.Metric, c.Queries, c.K, c.MinRecall, verdict)
	b.WriteString("| data set | HNSW M / efConstruction | ef | recall@" + fmt.Sprint(c.K) + " | HNSW q/s | Flat q/s | ratio | HNSW build (CPU) | Flat build | bytes/vector HNSW | bytes/vector Flat |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Sets {
		e, ok := s.Reaching(c.MinRecall)
		if !ok && len(s.Efs) > 0 {
			e = s.Efs[len(s.Efs)-1]
		}
		cpu := ""
		if s.HNSWBuildCPU > 0 {
			cpu = " (" + s.HNSWBuildCPU.Round(100*time.Millisecond).String() + ")"
		}
		fmt.Fprintf(&b, "| %s | %d / %d | %d | %.3f | %s | %s | %.1f× | %s%s | %s | %s | %s |\n",
			s.Spec.Set, s.Options.M, s.Options.EfConstruction, e.Ef, e.Recall, thousands(int64(e.QPS)), thousands(int64(s.FlatQPS)), e.Ratio,
			s.HNSWBuild.Round(100*time.Millisecond), cpu, s.FlatBuild.Round(10*time.Millisecond), thousands(int64(s.HNSWBytes)), thousands(int64(s.FlatBytes)))
	}
	for _, s := range r.Sets {
		var steps []string
		for _, e := range s.Efs {
			steps = append(steps, fmt.Sprintf("ef %d: %.3f, %s q/s", e.Ef, e.Recall, thousands(int64(e.QPS))))
		}
		if len(steps) > 0 {
			fmt.Fprintf(&b, "\n%s, every beam width measured: %s.\n", s.Spec.Set, strings.Join(steps, "; "))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
