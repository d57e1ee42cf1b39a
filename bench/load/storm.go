package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// StormConfig shapes the login-storm scenario: GET-by-id load at a fixed
// rate, in rounds of a quiet phase followed by a phase with a storm of
// wrong-password logins, comparing the GET p99 of the two.
type StormConfig struct {
	// GetRate is the GET rate of both phases (req/s); 0 means half of the
	// get scenario's highest sustained rate in the same run.
	GetRate int
	// LoginRate is the rate of wrong-password logins during the storm
	// phases (req/s); each costs Basalt a full password hash.
	LoginRate int
	// Step is the length of each phase.
	Step time.Duration
	// Rounds is the number of quiet-then-storm pairs. Each round gives a
	// p99 ratio (storm phase over quiet phase); the verdict is on their
	// median.
	Rounds int
	// MaxP99Ratio is the largest median of the rounds' p99 ratios that
	// passes; 0 means no threshold.
	MaxP99Ratio float64
}

// DefaultStormConfig is 8 rounds of 3 s without and 3 s with 20 wrong
// logins per second, at half of get's highest sustained rate; the median
// round's p99 may at most double.
//
// Many short rounds judged by their median, rather than a few long ones
// pooled: on a shared machine a stall of the host now and then (tens of
// milliseconds, unrelated to Basalt) lands in one phase and multiplies that
// phase's p99, and with it a pooled p99, several times, in either
// direction. A stall lands in one round; an effect of the storm shows in
// most of them, so it moves the median.
func DefaultStormConfig() StormConfig {
	return StormConfig{LoginRate: 20, Step: 3 * time.Second, Rounds: 8, MaxP99Ratio: 2}
}

// Validate checks c.
func (c StormConfig) Validate() error {
	switch {
	case c.GetRate < 0 || c.LoginRate < 1:
		return fmt.Errorf("load: login storm needs a GET rate ≥ 0 and a login rate ≥ 1 (got %d, %d)", c.GetRate, c.LoginRate)
	case c.Step <= 0 || c.Rounds < 1:
		return fmt.Errorf("load: login storm needs a positive step and at least one round (got %s, %d)", c.Step, c.Rounds)
	case c.MaxP99Ratio < 0 || math.IsNaN(c.MaxP99Ratio):
		return fmt.Errorf("load: login storm p99 ratio threshold must not be negative (got %g)", c.MaxP99Ratio)
	}
	return nil
}

// StormThrottleBurst is the login burst (per IP and per account) Basalt
// runs with when the login storm is measured: far above the storm's
// attempts, so that every storm login is hashed instead of being answered
// by the throttle with a cheap 429.
const StormThrottleBurst = 1_000_000

// StormBasaltArgs are the `basalt serve` arguments of a run with the login
// storm: throttling loosened (see StormThrottleBurst), and the storm's one
// IP allowed the whole hashing budget, as a storm from many addresses
// would have it. Hashing concurrency
// stays at Basalt's default.
func StormBasaltArgs() []string {
	b := strconv.Itoa(StormThrottleBurst)
	return []string{"--login-ip-burst=" + b, "--login-email-burst=" + b, "--password-ip-share=1"}
}

// StormRound is one quiet-then-storm pair.
type StormRound struct {
	// Quiet is the GET load without the storm.
	Quiet StepResult `json:"quiet"`
	// Storm is the GET load during the storm; Logins the storm itself.
	Storm  StepResult `json:"storm"`
	Logins StepResult `json:"logins"`
}

// StormReport is the outcome of the login-storm scenario.
type StormReport struct {
	// GetRate and LoginRate are the offered rates (req/s).
	GetRate   int `json:"getRate"`
	LoginRate int `json:"loginRate"`
	// Step is the length of each phase.
	Step time.Duration `json:"stepNs"`
	// Rounds lists the completed rounds.
	Rounds []StormRound `json:"rounds"`
	// Quiet, Storm and Logins pool the rounds' phases (exact quantiles
	// over every latency).
	Quiet  StepResult `json:"quiet"`
	Storm  StepResult `json:"storm"`
	Logins StepResult `json:"logins"`
	// RoundRatios are each round's storm p99 over its quiet p99 (0 for a
	// round whose quiet p99 is 0), and MedianRatio their median: the
	// verdict's measure.
	RoundRatios []float64 `json:"roundRatios"`
	MedianRatio float64   `json:"medianRatio"`
	// P99Ratio is the pooled Storm.P99 / Quiet.P99, for reference; 0 when
	// not measured.
	P99Ratio float64 `json:"p99Ratio"`
	// MaxP99Ratio is the threshold on MedianRatio (0: none).
	MaxP99Ratio float64 `json:"maxP99Ratio"`
}

