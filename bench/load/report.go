package load

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Environment describes where and how a run happened.
type Environment struct {
	// Command is the command line, shell-quoted.
	Command string `json:"command"`
	// CPUModel is the first "model name" of /proc/cpuinfo.
	CPUModel string `json:"cpuModel"`
	// NumCPU and GOMAXPROCS are the load generator's view of the machine.
	NumCPU     int `json:"numCPU"`
	GOMAXPROCS int `json:"gomaxprocs"`
	// GoVersion, OS and Arch identify the toolchain and platform.
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	// LoadAverage is /proc/loadavg's 1, 5 and 15 minute figures at the
	// start: other work on a shared machine skews every number.
	LoadAverage string `json:"loadAverage,omitempty"`
	// Started is when the run began.
	Started time.Time `json:"started"`
}

// CurrentEnvironment describes this process; args is os.Args.
func CurrentEnvironment(args []string) Environment {
	return Environment{
		Command:     QuoteCommand(args),
		CPUModel:    cpuModel("/proc/cpuinfo"),
		NumCPU:      runtime.NumCPU(),
		GOMAXPROCS:  runtime.GOMAXPROCS(0),
		GoVersion:   runtime.Version(),
		OS:          runtime.GOOS,
		Arch:        runtime.GOARCH,
		Started:     time.Now().UTC().Truncate(time.Second),
		LoadAverage: loadAverage("/proc/loadavg"),
	}
}

// busy returns a warning when the load average at the start exceeded the
// number of CPUs, or "".
func (e Environment) busy() string {
	var load1 float64
	if _, err := fmt.Sscan(e.LoadAverage, &load1); err != nil || e.NumCPU < 1 || load1 <= float64(e.NumCPU) {
		return ""
	}
	return fmt.Sprintf("the machine was busy at the start (load average %.2f on %d CPUs): numbers are noisy; run again when it is idle", load1, e.NumCPU)
}

