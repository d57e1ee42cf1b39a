package deploy_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/basaltdev/basalt/internal/app"
)

const analysisFile = "argo/analysis-template.yaml"

// TestAnalysisTemplateIsFresh: the committed AnalysisTemplate is what
// "basalt alerts analysis" makes of the shipped objectives.
func TestAnalysisTemplateIsFresh(t *testing.T) {
	var out bytes.Buffer
	if err := app.PrintAnalysis(app.Config{}, &out); err != nil { // the shipped objectives, embedded
		t.Fatal(err)
	}
	committed, err := os.ReadFile(analysisFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), committed) {
		t.Fatalf("%s is not what basalt alerts analysis makes of prometheus/slos.yaml: run make prometheus-rules", analysisFile)
	}
}

// analysisMetric is one metric of the AnalysisTemplate.
type analysisMetric struct {
	Name             string `yaml:"name"`
	SuccessCondition string `yaml:"successCondition"`
	FailureLimit     int    `yaml:"failureLimit"`
	Provider         struct {
		Prometheus struct {
			Address string `yaml:"address"`
			Query   string `yaml:"query"`
		} `yaml:"prometheus"`
	} `yaml:"provider"`
}

// canaryTraffic is one class's traffic of one version, per minute.
type canaryTraffic struct {
	version, class string
	total, errors  int // requests, and of them 5xx
	slow           int // requests above the class's latency threshold
}

// canaryScenario is what the pods of the stable version and the canary
// serve, and the verdict each analysis metric must reach.
type canaryScenario struct {
	name    string
	traffic []canaryTraffic
	pass    map[string]bool // metric → successful
}

// healthy is traffic within every objective: 0.05 % errors, 0.1 % slow.
func healthy(version string) []canaryTraffic {
	var ts []canaryTraffic
	for _, c := range []string{"read", "write", "auth", "search"} {
		ts = append(ts, canaryTraffic{version: version, class: c, total: 6000, errors: 3, slow: 6})
	}
	return ts
}

// with replaces the traffic of one class of one version.
func with(ts []canaryTraffic, t canaryTraffic) []canaryTraffic {
	out := slices.Clone(ts)
	for i := range out {
		if out[i].version == t.version && out[i].class == t.class {
			out[i] = t
			return out
		}
	}
	return append(out, t)
}

// leOf is the bucket bound of each class's latency objective.
var leOf = map[string]string{"read": "0.25", "write": "0.5", "auth": "1", "search": "1"}

