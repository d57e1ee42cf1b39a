package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The scenario names.
const (
	ScenarioHello  = "hello"
	ScenarioGet    = "get"
	ScenarioList   = "list"
	ScenarioCreate = "create"
)

// AllScenarios lists the scenarios in the order a run performs them: the
// reference first, writes last (they grow the collection).
func AllScenarios() []string {
	return []string{ScenarioHello, ScenarioGet, ScenarioList, ScenarioCreate}
}

// DefaultThresholds are the least ratios to hello that Basalt's acceptance
// criteria require.
func DefaultThresholds() map[string]float64 {
	return map[string]float64{ScenarioGet: 0.25, ScenarioList: 0.11, ScenarioCreate: 0.14}
}

// Config is everything a run needs.
type Config struct {
	// Scenarios to run, a subset of AllScenarios (run in that order).
	Scenarios []string
	// HelloCommand runs the reference server when followed by "--addr ADDR".
	HelloCommand []string
	// BasaltPath is the basalt binary; empty runs the hello reference only.
	BasaltPath string
	// BasaltArgs are extra arguments after "serve --addr … --data-dir …".
	BasaltArgs []string
	// Token, when set, is sent to Basalt as a bearer token.
	Token string
	// WorkDir holds the data directory and server logs; empty means a new
	// temporary directory, removed at the end unless KeepWorkDir.
	WorkDir     string
	KeepWorkDir bool
	// Docs, BatchSize, SeedWorkers and Seed shape the seeded data.
	Docs, BatchSize, SeedWorkers int
	Seed                         uint64
	// Step is the length of a step, Warmup of the discarded first step of a
	// scenario, Settle the pause before each step.
	Step, Warmup, Settle time.Duration
	// MaxDuration caps the whole run; MaxRequests the requests of all steps.
	MaxDuration time.Duration
	MaxRequests int64
	// Search bounds each scenario's rate search.
	Search SearchConfig
	// Attack tunes the load generator.
	Attack AttackConfig
	// DB is the engine Basalt runs on: DBSQLite (a fresh data directory) or
	// DBPostgres (a fresh database created through PGURL, dropped at the end).
	DB string
	// PGURL is the PostgreSQL admin database (postgres:// URL) of postgres mode.
	PGURL string
	// PGBench shapes postgres mode's measurement of PostgreSQL itself.
	PGBench PGBenchConfig
	// Thresholds are the least ratios to hello, per scenario, that override
	// the engine's defaults (DefaultThresholdsFor).
	Thresholds map[string]float64
	// Log receives progress lines.
	Log io.Writer
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if len(c.Scenarios) == 0 {
		return errors.New("load: no scenarios")
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(AllScenarios(), s) {
			return fmt.Errorf("load: unknown scenario %q (have %s)", s, strings.Join(AllScenarios(), ", "))
		}
		if s != ScenarioHello && c.BasaltPath == "" {
			return fmt.Errorf("load: scenario %q needs -basalt", s)
		}
	}
	switch {
	case slices.Contains(c.Scenarios, ScenarioHello) && len(c.HelloCommand) == 0:
		return errors.New("load: no command for the hello server")
	case c.Docs < 1 || c.BatchSize < 1 || c.BatchSize > MaxBatch || c.SeedWorkers < 1:
		return fmt.Errorf("load: need docs ≥ 1, 1 ≤ batch ≤ %d, seed workers ≥ 1 (got %d, %d, %d)", MaxBatch, c.Docs, c.BatchSize, c.SeedWorkers)
	case c.Step <= 0 || c.Warmup < 0 || c.Settle < 0:
		return fmt.Errorf("load: need step > 0, warmup ≥ 0, settle ≥ 0 (got %s, %s, %s)", c.Step, c.Warmup, c.Settle)
	case c.MaxDuration <= 0 || c.MaxRequests <= 0:
		return fmt.Errorf("load: need positive max duration and max requests (got %s, %d)", c.MaxDuration, c.MaxRequests)
	case c.Attack.Workers < 1 || c.Attack.MaxWorkers < c.Attack.Workers || c.Attack.Timeout <= 0:
		return fmt.Errorf("load: need 1 ≤ workers ≤ max workers and a positive timeout (got %d, %d, %s)", c.Attack.Workers, c.Attack.MaxWorkers, c.Attack.Timeout)
	}
	switch c.DB {
	case DBSQLite:
	case DBPostgres:
		if _, err := parsePGURL(c.PGURL); err != nil {
			return err
		}
		if c.PGBench.Scale < 1 || c.PGBench.Clients < 1 || c.PGBench.Threads < 1 || c.PGBench.Threads > c.PGBench.Clients || c.PGBench.Duration < time.Second {
			return fmt.Errorf("load: need pgbench scale, clients ≥ 1, 1 ≤ threads ≤ clients and a duration ≥ 1s (got %+v)", c.PGBench)
		}
	default:
		return fmt.Errorf("load: unknown -db %q (want %s or %s)", c.DB, DBSQLite, DBPostgres)
	}
	return c.Search.Validate()
}

