//go:build unix

package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// DataDir exports the space of the file system that holds a data
// directory: basalt_data_dir_available_bytes (what Basalt, unprivileged,
// may still write) and basalt_data_dir_capacity_bytes, read at each
// scrape. A scrape where the directory cannot be read exports neither.
type DataDir struct {
	path            string
	avail, capacity *prometheus.Desc
}

var _ prometheus.Collector = (*DataDir)(nil)

// NewDataDir returns the collector of the directory at path.
func NewDataDir(path string) *DataDir {
	return &DataDir{
		path: path,
		avail: prometheus.NewDesc("basalt_data_dir_available_bytes",
			"Bytes still available to Basalt on the file system of the data directory.", nil, nil),
		capacity: prometheus.NewDesc("basalt_data_dir_capacity_bytes",
			"Size in bytes of the file system of the data directory.", nil, nil),
	}
}

// Describe sends the two descriptors.
func (d *DataDir) Describe(ch chan<- *prometheus.Desc) {
	ch <- d.avail
	ch <- d.capacity
}

// Collect reads the file system's statistics and sends them.
func (d *DataDir) Collect(ch chan<- prometheus.Metric) {
	var st unix.Statfs_t
	if err := unix.Statfs(d.path, &st); err != nil {
		return
	}
	bs := float64(st.Bsize) //nolint:unconvert // int64 or uint32, by platform
	ch <- prometheus.MustNewConstMetric(d.avail, prometheus.GaugeValue, float64(st.Bavail)*bs)
	ch <- prometheus.MustNewConstMetric(d.capacity, prometheus.GaugeValue, float64(st.Blocks)*bs)
}
