package load

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The comparison scenarios: the same requests against Basalt in several
// configurations (variants), each a process of its own with its own
// storage and the same seeded documents, all running side by side and
// measured one after another in the same run, with a throwaway
// redis-server of the scenario's own.
const (
	// ScenarioRateLimits measures what the API-wide rate limits cost a
	// get by id: limits off, counted in process, counted in Redis. It
	// runs on -db.
	ScenarioRateLimits = "rate-limits"
	// ScenarioCachePG measures the read cache on PostgreSQL, whatever
	// -db: get by id and list without the cache, with the cache in
	// process, with the cache on Redis.
	ScenarioCachePG = "cache-pg"
)

// CompareScenarios are the comparison scenarios.
func CompareScenarios() []string {
	return []string{ScenarioRateLimits, ScenarioCachePG, ScenarioTransports, ScenarioSplit, ScenarioGraphQL, ScenarioTracing}
}

// compareEngine is the engine a comparison scenario runs on when the run's
// is db.
func compareEngine(scenario, db string) string {
	if scenario == ScenarioCachePG || scenario == ScenarioSplit {
		return DBPostgres
	}
	return db
}

// The variants of the comparison scenarios; the first of each scenario is
// the one the others are compared with.
const (
	VariantLimitsOff    = "off"
	VariantLimitsMemory = "memory"
	VariantLimitsRedis  = "redis"
	VariantNoCache      = "no-cache"
	VariantCache        = "cache"
	VariantCacheRedis   = "cache-redis"
)

// The requests of the comparison scenarios' lines.
const (
	CompareGet  = "get"
	CompareList = "list"
	// CompareRelation is a page of documents with a reference, and that
	// reference's own, expanded (ScenarioGraphQL).
	CompareRelation = "relation"
)

// Variant is one configuration of Basalt in a comparison scenario.
type Variant struct {
	Name string `json:"name"`
	// Args are added to `basalt serve` after the run's own arguments (and
	// before -basalt-arg).
	Args []string `json:"args"`
	// About says what the variant is, for the report.
	About string `json:"about"`
}

// LimitSpecs are the --rate-limit specs of the variants with rate limits:
// the read and write classes' limits per address, per anonymous caller and
// per account at a million requests per second with a burst of a million.
// The load generator's one address stands for many clients, so the limits
// must never refuse it; every request still pays for its two decisions
// (the address's and the caller's).
func LimitSpecs() []string {
	var specs []string
	for _, class := range []string{"read", "write"} {
		for _, kind := range []string{"ip", "anonymous", "account"} {
			specs = append(specs, class+":"+kind+"=1000000/1s:1000000")
		}
	}
	return specs
}

// RateLimitVariants are the variants of ScenarioRateLimits; redisURL is
// the scenario's Redis. None caches reads (with --redis the cache would
// move to Redis too, and be measured with the limiter).
func RateLimitVariants(redisURL string) []Variant {
	limited := []string{"--rate-limits=true"}
	for _, s := range LimitSpecs() {
		limited = append(limited, "--rate-limit="+s)
	}
	return []Variant{
		{VariantLimitsOff, []string{"--rate-limits=false", "--no-cache"}, "no rate limits"},
		{VariantLimitsMemory, append(slices.Clone(limited), "--no-cache"), "rate limits counted in process"},
		{VariantLimitsRedis, append(slices.Clone(limited), "--no-cache", "--redis="+redisURL), "rate limits counted in Redis"},
	}
}

// CacheVariants are the variants of ScenarioCachePG; redisURL is the
// scenario's Redis. The rate limits stay off (the run's own arguments).
func CacheVariants(redisURL string) []Variant {
	return []Variant{
		{VariantNoCache, []string{"--no-cache"}, "no read cache: every read goes to PostgreSQL"},
		{VariantCache, []string{"--cache"}, "read cache in process (the default)"},
		{VariantCacheRedis, []string{"--cache", "--redis=" + redisURL}, "read cache on Redis, with each process's own copy for --cache-local-ttl"},
	}
}

// compareVariants are scenario's variants; redisURL is the scenario's
// Redis, otlpURL its OpenTelemetry collector.
func compareVariants(scenario, redisURL, otlpURL string) []Variant {
	switch scenario {
	case ScenarioTracing:
		return TracingVariants(otlpURL)
	case ScenarioCachePG:
		return CacheVariants(redisURL)
	case ScenarioTransports:
		return TransportVariants()
	case ScenarioSplit:
		return SplitVariants()
	case ScenarioGraphQL:
		return GraphQLVariants()
	}
	return RateLimitVariants(redisURL)
}

// compareRequests are the requests scenario measures on every variant.
func compareRequests(scenario string) []string {
	switch scenario {
	case ScenarioCachePG:
		return []string{CompareGet, CompareList}
	case ScenarioGraphQL:
		return []string{CompareList, CompareRelation}
	}
	return []string{CompareGet}
}

