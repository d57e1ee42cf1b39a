package load

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/search/vector/vectorbench"
)

func TestVectorsScenario(t *testing.T) {
	cfg := DefaultVectorsConfig()
	cfg.N, cfg.Dim, cfg.Queries = 600, 8, 20
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sr := runVectors(context.Background(), cfg, t.Logf)
	rep := Report{Scenarios: []ScenarioReport{sr}, Reference: ScenarioHello}
	rep.Evaluate(nil)
	s := rep.Scenarios[0]
	if s.Verdict != VerdictPass || s.Err != "" || len(s.Vectors.Sets) != 2 {
		t.Fatalf("verdict %s, err %q, %d sets", s.Verdict, s.Err, len(s.Vectors.Sets))
	}
	for _, set := range s.Vectors.Sets {
		e, ok := set.Reaching(cfg.MinRecall)
		if !ok || set.FlatQPS <= 0 || e.QPS <= 0 || set.HNSWBuild <= 0 || set.HNSWBytes <= 0 {
			t.Fatalf("%s: %+v", set.Spec.Set, set.Result)
		}
	}
	var b strings.Builder
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprintf("| uniform | %d / %d |", vector.DefaultM, vector.DefaultEfConstruction), "| clustered |", "recall@10", "vectors: 600 vectors of 8 dimensions"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestVectorsVerdict(t *testing.T) {
	cfg := DefaultVectorsConfig()
	short := VectorsSet{Result: vectorbench.Result{Spec: vectorbench.Spec{Set: vectorbench.Uniform},
		Efs: []vectorbench.EfResult{{Ef: 16, Recall: 0.5, QPS: 100}, {Ef: 4096, Recall: 0.94, QPS: 10}}}}
	good := VectorsSet{Result: vectorbench.Result{Spec: vectorbench.Spec{Set: vectorbench.Clustered},
		Efs: []vectorbench.EfResult{{Ef: 16, Recall: 0.97, QPS: 100, Ratio: 20}}}}
	for _, tc := range []struct {
		sets []VectorsSet
		want string
	}{
		{[]VectorsSet{good, good}, VerdictPass},
		{[]VectorsSet{good, short}, VerdictFail}, // recall never reached
		{[]VectorsSet{good}, VerdictFail},        // a data set missing
		{[]VectorsSet{good, {Err: "boom", Result: good.Result}}, VerdictFail},
	} {
		r := &VectorsReport{Config: cfg, Sets: tc.sets}
		if got, notes := r.evaluate(); got != tc.want {
			t.Errorf("%d sets: %s (%v), want %s", len(tc.sets), got, notes, tc.want)
		}
	}
	if err := (VectorsConfig{N: 1, Dim: 1, Queries: 1, K: 1, Sets: []string{"gaussian"}}).Validate(); err == nil {
		t.Error("an unknown data set was accepted")
	}
}
