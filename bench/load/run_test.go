package load

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
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
	never.ReadyTimeout = 300 * time.Millisecond
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
	cfg.Docs, cfg.SeedWorkers = 250, 2
	cfg.Step, cfg.Warmup, cfg.Settle = 200*time.Millisecond, 100*time.Millisecond, 0
	cfg.MaxDuration = 2 * time.Minute
	cfg.Search.StartRate, cfg.Search.MaxRate, cfg.Search.MinRate, cfg.Search.Bisections = 20, 80, 10, 1
	// A race-instrumented binary on a shared machine is slow; the point here
	// is the plumbing, not the numbers.
	cfg.Search.Criteria.MaxP99 = time.Second
	return cfg
}

func TestRunEndToEnd(t *testing.T) {
	cfg := testConfig(t)
	var log bytes.Buffer
	cfg.Log = &log
	rep, err := Run(context.Background(), cfg, CurrentEnvironment([]string{"basalt-bench"}))
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	if rep.Docs != 250 || len(rep.Scenarios) != 4 {
		t.Fatalf("docs %d, %d scenarios", rep.Docs, len(rep.Scenarios))
	}
	for i, s := range rep.Scenarios {
		if s.Name != AllScenarios()[i] {
			t.Errorf("scenario %d is %s, want %s", i, s.Name, AllScenarios()[i])
		}
		if s.Err != "" || s.Search.Best == nil || len(s.Search.Steps) < 2 || s.Verdict == "" {
			t.Errorf("%s: err %q best %+v steps %d verdict %q", s.Name, s.Err, s.Search.Best, len(s.Search.Steps), s.Verdict)
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| hello |", "| get |", "| list |", "| create |", "seeded 250 documents"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
	for _, f := range []string{"hello.log", "basalt.log"} {
		if _, err := os.Stat(filepath.Join(cfg.WorkDir, f)); err != nil {
			t.Errorf("server log: %v", err)
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
}
