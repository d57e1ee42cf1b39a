package slo

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// DefaultRunbookBase is where the runbooks of the alerts are published:
// an alert's runbook_url is the base followed by "<alert>.md".
const DefaultRunbookBase = "https://github.com/basaltdev/basalt/blob/main/docs/runbooks/"

// The alerts the objectives make.
const (
	// AvailabilityAlert fires when a class's server errors burn its error
	// budget too fast.
	AvailabilityAlert = "BasaltErrorBudgetBurn"
	// LatencyAlert fires when a class's slow requests burn its latency
	// budget too fast.
	LatencyAlert = "BasaltLatencyBudgetBurn"
)

// The recording rules' names: the share of bad requests over a window
// (errors: 5xx; slow: above the class's latency threshold), by job and
// class, and the objectives themselves, for dashboards.
const (
	errorsRecord    = "basalt_slo:errors:ratio_rate"
	slowRecord      = "basalt_slo:slow:ratio_rate"
	objectiveRecord = "basalt_slo:objective:ratio"
)

// burn is one alert of the multi-window, multi-burn-rate scheme: it fires
// when both windows spend the budget at least Factor times as fast as the
// objective allows. The factors are those of the SRE workbook for a
// 30-day window (2 % of the budget in an hour, 5 % in six hours, 10 % in
// a day or three days), scaled to the objectives' window.
type burn struct {
	severity    string
	long, short time.Duration
	share       float64 // of the whole budget spent in the long window
}

var burns = []burn{
	{"page", time.Hour, 5 * time.Minute, 0.02},
	{"page", 6 * time.Hour, 30 * time.Minute, 0.05},
	{"ticket", 24 * time.Hour, 2 * time.Hour, 0.10},
	{"ticket", 72 * time.Hour, 6 * time.Hour, 0.10},
}

// windows are the windows the rules record, shortest first.
func windows() []time.Duration {
	var ws []time.Duration
	for _, b := range burns {
		ws = append(ws, b.short, b.long)
	}
	slices.Sort(ws)
	return slices.Compact(ws)
}

// factor is the burn rate of b for the objectives' window.
func (o Objectives) factor(b burn) float64 {
	return round(b.share * float64(o.Window) / float64(b.long))
}

// round keeps 6 significant digits, so that 0.1 × 720 is 72, not
// 72.00000000000001.
func round(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return f
}

// num renders a number for PromQL.
func num(v float64) string { return strconv.FormatFloat(round(v), 'g', -1, 64) }

// budget is the error budget of a percentage objective: the share of
// requests allowed to be bad.
func budget(percent float64) float64 { return round((100 - percent) / 100) }

// RuleOptions tune Rules.
type RuleOptions struct {
	// RunbookBase is where the runbooks are (DefaultRunbookBase when
	// empty); an alert's runbook_url is RunbookBase + "<alert>.md".
	RunbookBase string
	// Source names the objectives file in the rules' header comment.
	Source string
}

