package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// walkthroughStep is one curl command of the README and the status the
// README says it answers.
type walkthroughStep struct {
	comment string
	command string
	status  int
}

var expectRe = regexp.MustCompile(`→ (\d{3})\s*$`)

// readmeWalkthrough extracts the commands between the walkthrough markers.
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
				t.Fatalf("README walkthrough comment without an expected status (→ NNN): %q", line)
			}
			status, _ := strconv.Atoi(m[1])
			steps = append(steps, walkthroughStep{comment: line, status: status})
			cur = &steps[len(steps)-1]
		case cur != nil && strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "```"):
			cur.command += line + "\n"
		}
	}
	return steps
}

// TestREADMEWalkthrough runs the README's curl commands, exactly as
// written, against a server on a random port and checks each status.
func TestREADMEWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the README walkthrough (apt-get install curl)")
	}
	steps := readmeWalkthrough(t)
	if len(steps) < 8 {
		t.Fatalf("README walkthrough has only %d steps", len(steps))
	}
	forEachEngine(t, func(t *testing.T, engine string) { runWalkthrough(t, engine, steps) })
}

func runWalkthrough(t *testing.T, engine string, steps []walkthroughStep) {
	c, _ := startApp(t, engine)
	host := strings.TrimPrefix(c.base, "http://")
	for _, s := range steps {
		cmd := strings.ReplaceAll(s.command, "localhost:8080", host)
		cmd = strings.TrimRight(cmd, "\n") + " -w '\\n%{http_code}'"
		out, err := exec.CommandContext(t.Context(), "sh", "-c", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("%s\n%s: %v\n%s", s.comment, cmd, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		got, _ := strconv.Atoi(lines[len(lines)-1])
		if got != s.status {
			t.Fatalf("%s\nstatus %d, want %d\n%s", s.comment, got, s.status, out)
		}
	}
}
