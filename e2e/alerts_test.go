package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

// TestAlertsFireInPrometheus runs a real Prometheus server (Debian's
// package) scraping three live Basalt processes with the shipped rules
// (deploy/prometheus), induces three incidents for real, and watches each
// alert reach firing through Prometheus's API, then resolve after
// recovery:
//
//   - basalt-a's PostgreSQL is stopped: BasaltDatabaseDown;
//   - basalt-b's documents table is locked while reads arrive, so they
//     answer after seconds: the read class burns its latency budget,
//     BasaltLatencyBudgetBurn (page);
//   - basalt-c's revocations table is locked: its revocation feed stalls,
//     BasaltRevocationFeedStale.
//
// Each process has a database of its own and a scrape job of its own, so
// each incident's alert names its job only.
func TestAlertsFireInPrometheus(t *testing.T) {
	t.Parallel() // mostly waiting out the rules' "for"
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus is not installed (Debian: apt-get install prometheus); the alerts cannot be tested end to end")
	}
	const token = "alerts-metrics-token-0123456789"
	cluster := pgtest.StartCluster(t)
	urlB, urlC := pgtest.URL(t), pgtest.URL(t)
	common := []string{"--metrics-token", token, "--db-acquire-timeout", "1s", "--db-statement-timeout", "10s"}
	dirA, dirB, dirC := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b"), filepath.Join(t.TempDir(), "c")
	waitA := launch(t, dirA, append([]string{"--db", cluster.AdminURL()}, common...)...)
	waitB := launch(t, dirB, append([]string{"--db", urlB, "--no-cache"}, common...)...) // every read a query
	waitC := launch(t, dirC, append([]string{"--db", urlC}, common...)...)
	a, b, c := waitA(), waitB(), waitC()
	actAsAdmin(t, []string{"--data-dir", dirB, "--db", urlB}, b)
	cb := b.client(t)
	cb.must(201, "POST", "/v1/collections", `{"name":"notes","schema":{"type":"object"}}`)
	cb.must(201, "POST", "/v1/collections/notes/documents", `{"title":"basalt"}`)

	prom := startPrometheus(t, promBin, token, map[string]string{"basalt-a": a.addr, "basalt-b": b.addr, "basalt-c": c.addr})
	prom.waitFor(t, 60*time.Second, "the three processes scraped", func(q *promClient) bool {
		up := q.query(t, `count(up{job=~"basalt-.*"} == 1)`)
		return up == 3
	})

	// basalt-b: fast reads, then eight that wait on a lock for two
	// seconds.
	read := func() { cb.must(200, "GET", "/v1/collections/notes/documents", "") }
	// A counter's first sample shows no increase (rate() sees none), so
	// the reads' series must be scraped before the reads that count.
	read()
	prom.waitFor(t, 60*time.Second, "basalt-b's reads scraped twice", func(q *promClient) bool {
		return q.query(t, `max(count_over_time(basalt_http_request_duration_seconds_count{job="basalt-b",class="read",code="200"}[1m]))`) >= 2
	})
	for range 30 {
		read()
	}
	lockB := lockTable(t, urlB, "docs_notes")
	var slow sync.WaitGroup
	for range 8 {
		slow.Go(read)
	}
	<-time.After(2 * time.Second)
	lockB.release(t)
	slow.Wait()

	// basalt-a: PostgreSQL goes away; basalt-c: the revocation feed
	// cannot be read.
	cluster.Stop(t)
	lockC := lockTable(t, urlC, "revocations")

	fired := map[string]time.Duration{}
	start := time.Now()
	want := []struct{ alert, job string }{
		{"BasaltLatencyBudgetBurn", "basalt-b"},
		{"BasaltDatabaseDown", "basalt-a"},
		{"BasaltRevocationFeedStale", "basalt-c"},
	}
	prom.waitFor(t, 4*time.Minute, "the three alerts firing", func(q *promClient) bool {
		for _, w := range want {
			if _, ok := fired[w.alert]; !ok && q.firing(t, w.alert, w.job) {
				fired[w.alert] = time.Since(start)
			}
		}
		return len(fired) == len(want)
	})
	t.Logf("alerts firing after: %v", fired)
	// The database's and the latency's alerts name no other process (a
	// process without its database cannot read the revocation feed
	// either: basalt-a's may be stale too).
	for _, w := range want[:2] {
		for _, job := range []string{"basalt-a", "basalt-b", "basalt-c"} {
			if job != w.job && prom.firing(t, w.alert, job) {
				t.Errorf("%s fires for %s, which had no such incident", w.alert, job)
			}
		}
	}

	// Recovery: PostgreSQL back, the lock released, and fast reads that
	// bring basalt-b's share of slow reads back under its budget.
	cluster.Start(t)
	lockC.release(t)
	resolved := map[string]time.Duration{}
	start = time.Now()
	reads := 0
	prom.waitFor(t, 4*time.Minute, "the three alerts resolved", func(q *promClient) bool {
		if _, ok := resolved["BasaltLatencyBudgetBurn"]; !ok && reads < 5000 {
			for range 20 {
				read()
				reads++
			}
		}
		for _, w := range want {
			if _, ok := resolved[w.alert]; !ok && !q.firing(t, w.alert, w.job) && !q.pending(t, w.alert, w.job) {
				resolved[w.alert] = time.Since(start)
			}
		}
		return len(resolved) == len(want)
	})
	t.Logf("alerts resolved after: %v (%d fast reads on basalt-b)", resolved, reads)
}

