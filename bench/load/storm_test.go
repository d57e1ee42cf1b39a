package load

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMergeSteps(t *testing.T) {
	ms := time.Millisecond
	a := StepResult{Rate: 100, Duration: time.Second, Requests: 100, Errors: 1, Throughput: 99, Max: 9 * ms,
		StatusCodes: map[string]int{"200": 99, "0": 1}, ErrorSamples: []string{"timeout"}}
	b := StepResult{Rate: 100, Duration: time.Second, Requests: 100, Throughput: 100, Max: 50 * ms,
		StatusCodes: map[string]int{"200": 100}, ErrorSamples: []string{"timeout", "reset"}}
	var la, lb []time.Duration
	for i := range 100 {
		la = append(la, time.Duration(i+1)*ms/10) // 0.1 … 10 ms
		lb = append(lb, time.Duration(i+1)*ms/2)  // 0.5 … 50 ms
	}
	m := mergeSteps([]StepResult{a, b}, [][]time.Duration{la, lb})
	if m.Rate != 100 || m.Duration != 2*time.Second || m.Requests != 200 || m.Errors != 1 || m.Max != 50*ms ||
		m.SentRate != 100 || m.Throughput != 99.5 {
		t.Errorf("merged %+v", m)
	}
	if m.StatusCodes["200"] != 199 || m.StatusCodes["0"] != 1 || len(m.ErrorSamples) != 2 {
		t.Errorf("codes %v samples %v", m.StatusCodes, m.ErrorSamples)
	}
	// Exact quantiles over all 200 latencies: 84 of a's and 16 of b's are
	// ≤ 8.4 ms, so it is the 100th; the 198th is b's 49 ms.
	if m.P50 != 8400*time.Microsecond || m.P99 != 49*ms || m.P999 != 50*ms {
		t.Errorf("p50 %s p99 %s p99.9 %s", m.P50, m.P99, m.P999)
	}
	if z := mergeSteps(nil, nil); z.Requests != 0 || z.StatusCodes != nil {
		t.Errorf("empty merge %+v", z)
	}
}

// stormReport is a measured storm: quiet p99 4 ms, storm p99 stormP99,
// logins answered as codes.
func stormReport(stormP99 time.Duration, codes map[string]int) *StormReport {
	get := func(p99 time.Duration) StepResult {
		return StepResult{Rate: 1000, Duration: 5 * time.Second, Requests: 5000, Throughput: 1000, P50: time.Millisecond, P99: p99, P999: 2 * p99,
			StatusCodes: map[string]int{"200": 5000}}
	}
	n := 0
	for _, c := range codes {
		n += c
	}
	logins := StepResult{Rate: 20, Duration: 5 * time.Second, Requests: uint64(n), P50: 20 * time.Millisecond, P99: 40 * time.Millisecond, StatusCodes: codes}
	st := &StormReport{GetRate: 1000, LoginRate: 20, Step: 5 * time.Second, MaxP99Ratio: 2,
		Quiet: get(4 * time.Millisecond), Storm: get(stormP99), Logins: logins}
	st.Rounds = []StormRound{{Quiet: st.Quiet, Storm: st.Storm, Logins: logins}}
	return st
}

// multiRound is a storm of one round per storm p99 (in ms), each against a
// quiet p99 of quietMS; the pooled phases are those of the first round
// with the highest storm p99 (enough for evaluate).
func multiRound(quietMS float64, stormMS ...float64) *StormReport {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	st := stormReport(ms(slices.Max(stormMS)), map[string]int{"401": 100})
	st.Quiet.P99 = ms(quietMS)
	st.Rounds = nil
	for _, s := range stormMS {
		r := StormRound{Quiet: st.Quiet, Storm: st.Storm, Logins: st.Logins}
		r.Storm.P99 = ms(s)
		st.Rounds = append(st.Rounds, r)
	}
	return st
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1}, 3}, {[]float64{9, 1, 2}, 2}, {[]float64{4, 1, 3, 100}, 3.5}} {
		in := slices.Clone(c.in)
		if got := median(c.in); got != c.want || !slices.Equal(in, c.in) {
			t.Errorf("median(%v) = %v (input now %v), want %v", in, got, c.in, c.want)
		}
	}
}

