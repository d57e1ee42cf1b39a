package load

import (
	"bytes"
	"context"
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/apilimit"
)

// lastFlag is the value of the last --name=value or bare --name / --no-name
// (for a boolean) in args: the one `basalt serve` goes by. ok is false when
// the flag is not there.
func lastFlag(args []string, name string) (value string, ok bool) {
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "--"+name+"="):
			value, ok = strings.TrimPrefix(a, "--"+name+"="), true
		case a == "--"+name:
			value, ok = "true", true
		case a == "--no-"+name:
			value, ok = "false", true
		}
	}
	return value, ok
}

func TestRateLimitVariantsArgs(t *testing.T) {
	const redisURL = "redis://127.0.0.1:40001/0"
	cfg := DefaultConfig()
	cfg.Scenarios = []string{ScenarioRateLimits}
	run := basaltRunArgs(cfg)
	vs := RateLimitVariants(redisURL)
	if names := []string{vs[0].Name, vs[1].Name, vs[2].Name}; !slices.Equal(names, []string{VariantLimitsOff, VariantLimitsMemory, VariantLimitsRedis}) || len(vs) != 3 {
		t.Fatalf("variants %v", names)
	}
	for _, v := range vs {
		args := serveArgs("127.0.0.1:1", []string{"--data-dir", "d"}, run, v.Args, nil)
		limits, _ := lastFlag(args, "rate-limits")
		cache, _ := lastFlag(args, "cache")
		redis, hasRedis := lastFlag(args, "redis")
		var specs []string
		for _, a := range args {
			if s, ok := strings.CutPrefix(a, "--rate-limit="); ok {
				specs = append(specs, s)
			}
		}
		// No variant caches reads: the cache would move to Redis with
		// --redis and be measured with the limiter.
		if cache != "false" {
			t.Errorf("%s: cache %q in %q", v.Name, cache, args)
		}
		switch v.Name {
		case VariantLimitsOff:
			if limits != "false" || hasRedis || len(specs) != 0 {
				t.Errorf("off: rate-limits %q, redis %v, specs %v", limits, hasRedis, specs)
			}
		default:
			// The run's own --rate-limits=false comes first; the variant's
			// later --rate-limits=true wins.
			if limits != "true" || !slices.Contains(args, "--rate-limits=false") {
				t.Errorf("%s: rate-limits %q in %q", v.Name, limits, args)
			}
			if !slices.Equal(specs, LimitSpecs()) {
				t.Errorf("%s: specs %v", v.Name, specs)
			}
			if wantRedis := v.Name == VariantLimitsRedis; hasRedis != wantRedis || (wantRedis && redis != redisURL) {
				t.Errorf("%s: redis %q (%v)", v.Name, redis, hasRedis)
			}
		}
	}
	// Every spec is one Basalt accepts, and none refuses the load
	// generator at any rate this machine reaches, for an address, an
	// anonymous caller or an account, on reads and writes.
	covered := map[string]bool{}
	for _, text := range LimitSpecs() {
		s, err := apilimit.ParseSpec(text)
		if err != nil {
			t.Fatalf("spec %q: %v", text, err)
		}
		if s.Collection != "" || s.Rule.Count < 1_000_000 || s.Rule.Per != time.Second || s.Rule.Burst < 1_000_000 {
			t.Errorf("spec %q = %+v: want a million per second, burst a million", text, s)
		}
		class, _, _ := strings.Cut(text, ":")
		_, kind, _ := strings.Cut(strings.SplitN(text, "=", 2)[0], ":")
		covered[class+":"+kind] = true
	}
	for _, class := range []string{"read", "write"} {
		for _, kind := range []string{"ip", "anonymous", "account"} {
			if !covered[class+":"+kind] {
				t.Errorf("no spec for %s:%s", class, kind)
			}
		}
	}
}

