// Package deploy holds what Basalt ships for running it in production
// beside the binary: the Prometheus objectives and alert rules
// (prometheus/), which the binary embeds so that "basalt alerts" can
// print them without a checkout.
package deploy

import _ "embed"

// Objectives is the default objectives file, prometheus/slos.yaml.
//
//go:embed prometheus/slos.yaml
var Objectives []byte

// CauseAlerts is the rule file of the alerts on causes (dependencies,
// saturation, backlogs, certificates), prometheus/alerts.rules.yaml. Its
// runbook URLs start with slo.DefaultRunbookBase.
//
//go:embed prometheus/alerts.rules.yaml
var CauseAlerts []byte
