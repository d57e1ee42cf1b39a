package load

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultConfig is the configuration of `make bench`: 100,000 documents,
// 3 s steps and a 36 minute cap.
func DefaultConfig() Config {
	return Config{
		Scenarios:   DefaultScenarios(),
		Docs:        100_000,
		LargeDocs:   1_000_000,
		BatchSize:   100,
		SeedWorkers: 4,
		Seed:        1,
		Step:        3 * time.Second,
		Warmup:      time.Second,
		Settle:      250 * time.Millisecond,
		MaxDuration: 36 * time.Minute, // room for every scenario on PostgreSQL, paired comparison included, the change-event scenarios (EventsConfig.reserve), the search scenarios (SearchTextConfig.reserve: about 7 minutes at 100,000 documents) and the comparison scenarios (CompareConfig.reserve: about 13.5 minutes)
		MaxRequests: 12_000_000,       // enough for the hello reference to finish its search at ~50k req/s, and get-auth its paired comparison
		Search: SearchConfig{
			StartRate:  200,
			MaxRate:    100_000,
			MinRate:    10,
			Bisections: 4,
			Precision:  0.05,
			Retries:    1,
			Criteria:   DefaultCriteria(),
		},
		Attack:     DefaultAttackConfig(),
		Storm:      DefaultStormConfig(),
		Paired:     DefaultPairedConfig(),
		Events:     DefaultEventsConfig(),
		Vectors:    DefaultVectorsConfig(),
		SearchText: DefaultSearchTextConfig(),
		Compare:    DefaultCompareConfig(),
		DB:         DBSQLite,
		PGURL:      DefaultPGURL,
		PGBench:    DefaultPGBenchConfig(),
	}
}