func TestCacheVariantsArgs(t *testing.T) {
	const redisURL = "redis://127.0.0.1:40002/0"
	cfg := DefaultConfig()
	cfg.Scenarios = []string{ScenarioCachePG}
	run := basaltRunArgs(cfg)
	want := map[string]struct {
		cache string
		redis bool
	}{VariantNoCache: {"false", false}, VariantCache: {"true", false}, VariantCacheRedis: {"true", true}}
	vs := CacheVariants(redisURL)
	if len(vs) != 3 || vs[0].Name != VariantNoCache {
		t.Fatalf("variants %+v: want %s first (the baseline)", vs, VariantNoCache)
	}
	for _, v := range vs {
		w, ok := want[v.Name]
		if !ok {
			t.Fatalf("unexpected variant %q", v.Name)
		}
		args := serveArgs("127.0.0.1:1", []string{"--data-dir", "d", "--db", "postgres://x/y"}, run, v.Args, []string{"--log-level=warn"})
		cache, _ := lastFlag(args, "cache")
		redis, hasRedis := lastFlag(args, "redis")
		limits, _ := lastFlag(args, "rate-limits")
		if cache != w.cache || hasRedis != w.redis || (w.redis && redis != redisURL) || limits != "false" {
			t.Errorf("%s: cache %q, redis %q (%v), rate-limits %q in %q", v.Name, cache, redis, hasRedis, limits, args)
		}
		if args[0] != "serve" || args[len(args)-1] != "--log-level=warn" {
			t.Errorf("%s: -basalt-arg must come last: %q", v.Name, args)
		}
	}
	if got := compareRequests(ScenarioCachePG); !slices.Equal(got, []string{CompareGet, CompareList}) {
		t.Errorf("cache-pg requests %v", got)
	}
	if got := compareRequests(ScenarioRateLimits); !slices.Equal(got, []string{CompareGet}) {
		t.Errorf("rate-limits requests %v", got)
	}
	if compareEngine(ScenarioCachePG, DBSQLite) != DBPostgres || compareEngine(ScenarioRateLimits, DBSQLite) != DBSQLite ||
		compareEngine(ScenarioRateLimits, DBPostgres) != DBPostgres {
		t.Error("engines")
	}
}

func TestRedisServerArgs(t *testing.T) {
	args, err := RedisServerArgs("127.0.0.1:40003", "/tmp/r")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--port", "40003", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", "/tmp/r", "--daemonize", "no", "--protected-mode", "yes"}
	if !slices.Equal(args, want) {
		t.Errorf("args %q, want %q", args, want)
	}
	if _, err := RedisServerArgs("no-port", "/tmp/r"); err == nil {
		t.Error("an address without a port: no error")
	}
}

