package telemetry

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestDependencies: a dependency that answers is up, one that fails or
// does not answer within the timeout is down, each scrape checks again,
// and a check never holds the scrape beyond the timeout.
func TestDependencies(t *testing.T) {
	d := NewDependencies(200 * time.Millisecond)
	healthy := true
	d.Add("database", func(context.Context) error { return nil })
	d.Add("redis", func(context.Context) error {
		if healthy {
			return nil
		}
		return errors.New("connection refused")
	})
	d.Add("kafka", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(d)

	want := func(redis string) string {
		return `# HELP basalt_dependency_up Whether the dependency answered its check at this scrape (1) or not (0): database, redis, kafka.
# TYPE basalt_dependency_up gauge
basalt_dependency_up{dependency="database"} 1
basalt_dependency_up{dependency="kafka"} 0
basalt_dependency_up{dependency="redis"} ` + redis + "\n"
	}
	start := time.Now()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want("1")), "basalt_dependency_up"); err != nil {
		t.Error(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a scrape took %v with a check that never answers", took)
	}
	healthy = false
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want("0")), "basalt_dependency_up"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(d, "basalt_dependency_check_duration_seconds"); n != 3 {
		t.Errorf("%d check durations, want 3", n)
	}
}

// TestDataDir: the data directory's file system has a capacity and
// available space no larger; a directory that cannot be read exports
// nothing rather than zeros that would page someone.
func TestDataDir(t *testing.T) {
	if runtime.GOOS == "windows" { // not read there: nothing exported
		if n := testutil.CollectAndCount(NewDataDir(t.TempDir())); n != 0 {
			t.Errorf("%d metrics outside Unix, want 0", n)
		}
		return
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewDataDir(t.TempDir()))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
	}
	if got["basalt_data_dir_capacity_bytes"] <= 0 || got["basalt_data_dir_available_bytes"] <= 0 ||
		got["basalt_data_dir_available_bytes"] > got["basalt_data_dir_capacity_bytes"] {
		t.Errorf("data directory space: %v", got)
	}
	if n := testutil.CollectAndCount(NewDataDir(filepath.Join(t.TempDir(), "missing"))); n != 0 {
		t.Errorf("%d metrics for a missing directory, want 0", n)
	}
}

// TestCertificates: each known certificate's end of validity, in Unix
// seconds, read at each scrape; an unknown one is left out.
func TestCertificates(t *testing.T) {
	c := NewCertificates()
	end := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	known := false
	c.Add("server", func() (time.Time, bool) { return end, true })
	c.Add("internal-client", func() (time.Time, bool) { return end.Add(time.Hour), known })
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	head := `# HELP basalt_tls_certificate_expiry_timestamp_seconds When the certificate expires (Unix seconds): server (the one --addr serves), internal-client (--internal-cert).
# TYPE basalt_tls_certificate_expiry_timestamp_seconds gauge
`
	series := func(name string, at time.Time) string {
		return fmt.Sprintf("basalt_tls_certificate_expiry_timestamp_seconds{certificate=%q} %d\n", name, at.Unix())
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(head+series("server", end))); err != nil {
		t.Error(err)
	}
	known, end = true, end.Add(24*time.Hour)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(head+series("internal-client", end.Add(time.Hour))+series("server", end))); err != nil {
		t.Error(err)
	}
}