// RedisServerArgs are the arguments of the throwaway redis-server on addr
// (127.0.0.1:PORT) with its working directory dir: no persistence.
func RedisServerArgs(addr, dir string) ([]string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("load: redis address %q: %w", addr, err)
	}
	return []string{"--port", port, "--bind", host, "--save", "", "--appendonly", "no", "--dir", dir,
		"--daemonize", "no", "--protected-mode", "yes"}, nil
}

// CompareConfig shapes the comparison scenarios.
type CompareConfig struct {
	// Docs is the number of documents seeded into each variant's Basalt.
	Docs int
	// RedisServer is the redis-server binary.
	RedisServer string
	// Rounds is the number of rounds of the comparisons at full speed
	// and (ScenarioRateLimits) at a fixed rate, each a step per variant in
	// rotating order.
	Rounds int
	// Workers is the number of clients of a full-speed step, each with
	// one request in flight.
	Workers uint64
	// Rate is the fixed rate; 0 means half of the lowest highest sustained
	// rate of the variants in the same run.
	Rate int
	// MaxRedisP50 is the most the Redis limiter may add to the p50 of a
	// get at the fixed rate (median of the rounds); 0 disables.
	MaxRedisP50 time.Duration
	// MinCacheGetRatio is the least highest sustained rate of a cached get
	// on PostgreSQL as a multiple of the uncached one's; 0 disables.
	MinCacheGetRatio float64
	// MinConnectRatio is the least full-speed throughput of a get over
	// Connect (HTTP/2) as a fraction of the same get over REST (HTTP/2);
	// 0 disables.
	MinConnectRatio float64
	// MinGraphQLListRatio is the least full-speed throughput of a list
	// through GraphQL as a fraction of the same list through REST; 0
	// disables.
	MinGraphQLListRatio float64
	// MinTracingRatio is the least full-speed throughput of a get with
	// tracing on at 1 % as a fraction of the same get with tracing off; 0
	// disables.
	MinTracingRatio float64
}

// DefaultCompareConfig is 10,000 documents, 6 rounds at half the slowest
// variant's rate, and the targets: the Redis limiter adds at most 0.3 ms
// to the p50, a cached get sustains at least 1.5× an uncached one.
func DefaultCompareConfig() CompareConfig {
	return CompareConfig{Docs: 10_000, RedisServer: "redis-server", Rounds: 6, Workers: 64, MaxRedisP50: 300 * time.Microsecond, MinCacheGetRatio: 1.5,
		MinConnectRatio: 0.9, MinGraphQLListRatio: 0.6, MinTracingRatio: 0.95}
}

// Validate checks c.
func (c CompareConfig) Validate() error {
	if c.Docs < 1 || c.RedisServer == "" || c.Rounds < 1 || c.Workers < 1 || c.Rate < 0 || c.MaxRedisP50 < 0 || c.MinCacheGetRatio < 0 || c.MinConnectRatio < 0 || c.MinGraphQLListRatio < 0 || c.MinTracingRatio < 0 {
		return fmt.Errorf("load: %s, %s: need docs ≥ 1, a redis-server, rounds and workers ≥ 1, rate ≥ 0 and targets ≥ 0 (got %d, %q, %d, %d, %d, %s, %g)",
			ScenarioRateLimits, ScenarioCachePG, c.Docs, c.RedisServer, c.Rounds, c.Workers, c.Rate, c.MaxRedisP50, c.MinCacheGetRatio)
	}
	return nil
}

// reserve is the time set aside for the comparison scenarios among
// scenarios, with steps of step: per variant, starting and seeding (about
// 2,000 documents/s) and warming; per line, a rate search of about 45 s;
// and the rounds at full speed and at the fixed rate.
func (c CompareConfig) reserve(scenarios []string, step time.Duration) time.Duration {
	var d time.Duration
	for _, s := range scenarios {
		if !slices.Contains(CompareScenarios(), s) {
			continue
		}
		variants := len(compareVariants(s, "", ""))
		d += time.Duration(variants) * (10*time.Second + time.Duration(c.Docs)*time.Second/1000)
		d += time.Duration(variants*len(compareRequests(s))) * 45 * time.Second
		steps := len(compareRequests(s))
		if s == ScenarioRateLimits {
			steps++
		}
		d += time.Duration(c.Rounds*variants*steps) * (step + time.Second)
	}
	return d
}