func TestCompareFlagsAndValidate(t *testing.T) {
	cfg := DefaultConfig()
	if !slices.Contains(DefaultScenarios(), ScenarioRateLimits) || !slices.Contains(DefaultScenarios(), ScenarioCachePG) ||
		!slices.Contains(DefaultScenarios(), ScenarioTransports) {
		t.Errorf("default scenarios %v", DefaultScenarios())
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if fs.Lookup("min-ratio-"+ScenarioRateLimits) != nil || fs.Lookup("min-ratio-"+ScenarioCachePG) != nil {
		t.Error("comparison scenarios have no ratio to hello")
	}
	if err := fs.Parse([]string{"-compare-docs", "500", "-redis-server", "/x/redis-server", "-compare-rounds", "4", "-compare-workers", "8", "-limits-rate", "900",
		"-max-p50-redis-limiter", "250us", "-min-ratio-cache-get", "2", "-min-ratio-connect-get", "0.8", "-min-ratio-graphql-list", "0.7", "-min-ratio-tracing-get", "0.9"}); err != nil {
		t.Fatal(err)
	}
	want := CompareConfig{Docs: 500, RedisServer: "/x/redis-server", Rounds: 4, Workers: 8, Rate: 900, MaxRedisP50: 250 * time.Microsecond, MinCacheGetRatio: 2,
		MinConnectRatio: 0.8, MinGraphQLListRatio: 0.7, MinTracingRatio: 0.9}
	if cfg.Compare != want {
		t.Errorf("flags: %+v, want %+v", cfg.Compare, want)
	}
	cfg.Scenarios = []string{ScenarioRateLimits}
	cfg.BasaltPath = "basalt"
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid: %v", err)
	}
	cfg.Compare.Rounds = 0
	if err := cfg.Validate(); err == nil {
		t.Error("no rounds: no error")
	}
	cfg.Compare = DefaultCompareConfig()
	cfg.Scenarios, cfg.PGURL = []string{ScenarioCachePG}, "mysql://x"
	if err := cfg.Validate(); err == nil {
		t.Error("cache-pg without a PostgreSQL URL: no error")
	}
	cc := DefaultCompareConfig()
	if d := cc.reserve([]string{ScenarioGet}, 3*time.Second); d != 0 {
		t.Errorf("reserve without comparisons %s", d)
	}
	// Three variants of 10 s + 10 s each; three searches, plus 6 rounds of
	// three 4 s steps at full speed and three at the fixed rate; six
	// searches for cache-pg, and 6 rounds of three steps of get and three
	// of list at full speed.
	if d := cc.reserve([]string{ScenarioRateLimits}, 3*time.Second); d != 60*time.Second+135*time.Second+144*time.Second {
		t.Errorf("rate-limits reserve %s", d)
	}
	if d := cc.reserve([]string{ScenarioCachePG}, 3*time.Second); d != 60*time.Second+270*time.Second+144*time.Second {
		t.Errorf("cache-pg reserve %s", d)
	}
}

func compareStep(rate int, p50 time.Duration) StepResult {
	return StepResult{Rate: rate, Requests: uint64(3 * rate), Throughput: float64(rate), P50: p50, P99: 4 * p50}
}

