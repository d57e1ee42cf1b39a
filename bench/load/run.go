package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The scenario names.
const (
	ScenarioHello     = "hello"
	ScenarioGet       = "get"
	ScenarioGetAuth   = "get-auth"
	ScenarioList      = "list"
	ScenarioListTotal = "list-total"
	// ScenarioListTotal1M is list-total on LargeCollection (Config.LargeDocs
	// documents, a million by default), run only when asked for: seeding
	// it takes minutes.
	ScenarioListTotal1M = "list-total-1m"
	ScenarioLoginStorm  = "login-storm"
	ScenarioCreate      = "create"
	// The change-event scenarios: the relay's throughput and lag on the
	// in-process bus and (in a Basalt of its own, with a Kafka-protocol
	// cluster) on Kafka, the commit-to-subscriber latency of realtime
	// streams, and the idle streams one process holds (in a Basalt of its
	// own, so that its memory is measured from a fresh start).
	ScenarioRelay           = "relay"
	ScenarioRelayKafka      = "relay-kafka"
	ScenarioRealtimeLatency = "realtime-latency"
	// ScenarioRealtimeFanout is one collection stream's fan-out: every
	// write delivered to every subscriber.
	ScenarioRealtimeFanout = "realtime-fanout"
	ScenarioRealtimeIdle   = "realtime-idle"
)

// AllScenarios lists the scenarios in the order a run performs them: the
// reference first, then the vector indexes (in the load generator's
// process, before any Basalt runs), get before the scenarios compared with it, writes last
// (they grow the collection).
func AllScenarios() []string {
	return []string{ScenarioHello, ScenarioVectors, ScenarioGet, ScenarioGetAuth, ScenarioList, ScenarioListTotal, ScenarioListTotal1M,
		ScenarioLoginStorm, ScenarioCreate, ScenarioRelay, ScenarioRealtimeLatency, ScenarioRealtimeFanout, ScenarioRelayKafka, ScenarioRealtimeIdle,
		ScenarioSearchText, ScenarioSearchTextPG, ScenarioRateLimits, ScenarioCachePG, ScenarioTransports, ScenarioSplit, ScenarioGraphQL, ScenarioTracing}
}

// pgScenario reports whether scenario runs on PostgreSQL whatever -db.
func pgScenario(scenario string) bool {
	return scenario == ScenarioSearchTextPG || scenario == ScenarioCachePG || scenario == ScenarioSplit
}

// EventScenarios are the change-event scenarios.
func EventScenarios() []string {
	return []string{ScenarioRelay, ScenarioRealtimeLatency, ScenarioRealtimeFanout, ScenarioRelayKafka, ScenarioRealtimeIdle}
}

// ownProcess reports whether scenario runs against a Basalt of its own
// rather than the one seeded for the other scenarios.
func ownProcess(scenario string) bool {
	return scenario == ScenarioRelayKafka || scenario == ScenarioRealtimeIdle || slices.Contains(SearchTextScenarios(), scenario) ||
		slices.Contains(CompareScenarios(), scenario)
}

// DefaultScenarios are the scenarios of a run that names none: all but
// ScenarioListTotal1M.
func DefaultScenarios() []string {
	var out []string
	for _, s := range AllScenarios() {
		if s != ScenarioListTotal1M {
			out = append(out, s)
		}
	}
	return out
}

// DefaultThresholds are the least ratios to hello (to get, for get-auth:
// see BaselineOf) that Basalt's acceptance criteria require on SQLite.
// The login storm has its own threshold (StormConfig.MaxP99Ratio).
func DefaultThresholds() map[string]float64 {
	return map[string]float64{ScenarioGet: 0.25, ScenarioGetAuth: 0.90, ScenarioList: 0.11,
		ScenarioListTotal: 0.01, ScenarioListTotal1M: 0.01, ScenarioCreate: 0.14}
}