// EffectiveThresholds are the engine's default thresholds with c.Thresholds
// applied on top.
func (c Config) EffectiveThresholds() map[string]float64 {
	th := DefaultThresholdsFor(c.DB)
	for k, v := range c.Thresholds {
		th[k] = v
	}
	return th
}

// teardownReserve is the part of MaxDuration kept for stopping the servers.
const teardownReserve = 15 * time.Second

// pgbenchReserve is the part of MaxDuration kept in postgres mode for the
// pgbench measurement after the Basalt scenarios (-i -s 10 takes about a
// second, -S runs for PGBench.Duration).
const pgbenchReserve = 30 * time.Second

// Run performs the configured scenarios and returns their report. On error
// (including cancellation) the report holds what was measured so far.
func Run(ctx context.Context, cfg Config, env Environment) (rep Report, err error) {
	rep = Report{Env: env, Step: cfg.Step, Criteria: cfg.Search.Criteria, Reference: ScenarioHello}
	defer func() { rep.Evaluate(cfg.EffectiveThresholds()) }()
	if err := cfg.Validate(); err != nil {
		return rep, err
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.MaxDuration)
	defer cancel()
	reserve := teardownReserve
	if cfg.DB == DBPostgres {
		reserve += pgbenchReserve + cfg.PGBench.Duration
	}
	budget := NewBudget(time.Now().Add(max(cfg.MaxDuration-reserve, cfg.MaxDuration/2)), cfg.MaxRequests, time.Now)

	dir := cfg.WorkDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "basalt-bench-*"); err != nil {
			return rep, fmt.Errorf("load: work directory: %w", err)
		}
		if !cfg.KeepWorkDir {
			defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
		}
	}
	logf("work directory: %s", dir)

	// In postgres mode, fail before any measurement when PostgreSQL is not
	// reachable.
	var (
		admin     PGAdmin
		pgVersion string
	)
	if cfg.DB == DBPostgres && slices.ContainsFunc(cfg.Scenarios, func(s string) bool { return s != ScenarioHello }) {
		admin = PGAdmin{URL: cfg.PGURL}
		if pgVersion, err = admin.ServerVersion(ctx); err != nil {
			return rep, err
		}
		logf("postgres: %s at %s", pgVersion, RedactURL(cfg.PGURL))
	}

	left := len(cfg.Scenarios)
	runOne := func(name string, tr vegeta.Targeter) error {
		share := budget.Split(left)
		defer budget.Return(share)
		left--
		sr := runScenario(ctx, cfg, share, name, tr, logf)
		rep.Scenarios = append(rep.Scenarios, sr)
		if ctx.Err() != nil {
			return fmt.Errorf("load: scenario %s: %w", name, ctx.Err())
		}
		return nil
	}

	if slices.Contains(cfg.Scenarios, ScenarioHello) {
		if err := withServer(ctx, ProcessSpec{
			Name: "hello", Path: cfg.HelloCommand[0],
			Args: func(addr string) []string {
				return append(cfg.HelloCommand[1:len(cfg.HelloCommand):len(cfg.HelloCommand)], "--addr", addr)
			},
			ReadyPath: "/readyz", ReadyTimeout: 30 * time.Second,
		}, filepath.Join(dir, "hello.log"), logf, func(p *Process) error {
			return runOne(ScenarioHello, StaticTargeter(p.BaseURL+"/hello"))
		}); err != nil {
			return rep, err
		}
	}

	var basaltScenarios []string
	for _, s := range cfg.Scenarios {
		if s != ScenarioHello {
			basaltScenarios = append(basaltScenarios, s)
		}
	}
	if len(basaltScenarios) == 0 {
		rep.Notes = append(rep.Notes, "Basalt was not run: hello reference only")
		return rep, nil
	}
	dataDir := filepath.Join(dir, "data")
	serveArgs := []string{"--data-dir", dataDir}
	rep.Engine = "SQLite (embedded, a fresh data directory)"
	if cfg.DB == DBPostgres {
		name, err := NewDatabaseName("")
		if err != nil {
			return rep, err
		}
		dbURL, err := DatabaseURL(cfg.PGURL, name)
		if err != nil {
			return rep, err
		}
		if err := admin.CreateDatabase(ctx, name); err != nil {
			return rep, err
		}
		logf("postgres: created database %s", name)
		defer func() {
			if dropErr := admin.DropDatabase(ctx, name); dropErr != nil {
				err = errors.Join(err, dropErr)
			} else {
				logf("postgres: dropped database %s", name)
			}
		}()
		serveArgs = append(serveArgs, "--db", dbURL)
		rep.Engine = fmt.Sprintf("PostgreSQL %s (a fresh database on %s, dropped at the end)", pgVersion, pgHost(cfg.PGURL))
	}
	err = withServer(ctx, ProcessSpec{
		Name: "basalt", Path: cfg.BasaltPath,
		Args: func(addr string) []string {
			return append(append([]string{"serve", "--addr", addr}, serveArgs...), cfg.BasaltArgs...)
		},
		ReadyPath: "/readyz", ReadyTimeout: 60 * time.Second,
	}, filepath.Join(dir, "basalt.log"), logf, func(p *Process) error {
		ids, err := seed(ctx, cfg, p.BaseURL, &rep, logf)
		if err != nil {
			return err
		}
		rep.Docs = len(ids)
		for _, name := range basaltScenarios {
			var tr vegeta.Targeter
			switch name {
			case ScenarioGet:
				tr, err = GetTargeter(p.BaseURL, cfg.Token, ids)
			case ScenarioList:
				tr, err = ListTargeter(p.BaseURL, cfg.Token)
			case ScenarioCreate:
				tr, err = CreateTargeter(p.BaseURL, cfg.Token, cfg.Seed+1, 4096)
			}
			if err != nil {
				return err
			}
			if err := runOne(name, tr); err != nil {
				return err
			}
		}
		return nil
	})
	if cfg.DB == DBPostgres && err == nil && ctx.Err() == nil {
		pg := RunPGBench(ctx, admin, cfg.PGBench, logf)
		rep.PGBench = &pg
	}
	return rep, err
}