// lock is a table locked by an open transaction.
type lock struct {
	conn *pgx.Conn
	tx   pgx.Tx
}

// lockTable locks table in ACCESS EXCLUSIVE mode (every read waits) in a
// transaction of its own, until release.
func lockTable(t *testing.T, url, table string) *lock {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{table}.Sanitize()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	return &lock{conn: conn, tx: tx}
}

func (l *lock) release(t *testing.T) {
	t.Helper()
	if err := l.tx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// promClient reads a Prometheus server's HTTP API.
type promClient struct {
	base string
	http *http.Client
}

// startPrometheus runs Prometheus on a free port of 127.0.0.1, scraping
// each job's target every 2 s with the metrics token and evaluating the
// shipped rules every second, until the test ends.
func startPrometheus(t *testing.T, bin, token string, jobs map[string]string) *promClient {
	t.Helper()
	dir := t.TempDir()
	rules := []string{}
	for _, f := range []string{"slo.rules.yaml", "alerts.rules.yaml"} {
		p, err := filepath.Abs(filepath.Join("..", "deploy", "prometheus", f))
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, strconv.Quote(p))
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n  evaluation_interval: 1s\n")
	fmt.Fprintf(&cfg, "rule_files: [%s]\n", strings.Join(rules, ", "))
	fmt.Fprintf(&cfg, "scrape_configs:\n")
	for job, addr := range jobs {
		fmt.Fprintf(&cfg, "  - job_name: %s\n    authorization:\n      credentials: %s\n    static_configs:\n      - targets: [%q]\n", job, token, addr)
	}
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	logs := &syncBuffer{}
	cmd := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("prometheus:\n%s", logs.String())
		}
	})
	p := &promClient{base: "http://" + addr, http: &http.Client{Timeout: 10 * time.Second}}
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if res, err := p.http.Get(p.base + "/-/ready"); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-done:
			t.Fatalf("prometheus exited:\n%s", logs.String())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus was not ready within 60s:\n%s", logs.String())
		}
	}
}

// get decodes the data of an API answer into v.
func (p *promClient) get(t *testing.T, path string, v any) {
	t.Helper()
	res, err := p.http.Get(p.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("GET %s: %d %v %s", path, res.StatusCode, err, body.Error)
	}
	if err := json.Unmarshal(body.Data, v); err != nil {
		t.Fatal(err)
	}
}

// query returns the value of an instant query with one result, or -1.
func (p *promClient) query(t *testing.T, expr string) float64 {
	t.Helper()
	var data struct {
		Result []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	p.get(t, "/api/v1/query?query="+url.QueryEscape(expr), &data)
	if len(data.Result) != 1 {
		return -1
	}
	s, _ := data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return -1
	}
	return v
}

// state reports whether Prometheus holds the alert for job in state
// (firing or pending); a page for the objectives' alerts.
func (p *promClient) state(t *testing.T, alert, job, state string) bool {
	t.Helper()
	var data struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	p.get(t, "/api/v1/alerts", &data)
	for _, a := range data.Alerts {
		if a.Labels["alertname"] == alert && a.Labels["job"] == job && a.State == state {
			if sev := a.Labels["severity"]; strings.HasSuffix(alert, "BudgetBurn") && sev != "page" {
				continue
			}
			return true
		}
	}
	return false
}

func (p *promClient) firing(t *testing.T, alert, job string) bool {
	return p.state(t, alert, job, "firing")
}

func (p *promClient) pending(t *testing.T, alert, job string) bool {
	return p.state(t, alert, job, "pending")
}

// waitFor polls cond every half second until it holds or limit passes.
func (p *promClient) waitFor(t *testing.T, limit time.Duration, what string, cond func(*promClient) bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for !cond(p) {
		if time.Now().After(deadline) {
			var data any
			p.get(t, "/api/v1/alerts", &data)
			t.Fatalf("timed out after %v waiting for %s; alerts: %v", limit, what, data)
		}
		<-tick.C
	}
}
