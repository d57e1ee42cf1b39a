package load

import (
	"context"
	"fmt"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// PairedConfig shapes the paired comparison that judges get-auth against
// get: rounds of both requests at full speed, one right after the other.
//
// Two rate searches run a minute apart each land within about 5 % of their
// true maximum, and the machine's speed drifts between them; on a shared
// machine their ratio moved from 84 % to 129 % between runs of the same
// binary. Pairing the two in short back-to-back phases, in alternating
// order, exposes both to the same conditions, and the median round is not
// moved by one disturbed phase.
type PairedConfig struct {
	// Rounds is the number of pairs; 0 skips the comparison (get-auth is
	// then judged on its rate search).
	Rounds int
	// Step is the length of each phase.
	Step time.Duration
	// Workers is the number of clients of each phase, each with one
	// request in flight.
	Workers uint64
}

// DefaultPairedConfig is 10 rounds of 3 s per request, 64 clients each.
func DefaultPairedConfig() PairedConfig {
	return PairedConfig{Rounds: 10, Step: 3 * time.Second, Workers: 64}
}

// Validate checks c.
func (c PairedConfig) Validate() error {
	if c.Rounds < 0 || (c.Rounds > 0 && (c.Step <= 0 || c.Workers < 1)) {
		return fmt.Errorf("load: the paired comparison needs rounds ≥ 0, a positive step and at least one client (got %d, %s, %d)", c.Rounds, c.Step, c.Workers)
	}
	return nil
}

// PairedRound is one pair of full-speed phases.
type PairedRound struct {
	Base StepResult `json:"base"`
	Auth StepResult `json:"auth"`
	// Ratio is Auth's throughput over Base's; 0 when Base answered none.
	Ratio float64 `json:"ratio"`
}

// PairedReport is the outcome of the paired comparison.
type PairedReport struct {
	Step    time.Duration `json:"stepNs"`
	Workers uint64        `json:"workers"`
	Rounds  []PairedRound `json:"rounds"`
	// Median is the median of the rounds' ratios: the verdict's measure.
	Median float64 `json:"median"`
}

// runPaired measures cfg.Paired.Rounds pairs of baseTr and authTr at full
// speed, the base first in odd rounds and second in even ones. estRate (a
// generous guess of the full-speed rate, for the request budget; 0: the
// search's -max-rate) counts for each of a round's two phases.
func runPaired(ctx context.Context, cfg Config, budget *Budget, estRate int, baseTr, authTr vegeta.Targeter, logf func(string, ...any)) (*PairedReport, error) {
	pc := cfg.Paired
	rep := &PairedReport{Step: pc.Step, Workers: pc.Workers}
	atk := NewAttacker(cfg.Attack)
	defer atk.Close()
	if estRate <= 0 {
		estRate = cfg.Search.MaxRate
	}
	for round := 1; round <= pc.Rounds; round++ {
		if err := budget.Take(2*estRate, pc.Step, pc.Step+2*cfg.Settle+2*cfg.Attack.Timeout); err != nil {
			logf("%-6s paired stop: %v", ScenarioGetAuth, err)
			break
		}
		var r PairedRound
		phases := []struct {
			tr  vegeta.Targeter
			out *StepResult
		}{{baseTr, &r.Base}, {authTr, &r.Auth}}
		if round%2 == 0 {
			phases[0], phases[1] = phases[1], phases[0]
		}
		for _, ph := range phases {
			if err := pause(ctx, cfg.Settle); err != nil {
				return rep, err
			}
			s, err := atk.Saturate(ctx, ph.tr, pc.Workers, pc.Step)
			if err != nil {
				return rep, err
			}
			*ph.out = s
		}
		if r.Base.Throughput > 0 {
			r.Ratio = r.Auth.Throughput / r.Base.Throughput
		}
		rep.Rounds = append(rep.Rounds, r)
		logf("%-6s paired round %d/%d  get %.0f/s (p99 %s), get-auth %.0f/s (p99 %s): %s",
			ScenarioGetAuth, round, pc.Rounds, r.Base.Throughput, millis(r.Base.P99), r.Auth.Throughput, millis(r.Auth.P99), percent(r.Ratio))
	}
	return rep, nil
}

// evaluate computes the median and reports whether it reaches threshold
// with every phase answered without errors (beyond c's error ratio).
func (p *PairedReport) evaluate(c Criteria, threshold float64) (ok bool, notes []string) {
	ratios := make([]float64, 0, len(p.Rounds))
	clean := true
	for _, r := range p.Rounds {
		ratios = append(ratios, r.Ratio)
		for _, s := range []StepResult{r.Base, r.Auth} {
			if s.Requests == 0 || float64(s.Errors) >= c.MaxErrorRatio*float64(s.Requests) {
				clean = false
			}
		}
	}
	p.Median = median(ratios)
	switch {
	case len(p.Rounds) == 0:
		return false, []string{"the paired comparison did not run (the run's time or request budget)"}
	case !clean:
		return false, []string{"the paired comparison had failing requests"}
	}
	return p.Median >= threshold, nil
}

// markdown is the report's line about the paired comparison of scenario
// against baseline.
func (p *PairedReport) markdown(scenario, baseline string, threshold float64, verdict string) string {
	rounds := make([]string, len(p.Rounds))
	for i, r := range p.Rounds {
		rounds[i] = fmt.Sprintf("%s (%s / %s)", percent(r.Ratio), thousands(int64(r.Auth.Throughput)), thousands(int64(r.Base.Throughput)))
	}
	target := "no target"
	if threshold > 0 {
		target = "target ≥ " + percent(threshold)
	}
	return fmt.Sprintf("%s against %s, paired: %d round(s) of %s each at full speed (%d clients, closed loop), back to back in alternating order; %s of %s req/s per round: %s; median **%s** (%s): %s.",
		scenario, baseline, len(p.Rounds), p.Step, p.Workers, scenario, baseline, strings.Join(rounds, ", "), percent(p.Median), target, verdict)
}
