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

// TestRunSplit runs the scenario against a real Basalt on PostgreSQL (the
// imitation of the other tests has no components): the monolith, the
// components process and the gateway start on one database, both
// variants serve every get, and each has its line and its rounds.
func TestRunSplit(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "basalt")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/basalt").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := testConfig(t)
	var log bytes.Buffer
	cfg.Log = &log
	cfg.BasaltPath = bin
	cfg.PGURL = testPGURL()
	cfg.Scenarios = []string{ScenarioSplit}
	cfg.Compare.Docs, cfg.Compare.Rounds, cfg.Compare.Workers = 40, 2, 4
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
	if cr.Engine != DBPostgres || len(cr.Lines) != 2 || len(cr.Full) != 1 || len(cr.Full[0].Rounds) != 2 || len(cr.Full[0].Ratio) != 2 {
		t.Fatalf("engine %s, %d lines, full %+v", cr.Engine, len(cr.Lines), cr.Full)
	}
	for _, round := range cr.Full[0].Rounds {
		for v, st := range round {
			if st.Requests == 0 || st.Errors != 0 {
				t.Errorf("%s: %d requests, %d errors (%v %v)", cr.Variants[v].Name, st.Requests, st.Errors, st.StatusCodes, st.ErrorSamples)
			}
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "a monolith and a gateway") || !strings.Contains(md.String(), VariantGateway) {
		t.Errorf("markdown:\n%s", md.String())
	}
	if !slices.Contains(DefaultScenarios(), ScenarioSplit) || compareEngine(ScenarioSplit, DBSQLite) != DBPostgres {
		t.Error("split is a default scenario, on PostgreSQL whatever -db")
	}
}
