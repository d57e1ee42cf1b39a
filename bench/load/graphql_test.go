package load

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRunGraphQL runs the scenario against a real Basalt: both APIs answer
// the list without error, each variant has its line and its rounds, and
// the verdict follows the target.
func TestRunGraphQL(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "basalt")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/basalt").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := testConfig(t)
	var log bytes.Buffer
	cfg.Log = &log
	cfg.BasaltPath = bin
	cfg.Scenarios = []string{ScenarioGraphQL}
	cfg.Compare.Docs, cfg.Compare.Rounds, cfg.Compare.Workers = 40, 2, 4
	cfg.Compare.MinGraphQLListRatio = 0 // the point is the plumbing, not the numbers
	cfg.Search.Criteria.MinThroughputRatio = 0.5
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg, Environment{})
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	if len(rep.Scenarios) != 1 {
		t.Fatalf("scenarios %+v", rep.Scenarios)
	}
	s := rep.Scenarios[0]
	cr := s.Compare
	if s.Err != "" || cr == nil || s.Verdict != VerdictPass {
		t.Fatalf("verdict %s, error %q, notes %v\nlog:\n%s", s.Verdict, s.Err, s.Notes, log.String())
	}
	if n := len(GraphQLVariants()); len(cr.Lines) != 2*n || len(cr.Full) != 2 || cr.Full[0].Request != CompareList || cr.Full[1].Request != CompareRelation ||
		len(cr.Full[1].Rounds) != 2 || len(cr.Full[1].Ratio) != n {
		t.Fatalf("%d lines, full %+v", len(cr.Lines), cr.Full)
	}
	for _, f := range cr.Full {
		for _, round := range f.Rounds {
			for v, st := range round {
				if st.Requests == 0 || st.Errors != 0 {
					t.Errorf("%s %s: %d requests, %d errors (%v %v)", f.Request, cr.Variants[v].Name, st.Requests, st.Errors, st.StatusCodes, st.ErrorSamples)
				}
			}
		}
	}
	// The relation compares operations: REST's take two requests.
	rel := CompareReport{Variants: GraphQLVariants(), RequestsPerOp: map[string][]int{CompareRelation: {2, 1}},
		Lines: []CompareLine{{Request: CompareRelation, Variant: VariantREST, Search: SearchResult{Best: &StepResult{Rate: 2000}}},
			{Request: CompareRelation, Variant: VariantGraphQL, Search: SearchResult{Best: &StepResult{Rate: 1500}}}},
		Full: []FullSpeedReport{{Request: CompareRelation, Rounds: [][]StepResult{{{Requests: 10, Throughput: 200}, {Requests: 10, Throughput: 150}}}}}}
	rel.evaluate(DefaultCriteria())
	if rel.Lines[1].Ratio != 1.5 || rel.Full[0].Ratio[1] != 1.5 {
		t.Errorf("relation ratios %v, %v; want 1.5 (1,500 operations against 1,000)", rel.Lines[1].Ratio, rel.Full[0].Ratio)
	}
	// The target judges GraphQL's median ratio.
	cr.MinGraphQLListRatio = 1e9
	if v, _ := cr.evaluate(DefaultCriteria()); v != VerdictFail {
		t.Errorf("a target no ratio meets: %s", v)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "the same reads through REST and GraphQL") || !strings.Contains(md.String(), "| relation | graphql |") {
		t.Errorf("markdown:\n%s", md.String())
	}
	if !slices.Contains(DefaultScenarios(), ScenarioGraphQL) || compareEngine(ScenarioGraphQL, DBSQLite) != DBSQLite {
		t.Error("graphql is not a default scenario on the run's engine")
	}
}
