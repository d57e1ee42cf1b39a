package slo

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"
)

var buckets = []float64{0.005, 0.01, 0.1, 0.25, 0.5, 1, 2.5}

const valid = `
window: 30d
objectives:
  - class: read
    availability: 99.9
    latency: {threshold: 250ms, target: 99}
  - class: realtime
    availability: 99.5
`

func TestParse(t *testing.T) {
	o, err := Parse([]byte(valid), buckets)
	if err != nil {
		t.Fatal(err)
	}
	want := Objectives{Window: 30 * 24 * time.Hour, Objectives: []Objective{
		{Class: "read", Availability: 99.9, Latency: &Latency{Threshold: 250 * time.Millisecond, Target: 99}},
		{Class: "realtime", Availability: 99.5},
	}}
	if o.Window != want.Window || len(o.Objectives) != 2 || o.Objectives[0].Class != "read" ||
		*o.Objectives[0].Latency != *want.Objectives[0].Latency || o.Objectives[1] != want.Objectives[1] {
		t.Errorf("Parse = %+v, want %+v", o, want)
	}
}

// TestParseRefuses: each mistake is refused with a message that says
// where it is and what is expected.
func TestParseRefuses(t *testing.T) {
	for _, c := range []struct{ name, doc, want string }{
		{"unknown member", "window: 30d\nobjective: []\n", "field objective not found"},
		{"no window", "objectives: [{class: read, availability: 99}]\n", "window: missing"},
		{"bad window", "window: month\nobjectives: [{class: read, availability: 99}]\n", `"month" is not a duration`},
		{"short window", "window: 1d\nobjectives: [{class: read, availability: 99}]\n", "outside 7d to 90d"},
		{"no objective", "window: 30d\n", "no objective"},
		{"unknown class", "window: 30d\nobjectives: [{class: writes, availability: 99}]\n", `objectives[0]: class "writes": want one of read, write, auth, search, realtime`},
		{"twice", "window: 30d\nobjectives: [{class: read, availability: 99}, {class: read, availability: 98}]\n", "objectives[1] (read): the class has an objective already"},
		{"no availability", "window: 30d\nobjectives: [{class: read}]\n", "objectives[0] (read): availability is required"},
		{"100 percent", "window: 30d\nobjectives: [{class: read, availability: 100}]\n", "availability: 100: want a percentage from 50 to below 100"},
		{"ratio not percent", "window: 30d\nobjectives: [{class: read, availability: 0.999}]\n", "want a percentage"},
		{"realtime latency", "window: 30d\nobjectives: [{class: realtime, availability: 99, latency: {threshold: 1s, target: 99}}]\n", "realtime has availability only"},
		{"threshold off bucket", "window: 30d\nobjectives: [{class: read, availability: 99, latency: {threshold: 300ms, target: 99}}]\n", "300ms is not a bound of the latency histogram's buckets (5ms, 10ms, 100ms, 250ms, 500ms, 1s, 2.5s)"},
		{"no target", "window: 30d\nobjectives: [{class: read, availability: 99, latency: {threshold: 1s}}]\n", "latency.target is required"},
		{"not yaml", "window: [", "objectives:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc), buckets)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Parse = %v, want an error with %q", err, c.want)
			}
		})
	}
}

// TestBurnFactors: the workbook's factors for 30 days, scaled for
// another window.
func TestBurnFactors(t *testing.T) {
	for _, c := range []struct {
		window time.Duration
		want   []float64
	}{
		{30 * 24 * time.Hour, []float64{14.4, 6, 3, 1}},
		{28 * 24 * time.Hour, []float64{13.44, 5.6, 2.8, 0.933333}},
	} {
		o := Objectives{Window: c.window}
		for i, b := range burns {
			if got := o.factor(b); got != c.want[i] {
				t.Errorf("window %v, burn %d: factor %v, want %v", c.window, i, got, c.want[i])
			}
		}
	}
}