func TestStormEvaluate(t *testing.T) {
	c := DefaultCriteria()
	tests := []struct {
		name    string
		st      *StormReport
		verdict string
		ratio   float64
		note    string
	}{
		{"pass", stormReport(6*time.Millisecond, map[string]int{"401": 100}), VerdictPass, 1.5, ""},
		{"at the limit", stormReport(8*time.Millisecond, map[string]int{"401": 100}), VerdictPass, 2, ""},
		{"p99 more than doubles", stormReport(9*time.Millisecond, map[string]int{"401": 100}), VerdictFail, 2.25, ""},
		// p99 above the step criteria's 50 ms does not matter here: the ratio does.
		{"slow but in ratio", func() *StormReport {
			st := stormReport(120*time.Millisecond, map[string]int{"401": 100})
			st.Quiet.P99 = 60 * time.Millisecond
			st.Rounds[0].Quiet = st.Quiet
			return st
		}(), VerdictPass, 2, ""},
		{"partly refused", stormReport(5*time.Millisecond, map[string]int{"401": 30, "429": 70}), VerdictPass, 1.25, "30 storm logins were hashed (401) and 70 refused (429)"},
		{"nothing hashed", stormReport(5*time.Millisecond, map[string]int{"429": 100}), VerdictFail, 1.25, "no storm login was hashed (429 × 100)"},
		{"no answers", stormReport(5*time.Millisecond, map[string]int{"401": 90, "0": 10}), VerdictFail, 1.25, "other answers than 401 and 429 (no answer × 10, 401 × 90)"},
		{"GET failing", func() *StormReport {
			st := stormReport(5*time.Millisecond, map[string]int{"401": 100})
			st.Storm.Errors, st.Storm.Throughput = 500, 900
			return st
		}(), VerdictFail, 1.25, "the GET load with the storm was not sustained"},
		{"no threshold", func() *StormReport {
			st := stormReport(50*time.Millisecond, map[string]int{"401": 100})
			st.MaxP99Ratio = 0
			return st
		}(), VerdictNone, 12.5, ""},
		{"not measured", &StormReport{MaxP99Ratio: 2}, VerdictFail, 0, "not measured"},
		// One round's stall does not decide; most rounds do.
		{"one stalled round", multiRound(4, 5, 4.5, 40, 6), VerdictPass, 1.375, ""},
		{"most rounds slowed", multiRound(4, 9, 10, 40, 6), VerdictFail, 2.375, ""},
	}
	for _, tt := range tests {
		verdict, notes := tt.st.evaluate(c)
		if verdict != tt.verdict || tt.st.MedianRatio != tt.ratio || len(tt.st.RoundRatios) != len(tt.st.Rounds) {
			t.Errorf("%s: verdict %s median ratio %v of %v (notes %q), want %s %v", tt.name, verdict, tt.st.MedianRatio, tt.st.RoundRatios, notes, tt.verdict, tt.ratio)
		}
		if joined := strings.Join(notes, "; "); (tt.note == "") != (joined == "") || !strings.Contains(joined, tt.note) {
			t.Errorf("%s: notes %q, want %q", tt.name, joined, tt.note)
		}
	}
}

