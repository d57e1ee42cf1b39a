package timing_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
	"github.com/basaltdev/basalt/internal/storage/timing"
)

func TestObservesEveryCallWithItsOutcome(t *testing.T) {
	raw, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	reg := prometheus.NewRegistry()
	s, err := timing.New(raw, "sqlite", reg, []float64{0.001, 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCollection(ctx, "missing"); err == nil {
		t.Fatal("missing collection found")
	}
	if err := s.Write(ctx, func(docstore.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PurgeIdempotency(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"ping/ok": 1, "get_collection/not_found": 1, "write/ok": 1, "purge_idempotency/ok": 1}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["engine"] != "sqlite" {
				t.Errorf("engine label = %q", labels["engine"])
			}
			got[labels["operation"]+"/"+labels["outcome"]] = int(m.GetHistogram().GetSampleCount())
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s observed %d times, want %d (all: %v)", k, got[k], n, got)
		}
	}
	if n := testutil.CollectAndCount(reg, "basalt_db_duration_seconds"); n != len(want) {
		t.Errorf("%d series, want %d", n, len(want))
	}
}
