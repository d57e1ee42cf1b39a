package load

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// helloSpec starts the test binary as the hello reference (see TestMain).
func helloSpec(t *testing.T) ProcessSpec {
	return ProcessSpec{
		Name: "hello", Path: os.Args[0],
		Args:      func(addr string) []string { return []string{"hello", "--addr", addr} },
		ReadyPath: "/readyz", ReadyTimeout: 30 * time.Second,
		Output: &bytes.Buffer{},
	}
}

func TestStartProcess(t *testing.T) {
	p, err := StartProcess(context.Background(), helloSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.BaseURL, "http://127.0.0.1:") || p.Pid() <= 0 {
		t.Errorf("process %s pid %d", p.BaseURL, p.Pid())
	}
	resp, err := http.Get(p.BaseURL + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /hello = %d", resp.StatusCode)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStartProcessFailures(t *testing.T) {
	early := helloSpec(t)
	early.Args = func(string) []string { return []string{"hello", "--no-such-flag"} }
	if _, err := StartProcess(context.Background(), early); err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Errorf("child that exits: err = %v", err)
	}

	missing := helloSpec(t)
	missing.Path = filepath.Join(t.TempDir(), "no-such-binary")
	if _, err := StartProcess(context.Background(), missing); err == nil {
		t.Error("missing binary started")
	}

	never := helloSpec(t)
	never.ReadyPath = "/not-found"
	// Long enough for the child to listen on a busy machine, so that the
	// readiness probe meets its 404 before giving up.
	never.ReadyTimeout = 3 * time.Second
	if _, err := StartProcess(context.Background(), never); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "404") {
		t.Errorf("never ready: err = %v, want a deadline error mentioning the 404", err)
	}
}

// testConfig is a tiny run against the test binary's hello and fake Basalt.
func testConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.HelloCommand = []string{os.Args[0], "hello"}
	cfg.BasaltPath = os.Args[0]
	cfg.WorkDir = t.TempDir()
	cfg.Docs, cfg.LargeDocs, cfg.SeedWorkers = 250, 300, 2
	cfg.Step, cfg.Warmup, cfg.Settle = 200*time.Millisecond, 100*time.Millisecond, 0
	cfg.MaxDuration = 2 * time.Minute
	cfg.Search.StartRate, cfg.Search.MaxRate, cfg.Search.MinRate, cfg.Search.Bisections = 20, 80, 10, 1
	// A race-instrumented binary on a shared machine is slow; the point here
	// is the plumbing, not the numbers.
	cfg.Search.Criteria.MaxP99 = time.Second
	cfg.Storm.Step, cfg.Storm.Rounds = 200*time.Millisecond, 2
	cfg.Paired = PairedConfig{Rounds: 2, Step: 200 * time.Millisecond, Workers: 4}
	cfg.Storm.MaxP99Ratio = 1000
	return cfg
}

