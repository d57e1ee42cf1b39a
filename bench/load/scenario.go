package load

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// runScenario warms up at search.StartRate, then searches the highest
// sustained rate of one scenario within budget. Failures end up in the
// report, not in an error.
func runScenario(ctx context.Context, cfg Config, search SearchConfig, budget *Budget, name string, tr vegeta.Targeter, logf func(string, ...any)) ScenarioReport {
	return runScenarioWith(ctx, cfg, search, budget, name, tr, nil, logf)
}

// runScenarioWith is runScenario with the requests sent by client (nil:
// the attacker's own, HTTP/1.1).
func runScenarioWith(ctx context.Context, cfg Config, search SearchConfig, budget *Budget, name string, tr vegeta.Targeter, client *http.Client,
	logf func(string, ...any)) ScenarioReport {
	sr := ScenarioReport{Name: name}
	atk := NewAttackerWith(cfg.Attack, client)
	defer atk.Close()
	overhead := cfg.Settle + cfg.Attack.Timeout

	if cfg.Warmup > 0 {
		if err := budget.Take(search.StartRate, cfg.Warmup, overhead); err == nil {
			w, err := atk.Step(ctx, tr, search.StartRate, cfg.Warmup)
			if err != nil {
				sr.Err = err.Error()
				return sr
			}
			logf("%-6s warm-up %s", name, stepLine(search.Criteria.Judge(w)))
		}
	}

	run := func(ctx context.Context, rate int) (StepResult, error) {
		if err := budget.Take(rate, cfg.Step, overhead); err != nil {
			logf("%-6s stop: %v", name, err)
			return StepResult{}, err
		}
		if err := pause(ctx, cfg.Settle); err != nil {
			return StepResult{}, err
		}
		s, err := atk.Step(ctx, tr, rate, cfg.Step)
		if err != nil {
			return s, err
		}
		logf("%-6s %s", name, stepLine(search.Criteria.Judge(s)))
		if s.Requests > 0 && s.Errors == s.Requests {
			return s, fmt.Errorf("every request failed (e.g. %s)", strings.Join(s.ErrorSamples, "; "))
		}
		return s, nil
	}
	res, err := FindMaxRate(ctx, search, run)
	sr.Search = res
	if err != nil {
		sr.Err = err.Error()
	}
	if res.Truncated {
		sr.Notes = append(sr.Notes, "search cut short by the run's time or request budget")
	}
	if res.Best != nil && res.Best.Rate >= search.MaxRate {
		sr.Notes = append(sr.Notes, fmt.Sprintf("reached -max-rate %d: the real maximum may be higher", search.MaxRate))
	}
	if res.Best == nil && err == nil {
		sr.Notes = append(sr.Notes, fmt.Sprintf("no rate down to %d req/s was sustained", search.MinRate))
	}
	return sr
}

// stepLine is a one-line summary of a judged step for the progress log.
func stepLine(s StepResult) string {
	verdict := "pass"
	if !s.Pass {
		verdict = "FAIL " + s.Reason
	}
	return fmt.Sprintf("rate %6d/s  sent %8.1f/s  ok %8.1f/s  p50 %9s  p99 %9s  p99.9 %9s  errors %d/%d  %s",
		s.Rate, s.SentRate, s.Throughput, millis(s.P50), millis(s.P99), millis(s.P999), s.Errors, s.Requests, verdict)
}

// pause waits for d or until ctx is done.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("load: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}
