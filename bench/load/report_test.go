package load

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func step(rate int, p99 time.Duration) *StepResult {
	return &StepResult{Rate: rate, Requests: uint64(rate) * 3, Errors: 1, Throughput: float64(rate),
		P50: 400 * time.Microsecond, P99: p99, P999: 2 * p99, Pass: true}
}

func testReport() Report {
	return Report{
		Env: Environment{
			Command: "basalt-bench -basalt ./bin/basalt", CPUModel: "AMD EPYC", NumCPU: 2, GOMAXPROCS: 2,
			GoVersion: "go1.26.8", OS: "linux", Arch: "amd64", Started: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		},
		Docs:      100_000,
		Step:      3 * time.Second,
		Criteria:  DefaultCriteria(),
		Reference: ScenarioHello,
		Scenarios: []ScenarioReport{
			{Name: ScenarioHello, Search: SearchResult{Best: step(12800, 3860*time.Microsecond)}},
			{Name: ScenarioGet, Search: SearchResult{Best: step(4000, 12*time.Millisecond)}},
			{Name: ScenarioList, Search: SearchResult{Best: step(1000, 45*time.Millisecond)}},
			{Name: ScenarioCreate, Search: SearchResult{Truncated: true}, Notes: []string{"search cut short"}},
		},
		Notes: []string{"seeded 100,000 documents"},
	}
}

func TestEvaluate(t *testing.T) {
	r := testReport()
	r.Evaluate(DefaultThresholds())
	want := map[string]struct {
		rate    int
		ratio   float64
		verdict string
	}{
		ScenarioHello:  {12800, 1, VerdictReference},
		ScenarioGet:    {4000, 0.3125, VerdictPass},
		ScenarioList:   {1000, 1000.0 / 12800, VerdictFail},
		ScenarioCreate: {0, 0, VerdictFail},
	}
	for _, s := range r.Scenarios {
		w := want[s.Name]
		if s.MaxRate != w.rate || s.Ratio != w.ratio || s.Verdict != w.verdict {
			t.Errorf("%s: rate %d ratio %v verdict %s, want %d %v %s", s.Name, s.MaxRate, s.Ratio, s.Verdict, w.rate, w.ratio, w.verdict)
		}
	}
	if r.Passed() {
		t.Error("Passed() = true with failing scenarios")
	}

	noRef := testReport()
	noRef.Scenarios = noRef.Scenarios[1:2]
	noRef.Evaluate(DefaultThresholds())
	if s := noRef.Scenarios[0]; s.Verdict != VerdictFail || len(s.Notes) == 0 {
		t.Errorf("without reference: verdict %s notes %v, want FAIL with a note", s.Verdict, s.Notes)
	}

	odd := testReport()
	odd.Env.LoadAverage = "13.32 11.80 6.41"
	odd.Scenarios[1].Search.Best.Rate = 20000
	odd.Evaluate(DefaultThresholds())
	odd.Evaluate(DefaultThresholds()) // idempotent
	if len(odd.Notes) != 3 || !strings.Contains(odd.Notes[1], "get sustained more than hello") || !strings.Contains(odd.Notes[2], "load average 13.32 on 2 CPUs") {
		t.Errorf("notes = %q, want warnings about the reference and the load", odd.Notes)
	}

	slow := testReport()
	slow.Scenarios[1].Search.Best.P99 = 50 * time.Millisecond
	slow.Evaluate(map[string]float64{ScenarioGet: 0.25})
	if v := slow.Scenarios[1].Verdict; v != VerdictFail {
		t.Errorf("p99 at the limit: verdict %s, want FAIL", v)
	}
	if v := slow.Scenarios[2].Verdict; v != VerdictNone {
		t.Errorf("no threshold: verdict %s, want %s", v, VerdictNone)
	}
}

