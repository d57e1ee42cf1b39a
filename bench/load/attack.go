package load

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// AttackConfig tunes the vegeta attackers that drive the load.
type AttackConfig struct {
	// Workers is the number of workers an attack starts with.
	Workers uint64
	// MaxWorkers bounds the workers (and so the connections) of an attack.
	// Vegeta adds workers when all are busy, so load stays open-loop until
	// this bound is reached; past it the step fails on throughput.
	MaxWorkers uint64
	// Timeout bounds each request.
	Timeout time.Duration
}

// DefaultAttackConfig suits a small machine shared with the servers under test.
func DefaultAttackConfig() AttackConfig {
	return AttackConfig{Workers: 16, MaxWorkers: 512, Timeout: 2 * time.Second}
}

// Attacker runs constant-rate steps against one target set, reusing one
// keep-alive HTTP client (and its connections) across steps.
type Attacker struct {
	cfg    AttackConfig
	client *http.Client
	// observe, when set, sees every result as it arrives (from the
	// goroutine running the step).
	observe func(*vegeta.Result)
}

// NewAttackerWith returns an Attacker that sends its requests with client
// (a transport of its own: HTTP/2, HTTP/3); nil is NewAttacker's.
func NewAttackerWith(cfg AttackConfig, client *http.Client) *Attacker {
	if client == nil {
		return NewAttacker(cfg)
	}
	return &Attacker{cfg: cfg, client: client}
}

// NewAttacker returns an Attacker with its own keep-alive connection pool.
func NewAttacker(cfg AttackConfig) *Attacker {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        int(cfg.MaxWorkers) + 16,
		MaxIdleConnsPerHost: int(cfg.MaxWorkers) + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &Attacker{cfg: cfg, client: &http.Client{Transport: tr, Timeout: cfg.Timeout}}
}

// Close releases the idle connections.
func (a *Attacker) Close() {
	a.client.CloseIdleConnections()
}

// Step sends requests from tr at rate per second for d and measures them.
// Cancelling ctx stops the step early; the partial result is then returned
// together with ctx's error.
func (a *Attacker) Step(ctx context.Context, tr vegeta.Targeter, rate int, d time.Duration) (StepResult, error) {
	s, _, err := a.measure(ctx, tr, rate, d)
	return s, err
}

// Saturate sends requests from tr as fast as workers clients can, each
// sending its next request when its last one is answered (closed loop), for
// d, and measures them: Throughput is the highest rate Basalt answered
// with that many requests in flight. The result's Rate is 0.
func (a *Attacker) Saturate(ctx context.Context, tr vegeta.Targeter, workers uint64, d time.Duration) (StepResult, error) {
	if workers < 1 || d <= 0 {
		return StepResult{}, fmt.Errorf("load: saturation needs workers and a positive duration, got %d for %s", workers, d)
	}
	s, _, err := a.attack(ctx, tr, vegeta.Rate{}, workers, workers, 0, d)
	return s, err
}

// measure is Step that also returns every latency of the step, sorted.
func (a *Attacker) measure(ctx context.Context, tr vegeta.Targeter, rate int, d time.Duration) (StepResult, []time.Duration, error) {
	if rate <= 0 || d <= 0 {
		return StepResult{}, nil, fmt.Errorf("load: step needs a positive rate and duration, got %d/s for %s", rate, d)
	}
	return a.attack(ctx, tr, vegeta.Rate{Freq: rate, Per: time.Second}, a.cfg.Workers, a.cfg.MaxWorkers, rate, d)
}

// attack runs one vegeta attack paced by pace (zero: as fast as the workers
// go) and measures it; rate is what the result reports as offered.
func (a *Attacker) attack(ctx context.Context, tr vegeta.Targeter, pace vegeta.Rate, workers, maxWorkers uint64, rate int, d time.Duration) (StepResult, []time.Duration, error) {
	atk := vegeta.NewAttacker(
		vegeta.Client(a.client),
		vegeta.Workers(workers),
		vegeta.MaxWorkers(maxWorkers),
		vegeta.MaxBody(0), // drain answers without keeping them
		vegeta.Redirects(vegeta.NoFollow),
	)
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()

	var m vegeta.Metrics
	expected := max(int(float64(rate)*d.Seconds()), 1024) + 16
	lat := make([]time.Duration, 0, expected)
	var errs uint64
	// An empty attack name spares vegeta an X-Vegeta-Attack header per request.
	for r := range atk.Attack(tr, pace, d, "") {
		m.Add(r)
		lat = append(lat, r.Latency)
		if a.observe != nil {
			a.observe(r)
		}
		if r.Error != "" || r.Code < 200 || r.Code > 299 {
			errs++
		}
	}
	m.Close()

	s := StepResult{
		Rate:       rate,
		Duration:   m.Duration,
		Requests:   m.Requests,
		Errors:     errs,
		SentRate:   m.Rate,
		Throughput: m.Throughput,
		Max:        m.Latencies.Max,
	}
	if len(m.StatusCodes) > 0 {
		s.StatusCodes = m.StatusCodes
	}
	if len(m.Errors) > 0 {
		s.ErrorSamples = m.Errors[:min(len(m.Errors), 3)]
	}
	s.P50, s.P99, s.P999 = quantiles(lat)
	return s, lat, ctx.Err()
}

// mergeSteps pools steps at the same rate (with their latencies, lats[i]
// belonging to steps[i]) into one result, with exact quantiles over every
// latency.
func mergeSteps(steps []StepResult, lats [][]time.Duration) StepResult {
	if len(steps) == 0 {
		return StepResult{}
	}
	m := StepResult{Rate: steps[0].Rate}
	var (
		all    []time.Duration
		served float64 // successful requests, from each step's throughput
	)
	for i, s := range steps {
		m.Duration += s.Duration
		m.Requests += s.Requests
		m.Errors += s.Errors
		m.Max = max(m.Max, s.Max)
		served += s.Throughput * s.Duration.Seconds()
		for code, n := range s.StatusCodes {
			if m.StatusCodes == nil {
				m.StatusCodes = map[string]int{}
			}
			m.StatusCodes[code] += n
		}
		for _, e := range s.ErrorSamples {
			if len(m.ErrorSamples) < 3 && !slices.Contains(m.ErrorSamples, e) {
				m.ErrorSamples = append(m.ErrorSamples, e)
			}
		}
		if i < len(lats) {
			all = append(all, lats[i]...)
		}
	}
	if secs := m.Duration.Seconds(); secs > 0 {
		m.SentRate = float64(m.Requests) / secs
		m.Throughput = served / secs
	}
	m.P50, m.P99, m.P999 = quantiles(all)
	return m
}

// quantiles returns the exact p50, p99 and p99.9 (nearest-rank) of lat,
// sorting it in place. Vegeta's Metrics estimates quantiles with a t-digest
// and exposes no p99.9, so the step keeps every latency instead.
func quantiles(lat []time.Duration) (p50, p99, p999 time.Duration) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	slices.Sort(lat)
	n := len(lat)
	rank := func(perMille int) time.Duration {
		r := (n*perMille + 999) / 1000 // ceil(n·q) in integers
		return lat[min(max(r-1, 0), n-1)]
	}
	return rank(500), rank(990), rank(999)
}