func TestRunEndToEnd(t *testing.T) {
	cfg := testConfig(t)
	var log bytes.Buffer
	cfg.Log = &log
	// Asked for in another order, run in AllScenarios' order.
	cfg.Scenarios = []string{ScenarioCreate, ScenarioLoginStorm, ScenarioListTotal1M, ScenarioGetAuth, ScenarioList, ScenarioListTotal,
		ScenarioGet, ScenarioHello}
	rep, err := Run(context.Background(), cfg, CurrentEnvironment([]string{"basalt-bench"}))
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	// The change-event scenarios need a real Basalt (the relay, realtime
	// streams, /metrics): they are tested by parts in events_test.go.
	// The search and comparison scenarios have their own runs
	// (searchtext_test.go, compare_test.go).
	want := slices.DeleteFunc(AllScenarios(), func(s string) bool {
		return slices.Contains(EventScenarios(), s) || s == ScenarioVectors || slices.Contains(SearchTextScenarios(), s) ||
			slices.Contains(CompareScenarios(), s)
	})
	if rep.Docs != 250 || len(rep.Scenarios) != len(want) {
		t.Fatalf("docs %d, %d scenarios", rep.Docs, len(rep.Scenarios))
	}
	for i, s := range rep.Scenarios {
		if s.Name != want[i] {
			t.Errorf("scenario %d is %s, want %s", i, s.Name, want[i])
		}
		if s.Name == ScenarioLoginStorm {
			continue
		}
		if s.Err != "" || s.Search.Best == nil || len(s.Search.Steps) < 2 || s.Verdict == "" {
			t.Errorf("%s: err %q best %+v steps %d verdict %q", s.Name, s.Err, s.Search.Best, len(s.Search.Steps), s.Verdict)
		}
		// Every request was answered 2xx: get-auth read documents its
		// user owns, with a token that had not expired.
		for _, st := range s.Search.Steps {
			if st.Errors > 0 {
				t.Errorf("%s: step at %d/s had %d errors: %v", s.Name, st.Rate, st.Errors, st.ErrorSamples)
			}
		}
	}
	getRate := rep.rate(ScenarioGet)
	ga := rep.Scenarios[2]
	if ga.Baseline != ScenarioGet || ga.BaselineRatio != float64(ga.MaxRate)/float64(getRate) || ga.Threshold != 0.9 {
		t.Errorf("get-auth: baseline %q ratio %v threshold %v (get %d/s)", ga.Baseline, ga.BaselineRatio, ga.Threshold, getRate)
	}
	// The paired comparison ran both requests at full speed, each round
	// answered without errors, and decided the verdict.
	if p := ga.Paired; p == nil || len(p.Rounds) != 2 || p.Median <= 0 || p.Workers != 4 {
		t.Errorf("get-auth paired comparison: %+v", p)
	} else {
		for i, r := range p.Rounds {
			if r.Base.Requests == 0 || r.Auth.Requests == 0 || r.Base.Errors+r.Auth.Errors > 0 || r.Base.Rate != 0 ||
				r.Ratio != r.Auth.Throughput/r.Base.Throughput {
				t.Errorf("paired round %d: %+v", i+1, r)
			}
		}
		want := VerdictFail
		if p.Median >= 0.9 {
			want = VerdictPass
		}
		if ga.Verdict != want {
			t.Errorf("get-auth verdict %s with a paired median of %v", ga.Verdict, p.Median)
		}
	}
	if first := ga.Search.Steps[0].Rate; first != int(math.Ceil(0.9*float64(getRate))) || len(ga.Notes) == 0 {
		t.Errorf("get-auth search started at %d/s (notes %q), want 90 %% of get's %d/s", first, ga.Notes, getRate)
	}

	storm := rep.Scenarios[slices.IndexFunc(rep.Scenarios, func(s ScenarioReport) bool { return s.Name == ScenarioLoginStorm })]
	st := storm.Storm
	if storm.Err != "" || st == nil || len(st.Rounds) != cfg.Storm.Rounds || storm.Verdict != VerdictPass {
		t.Fatalf("login-storm: err %q verdict %s notes %q report %+v", storm.Err, storm.Verdict, storm.Notes, st)
	}
	if st.GetRate != getRate/2 || st.LoginRate != 20 || st.P99Ratio <= 0 || st.MedianRatio <= 0 || len(st.RoundRatios) != cfg.Storm.Rounds {
		t.Errorf("login-storm: GET %d/s (get %d/s), logins %d/s, p99 ratio %v, median %v of %v", st.GetRate, getRate, st.LoginRate, st.P99Ratio, st.MedianRatio, st.RoundRatios)
	}
	// Every storm login reached the password check: the run loosened the throttles.
	if n := st.Logins.Requests; n < 4 || st.Logins.StatusCodes["401"] != int(n) || len(st.Logins.StatusCodes) != 1 {
		t.Errorf("storm logins %d, answers %v; want only 401s", n, st.Logins.StatusCodes)
	}
	if st.Quiet.Requests == 0 || st.Quiet.Requests+st.Storm.Requests != st.Rounds[0].Quiet.Requests+st.Rounds[1].Quiet.Requests+st.Rounds[0].Storm.Requests+st.Rounds[1].Storm.Requests {
		t.Errorf("pooled phases %+v / %+v", st.Quiet, st.Storm)
	}

	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| hello |", "| get |", "| get-auth |", "≥ 90 % of get |", "| list |", "| list-total |", "| list-total-1m |", "| create |",
		"seeded 250 documents into bench ", "seeded 250 documents into bench_owned ", "seeded 300 documents into bench_large ", "--auth-access-ttl=10m0s --login-ip-burst=1000000 --login-email-burst=1000000 --password-ip-share=1",
		"get-auth: ", " of get (", "by the rate searches, for reference; the paired comparison decides:\n\nget-auth against get, paired: 2 round(s) of 200ms each at full speed (4 clients, closed loop)", "; median **", "Login storm:", "| with storm |", "401 × ", "GET p99 with the storm, as a multiple of the p99 without, per round: "} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
	if strings.Contains(md.String(), "| login-storm |") {
		t.Errorf("the login storm has a row in the rate table:\n%s", md.String())
	}
	for _, f := range []string{"hello.log", "basalt.log"} {
		if _, err := os.Stat(filepath.Join(cfg.WorkDir, f)); err != nil {
			t.Errorf("server log: %v", err)
		}
	}
	// The passwords of the run never reach its log or report.
	for _, secret := range regexp.MustCompile(`[0-9a-f]{32}`).FindAllString(log.String()+md.String(), -1) {
		t.Errorf("log or report holds something like a password: %s", secret)
	}
}