// Rules renders the Prometheus rule file of the objectives: recording
// rules of the indicators over each window and of the objectives, and the
// burn-rate alerts. Its output is deterministic: the same objectives give
// the same bytes.
func (o Objectives) Rules(opts RuleOptions) []byte {
	base := opts.RunbookBase
	if base == "" {
		base = DefaultRunbookBase
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	src := opts.Source
	if src == "" {
		src = "the default objectives"
	}
	w("# Basalt's service-level objectives as Prometheus rules, made by\n")
	w("# \"basalt alerts rules\" from %s (window %s). Do not edit:\n", src, model.Duration(o.Window))
	w("# change the objectives and make the rules again.\n")
	w("groups:\n")

	var avail []string
	for _, obj := range o.Objectives {
		avail = append(avail, obj.Class)
	}
	availSel := `class=~"` + strings.Join(avail, "|") + `"`

	// One group: its rules run in order, so each alert reads the
	// indicators recorded at the same evaluation.
	w("  - name: basalt-slo\n")
	w("    rules:\n")
	for _, win := range windows() {
		d := model.Duration(win).String()
		w("      - record: %s%s\n", errorsRecord, d)
		w("        expr: |\n")
		w("          (\n")
		w("            sum by (job, class) (rate(basalt_http_requests_total{%s,code=~\"5..\"}[%s]))\n", availSel, d)
		w("            or\n")
		w("            0 * sum by (job, class) (rate(basalt_http_requests_total{%s}[%s]))\n", availSel, d)
		w("          )\n")
		w("          /\n")
		w("          sum by (job, class) (rate(basalt_http_requests_total{%s}[%s]))\n", availSel, d)
		for _, obj := range o.Objectives {
			if obj.Latency == nil {
				continue
			}
			sel := `class="` + obj.Class + `"`
			w("      - record: %s%s\n", slowRecord, d)
			w("        expr: |\n")
			w("          1 - (\n")
			w("            sum by (job, class) (rate(basalt_http_request_duration_seconds_bucket{%s,le=~%q}[%s]))\n", sel, leMatcher(obj.Latency.Threshold), d)
			w("            /\n")
			w("            sum by (job, class) (rate(basalt_http_request_duration_seconds_count{%s}[%s]))\n", sel, d)
			w("          )\n")
			w("        labels:\n")
			w("          class: %s\n", obj.Class)
		}
	}
	for _, obj := range o.Objectives {
		w("      - record: %s\n", objectiveRecord)
		w("        expr: vector(%s)\n", num(obj.Availability/100))
		w("        labels:\n")
		w("          class: %s\n", obj.Class)
		w("          slo: availability\n")
		if obj.Latency != nil {
			w("      - record: %s\n", objectiveRecord)
			w("        expr: vector(%s)\n", num(obj.Latency.Target/100))
			w("        labels:\n")
			w("          class: %s\n", obj.Class)
			w("          slo: latency\n")
			w("          threshold: %s\n", model.Duration(obj.Latency.Threshold))
		}
	}

	for _, obj := range o.Objectives {
		o.alerts(w, base, AvailabilityAlert, "availability", errorsRecord, obj.Class, obj.Availability,
			"server errors (5xx)", "")
		if l := obj.Latency; l != nil {
			o.alerts(w, base, LatencyAlert, "latency", slowRecord, obj.Class, l.Target,
				"requests slower than "+model.Duration(l.Threshold).String(), model.Duration(l.Threshold).String())
		}
	}
	return []byte(b.String())
}

// alerts writes the page and ticket alerts of one objective.
func (o Objectives) alerts(w func(string, ...any), base, name, slo, record, class string, percent float64, bad, threshold string) {
	bud := budget(percent)
	for _, severity := range []string{"page", "ticket"} {
		var terms []string
		var spans []string
		for _, b := range burns {
			if b.severity != severity {
				continue
			}
			f := o.factor(b)
			long, short := model.Duration(b.long).String(), model.Duration(b.short).String()
			terms = append(terms, fmt.Sprintf("(\n  %s%s{class=%q} > (%s * %s)\n  and\n  %s%s{class=%q} > (%s * %s)\n)",
				record, long, class, num(f), num(bud), record, short, class, num(f), num(bud)))
			spans = append(spans, fmt.Sprintf("over %s× too fast in the last %s and %s", num(f), long, short))
		}
		w("      - alert: %s\n", name)
		w("        expr: |\n")
		for _, line := range strings.Split(strings.Join(terms, "\nor\n"), "\n") {
			w("          %s\n", line)
		}
		w("        labels:\n")
		w("          class: %s\n", class)
		w("          severity: %s\n", severity)
		w("          slo: %s\n", slo)
		if threshold != "" {
			w("          threshold: %s\n", threshold)
		}
		w("        annotations:\n")
		w("          summary: %s\n", quote(fmt.Sprintf("Basalt's %s requests burn their %s error budget too fast", class, slo)))
		w("          description: %s\n", quote(fmt.Sprintf(
			"{{ $labels.job }}: {{ $value | humanizePercentage }} of the %s requests were %s over the alert's long window, against the %s of the %s%% objective over %s: the budget burns %s.",
			class, bad, num(bud*100)+"%", num(percent), model.Duration(o.Window), strings.Join(spans, ", or "))))
		w("          runbook_url: %s\n", quote(base+name+".md"))
	}
}

// leMatcher matches the le label of the bucket bound d, in the form the
// Go client writes it ("0.25", "1") and the one Prometheus 3 normalizes
// whole numbers to ("1.0").
func leMatcher(d time.Duration) string {
	s := d.Seconds()
	v := strings.ReplaceAll(strconv.FormatFloat(s, 'g', -1, 64), ".", `\.`)
	if s == math.Trunc(s) {
		return v + `(\.0)?`
	}
	return v
}

// quote renders s as a YAML double-quoted string.
func quote(s string) string { return strconv.Quote(s) }