// RegisterFlags binds c's fields to flags of fs, with c's current values as
// defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.BasaltPath, "basalt", c.BasaltPath, "path of the basalt binary; empty runs the hello reference only")
	fs.Func("basalt-arg", "extra argument for `basalt serve` (repeatable)", func(s string) error {
		c.BasaltArgs = append(c.BasaltArgs, s)
		return nil
	})
	fs.StringVar(&c.DB, "db", c.DB, "engine Basalt runs on: "+DBSQLite+" (a fresh data directory) or "+DBPostgres+" (a fresh database created through -pg-url, dropped at the end)")
	fs.StringVar(&c.PGURL, "pg-url", c.PGURL, "with -db "+DBPostgres+": URL of an existing PostgreSQL database used to create and drop the bench's databases")
	fs.StringVar(&c.PGBench.Path, "pgbench", c.PGBench.Path, "with -db "+DBPostgres+": pgbench binary for the database's own ceiling (default: from PATH or /usr/lib/postgresql/*/bin; "+PGBenchOff+" skips it)")
	fs.Func("scenarios", "comma-separated scenarios (default "+strings.Join(c.Scenarios, ",")+")", func(s string) error {
		c.Scenarios = nil
		for _, name := range strings.Split(s, ",") {
			if name = strings.TrimSpace(name); name != "" {
				c.Scenarios = append(c.Scenarios, name)
			}
		}
		return nil
	})
	fs.StringVar(&c.WorkDir, "workdir", c.WorkDir, "directory for Basalt's data and the server logs (default: a new temporary one)")
	fs.BoolVar(&c.KeepWorkDir, "keep", c.KeepWorkDir, "keep the temporary work directory")

	fs.IntVar(&c.Docs, "docs", c.Docs, "documents to seed before the read scenarios")
	fs.IntVar(&c.LargeDocs, "large-docs", c.LargeDocs, "documents to seed into "+LargeCollection+" for "+ScenarioListTotal1M)
	fs.IntVar(&c.BatchSize, "batch", c.BatchSize, "operations per seeding batch (≤ 100)")
	fs.IntVar(&c.SeedWorkers, "seed-workers", c.SeedWorkers, "concurrent seeding batches")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed of the generated documents")

	fs.DurationVar(&c.Step, "step", c.Step, "duration of each constant-rate step")
	fs.DurationVar(&c.Warmup, "warmup", c.Warmup, "discarded warm-up at the start rate before each search (0 disables)")
	fs.DurationVar(&c.Settle, "settle", c.Settle, "pause before each step")
	fs.DurationVar(&c.MaxDuration, "max-duration", c.MaxDuration, "hard cap on the whole run")
	fs.Int64Var(&c.MaxRequests, "max-requests", c.MaxRequests, "cap on the requests of all steps")

	fs.IntVar(&c.Search.StartRate, "start-rate", c.Search.StartRate, "first rate of each search (req/s)")
	fs.IntVar(&c.Search.MaxRate, "max-rate", c.Search.MaxRate, "highest rate ever offered (req/s)")
	fs.IntVar(&c.Search.MinRate, "min-rate", c.Search.MinRate, "lowest rate tried when the start rate fails (req/s)")
	fs.IntVar(&c.Search.Bisections, "bisect", c.Search.Bisections, "most bisection steps after bracketing")
	fs.IntVar(&c.Search.Retries, "retries", c.Search.Retries, "times a failing step is run again before its rate counts as failing")
	fs.Float64Var(&c.Search.Precision, "precision", c.Search.Precision, "stop bisecting when the bracket is narrower than this fraction")
	fs.Float64Var(&c.Search.Criteria.MinThroughputRatio, "min-throughput", c.Search.Criteria.MinThroughputRatio, "a step passes when throughput ≥ this fraction of the offered rate")
	fs.Float64Var(&c.Search.Criteria.MaxErrorRatio, "max-errors", c.Search.Criteria.MaxErrorRatio, "a step passes when the error fraction is below this")
	fs.DurationVar(&c.Search.Criteria.MaxP99, "max-p99", c.Search.Criteria.MaxP99, "a step passes when p99 latency is below this")

	fs.Uint64Var(&c.Attack.Workers, "workers", c.Attack.Workers, "initial vegeta workers per step")
	fs.Uint64Var(&c.Attack.MaxWorkers, "max-workers", c.Attack.MaxWorkers, "most vegeta workers (and connections) per step")
	fs.DurationVar(&c.Attack.Timeout, "timeout", c.Attack.Timeout, "per-request timeout")

	fs.IntVar(&c.Paired.Rounds, "paired-rounds", c.Paired.Rounds, "get-auth: rounds of get and get-auth at full speed, back to back, whose median throughput ratio decides get-auth's verdict (0: judge on the rate searches instead)")
	fs.DurationVar(&c.Paired.Step, "paired-step", c.Paired.Step, "get-auth: duration of each full-speed phase of the paired comparison")
	fs.Uint64Var(&c.Paired.Workers, "paired-workers", c.Paired.Workers, "get-auth: clients of each full-speed phase (each with one request in flight)")

	fs.IntVar(&c.Storm.GetRate, "storm-get-rate", c.Storm.GetRate, "login-storm: GET-by-id rate of both phases (req/s); 0 means half of get's highest sustained rate in the same run")
	fs.IntVar(&c.Storm.LoginRate, "storm-rate", c.Storm.LoginRate, "login-storm: wrong-password logins per second during the storm phases (each is a full password hash)")
	fs.DurationVar(&c.Storm.Step, "storm-step", c.Storm.Step, "login-storm: duration of each phase (without, then with the storm)")
	fs.IntVar(&c.Storm.Rounds, "storm-rounds", c.Storm.Rounds, "login-storm: rounds of a phase without and a phase with the storm; the verdict is on the median of the rounds' p99 ratios")
	fs.Float64Var(&c.Storm.MaxP99Ratio, "max-ratio-login-storm", c.Storm.MaxP99Ratio, "login-storm: largest median, over the rounds, of the GET p99 with the storm as a multiple of the p99 without, for PASS (0 disables)")

	ev := &c.Events
	fs.IntVar(&ev.RelayRate, "relay-rate", ev.RelayRate, fmt.Sprintf("relay, relay-kafka: create rate (req/s); 0 means create's highest sustained rate in the same run, or %d without one", DefaultRelayRate))
	fs.DurationVar(&ev.RelayDuration, "relay-duration", ev.RelayDuration, "relay, relay-kafka: how long the creates run")
	fs.DurationVar(&ev.RelayMaxLag, "relay-max-lag", ev.RelayMaxLag, "relay, relay-kafka: the most the relay may fall behind during the load, as time of writes (lag ≤ rate × this)")
	fs.DurationVar(&ev.RelayDrain, "relay-drain", ev.RelayDrain, "relay, relay-kafka: how long the relay has to catch up after the creates stop")
	fs.IntVar(&ev.RelaySettledLag, "relay-settled-lag", ev.RelaySettledLag, "relay, relay-kafka: the most events the relay may still be behind by once caught up")
	fs.IntVar(&ev.RealtimeRate, "realtime-rate", ev.RealtimeRate, "realtime-latency: PATCH rate (req/s), spread evenly over the subscribers' documents, while the latency is measured")
	fs.IntVar(&ev.RealtimeSubscribers, "realtime-subscribers", ev.RealtimeSubscribers, "realtime-latency: documents created, each with an event stream of its own")
	fs.DurationVar(&ev.RealtimeDuration, "realtime-duration", ev.RealtimeDuration, "realtime-latency: how long the PATCHes run")
	fs.DurationVar(&ev.RealtimeDrain, "realtime-drain", ev.RealtimeDrain, "realtime-latency: how long the streams have to receive every event after the PATCHes stop")
	fs.DurationVar(&ev.RealtimeMaxP99, "max-p99-realtime", ev.RealtimeMaxP99, "realtime-latency: the most the commit-to-subscriber p99 may be for PASS (0 disables)")
	fs.IntVar(&ev.FanoutRate, "fanout-rate", ev.FanoutRate, "realtime-fanout: create rate (req/s), each create delivered to every subscriber")
	fs.IntVar(&ev.FanoutSubscribers, "fanout-subscribers", ev.FanoutSubscribers, "realtime-fanout: event streams on the collection")
	fs.DurationVar(&ev.FanoutDuration, "fanout-duration", ev.FanoutDuration, "realtime-fanout: how long the creates run")
	fs.DurationVar(&ev.FanoutDrain, "fanout-drain", ev.FanoutDrain, "realtime-fanout: how long the streams have to receive every event after the creates stop")
	fs.DurationVar(&ev.FanoutMaxP99, "max-p99-fanout", ev.FanoutMaxP99, "realtime-fanout: the most the commit-to-subscriber p99 may be for PASS (0: reported without a target)")
	fs.IntVar(&ev.IdleStreams, "idle-streams", ev.IdleStreams, "realtime-idle: idle event streams to open")
	fs.IntVar(&ev.IdleMinStreams, "min-idle-streams", ev.IdleMinStreams, "realtime-idle: the fewest streams Basalt must hold for PASS (0 disables)")

	vc := &c.Vectors
	fs.IntVar(&vc.N, "vectors-n", vc.N, "vectors: vectors per data set")
	fs.IntVar(&vc.Dim, "vectors-dim", vc.Dim, "vectors: dimensions")
	fs.IntVar(&vc.Queries, "vectors-queries", vc.Queries, "vectors: queries per data set (and beam width)")
	fs.IntVar(&vc.K, "vectors-k", vc.K, "vectors: the k of recall@k")
	fs.IntVar(&vc.M, "vectors-m", vc.M, "vectors: HNSW links per node (0: the index's default)")
	fs.IntVar(&vc.EfConstruction, "vectors-ef-construction", vc.EfConstruction, "vectors: HNSW beam width while building (0: the index's default)")
	fs.Float64Var(&vc.MinRecall, "min-recall-vectors", vc.MinRecall, "vectors: the recall@k HNSW must reach at some beam width for PASS; its queries per second are reported at the first that does")
	fs.Func("vectors-sets", "vectors: comma-separated data sets (uniform, clustered)", func(s string) error {
		vc.Sets = nil
		for _, name := range strings.Split(s, ",") {
			if name = strings.TrimSpace(name); name != "" {
				vc.Sets = append(vc.Sets, name)
			}
		}
		return nil
	})

	st := &c.SearchText
	fs.IntVar(&st.Docs, "search-docs", st.Docs, "search-text, search-text-pg: documents seeded into "+TextCollection)
	fs.IntVar(&st.Queries, "search-queries", st.Queries, "search-text, search-text-pg: queries drawn for each query class")
	fs.DurationVar(&st.MaxP99, "max-p99-search", st.MaxP99, "search-text, search-text-pg: a step of their list and search lines passes when p99 latency is below this")
	fs.DurationVar(&st.MaxP99Typo, "max-p99-typo", st.MaxP99Typo, "search-text, search-text-pg: a step of their typo line (misspelled words, the typo fallback) passes when p99 latency is below this")
	fs.IntVar(&st.MinRate, "search-min-rate", st.MinRate, "search-text, search-text-pg: lowest rate a line's search tries (req/s)")
	fs.IntVar(&st.Bisections, "search-bisect", st.Bisections, "search-text, search-text-pg: most bisection steps of each line (and at most -bisect)")
	fs.IntVar(&st.Checks, "search-checks", st.Checks, "search-text, search-text-pg: queries of each class run one at a time, checked and timed, before the load")
	fs.StringVar(&st.GOROOT, "search-goroot", st.GOROOT, "search-text, search-text-pg: Go tree whose documentation is the documents' text (default: go env GOROOT)")

	cc := &c.Compare
	fs.IntVar(&cc.Docs, "compare-docs", cc.Docs, "rate-limits, cache-pg, transports: documents seeded into each variant's Basalt (transports: into its one Basalt)")
	fs.StringVar(&cc.RedisServer, "redis-server", cc.RedisServer, "rate-limits, cache-pg: the redis-server binary started for each of them (a throwaway server on a free port)")
	fs.IntVar(&cc.Rounds, "compare-rounds", cc.Rounds, "rate-limits, cache-pg, transports: rounds of one step per variant at full speed (each request) and, for rate-limits, at a fixed rate, in rotating order; the medians of the rounds' throughput ratios and p50 differences are reported")
	fs.Uint64Var(&cc.Workers, "compare-workers", cc.Workers, "rate-limits, cache-pg, transports: clients of each full-speed step (each with one request in flight)")
	fs.IntVar(&cc.Rate, "limits-rate", cc.Rate, "rate-limits: the fixed rate of the rounds (req/s); 0 means half of the slowest variant's highest sustained rate in the same run")
	fs.DurationVar(&cc.MaxRedisP50, "max-p50-redis-limiter", cc.MaxRedisP50, "rate-limits: the most the Redis limiter may add to a get's p50 at the fixed rate (median of the rounds) for PASS (0 disables)")
	fs.Float64Var(&cc.MinConnectRatio, "min-ratio-connect-get", cc.MinConnectRatio, "transports: least full-speed throughput of a get over Connect (HTTP/2) as a fraction of the same get over REST (HTTP/2) for PASS (0 disables)")
	fs.Float64Var(&cc.MinGraphQLListRatio, "min-ratio-graphql-list", cc.MinGraphQLListRatio, "graphql: least full-speed throughput of a list through GraphQL as a fraction of the same list through REST for PASS (0 disables)")
	fs.Float64Var(&cc.MinTracingRatio, "min-ratio-tracing-get", cc.MinTracingRatio, "tracing: least full-speed throughput of a get with tracing on at 1 % as a fraction of the same get with tracing off for PASS (0 disables)")
	fs.Float64Var(&cc.MinCacheGetRatio, "min-ratio-cache-get", cc.MinCacheGetRatio, "cache-pg: least highest sustained rate of a cached get as a multiple of an uncached get's for PASS (0 disables)")

	if c.Thresholds == nil {
		c.Thresholds = map[string]float64{}
	}
	sqlite, postgres := DefaultThresholdsFor(DBSQLite), DefaultThresholdsFor(DBPostgres)
	for _, name := range AllScenarios() {
		if name == ScenarioHello || name == ScenarioLoginStorm || name == ScenarioVectors || slices.Contains(EventScenarios(), name) ||
			slices.Contains(SearchTextScenarios(), name) || slices.Contains(CompareScenarios(), name) {
			continue
		}
		base := BaselineOf(name)
		if base == "" {
			base = ScenarioHello
		}
		fs.Func("min-ratio-"+name, fmt.Sprintf("least max rate of %s relative to %s for PASS (default %g with -db %s, %g with -db %s; 0 disables)",
			name, base, sqlite[name], DBSQLite, postgres[name], DBPostgres),
			func(s string) error {
				var v float64
				if _, err := fmt.Sscan(s, &v); err != nil {
					return fmt.Errorf("min-ratio-%s: %w", name, err)
				}
				c.Thresholds[name] = v
				return nil
			})
	}
}
