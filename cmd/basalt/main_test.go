package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/basaltdev/basalt/internal/buildinfo"
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
		if r.code != 0 || !versionText(inCheckout(t)).MatchString(r.stdout) {
			t.Errorf("basalt %s: exit %d, output %q (stderr %q), want exit 0 and the lines of %s",
				strings.Join(args, " "), r.code, r.stdout, r.stderr, versionText(inCheckout(t)))
		}
	}
	r := runBasalt(t, nil, "version", "--json")
	var got buildinfo.Info
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
		t.Fatalf("basalt version --json: exit %d, %q: %v", r.code, r.stdout, err)
	}
	if got.Version != testVersion || got.Go != runtime.Version() || got.Platform != runtime.GOOS+"/"+runtime.GOARCH ||
		inCheckout(t) && (len(got.Commit) != 40 || got.Date == "") {
		t.Errorf("basalt version --json = %+v", got)
	}
}

// versionText matches the version text: with the commit and its date in
// a checkout, where go build records them, and "unknown" outside one.
func versionText(checkout bool) *regexp.Regexp {
	commit, date := `unknown`, `unknown`
	if checkout {
		commit, date = `[0-9a-f]{40}( \(modified\))?`, `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`
	}
	return regexp.MustCompile(`^basalt ` + regexp.QuoteMeta(testVersion) + `\ncommit ` + commit + `\ndate ` + date +
		`\ngo ` + regexp.QuoteMeta(runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH) + `\n$`)
}

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