// appendOnce appends s to list unless it is there already.
func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// loadAverage returns the first three fields of a loadavg file, or "".
func loadAverage(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// cpuModel returns the first "model name" of a cpuinfo file, or "unknown".
func cpuModel(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// QuoteCommand joins args, quoting those a POSIX shell would split or expand.
func QuoteCommand(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@%+") == "" {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// Verdicts of a scenario against its threshold.
const (
	VerdictReference = "ref"
	VerdictPass      = "PASS"
	VerdictFail      = "FAIL"
	VerdictNone      = "—"
)

// ScenarioReport is the outcome of one scenario.
type ScenarioReport struct {
	// Name is the scenario name (hello, get, list, create).
	Name string `json:"name"`
	// Search holds every step and the best one.
	Search SearchResult `json:"search"`
	// MaxRate is the highest sustained rate; 0 when no step passed.
	MaxRate int `json:"maxRate"`
	// Ratio is MaxRate over the hello reference's; 0 when unknown.
	Ratio float64 `json:"ratio"`
	// Baseline names the scenario whose rate Threshold is relative to
	// (see BaselineOf); empty means the reference.
	Baseline string `json:"baseline,omitempty"`
	// BaselineRatio is MaxRate over Baseline's; 0 when unknown or when
	// there is no Baseline.
	BaselineRatio float64 `json:"baselineRatio,omitempty"`
	// Threshold is the least Ratio (or BaselineRatio, with a Baseline) that
	// passes; 0 means no threshold.
	Threshold float64 `json:"threshold"`
	// Storm is the outcome of the login-storm scenario, which has no rate
	// search and decides its verdict on its own threshold.
	Storm *StormReport `json:"storm,omitempty"`
	// Paired is get-auth's paired comparison with get; when it ran, it
	// decides the verdict instead of BaselineRatio.
	Paired *PairedReport `json:"paired,omitempty"`
	// Relay, Realtime and Idle are the outcomes of the change-event
	// scenarios (relay and relay-kafka, realtime-latency and
	// realtime-fanout, realtime-idle), which have no rate search and decide
	// their verdicts on their own targets.
	Relay    *RelayReport    `json:"relay,omitempty"`
	Realtime *RealtimeReport `json:"realtime,omitempty"`
	Idle     *IdleReport     `json:"idle,omitempty"`
	// Vectors is the outcome of ScenarioVectors, judged on recall.
	Vectors *VectorsReport `json:"vectors,omitempty"`
	// SearchText is the outcome of a full-text search scenario
	// (SearchTextScenarios), judged on its checks and lines.
	SearchText *SearchTextReport `json:"searchText,omitempty"`
	// Compare is the outcome of a comparison scenario
	// (CompareScenarios), judged on its lines and its target.
	Compare *CompareReport `json:"compare,omitempty"`
	// Verdict is one of the Verdict constants.
	Verdict string `json:"verdict"`
	// Notes explain anything that qualifies the numbers.
	Notes []string `json:"notes,omitempty"`
	// Err is the error that ended the scenario, if any.
	Err string `json:"error,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	// Env says where the run happened.
	Env Environment `json:"environment"`
	// Engine is the storage engine Basalt ran on ("" when it did not run).
	Engine string `json:"engine,omitempty"`
	// PGBench is PostgreSQL's own select-only rate (postgres mode only).
	PGBench *PGBenchResult `json:"pgbench,omitempty"`
	// Docs is the number of seeded documents (0 when Basalt did not run).
	Docs int `json:"docs"`
	// Step is the duration of each step.
	Step time.Duration `json:"stepNs"`
	// Criteria are the pass criteria of each step.
	Criteria Criteria `json:"criteria"`
	// Reference names the scenario the ratios are relative to.
	Reference string `json:"reference"`
	// Scenarios lists the scenarios in the order they ran.
	Scenarios []ScenarioReport `json:"scenarios"`
	// Notes are run-wide remarks.
	Notes []string `json:"notes,omitempty"`
}

// BaselineOf names the scenario whose highest sustained rate the threshold
// of scenario is relative to: get for get-auth (the same request without
// authentication), "" (the reference) for the others.
func BaselineOf(scenario string) string {
	if scenario == ScenarioGetAuth {
		return ScenarioGet
	}
	return ""
}

// Evaluate fills in every scenario's MaxRate, Ratio, BaselineRatio and
// Verdict. thresholds maps scenario names to their least ratio to the
// reference, or to their baseline (BaselineOf); a passing scenario also
// needs its p99 below r.Criteria.MaxP99. The login storm is judged on its
// own threshold (StormReport).
func (r *Report) Evaluate(thresholds map[string]float64) {
	ref := 0
	rates := map[string]int{}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		s.MaxRate = 0
		if s.Search.Best != nil {
			s.MaxRate = s.Search.Best.Rate
		}
		if s.Name == r.Reference {
			ref = s.MaxRate
		}
		rates[s.Name] = s.MaxRate
	}
	if ref > 0 {
		for _, s := range r.Scenarios {
			if s.Name != r.Reference && s.MaxRate > ref {
				r.Notes = appendOnce(r.Notes, fmt.Sprintf("%s sustained more than %s: the reference was measured while the machine was busy, so the ratios are unreliable; run again", s.Name, r.Reference))
			}
		}
	}
	if busy := r.Env.busy(); busy != "" {
		r.Notes = appendOnce(r.Notes, busy)
	}
	if pg := r.PGBench; pg != nil {
		pg.GetRatio = 0
		for _, s := range r.Scenarios {
			if s.Name == ScenarioGet && s.MaxRate > 0 && pg.TPS > 0 {
				pg.GetRatio = float64(s.MaxRate) / pg.TPS
			}
		}
	}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		s.Threshold = thresholds[s.Name]
		s.Ratio = 0
		if ref > 0 {
			s.Ratio = float64(s.MaxRate) / float64(ref)
		}
		s.Baseline, s.BaselineRatio = BaselineOf(s.Name), 0
		if base := rates[s.Baseline]; s.Baseline != "" && base > 0 {
			s.BaselineRatio = float64(s.MaxRate) / float64(base)
		}
		switch {
		case s.Name == r.Reference:
			s.Verdict = VerdictReference
		case s.Storm != nil || s.Relay != nil || s.Realtime != nil || s.Idle != nil || s.Vectors != nil || s.SearchText != nil || s.Compare != nil:
			s.Threshold = 0
			var notes []string
			switch {
			case s.Storm != nil:
				s.Verdict, notes = s.Storm.evaluate(r.Criteria)
			case s.Relay != nil:
				s.Verdict, notes = s.Relay.evaluate(s.Name == ScenarioRelayKafka)
			case s.Realtime != nil:
				s.Verdict, notes = s.Realtime.evaluate()
			case s.Vectors != nil:
				s.Verdict, notes = s.Vectors.evaluate()
			case s.SearchText != nil:
				s.Verdict, notes = s.SearchText.evaluate()
			case s.Compare != nil:
				s.Verdict, notes = s.Compare.evaluate(r.Criteria)
			default:
				s.Verdict, notes = s.Idle.evaluate()
			}
			if s.Err != "" && s.Storm == nil {
				s.Verdict = VerdictFail
			}
			for _, n := range notes {
				s.Notes = appendOnce(s.Notes, n)
			}
		case s.Threshold == 0:
			s.Verdict = VerdictNone
		case s.Baseline != "" && s.Paired != nil:
			ok, notes := s.Paired.evaluate(r.Criteria, s.Threshold)
			s.Verdict = VerdictFail
			if ok {
				s.Verdict = VerdictPass
			}
			for _, n := range notes {
				s.Notes = appendOnce(s.Notes, n)
			}
		case s.Baseline != "":
			s.Verdict = VerdictFail
			if rates[s.Baseline] == 0 {
				s.Notes = appendOnce(s.Notes, "no "+s.Baseline+" rate in this run to compare with")
			} else if s.Search.Best != nil && s.BaselineRatio >= s.Threshold && s.Search.Best.P99 < r.Criteria.MaxP99 {
				s.Verdict = VerdictPass
			}
		case ref == 0:
			s.Verdict = VerdictFail
			s.Notes = appendOnce(s.Notes, "no reference rate to compare with")
		case s.Search.Best != nil && s.Ratio >= s.Threshold && s.Search.Best.P99 < r.Criteria.MaxP99:
			s.Verdict = VerdictPass
		default:
			s.Verdict = VerdictFail
		}
	}
}

// Passed reports whether no scenario failed.
func (r Report) Passed() bool {
	for _, s := range r.Scenarios {
		if s.Verdict == VerdictFail {
			return false
		}
	}
	return true
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("load: write JSON report: %w", err)
	}
	return nil
}

// WriteMarkdown writes the report as a Markdown section for
// docs/performance.md: the run's context, then one table row per scenario.
func (r Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	e := r.Env
	fmt.Fprintf(&b, "Command: `%s`\n\n", e.Command)
	fmt.Fprintf(&b, "Machine: %s, %d CPUs, GOMAXPROCS=%d, %s/%s, %s, %s\n\n",
		e.CPUModel, e.NumCPU, e.GOMAXPROCS, e.OS, e.Arch, e.GoVersion, e.Started.Format(time.RFC3339))
	if e.LoadAverage != "" {
		fmt.Fprintf(&b, "Load average at start: %s\n\n", e.LoadAverage)
	}
	if r.Engine != "" {
		fmt.Fprintf(&b, "Engine: %s\n\n", r.Engine)
	}
	fmt.Fprintf(&b, "Method: open-loop constant rate (vegeta), %s steps; a rate is sustained when throughput ≥ %s of it, errors < %s and p99 < %s.",
		r.Step, percent(r.Criteria.MinThroughputRatio), percent(r.Criteria.MaxErrorRatio), r.Criteria.MaxP99)
	if r.Docs > 0 {
		fmt.Fprintf(&b, " Read scenarios run over %s seeded documents.", thousands(int64(r.Docs)))
	}
	b.WriteString("\n\n")
	refKnown := false
	for _, s := range r.Scenarios {
		refKnown = refKnown || (s.Name == r.Reference && s.MaxRate > 0)
	}
	b.WriteString("| scenario | max sustained req/s | p50 | p99 | p99.9 | errors | vs " + r.Reference + " | target | result |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|:---:|\n")
	var after []string // lines after the table
	for _, s := range r.Scenarios {
		switch {
		case s.Storm != nil:
			after = append(after, s.Storm.markdown(s.Verdict))
			continue
		case s.Relay != nil:
			after = append(after, s.Relay.markdown(s.Name, s.Verdict))
			continue
		case s.Realtime != nil:
			after = append(after, s.Realtime.markdown(s.Name, s.Verdict))
			continue
		case s.Idle != nil:
			after = append(after, s.Idle.markdown(s.Verdict))
			continue
		case s.Vectors != nil:
			after = append(after, s.Vectors.markdown(s.Verdict))
			continue
		case s.SearchText != nil:
			after = append(after, s.SearchText.markdown(s.Name, s.Verdict))
			continue
		case s.Compare != nil:
			after = append(after, s.Compare.markdown(s.Name, s.Verdict))
			continue
		}
		rate, p50, p99, p999, errs := "none", "—", "—", "—", "—"
		if best := s.Search.Best; best != nil {
			rate = thousands(int64(best.Rate))
			p50, p99, p999 = millis(best.P50), millis(best.P99), millis(best.P999)
			errs = thousands(int64(best.Errors)) + " / " + thousands(int64(best.Requests))
		}
		ratio, target := "—", "—"
		if refKnown {
			ratio = percent(s.Ratio)
		}
		if s.Threshold > 0 {
			target = "≥ " + percent(s.Threshold)
			if s.Baseline != "" {
				target += " of " + s.Baseline
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			s.Name, rate, p50, p99, p999, errs, ratio, target, s.Verdict)
		if line := baselineLine(s, r.Scenarios); line != "" {
			after = append(after, line)
		}
	}
	for _, line := range after {
		b.WriteString("\n" + line + "\n")
	}
	if line := r.PGBench.markdown(r.Scenarios); line != "" {
		b.WriteString("\n" + line + "\n")
	}
	var notes []string
	notes = append(notes, r.Notes...)
	for _, s := range r.Scenarios {
		for _, n := range s.Notes {
			notes = append(notes, s.Name+": "+n)
		}
		if s.Err != "" {
			notes = append(notes, s.Name+": error: "+s.Err)
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			b.WriteString("- " + n + "\n")
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("load: write Markdown report: %w", err)
	}
	return nil
}

// baselineLine is the report's line comparing s with its baseline
// scenario, e.g. "get-auth: 25,600 req/s, 94.1 % of get (27,200 req/s) in
// this run (target ≥ 90 %): PASS."; "" without a baseline.
func baselineLine(s ScenarioReport, all []ScenarioReport) string {
	if s.Baseline == "" {
		return ""
	}
	idx := slices.IndexFunc(all, func(o ScenarioReport) bool { return o.Name == s.Baseline })
	searched := idx >= 0 && all[idx].MaxRate > 0 && s.MaxRate > 0
	if s.Paired != nil {
		line := s.Paired.markdown(s.Name, s.Baseline, s.Threshold, s.Verdict)
		if searched {
			line = fmt.Sprintf("%s: %s req/s, %s of %s (%s req/s) by the rate searches, for reference; the paired comparison decides:\n\n%s",
				s.Name, thousands(int64(s.MaxRate)), percent(s.BaselineRatio), s.Baseline, thousands(int64(all[idx].MaxRate)), line)
		}
		return line
	}
	if !searched {
		return fmt.Sprintf("%s: not compared with %s (no sustained rate for both in this run): %s.", s.Name, s.Baseline, s.Verdict)
	}
	target := "no target"
	if s.Threshold > 0 {
		target = "target ≥ " + percent(s.Threshold)
	}
	return fmt.Sprintf("%s: %s req/s, **%s of %s** (%s req/s) in this run (%s): %s.",
		s.Name, thousands(int64(s.MaxRate)), percent(s.BaselineRatio), s.Baseline, thousands(int64(all[idx].MaxRate)), target, s.Verdict)
}

// markdown is the report's line about PostgreSQL's own ceiling; "" for a
// nil result.
func (pg *PGBenchResult) markdown(scenarios []ScenarioReport) string {
	switch {
	case pg == nil:
		return ""
	case pg.Skipped != "":
		return "PostgreSQL itself, pgbench -S: not measured: " + pg.Skipped + "."
	case pg.TPS <= 0:
		return "PostgreSQL itself, pgbench -S: not measured: " + pg.Err + "."
	}
	line := fmt.Sprintf("PostgreSQL itself, pgbench -S: %s tx/s (`%s` after `pgbench -i -s %d`, %s transactions, %s failed, latency average %.3f ms; without initial connection time).",
		thousands(int64(math.Round(pg.TPS))), pg.Command, pg.Scale, thousands(pg.Transactions), thousands(pg.Failed), pg.LatencyMs)
	for _, s := range scenarios {
		if s.Name == ScenarioGet && pg.GetRatio > 0 {
			line += fmt.Sprintf(" Basalt get-by-id: %s req/s, %s of it.", thousands(int64(s.MaxRate)), percent(pg.GetRatio))
		}
	}
	if pg.Err != "" {
		line += " Error: " + pg.Err + "."
	}
	return line
}

// millis formats d in milliseconds with a precision that suits its size.
func millis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 100:
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	case ms >= 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	default:
		return strconv.FormatFloat(ms, 'f', 2, 64) + " ms"
	}
}

// percent formats a fraction as a percentage without needless decimals.
func percent(f float64) string {
	p := strconv.FormatFloat(f*100, 'f', 1, 64)
	return strings.TrimSuffix(p, ".0") + " %"
}

// thousands formats n with comma separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
