package app

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/gateway/graphqlapi"
)

func parse(t *testing.T, env map[string]string, args ...string) (Command, error) {
	t.Helper()
	var out bytes.Buffer
	return ParseCommandLine(args, func(k string) string { return env[k] }, &out, &out, func(int) {})
}

func TestConfigDefaults(t *testing.T) {
	cmd, err := parse(t, nil, "serve")
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	if cmd.Name != "serve" || cmd.Config.Addr != want.Addr || cmd.Config.DataDir != want.DataDir ||
		cmd.Config.SQLiteSynchronous != "full" || cmd.Config.MaxBodyBytes != 1<<20 || cmd.Config.DrainTimeout != 15*time.Second || cmd.Config.LogLevel != "info" {
		t.Fatalf("defaults = %+v", cmd.Config)
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "basalt.json")
	if err := os.WriteFile(file, []byte(`{"addr":"127.0.0.1:1001","data-dir":"/from/file","max-body-bytes":4096,"log-level":"warn","drain-timeout":"3s"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BASALT_ADDR": "127.0.0.1:1002", "BASALT_SQLITE_SYNCHRONOUS": "normal"}

	// file only
	cmd, err := parse(t, nil, "--config", file, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if c := cmd.Config; c.Addr != "127.0.0.1:1001" || c.DataDir != "/from/file" || c.MaxBodyBytes != 4096 || c.LogLevel != "warn" || c.DrainTimeout != 3*time.Second {
		t.Fatalf("file: %+v", c)
	}
	// env beats file
	cmd, err = parse(t, env, "--config", file, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if c := cmd.Config; c.Addr != "127.0.0.1:1002" || c.SQLiteSynchronous != "normal" || c.DataDir != "/from/file" {
		t.Fatalf("env over file: %+v", c)
	}
	// flag beats env and file; BASALT_CONFIG names the file
	env["BASALT_CONFIG"] = file
	cmd, err = parse(t, env, "serve", "--addr", "127.0.0.1:1003", "--data-dir=/from/flag")
	if err != nil {
		t.Fatal(err)
	}
	if c := cmd.Config; c.Addr != "127.0.0.1:1003" || c.DataDir != "/from/flag" || c.MaxBodyBytes != 4096 {
		t.Fatalf("flag over env: %+v", c)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.json")
	_ = os.WriteFile(typo, []byte(`{"adr":"x"}`), 0o600)
	broken := filepath.Join(dir, "broken.json")
	_ = os.WriteFile(broken, []byte(`{"addr":`), 0o600)
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown file key", nil, []string{"--config", typo, "serve"}, `unknown setting "adr"`},
		{"broken file", nil, []string{"--config", broken, "serve"}, "config file"},
		{"missing file", nil, []string{"--config", filepath.Join(dir, "nope.json"), "serve"}, "config file"},
		{"bad enum", nil, []string{"serve", "--sqlite-synchronous", "off"}, "sqlite-synchronous"},
		{"bad env enum", map[string]string{"BASALT_LOG_LEVEL": "loud"}, []string{"serve"}, "log-level"},
		{"tiny body limit", nil, []string{"serve", "--max-body-bytes", "10"}, "max-body-bytes"},
		{"unknown flag", nil, []string{"serve", "--nope"}, "nope"},
		{"bad trusted proxy", nil, []string{"serve", "--trusted-proxies", "10.0.0.0/8,not-a-net"}, "trusted-proxies"},
		{"short access ttl", nil, []string{"serve", "--auth-access-ttl", "1s"}, "auth-access-ttl"},
		{"long grace", nil, []string{"serve", "--auth-refresh-grace", "2m"}, "auth-refresh-grace"},
		{"lifetime shorter than idle", nil, []string{"serve", "--auth-session-idle", "2h", "--auth-session-lifetime", "1h"}, "auth-session"},
		{"smtp without from", nil, []string{"serve", "--smtp-addr", "127.0.0.1:25"}, "smtp-from"},
		{"zero login burst", nil, []string{"serve", "--login-ip-burst", "0"}, "login"},
		{"admin without email", nil, []string{"admin", "create", "--password", "x"}, "email"},
		{"tls certificate without key", nil, []string{"serve", "--tls-cert", "/etc/basalt/tls.crt"}, "--tls-key"},
		{"tls key without certificate", map[string]string{"BASALT_TLS_KEY": "/etc/basalt/tls.key"}, []string{"serve"}, "--tls-cert"},
		{"two certificate sources", nil, []string{"serve", "--tls-cert", "a.crt", "--tls-key", "a.key", "--tls-self-signed"}, "alternatives"},
		{"acme and files", map[string]string{"BASALT_TLS_DOMAIN": "api.example.com"}, []string{"serve", "--tls-cert", "a.crt", "--tls-key", "a.key"}, "alternatives"},
		{"acme for localhost", nil, []string{"serve", "--tls-domain", "localhost"}, "--tls-domain"},
		{"acme wildcard", nil, []string{"serve", "--tls-domain", "*.example.com"}, "DNS-01"},
		{"cors origin with a path", nil, []string{"serve", "--cors-origins", "https://app.example.com/"}, "--cors-origins"},
		{"cors star with origins", map[string]string{"BASALT_CORS_ORIGINS": "*,https://app.example.com"}, []string{"serve"}, "--cors-origins"},
		{"negative compression threshold", nil, []string{"serve", "--compress-min-bytes=-1"}, "--compress-min-bytes"},
		{"zero list total cap", nil, []string{"serve", "--list-total-cap=0"}, "--list-total-cap"},
		{"list total cap above the bound", map[string]string{"BASALT_LIST_TOTAL_CAP": "1000001"}, []string{"serve"}, "--list-total-cap"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.env, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestHelpListsCommandsAndEnvironment(t *testing.T) {
	var out bytes.Buffer
	exited := -1
	_, _ = ParseCommandLine([]string{"serve", "--help"}, func(string) string { return "" }, &out, &out, func(code int) { exited = code })
	if exited != 0 {
		t.Fatalf("--help exit code %d", exited)
	}
	for _, want := range []string{"--addr", "BASALT_ADDR", "--data-dir", "--sqlite-synchronous", "--config"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve --help lacks %q:\n%s", want, out.String())
		}
	}
}

func TestAuthFlags(t *testing.T) {
	env := map[string]string{"BASALT_AUTH_ACCESS_TTL": "15m", "BASALT_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7"}
	cmd, err := parse(t, env, "serve", "--auth-require-verified", "--login-email-burst", "3", "--password-max-concurrent", "3")
	if err != nil {
		t.Fatal(err)
	}
	a := cmd.Config.Auth
	if a.AccessTTL != 15*time.Minute || !a.RequireVerified || a.LoginEmailBurst != 3 || a.PasswordMaxConcurrent != 3 ||
		a.SessionIdle != 720*time.Hour || a.PasswordMemoryKiB != 19456 || a.Issuer != "basalt" {
		t.Fatalf("auth = %+v", a)
	}
	if len(a.TrustedProxies) != 2 || a.TrustedProxies[0].String() != "10.0.0.0/8" || a.TrustedProxies[1].String() != "192.168.1.7/32" {
		t.Fatalf("trusted proxies = %v", a.TrustedProxies)
	}
}

func TestBrowserFlags(t *testing.T) {
	cmd, err := parse(t, nil, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if c := cmd.Config; c.TLSCert != "" || c.TLSKey != "" || len(c.CORSOrigins) != 0 || c.CompressMinBytes != 1024 {
		t.Fatalf("defaults: TLS %q %q, CORS %q, compression %d", c.TLSCert, c.TLSKey, c.CORSOrigins, c.CompressMinBytes)
	}
	env := map[string]string{"BASALT_CORS_ORIGINS": "https://app.example.com,http://localhost:5173", "BASALT_TLS_KEY": "/k.pem"}
	cmd, err = parse(t, env, "serve", "--tls-cert", "/c.pem", "--compress-min-bytes", "0")
	if err != nil {
		t.Fatal(err)
	}
	c := cmd.Config
	if c.TLSCert != "/c.pem" || c.TLSKey != "/k.pem" || c.CompressMinBytes != 0 ||
		len(c.CORSOrigins) != 2 || c.CORSOrigins[0] != "https://app.example.com" || c.CORSOrigins[1] != "http://localhost:5173" {
		t.Fatalf("TLS %q %q, CORS %q, compression %d", c.TLSCert, c.TLSKey, c.CORSOrigins, c.CompressMinBytes)
	}
}

func TestListTotalCapFlag(t *testing.T) {
	cmd, err := parse(t, nil, "serve")
	if err != nil || cmd.Config.ListTotalCap != 10000 {
		t.Fatalf("default list total cap %d, %v; want 10000", cmd.Config.ListTotalCap, err)
	}
	cmd, err = parse(t, map[string]string{"BASALT_LIST_TOTAL_CAP": "500"}, "serve")
	if err != nil || cmd.Config.ListTotalCap != 500 {
		t.Fatalf("BASALT_LIST_TOTAL_CAP=500: %d, %v", cmd.Config.ListTotalCap, err)
	}
	cmd, err = parse(t, map[string]string{"BASALT_LIST_TOTAL_CAP": "500"}, "serve", "--list-total-cap", "1000000")
	if err != nil || cmd.Config.ListTotalCap != 1000000 {
		t.Fatalf("--list-total-cap 1000000: %d, %v", cmd.Config.ListTotalCap, err)
	}
}

func TestAdminAndKeysCommands(t *testing.T) {
	cmd, err := parse(t, map[string]string{"BASALT_PASSWORD": "from the environment"}, "admin", "create", "--email", "a@example.com", "--data-dir", "/d")
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Name != "admin create" || cmd.Config.Admin.Email != "a@example.com" || cmd.Config.Admin.Password != "from the environment" || cmd.Config.DataDir != "/d" {
		t.Fatalf("admin create = %q %+v", cmd.Name, cmd.Config)
	}
	cmd, err = parse(t, nil, "keys", "rotate", "--auth-access-ttl", "20m", "--db", "postgres://x@127.0.0.1/db")
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Name != "keys rotate" || cmd.Config.Auth.AccessTTL != 20*time.Minute || cmd.Config.DB != "postgres://x@127.0.0.1/db" {
		t.Fatalf("keys rotate = %q %+v", cmd.Name, cmd.Config)
	}
}

// TestConfigurationPageListsEveryFlag keeps docs/configuration.md complete.
func TestConfigurationPageListsEveryFlag(t *testing.T) {
	page, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, _ = ParseCommandLine([]string{"serve", "--help"}, func(string) string { return "" }, &out, &out, func(int) {})
	flags := regexp.MustCompile(`--[a-z][a-z0-9-]+`).FindAllString(out.String(), -1)
	if len(flags) < 20 {
		t.Fatalf("found only %d flags in serve --help", len(flags))
	}
	for _, f := range flags {
		if f == "--help" {
			continue
		}
		if !strings.Contains(string(page), "`"+f+"`") {
			t.Errorf("docs/configuration.md does not document %s", f)
		}
	}
}

func TestMetricsFlags(t *testing.T) {
	cmd, err := parse(t, nil, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if c := cmd.Config; c.MetricsAddr != "" || c.MetricsToken != "" {
		t.Fatalf("metrics are on by default: addr %q, token %q", c.MetricsAddr, c.MetricsToken)
	}
	cmd, err = parse(t, map[string]string{"BASALT_METRICS_TOKEN": "0123456789abcdef"}, "serve", "--metrics-addr", "10.0.0.1:9090")
	if err != nil {
		t.Fatal(err)
	}
	if c := cmd.Config; c.MetricsAddr != "10.0.0.1:9090" || c.MetricsToken != "0123456789abcdef" {
		t.Fatalf("metrics addr %q, token %q", c.MetricsAddr, c.MetricsToken)
	}
	for _, bad := range []string{"short", "sixteen chars ok", strings.Repeat("x", 1025), "0123456789abcdef\x7f"} {
		if _, err := parse(t, nil, "serve", "--metrics-token", bad); err == nil || !strings.Contains(err.Error(), "metrics-token") {
			t.Errorf("--metrics-token %q: %v", bad, err)
		}
	}
}

// TestGraphQLFlags: the GraphQL settings from flags and the environment,
// their defaults, and the bounds of the limits.
func TestGraphQLFlags(t *testing.T) {
	cmd, err := parse(t, nil, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if got := cmd.Config.GraphQL; got != DefaultGraphQLConfig() || !got.Introspection || !got.Suggestions || got.IDE || got.MaxDepth != 12 {
		t.Errorf("defaults %+v", got)
	}
	cmd, err = parse(t, map[string]string{"BASALT_GRAPHQL_SUGGESTIONS": "false", "BASALT_GRAPHQL_MAX_COMPLEXITY": "500"},
		"serve", "--no-graphql-introspection", "--graphql-ide", "--graphql-max-depth", "5")
	if err != nil {
		t.Fatal(err)
	}
	want := GraphQLConfig{Introspection: false, Suggestions: false, IDE: true, MaxDepth: 5, MaxComplexity: 500}
	if cmd.Config.GraphQL != want {
		t.Errorf("got %+v, want %+v", cmd.Config.GraphQL, want)
	}
	o := want.options(graphqlapi.Options{MaxBatch: 3})
	if !o.NoIntrospection || !o.NoSuggestions || !o.IDE || o.Limits.MaxDepth != 5 || o.Limits.MaxComplexity != 500 || o.MaxBatch != 3 {
		t.Errorf("options %+v", o)
	}
	for _, args := range [][]string{{"--graphql-max-depth", "0"}, {"--graphql-max-depth", "101"}, {"--graphql-max-complexity", "1000001"}} {
		if _, err := parse(t, nil, append([]string{"serve"}, args...)...); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// TestAdminUIFlag: the console is on by default, and off by flag
// (--no-admin-ui or --admin-ui=false) or environment.
func TestAdminUIFlag(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		args []string
		want bool
	}{
		{nil, []string{"serve"}, true},
		{nil, []string{"serve", "--no-admin-ui"}, false},
		{nil, []string{"serve", "--admin-ui=false"}, false},
		{map[string]string{"BASALT_ADMIN_UI": "false"}, []string{"serve"}, false},
		{map[string]string{"BASALT_ADMIN_UI": "false"}, []string{"serve", "--admin-ui"}, true},
	} {
		cmd, err := parse(t, c.env, c.args...)
		if err != nil {
			t.Fatalf("%v %v: %v", c.env, c.args, err)
		}
		if cmd.Config.AdminUI != c.want {
			t.Errorf("%v %v: AdminUI %v, want %v", c.env, c.args, cmd.Config.AdminUI, c.want)
		}
	}
}
