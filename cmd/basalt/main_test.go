package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// testVersion is the version the test binary is built with.
const testVersion = "v0.0.0-test"

var built struct {
	sync.Once
	path string
	err  error
}

// binary builds this command once, as the Makefile does, with main.version
// set to testVersion, and with the VCS information go build records in a
// checkout (whatever GOFLAGS says).
func binary(t *testing.T) string {
	t.Helper()
	built.Do(func() {
		dir, err := os.MkdirTemp("", "basalt-cmd-test")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "basalt")
		cmd := exec.Command("go", "build", "-buildvcs=auto", "-ldflags", "-X main.version="+testVersion, "-o", built.path, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// result is how one run of the binary ended.
type result struct {
	code           int
	stdout, stderr string
}

// runBasalt runs the binary with args and, added to the test's environment, env
// (NAME=value), with no standard input: nothing may prompt.
func runBasalt(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}, {"serve", "--version"}} {
		r := runBasalt(t, nil, args...)
		want := "basalt " + testVersion + "\ngo " + runtime.Version() + "\n"
		if r.code != 0 || !strings.HasPrefix(r.stdout, want) {
			t.Errorf("basalt %s: exit %d, output %q (stderr %q), want exit 0 and output starting %q",
				strings.Join(args, " "), r.code, r.stdout, r.stderr, want)
		}
		// In a git checkout, the build records the revision.
		rest := strings.TrimPrefix(r.stdout, want)
		if inCheckout(t) && !revisionLine.MatchString(rest) || !inCheckout(t) && rest != "" {
			t.Errorf("basalt %s: after the versions %q, want a revision line in a git checkout (and nothing outside one)",
				strings.Join(args, " "), rest)
		}
	}
}

// revisionLine is the last line of the version text in a checkout.
var revisionLine = regexp.MustCompile(`^revision [0-9a-f]{40}( \(modified\))?\n$`)

// inCheckout reports whether this test runs in a git checkout with git
// installed, where go build records the revision.
func inCheckout(t *testing.T) bool {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "git", "rev-parse", "--is-inside-work-tree").Output()
	return err == nil && strings.TrimSpace(string(out)) == "true"
}

func TestAdminCreateHelpExplainsThePassword(t *testing.T) {
	r := runBasalt(t, nil, "admin", "create", "--help")
	help := strings.Join(strings.Fields(r.stdout), " ")
	for _, want := range []string{"BASALT_PASSWORD", "8 to 1024 bytes of valid UTF-8", "BASALT_EMAIL"} {
		if !strings.Contains(help, want) {
			t.Errorf("admin create --help lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestAdminCreateTakesThePasswordFromTheEnvironment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := func(pw string) []string {
		return []string{"BASALT_DATA_DIR=" + dir, "BASALT_EMAIL=root@example.com", "BASALT_PASSWORD=" + pw}
	}
	for _, tc := range []struct{ password, rule string }{
		{"short", "the password must be at least 8 bytes long"},
		{strings.Repeat("p", 1025), "the password must be at most 1024 bytes long"},
	} {
		r := runBasalt(t, env(tc.password), "admin", "create")
		if r.code == 0 || !strings.Contains(r.stderr, tc.rule) {
			t.Errorf("password of %d bytes: exit %d, stderr %q, want a failure naming %q", len(tc.password), r.code, r.stderr, tc.rule)
		}
	}
	if r := runBasalt(t, env("a good long password"), "admin", "create"); r.code != 0 {
		t.Fatalf("admin create with BASALT_PASSWORD: exit %d\n%s", r.code, r.stderr)
	}
	// The account exists now: the same command fails, and says why.
	if r := runBasalt(t, env("a good long password"), "admin", "create"); r.code == 0 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("second admin create: exit %d, stderr %q", r.code, r.stderr)
	}
}