// CompareReport is the outcome of a comparison scenario.
type CompareReport struct {
	// Engine is DBSQLite or DBPostgres.
	Engine string `json:"engine"`
	// Docs is the number of documents seeded into each variant.
	Docs     int       `json:"docs"`
	Variants []Variant `json:"variants"`
	// Lines are the rate searches: each request on each variant.
	Lines []CompareLine `json:"lines"`
	// Full compares the variants at full speed, one per request.
	Full []FullSpeedReport `json:"full,omitempty"`
	// Fixed is ScenarioRateLimits' comparison at a fixed rate.
	Fixed *FixedRateReport `json:"fixed,omitempty"`
	// MaxRedisP50 and MinCacheGetRatio are the targets (0: none).
	MaxRedisP50      time.Duration `json:"maxRedisP50Ns,omitempty"`
	MinCacheGetRatio float64       `json:"minCacheGetRatio,omitempty"`
	// MinConnectRatio is ScenarioTransports' target (0: none).
	MinConnectRatio float64 `json:"minConnectRatio,omitempty"`
	// MinGraphQLListRatio is ScenarioGraphQL's target (0: none).
	MinGraphQLListRatio float64 `json:"minGraphQLListRatio,omitempty"`
	// MinTracingRatio is ScenarioTracing's target (0: none).
	MinTracingRatio float64 `json:"minTracingRatio,omitempty"`
	// RequestsPerOp, for a request whose operation takes a variant
	// several HTTP requests, is their number per variant: its ratios
	// compare operations, not requests (absent or 0: one).
	RequestsPerOp map[string][]int `json:"requestsPerOp,omitempty"`
}

// perOp is how many HTTP requests one operation of request takes variant
// v.
func (r *CompareReport) perOp(request string, v int) float64 {
	if n := r.RequestsPerOp[request]; v >= 0 && v < len(n) && n[v] > 0 {
		return float64(n[v])
	}
	return 1
}

// CompareLine is the rate search of one request on one variant.
type CompareLine struct {
	Request string       `json:"request"`
	Variant string       `json:"variant"`
	Search  SearchResult `json:"search"`
	// Ratio is the highest sustained rate over the first variant's on the
	// same request; 0 when either is unknown.
	Ratio float64 `json:"ratio"`
	Err   string  `json:"error,omitempty"`
}

// FixedRateReport is the comparison at a fixed rate: rounds of one step
// per variant, in rotating order.
type FixedRateReport struct {
	Rate int           `json:"rate"`
	Step time.Duration `json:"stepNs"`
	// Rounds hold each round's steps in the order of the variants.
	Rounds [][]StepResult `json:"rounds"`
	// P50 is, per variant, the median of its steps' p50s; AddedP50 the
	// median over the rounds of its p50 minus the first variant's.
	P50      []time.Duration `json:"p50Ns"`
	AddedP50 []time.Duration `json:"addedP50Ns"`
}

// FullSpeedReport compares the variants on one request at full speed:
// rounds of one closed-loop step per variant (Workers clients, each with
// one request in flight), in rotating order. Two rate searches minutes
// apart on a shared machine differ by more than what is measured; steps
// back to back in rotating order see the same machine, and the median
// round is not moved by one disturbed step.
type FullSpeedReport struct {
	Request string        `json:"request"`
	Step    time.Duration `json:"stepNs"`
	Workers uint64        `json:"workers"`
	// Rounds hold each round's steps in the order of the variants.
	Rounds [][]StepResult `json:"rounds"`
	// Ratio is, per variant, the median over the rounds of its throughput
	// over the first variant's in the same round.
	Ratio []float64 `json:"ratio"`
}

// full returns the full-speed comparison of request, or nil.
func (r *CompareReport) full(request string) *FullSpeedReport {
	for i := range r.Full {
		if r.Full[i].Request == request && len(r.Full[i].Rounds) > 0 {
			return &r.Full[i]
		}
	}
	return nil
}

// cacheGetRatio is what ScenarioCachePG's target judges: the cached get's
// median full-speed ratio, or without that comparison the ratio of the
// rate searches; 0 when unknown.
func (r *CompareReport) cacheGetRatio() float64 {
	v := r.variantIndex(VariantCache)
	if f := r.full(CompareGet); f != nil && v >= 0 && v < len(f.Ratio) {
		return f.Ratio[v]
	}
	if l := r.line(CompareGet, VariantCache); l != nil {
		return l.Ratio
	}
	return 0
}

// ratioOf is variant's median full-speed ratio on request, or without the
// rounds the ratio of the rate searches; 0 when unknown.
func (r *CompareReport) ratioOf(request, variant string) float64 {
	v := r.variantIndex(variant)
	if f := r.full(request); f != nil && v >= 0 && v < len(f.Ratio) {
		return f.Ratio[v]
	}
	if l := r.line(request, variant); l != nil {
		return l.Ratio
	}
	return 0
}

// line returns the line of request on variant, or nil.
func (r *CompareReport) line(request, variant string) *CompareLine {
	for i := range r.Lines {
		if r.Lines[i].Request == request && r.Lines[i].Variant == variant {
			return &r.Lines[i]
		}
	}
	return nil
}

