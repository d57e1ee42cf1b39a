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

// This file runs the shell examples of the README and of docs/*.md, as
// written, against live servers. The convention a page follows:
//
//   - A runnable example is a ```sh block with step headers: a line
//     "# <what it does>  → NNN", where NNN is the HTTP status of the
//     step's last curl, or "→ exit N", the exit status of its last
//     command. The lines after a header, up to the next header or the end
//     of the block, are the step's commands. In such a block every line
//     that starts with "#" is a step header.
//   - All the runnable examples of a page run in order in one sh session,
//     so variables and files carry over from step to step, and
//     localhost:8080 stands for the server's address.
//   - A step fails when its last curl answers another status, when any
//     curl or jq in it fails (so `jq -e` lines check an answer's content),
//     or when its last command fails.
//   - Every curl command of a page belongs to a step. One that cannot run
//     against a test server (it needs mail delivery, a certificate, a
//     proxy) is in a block right after a line "<!-- not run: reason -->".
//   - A line "<!-- server flags: --rate-limit=SPEC … -->" starts the page's
//     server with those flags (rate-limit and TLS flags only), as the
//     page shows the reader's server started.

// docStep is one step of a page's runnable examples: its header, its
// commands, and how the header says they end.
type docStep struct {
	where   string // file:line of the header
	comment string
	command string
	// status is the HTTP status of the step's last curl ("→ 201"), or,
	// when exit is set, the exit status of its commands ("→ exit 0").
	status int
	exit   bool
}

// docPage is what a page holds for the runner: its steps in order, the
// examples it marks as not run, and what breaks the convention.
type docPage struct {
	steps  []docStep
	notRun []string // "file:line: reason"
	errs   []string // "file:line: problem"
	// serverFlags are the flags of the page's server ("server flags").
	serverFlags []string
}

var (
	// stepHeaderRe matches a step header's expected outcome.
	stepHeaderRe = regexp.MustCompile(`→ (?:(\d{3})|exit (\d+))\s*$`)
	// curlCommandRe finds a curl command, in a block or in inline code: the
	// word curl followed by an option, a quoted argument, a variable or a
	// URL (so prose that names the tool, "`curl` and `jq`", is not one).
	curlCommandRe = regexp.MustCompile("(?:^|[\\s`|;(&'\"])curl\\s+(?:[-'\"$]|https?://|localhost)")
	notRunRe      = regexp.MustCompile(`^<!-- not run: (.+?) -->$`)
	serverFlagsRe = regexp.MustCompile(`^<!-- server flags: (.+?) -->$`)
)

// parseDocPage extracts the runnable examples of the Markdown page text
// (named name in messages).
func parseDocPage(name, text string) docPage {
	var p docPage
	lines := strings.Split(text, "\n")
	prev := "" // the last non-blank line outside a block
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		fence, isFence := strings.CutPrefix(strings.TrimSpace(line), "```")
		if !isFence {
			if m := serverFlagsRe.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				p.serverFlags = append(p.serverFlags, strings.Fields(m[1])...)
			}
			if curlCommandRe.MatchString(line) {
				p.errs = append(p.errs, fmt.Sprintf("%s:%d: a curl command outside a runnable example (make it a step of a ```sh block: # … → NNN)", name, i+1))
			}
			if strings.TrimSpace(line) != "" {
				prev = strings.TrimSpace(line)
			}
			continue
		}
		start := i
		lang := strings.TrimSpace(fence)
		var body []string
		for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
			body = append(body, lines[i])
		}
		if m := notRunRe.FindStringSubmatch(prev); m != nil {
			p.notRun = append(p.notRun, fmt.Sprintf("%s:%d: %s", name, start+1, m[1]))
		} else {
			p.block(name, start+1, lang, body)
		}
		prev = ""
	}
	return p
}

// block adds the steps of the fenced block whose body starts after line
// start, or reports the curl commands of a block that has none.
func (p *docPage) block(name string, start int, lang string, body []string) {
	runnable := false
	if lang == "sh" {
		for _, l := range body {
			if strings.HasPrefix(l, "#") && stepHeaderRe.MatchString(l) {
				runnable = true
			}
		}
	}
	if !runnable {
		for j, l := range body {
			if curlCommandRe.MatchString(l) {
				p.errs = append(p.errs, fmt.Sprintf("%s:%d: a curl command outside a runnable example (give its ```sh block step headers: # … → NNN; or mark the block <!-- not run: reason -->)", name, start+1+j))
			}
		}
		return
	}
	var cur *docStep
	for j, l := range body {
		where := fmt.Sprintf("%s:%d", name, start+1+j)
		switch {
		case strings.HasPrefix(l, "#"):
			m := stepHeaderRe.FindStringSubmatch(l)
			if m == nil {
				p.errs = append(p.errs, where+": a comment without an expected outcome (→ NNN or → exit N) in a runnable example")
				continue
			}
			s := docStep{where: where, comment: l}
			if m[1] != "" {
				s.status, _ = strconv.Atoi(m[1])
			} else {
				s.status, _ = strconv.Atoi(m[2])
				s.exit = true
			}
			if cur != nil && cur.command == "" {
				p.errs = append(p.errs, cur.where+": a step without commands")
			}
			p.steps = append(p.steps, s)
			cur = &p.steps[len(p.steps)-1]
		case strings.TrimSpace(l) == "":
		case cur == nil:
			p.errs = append(p.errs, where+": a command before the first step header of a runnable example")
		default:
			cur.command += l + "\n"
		}
	}
	if cur != nil && cur.command == "" {
		p.errs = append(p.errs, cur.where+": a step without commands")
	}
}

