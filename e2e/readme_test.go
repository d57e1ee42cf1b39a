package e2e

import (
	"strings"
	"testing"
)

// TestREADMEWalkthrough runs the README's walk-through, exactly as written,
// in one shell session (so its variables and files carry from step to
// step) against a fresh server on a random port, and checks how each step
// ends (see docrun_test.go for the convention). The walk-through starts
// from an empty database: its first step makes the admin with
// ./bin/basalt, as a reader does.
func TestREADMEWalkthrough(t *testing.T) {
	needShellTools(t)
	page := readDocPage(t, "../README.md")
	steps := page.steps
	if len(steps) < 12 {
		t.Fatalf("README walkthrough has only %d steps", len(steps))
	}
	if len(page.notRun) > 0 {
		t.Fatalf("README.md has examples that do not run: %v", page.notRun)
	}
	if !steps[0].exit || !strings.Contains(steps[0].command, "./bin/basalt admin create") {
		t.Fatalf("the README walkthrough does not start by creating the admin with ./bin/basalt: %q", steps[0].command)
	}
	bin := basaltBinary(t)
	forEachEngine(t, func(t *testing.T, engine string) {
		c, cfg, logs := serveApp(t, engine, false) // no account yet: the walk-through makes the admin
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("server logs:\n%s", logs.String())
			}
		})
		env := []string{"BASALT_DATA_DIR=" + cfg.DataDir}
		if cfg.DB != "" {
			env = append(env, "BASALT_DB="+cfg.DB)
		}
		runDocSteps(t, docSession{host: strings.TrimPrefix(c.base, "http://"), bin: bin, env: env}, steps)
	})
}