// variantIndex is the index of variant among r.Variants, or -1.
func (r *CompareReport) variantIndex(variant string) int {
	return slices.IndexFunc(r.Variants, func(v Variant) bool { return v.Name == variant })
}

// evaluate fills in the ratios and the fixed-rate medians and returns the
// verdict: every line sustained a rate and the scenario's target holds.
func (r *CompareReport) evaluate(c Criteria) (string, []string) {
	var notes []string
	ok := len(r.Lines) > 0
	for i := range r.Lines {
		l := &r.Lines[i]
		l.Ratio = 0
		if l.Search.Best == nil {
			ok = false
			notes = append(notes, fmt.Sprintf("%s on %s sustained no rate", l.Request, l.Variant))
			continue
		}
		if len(r.Variants) > 0 {
			if base := r.line(l.Request, r.Variants[0].Name); base != nil && base.Search.Best != nil {
				l.Ratio = float64(l.Search.Best.Rate) / float64(base.Search.Best.Rate) * r.perOp(l.Request, 0) / r.perOp(l.Request, r.variantIndex(l.Variant))
			}
		}
	}
	for i := range r.Full {
		f := &r.Full[i]
		f.Ratio = make([]float64, len(r.Variants))
		for v := range r.Variants {
			var ratios []float64
			for _, round := range f.Rounds {
				if v >= len(round) {
					continue
				}
				s := round[v]
				if s.Requests == 0 || float64(s.Errors) >= c.MaxErrorRatio*float64(s.Requests) {
					ok = false
					notes = appendOnce(notes, fmt.Sprintf("%s at full speed had failing requests on %s", f.Request, r.Variants[v].Name))
				}
				if round[0].Throughput > 0 {
					ratios = append(ratios, s.Throughput/round[0].Throughput*r.perOp(f.Request, 0)/r.perOp(f.Request, v))
				}
			}
			f.Ratio[v] = median(ratios)
		}
	}
	if f := r.Fixed; f != nil {
		f.P50, f.AddedP50 = make([]time.Duration, len(r.Variants)), make([]time.Duration, len(r.Variants))
		for v := range r.Variants {
			var p50s, added []float64
			for _, round := range f.Rounds {
				if v >= len(round) || len(round) == 0 {
					continue
				}
				s := c.Judge(round[v])
				if s.Requests == 0 || s.Throughput < c.MinThroughputRatio*float64(s.Rate) || float64(s.Errors) >= c.MaxErrorRatio*float64(s.Requests) {
					ok = false
					notes = appendOnce(notes, fmt.Sprintf("a step at the fixed rate was not served on %s (throughput or errors)", r.Variants[v].Name))
				}
				p50s = append(p50s, float64(round[v].P50))
				added = append(added, float64(round[v].P50-round[0].P50))
			}
			f.P50[v], f.AddedP50[v] = time.Duration(median(p50s)), time.Duration(median(added))
		}
		if len(f.Rounds) == 0 {
			ok = false
			notes = append(notes, "the fixed-rate comparison did not run")
		}
		if v := r.variantIndex(VariantLimitsRedis); v >= 0 && r.MaxRedisP50 > 0 && len(f.Rounds) > 0 && f.AddedP50[v] > r.MaxRedisP50 {
			ok = false
		}
	}
	if r.MinCacheGetRatio > 0 && r.variantIndex(VariantCache) >= 0 && r.cacheGetRatio() < r.MinCacheGetRatio {
		ok = false
	}
	if r.MinConnectRatio > 0 && r.variantIndex(VariantConnectHTTP2) >= 0 && r.ratioOf(CompareGet, VariantConnectHTTP2) < r.MinConnectRatio {
		ok = false
	}
	if r.MinGraphQLListRatio > 0 && r.variantIndex(VariantGraphQL) >= 0 && r.ratioOf(CompareList, VariantGraphQL) < r.MinGraphQLListRatio {
		ok = false
	}
	if r.MinTracingRatio > 0 && r.variantIndex(VariantTracingOn) >= 0 && r.ratioOf(CompareGet, VariantTracingOn) < r.MinTracingRatio {
		ok = false
	}
	if !ok {
		return VerdictFail, notes
	}
	return VerdictPass, notes
}

