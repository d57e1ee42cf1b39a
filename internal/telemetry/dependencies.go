package telemetry

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Dependencies exports whether the services a process depends on answer:
// basalt_dependency_up{dependency} (1 or 0) and
// basalt_dependency_check_duration_seconds{dependency}. Each scrape runs
// every check at once, each bounded by the timeout, so the metrics say
// how the dependencies are at the moment of the scrape, and an alert on a
// dependency that stopped answering needs no other exporter. The
// dependency names come from the process (database, redis, kafka), never
// from a client.
type Dependencies struct {
	timeout time.Duration
	up, dur *prometheus.Desc

	mu     sync.Mutex
	checks []dependency
}

type dependency struct {
	name  string
	check func(context.Context) error
}

var _ prometheus.Collector = (*Dependencies)(nil)

// NewDependencies returns a collector with no dependency yet; each check
// gets at most timeout.
func NewDependencies(timeout time.Duration) *Dependencies {
	return &Dependencies{
		timeout: timeout,
		up: prometheus.NewDesc("basalt_dependency_up",
			"Whether the dependency answered its check at this scrape (1) or not (0): database, redis, kafka.",
			[]string{"dependency"}, nil),
		dur: prometheus.NewDesc("basalt_dependency_check_duration_seconds",
			"How long the dependency's check at this scrape took.", []string{"dependency"}, nil),
	}
}

// Add adds a dependency; check returns nil when it answers.
func (d *Dependencies) Add(name string, check func(context.Context) error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.checks = append(d.checks, dependency{name: name, check: check})
}

// Describe sends the two descriptors.
func (d *Dependencies) Describe(ch chan<- *prometheus.Desc) {
	ch <- d.up
	ch <- d.dur
}

// Collect runs the checks at once and sends their outcomes.
func (d *Dependencies) Collect(ch chan<- prometheus.Metric) {
	d.mu.Lock()
	checks := append([]dependency(nil), d.checks...)
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	type outcome struct {
		up   float64
		took time.Duration
	}
	out := make([]outcome, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			start := time.Now()
			err := c.check(ctx)
			out[i].took = time.Since(start)
			if err == nil {
				out[i].up = 1
			}
		})
	}
	wg.Wait()
	for i, c := range checks {
		ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, out[i].up, c.name)
		ch <- prometheus.MustNewConstMetric(d.dur, prometheus.GaugeValue, out[i].took.Seconds(), c.name)
	}
}
