package deploy_test

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/app"
)

// maxExposure is the most "systemd-analyze security" may rate the unit
// (0 is fully locked down, 10 is unprotected; below 2 is rated "OK").
const maxExposure = 2.0

// TestSystemdUnit checks the shipped unit with systemd's own tools:
// "systemd-analyze verify" finds no error or unknown setting, "systemd-
// analyze security" rates its exposure at most maxExposure, and the
// command and BASALT_* settings it runs basalt with parse.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is not installed (Debian: apt-get install systemd); the unit cannot be checked")
	}
	unit, err := os.ReadFile("systemd/basalt.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify checks that ExecStart's binary exists: point it at one.
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(dir, "basalt.service")
	if err := os.WriteFile(local, bytes.ReplaceAll(unit, []byte("/usr/local/bin/basalt"), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), analyze, "verify", local)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, stderr.String())
	}

	out, err := exec.CommandContext(t.Context(), analyze, "security", "--offline=true", local).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for basalt\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security gave no exposure level:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > maxExposure {
		t.Errorf("exposure level %.1f; want at most %.1f:\n%s", level, maxExposure, out)
	}
	t.Logf("systemd-analyze security: exposure level %s", m[1])

	// ExecStart with the environment the unit sets is a valid command
	// line, and each BASALT_* name is one basalt reads.
	env := map[string]string{}
	var exec []string
	sc := bufio.NewScanner(bytes.NewReader(unit))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "Environment="); ok {
			k, val, _ := strings.Cut(v, "=")
			env[k] = val
		}
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			exec = strings.Fields(v)
		}
		for _, name := range regexp.MustCompile(`\bBASALT_[A-Z_]+`).FindAllString(line, -1) {
			if _, ok := env[name]; !ok {
				env[name] = ""
			}
		}
	}
	if len(exec) < 2 || exec[0] != "/usr/local/bin/basalt" || exec[1] != "serve" {
		t.Fatalf("ExecStart = %q; want /usr/local/bin/basalt serve", exec)
	}
	for name := range env {
		if name == "BASALT_PASSWORD" || name == "BASALT_EMAIL" {
			continue // admin create's, in the comment
		}
		flag := "--" + strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "BASALT_")), "_", "-")
		if !strings.Contains(serveHelp(t), flag) {
			t.Errorf("the unit names %s, but basalt serve has no %s", name, flag)
		}
	}
	getenv := func(k string) string { return env[k] }
	if _, err := app.ParseCommandLine(exec[1:], getenv, io.Discard, io.Discard, func(int) {}); err != nil {
		t.Errorf("ExecStart %q with %v: %v", exec, env, err)
	}
}

// serveHelp is basalt serve --help.
func serveHelp(t *testing.T) string {
	t.Helper()
	var help bytes.Buffer
	_, _ = app.ParseCommandLine([]string{"serve", "--help"}, func(string) string { return "" }, &help, io.Discard, func(int) {})
	return help.String()
}
