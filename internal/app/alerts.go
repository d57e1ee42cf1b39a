package app

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/basaltdev/basalt/deploy"
	"github.com/basaltdev/basalt/internal/slo"
	"github.com/basaltdev/basalt/internal/telemetry"
)

// AlertsConfig configures "basalt alerts rules".
type AlertsConfig struct {
	// Objectives is the objectives file; "" means the defaults
	// (deploy/prometheus/slos.yaml, embedded).
	Objectives string
	// RunbookBase starts the runbook links (slo.DefaultRunbookBase).
	RunbookBase string
	// Only is "slo" or "causes" to print one part; "" or "all" prints
	// both.
	Only string
}

// alertsRulesCmd's flags are read from the command line only
// (noresolve): the command prints files, and serve's environment has
// nothing to say about them.
type alertsRulesCmd struct {
	Objectives  string `help:"Objectives file (YAML, as basalt alerts objectives prints it); without it, the defaults." placeholder:"FILE" noresolve:""`
	RunbookBase string `name:"runbook-base" help:"Where the runbooks are published: an alert's runbook_url is this followed by <alert>.md." default:"${runbook_base}" placeholder:"URL" noresolve:""`
	Only        string `help:"Print all the rules, or only the objectives' (slo) or only the alerts on causes (causes)." enum:"all,slo,causes" default:"all" noresolve:""`
}

func (f alertsRulesCmd) apply(cfg *Config) {
	cfg.Alerts = AlertsConfig(f)
}

type alertsAnalysisCmd struct {
	Objectives string `help:"Objectives file (YAML, as basalt alerts objectives prints it); without it, the defaults." placeholder:"FILE" noresolve:""`
}

func (f alertsAnalysisCmd) apply(cfg *Config) {
	cfg.Alerts = AlertsConfig{Objectives: f.Objectives}
}

// PrintAnalysis writes, for "basalt alerts analysis", the Argo Rollouts
// AnalysisTemplate that fails a canary (or blue-green preview) burning
// its error or latency budget as fast as would page.
func PrintAnalysis(cfg Config, out io.Writer) error {
	objs, source, err := objectives(cfg.Alerts)
	if err != nil {
		return err
	}
	_, err = out.Write(objs.Analysis(source))
	return err
}

// objectives reads the objectives "basalt alerts" works from.
func objectives(ac AlertsConfig) (slo.Objectives, string, error) {
	data, source := deploy.Objectives, "deploy/prometheus/slos.yaml"
	if ac.Objectives != "" {
		b, err := os.ReadFile(ac.Objectives)
		if err != nil {
			return slo.Objectives{}, "", fmt.Errorf("--objectives: %w", err)
		}
		data, source = b, ac.Objectives
	}
	objs, err := slo.Parse(data, telemetry.LatencyBuckets)
	if err != nil {
		return slo.Objectives{}, "", fmt.Errorf("%s: %w", source, err)
	}
	return objs, source, nil
}

// PrintAlertRules writes, for "basalt alerts rules", Basalt's Prometheus
// rule file: the indicators and burn-rate alerts of the objectives, then
// the alerts on causes, with runbook links under cfg.Alerts.RunbookBase.
func PrintAlertRules(cfg Config, out io.Writer) error {
	rules, err := AlertRules(cfg.Alerts)
	if err != nil {
		return err
	}
	_, err = out.Write(rules)
	return err
}

// AlertRules renders the rule file "basalt alerts rules" prints.
func AlertRules(ac AlertsConfig) ([]byte, error) {
	objs, source, err := objectives(ac)
	if err != nil {
		return nil, err
	}
	base := ac.RunbookBase
	if base == "" {
		base = slo.DefaultRunbookBase
	}
	var out bytes.Buffer
	if ac.Only != "causes" {
		out.Write(objs.Rules(slo.RuleOptions{RunbookBase: base, Source: source}))
	}
	if ac.Only != "slo" {
		causes := strings.ReplaceAll(string(deploy.CauseAlerts), slo.DefaultRunbookBase, base)
		if ac.Only != "causes" {
			// One file: the cause groups join the objectives' groups.
			_, groups, ok := strings.Cut(causes, "\ngroups:\n")
			if !ok {
				return nil, fmt.Errorf("deploy/prometheus/alerts.rules.yaml: no groups")
			}
			causes = groups
		}
		out.WriteString(causes)
	}
	return out.Bytes(), nil
}

// PrintObjectives writes the default objectives file, for "basalt alerts
// objectives".
func PrintObjectives(out io.Writer) error {
	_, err := out.Write(deploy.Objectives)
	return err
}
