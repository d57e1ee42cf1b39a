package app

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/gateway/rpcapi"
)

// Where GET /metrics is served:
//
//   - with --metrics-addr, on that separate listener only (with /healthz and
//     /readyz), and there too only to --metrics-token when it is set;
//   - else with --metrics-token, on the main listener to that bearer token;
//   - else nowhere: the main listener answers 404, as for any unknown path.
//
// Metrics tell an attacker what the server does (logins failing, sessions
// revoked, routes and their latencies), so they are never public by
// default.

// minMetricsToken is the shortest --metrics-token accepted.
const minMetricsToken = 16

// validateMetricsToken checks a --metrics-token: empty, or 16 to 1024
// visible ASCII characters (it travels in an Authorization header).
func validateMetricsToken(token string) error {
	if token == "" {
		return nil
	}
	if len(token) < minMetricsToken || len(token) > 1024 {
		return fmt.Errorf("--metrics-token must have %d to 1024 characters", minMetricsToken)
	}
	for i := 0; i < len(token); i++ {
		if token[i] < 0x21 || token[i] > 0x7e {
			return errors.New("--metrics-token must be visible ASCII characters, without spaces")
		}
	}
	return nil
}

// metricsHandler serves the metrics of reg, to the bearer token only when
// token is set.
func metricsHandler(reg *prometheus.Registry, token string) http.Handler {
	// OpenMetrics, to a scraper that asks for it, carries the exemplars:
	// the trace of a sampled request beside its latency.
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true})
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !bearerMatches(r, want) {
			restapi.WriteProblem(w, r, fault.New(fault.Unauthenticated, "metrics",
				"the metrics need Authorization: Bearer <the --metrics-token>"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// bearerMatches reports whether r has one Authorization header, "Bearer
// <token>" with the token whose SHA-256 is want. The digests are compared
// in constant time, so the answer's timing tells nothing about the token,
// not even its length.
func bearerMatches(r *http.Request, want [sha256.Size]byte) bool {
	vs := r.Header.Values("Authorization")
	if len(vs) != 1 {
		return false
	}
	scheme, credential, ok := strings.Cut(vs[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimLeft(credential, " ")))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// mountMetrics adds GET /metrics to the main listener's mux when it is
// served there: with --metrics-token and no --metrics-addr.
func mountMetrics(mux *http.ServeMux, cfg Config, reg *prometheus.Registry, log *slog.Logger) {
	switch {
	case cfg.MetricsAddr != "":
	case cfg.MetricsToken != "":
		mux.Handle("GET /metrics", metricsHandler(reg, cfg.MetricsToken))
	default:
		log.Info("metrics are not served: set --metrics-token (to serve them on --addr to that bearer token) or --metrics-addr")
	}
}

// metricsListener returns the server of --metrics-addr, bound to its
// address, or a nil server without --metrics-addr. It serves /metrics,
// /healthz and /readyz (the main listener's readiness: readyz), and the
// gRPC health checks (the same readiness); every other path is a 404
// problem. It keeps serving while the main listener drains.
func metricsListener(cfg Config, reg *prometheus.Registry, mw *gateway.Middleware, readyz *readiness,
	log *slog.Logger) (*gateway.Server, error) {
	if cfg.MetricsAddr == "" {
		return nil, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler(reg, cfg.MetricsToken))
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", readyz)
	rpcapi.MountHealth(mux, readyz.ready)
	mux.Handle("/", restapi.NotFoundHandler())
	srv := gateway.NewServer(gateway.Config{Addr: cfg.MetricsAddr, DrainTimeout: cfg.DrainTimeout}, mw.Wrap(mux), log)
	addr, err := srv.Listen()
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	log.Info("metrics are served", "addr", addr.String(), "token", cfg.MetricsToken != "")
	if cfg.MetricsReady != nil {
		cfg.MetricsReady(addr.String())
	}
	return srv, nil
}

// healthz answers the liveness check.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// registerAll registers each collector with reg.
func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
