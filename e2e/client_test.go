package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/app"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

// client is a small HTTP client for scenarios. It sends its bearer token,
// if it has one, with every request that does not set Authorization itself.
type client struct {
	t     *testing.T
	base  string
	http  *http.Client
	token string // access token or API key; "" for an anonymous client
}

// as returns a client for the same server that sends token ("" for none).
func (c *client) as(token string) *client {
	cp := *c
	cp.token = token
	return &cp
}

// anonymous returns a client for the same server that sends no credentials.
func (c *client) anonymous() *client { return c.as("") }

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// newRequest is a request of the scenarios: a body that is not empty is
// sent as application/json, a token that is not empty as the bearer token,
// and headers are name, value pairs set last.
func newRequest(ctx context.Context, method, u, body, token string, headers ...string) (*http.Request, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req, nil
}

func (c *client) do(method, path string, body string, headers ...string) response {
	c.t.Helper()
	req, err := newRequest(c.t.Context(), method, c.base+path, body, c.token, headers...)
	if err != nil {
		c.t.Fatal(err)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func (c *client) must(status int, method, path, body string, headers ...string) response {
	c.t.Helper()
	r := c.do(method, path, body, headers...)
	if r.Status != status {
		c.t.Fatalf("%s %s: status %d, want %d\n%s", method, path, r.Status, status, r.Body)
	}
	return r
}

// engines are the storage engines every scenario runs on.
var engines = []string{"sqlite", "postgres"}

// forEachEngine runs a scenario as a subtest per engine.
func forEachEngine(t *testing.T, scenario func(t *testing.T, engine string)) {
	for _, e := range engines {
		t.Run("engine="+e, func(t *testing.T) { scenario(t, e) })
	}
}

// startApp runs app.Run on 127.0.0.1:0 with a fresh data directory (and,
// for postgres, a fresh database) in which it has created the admin
// account (adminEmail), and returns a client logged in as the admin. The
// server stops when the test ends.
func startApp(t *testing.T, engine string) (*client, *syncBuffer) {
	t.Helper()
	c, _, logs := serveApp(t, engine, true)
	return c.as(c.login(adminEmail, adminPassword).AccessToken), logs
}

// metricsToken is the --metrics-token of the servers of the scenarios.
const metricsToken = "e2e-metrics-token-0123456789"

// serveApp runs app.Run like startApp and returns an anonymous client, the
// server's configuration and its logs. With withAdmin, app.CreateAdmin
// creates the admin account (adminEmail, adminPassword) before the server
// starts; without, the database has no account at all. The server serves
// /metrics to metricsToken; configure changes the configuration further.
func serveApp(t *testing.T, engine string, withAdmin bool, configure ...func(*app.Config)) (*client, app.Config, *syncBuffer) {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.MetricsToken = metricsToken
	// Every client of the scenarios is 127.0.0.1, standing for many users:
	// it may use the whole hashing budget.
	cfg.Auth.PasswordIPShare = 1
	if engine == "postgres" {
		cfg.DB = pgtest.URL(t)
	}
	for _, f := range configure {
		f(&cfg)
	}
	logs := &syncBuffer{}
	cfg.Logs = logs
	if withAdmin {
		admin := cfg
		admin.Admin = app.AdminAccount{Email: adminEmail, Password: adminPassword}
		if err := app.CreateAdmin(t.Context(), admin); err != nil {
			t.Fatalf("app.CreateAdmin: %v\n%s", err, logs.String())
		}
	}
	a := runApp(t, cfg)
	scheme := "http://"
	if cfg.TLSCert != "" {
		scheme = "https://" // the client needs the server's CA: see serveBrowserApp
	}
	return &client{t: t, base: scheme + a, http: &http.Client{Timeout: 30 * time.Second}}, cfg, logs
}

// runApp runs app.Run with cfg until the test ends and returns the
// address it serves on.
func runApp(t *testing.T, cfg app.Config) string {
	t.Helper()
	addr := make(chan string, 1)
	cfg.Ready = func(a string) { addr <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() {
		runErr = app.Run(ctx, cfg)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
			if runErr != nil {
				t.Errorf("app.Run: %v", runErr)
			}
		case <-time.After(30 * time.Second):
			t.Error("app.Run did not stop within 30s")
		}
	})
	select {
	case a := <-addr:
		return a
	case <-done:
		t.Fatalf("app.Run returned before serving: %v", runErr)
	case <-time.After(30 * time.Second):
		t.Fatal("app.Run did not start within 30s")
	}
	return ""
}

// serveSplitApp is serveApp on PostgreSQL as a split deployment in this
// process: app.Run of the accounts component, of the documents component
// and of the gateway, each reaching the others over gRPC. The client is
// the gateway's; the admin account exists.
func serveSplitApp(t *testing.T, configure ...func(*app.Config)) *client {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.MetricsToken = metricsToken
	cfg.Auth.PasswordIPShare = 1
	cfg.DB = pgtest.URL(t)
	for _, f := range configure {
		f(&cfg)
	}
	logs := &syncBuffer{}
	cfg.Logs = logs
	admin := cfg
	admin.DataDir = filepath.Join(t.TempDir(), "admin")
	admin.Admin = app.AdminAccount{Email: adminEmail, Password: adminPassword}
	if err := app.CreateAdmin(t.Context(), admin); err != nil {
		t.Fatalf("app.CreateAdmin: %v\n%s", err, logs.String())
	}
	cfg.Split.InternalToken = strings.Repeat("split-deployment-token-", 2)
	component := func(target string, urls ...string) string {
		c := cfg
		c.DataDir = filepath.Join(t.TempDir(), target)
		c.Split.Targets = []string{target}
		for i := 0; i+1 < len(urls); i += 2 {
			switch urls[i] {
			case app.TargetDocuments:
				c.Split.DocumentsURL = "http://" + urls[i+1]
			case app.TargetAccounts:
				c.Split.AccountsURL = "http://" + urls[i+1]
			}
		}
		return runApp(t, c)
	}
	acc := component(app.TargetAccounts)
	docs := component(app.TargetDocuments, app.TargetAccounts, acc)
	gw := component(app.TargetGateway, app.TargetDocuments, docs, app.TargetAccounts, acc)
	return &client{t: t, base: "http://" + gw, http: &http.Client{Timeout: 30 * time.Second}}
}
