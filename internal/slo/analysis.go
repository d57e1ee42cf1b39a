package slo

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// The canary analysis: the fast-burn page alert's test, applied to the
// pods of one version only. A canary that spends its error or latency
// budget at least as fast as would page (14.4× over a 30-day window) fails
// the analysis, and Argo Rollouts rolls it back.
const (
	// AnalysisName is the AnalysisTemplate's name.
	AnalysisName = "basalt-slo-burn"
	// AnalysisWindow is the rate window of the analysis queries: the
	// short window of the fast-burn alert.
	AnalysisWindow = 5 * time.Minute
	// HashLabel is the Prometheus label that carries the pods' Argo
	// Rollouts template hash (relabeled from the pod label
	// rollouts-pod-template-hash by the ServiceMonitor), which tells a
	// canary's series from the stable version's.
	HashLabel = "rollouts_pod_template_hash"
	// The analysis metrics.
	ErrorBurnMetric   = "error-budget-burn"
	LatencyBurnMetric = "latency-budget-burn"
)

// AnalysisThreshold is the burn rate at which a version fails the
// analysis: the factor of the fast-burn page alert.
func (o Objectives) AnalysisThreshold() float64 { return o.factor(burns[0]) }

// AnalysisQuery is the PromQL of one analysis metric (ErrorBurnMetric or
// LatencyBurnMetric) for the pods whose series match selector (PromQL
// label matchers, without braces): the highest burn rate of any class
// over AnalysisWindow, or 0 without traffic. Each class's term keeps its
// class label, so that "or" joins them rather than keeping the first.
func (o Objectives) AnalysisQuery(metric, selector string) string {
	win := model.Duration(AnalysisWindow).String()
	var terms []string
	for _, obj := range o.Objectives {
		switch metric {
		case ErrorBurnMetric:
			sel := fmt.Sprintf("%s,class=%q", selector, obj.Class)
			terms = append(terms, fmt.Sprintf(
				"  (\n    sum by (class) (rate(basalt_http_requests_total{%s,code=~\"5..\"}[%s]))\n    /\n    (sum by (class) (rate(basalt_http_requests_total{%s}[%s])) > 0)\n  ) / %s",
				sel, win, sel, win, num(budget(obj.Availability))))
		case LatencyBurnMetric:
			l := obj.Latency
			if l == nil {
				continue
			}
			sel := fmt.Sprintf("%s,class=%q", selector, obj.Class)
			terms = append(terms, fmt.Sprintf(
				"  (\n    1 - sum by (class) (rate(basalt_http_request_duration_seconds_bucket{%s,le=~%q}[%s]))\n    /\n    (sum by (class) (rate(basalt_http_request_duration_seconds_count{%s}[%s])) > 0)\n  ) / %s",
				sel, leMatcher(l.Threshold), win, sel, win, num(budget(l.Target))))
		}
	}
	return "max(\n" + strings.Join(terms, "\nor\n") + "\n)\nor vector(0)"
}

// Analysis renders the Argo Rollouts AnalysisTemplate of the objectives:
// the error and latency budget burn of the pods of the newest version
// (the canary, or blue-green's preview), measured every minute; a burn at
// AnalysisThreshold or above fails it. Its arguments are the Prometheus
// address, the job of Basalt's pods and the template hash of the version
// under analysis (a Rollout passes podTemplateHashValue: Latest).
func (o Objectives) Analysis(source string) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	if source == "" {
		source = "the default objectives"
	}
	w("# Argo Rollouts analysis of a new version of Basalt against its service-level\n")
	w("# objectives, made by \"basalt alerts analysis\" from %s. Do not edit:\n", source)
	w("# change the objectives and make it again. It fails a version whose pods burn\n")
	w("# their error or latency budget %s× too fast or faster over %s (the fast-burn\n", num(o.AnalysisThreshold()), model.Duration(AnalysisWindow))
	w("# page alert's rate), so that the Rollout aborts and returns to the stable version.\n")
	w("# The ServiceMonitor must copy the pod label rollouts-pod-template-hash to %s.\n", HashLabel)
	w("apiVersion: argoproj.io/v1alpha1\n")
	w("kind: AnalysisTemplate\n")
	w("metadata:\n")
	w("  name: %s\n", AnalysisName)
	w("spec:\n")
	w("  args:\n")
	w("    - name: prometheus-address\n")
	w("      value: http://prometheus-operated.monitoring.svc:9090\n")
	w("    - name: job\n")
	w("      value: basalt\n")
	w("    - name: pod-template-hash\n")
	w("  metrics:\n")
	selector := fmt.Sprintf(`job="{{args.job}}",%s="{{args.pod-template-hash}}"`, HashLabel)
	for _, m := range []string{ErrorBurnMetric, LatencyBurnMetric} {
		w("    - name: %s\n", m)
		w("      interval: 1m\n")
		w("      # Two bad measurements fail the analysis; one may be a blip.\n")
		w("      failureLimit: 1\n")
		w("      successCondition: result[0] < %s\n", num(o.AnalysisThreshold()))
		w("      provider:\n")
		w("        prometheus:\n")
		w("          address: \"{{args.prometheus-address}}\"\n")
		w("          query: |\n")
		for _, line := range strings.Split(o.AnalysisQuery(m, selector), "\n") {
			w("            %s\n", line)
		}
	}
	return []byte(b.String())
}
