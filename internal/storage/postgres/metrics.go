package postgres

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exports the statistics of a Store's connection pool as
// Prometheus metrics named basalt_db_pool_*. Register it on the
// application's registry.
type PoolCollector struct {
	stat func() *pgxpool.Stat

	maxConns, totalConns, idleConns, acquiredConns, constructingConns *prometheus.Desc
	acquires, emptyAcquires, canceledAcquires, acquireWait            *prometheus.Desc
	newConns, lifetimeDestroys, idleDestroys                          *prometheus.Desc
}

var _ prometheus.Collector = (*PoolCollector)(nil)

// NewPoolCollector returns a collector of s's pool statistics.
func NewPoolCollector(s *Store) *PoolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("basalt_db_pool_"+name, help, nil, nil)
	}
	return &PoolCollector{
		stat:              s.Stat,
		maxConns:          d("max_conns", "Maximum size of the PostgreSQL connection pool."),
		totalConns:        d("conns", "Connections in the pool (idle, acquired and being opened)."),
		idleConns:         d("idle_conns", "Idle connections in the pool."),
		acquiredConns:     d("acquired_conns", "Connections currently in use."),
		constructingConns: d("constructing_conns", "Connections being opened."),
		acquires:          d("acquires_total", "Successful connection acquisitions."),
		emptyAcquires:     d("empty_acquires_total", "Acquisitions that had to wait for a connection."),
		canceledAcquires:  d("canceled_acquires_total", "Acquisitions abandoned (timeout or cancelled request)."),
		acquireWait:       d("acquire_wait_seconds_total", "Total time spent waiting for connections."),
		newConns:          d("new_conns_total", "Connections opened."),
		lifetimeDestroys:  d("lifetime_destroys_total", "Connections closed for exceeding their maximum lifetime."),
		idleDestroys:      d("idle_destroys_total", "Connections closed for being idle too long."),
	}
}

// Describe sends the descriptors of the pool metrics.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.maxConns, c.totalConns, c.idleConns, c.acquiredConns,
		c.constructingConns, c.acquires, c.emptyAcquires, c.canceledAcquires, c.acquireWait, c.newConns,
		c.lifetimeDestroys, c.idleDestroys} {
		ch <- d
	}
}

// Collect reads the pool statistics once and sends them.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.maxConns, float64(st.MaxConns()))
	gauge(c.totalConns, float64(st.TotalConns()))
	gauge(c.idleConns, float64(st.IdleConns()))
	gauge(c.acquiredConns, float64(st.AcquiredConns()))
	gauge(c.constructingConns, float64(st.ConstructingConns()))
	counter(c.acquires, float64(st.AcquireCount()))
	counter(c.emptyAcquires, float64(st.EmptyAcquireCount()))
	counter(c.canceledAcquires, float64(st.CanceledAcquireCount()))
	counter(c.acquireWait, st.AcquireDuration().Seconds())
	counter(c.newConns, float64(st.NewConnsCount()))
	counter(c.lifetimeDestroys, float64(st.MaxLifetimeDestroyCount()))
	counter(c.idleDestroys, float64(st.MaxIdleDestroyCount()))
}
