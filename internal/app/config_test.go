package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
