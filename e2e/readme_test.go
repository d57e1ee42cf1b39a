package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// walkthroughStep is one step of the README's walk-through: its comment,
// its commands, and what the comment says they end with.
type walkthroughStep struct {
	comment string
	command string
	// status is the HTTP status of the step's last curl ("→ 201"), or,
	// when exit is set, the exit status of its commands ("→ exit 0").
	status int
	exit   bool
}

var expectRe = regexp.MustCompile(`→ (?:(\d{3})|exit (\d+))\s*$`)

// readmeWalkthrough extracts the steps between the walkthrough markers:
// each "# comment → …" line starts a step, the lines after it are its
// commands.
func readmeWalkthrough(t *testing.T) []walkthroughStep {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "<!-- walkthrough:start -->")
	end := strings.Index(text, "<!-- walkthrough:end -->")
	if start < 0 || end < start {
		t.Fatal("README.md has no walkthrough markers")
	}
	var steps []walkthroughStep
	var cur *walkthroughStep
	for _, line := range strings.Split(text[start:end], "\n") {
		switch {
		case strings.HasPrefix(line, "# "):
			m := expectRe.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("README walkthrough comment without an expected outcome (→ NNN or → exit N): %q", line)
			}
			s := walkthroughStep{comment: line}
			if m[1] != "" {
				s.status, _ = strconv.Atoi(m[1])
			} else {
				s.status, _ = strconv.Atoi(m[2])
				s.exit = true
			}
			steps = append(steps, s)
			cur = &steps[len(steps)-1]
		case cur != nil && strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "```"):
			cur.command += line + "\n"
		}
	}
	for _, s := range steps {
		if s.command == "" {
			t.Fatalf("README walkthrough step without commands: %q", s.comment)
		}
	}
	return steps
}

// TestREADMEWalkthrough runs the README's walk-through, exactly as written,
// in one shell session (so its variables and files carry from step to
// step) against a fresh server on a random port, and checks how each step
// ends.
func TestREADMEWalkthrough(t *testing.T) {
	for _, tool := range []string{"sh", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run the README walkthrough (apt-get install %s)", tool, tool)
		}
	}
	steps := readmeWalkthrough(t)
	if len(steps) < 12 {
		t.Fatalf("README walkthrough has only %d steps", len(steps))
	}
	if !steps[0].exit || !strings.Contains(steps[0].command, "./bin/basalt admin create") {
		t.Fatalf("the README walkthrough does not start by creating the admin with ./bin/basalt: %q", steps[0].command)
	}
	bin := basaltBinary(t)
	forEachEngine(t, func(t *testing.T, engine string) { runWalkthrough(t, engine, bin, steps) })
}

// Markers the walk-through script prints to tell its steps apart.
const (
	stepMarker   = "@@basalt-step@@"
	statusMarker = "@@basalt-status@@"
	exitMarker   = "@@basalt-exit@@"
)

// walkthroughScript is one sh script that runs every step: each step
// prints a marker, then every curl prints its status after a marker, and
// the step prints the exit status of its last command.
func walkthroughScript(steps []walkthroughStep, host, bin string) string {
	var b strings.Builder
	b.WriteString("exec 2>&1\n")
	fmt.Fprintf(&b, "curl() { command curl -w '\\n%s%%{http_code}\\n' \"$@\"; }\n", statusMarker)
	for i, s := range steps {
		cmd := strings.ReplaceAll(s.command, "localhost:8080", host)
		cmd = strings.ReplaceAll(cmd, "./bin/basalt", "'"+bin+"'")
		fmt.Fprintf(&b, "echo '%s%d'\n%secho \"%s$?\"\n", stepMarker, i, cmd, exitMarker)
	}
	return b.String()
}

// stepOutcome is what a step printed and how it ended.
type stepOutcome struct {
	output       strings.Builder
	lastStatus   int // of the step's last curl; -1 without one
	exitStatus   int
	exitReported bool
}

func runWalkthrough(t *testing.T, engine, bin string, steps []walkthroughStep) {
	c, cfg, logs := serveApp(t, engine, false) // no account yet: the walk-through makes the admin
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server logs:\n%s", logs.String())
		}
	})
	host := strings.TrimPrefix(c.base, "http://")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", walkthroughScript(steps, host, bin))
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "BASALT_DATA_DIR=" + cfg.DataDir}
	if cfg.DB != "" {
		cmd.Env = append(cmd.Env, "BASALT_DB="+cfg.DB)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the walk-through script failed: %v\n%s", err, out)
	}

	outcomes := make([]*stepOutcome, len(steps))
	var cur *stepOutcome
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, stepMarker); ok {
			i, err := strconv.Atoi(v)
			if err != nil || i < 0 || i >= len(steps) || outcomes[i] != nil {
				t.Fatalf("unexpected step marker %q\n%s", line, out)
			}
			cur = &stepOutcome{lastStatus: -1}
			outcomes[i] = cur
			continue
		}
		if cur == nil {
			if strings.TrimSpace(line) != "" {
				t.Errorf("output before the first step: %q", line)
			}
			continue
		}
		if v, ok := strings.CutPrefix(line, statusMarker); ok {
			cur.lastStatus, _ = strconv.Atoi(v)
			continue
		}
		if v, ok := strings.CutPrefix(line, exitMarker); ok {
			cur.exitStatus, _ = strconv.Atoi(v)
			cur.exitReported = true
			continue
		}
		cur.output.WriteString(line + "\n")
	}
	for i, s := range steps {
		o := outcomes[i]
		if o == nil || !o.exitReported {
			t.Fatalf("%s\ndid not run to its end\n%s", s.comment, out)
		}
		switch {
		case s.exit && o.exitStatus != s.status:
			t.Fatalf("%s\n%sexit status %d, want %d\n%s", s.comment, s.command, o.exitStatus, s.status, o.output.String())
		case !s.exit && o.lastStatus != s.status:
			t.Fatalf("%s\n%sHTTP status %d, want %d\n%s", s.comment, s.command, o.lastStatus, s.status, o.output.String())
		case !s.exit && o.exitStatus != 0:
			t.Fatalf("%s\n%sexit status %d, want 0\n%s", s.comment, s.command, o.exitStatus, o.output.String())
		}
	}
}