// TestRunStormThrottled: with the throttle that Basalt would otherwise
// apply (an explicit -basalt-arg wins over the run's own), storm logins
// beyond it are answered 429, counted and reported; the storm still counts
// as long as some were hashed.
func TestRunStormThrottled(t *testing.T) {
	cfg := testConfig(t)
	cfg.Scenarios = []string{ScenarioLoginStorm}
	cfg.Storm.GetRate, cfg.Storm.Rounds = 20, 1
	cfg.BasaltArgs = []string{"--login-ip-burst=5"} // three go to the set-up
	var log bytes.Buffer
	cfg.Log = &log
	rep, err := Run(context.Background(), cfg, Environment{})
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	s := rep.Scenarios[0]
	if s.Storm == nil || s.Storm.Logins.StatusCodes["401"] != 2 || s.Storm.Logins.StatusCodes["429"] < 2 {
		t.Fatalf("verdict %s, storm %+v", s.Verdict, s.Storm)
	}
	if len(s.Notes) == 0 || !strings.Contains(s.Notes[0], "2 storm logins were hashed (401) and ") {
		t.Errorf("notes %q, want the answer counts", s.Notes)
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "then `--login-ip-burst=5` (-basalt-arg, which wins)") {
		t.Errorf("notes %q do not show the -basalt-arg", rep.Notes)
	}
}

// TestRunTokenTooShort: a run whose access tokens would expire before it
// may end stops before seeding, and says what to change.
func TestRunTokenTooShort(t *testing.T) {
	cfg := testConfig(t)
	cfg.Scenarios = []string{ScenarioGet, ScenarioGetAuth}
	cfg.BasaltArgs = []string{"--auth-access-ttl=1m"}
	_, err := Run(context.Background(), cfg, Environment{})
	if err == nil || !strings.Contains(err.Error(), "--auth-access-ttl of at least 10m0s") {
		t.Errorf("err = %v, want advice on --auth-access-ttl", err)
	}
}

func TestAccessTTL(t *testing.T) {
	for d, want := range map[time.Duration]time.Duration{
		time.Minute:                  10 * time.Minute,
		10 * time.Minute:             15 * time.Minute,
		10*time.Minute + time.Second: 16 * time.Minute,
		30 * time.Hour:               24 * time.Hour,
	} {
		if got := AccessTTL(d); got != want {
			t.Errorf("AccessTTL(%s) = %s, want %s", d, got, want)
		}
	}
}