// runStorm measures the login storm within budget: a discarded warm-up of
// the GET load, then cfg.Storm.Rounds rounds of a quiet phase and a storm
// phase, each of getTr at getRate; during the storm phase loginTr runs
// alongside at cfg.Storm.LoginRate. Failures end up in the report.
func runStorm(ctx context.Context, cfg Config, budget *Budget, getRate int, getTr, loginTr vegeta.Targeter, logf func(string, ...any)) ScenarioReport {
	sc := cfg.Storm
	st := &StormReport{GetRate: getRate, LoginRate: sc.LoginRate, Step: sc.Step, MaxP99Ratio: sc.MaxP99Ratio}
	sr := ScenarioReport{Name: ScenarioLoginStorm, Storm: st}
	getAtk, loginAtk := NewAttacker(cfg.Attack), NewAttacker(cfg.Attack)
	defer getAtk.Close()
	defer loginAtk.Close()
	overhead := cfg.Settle + cfg.Attack.Timeout

	if cfg.Warmup > 0 {
		if err := budget.Take(getRate, cfg.Warmup, overhead); err == nil {
			w, err := getAtk.Step(ctx, getTr, getRate, cfg.Warmup)
			if err != nil {
				sr.Err = err.Error()
				return sr
			}
			logf("%-6s warm-up %s", ScenarioLoginStorm, stepLine(cfg.Search.Criteria.Judge(w)))
		}
	}

	var (
		quiet, storm, logins    []StepResult
		quietL, stormL, loginsL [][]time.Duration
	)
	for round := 1; round <= sc.Rounds; round++ {
		// One reservation per round, so that a round is measured whole or
		// not at all: both phases' requests, and the time of both.
		if err := budget.Take(2*getRate+sc.LoginRate, sc.Step, sc.Step+2*cfg.Settle+overhead); err != nil {
			logf("%-6s stop: %v", ScenarioLoginStorm, err)
			sr.Notes = append(sr.Notes, fmt.Sprintf("cut short by the run's time or request budget after %d of %d rounds", round-1, sc.Rounds))
			break
		}
		if err := pause(ctx, cfg.Settle); err != nil {
			sr.Err = err.Error()
			break
		}
		q, ql, err := getAtk.measure(ctx, getTr, getRate, sc.Step)
		if err != nil {
			sr.Err = err.Error()
			break
		}
		if err := pause(ctx, cfg.Settle); err != nil {
			sr.Err = err.Error()
			break
		}
		var (
			wg     sync.WaitGroup
			l      StepResult
			ll     []time.Duration
			logErr error
		)
		wg.Go(func() { l, ll, logErr = loginAtk.measure(ctx, loginTr, sc.LoginRate, sc.Step) })
		s, sl, err := getAtk.measure(ctx, getTr, getRate, sc.Step)
		wg.Wait()
		if err := errors.Join(err, logErr); err != nil {
			sr.Err = err.Error()
			break
		}
		quiet, quietL = append(quiet, q), append(quietL, ql)
		storm, stormL = append(storm, s), append(stormL, sl)
		logins, loginsL = append(logins, l), append(loginsL, ll)
		st.Rounds = append(st.Rounds, StormRound{Quiet: q, Storm: s, Logins: l})
		logf("%-6s round %d/%d  GET %d/s p99 without storm %s, with %s  logins %d (%s) p50 %s p99 %s",
			ScenarioLoginStorm, round, sc.Rounds, getRate, millis(q.P99), millis(s.P99),
			l.Requests, statusSummary(l.StatusCodes), millis(l.P50), millis(l.P99))
	}
	st.Quiet = mergeSteps(quiet, quietL)
	st.Storm = mergeSteps(storm, stormL)
	st.Logins = mergeSteps(logins, loginsL)
	return sr
}