// loadDocPage reads and parses a page (path relative to the e2e
// directory, named relative to the repository).
func loadDocPage(t *testing.T, path string) docPage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseDocPage(strings.TrimPrefix(path, "../"), string(b))
}

// readDocPage loads a page, failing the test if the page breaks the
// convention.
func readDocPage(t *testing.T, path string) docPage {
	t.Helper()
	p := loadDocPage(t, path)
	if len(p.errs) > 0 {
		t.Fatalf("%s breaks the convention of runnable examples (see e2e/docrun_test.go):\n%s", path, strings.Join(p.errs, "\n"))
	}
	return p
}

// needShellTools fails the test without sh, curl or jq.
func needShellTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"sh", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run the examples of the docs (apt-get install %s)", tool, tool)
		}
	}
}

// Markers the script prints to tell its steps apart.
const (
	stepMarker   = "@@basalt-step@@"
	statusMarker = "@@basalt-status@@"
	exitMarker   = "@@basalt-exit@@"
	failedMarker = "@@basalt-failed@@"
)

// docScript is one sh script that runs every step: each step prints a
// marker, every curl prints its status after a marker and every failing
// curl or jq a failure marker (on stderr, so that command substitutions
// and pipes do not take them), and the step prints the exit status of its
// last command. host replaces localhost:8080, bin (if set) ./bin/basalt.
func docScript(steps []docStep, host, bin string) string {
	var b strings.Builder
	b.WriteString("exec 2>&1\n")
	fmt.Fprintf(&b, "curl() { command curl -w '%%{stderr}\\n%s%%{http_code}\\n' \"$@\" || { s=$?; echo \"%scurl exited with $s\" >&2; return $s; }; }\n", statusMarker, failedMarker)
	fmt.Fprintf(&b, "jq() { command jq \"$@\" || { s=$?; echo \"%sjq exited with $s\" >&2; return $s; }; }\n", failedMarker)
	for i, s := range steps {
		cmd := strings.ReplaceAll(s.command, "localhost:8080", host)
		if bin != "" {
			cmd = strings.ReplaceAll(cmd, "./bin/basalt", "'"+bin+"'")
		}
		fmt.Fprintf(&b, "echo '%s%d'\n%secho \"%s$?\"\n", stepMarker, i, cmd, exitMarker)
	}
	return b.String()
}

// stepOutcome is what a step printed and how it ended.
type stepOutcome struct {
	output       strings.Builder
	lastStatus   int // of the step's last curl; -1 without one
	failed       []string
	exitStatus   int
	exitReported bool
}

// docSession is where a page's script runs: the server's host:port, the
// basalt binary for ./bin/basalt (or ""), and the environment of the
// reader's shell besides PATH and HOME.
type docSession struct {
	host string
	bin  string
	env  []string
}

// runDocSteps runs steps in one sh session in a fresh directory and fails
// the test at the first step that does not end as its header says.
func runDocSteps(t *testing.T, s docSession, steps []docStep) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := execDocSteps(ctx, t.TempDir(), s, steps); err != nil {
		t.Fatal(err)
	}
}

// execDocSteps runs steps in one sh session in dir and checks how each
// step ends: the error describes the first step that does not end as its
// header says.
func execDocSteps(ctx context.Context, dir string, s docSession, steps []docStep) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", docScript(steps, s.host, s.bin))
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, s.env...)
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("the examples' script failed: %w\n%s", err, out)
	}

	outcomes := make([]*stepOutcome, len(steps))
	var cur *stepOutcome
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, stepMarker); ok {
			i, err := strconv.Atoi(v)
			if err != nil || i < 0 || i >= len(steps) || outcomes[i] != nil {
				return fmt.Errorf("unexpected step marker %q\n%s", line, out)
			}
			cur = &stepOutcome{lastStatus: -1}
			outcomes[i] = cur
			continue
		}
		if cur == nil {
			if strings.TrimSpace(line) != "" {
				return fmt.Errorf("output before the first step: %q", line)
			}
			continue
		}
		if before, v, ok := strings.Cut(line, statusMarker); ok {
			cur.lastStatus, _ = strconv.Atoi(v)
			line = before
		}
		if before, v, ok := strings.Cut(line, failedMarker); ok {
			cur.failed = append(cur.failed, v)
			line = before
		}
		if v, ok := strings.CutPrefix(line, exitMarker); ok {
			cur.exitStatus, _ = strconv.Atoi(v)
			cur.exitReported = true
			continue
		}
		if line != "" {
			cur.output.WriteString(line + "\n")
		}
	}
	for i, s := range steps {
		o := outcomes[i]
		if o == nil || !o.exitReported {
			return fmt.Errorf("%s: %s\ndid not run to its end\n%s", s.where, s.comment, out)
		}
		var problem string
		switch {
		case s.exit && o.exitStatus != s.status:
			problem = fmt.Sprintf("exit status %d, want %d", o.exitStatus, s.status)
		case s.exit:
		case o.lastStatus != s.status:
			problem = fmt.Sprintf("HTTP status %d, want %d", o.lastStatus, s.status)
		case len(o.failed) > 0:
			problem = strings.Join(o.failed, "; ")
		case o.exitStatus != 0:
			problem = fmt.Sprintf("exit status %d, want 0", o.exitStatus)
		}
		if problem != "" {
			return fmt.Errorf("%s: %s\n%s%s\noutput:\n%s", s.where, s.comment, s.command, problem, o.output.String())
		}
	}
	return nil
}
