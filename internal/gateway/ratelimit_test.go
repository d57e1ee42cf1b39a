package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/apilimit"
	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
	"github.com/basaltdev/basalt/internal/telemetry"
)

const limitedRoute = "GET /v1/collections/{collection}/documents/{id}"

// tokens authenticates "user-<id>" as that account.
type tokens struct{}

func (tokens) Authenticate(_ context.Context, credential string) (auth.Principal, error) {
	if id, ok := strings.CutPrefix(credential, "user-"); ok {
		return auth.Principal{Kind: auth.KindUser, ID: id}, nil
	}
	return auth.Principal{}, fault.New(fault.Unauthenticated, "test", "invalid credential")
}

// limitedChain is the gateway's handler chain (CORS for origin included)
// over one route that answers 200 behind the rate limits of specs (none
// when specs is nil).
func limitedChain(tb testing.TB, origin string, specs []string) http.Handler {
	tb.Helper()
	var lim restapi.Limits
	if specs != nil {
		cfg := apilimit.DefaultConfig()
		for _, s := range specs {
			if err := cfg.Set(s); err != nil {
				tb.Fatal(err)
			}
		}
		l, err := apilimit.New(apilimit.Options{Config: cfg, Limiter: memory.New(time.Now, 100_000)})
		if err != nil {
			tb.Fatal(err)
		}
		lim = l
	}
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"1"}`)
	})
	mux.Handle(limitedRoute, restapi.NewResponder("test", nil).Guard(limitedRoute, lim, tokens{}, ok))
	mw, err := gateway.NewMiddleware(gateway.MiddlewareOptions{
		Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(), Buckets: telemetry.LatencyBuckets,
		Fallbacks: []string{"/"}, Problem: restapi.WriteStatusProblem,
	})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := gateway.HandlerConfig{CompressMinBytes: gateway.DefaultCompressMinBytes}
	if origin != "" {
		cfg.CORSOrigins = []string{origin}
	}
	h, err := gateway.NewHandler(mw, mux, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// TestCORSExposesRateLimits: a browser app reads the rate-limit fields of
// an allowed answer and of a 429.
func TestCORSExposesRateLimits(t *testing.T) {
	const app = "https://app.example.com"
	h := limitedChain(t, app, []string{"read:account=1/1h:1"})
	for i, want := range []int{200, 429} {
		r := httptest.NewRequest("GET", "/v1/collections/posts/documents/1", nil)
		r.Header.Set("Origin", app)
		r.Header.Set("Authorization", "Bearer user-ada")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Fatalf("request %d: %d, want %d", i, w.Code, want)
		}
		var exposed []string
		for f := range strings.SplitSeq(w.Header().Get("Access-Control-Expose-Headers"), ",") {
			exposed = append(exposed, strings.ToLower(strings.TrimSpace(f)))
		}
		for _, name := range []string{"ratelimit", "ratelimit-policy", "retry-after"} {
			if !slices.Contains(exposed, name) {
				t.Errorf("request %d: Access-Control-Expose-Headers %q lacks %s", i, w.Header().Get("Access-Control-Expose-Headers"), name)
			}
			if name != "retry-after" || want == 429 {
				if w.Header().Get(name) == "" {
					t.Errorf("request %d: no %s", i, name)
				}
			}
		}
	}
}

// BenchmarkRateLimit measures what the API-wide limits cost a request:
// the gateway's chain over a route that answers at once, without limits
// and behind them (in-process limiter; the address's and the account's
// limits checked, never refusing), for 1,000 callers on 1,000 addresses.
// Each iteration serves the same request through both chains, in
// alternating order, so a machine busy with other work slows both alike;
// it reports each chain's median time per request and the difference:
//
//	go test -run '^$' -bench BenchmarkRateLimit -count 10 ./internal/gateway/
func BenchmarkRateLimit(b *testing.B) {
	const callers = 1000
	reqs := make([]*http.Request, callers)
	for i := range reqs {
		r := httptest.NewRequest("GET", "/v1/collections/posts/documents/1", nil)
		r.RemoteAddr = "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256) + ":4711"
		r.Header.Set("Authorization", "Bearer user-"+strconv.Itoa(i))
		reqs[i] = r
	}
	never := []string{"read:ip=1000000/1s:1000000", "read:account=1000000/1s:1000000"}
	bare, limited := limitedChain(b, "", nil), limitedChain(b, "", never)
	w := &discardWriter{header: http.Header{}}
	serve := func(h http.Handler, i int) time.Duration {
		clear(w.header)
		w.status = 0
		start := time.Now()
		h.ServeHTTP(w, reqs[i%callers])
		d := time.Since(start)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
		return d
	}
	var bareTimes, limitedTimes []time.Duration
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			bareTimes = append(bareTimes, serve(bare, i))
			limitedTimes = append(limitedTimes, serve(limited, i))
		} else {
			limitedTimes = append(limitedTimes, serve(limited, i))
			bareTimes = append(bareTimes, serve(bare, i))
		}
		i++
	}
	tBare, tLimited := median(bareTimes), median(limitedTimes)
	b.ReportMetric(float64(tBare.Nanoseconds()), "bare-ns/op")
	b.ReportMetric(float64(tLimited.Nanoseconds()), "limited-ns/op")
	b.ReportMetric(float64((tLimited - tBare).Nanoseconds()), "limits-ns/op")
}
