package telemetry

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Certificates exports when the TLS certificates a process serves or
// presents expire: basalt_tls_certificate_expiry_timestamp_seconds
// {certificate}, in Unix seconds, read at each scrape (a reloaded or
// renewed certificate shows at once). A certificate not known yet (ACME
// before its first) is not exported.
type Certificates struct {
	desc *prometheus.Desc

	mu    sync.Mutex
	certs []certificate
}

type certificate struct {
	name     string
	notAfter func() (time.Time, bool)
}

var _ prometheus.Collector = (*Certificates)(nil)

// NewCertificates returns a collector with no certificate yet.
func NewCertificates() *Certificates {
	return &Certificates{desc: prometheus.NewDesc("basalt_tls_certificate_expiry_timestamp_seconds",
		"When the certificate expires (Unix seconds): server (the one --addr serves), internal-client (--internal-cert).",
		[]string{"certificate"}, nil)}
}

// Add adds a certificate, named by the process (server, internal-client),
// whose end of validity notAfter tells.
func (c *Certificates) Add(name string, notAfter func() (time.Time, bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.certs = append(c.certs, certificate{name: name, notAfter: notAfter})
}

// Describe sends the descriptor.
func (c *Certificates) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect sends the end of validity of each certificate known.
func (c *Certificates) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	certs := append([]certificate(nil), c.certs...)
	c.mu.Unlock()
	for _, cert := range certs {
		if t, ok := cert.notAfter(); ok {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(t.Unix()), cert.name)
		}
	}
}