func TestCompareEvaluate(t *testing.T) {
	c := DefaultCriteria()
	limits := func(redisAdded time.Duration) *CompareReport {
		r := &CompareReport{Engine: DBSQLite, Docs: 100, Variants: RateLimitVariants("redis://x/0"), MaxRedisP50: 300 * time.Microsecond}
		for i, rate := range []int{1000, 900, 800} {
			r.Lines = append(r.Lines, CompareLine{Request: CompareGet, Variant: r.Variants[i].Name,
				Search: SearchResult{Best: &StepResult{Rate: rate, P50: time.Millisecond}}})
		}
		r.Fixed = &FixedRateReport{Rate: 400, Step: time.Second}
		for k := range 3 {
			base := time.Duration(1+k) * time.Millisecond
			r.Fixed.Rounds = append(r.Fixed.Rounds, []StepResult{compareStep(400, base), compareStep(400, base+50*time.Microsecond), compareStep(400, base+redisAdded)})
		}
		return r
	}
	r := limits(200 * time.Microsecond)
	if v, notes := r.evaluate(c); v != VerdictPass {
		t.Errorf("redis adds 0.2 ms: %s %v", v, notes)
	}
	if r.Lines[1].Ratio != 0.9 || r.Lines[2].Ratio != 0.8 || r.Lines[0].Ratio != 1 {
		t.Errorf("ratios %v %v %v", r.Lines[0].Ratio, r.Lines[1].Ratio, r.Lines[2].Ratio)
	}
	if r.Fixed.AddedP50[1] != 50*time.Microsecond || r.Fixed.AddedP50[2] != 200*time.Microsecond || r.Fixed.P50[0] != 2*time.Millisecond {
		t.Errorf("added %v, p50 %v", r.Fixed.AddedP50, r.Fixed.P50)
	}
	md := r.markdown(ScenarioRateLimits, VerdictPass)
	for _, want := range []string{"| get | redis | 800 |", "80 %", "redis **+0.20 ms**", "target for redis ≤ 0.30 ms", "memory 0.90×", "--rate-limit=…×6"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if v, _ := limits(400 * time.Microsecond).evaluate(c); v != VerdictFail {
		t.Errorf("redis adds 0.4 ms: %s", v)
	}
	noTarget := limits(400 * time.Microsecond)
	noTarget.MaxRedisP50 = 0
	if v, _ := noTarget.evaluate(c); v != VerdictPass {
		t.Errorf("no target: %s", v)
	}
	starved := limits(0)
	starved.Fixed.Rounds[1][2].Throughput = 100
	if v, notes := starved.evaluate(c); v != VerdictFail || len(notes) == 0 {
		t.Errorf("a fixed step not served: %s %v", v, notes)
	}
	none := limits(0)
	none.Lines[2].Search.Best = nil
	if v, _ := none.evaluate(c); v != VerdictFail {
		t.Errorf("a line without a rate: %s", v)
	}

	full := func(throughputs ...float64) []StepResult {
		steps := make([]StepResult, len(throughputs))
		for i, tp := range throughputs {
			steps[i] = StepResult{Requests: uint64(3 * tp), Throughput: tp}
		}
		return steps
	}
	withFull := limits(0)
	withFull.Full = []FullSpeedReport{{Request: CompareGet, Step: time.Second, Workers: 64,
		Rounds: [][]StepResult{full(1000, 950, 500), full(800, 900, 420), full(1000, 880, 450)}}}
	if v, notes := withFull.evaluate(c); v != VerdictPass {
		t.Errorf("with full-speed rounds: %s %v", v, notes)
	}
	if got := withFull.Full[0].Ratio; got[0] != 1 || got[1] != 0.95 || got[2] != 0.5 {
		t.Errorf("full-speed ratios %v: want the medians 1, 0.95, 0.5", got)
	}
	if md := withFull.markdown(ScenarioRateLimits, VerdictPass); !strings.Contains(md, "redis **0.50×** (rounds: 0.50, 0.53, 0.45)") {
		t.Errorf("markdown lacks the full-speed line:\n%s", md)
	}
	withFull.Full[0].Rounds[2][1].Errors = 100
	if v, _ := withFull.evaluate(c); v != VerdictFail {
		t.Errorf("failing requests at full speed: %s", v)
	}

	cache := func(cachedGet int) *CompareReport {
		r := &CompareReport{Engine: DBPostgres, Docs: 100, Variants: CacheVariants("redis://x/0"), MinCacheGetRatio: 1.5}
		for _, req := range []string{CompareGet, CompareList} {
			for i, rate := range []int{1000, cachedGet, cachedGet} {
				r.Lines = append(r.Lines, CompareLine{Request: req, Variant: r.Variants[i].Name, Search: SearchResult{Best: &StepResult{Rate: rate}}})
			}
		}
		return r
	}
	r = cache(1600)
	if v, notes := r.evaluate(c); v != VerdictPass {
		t.Errorf("cached get 1.6×: %s %v", v, notes)
	}
	md = r.markdown(ScenarioCachePG, VerdictPass)
	for _, want := range []string{"cache-pg get, highest sustained rate over no-cache's (the searches, minutes apart): cache 1.60×, cache-redis 1.60×.",
		"judged on the searches (no full-speed rounds): cached get 1.60× of uncached (target ≥ 1.50×)", "| list | cache | 1,600 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if v, _ := cache(1400).evaluate(c); v != VerdictFail {
		t.Errorf("cached get 1.4×: %s", v)
	}
	// The full-speed rounds, when they ran, judge instead of the searches.
	r = cache(1600)
	r.Full = []FullSpeedReport{{Request: CompareGet, Rounds: [][]StepResult{full(1000, 1400, 1300), full(1000, 1450, 1300), full(1000, 1300, 1300)}}}
	if v, _ := r.evaluate(c); v != VerdictFail || r.cacheGetRatio() != 1.4 {
		t.Errorf("searches 1.6×, full speed 1.4×: %s (%v)", v, r.cacheGetRatio())
	}
	r = cache(1400)
	r.Full = []FullSpeedReport{{Request: CompareGet, Rounds: [][]StepResult{full(1000, 1600, 1300), full(1000, 1500, 1300), full(1000, 1700, 1300)}}}
	if v, _ := r.evaluate(c); v != VerdictPass {
		t.Errorf("searches 1.4×, full speed 1.6×: %s", v)
	}
}

// TestRunCompare runs both comparison scenarios against the fake Basalt
// (which accepts the variants' flags) with a real throwaway redis-server,
// cache-pg on PostgreSQL.
func TestRunCompare(t *testing.T) {
	cfg := testConfig(t)
	var log bytes.Buffer
	cfg.Log = &log
	cfg.Scenarios = []string{ScenarioCachePG, ScenarioRateLimits}
	cfg.PGURL = testPGURL()
	cfg.Compare.Docs, cfg.Compare.Rounds, cfg.Compare.Workers = 40, 2, 4
	cfg.Compare.MaxRedisP50, cfg.Compare.MinCacheGetRatio = 0, 0 // the fake has no limiter and no cache
	// A fixed-rate step of 200 ms is 8 requests: on a busy machine one
	// late answer takes its throughput under 95 % of the rate. The point
	// here is the plumbing, not the numbers.
	cfg.Search.Criteria.MinThroughputRatio = 0.5
	rep, err := Run(context.Background(), cfg, Environment{})
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	if len(rep.Scenarios) != 2 || rep.Scenarios[0].Name != ScenarioRateLimits || rep.Scenarios[1].Name != ScenarioCachePG {
		t.Fatalf("scenarios %+v", rep.Scenarios)
	}
	for _, s := range rep.Scenarios {
		cr := s.Compare
		if s.Err != "" || cr == nil || s.Verdict != VerdictPass {
			t.Fatalf("%s: verdict %s, error %q, notes %v\nlog:\n%s", s.Name, s.Verdict, s.Err, s.Notes, log.String())
		}
		if cr.Engine != compareEngine(s.Name, DBSQLite) || cr.Docs != 40 || len(cr.Variants) != 3 ||
			len(cr.Lines) != 3*len(compareRequests(s.Name)) {
			t.Errorf("%s: engine %s, docs %d, %d variants, %d lines", s.Name, cr.Engine, cr.Docs, len(cr.Variants), len(cr.Lines))
		}
		for _, v := range cr.Variants {
			if redis, ok := lastFlag(v.Args, "redis"); ok && !strings.HasPrefix(redis, "redis://127.0.0.1:") {
				t.Errorf("%s %s: redis %q", s.Name, v.Name, redis)
			}
		}
		if (s.Name == ScenarioRateLimits) != (cr.Fixed != nil) || (cr.Fixed != nil && len(cr.Fixed.Rounds) != 2) {
			t.Errorf("%s: fixed %+v", s.Name, cr.Fixed)
		}
		if len(cr.Full) != len(compareRequests(s.Name)) {
			t.Fatalf("%s: %d full-speed comparisons", s.Name, len(cr.Full))
		}
		for _, f := range cr.Full {
			if len(f.Rounds) != 2 || len(f.Ratio) != 3 || f.Ratio[0] != 1 || f.Workers != cfg.Compare.Workers {
				t.Errorf("%s %s at full speed: %d rounds, ratios %v, %d workers", s.Name, f.Request, len(f.Rounds), f.Ratio, f.Workers)
			}
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rate-limits (sqlite, 40 documents", "cache-pg (postgres, 40 documents", "rate-limits: PASS.", "cache-pg: PASS."} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}