func TestRunHelloOnlyWithinBudget(t *testing.T) {
	cfg := testConfig(t)
	cfg.Scenarios, cfg.BasaltPath = []string{ScenarioHello}, ""
	cfg.MaxRequests = 20 // the warm-up (2), the 20/s (4) and 40/s (8) steps fit, the 80/s one (16) does not
	rep, err := Run(context.Background(), cfg, Environment{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Scenarios) != 1 || !rep.Scenarios[0].Search.Truncated || len(rep.Notes) == 0 {
		t.Errorf("report %+v, want one truncated scenario and a note", rep)
	}
}

func TestRunCancelled(t *testing.T) {
	cfg := testConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, cfg, Environment{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := map[string]func(*Config){
		"no scenarios":       func(c *Config) { c.Scenarios = nil },
		"unknown scenario":   func(c *Config) { c.Scenarios = []string{"delete"} },
		"get without basalt": func(c *Config) { c.BasaltPath = "" },
		"no hello command":   func(c *Config) { c.HelloCommand = nil },
		"batch too large":    func(c *Config) { c.BatchSize = 101 },
		"zero step":          func(c *Config) { c.Step = 0 },
		"no request budget":  func(c *Config) { c.MaxRequests = 0 },
		"workers above max":  func(c *Config) { c.Attack.Workers = c.Attack.MaxWorkers + 1 },
		"bad search":         func(c *Config) { c.Search.MinRate = 0 },
		"storm without get":  func(c *Config) { c.Scenarios = []string{ScenarioHello, ScenarioLoginStorm} },
		"storm no logins":    func(c *Config) { c.Storm.LoginRate = 0 },
		"storm no rounds":    func(c *Config) { c.Storm.Rounds = 0 },
		"storm zero step":    func(c *Config) { c.Storm.Step = 0 },
		"storm negative":     func(c *Config) { c.Storm.MaxP99Ratio = -1 },
	}
	for name, mutate := range bad {
		cfg := testConfig(t)
		mutate(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
	}
	if err := testConfig(t).Validate(); err != nil {
		t.Errorf("test config: %v", err)
	}
	storm := testConfig(t)
	storm.Scenarios, storm.Storm.GetRate = []string{ScenarioLoginStorm}, 100
	if err := storm.Validate(); err != nil {
		t.Errorf("storm with its own GET rate: %v", err)
	}
}

func TestStormFlags(t *testing.T) {
	cfg := parseFlags(t)
	if cfg.Storm != DefaultStormConfig() || cfg.Storm.LoginRate != 20 || cfg.Storm.MaxP99Ratio != 2 || cfg.Storm.GetRate != 0 {
		t.Errorf("defaults %+v", cfg.Storm)
	}
	cfg = parseFlags(t, "-storm-get-rate", "5000", "-storm-rate", "40", "-storm-step", "10s", "-storm-rounds", "3", "-max-ratio-login-storm", "1.5")
	if want := (StormConfig{GetRate: 5000, LoginRate: 40, Step: 10 * time.Second, Rounds: 3, MaxP99Ratio: 1.5}); cfg.Storm != want {
		t.Errorf("parsed %+v, want %+v", cfg.Storm, want)
	}
	ttl := "--auth-access-ttl=" + AccessTTL(cfg.MaxDuration).String()
	args := strings.Join(basaltRunArgs(cfg), " ")
	if args != ttl+" --login-ip-burst=1000000 --login-email-burst=1000000 --password-ip-share=1 --realtime-streams-per-ip=10064 --rate-limits=false" {
		t.Errorf("run args %q", args)
	}
	cfg.Scenarios = []string{ScenarioHello, ScenarioGet}
	if args := strings.Join(basaltRunArgs(cfg), " "); args != ttl+" --rate-limits=false" {
		t.Errorf("run args without the storm %q", args)
	}
}
