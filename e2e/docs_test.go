package e2e

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/app"
)

// The first admin every docs page finds, made as the README makes it
// (`basalt admin create`): the one thing a reader has before a page's own
// set-up steps.
const (
	docsAdminEmail    = "admin@example.com"
	docsAdminPassword = "a long admin password"
)

// TestDocs runs every curl example of docs/*.md (see docrun_test.go for
// the convention): each page's examples in order, in one shell session,
// against a fresh server per page and engine that has only the README's
// first admin. A curl command outside a runnable example fails the test,
// so no example goes untried; the few marked as not run are logged with
// their reason.
func TestDocs(t *testing.T) {
	needShellTools(t)
	paths, err := filepath.Glob("../docs/*.md")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no docs pages: %v", err)
	}
	var notRun []string
	steps := 0
	for _, path := range paths {
		page := loadDocPage(t, path)
		notRun = append(notRun, page.notRun...)
		steps += len(page.steps)
		if len(page.steps) == 0 && len(page.errs) == 0 {
			continue
		}
		t.Run(strings.TrimSuffix(filepath.Base(path), ".md"), func(t *testing.T) {
			if len(page.errs) > 0 {
				t.Fatalf("%s breaks the convention of runnable examples (see e2e/docrun_test.go):\n%s", path, strings.Join(page.errs, "\n"))
			}
			t.Parallel()
			forEachEngine(t, func(t *testing.T, engine string) {
				t.Parallel()
				runDocPage(t, engine, page)
			})
		})
	}
	if len(notRun) > 0 {
		t.Logf("examples not run:\n%s", strings.Join(notRun, "\n"))
	}
	if steps == 0 {
		t.Fatal("docs pages have no runnable example")
	}
}

// runDocPage runs a page's examples against a fresh server on engine with
// the README's first admin.
func runDocPage(t *testing.T, engine string, page docPage) {
	c, cfg, logs := serveApp(t, engine, false, func(cfg *app.Config) {
		if len(page.serverFlags) == 0 {
			return
		}
		cmd, err := app.ParseCommandLine(append([]string{"serve"}, page.serverFlags...),
			func(string) string { return "" }, io.Discard, io.Discard, func(int) {})
		if err != nil {
			t.Fatalf("the page's server flags %q: %v", page.serverFlags, err)
		}
		cfg.RateLimits = cmd.Config.RateLimits
		cfg.TLS = cmd.Config.TLS
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server logs:\n%s", logs.String())
		}
	})
	admin := cfg
	admin.Admin = app.AdminAccount{Email: docsAdminEmail, Password: docsAdminPassword}
	if err := app.CreateAdmin(t.Context(), admin); err != nil {
		t.Fatalf("app.CreateAdmin: %v\n%s", err, logs.String())
	}
	// What the reader's shell has besides: the server's storage and its
	// metrics token.
	env := []string{"BASALT_DATA_DIR=" + cfg.DataDir, "BASALT_METRICS_TOKEN=" + cfg.MetricsToken}
	if cfg.DB != "" {
		env = append(env, "BASALT_DB="+cfg.DB)
	}
	runDocSteps(t, docSession{host: strings.TrimPrefix(c.base, "http://"), env: env}, page.steps)
}

// TestDocsAgreeOnTheEmptyRule keeps the pages that define rules saying the
// same about the empty rule, which opens an action to everyone (the
// collections page runs it: an anonymous list answered 200).
func TestDocsAgreeOnTheEmptyRule(t *testing.T) {
	const emptyRule = "The empty rule `\"\"` opens the action to everyone, anonymous callers included:\n" +
		"it is not an expression, and a rule of spaces only is refused (`400`). `null`,\n" +
		"or leaving the rule out, keeps the action for admins.\n"
	for _, path := range []string{"../docs/collections.md", "../docs/rules.md"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), emptyRule) {
			t.Errorf("%s does not say, as written here:\n%s", path, emptyRule)
		}
	}
}
