package e2e

import (
	"crypto/rand"
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/app"
	"github.com/basaltdev/basalt/internal/buildinfo"
	"github.com/basaltdev/basalt/internal/tlstest"
)

// scrape reads the metrics at base+"/metrics" with the bearer token (none
// when ""), failing the test unless the answer is 200.
func scrape(t *testing.T, base, token string) string {
	t.Helper()
	c := &client{t: t, base: base, http: &http.Client{Timeout: 30 * time.Second}}
	r := c.as(token).must(200, "GET", "/metrics", "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("metrics Content-Type = %q", ct)
	}
	return string(r.Body)
}

// assertProblem checks that r is a problem+json answer with code.
func assertProblem(t *testing.T, r response, code string) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json; %s", ct, r.Body)
	}
	if p := r.JSON(t); p["code"] != code {
		t.Errorf("problem code = %v, want %s; %s", p["code"], code, r.Body)
	}
}

// TestMetricsAccess: /metrics is served only to the --metrics-token, or on
// the separate --metrics-addr; with neither it is not served at all.
func TestMetricsAccess(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		c, _, _ := serveApp(t, "sqlite", false, func(cfg *app.Config) { cfg.MetricsToken = "" })
		assertProblem(t, c.must(404, "GET", "/metrics", ""), "not_found")
		c.must(200, "GET", "/healthz", "")
	})

	t.Run("token", func(t *testing.T) {
		c, _, _ := serveApp(t, "sqlite", false)
		r := c.must(401, "GET", "/metrics", "")
		assertProblem(t, r, "unauthenticated")
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
		}
		assertProblem(t, c.as(metricsToken+"x").must(401, "GET", "/metrics", ""), "unauthenticated")
		assertProblem(t, c.as(metricsToken[:len(metricsToken)-1]).must(401, "GET", "/metrics", ""), "unauthenticated")
		assertProblem(t, c.must(401, "GET", "/metrics", "", "Authorization", "Basic "+metricsToken), "unauthenticated")
		body := scrape(t, c.base, metricsToken)
		// The security counters exist before anything happened.
		for _, want := range []string{
			`basalt_auth_refreshes_total{outcome="reuse"} 0`,
			`basalt_auth_logins_total{outcome="bad_credentials"} 0`,
			"basalt_http_requests_total",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})

	t.Run("separate address", func(t *testing.T) {
		metricsAddr := make(chan string, 1)
		c, _, _ := serveApp(t, "sqlite", false, func(cfg *app.Config) {
			cfg.MetricsToken = ""
			cfg.MetricsAddr = "127.0.0.1:0"
			cfg.MetricsReady = func(addr string) { metricsAddr <- addr }
		})
		assertProblem(t, c.must(404, "GET", "/metrics", "", "Authorization", "Bearer "+metricsToken), "not_found")
		var addr string
		select {
		case addr = <-metricsAddr:
		case <-time.After(30 * time.Second):
			t.Fatal("the metrics listener did not start")
		}
		m := &client{t: t, base: "http://" + addr, http: &http.Client{Timeout: 30 * time.Second}}
		if body := scrape(t, m.base, ""); !strings.Contains(body, "basalt_http_requests_total") {
			t.Errorf("metrics lack basalt_http_requests_total")
		}
		m.must(200, "GET", "/healthz", "")
		m.must(200, "GET", "/readyz", "")
		assertProblem(t, m.must(404, "GET", "/v1/collections", ""), "not_found")
	})
}