// evaluate computes the ratios and decides the verdict under c (whose p99
// bound does not apply: the scenario compares p99s instead): the median of
// the rounds' p99 ratios must be at most MaxP99Ratio. The storm
// counts only when storm logins were hashed (401) — those beyond Basalt's
// hashing budget are answered 429, which is part of the defence being
// measured — and the GET load was sustained in both phases.
func (st *StormReport) evaluate(c Criteria) (verdict string, notes []string) {
	st.P99Ratio, st.MedianRatio, st.RoundRatios = 0, 0, nil
	if len(st.Rounds) == 0 || st.Quiet.Requests == 0 || st.Storm.Requests == 0 {
		notes = append(notes, "not measured: no round completed")
		if st.MaxP99Ratio == 0 {
			return VerdictNone, notes
		}
		return VerdictFail, notes
	}
	if st.Quiet.P99 > 0 {
		st.P99Ratio = float64(st.Storm.P99) / float64(st.Quiet.P99)
	}
	for _, r := range st.Rounds {
		ratio := 0.0
		if r.Quiet.P99 > 0 {
			ratio = float64(r.Storm.P99) / float64(r.Quiet.P99)
		}
		st.RoundRatios = append(st.RoundRatios, ratio)
	}
	st.MedianRatio = median(st.RoundRatios)
	ok := st.MedianRatio > 0
	hashed, refused := st.Logins.StatusCodes["401"], st.Logins.StatusCodes["429"]
	switch {
	case st.Logins.Requests == 0 || hashed == 0:
		ok = false
		notes = append(notes, fmt.Sprintf("no storm login was hashed (%s): the storm did not load Basalt",
			statusSummary(st.Logins.StatusCodes)))
	case uint64(hashed+refused) != st.Logins.Requests:
		ok = false
		notes = append(notes, fmt.Sprintf("storm logins got other answers than 401 and 429 (%s)", statusSummary(st.Logins.StatusCodes)))
	case refused > 0:
		notes = append(notes, fmt.Sprintf("%d storm logins were hashed (401) and %d refused (429) by Basalt's limits: its hashing budget (--password-max-rate), as the per-IP and per-account throttles were loosened",
			hashed, refused))
	}
	loose := c
	loose.MaxP99 = time.Duration(math.MaxInt64)
	for _, phase := range []struct {
		name string
		s    StepResult
	}{{"without the storm", st.Quiet}, {"with the storm", st.Storm}} {
		if j := loose.Judge(phase.s); !j.Pass {
			ok = false
			notes = append(notes, fmt.Sprintf("the GET load %s was not sustained: %s", phase.name, j.Reason))
		}
	}
	switch {
	case st.MaxP99Ratio == 0:
		return VerdictNone, notes
	case ok && st.MedianRatio <= st.MaxP99Ratio:
		return VerdictPass, notes
	default:
		return VerdictFail, notes
	}
}

// markdown is the report's section about the login storm.
func (st *StormReport) markdown(verdict string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Login storm: `GET /v1/collections/%s/documents/{id}` at %s req/s, %d round(s) of %s without, then %s with, %s wrong-password logins/s (`POST /v1/auth/login`, each a full password hash) against one account.\n\n",
		Collection, thousands(int64(st.GetRate)), len(st.Rounds), st.Step, st.Step, thousands(int64(st.LoginRate)))
	b.WriteString("| phase | GET requests | p50 | p99 | p99.9 | GET errors | logins | login answers | login p50 | login p99 |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|\n")
	row := func(name string, s StepResult, logins *StepResult) {
		l := "| — | — | — | — |"
		if logins != nil {
			l = fmt.Sprintf("| %s | %s | %s | %s |", thousands(int64(logins.Requests)), statusSummary(logins.StatusCodes), millis(logins.P50), millis(logins.P99))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s %s\n", name, thousands(int64(s.Requests)),
			millis(s.P50), millis(s.P99), millis(s.P999), thousands(int64(s.Errors)), l)
	}
	row("without storm", st.Quiet, nil)
	row("with storm", st.Storm, &st.Logins)
	b.WriteString("\n")
	target := "no target"
	if st.MaxP99Ratio > 0 {
		target = "target ≤ " + strconv.FormatFloat(st.MaxP99Ratio, 'f', -1, 64) + "×"
	}
	if st.MedianRatio > 0 {
		rounds := make([]string, len(st.RoundRatios))
		for i, r := range st.RoundRatios {
			rounds[i] = fmt.Sprintf("%.2f×", r)
		}
		fmt.Fprintf(&b, "GET p99 with the storm, as a multiple of the p99 without, per round: %s; median **%.2f×** (%s): %s. Pooled over all rounds: %.2f×.\n",
			strings.Join(rounds, ", "), st.MedianRatio, target, verdict, st.P99Ratio)
	} else {
		fmt.Fprintf(&b, "GET p99 ratio not measured (%s): %s\n", target, verdict)
	}
	return b.String()
}

// median returns the median of xs (the mean of the middle two for an even
// count), 0 for none. xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// statusSummary formats answer counts by status, e.g. "401 × 200, 429 × 3";
// status "0" (no answer) reads "no answer".
func statusSummary(codes map[string]int) string {
	if len(codes) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		name := k
		if k == "0" {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s × %s", name, thousands(int64(codes[k]))))
	}
	return strings.Join(parts, ", ")
}