func TestLEMatcher(t *testing.T) {
	for d, want := range map[time.Duration]string{
		250 * time.Millisecond:  `0\.25`,
		time.Second:             `1(\.0)?`,
		10 * time.Second:        `10(\.0)?`,
		2500 * time.Millisecond: `2\.5`,
	} {
		if got := leMatcher(d); got != want {
			t.Errorf("leMatcher(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestRules: the rule file is YAML with the indicator of each window,
// the objectives, and a page and a ticket alert per objective, each with
// its runbook under the base given; the same objectives give the same
// bytes.
func TestRules(t *testing.T) {
	o, err := Parse([]byte(valid), buckets)
	if err != nil {
		t.Fatal(err)
	}
	out := o.Rules(RuleOptions{RunbookBase: "https://ops.example.com/rb/"})
	if !bytes.Equal(out, o.Rules(RuleOptions{RunbookBase: "https://ops.example.com/rb/"})) {
		t.Error("two renderings differ")
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Record      string            `yaml:"record"`
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(out, &file); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, out)
	}
	records, alerts := map[string]int{}, map[string]int{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				records[r.Record]++
			}
			if r.Alert != "" {
				alerts[r.Alert+"/"+r.Labels["class"]+"/"+r.Labels["severity"]]++
				if r.Annotations["runbook_url"] != "https://ops.example.com/rb/"+r.Alert+".md" {
					t.Errorf("%s: runbook_url %q", r.Alert, r.Annotations["runbook_url"])
				}
			}
		}
	}
	for _, w := range []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d"} {
		if records[errorsRecord+w] != 1 || records[slowRecord+w] != 1 {
			t.Errorf("window %s: %d error and %d latency indicators, want 1 each", w, records[errorsRecord+w], records[slowRecord+w])
		}
	}
	if records[objectiveRecord] != 3 {
		t.Errorf("%d objective records, want 3", records[objectiveRecord])
	}
	for _, a := range []string{
		AvailabilityAlert + "/read/page", AvailabilityAlert + "/read/ticket",
		AvailabilityAlert + "/realtime/page", AvailabilityAlert + "/realtime/ticket",
		LatencyAlert + "/read/page", LatencyAlert + "/read/ticket",
	} {
		if alerts[a] != 1 {
			t.Errorf("%d alerts %s, want 1", alerts[a], a)
		}
	}
	if len(alerts) != 6 {
		t.Errorf("alerts: %v", alerts)
	}
	if !strings.Contains(string(out), `basalt_slo:errors:ratio_rate1h{class="realtime"} > (14.4 * 0.005)`) {
		t.Errorf("the realtime page does not compare the hour's errors with 14.4 × its 0.5 %% budget:\n%s", out)
	}
}

// FuzzParse: any input is parsed or refused, never a panic, and what is
// parsed renders rules that are YAML.
func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte("window: 90d\nobjectives: [{class: search, availability: 50, latency: {threshold: 2500ms, target: 99.99}}]\n"))
	f.Add([]byte("window: 4w\nobjectives: [{class: auth, availability: 99.999}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := Parse(data, buckets)
		if err != nil {
			return
		}
		var v any
		if err := yaml.Unmarshal(o.Rules(RuleOptions{}), &v); err != nil {
			t.Fatalf("rules of %q are not YAML: %v", data, err)
		}
	})
}

// TestAnalysis: the canary analysis fails at the fast-burn page factor of
// the objectives' window, and has a term per class with an objective.
func TestAnalysis(t *testing.T) {
	o, err := Parse([]byte(strings.Replace(valid, "window: 30d", "window: 7d", 1)), buckets)
	if err != nil {
		t.Fatal(err)
	}
	// 2 % of a 7-day budget in an hour: 0.02 × 168 = 3.36.
	if got := o.AnalysisThreshold(); got != 3.36 {
		t.Fatalf("AnalysisThreshold = %v; want 3.36", got)
	}
	a := string(o.Analysis("t.yaml"))
	if !strings.Contains(a, "successCondition: result[0] < 3.36") || !strings.Contains(a, `from t.yaml`) {
		t.Fatalf("Analysis:\n%s", a)
	}
	q := o.AnalysisQuery(ErrorBurnMetric, `job="j"`)
	for _, obj := range o.Objectives {
		if !strings.Contains(q, `class="`+obj.Class+`",code=~"5.."`) {
			t.Errorf("the error query has no term for %s:\n%s", obj.Class, q)
		}
	}
	if strings.Count(o.AnalysisQuery(LatencyBurnMetric, `job="j"`), "le=~") != latencyObjectives(o) {
		t.Errorf("the latency query has not one term per latency objective")
	}
}

func latencyObjectives(o Objectives) int {
	n := 0
	for _, obj := range o.Objectives {
		if obj.Latency != nil {
			n++
		}
	}
	return n
}