// TestMetricsSeriesAreBounded sends what any anonymous client can send —
// an unknown method of 3,000 bytes, random paths — to the real server and
// checks that the HTTP metrics get no new series from it.
func TestMetricsSeriesAreBounded(t *testing.T) {
	c, _, _ := serveApp(t, "sqlite", false)
	send := func(method, path string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, c.base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.http.Do(req)
		if err != nil {
			t.Fatalf("%.20s… %s: %v", method, path, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode < 400 {
			t.Fatalf("%.20s… %s: %d", method, path, res.StatusCode)
		}
	}
	series := regexp.MustCompile(`(?m)^basalt_http_requests_total\{.*$`)
	long := strings.Repeat("X", 3000)
	// One of each kind first: an unknown method and GET on an unknown path
	// outside and inside /v1, the unknown method on a known path, and a
	// scrape.
	for _, p := range []string{"/nowhere", "/v1/nowhere", "/v1/collections"} {
		send(long, p)
		if p != "/v1/collections" {
			send("GET", p)
		}
	}
	scrape(t, c.base, metricsToken)
	before := series.FindAllString(scrape(t, c.base, metricsToken), -1)
	for i := range 50 {
		send(long[:3000-i], "/"+rand.Text())
		send(long[:1+i], "/v1/"+rand.Text()+"/"+rand.Text())
		send("GET", "/v1/"+rand.Text())
		send("GET", "/"+rand.Text())
	}
	body := scrape(t, c.base, metricsToken)
	after := series.FindAllString(body, -1)
	if strings.Contains(body, "XXXX") {
		t.Error("a request method became a label")
	}
	if len(after) != len(before) {
		t.Errorf("%d request series before the hostile requests, %d after:\n%s", len(before), len(after), strings.Join(after, "\n"))
	}
	for _, s := range after {
		if !strings.Contains(s, `method="other"`) && !strings.Contains(s, `method="GET"`) {
			t.Errorf("unexpected series %s", s)
		}
	}
}

// TestMetricsForAlerts: the series the shipped alert rules read exist on
// a live server: requests by route class (a GraphQL mutation counts as a
// write, a query as a read, a login as auth, a health check as other),
// the dependencies answering, the data directory's space, the password
// hashes, and, with TLS, when the served certificate expires.
func TestMetricsForAlerts(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca := tlstest.NewCA(t)
	ca.Issue(t, 30, certFile, keyFile)
	c, _, _ := serveApp(t, "sqlite", true, func(cfg *app.Config) {
		cfg.TLSCert, cfg.TLSKey = certFile, keyFile
		cfg.Build = buildinfo.Read("v9.9.9-test", "", "")
		cfg.Version = cfg.Build.Version
	})
	c.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}}
	admin := c.as(c.login(adminEmail, adminPassword).AccessToken)
	admin.must(201, "POST", "/v1/collections", `{"name":"notes","schema":{"type":"object"}}`)
	if st, res := gql(t, admin, `mutation { notesCreate(data: {}) { id } }`, nil); st != 200 || res["errors"] != nil {
		t.Fatalf("mutation: %d %v", st, res)
	}
	if st, res := gql(t, admin, `{ notes { nodes { id } } }`, nil); st != 200 || res["errors"] != nil {
		t.Fatalf("query: %d %v", st, res)
	}
	c.must(200, "GET", "/healthz", "")
	body := string(c.as(metricsToken).must(200, "GET", "/metrics", "").Body)
	for _, want := range []string{
		`basalt_http_requests_total{class="auth",code="200",method="POST",route="POST /v1/auth/login"} 1`,
		`basalt_http_requests_total{class="write",code="201",method="POST",route="POST /v1/collections"} 1`,
		`basalt_http_requests_total{class="write",code="200",method="POST",route="POST /graphql"} 1`,
		`basalt_http_requests_total{class="read",code="200",method="POST",route="POST /graphql"} 1`,
		`basalt_http_requests_total{class="other",code="200",method="GET",route="GET /healthz"} 1`,
		`basalt_http_request_duration_seconds_bucket{class="read",code="200",method="POST",route="POST /graphql",le="0.25"} 1`,
		`basalt_dependency_up{dependency="database"} 1`,
		`basalt_password_hashes_total 1`,
		`basalt_password_hash_refusals_total{reason="budget"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, re := range []string{
		`(?m)^basalt_build_info\{commit="[0-9a-f]*",go_version="` + regexp.QuoteMeta(runtime.Version()) + `",version="v9\.9\.9-test"\} 1$`,
		`(?m)^basalt_db_migration_version [1-9][0-9]*$`,
		`(?m)^basalt_data_dir_available_bytes [0-9.e+]+$`,
		`(?m)^basalt_data_dir_capacity_bytes [0-9.e+]+$`,
		`(?m)^basalt_tls_certificate_expiry_timestamp_seconds\{certificate="server"\} ([0-9.e+]+)$`,
	} {
		if !regexp.MustCompile(re).MatchString(body) {
			t.Errorf("metrics lack %s", re)
		}
	}
	m := regexp.MustCompile(`(?m)^basalt_tls_certificate_expiry_timestamp_seconds\{certificate="server"\} ([0-9.e+]+)$`).FindStringSubmatch(body)
	if m != nil {
		v, _ := strconv.ParseFloat(m[1], 64)
		if until := time.Until(time.Unix(int64(v), 0)); until < 50*time.Minute || until > time.Hour {
			t.Errorf("the server certificate expires in %v, want the issued hour", until)
		}
	}
	if strings.Contains(body, `dependency="redis"`) || strings.Contains(body, `dependency="kafka"`) {
		t.Error("dependencies reported that this server does not use")
	}

	// basalt status reads the same process over TLS.
	caFile := filepath.Join(dir, "ca.crt")
	ca.WriteCert(t, caFile)
	st, err := app.ReadStatus(t.Context(), app.StatusConfig{Server: c.base, MetricsToken: metricsToken, CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	if st.Ready != "ready" || !st.Metrics || len(st.Dependencies) != 1 || !st.Dependencies[0].Up || st.Migration == nil ||
		st.DataDir == nil || st.Passwords == nil || st.Passwords.Hashes != 1 || len(st.Certificates) != 1 || st.Revocations == nil {
		t.Errorf("basalt status of the server: %+v", st)
	}
	if len(st.Requests) < 3 || st.Requests[0].Class != "read" || st.Requests[0].ServerErrors != 0 {
		t.Errorf("basalt status: requests %+v", st.Requests)
	}
}