// Config is everything a run needs.
type Config struct {
	// Scenarios to run, a subset of AllScenarios (run in that order).
	Scenarios []string
	// HelloCommand runs the reference server when followed by "--addr ADDR".
	HelloCommand []string
	// BasaltPath is the basalt binary; empty runs the hello reference only.
	BasaltPath string
	// BasaltArgs are extra arguments after "serve --addr … --data-dir …"
	// and the run's own (see Run); they win over the run's own.
	BasaltArgs []string
	// WorkDir holds the data directory and server logs; empty means a new
	// temporary directory, removed at the end unless KeepWorkDir.
	WorkDir     string
	KeepWorkDir bool
	// Docs, BatchSize, SeedWorkers and Seed shape the seeded data.
	Docs, BatchSize, SeedWorkers int
	// LargeDocs is the size of LargeCollection, seeded only for
	// ScenarioListTotal1M.
	LargeDocs int
	Seed      uint64
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
	// Storm shapes the login-storm scenario.
	Storm StormConfig
	// Paired shapes get-auth's paired comparison with get, which decides
	// its verdict.
	Paired PairedConfig
	// Events shapes the change-event scenarios.
	Events EventsConfig
	// Vectors shapes ScenarioVectors.
	Vectors VectorsConfig
	// SearchText shapes the full-text search scenarios
	// (SearchTextScenarios).
	SearchText SearchTextConfig
	// Compare shapes the comparison scenarios (CompareScenarios).
	Compare CompareConfig
	// DB is the engine Basalt runs on: DBSQLite (a fresh data directory) or
	// DBPostgres (a fresh database created through PGURL, dropped at the end).
	DB string
	// PGURL is the PostgreSQL admin database (postgres:// URL) of postgres mode.
	PGURL string
	// PGBench shapes postgres mode's measurement of PostgreSQL itself.
	PGBench PGBenchConfig
	// Thresholds are the least ratios to hello (to get, for get-auth), per
	// scenario, that override the engine's defaults (DefaultThresholdsFor).
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
		if s != ScenarioHello && s != ScenarioVectors && c.BasaltPath == "" {
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
	if slices.Contains(c.Scenarios, ScenarioListTotal1M) && c.LargeDocs < 1 {
		return fmt.Errorf("load: scenario %s needs large docs ≥ 1 (got %d)", ScenarioListTotal1M, c.LargeDocs)
	}
	if slices.Contains(c.Scenarios, ScenarioVectors) {
		if err := c.Vectors.Validate(); err != nil {
			return err
		}
	}
	if slices.ContainsFunc(c.Scenarios, func(s string) bool { return slices.Contains(SearchTextScenarios(), s) }) {
		if err := c.SearchText.Validate(); err != nil {
			return err
		}
	}
	if slices.ContainsFunc(c.Scenarios, func(s string) bool { return slices.Contains(CompareScenarios(), s) }) {
		if err := c.Compare.Validate(); err != nil {
			return err
		}
	}
	if slices.Contains(c.Scenarios, ScenarioGetAuth) {
		if err := c.Paired.Validate(); err != nil {
			return err
		}
	}
	if slices.ContainsFunc(c.Scenarios, func(s string) bool { return slices.Contains(EventScenarios(), s) }) {
		if err := c.Events.Validate(); err != nil {
			return err
		}
	}
	if slices.Contains(c.Scenarios, ScenarioLoginStorm) {
		if err := c.Storm.Validate(); err != nil {
			return err
		}
		if c.Storm.GetRate == 0 && !slices.Contains(c.Scenarios, ScenarioGet) {
			return fmt.Errorf("load: scenario %s needs scenario %s in the same run (its GET rate is half of get's) or -storm-get-rate", ScenarioLoginStorm, ScenarioGet)
		}
	}
	switch c.DB {
	case DBSQLite:
		if slices.ContainsFunc(c.Scenarios, pgScenario) {
			if _, err := parsePGURL(c.PGURL); err != nil {
				return err
			}
		}
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
	// The change-event scenarios run a fixed load for a bounded time: the
	// time they may take is set aside, and the searches share the rest as
	// if they were not there — but at least half of the run, when the cap
	// is short.
	start := time.Now()
	runEnd := start.Add(max(cfg.MaxDuration-reserve, cfg.MaxDuration/2))
	searchEnd := runEnd.Add(-cfg.Events.reserve(cfg.Scenarios) - cfg.Vectors.reserve(cfg.Scenarios) - cfg.SearchText.reserve(cfg.Scenarios) -
		cfg.Compare.reserve(cfg.Scenarios, cfg.Step))
	if half := start.Add(runEnd.Sub(start) / 2); searchEnd.Before(half) {
		searchEnd = half
	}
	budget := NewBudget(searchEnd, cfg.MaxRequests, time.Now)

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
	// reachable. Otherwise only search-text-pg needs it: without it, that
	// scenario fails and the others run.
	var (
		admin     PGAdmin
		pgVersion string
		pgMissing error
	)
	if (cfg.DB == DBPostgres && slices.ContainsFunc(cfg.Scenarios, func(s string) bool { return s != ScenarioHello && s != ScenarioVectors })) ||
		slices.ContainsFunc(cfg.Scenarios, pgScenario) {
		admin = PGAdmin{URL: cfg.PGURL}
		v, vErr := admin.ServerVersion(ctx)
		switch {
		case vErr != nil && cfg.DB == DBPostgres:
			return rep, vErr
		case vErr != nil:
			pgMissing = vErr
			logf("postgres: %v: %s, %s and %s will not run", vErr, ScenarioSearchTextPG, ScenarioCachePG, ScenarioSplit)
		default:
			pgVersion = v
			logf("postgres: %s at %s", pgVersion, RedactURL(cfg.PGURL))
		}
	}

	left := 0 // searching scenarios still to run, each named once
	for _, s := range AllScenarios() {
		if slices.Contains(cfg.Scenarios, s) && !slices.Contains(EventScenarios(), s) && s != ScenarioVectors && !slices.Contains(SearchTextScenarios(), s) &&
			!slices.Contains(CompareScenarios(), s) {
			left++
		}
	}
	// runOne runs one scenario within its share of what is left of the
	// budget and adds its report. A change-event scenario (they run after
	// the searches) and the vector indexes' (time set aside like theirs)
	// may use what is left until the run's end.
	runOne := func(name string, measure func(share *Budget) ScenarioReport) error {
		var share *Budget
		if slices.Contains(EventScenarios(), name) || name == ScenarioVectors || slices.Contains(SearchTextScenarios(), name) ||
			slices.Contains(CompareScenarios(), name) {
			share = budget.Split(1)
			share.deadline = runEnd
		} else {
			share = budget.Split(left)
			left--
		}
		defer budget.Return(share)
		rep.Scenarios = append(rep.Scenarios, measure(share))
		if ctx.Err() != nil {
			return fmt.Errorf("load: scenario %s: %w", name, ctx.Err())
		}
		return nil
	}
	search := func(name string, sc SearchConfig, tr vegeta.Targeter) func(*Budget) ScenarioReport {
		return func(share *Budget) ScenarioReport { return runScenario(ctx, cfg, sc, share, name, tr, logf) }
	}

	if slices.Contains(cfg.Scenarios, ScenarioHello) {
		if err := withServer(ctx, ProcessSpec{
			Name: "hello", Path: cfg.HelloCommand[0],
			Args: func(addr string) []string {
				return append(cfg.HelloCommand[1:len(cfg.HelloCommand):len(cfg.HelloCommand)], "--addr", addr)
			},
			ReadyPath: "/readyz", ReadyTimeout: 30 * time.Second,
		}, filepath.Join(dir, "hello.log"), logf, func(p *Process) error {
			return runOne(ScenarioHello, search(ScenarioHello, cfg.Search, StaticTargeter(p.BaseURL+"/hello")))
		}); err != nil {
			return rep, err
		}
	}

	if slices.Contains(cfg.Scenarios, ScenarioVectors) {
		if err := runOne(ScenarioVectors, func(*Budget) ScenarioReport { return runVectors(ctx, cfg.Vectors, logf) }); err != nil {
			return rep, err
		}
	}

	// The Basalt scenarios, in the order of AllScenarios whatever the
	// order asked for: get-auth and login-storm build on get's rate.
	// Those in a Basalt of their own (ownProcess) run after the others.
	var basaltScenarios, ownScenarios []string
	for _, s := range AllScenarios() {
		switch {
		case s == ScenarioHello || s == ScenarioVectors || !slices.Contains(cfg.Scenarios, s):
		case ownProcess(s):
			ownScenarios = append(ownScenarios, s)
		default:
			basaltScenarios = append(basaltScenarios, s)
		}
	}
	if len(basaltScenarios)+len(ownScenarios) == 0 {
		rep.Notes = append(rep.Notes, "Basalt was not run: "+strings.Join(cfg.Scenarios, ", ")+" only")
		return rep, nil
	}
	rep.Engine = "SQLite (embedded, a fresh data directory)"
	if cfg.DB == DBPostgres {
		rep.Engine = fmt.Sprintf("PostgreSQL %s (a fresh database on %s, dropped at the end)", pgVersion, pgHost(cfg.PGURL))
	}
	var dropDatabases []string // postgres mode: the databases to drop at the end
	defer func() {
		for _, name := range slices.Backward(dropDatabases) {
			if dropErr := admin.DropDatabase(ctx, name); dropErr != nil {
				err = errors.Join(err, dropErr)
			} else {
				logf("postgres: dropped database %s", name)
			}
		}
	}()
	// newStorage gives each Basalt process a fresh data directory (label)
	// and, on PostgreSQL (db), a fresh database.
	newStorage := func(label, db string) ([]string, error) {
		args := []string{"--data-dir", filepath.Join(dir, label)}
		if db != DBPostgres {
			return args, nil
		}
		name, err := NewDatabaseName("")
		if err != nil {
			return nil, err
		}
		dbURL, err := DatabaseURL(cfg.PGURL, name)
		if err != nil {
			return nil, err
		}
		if err := admin.CreateDatabase(ctx, name); err != nil {
			return nil, err
		}
		logf("postgres: created database %s", name)
		dropDatabases = append(dropDatabases, name)
		return append(args, "--db", dbURL), nil
	}
	runArgs := basaltRunArgs(cfg)
	runNote := "Basalt ran with `" + strings.Join(runArgs, " ") + "`" + runArgsWhy(cfg)
	if len(cfg.BasaltArgs) > 0 {
		runNote += ", then `" + QuoteCommand(cfg.BasaltArgs) + "` (-basalt-arg, which wins)"
	}
	rep.Notes = append(rep.Notes, runNote)
	var metricsToken string
	var childEnv []string
	if slices.ContainsFunc(cfg.Scenarios, func(s string) bool { return slices.Contains(EventScenarios(), s) }) {
		if metricsToken, err = NewMetricsToken(); err != nil {
			return rep, err
		}
		childEnv = []string{MetricsTokenEnv + "=" + metricsToken}
	}
	scraper := func(p *Process) Scraper {
		return Scraper{BaseURL: p.BaseURL, Token: metricsToken, HTTP: &http.Client{Timeout: 5 * time.Second}}
	}
	basaltSpec := func(storageArgs, extra []string) ProcessSpec {
		return ProcessSpec{
			Name: "basalt", Path: cfg.BasaltPath, Env: childEnv,
			Args:      func(addr string) []string { return serveArgs(addr, storageArgs, runArgs, extra, cfg.BasaltArgs) },
			ReadyPath: "/readyz", ReadyTimeout: 60 * time.Second,
		}
	}
	if len(basaltScenarios) > 0 {
		storageArgs, err := newStorage("data", cfg.DB)
		if err != nil {
			return rep, err
		}
		if err := runMain(ctx, cfg, &rep, basaltScenarios, basaltSpec(storageArgs, nil), storageArgs, filepath.Join(dir, "basalt.log"),
			scraper, runOne, search, logf); err != nil {
			return rep, err
		}
	}
	var corpus *TextCorpus // the search scenarios' text, read once
	for _, name := range ownScenarios {
		if slices.Contains(CompareScenarios(), name) {
			if compareEngine(name, cfg.DB) == DBPostgres && pgMissing != nil {
				rep.Scenarios = append(rep.Scenarios, ScenarioReport{Name: name, Compare: &CompareReport{Engine: DBPostgres},
					Err: "PostgreSQL is not reachable at -pg-url: " + pgMissing.Error()})
				continue
			}
			fx := compareFixture{dir: dir, storage: newStorage, basaltSpec: basaltSpec}
			if err := runOne(name, func(share *Budget) ScenarioReport { return runCompare(ctx, cfg, share, name, fx, logf) }); err != nil {
				return rep, err
			}
			continue
		}
		if name == ScenarioSearchTextPG && pgMissing != nil {
			rep.Scenarios = append(rep.Scenarios, ScenarioReport{Name: name, SearchText: &SearchTextReport{Engine: DBPostgres},
				Err: "PostgreSQL is not reachable at -pg-url: " + pgMissing.Error()})
			continue
		}
		db := cfg.DB
		if slices.Contains(SearchTextScenarios(), name) {
			db = searchEngine(name)
			if corpus == nil {
				logf("%-6s reading the text of the Go standard library's documentation", name)
				if corpus, err = ReadTextCorpus(ctx, cfg.SearchText.GOROOT); err != nil {
					return rep, err
				}
			}
		}
		storageArgs, err := newStorage("data-"+name, db)
		if err != nil {
			return rep, err
		}
		if err := runOwnProcess(ctx, cfg, &rep, name, dir, storageArgs, basaltSpec, scraper, runOne, corpus, logf); err != nil {
			return rep, err
		}
	}
	if cfg.DB == DBPostgres && ctx.Err() == nil {
		pg := RunPGBench(ctx, admin, cfg.PGBench, logf)
		rep.PGBench = &pg
	}
	return rep, nil
}

// serveArgs are the arguments of `basalt serve` on addr: the storage's,
// the run's own (basaltRunArgs), a scenario's extra ones, then
// -basalt-arg's. Where a flag is given twice, the later wins.
func serveArgs(addr string, storageArgs, runArgs, extra, basaltArgs []string) []string {
	args := append([]string{"serve", "--addr", addr}, storageArgs...)
	args = append(append(args, runArgs...), extra...)
	return append(args, basaltArgs...)
}

// runMain runs scenarios on one Basalt process started from spec and set up
// (seeded) for them.
func runMain(ctx context.Context, cfg Config, rep *Report, basaltScenarios []string, spec ProcessSpec, storageArgs []string, logPath string,
	scraper func(*Process) Scraper, runOne func(string, func(*Budget) ScenarioReport) error,
	search func(string, SearchConfig, vegeta.Targeter) func(*Budget) ScenarioReport, logf func(string, ...any)) error {
	return withServer(ctx, spec, logPath, logf, func(p *Process) error {
		fx, err := setUp(ctx, cfg, p.BaseURL, storageArgs, slices.Contains(basaltScenarios, ScenarioGetAuth),
			slices.Contains(basaltScenarios, ScenarioListTotal1M), rep, logf)
		if err != nil {
			return err
		}
		rep.Docs = len(fx.ids)
		for _, name := range basaltScenarios {
			var measure func(*Budget) ScenarioReport
			switch name {
			case ScenarioGet:
				tr, err := GetTargeter(p.BaseURL, Collection, "", fx.ids)
				if err != nil {
					return err
				}
				measure = search(name, cfg.Search, tr)
			case ScenarioGetAuth:
				tr, err := GetTargeter(p.BaseURL, OwnedCollection, fx.session.Token, fx.ownedIDs)
				if err != nil {
					return err
				}
				baseTr, err := GetTargeter(p.BaseURL, Collection, "", fx.ids)
				if err != nil {
					return err
				}
				sc, note := getAuthSearch(cfg, rep.rate(ScenarioGet))
				run := search(name, sc, tr)
				measure = func(share *Budget) ScenarioReport {
					sr := run(share)
					if note != "" {
						sr.Notes = append(sr.Notes, note)
					}
					if cfg.Paired.Rounds > 0 && sr.Err == "" {
						// Full speed is about the searched maximum; a quarter
						// more leaves room for a faster moment.
						est := rep.rate(ScenarioGet)
						if sr.Search.Best != nil {
							est = max(est, sr.Search.Best.Rate)
						}
						est += est / 4
						paired, err := runPaired(ctx, cfg, share, est, baseTr, tr, logf)
						sr.Paired = paired
						if err != nil {
							sr.Err = err.Error()
						}
					}
					return sr
				}
			case ScenarioList:
				tr, err := ListTargeter(p.BaseURL)
				if err != nil {
					return err
				}
				measure = search(name, cfg.Search, tr)
			case ScenarioListTotal, ScenarioListTotal1M:
				coll := Collection
				if name == ScenarioListTotal1M {
					coll = LargeCollection
				}
				tr, err := ListTotalTargeter(p.BaseURL, coll)
				if err != nil {
					return err
				}
				measure = search(name, cfg.Search, tr)
			case ScenarioLoginStorm:
				getTr, err := GetTargeter(p.BaseURL, Collection, "", fx.ids)
				if err != nil {
					return err
				}
				loginTr, err := LoginTargeter(p.BaseURL, fx.user.WrongPassword())
				if err != nil {
					return err
				}
				measure = func(share *Budget) ScenarioReport {
					getRate := cfg.Storm.GetRate
					if getRate == 0 {
						getRate = rep.rate(ScenarioGet) / 2
					}
					if getRate < 1 {
						return ScenarioReport{Name: name, Storm: &StormReport{LoginRate: cfg.Storm.LoginRate, Step: cfg.Storm.Step, MaxP99Ratio: cfg.Storm.MaxP99Ratio},
							Err: "no GET rate: get sustained no rate in this run (set -storm-get-rate)"}
					}
					return runStorm(ctx, cfg, share, getRate, getTr, loginTr, logf)
				}
			case ScenarioCreate:
				tr, err := CreateTargeter(p.BaseURL, cfg.Seed+1, 4096)
				if err != nil {
					return err
				}
				measure = search(name, cfg.Search, tr)
			case ScenarioRelay:
				tr, err := CreateTargeter(p.BaseURL, cfg.Seed+2, 4096)
				if err != nil {
					return err
				}
				measure = func(share *Budget) ScenarioReport {
					rate, source := relayRate(cfg, rep.rate(ScenarioCreate))
					return runRelay(ctx, cfg, share, name, "in-process", rate, source, scraper(p), tr, logf)
				}
			case ScenarioRealtimeLatency:
				measure = func(share *Budget) ScenarioReport {
					return runRealtimeLatency(ctx, cfg, share, p.BaseURL, p.Pid(), logf)
				}
			case ScenarioRealtimeFanout:
				tr, err := CreateTargeter(p.BaseURL, cfg.Seed+3, 4096)
				if err != nil {
					return err
				}
				measure = func(share *Budget) ScenarioReport {
					return runRealtimeFanout(ctx, cfg, share, p.BaseURL, p.Pid(), tr, logf)
				}
			}
			if err := runOne(name, measure); err != nil {
				return err
			}
		}
		return nil
	})
}

// runOwnProcess runs scenario name (ownProcess) on a Basalt of its own, on
// storageArgs, with the admin and the bench collection (empty) only; for
// ScenarioRelayKafka, with a Kafka-protocol cluster (`basalt dev kafka`)
// as another child process.
func runOwnProcess(ctx context.Context, cfg Config, rep *Report, name, dir string, storageArgs []string,
	basaltSpec func(storageArgs, extra []string) ProcessSpec, scraper func(*Process) Scraper,
	runOne func(string, func(*Budget) ScenarioReport) error, corpus *TextCorpus, logf func(string, ...any)) error {
	logPath := filepath.Join(dir, "basalt-"+name+".log")
	setUp := func(p *Process) error { return setUpEvents(ctx, cfg, p.BaseURL, storageArgs, logf) }
	switch name {
	case ScenarioRelayKafka:
		kafka := ProcessSpec{Name: "kafka", Path: cfg.BasaltPath,
			Args:         func(addr string) []string { return []string{"dev", "kafka", "--addr", addr} },
			ReadyTimeout: 30 * time.Second}
		return withServer(ctx, kafka, filepath.Join(dir, "kafka.log"), logf, func(k *Process) error {
			return withServer(ctx, basaltSpec(storageArgs, []string{"--kafka=" + k.Addr}), logPath, logf, func(p *Process) error {
				if err := setUp(p); err != nil {
					return err
				}
				tr, err := CreateTargeter(p.BaseURL, cfg.Seed+4, 4096)
				if err != nil {
					return err
				}
				return runOne(name, func(share *Budget) ScenarioReport {
					rate, source := relayRate(cfg, rep.rate(ScenarioCreate))
					return runRelay(ctx, cfg, share, name, "Kafka (a `basalt dev kafka` cluster, another process)", rate, source, scraper(p), tr, logf)
				})
			})
		})
	case ScenarioSearchText, ScenarioSearchTextPG:
		return withServer(ctx, basaltSpec(storageArgs, nil), logPath, logf, func(p *Process) error {
			return runOne(name, func(share *Budget) ScenarioReport {
				return runSearchText(ctx, cfg, share, name, corpus, searchTextFixture{baseURL: p.BaseURL, basalt: cfg.BasaltPath, storageArgs: storageArgs}, logf)
			})
		})
	case ScenarioRealtimeIdle:
		// Basalt and the load generator each hold one descriptor per stream.
		limit, raised, err := raiseOpenFiles(uint64(cfg.Events.IdleStreams) + 1024)
		if err != nil {
			return err
		}
		if raised {
			logf("%-6s raised the open files limit to %d", name, limit)
		}
		return withServer(ctx, basaltSpec(storageArgs, nil), logPath, logf, func(p *Process) error {
			if err := setUp(p); err != nil {
				return err
			}
			return runOne(name, func(share *Budget) ScenarioReport {
				return runRealtimeIdle(ctx, cfg, share, p, scraper(p), limit, raised, logf)
			})
		})
	}
	return fmt.Errorf("load: %s does not run in a process of its own", name)
}

// setUpEvents prepares a fresh Basalt for a scenario of its own: the admin
// (`basalt admin create`), and Collection, open to everyone and empty.
func setUpEvents(ctx context.Context, cfg Config, baseURL string, storageArgs []string, logf func(string, ...any)) error {
	c := Client{BaseURL: baseURL, HTTP: &http.Client{Timeout: time.Minute}}
	defer c.HTTP.CloseIdleConnections()
	admin, err := NewAccount("admin")
	if err != nil {
		return err
	}
	if err := CreateAdmin(ctx, cfg.BasaltPath, storageArgs, admin); err != nil {
		return err
	}
	session, err := c.Login(ctx, admin)
	if err != nil {
		return err
	}
	spec, err := CollectionSpec(Collection, "")
	if err != nil {
		return err
	}
	if err := c.CreateCollection(ctx, session.Token, spec); err != nil {
		return err
	}
	logf("set-up: admin %s created and logged in, collection %s created", admin.Email, Collection)
	return nil
}

// rate is the highest sustained rate of scenario so far; 0 when it did not
// run or sustained none.
func (r *Report) rate(scenario string) int {
	for _, s := range r.Scenarios {
		if s.Name == scenario && s.Search.Best != nil {
			return s.Search.Best.Rate
		}
	}
	return 0
}

// getAuthSearch is the rate search of get-auth: when get sustained
// getRate in this run, it starts at the target fraction of getRate, so
// that the very rate the target asks for is tried (with its retries)
// rather than only approached by doubling. The note says so.
func getAuthSearch(cfg Config, getRate int) (SearchConfig, string) {
	sc := cfg.Search
	th := cfg.EffectiveThresholds()[ScenarioGetAuth]
	if getRate <= 0 || th <= 0 {
		return sc, ""
	}
	sc.StartRate = min(max(int(math.Ceil(th*float64(getRate))), sc.MinRate), sc.MaxRate)
	return sc, fmt.Sprintf("the search started at %s req/s (%s of get's rate), so that the target rate itself was tried",
		thousands(int64(sc.StartRate)), percent(th))
}

// accessTTLMargin is how much longer than the run an access token lives.
const accessTTLMargin = 5 * time.Minute

// AccessTTL is the access-token lifetime a run gives Basalt: the run's cap
// plus accessTTLMargin, in whole minutes, at least Basalt's default of 10
// minutes and at most its limit of 24 hours. The tokens of a run are then
// never refused for their age.
func AccessTTL(maxDuration time.Duration) time.Duration {
	ttl := (maxDuration + accessTTLMargin + time.Minute - 1).Truncate(time.Minute)
	return min(max(ttl, 10*time.Minute), 24*time.Hour)
}

// basaltRunArgs are the arguments a run adds to `basalt serve` (before
// cfg.BasaltArgs): a token lifetime longer than the run, and with the
// login storm, loosened login throttling (StormBasaltArgs).
func basaltRunArgs(cfg Config) []string {
	args := []string{"--auth-access-ttl=" + AccessTTL(cfg.MaxDuration).String()}
	if slices.Contains(cfg.Scenarios, ScenarioLoginStorm) {
		args = append(args, StormBasaltArgs()...)
	}
	if n := realtimeStreams(cfg); n > 0 {
		args = append(args, "--realtime-streams-per-ip="+strconv.Itoa(n+64))
	}
	// The load generator's one address stands for many clients, at rates
	// no one client sends: the API-wide rate limits would refuse it.
	return append(args, "--rate-limits=false")
}

// realtimeStreams is the most event streams a scenario of the run opens
// from the load generator's one address; 0 without realtime scenarios.
func realtimeStreams(cfg Config) int {
	n := 0
	if slices.Contains(cfg.Scenarios, ScenarioRealtimeLatency) {
		n = cfg.Events.RealtimeSubscribers
	}
	if slices.Contains(cfg.Scenarios, ScenarioRealtimeFanout) {
		n = max(n, cfg.Events.FanoutSubscribers)
	}
	if slices.Contains(cfg.Scenarios, ScenarioRealtimeIdle) {
		n = max(n, cfg.Events.IdleStreams)
	}
	return n
}

// runArgsWhy explains basaltRunArgs in the report.
func runArgsWhy(cfg Config) string {
	why := ": access tokens outlive the run, the API-wide rate limits are off (the load generator's one address stands for many clients)"
	if slices.Contains(cfg.Scenarios, ScenarioLoginStorm) {
		why += ", and login throttling is loosened so that every storm login is hashed"
	}
	if realtimeStreams(cfg) > 0 {
		why += ", and the load generator's one address may open every event stream the realtime scenarios need"
	}
	return why
}

// fixture is what the scenarios need from the set-up.
type fixture struct {
	// user is the bench user, session its login.
	user    Account
	session Session
	// ids are the documents of Collection, ownedIDs those of
	// OwnedCollection (only with get-auth), in creation order.
	ids, ownedIDs []string
}

// setUp prepares a fresh Basalt at baseURL for the scenarios: it creates
// the admin (`basalt admin create` on storageArgs) and logs in as admin;
// creates Collection, open to everyone, with owned OwnedCollection, whose
// rules let only a document's owner in, and with large LargeCollection,
// open like Collection; signs up and logs in the bench user; and seeds
// cfg.Docs identical documents into Collection and OwnedCollection and
// cfg.LargeDocs into LargeCollection (owner: the bench user), as admin
// through POST /v1/batch.
func setUp(ctx context.Context, cfg Config, baseURL string, storageArgs []string, owned, large bool, rep *Report, logf func(string, ...any)) (fixture, error) {
	var fx fixture
	tr := &http.Transport{MaxIdleConnsPerHost: cfg.SeedWorkers, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := Client{BaseURL: baseURL, HTTP: &http.Client{Transport: tr, Timeout: time.Minute}}

	admin, err := NewAccount("admin")
	if err != nil {
		return fx, err
	}
	if err := CreateAdmin(ctx, cfg.BasaltPath, storageArgs, admin); err != nil {
		return fx, err
	}
	adminSession, err := c.Login(ctx, admin)
	if err != nil {
		return fx, err
	}
	logf("set-up: admin %s created (basalt admin create) and logged in", admin.Email)

	type coll struct {
		name, rule string
		docs       int
	}
	collections := []coll{{Collection, "", cfg.Docs}}
	if owned {
		collections = append(collections, coll{OwnedCollection, OwnerRule, cfg.Docs})
	}
	if large {
		collections = append(collections, coll{LargeCollection, "", cfg.LargeDocs})
	}
	for _, col := range collections {
		spec, err := CollectionSpec(col.name, col.rule)
		if err != nil {
			return fx, err
		}
		if err := c.CreateCollection(ctx, adminSession.Token, spec); err != nil {
			return fx, err
		}
		logf("set-up: collection %s created, every rule %q", col.name, col.rule)
	}

	if fx.user, err = NewAccount("user"); err != nil {
		return fx, err
	}
	if err := c.SignUp(ctx, fx.user); err != nil {
		return fx, err
	}
	if fx.session, err = c.Login(ctx, fx.user); err != nil {
		return fx, err
	}
	logf("set-up: user %s (account %s) signed up and logged in; access token valid until %s",
		fx.user.Email, fx.session.AccountID, fx.session.Expires.UTC().Format(time.RFC3339))
	if end, ok := ctx.Deadline(); ok && owned && fx.session.Expires.Before(end) {
		return fx, fmt.Errorf("load: the bench user's access token expires at %s, before the run may end (%s): give Basalt an --auth-access-ttl of at least %s or lower -max-duration",
			fx.session.Expires.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), AccessTTL(cfg.MaxDuration))
	}

	for _, col := range collections {
		ids, err := seed(ctx, cfg, c, adminSession.Token, col.name, col.docs, fx.session.AccountID, rep, logf)
		if err != nil {
			return fx, err
		}
		switch col.name {
		case Collection:
			fx.ids = ids
		case OwnedCollection:
			fx.ownedIDs = ids
		}
	}
	return fx, nil
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

// seed fills collection with n documents drawn from cfg.Seed (so every
// collection gets the same first ones), each owned by owner.
func seed(ctx context.Context, cfg Config, c Client, token, collection string, n int, owner string, rep *Report, logf func(string, ...any)) ([]string, error) {
	start := time.Now()
	every := max(n/10, 1)
	next := every
	spec := SeedSpec{Collection: collection, Owner: owner, Docs: n, BatchSize: cfg.BatchSize, Workers: cfg.SeedWorkers, Seed: cfg.Seed}
	ids, err := c.Seed(ctx, token, spec, func(done int) {
		if done >= next {
			logf("seed: %s %d/%d documents (%.0f/s)", collection, done, n, float64(done)/time.Since(start).Seconds())
			next += every
		}
	})
	if err != nil {
		return nil, err
	}
	took := time.Since(start)
	rep.Notes = append(rep.Notes, fmt.Sprintf("seeded %s documents into %s in batches of %d (%d concurrent) in %s (%.0f documents/s)",
		thousands(int64(len(ids))), collection, cfg.BatchSize, cfg.SeedWorkers, took.Round(100*time.Millisecond), float64(len(ids))/took.Seconds()))
	return ids, nil
}
