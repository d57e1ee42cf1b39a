package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/app"
)

// BenchmarkTracing measures what tracing costs a get by id, one request
// at a time over plain HTTP, on three `basalt serve` side by side: tracing
// off, on at 1 % sampling, and on at 100 %, both exporting over OTLP/HTTP
// to a local collector that accepts everything. Each iteration reads once
// from each server in rotating order; it reports each one's median time
// per request and their ratios (on-1%/off-% is how much slower 1 %
// sampling is). "off" alone is the get by id of a server without tracing,
// to hold against an earlier build's:
//
//	go test -run '^$' -bench 'BenchmarkTracing/paired' -count 6 ./internal/app/
func BenchmarkTracing(b *testing.B) {
	var exported atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		exported.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(collector.Close)
	b.Cleanup(func() { // after the servers stopped, which exports what they hold
		if exported.Load() == 0 {
			b.Error("the collector received no span: tracing on exported nothing")
		}
	})
	serve := func(endpoint string, ratio float64) string {
		cfg := app.DefaultConfig()
		cfg.Addr = "127.0.0.1:0"
		cfg.DataDir = filepath.Join(b.TempDir(), "data")
		cfg.Logs = io.Discard
		cfg.LogLevel = "error"
		cfg.RateLimits.Disabled = true
		cfg.Tracing = app.TracingConfig{Endpoint: endpoint, SampleRatio: ratio}
		return "http://" + serveForBenchmark(b, cfg)
	}
	tr := &http.Transport{DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	call := func(base, method, path, token string, body []byte) []byte {
		b.Helper()
		res, out := benchDo(b, hc, method, base+path, token, body)
		if res.StatusCode/100 != 2 {
			b.Fatalf("%s %s: %d %s", method, path, res.StatusCode, out)
		}
		return out
	}
	prepare := func(base string) func() {
		var login struct {
			AccessToken string `json:"accessToken"`
		}
		if err := json.Unmarshal(call(base, "POST", "/v1/auth/login", "", []byte(`{"email":"admin@basalt.test","password":"a password of the admin"}`)), &login); err != nil {
			b.Fatal(err)
		}
		call(base, "POST", "/v1/collections", login.AccessToken, []byte(`{"name":"bench","rules":{"get":""},"schema":{"type":"object"}}`))
		call(base, "POST", "/v1/collections/bench/documents?id=d1", login.AccessToken, []byte(`{"title":"a document","score":7}`))
		return func() { call(base, "GET", "/v1/collections/bench/documents/d1", "", nil) }
	}
	servers := []struct {
		name string
		get  func()
	}{
		{"off", prepare(serve("", 0))},
		{"on-1%", prepare(serve(collector.URL, 0.01))},
		{"on-100%", prepare(serve(collector.URL, 1))},
	}
	b.Run("paired", func(b *testing.B) {
		times := make([][]time.Duration, len(servers))
		i := 0
		for b.Loop() {
			for k := range servers {
				s := (i + k) % len(servers)
				start := time.Now()
				servers[s].get()
				times[s] = append(times[s], time.Since(start))
			}
			i++
		}
		off := median(times[0])
		for s, srv := range servers {
			m := median(times[s])
			b.ReportMetric(float64(m.Nanoseconds()), srv.name+"-ns/op")
			if s > 0 {
				b.ReportMetric(100*(float64(m)/float64(off)-1), srv.name+"/off-%")
			}
		}
	})
	b.Run("off", func(b *testing.B) {
		for b.Loop() {
			servers[0].get()
		}
	})
}