// TestCanaryAnalysisVerdicts evaluates the AnalysisTemplate's queries with
// promtool against recorded series of a stable version and a canary, and
// checks the verdict each metric's successCondition gives: a healthy
// canary passes, one that burns its error or latency budget as fast as
// would page fails, whatever the stable pods do.
func TestCanaryAnalysisVerdicts(t *testing.T) {
	b, err := os.ReadFile(analysisFile)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Spec       struct {
			Args []struct {
				Name  string `yaml:"name"`
				Value string `yaml:"value"`
			} `yaml:"args"`
			Metrics []analysisMetric `yaml:"metrics"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &tmpl); err != nil {
		t.Fatal(err)
	}
	if tmpl.APIVersion != "argoproj.io/v1alpha1" || tmpl.Kind != "AnalysisTemplate" || len(tmpl.Spec.Metrics) != 2 {
		t.Fatalf("%s: %s %s with %d metrics", analysisFile, tmpl.APIVersion, tmpl.Kind, len(tmpl.Spec.Metrics))
	}
	cond := regexp.MustCompile(`^result\[0\] < ([0-9.]+)$`)
	thresholds := map[string]string{}
	for _, m := range tmpl.Spec.Metrics {
		c := cond.FindStringSubmatch(m.SuccessCondition)
		if c == nil || m.Provider.Prometheus.Query == "" || m.FailureLimit != 1 {
			t.Fatalf("metric %s: condition %q, failure limit %d, query %q", m.Name, m.SuccessCondition, m.FailureLimit, m.Provider.Prometheus.Query)
		}
		thresholds[m.Name] = c[1]
	}

	const errs, lat = "error-budget-burn", "latency-budget-burn"
	both := func(e, l bool) map[string]bool { return map[string]bool{errs: e, lat: l} }
	stable := healthy("stable")
	scenarios := []canaryScenario{
		{"healthy canary", append(healthy("canary"), stable...), both(true, true)},
		{"canary with 5 % read errors", with(append(healthy("canary"), stable...), canaryTraffic{"canary", "read", 6000, 300, 6}), both(false, true)},
		{"canary with 2 % write errors (burn 20)", with(append(healthy("canary"), stable...), canaryTraffic{"canary", "write", 6000, 120, 6}), both(false, true)},
		{"canary with 1 % read errors (burn 10, a ticket, not a rollback)", with(append(healthy("canary"), stable...), canaryTraffic{"canary", "read", 6000, 60, 6}), both(true, true)},
		{"canary with 0.5 % search errors (within search's 99.5 %)", with(append(healthy("canary"), stable...), canaryTraffic{"canary", "search", 6000, 30, 6}), both(true, true)},
		{"canary with 30 % slow writes", with(append(healthy("canary"), stable...), canaryTraffic{"canary", "write", 6000, 3, 1800}), both(true, false)},
		{"canary with 20 % slow logins", with(append(healthy("canary"), stable...), canaryTraffic{"canary", "auth", 6000, 3, 1200}), both(true, false)},
		{"failing stable pods, healthy canary", with(with(append(healthy("canary"), stable...), canaryTraffic{"stable", "read", 6000, 3000, 3000}), canaryTraffic{"stable", "write", 6000, 600, 6}), both(true, true)},
		{"canary without traffic", stable, both(true, true)},
		{"canary failing everything", append([]canaryTraffic{
			{"canary", "read", 600, 600, 0}, {"canary", "write", 600, 600, 0}, {"canary", "auth", 600, 600, 600}, {"canary", "search", 600, 600, 600},
		}, stable...), both(false, false)},
	}

	// One promtool test per scenario; each metric's verdict is the
	// presence of ((query) < threshold), as Argo evaluates result[0].
	var tests strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&tests, format, args...) }
	w("rule_files: [empty.rules.yaml]\nevaluation_interval: 1m\ntests:\n")
	for _, s := range scenarios {
		w("  - name: %q\n    interval: 1m\n    input_series:\n", s.name)
		for _, tr := range s.traffic {
			sel := fmt.Sprintf(`job="basalt",rollouts_pod_template_hash=%q,class=%q`, tr.version, tr.class)
			w("      - series: 'basalt_http_requests_total{%s,code=\"200\"}'\n        values: '0+%dx15'\n", sel, tr.total-tr.errors)
			w("      - series: 'basalt_http_requests_total{%s,code=\"500\"}'\n        values: '0+%dx15'\n", sel, tr.errors)
			w("      - series: 'basalt_http_request_duration_seconds_bucket{%s,le=%q}'\n        values: '0+%dx15'\n", sel, leOf[tr.class], tr.total-tr.slow)
			w("      - series: 'basalt_http_request_duration_seconds_count{%s}'\n        values: '0+%dx15'\n", sel, tr.total)
		}
		w("    promql_expr_test:\n")
		for _, m := range tmpl.Spec.Metrics {
			q := strings.NewReplacer("{{args.job}}", "basalt", "{{args.pod-template-hash}}", "canary").Replace(m.Provider.Prometheus.Query)
			w("      - eval_time: 10m\n        expr: |\n")
			w("          ((\n")
			for _, line := range strings.Split(strings.TrimSpace(q), "\n") {
				w("          %s\n", line)
			}
			w("          ) < %s) * 0 + 1\n", thresholds[m.Name])
			if s.pass[m.Name] {
				w("        exp_samples:\n          - labels: '{}'\n            value: 1\n")
			} else {
				w("        exp_samples: []\n")
			}
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty.rules.yaml"), []byte("groups: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testFile := filepath.Join(dir, "analysis.test.yaml")
	if err := os.WriteFile(testFile, []byte(tests.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), promtool(t), "test", "rules", testFile)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}

	// The verdicts, and the burn rates they come from.
	var table bytes.Buffer
	fmt.Fprintf(&table, "%-66s %-22s %-22s\n", "scenario", errs, lat)
	for _, s := range scenarios {
		e, l := burnRates(s, "canary")
		fmt.Fprintf(&table, "%-66s %-22s %-22s\n", s.name, verdict(s.pass[errs], e), verdict(s.pass[lat], l))
	}
	t.Logf("verdicts of the canary analysis (promtool; fail at a burn of %s or more):\n%s", thresholds[errs], table.String())
}

// burnRates are the highest error and latency burn rates of version's
// classes in s, as the analysis computes them.
func burnRates(s canaryScenario, version string) (errBurn, latBurn float64) {
	budgets := map[string][2]float64{"read": {0.001, 0.01}, "write": {0.001, 0.01}, "auth": {0.001, 0.01}, "search": {0.005, 0.01}}
	for _, tr := range s.traffic {
		if tr.version != version || tr.total == 0 {
			continue
		}
		b := budgets[tr.class]
		errBurn = max(errBurn, float64(tr.errors)/float64(tr.total)/b[0])
		latBurn = max(latBurn, float64(tr.slow)/float64(tr.total)/b[1])
	}
	return errBurn, latBurn
}

func verdict(pass bool, burn float64) string {
	v := "Failed"
	if pass {
		v = "Successful"
	}
	return v + " (" + strconv.FormatFloat(burn, 'f', 1, 64) + ")"
}
