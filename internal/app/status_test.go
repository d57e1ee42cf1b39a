package app

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// statusFixture is what a PostgreSQL process with a full pool, a stale
// revocation feed and a dead letter exports.
const statusFixture = `# TYPE basalt_dependency_up gauge
basalt_dependency_up{dependency="database"} 1
basalt_dependency_up{dependency="redis"} 0
# TYPE basalt_dependency_check_duration_seconds gauge
basalt_dependency_check_duration_seconds{dependency="database"} 0.002
basalt_dependency_check_duration_seconds{dependency="redis"} 1
# TYPE basalt_db_pool_max_conns gauge
basalt_db_pool_max_conns 8
# TYPE basalt_db_pool_acquired_conns gauge
basalt_db_pool_acquired_conns 8
# TYPE basalt_db_pool_empty_acquires_total counter
basalt_db_pool_empty_acquires_total 120
# TYPE basalt_db_pool_canceled_acquires_total counter
basalt_db_pool_canceled_acquires_total 3
# TYPE basalt_db_pool_acquire_wait_seconds_total counter
basalt_db_pool_acquire_wait_seconds_total 14.5
# TYPE basalt_db_migration_version gauge
basalt_db_migration_version 10
# TYPE basalt_revocation_feed_age_seconds gauge
basalt_revocation_feed_age_seconds 42.5
# TYPE basalt_revocation_entries gauge
basalt_revocation_entries 7
# TYPE basalt_revocation_poll_errors_total counter
basalt_revocation_poll_errors_total 200
# TYPE basalt_consumer_lag_events gauge
basalt_consumer_lag_events{consumer="webhooks"} 12
basalt_consumer_lag_events{consumer="search-embedder"} 0
# TYPE basalt_consumer_dead_letters gauge
basalt_consumer_dead_letters{consumer="webhooks"} 1
basalt_consumer_dead_letters{consumer="search-embedder"} 0
# TYPE basalt_tls_certificate_expiry_timestamp_seconds gauge
basalt_tls_certificate_expiry_timestamp_seconds{certificate="server"} 1.8039024e+09
# TYPE basalt_http_requests_total counter
basalt_http_requests_total{class="read",code="200",method="GET",route="GET /v1/collections"} 90
basalt_http_requests_total{class="read",code="503",method="GET",route="GET /v1/collections"} 10
basalt_http_requests_total{class="read",code="500",method="GET",route="GET /v1/collections/{collection}"} 1
basalt_http_requests_total{class="write",code="201",method="POST",route="POST /v1/batch"} 5
basalt_http_requests_total{class="other",code="200",method="GET",route="GET /healthz"} 50
`

func statusServer(t *testing.T, ready int, token string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(ready)
		if ready == http.StatusOK {
			_, _ = w.Write([]byte(`{"status":"ready","checks":{"database":"ok","accounts":"ok"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"not ready","checks":{"database":"unavailable","accounts":"ok"}}`))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(statusFixture))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestStatusReport: the report reads each section from the metrics, and
// prints what an operator needs to see.
func TestStatusReport(t *testing.T) {
	srv := statusServer(t, http.StatusOK, "tok")
	st, err := ReadStatus(t.Context(), StatusConfig{Server: srv.URL + "/", MetricsToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Ready != "ready" || !st.Metrics || st.Checks["database"] != "ok" {
		t.Fatalf("status %+v", st)
	}
	if len(st.Dependencies) != 2 || !st.Dependencies[0].Up || st.Dependencies[1].Up || st.Dependencies[1].Name != "redis" {
		t.Errorf("dependencies %+v", st.Dependencies)
	}
	if p := st.Pool; p == nil || p.InUse != 8 || p.Max != 8 || p.Waits != 120 || p.Canceled != 3 {
		t.Errorf("pool %+v", p)
	}
	if st.Migration == nil || *st.Migration != 10 {
		t.Errorf("migration %v", st.Migration)
	}
	if r := st.Revocations; r == nil || r.AgeSeconds != 42.5 || r.PollErrors != 200 {
		t.Errorf("revocations %+v", r)
	}
	if len(st.Consumers) != 2 || st.Consumers[1] != (StatusConsumer{Name: "webhooks", Lag: 12, DeadLetters: 1}) {
		t.Errorf("consumers %+v", st.Consumers)
	}
	if len(st.Requests) != 2 || st.Requests[0] != (StatusClass{Class: "read", Requests: 101, ServerErrors: 11}) {
		t.Errorf("requests %+v", st.Requests)
	}
	if st.Outbox != nil || st.DataDir != nil || st.Passwords != nil {
		t.Errorf("sections the process does not export: %+v %+v %+v", st.Outbox, st.DataDir, st.Passwords)
	}
	var out bytes.Buffer
	if err := st.write(&out, time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"dependency redis          DOWN (checked in 1s)",
		"database pool             8 of 8 connections in use; since start 120 acquisitions waited (14.5s in all), 3 gave up",
		"migrations                version 10",
		"revocation feed           read 42.5s ago; 7 revocations held; 200 failed polls since start",
		"consumer webhooks         lag 12 events; 1 dead letters",
		"certificate server        expires 2027-03-01T12:00:00Z (in 85 days)",
		"requests read             101 since start, 11 server errors (5xx)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestStatusNotReady: a process that is not ready, or cannot be reached,
// ends the command with an error (a non-zero exit) after the report; a
// missing token is reported, not fatal.
func TestStatusNotReady(t *testing.T) {
	srv := statusServer(t, http.StatusServiceUnavailable, "tok")
	var out bytes.Buffer
	cfg := DefaultConfig()
	cfg.Status = StatusConfig{Server: srv.URL}
	if err := PrintStatus(context.Background(), cfg, &out); !errors.Is(err, errNotReady) {
		t.Errorf("PrintStatus = %v, want errNotReady", err)
	}
	for _, want := range []string{"not ready", "database  unavailable", "--metrics-token"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
	srv.Close()
	out.Reset()
	if err := PrintStatus(context.Background(), cfg, &out); err == nil || !strings.Contains(out.String(), "unreachable") {
		t.Errorf("PrintStatus of a stopped server = %v\n%s", err, out.String())
	}
	cfg.Status.Server = "ftp://example.com"
	if err := PrintStatus(context.Background(), cfg, &out); err == nil || !strings.Contains(err.Error(), "--server") {
		t.Errorf("PrintStatus with an ftp:// server = %v", err)
	}
}