func TestWriteMarkdown(t *testing.T) {
	r := testReport()
	r.Evaluate(DefaultThresholds())
	var b bytes.Buffer
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	want := "Command: `basalt-bench -basalt ./bin/basalt`\n\n" +
		"Machine: AMD EPYC, 2 CPUs, GOMAXPROCS=2, linux/amd64, go1.26.8, 2026-11-26T12:00:00Z\n\n" +
		"Method: open-loop constant rate (vegeta), 3s steps; a rate is sustained when throughput ≥ 95 % of it, errors < 0.1 % and p99 < 50ms. Read scenarios run over 100,000 seeded documents.\n\n" +
		"| scenario | max sustained req/s | p50 | p99 | p99.9 | errors | vs hello | target | result |\n" +
		"|---|---:|---:|---:|---:|---:|---:|---:|:---:|\n" +
		"| hello | 12,800 | 0.40 ms | 3.86 ms | 7.72 ms | 1 / 38,400 | 100 % | — | ref |\n" +
		"| get | 4,000 | 0.40 ms | 12.0 ms | 24.0 ms | 1 / 12,000 | 31.2 % | ≥ 25 % | PASS |\n" +
		"| list | 1,000 | 0.40 ms | 45.0 ms | 90.0 ms | 1 / 3,000 | 7.8 % | ≥ 11 % | FAIL |\n" +
		"| create | none | — | — | — | — | 0 % | ≥ 14 % | FAIL |\n" +
		"\n" +
		"- seeded 100,000 documents\n" +
		"- create: search cut short\n"
	if got := b.String(); got != want {
		t.Errorf("Markdown:\n%s\nwant:\n%s", got, want)
	}
}

func TestWriteJSON(t *testing.T) {
	r := testReport()
	r.Evaluate(DefaultThresholds())
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("report JSON does not decode: %v", err)
	}
	if len(back.Scenarios) != 4 || back.Scenarios[1].Search.Best.P99 != 12*time.Millisecond || back.Scenarios[1].Verdict != VerdictPass {
		t.Errorf("round trip lost data: %+v", back.Scenarios)
	}
}

func TestFormatting(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -45000: "-45,000"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[time.Duration]string{
		123 * time.Microsecond: "0.12 ms", 12345 * time.Microsecond: "12.3 ms", 250 * time.Millisecond: "250 ms",
	} {
		if got := millis(in); got != want {
			t.Errorf("millis(%s) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0.25: "25 %", 0.001: "0.1 %", 0.3125: "31.2 %"} {
		if got := percent(in); got != want {
			t.Errorf("percent(%v) = %q, want %q", in, got, want)
		}
	}
	cmd := QuoteCommand([]string{"basalt-bench", "-basalt", "./bin/basalt", "-basalt-arg", "--log-level=warn", "-scenarios", "get list", "it's"})
	if want := `basalt-bench -basalt ./bin/basalt -basalt-arg --log-level=warn -scenarios 'get list' 'it'\''s'`; cmd != want {
		t.Errorf("QuoteCommand = %s, want %s", cmd, want)
	}
}

func TestCPUModel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpuinfo")
	info := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if err := os.WriteFile(path, []byte(info), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := cpuModel(path); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
	loadavg := filepath.Join(t.TempDir(), "loadavg")
	if err := os.WriteFile(loadavg, []byte("0.52 0.40 0.31 1/123 4567\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := loadAverage(loadavg); got != "0.52 0.40 0.31" {
		t.Errorf("loadAverage = %q", got)
	}
	if got := loadAverage(filepath.Join(t.TempDir(), "missing")); got != "" {
		t.Errorf("loadAverage(missing) = %q", got)
	}
	if got := cpuModel(filepath.Join(t.TempDir(), "missing")); got != "unknown" {
		t.Errorf("cpuModel(missing) = %q", got)
	}
	if env := CurrentEnvironment([]string{"basalt-bench"}); env.GOMAXPROCS < 1 || !strings.HasPrefix(env.GoVersion, "go") {
		t.Errorf("CurrentEnvironment = %+v", env)
	}
}
