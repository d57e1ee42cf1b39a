package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/gateway"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
	"github.com/basaltdev/basalt/internal/telemetry"
)

// BenchmarkGetByID measures what CORS and compression cost get-by-id: it
// serves GET …/documents/{id} through the real REST API over SQLite, as
// the load generator's get scenario does, through two handler chains:
// bare, the middleware alone, and full, which adds CORS (the request's
// origin allowed) and compression. Each iteration serves the same request
// through both, in alternating order, so a machine busy with other work
// slows both alike; it reports each chain's median time per request and
// overhead-%, how much longer full's median is than bare's:
//
//	go test -run '^$' -bench BenchmarkGetByID -count 10 ./internal/gateway/ > bench.txt
//	benchstat bench.txt
//
// doc=bench is the load generator's document (about 250 bytes, below the
// compression threshold), doc=4KiB one that is compressed. headers=bench
// are the load generator's request headers, headers=browser a browser's
// (Origin, Accept-Encoding with zstd). The /http variants send the
// requests over HTTP/1.1 on loopback instead of calling the handlers, so
// the time includes the server's and the client's work.
func BenchmarkGetByID(b *testing.B) {
	store, err := sqlite.Open(b.Context(), sqlite.Options{Path: filepath.Join(b.TempDir(), "basalt.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	svc, err := docstore.NewService(store, docstore.Options{CursorKey: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		b.Fatal(err)
	}
	admin := auth.WithPrincipal(b.Context(), auth.System())
	everyone := ""
	_, err = svc.CreateCollection(admin, docstore.CollectionSpec{
		Name: "bench",
		Schema: json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"score":{"type":"integer"},` +
			`"tags":{"type":"array","items":{"type":"string"}},"owner":{"type":"string"},"body":{"type":"string"}},"required":["title","score"]}`),
		Indexes: []docstore.Index{{Fields: []string{"score"}}},
		Rules:   docstore.Rules{List: &everyone, Get: &everyone, Create: &everyone, Update: &everyone, Delete: &everyone},
	})
	if err != nil {
		b.Fatal(err)
	}
	const n = 256
	for i := range n {
		for _, size := range []string{"bench", "4KiB"} {
			data := docstore.Data{"title": "bench document " + strconv.Itoa(i), "score": json.Number(strconv.Itoa(i % 1000)),
				"tags": []any{"rock", "lava"}, "owner": "u" + strconv.Itoa(i%100)}
			if size == "4KiB" {
				data["body"] = strings.Repeat("Basalt is a fine-grained volcanic rock. ", 100)
			}
			if _, err := svc.CreateDocument(admin, docstore.CreateRequest{Collection: "bench", ID: size + "-" + strconv.Itoa(i), Data: data}); err != nil {
				b.Fatal(err)
			}
		}
	}
	mux := http.NewServeMux()
	restapi.New(svc, restapi.Options{Logger: slog.New(slog.DiscardHandler)}).Register(mux)
	mux.Handle("/", restapi.NotFoundHandler())
	chain := func(cfg gateway.HandlerConfig) http.Handler {
		mw, err := gateway.NewMiddleware(gateway.MiddlewareOptions{
			Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(), Buckets: telemetry.LatencyBuckets,
			Fallbacks: []string{"/"}, Problem: restapi.WriteStatusProblem,
		})
		if err != nil {
			b.Fatal(err)
		}
		h, err := gateway.NewHandler(mw, mux, cfg)
		if err != nil {
			b.Fatal(err)
		}
		return h
	}
	bare := chain(gateway.HandlerConfig{})
	full := chain(gateway.HandlerConfig{CORSOrigins: []string{"https://app.example.com"}, CompressMinBytes: gateway.DefaultCompressMinBytes})
	headerSets := map[string]http.Header{
		"bench": {"Accept": {"application/json"}}, // what the load generator sends
		"browser": {"Accept": {"application/json"}, "Accept-Encoding": {"gzip, deflate, br, zstd"},
			"Origin": {"https://app.example.com"}},
	}
	paired := func(b *testing.B, serve func(full bool, i int) time.Duration) {
		var bareTimes, fullTimes []time.Duration
		i := 0
		for b.Loop() {
			if i%2 == 0 {
				bareTimes = append(bareTimes, serve(false, i))
				fullTimes = append(fullTimes, serve(true, i))
			} else {
				fullTimes = append(fullTimes, serve(true, i))
				bareTimes = append(bareTimes, serve(false, i))
			}
			i++
		}
		tBare, tFull := median(bareTimes), median(fullTimes)
		b.ReportMetric(float64(tBare.Nanoseconds()), "bare-ns/op")
		b.ReportMetric(float64(tFull.Nanoseconds()), "full-ns/op")
		b.ReportMetric(100*(float64(tFull)/float64(tBare)-1), "overhead-%")
	}

	for _, c := range []struct{ doc, headers string }{{"bench", "bench"}, {"bench", "browser"}, {"4KiB", "browser"}} {
		reqs := make([]*http.Request, n)
		for i := range reqs {
			r, err := http.NewRequestWithContext(b.Context(), "GET", fmt.Sprintf("/v1/collections/bench/documents/%s-%d", c.doc, i), nil)
			if err != nil {
				b.Fatal(err)
			}
			r.Header = headerSets[c.headers].Clone()
			reqs[i] = r
		}
		b.Run("doc="+c.doc+"/headers="+c.headers, func(b *testing.B) {
			w := &discardWriter{header: http.Header{}}
			paired(b, func(useFull bool, i int) time.Duration {
				h := bare
				if useFull {
					h = full
				}
				clear(w.header)
				w.status = 0
				start := time.Now()
				h.ServeHTTP(w, reqs[i%n])
				d := time.Since(start)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
				return d
			})
		})
	}

	// Over HTTP/1.1 on loopback, as the load generator sends get: the
	// server's and the client's work included.
	bareSrv, fullSrv := httptest.NewServer(bare), httptest.NewServer(full)
	defer bareSrv.Close()
	defer fullSrv.Close()
	for _, headers := range []string{"bench", "browser"} {
		b.Run("doc=bench/headers="+headers+"/http", func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
			defer client.CloseIdleConnections()
			paired(b, func(useFull bool, i int) time.Duration {
				base := bareSrv.URL
				if useFull {
					base = fullSrv.URL
				}
				r, err := http.NewRequestWithContext(b.Context(), "GET", base+"/v1/collections/bench/documents/bench-"+strconv.Itoa(i%n), nil)
				if err != nil {
					b.Fatal(err)
				}
				r.Header = headerSets[headers].Clone()
				start := time.Now()
				res, err := client.Do(r)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				d := time.Since(start)
				if res.StatusCode != http.StatusOK {
					b.Fatalf("status %d", res.StatusCode)
				}
				return d
			})
		})
	}
}

// median returns the middle of ds, which it sorts: unlike the mean, it
// ignores the requests that a preemption or a collection happened to hit.
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}
