//go:build !unix

package telemetry

import "github.com/prometheus/client_golang/prometheus"

// DataDir exports nothing where the file system's statistics are not read
// (outside Unix).
type DataDir struct{}

var _ prometheus.Collector = (*DataDir)(nil)

// NewDataDir returns a collector that exports nothing.
func NewDataDir(string) *DataDir { return &DataDir{} }

// Describe sends nothing.
func (*DataDir) Describe(chan<- *prometheus.Desc) {}

// Collect sends nothing.
func (*DataDir) Collect(chan<- prometheus.Metric) {}