// pgHost is the host:port of a postgres:// URL.
func pgHost(pgURL string) string {
	u, err := parsePGURL(pgURL)
	if err != nil || u.Host == "" {
		return "the default host"
	}
	return u.Host
}

// withServer starts spec with its output in logPath, calls use, and stops
// the server again, also when use fails or ctx is cancelled.
func withServer(ctx context.Context, spec ProcessSpec, logPath string, logf func(string, ...any), use func(*Process) error) (err error) {
	out, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("load: %s log: %w", spec.Name, err)
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	spec.Output = out
	p, err := StartProcess(ctx, spec)
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, logPath)
	}
	logf("%s: pid %d on %s (log: %s)", spec.Name, p.Pid(), p.BaseURL, logPath)
	defer func() {
		if stopErr := p.Stop(10 * time.Second); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("%w (log: %s)", stopErr, logPath))
		}
	}()
	return use(p)
}

// seed creates the bench collection and its documents.
func seed(ctx context.Context, cfg Config, baseURL string, rep *Report, logf func(string, ...any)) ([]string, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: cfg.SeedWorkers, DisableCompression: true}
	defer tr.CloseIdleConnections()
	s := Seeder{BaseURL: baseURL, Token: cfg.Token, Client: &http.Client{Transport: tr, Timeout: time.Minute}}
	if err := s.CreateCollection(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	every := max(cfg.Docs/10, 1)
	next := every
	ids, err := s.Seed(ctx, cfg.Docs, cfg.BatchSize, cfg.SeedWorkers, cfg.Seed, func(done int) {
		if done >= next {
			logf("seed: %d/%d documents (%.0f/s)", done, cfg.Docs, float64(done)/time.Since(start).Seconds())
			next += every
		}
	})
	if err != nil {
		return nil, err
	}
	took := time.Since(start)
	rep.Notes = append(rep.Notes, fmt.Sprintf("seeded %s documents in batches of %d (%d concurrent) in %s (%.0f documents/s)",
		thousands(int64(len(ids))), cfg.BatchSize, cfg.SeedWorkers, took.Round(100*time.Millisecond), float64(len(ids))/took.Seconds()))
	return ids, nil
}
