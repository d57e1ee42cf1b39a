package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/bench/load"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

// TestBenchSearchText runs the load generator's full-text search scenarios
// against the real basalt serve, on SQLite and on PostgreSQL, at a tiny
// size: the collection they define is accepted, the seeded documents are
// indexed, every query class finds documents as the scenario expects (the
// exact ones with typo=off, the misspelled words by the typo fallback), and
// every line's rate search runs with every request answered. The numbers
// themselves are make bench's business.
func TestBenchSearchText(t *testing.T) {
	cfg := load.DefaultConfig()
	cfg.BasaltPath = basaltBinary(t)
	cfg.WorkDir = t.TempDir()
	cfg.PGURL = pgtest.URL(t) // the database the bench connects to, to create and drop its own
	cfg.Scenarios = []string{load.ScenarioSearchText, load.ScenarioSearchTextPG}
	cfg.SearchText.Docs, cfg.SearchText.Queries = 400, 20
	// A shared machine running the race detector elsewhere: the point is
	// the plumbing, so the p99 bound is loose and the searches short.
	cfg.SearchText.MaxP99, cfg.SearchText.MaxP99Typo = 5*time.Second, 5*time.Second
	cfg.Step, cfg.Warmup, cfg.Settle = 300*time.Millisecond, 0, 0
	cfg.Search.StartRate, cfg.Search.MaxRate, cfg.Search.Bisections, cfg.Search.Retries = 10, 20, 0, 0
	cfg.MaxDuration = 5 * time.Minute
	var log bytes.Buffer
	cfg.Log = &log
	rep, err := load.Run(context.Background(), cfg, load.Environment{})
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	if len(rep.Scenarios) != 2 {
		t.Fatalf("%d scenarios\nlog:\n%s", len(rep.Scenarios), log.String())
	}
	for _, s := range rep.Scenarios {
		st := s.SearchText
		if st == nil || s.Err != "" || len(st.Problems) > 0 || st.Docs != 400 || len(st.Lines) != 3 || len(st.Classes) != 5 {
			t.Fatalf("%s: err %q, report %+v\nlog:\n%s", s.Name, s.Err, st, log.String())
		}
		for _, c := range st.Classes {
			if c.Checked != cfg.SearchText.Checks || c.Hits < c.Checked {
				t.Errorf("%s %s: %d checked, %d hits", s.Name, c.Class, c.Checked, c.Hits)
			}
		}
		for _, l := range st.Lines {
			if len(l.Search.Steps) == 0 || l.Err != "" {
				t.Errorf("%s %s: %d steps, err %q", s.Name, l.Name, len(l.Search.Steps), l.Err)
			}
			for _, step := range l.Search.Steps {
				if step.StatusCodes["200"] == 0 || len(step.StatusCodes) > 1 && !onlyTimeouts(step) {
					t.Errorf("%s %s at %d/s: answers %v %q", s.Name, l.Name, step.Rate, step.StatusCodes, step.ErrorSamples)
				}
			}
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"search-text: full-text search on SQLite, 400 documents", "search-text-pg: full-text search on PostgreSQL, 400 documents"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
}

// onlyTimeouts reports whether a step's answers other than 200 are all
// requests the load generator gave up on (status "0"), which an overloaded
// machine may cause; any other status is a failure.
func onlyTimeouts(s load.StepResult) bool {
	for code := range s.StatusCodes {
		if code != "200" && code != "0" {
			return false
		}
	}
	return true
}
