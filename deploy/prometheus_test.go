package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"go.yaml.in/yaml/v4"

	"github.com/basaltdev/basalt/internal/app"
	"github.com/basaltdev/basalt/internal/slo"
)

// ruleFiles are the shipped rule files.
var ruleFiles = []string{"prometheus/slo.rules.yaml", "prometheus/alerts.rules.yaml"}

// promtool returns the path of Prometheus's promtool. CI installs
// Debian's prometheus package; a machine without it fails here rather
// than skip the rules' tests.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed (Debian: apt-get install prometheus); the alert rules cannot be checked")
	}
	return p
}

// TestSLORulesAreFresh: the committed slo.rules.yaml is what "basalt
// alerts rules --only slo" makes of the committed objectives.
func TestSLORulesAreFresh(t *testing.T) {
	want, err := app.AlertRules(app.AlertsConfig{Only: "slo"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("prometheus/slo.rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("deploy/prometheus/slo.rules.yaml is stale: run make prometheus-rules")
	}
}

// TestPromtool checks the rule files (syntax, expressions, templates and
// promtool's lint) and runs their unit tests, and checks the single file
// "basalt alerts rules" prints, with a runbook base of an operator's own.
func TestPromtool(t *testing.T) {
	bin := promtool(t)
	all, err := app.AlertRules(app.AlertsConfig{RunbookBase: "https://runbooks.example.com/basalt/"})
	if err != nil {
		t.Fatal(err)
	}
	combined := filepath.Join(t.TempDir(), "basalt.rules.yaml")
	if err := os.WriteFile(combined, all, 0o600); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(all), slo.DefaultRunbookBase) {
		t.Error("the printed rules keep the default runbook base instead of --runbook-base's")
	}
	for _, args := range [][]string{
		append([]string{"check", "rules"}, append(slices.Clone(ruleFiles), combined)...),
		{"test", "rules", "prometheus/tests/slo.test.yaml", "prometheus/tests/causes.test.yaml"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// rule is an alerting rule as a rule file holds it.
type rule struct {
	Alert       string            `yaml:"alert"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// alerts reads the alerting rules of the shipped files.
func alerts(t *testing.T) []rule {
	t.Helper()
	var out []rule
	for _, f := range ruleFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Groups []struct {
				Rules []rule `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(data, &file); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range file.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// TestEveryAlertIsActionable: every alert has a severity (page or
// ticket), a summary, a description and the link of its runbook.
func TestEveryAlertIsActionable(t *testing.T) {
	rules := alerts(t)
	if len(rules) < 15 {
		t.Fatalf("%d alerting rules; the shipped files have more", len(rules))
	}
	for _, r := range rules {
		if s := r.Labels["severity"]; s != "page" && s != "ticket" {
			t.Errorf("%s: severity %q, want page or ticket", r.Alert, s)
		}
		for _, a := range []string{"summary", "description"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: no %s", r.Alert, a)
			}
		}
		if want := slo.DefaultRunbookBase + r.Alert + ".md"; r.Annotations["runbook_url"] != want {
			t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
		}
	}
}

// TestEveryAlertIsTested: the promtool tests see every alert fire, at
// each of its severities, and see it not fire.
func TestEveryAlertIsTested(t *testing.T) {
	type key struct{ alert, severity string }
	fires, quiet := map[key]bool{}, map[string]bool{}
	for _, f := range []string{"prometheus/tests/slo.test.yaml", "prometheus/tests/causes.test.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Tests []struct {
				AlertRuleTest []struct {
					Alertname string `yaml:"alertname"`
					ExpAlerts []struct {
						ExpLabels map[string]string `yaml:"exp_labels"`
					} `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
			} `yaml:"tests"`
		}
		if err := yaml.Unmarshal(data, &file); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range file.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) == 0 {
					quiet[a.Alertname] = true
				}
				for _, e := range a.ExpAlerts {
					fires[key{a.Alertname, e.ExpLabels["severity"]}] = true
				}
			}
		}
	}
	for _, r := range alerts(t) {
		if !fires[key{r.Alert, r.Labels["severity"]}] {
			t.Errorf("no promtool test sees %s fire with severity %s", r.Alert, r.Labels["severity"])
		}
		if !quiet[r.Alert] {
			t.Errorf("no promtool test sees %s stay quiet", r.Alert)
		}
	}
}

// TestRunbooks: every alert has its runbook (docs/runbooks/<alert>.md)
// with the sections an on-call engineer looks for, the index lists it,
// and every basalt command the runbooks give exists, with its flags, in
// basalt --help.
func TestRunbooks(t *testing.T) {
	index, err := os.ReadFile("../docs/runbooks/README.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range alerts(t) {
		if seen[r.Alert] {
			continue
		}
		seen[r.Alert] = true
		body, err := os.ReadFile("../docs/runbooks/" + r.Alert + ".md")
		if err != nil {
			t.Errorf("%s has no runbook: %v", r.Alert, err)
			continue
		}
		for _, section := range []string{"# " + r.Alert + "\n", "\n## Meaning\n", "\n## Impact\n", "\n## Confirm\n", "\n## Mitigate\n", "\n## Verify recovery\n"} {
			if !strings.Contains(string(body), section) {
				t.Errorf("docs/runbooks/%s.md lacks %q", r.Alert, strings.TrimSpace(section))
			}
		}
		if !strings.Contains(string(index), "("+r.Alert+".md)") {
			t.Errorf("docs/runbooks/README.md does not link %s.md", r.Alert)
		}
	}
	files, err := filepath.Glob("../docs/runbooks/*.md")
	if err != nil {
		t.Fatal(err)
	}
	commands := 0
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".md"); name != "README" && !seen[name] {
			t.Errorf("%s is the runbook of no alert", f)
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range shellLines(string(body)) {
			args := shellWords(line)
			if len(args) == 0 || args[0] != "basalt" {
				continue
			}
			commands++
			_, err := app.ParseCommandLine(args[1:], func(string) string { return "" }, io.Discard, io.Discard, func(int) {})
			var pe *kong.ParseError
			if errors.As(err, &pe) {
				t.Errorf("%s: %q is not a basalt command line: %v", filepath.Base(f), line, err)
			}
		}
	}
	if commands < len(seen) {
		t.Errorf("the runbooks give %d basalt commands in all; each should give at least one", commands)
	}
}

// shellLines returns the command lines of the ```sh blocks of a
// Markdown text, continuation lines joined.
func shellLines(md string) []string {
	var out []string
	in, cur := false, ""
	for _, line := range strings.Split(md, "\n") {
		switch {
		case strings.HasPrefix(strings.TrimSpace(line), "```"): // also fenced in a list item
			in = !in && strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "```")) == "sh"
		case in:
			cur += strings.TrimSpace(line)
			if strings.HasSuffix(cur, "\\") {
				cur = strings.TrimSuffix(cur, "\\") + " "
				continue
			}
			out = append(out, cur)
			cur = ""
		}
	}
	return out
}

// shellWords splits a command line into words as a shell would (quotes,
// no expansion), up to the first pipe, redirection, separator or
// comment.
func shellWords(line string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				w.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case strings.ContainsRune("|><;&", r) || (r == '#' && !inWord):
			if inWord {
				words = append(words, w.String())
			}
			return words
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// TestObservabilityDocConfig: the Prometheus configuration of
// docs/observability.md, with the rules "basalt alerts rules" prints
// beside it, is one promtool accepts.
func TestObservabilityDocConfig(t *testing.T) {
	bin := promtool(t)
	doc, err := os.ReadFile("../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n# prometheus.yml\n")
	config, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/observability.md has no prometheus.yml block")
	}
	dir := t.TempDir()
	rules, err := app.AlertRules(app.AlertsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "basalt.rules.yaml"), rules, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "basalt-metrics-token"), []byte("a-metrics-token-of-16+"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check", "config", filepath.Join(dir, "prometheus.yml")).CombinedOutput(); err != nil {
		t.Errorf("promtool check config of the documented prometheus.yml: %v\n%s", err, out)
	}
}

// TestDashboard: the Grafana dashboard is JSON whose every panel queries
// Prometheus, every query parses (promtool checks it as a recording rule,
// with the dashboard's variables given values), and every Basalt series it
// reads is documented (docs/) or recorded by the shipped rules.
func TestDashboard(t *testing.T) {
	bin := promtool(t)
	data, err := os.ReadFile("grafana/basalt.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("grafana/basalt.json: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) < 20 {
		t.Fatalf("dashboard uid %q with %d panels", dash.UID, len(dash.Panels))
	}
	vars := strings.NewReplacer("$__rate_interval", "5m", "$job", "basalt", "$instance", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	var documented []byte
	pages, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		documented = append(documented, b...)
	}
	// The pool's metrics are documented as basalt_db_pool_conns,
	// …_acquired_conns and so on.
	isDocumented := func(name string) bool {
		if rest, ok := strings.CutPrefix(name, "basalt_db_pool_"); ok && bytes.Contains(documented, []byte("…_"+rest)) {
			return true
		}
		return bytes.Contains(documented, []byte(name))
	}
	recorded, err := os.ReadFile("prometheus/slo.rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	series := regexp.MustCompile(`\bbasalt_[a-z_:]+`)
	n := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("panel %q has an empty query", p.Title)
				continue
			}
			n++
			fmt.Fprintf(&rules, "      - record: dashboard:query%d\n        expr: %s\n", n, strconv.Quote(vars.Replace(q.Expr)))
			for _, name := range series.FindAllString(q.Expr, -1) {
				name = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
				switch {
				case strings.HasPrefix(name, "basalt_slo:"):
					if !strings.Contains(string(recorded), "record: "+name) {
						t.Errorf("panel %q reads %s, which the rules do not record", p.Title, name)
					}
				case !isDocumented(name):
					t.Errorf("panel %q reads %s, which no page of docs/ documents", p.Title, name)
				}
			}
		}
	}
	file := filepath.Join(t.TempDir(), "dashboard.rules.yaml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("the dashboard's queries do not all parse: %v\n%s", err, out)
	}
}