// markdown is the report's table and lines for scenario.
func (r *CompareReport) markdown(scenario, verdict string) string {
	var b strings.Builder
	base := ""
	if len(r.Variants) > 0 {
		base = r.Variants[0].Name
	}
	switch scenario {
	case ScenarioTransports:
		fmt.Fprintf(&b, "%s (%s, %s documents, one Basalt with TLS: its transports side by side):\n\n", scenario, r.Engine, thousands(int64(r.Docs)))
	case ScenarioSplit:
		fmt.Fprintf(&b, "%s (%s, %s documents in one database, a monolith and a gateway with its components side by side):\n\n", scenario, r.Engine, thousands(int64(r.Docs)))
	case ScenarioGraphQL:
		fmt.Fprintf(&b, "%s (%s, %s documents, one Basalt: the same reads through REST and GraphQL side by side; "+
			"relation through REST is two requests, compared per operation):\n\n", scenario, r.Engine, thousands(int64(r.Docs)))
	default:
		fmt.Fprintf(&b, "%s (%s, %s documents in each variant's own process, side by side):\n\n", scenario, r.Engine, thousands(int64(r.Docs)))
	}
	b.WriteString("| request | variant | max sustained req/s | p50 | p99 | errors | vs " + base + " |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|\n")
	for _, l := range r.Lines {
		rate, p50, p99, errs, ratio := "none", "—", "—", "—", "—"
		if best := l.Search.Best; best != nil {
			rate = thousands(int64(best.Rate))
			p50, p99 = millis(best.P50), millis(best.P99)
			errs = thousands(int64(best.Errors)) + " / " + thousands(int64(best.Requests))
		}
		if l.Ratio > 0 {
			ratio = percent(l.Ratio)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", l.Request, l.Variant, rate, p50, p99, errs, ratio)
	}
	b.WriteString("\nVariants: ")
	about := make([]string, len(r.Variants))
	for i, v := range r.Variants {
		about[i] = fmt.Sprintf("%s, %s (`%s`)", v.Name, v.About, abbreviateArgs(v.Args))
	}
	b.WriteString(strings.Join(about, "; ") + ".\n")
	if f := r.Fixed; f != nil && len(f.P50) == len(r.Variants) {
		p50s, added := make([]string, len(r.Variants)), make([]string, 0, len(r.Variants))
		for v, vr := range r.Variants {
			p50s[v] = vr.Name + " " + millis(f.P50[v])
			if v == 0 {
				continue
			}
			var perRound []string
			for _, round := range f.Rounds {
				if v < len(round) {
					perRound = append(perRound, signedMillis(round[v].P50-round[0].P50))
				}
			}
			a := fmt.Sprintf("%s %s (rounds: %s)", vr.Name, signedMillis(f.AddedP50[v]), strings.Join(perRound, ", "))
			if vr.Name == VariantLimitsRedis {
				a = fmt.Sprintf("%s **%s** (rounds: %s)", vr.Name, signedMillis(f.AddedP50[v]), strings.Join(perRound, ", "))
			}
			added = append(added, a)
		}
		target := "no target"
		if r.MaxRedisP50 > 0 {
			target = "target for redis ≤ " + millis(r.MaxRedisP50)
		}
		fmt.Fprintf(&b, "\n%s at a fixed %s req/s, %d round(s) of one %s step per variant in rotating order: median p50 %s; added to %s's p50 (median of the rounds' differences): %s (%s).\n",
			scenario, thousands(int64(f.Rate)), len(f.Rounds), f.Step, strings.Join(p50s, ", "), base, strings.Join(added, "; "), target)
	}
	for _, req := range compareRequests(scenario) {
		var parts []string
		for _, v := range r.Variants[min(1, len(r.Variants)):] {
			if l := r.line(req, v.Name); l != nil && l.Ratio > 0 {
				parts = append(parts, fmt.Sprintf("%s %s×", v.Name, ratioX(l.Ratio)))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(&b, "\n%s %s, highest sustained rate over %s's (the searches, minutes apart): %s.\n", scenario, req, base, strings.Join(parts, ", "))
		}
		f := r.full(req)
		if f == nil || len(f.Ratio) != len(r.Variants) {
			continue
		}
		parts = parts[:0]
		for v, vr := range r.Variants[min(1, len(r.Variants)):] {
			v++
			var perRound []string
			for _, round := range f.Rounds {
				if v < len(round) && round[0].Throughput > 0 {
					perRound = append(perRound, ratioX(round[v].Throughput/round[0].Throughput*r.perOp(req, 0)/r.perOp(req, v)))
				}
			}
			parts = append(parts, fmt.Sprintf("%s **%s×** (rounds: %s)", vr.Name, ratioX(f.Ratio[v]), strings.Join(perRound, ", ")))
		}
		target := ""
		if req == CompareGet && r.MinCacheGetRatio > 0 && r.variantIndex(VariantCache) >= 0 {
			target = fmt.Sprintf("; target for cache ≥ %s×", ratioX(r.MinCacheGetRatio))
		}
		if req == CompareGet && r.MinConnectRatio > 0 && r.variantIndex(VariantConnectHTTP2) >= 0 {
			target = fmt.Sprintf("; target for %s ≥ %s×", VariantConnectHTTP2, ratioX(r.MinConnectRatio))
		}
		if req == CompareList && r.MinGraphQLListRatio > 0 && r.variantIndex(VariantGraphQL) >= 0 {
			target = fmt.Sprintf("; target for %s ≥ %s×", VariantGraphQL, ratioX(r.MinGraphQLListRatio))
		}
		if req == CompareGet && r.MinTracingRatio > 0 && r.variantIndex(VariantTracingOn) >= 0 {
			target = fmt.Sprintf("; target for %s ≥ %s×", VariantTracingOn, ratioX(r.MinTracingRatio))
		}
		fmt.Fprintf(&b, "\n%s %s at full speed (%d clients, closed loop), %d round(s) of one %s step per variant in rotating order; throughput over %s's, median of the rounds: %s%s.\n",
			scenario, req, f.Workers, len(f.Rounds), f.Step, base, strings.Join(parts, ", "), target)
	}
	if r.MinCacheGetRatio > 0 && r.variantIndex(VariantCache) >= 0 && r.full(CompareGet) == nil {
		fmt.Fprintf(&b, "\n%s judged on the searches (no full-speed rounds): cached get %s× of uncached (target ≥ %s×).\n", scenario, ratioX(r.cacheGetRatio()), ratioX(r.MinCacheGetRatio))
	}
	fmt.Fprintf(&b, "\n%s: %s.", scenario, verdict)
	return b.String()
}

// abbreviateArgs joins args, with the --rate-limit specs counted rather
// than listed.
func abbreviateArgs(args []string) string {
	var out []string
	limits := 0
	for _, a := range args {
		if strings.HasPrefix(a, "--rate-limit=") {
			limits++
			continue
		}
		out = append(out, a)
	}
	if limits > 0 {
		out = append(out, fmt.Sprintf("--rate-limit=…×%d", limits))
	}
	return QuoteCommand(out)
}

// signedMillis formats d in milliseconds with its sign, e.g. "+0.12 ms".
func signedMillis(d time.Duration) string {
	if d < 0 {
		return "−" + millis(-d)
	}
	return "+" + millis(d)
}

// ratioX formats a ratio with two decimals, e.g. "1.52".
func ratioX(f float64) string { return fmt.Sprintf("%.2f", f) }

// compareFixture is what runCompare needs from the run.
type compareFixture struct {
	dir string
	// storage gives a variant's Basalt fresh storage (a data directory
	// named label and, on PostgreSQL, a fresh database).
	storage func(label, db string) ([]string, error)
	// basaltSpec is the process of a Basalt on storageArgs with extra
	// arguments.
	basaltSpec func(storageArgs, extra []string) ProcessSpec
}

// runCompare runs a comparison scenario: a throwaway redis-server, one
// Basalt per variant (started, set up and seeded with the same documents),
// every variant warmed by reading each document (and, with list, each list
// page) once, then the rate search of each request on each variant, and
// for ScenarioRateLimits the rounds at a fixed rate.
func runCompare(ctx context.Context, cfg Config, budget *Budget, name string, fx compareFixture, logf func(string, ...any)) ScenarioReport {
	switch name {
	case ScenarioTransports:
		return runTransports(ctx, cfg, budget, fx, logf)
	case ScenarioSplit:
		return runSplit(ctx, cfg, budget, fx, logf)
	case ScenarioGraphQL:
		return runGraphQL(ctx, cfg, budget, fx, logf)
	}
	cc := cfg.Compare
	cr := &CompareReport{Engine: compareEngine(name, cfg.DB), Docs: cc.Docs}
	switch name {
	case ScenarioRateLimits:
		cr.MaxRedisP50 = cc.MaxRedisP50
	case ScenarioCachePG:
		cr.MinCacheGetRatio = cc.MinCacheGetRatio
	}
	sr := ScenarioReport{Name: name, Compare: cr}
	otlpURL := ""
	if name == ScenarioTracing {
		cr.MinTracingRatio = cc.MinTracingRatio
		sink, err := startOTLPSink()
		if err != nil {
			sr.Err = err.Error()
			return sr
		}
		defer func() { _ = sink.Close() }()
		otlpURL = sink.URL()
	}
	redisBin, err := exec.LookPath(cc.RedisServer)
	if err != nil {
		sr.Err = fmt.Sprintf("redis-server not found (-redis-server %q): install Redis (apt-get install redis-server): %v", cc.RedisServer, err)
		cr.Variants = compareVariants(name, "redis://127.0.0.1:6379/0", "")
		return sr
	}
	redisDir := filepath.Join(fx.dir, "redis-"+name)
	if err := os.MkdirAll(redisDir, 0o700); err != nil {
		sr.Err = err.Error()
		return sr
	}
	var argsErr error
	redisSpec := ProcessSpec{Name: "redis", Path: redisBin, ReadyTimeout: 30 * time.Second,
		Args: func(addr string) []string {
			args, err := RedisServerArgs(addr, redisDir)
			argsErr = err
			return args
		}}
	err = withServer(ctx, redisSpec, filepath.Join(fx.dir, "redis-"+name+".log"), logf, func(redis *Process) error {
		if argsErr != nil {
			return argsErr
		}
		cr.Variants = compareVariants(name, "redis://"+redis.Addr+"/0", otlpURL)
		procs := make([]*Process, 0, len(cr.Variants))
		storages := make([][]string, 0, len(cr.Variants))
		var start func(i int) error
		start = func(i int) error {
			if i == len(cr.Variants) {
				return measureCompare(ctx, cfg, budget, name, cr, procs, storages, logf)
			}
			v := cr.Variants[i]
			storageArgs, err := fx.storage("data-"+name+"-"+v.Name, cr.Engine)
			if err != nil {
				return err
			}
			return withServer(ctx, fx.basaltSpec(storageArgs, v.Args), filepath.Join(fx.dir, "basalt-"+name+"-"+v.Name+".log"), logf, func(p *Process) error {
				procs, storages = append(procs, p), append(storages, storageArgs)
				return start(i + 1)
			})
		}
		return start(0)
	})
	if err != nil {
		sr.Err = err.Error()
	}
	return sr
}

// measureCompare sets up and measures the running variants procs (on
// storages) of scenario name into cr.
func measureCompare(ctx context.Context, cfg Config, budget *Budget, name string, cr *CompareReport, procs []*Process, storages [][]string,
	logf func(string, ...any)) error {
	requests := compareRequests(name)
	targeters := make([]map[string]vegeta.Targeter, len(procs))
	for i, p := range procs {
		label := name + " " + cr.Variants[i].Name
		c := Client{BaseURL: p.BaseURL, HTTP: &http.Client{Timeout: time.Minute}}
		admin, err := setUpCompare(ctx, cfg, c, storages[i])
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		var rep Report
		ids, err := seed(ctx, cfg, c, admin, Collection, cr.Docs, "", &rep, func(format string, args ...any) { logf(label+" "+format, args...) })
		c.HTTP.CloseIdleConnections()
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		getTr, err := GetTargeter(p.BaseURL, Collection, "", ids)
		if err != nil {
			return err
		}
		targeters[i] = map[string]vegeta.Targeter{CompareGet: getTr}
		warm := make([]string, 0, len(ids)+900)
		for _, id := range ids {
			warm = append(warm, p.BaseURL+"/v1/collections/"+Collection+"/documents/"+id)
		}
		if slices.Contains(requests, CompareList) {
			listTr, err := ListTargeter(p.BaseURL)
			if err != nil {
				return err
			}
			targeters[i][CompareList] = listTr
			for n := range 900 {
				warm = append(warm, ListURL(p.BaseURL, n))
			}
		}
		t0 := time.Now()
		if err := warmUp(ctx, warm, 16); err != nil {
			return fmt.Errorf("%s: warming: %w", label, err)
		}
		logf("%s: %d documents seeded; %d reads to warm it up in %s", label, len(ids), len(warm), time.Since(t0).Round(10*time.Millisecond))
	}
	lines := len(requests) * len(procs)
	parts := lines
	if name == ScenarioRateLimits {
		parts++ // the fixed-rate rounds
	}
	for _, req := range requests {
		for i := range procs {
			share := budget.Split(parts)
			parts--
			s := runScenario(ctx, cfg, cfg.Search, share, name+" "+req+" "+cr.Variants[i].Name, targeters[i][req], logf)
			budget.Return(share)
			cr.Lines = append(cr.Lines, CompareLine{Request: req, Variant: cr.Variants[i].Name, Search: s.Search, Err: s.Err})
			if ctx.Err() != nil {
				return fmt.Errorf("load: %s: %w", name, ctx.Err())
			}
		}
	}
	rate := 0
	if name == ScenarioRateLimits {
		rate = cfg.Compare.Rate
		for _, l := range cr.Lines {
			if rate > 0 {
				break
			}
			if l.Search.Best == nil {
				logf("%s: no fixed rate (%s on %s sustained none)", name, l.Request, l.Variant)
				rate = -1
				break
			}
		}
		if rate == 0 {
			for _, l := range cr.Lines {
				if r := l.Search.Best.Rate / 2; rate == 0 || r < rate {
					rate = r
				}
			}
		}
	}
	runCompareRounds(ctx, cfg, budget, name, cr, targeters, nil, max(rate, 0), logf)
	return nil
}

// runCompareRounds runs cfg.Compare.Rounds rounds, round r taking the
// variants in turn from variant r mod n: for each request, one step at
// full speed per variant (cr.Full); with rate > 0, then one step of get at
// rate per variant (cr.Fixed). clients, when not nil, hold each variant's
// HTTP client (nil entries: the attacker's own).
func runCompareRounds(ctx context.Context, cfg Config, budget *Budget, name string, cr *CompareReport, targeters []map[string]vegeta.Targeter,
	clients []*http.Client, rate int, logf func(string, ...any)) {
	cc := cfg.Compare
	requests := compareRequests(name)
	n := len(targeters)
	// The budget's guess of a full-speed step's rate: a quarter above the
	// best search, or -max-rate without one.
	est := 0
	for _, l := range cr.Lines {
		if l.Search.Best != nil {
			est = max(est, l.Search.Best.Rate)
		}
	}
	if est += est / 4; est == 0 {
		est = cfg.Search.MaxRate
	}
	for _, req := range requests {
		cr.Full = append(cr.Full, FullSpeedReport{Request: req, Step: cfg.Step, Workers: cc.Workers})
	}
	if rate > 0 {
		cr.Fixed = &FixedRateReport{Rate: rate, Step: cfg.Step}
	}
	atks := make([]*Attacker, n)
	for v := range atks {
		var client *http.Client
		if v < len(clients) {
			client = clients[v]
		}
		atks[v] = NewAttackerWith(cfg.Attack, client)
		defer atks[v].Close()
	}
	overhead := cfg.Settle + cfg.Attack.Timeout
	// step runs one step per variant in the round's order.
	step := func(round int, rate int, run func(atk *Attacker, tr vegeta.Targeter) (StepResult, error), tr func(v int) vegeta.Targeter) ([]StepResult, bool) {
		steps := make([]StepResult, n)
		for k := range n {
			v := (round + k) % n
			if err := budget.Take(rate, cfg.Step, overhead); err != nil {
				logf("%s rounds stop: %v", name, err)
				return nil, false
			}
			if pause(ctx, cfg.Settle) != nil {
				return nil, false
			}
			s, err := run(atks[v], tr(v))
			if err != nil {
				return nil, false
			}
			steps[v] = s
		}
		return steps, true
	}
	for round := range cc.Rounds {
		var line []string
		for i, req := range requests {
			steps, ok := step(round, est, func(atk *Attacker, tr vegeta.Targeter) (StepResult, error) {
				return atk.Saturate(ctx, tr, cc.Workers, cfg.Step)
			},
				func(v int) vegeta.Targeter { return targeters[v][req] })
			if !ok {
				return
			}
			cr.Full[i].Rounds = append(cr.Full[i].Rounds, steps)
			for v, s := range steps {
				line = append(line, fmt.Sprintf("%s %s %.0f/s", req, cr.Variants[v].Name, s.Throughput))
			}
		}
		if rate > 0 {
			steps, ok := step(round, rate, func(atk *Attacker, tr vegeta.Targeter) (StepResult, error) { return atk.Step(ctx, tr, rate, cfg.Step) },
				func(v int) vegeta.Targeter { return targeters[v][CompareGet] })
			if !ok {
				return
			}
			cr.Fixed.Rounds = append(cr.Fixed.Rounds, steps)
			for v, s := range steps {
				line = append(line, fmt.Sprintf("at %d/s %s p50 %s", rate, cr.Variants[v].Name, millis(s.P50)))
			}
		}
		logf("%s round %d/%d: %s", name, round+1, cc.Rounds, strings.Join(line, ", "))
	}
}

// setUpCompare prepares a variant's fresh Basalt: the admin (`basalt admin
// create` on storageArgs), logged in, and Collection, open to everyone. It
// returns the admin's access token.
func setUpCompare(ctx context.Context, cfg Config, c Client, storageArgs []string) (string, error) {
	admin, err := NewAccount("admin")
	if err != nil {
		return "", err
	}
	if err := CreateAdmin(ctx, cfg.BasaltPath, storageArgs, admin); err != nil {
		return "", err
	}
	s, err := c.Login(ctx, admin)
	if err != nil {
		return "", err
	}
	spec, err := CollectionSpec(Collection, "")
	if err != nil {
		return "", err
	}
	if err := c.CreateCollection(ctx, s.Token, spec); err != nil {
		return "", err
	}
	return s.Token, nil
}

// warmUp sends GET to every URL once, workers at a time, and fails on any
// answer but 200.
func warmUp(ctx context.Context, urls []string, workers int) error {
	tr := &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for u := range next {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
				if err != nil {
					cancel(err)
					continue
				}
				req.Header = jsonHeader("")
				resp, err := client.Do(req)
				if err != nil {
					cancel(err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					cancel(fmt.Errorf("GET %s: status %d", u, resp.StatusCode))
				}
			}
		})
	}
	for _, u := range urls {
		if ctx.Err() != nil {
			break
		}
		next <- u
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("load: warm-up: %w", err)
	}
	return nil
}