func TestStormInReport(t *testing.T) {
	r := testReport()
	r.Scenarios = append(r.Scenarios[:2:2],
		ScenarioReport{Name: ScenarioGetAuth, Search: SearchResult{Best: step(3700, 13*time.Millisecond)}},
		ScenarioReport{Name: ScenarioLoginStorm, Storm: stormReport(10*time.Millisecond, map[string]int{"401": 100})})
	r.Evaluate(DefaultThresholds())
	r.Evaluate(DefaultThresholds()) // idempotent
	ga, storm := r.Scenarios[2], r.Scenarios[3]
	if ga.Verdict != VerdictPass || ga.Baseline != ScenarioGet || ga.BaselineRatio != 0.925 || ga.Ratio != 3700.0/12800 {
		t.Errorf("get-auth: %+v", ga)
	}
	if storm.Verdict != VerdictFail || storm.Storm.P99Ratio != 2.5 || storm.Storm.MedianRatio != 2.5 || storm.MaxRate != 0 || storm.Threshold != 0 || len(storm.Notes) != 0 {
		t.Errorf("login-storm: %+v", storm)
	}
	if r.Passed() {
		t.Error("Passed() with a failing storm")
	}
	var b bytes.Buffer
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"| get-auth | 3,700 | 0.40 ms | 13.0 ms | 26.0 ms | 1 / 11,100 | 28.9 % | ≥ 90 % of get | PASS |\n\n" +
			"get-auth: 3,700 req/s, **92.5 % of get** (4,000 req/s) in this run (target ≥ 90 %): PASS.\n\n" +
			"Login storm: `GET /v1/collections/bench/documents/{id}` at 1,000 req/s, 1 round(s) of 5s without, then 5s with, 20 wrong-password logins/s (`POST /v1/auth/login`, each a full password hash) against one account.\n\n" +
			"| phase | GET requests | p50 | p99 | p99.9 | GET errors | logins | login answers | login p50 | login p99 |\n" +
			"|---|---:|---:|---:|---:|---:|---:|---|---:|---:|\n" +
			"| without storm | 5,000 | 1.00 ms | 4.00 ms | 8.00 ms | 0 | — | — | — | — |\n" +
			"| with storm | 5,000 | 1.00 ms | 10.0 ms | 20.0 ms | 0 | 100 | 401 × 100 | 20.0 ms | 40.0 ms |\n\n" +
			"GET p99 with the storm, as a multiple of the p99 without, per round: 2.50×; median **2.50×** (target ≤ 2×): FAIL. Pooled over all rounds: 2.50×.\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}

	// get-auth needs get in the same run.
	alone := testReport()
	alone.Scenarios = []ScenarioReport{alone.Scenarios[0], {Name: ScenarioGetAuth, Search: SearchResult{Best: step(3700, 13*time.Millisecond)}}}
	alone.Evaluate(DefaultThresholds())
	alone.Evaluate(DefaultThresholds())
	if s := alone.Scenarios[1]; s.Verdict != VerdictFail || len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "no get rate") {
		t.Errorf("get-auth without get: %s %q", s.Verdict, s.Notes)
	}
	b.Reset()
	if err := alone.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "get-auth: not compared with get (no sustained rate for both in this run): FAIL.") {
		t.Errorf("report:\n%s", b.String())
	}
	slow := testReport()
	slow.Scenarios = append(slow.Scenarios[:2:2], ScenarioReport{Name: ScenarioGetAuth, Search: SearchResult{Best: step(3500, 13*time.Millisecond)}})
	slow.Evaluate(DefaultThresholds())
	if s := slow.Scenarios[2]; s.Verdict != VerdictFail || s.BaselineRatio != 0.875 {
		t.Errorf("get-auth at 87.5 %% of get: %s %v", s.Verdict, s.BaselineRatio)
	}
}

// TestRunStormBudget: a storm whose rounds do not fit the budget is cut
// short and says so, without measuring half a round.
func TestRunStormBudget(t *testing.T) {
	cfg := testConfig(t)
	cfg.Warmup = 0
	budget := NewBudget(time.Now().Add(time.Hour), 25, time.Now) // one round of 2·50+20 = 120/s × 0.2 s = 24 requests
	base := startHello(t)
	tr := StaticTargeter(base + "/hello")
	sr := runStorm(context.Background(), cfg, budget, 50, tr, tr, t.Logf)
	if sr.Err != "" || len(sr.Storm.Rounds) != 1 || len(sr.Notes) != 1 || !strings.Contains(sr.Notes[0], "after 1 of 2 rounds") {
		t.Errorf("storm %+v notes %q err %q", sr.Storm, sr.Notes, sr.Err)
	}
	if sr.Storm.Quiet.Requests == 0 || sr.Storm.Quiet.Requests != sr.Storm.Rounds[0].Quiet.Requests || sr.Storm.Logins.StatusCodes["200"] == 0 {
		t.Errorf("pooled %+v", sr.Storm)
	}
}

func TestStatusSummary(t *testing.T) {
	if got := statusSummary(map[string]int{"429": 1200, "401": 3, "0": 2}); got != "no answer × 2, 401 × 3, 429 × 1,200" {
		t.Errorf("summary %q", got)
	}
	if got := statusSummary(nil); got != "none" {
		t.Errorf("empty summary %q", got)
	}
}
