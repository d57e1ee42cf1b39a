package load

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// pairedReport has one round per (base, auth) throughput pair, each phase
// of 1,000 requests without errors.
func pairedReport(pairs ...[2]float64) *PairedReport {
	p := &PairedReport{Step: 2 * time.Second, Workers: 64}
	for _, tp := range pairs {
		r := PairedRound{
			Base: StepResult{Requests: 1000, Throughput: tp[0], StatusCodes: map[string]int{"200": 1000}},
			Auth: StepResult{Requests: 1000, Throughput: tp[1], StatusCodes: map[string]int{"200": 1000}},
		}
		r.Ratio = tp[1] / tp[0]
		p.Rounds = append(p.Rounds, r)
	}
	return p
}

func TestPairedEvaluate(t *testing.T) {
	c := DefaultCriteria()
	tests := []struct {
		name   string
		p      *PairedReport
		ok     bool
		median float64
		note   string
	}{
		{"pass", pairedReport([2]float64{1000, 950}, [2]float64{1000, 920}, [2]float64{1000, 980}), true, 0.95, ""},
		{"at the limit", pairedReport([2]float64{1000, 900}), true, 0.9, ""},
		{"one disturbed round does not decide", pairedReport([2]float64{1000, 950}, [2]float64{1000, 500}, [2]float64{1000, 940}), true, 0.94, ""},
		{"most rounds slower", pairedReport([2]float64{1000, 850}, [2]float64{1000, 880}, [2]float64{1000, 990}), false, 0.88, ""},
		{"errors", func() *PairedReport {
			p := pairedReport([2]float64{1000, 950})
			p.Rounds[0].Auth.Errors = 10
			return p
		}(), false, 0.95, "failing requests"},
		{"no rounds", &PairedReport{}, false, 0, "did not run"},
	}
	for _, tt := range tests {
		ok, notes := tt.p.evaluate(c, 0.9)
		if ok != tt.ok || tt.p.Median != tt.median {
			t.Errorf("%s: ok %v median %v, want %v %v", tt.name, ok, tt.p.Median, tt.ok, tt.median)
		}
		if joined := strings.Join(notes, "; "); (tt.note == "") != (joined == "") || !strings.Contains(joined, tt.note) {
			t.Errorf("%s: notes %q, want %q", tt.name, joined, tt.note)
		}
	}
}

// TestPairedDecidesGetAuth: with a paired comparison, get-auth's verdict
// follows it, not the ratio of the rate searches.
func TestPairedDecidesGetAuth(t *testing.T) {
	for _, c := range []struct {
		paired  *PairedReport
		verdict string
	}{
		{pairedReport([2]float64{10000, 9600}, [2]float64{10000, 9500}), VerdictPass},
		{pairedReport([2]float64{10000, 8000}, [2]float64{10000, 8500}), VerdictFail},
	} {
		r := testReport()
		// The searches alone would fail get-auth (3,000 of 4,000: 75 %).
		r.Scenarios = append(r.Scenarios[:2:2],
			ScenarioReport{Name: ScenarioGetAuth, Search: SearchResult{Best: step(3000, 13*time.Millisecond)}, Paired: c.paired})
		r.Evaluate(DefaultThresholds())
		ga := r.Scenarios[2]
		if ga.Verdict != c.verdict || ga.BaselineRatio != 0.75 {
			t.Errorf("paired median %v: verdict %s, search ratio %v; want %s", c.paired.Median, ga.Verdict, ga.BaselineRatio, c.verdict)
		}
		var b bytes.Buffer
		if err := r.WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
		want := "get-auth: 3,000 req/s, 75 % of get (4,000 req/s) by the rate searches, for reference; the paired comparison decides:\n\n" +
			"get-auth against get, paired: 2 round(s) of 2s each at full speed (64 clients, closed loop), back to back in alternating order; get-auth of get req/s per round: "
		if !strings.Contains(b.String(), want) || !strings.Contains(b.String(), "(target ≥ 90 %): "+c.verdict+".") {
			t.Errorf("report lacks %q or the verdict %s:\n%s", want, c.verdict, b.String())
		}
	}
}
