// Package load is Basalt's load generator: it starts the servers under test,
// seeds data, drives open-loop constant-rate load with vegeta, searches for the
// highest sustainable rate of each scenario and reports the results.
package load

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrBudgetExhausted is returned by a StepRunner when running the step would
// exceed the run's time or request budget. FindMaxRate then stops and keeps
// the best rate found so far.
var ErrBudgetExhausted = errors.New("load: run budget exhausted")

// StepResult is the outcome of one constant-rate step.
type StepResult struct {
	// Rate is the offered rate in requests per second.
	Rate int `json:"rate"`
	// Duration is how long requests were sent for.
	Duration time.Duration `json:"durationNs"`
	// Requests is the number of requests sent.
	Requests uint64 `json:"requests"`
	// Errors counts transport errors and non-2xx answers.
	Errors uint64 `json:"errors"`
	// SentRate is the rate at which requests were actually sent.
	SentRate float64 `json:"sentRate"`
	// Throughput is successful requests per second, measured until the last
	// answer arrived.
	Throughput float64 `json:"throughput"`
	// P50, P99, P999 and Max are latencies measured from the scheduled send.
	P50  time.Duration `json:"p50Ns"`
	P99  time.Duration `json:"p99Ns"`
	P999 time.Duration `json:"p999Ns"`
	Max  time.Duration `json:"maxNs"`
	// StatusCodes counts the answers by HTTP status ("0": no answer).
	StatusCodes map[string]int `json:"statusCodes,omitempty"`
	// ErrorSamples holds a few distinct error messages.
	ErrorSamples []string `json:"errorSamples,omitempty"`
	// Pass and Reason are filled in by Criteria.Judge.
	Pass   bool   `json:"pass"`
	Reason string `json:"reason,omitempty"`
}

// ErrorRatio is the fraction of requests that failed.
func (s StepResult) ErrorRatio() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Requests)
}

// Criteria decide whether a step's rate is sustained.
type Criteria struct {
	// MinThroughputRatio is the least fraction of the offered rate that must
	// be served successfully (0.95).
	MinThroughputRatio float64 `json:"minThroughputRatio"`
	// MaxErrorRatio is the error fraction that must not be reached (0.001).
	MaxErrorRatio float64 `json:"maxErrorRatio"`
	// MaxP99 is the p99 latency that must not be reached (50 ms).
	MaxP99 time.Duration `json:"maxP99Ns"`
}

// DefaultCriteria are the criteria of Basalt's performance acceptance tests.
func DefaultCriteria() Criteria {
	return Criteria{MinThroughputRatio: 0.95, MaxErrorRatio: 0.001, MaxP99: 50 * time.Millisecond}
}

// Judge sets s.Pass and s.Reason and returns s.
func (c Criteria) Judge(s StepResult) StepResult {
	s.Pass, s.Reason = true, ""
	switch {
	case s.Requests == 0:
		s.Pass, s.Reason = false, "no requests sent"
	case s.Throughput < c.MinThroughputRatio*float64(s.Rate):
		s.Pass, s.Reason = false, fmt.Sprintf("throughput %.0f/s < %.0f%% of %d/s", s.Throughput, c.MinThroughputRatio*100, s.Rate)
	case s.ErrorRatio() >= c.MaxErrorRatio:
		s.Pass, s.Reason = false, fmt.Sprintf("errors %d/%d ≥ %.2f%%", s.Errors, s.Requests, c.MaxErrorRatio*100)
	case s.P99 >= c.MaxP99:
		s.Pass, s.Reason = false, fmt.Sprintf("p99 %s ≥ %s", s.P99.Round(time.Microsecond), c.MaxP99)
	}
	return s
}

// StepRunner runs one step at the given offered rate (requests per second).
// It returns ErrBudgetExhausted, unwrapped or wrapped, when the step must not
// run.
type StepRunner func(ctx context.Context, rate int) (StepResult, error)

// SearchConfig bounds the rate search.
type SearchConfig struct {
	// StartRate is the first rate tried.
	StartRate int
	// MaxRate is never exceeded; reaching it with a passing step ends the search.
	MaxRate int
	// MinRate ends the downward search when the start rate fails.
	MinRate int
	// Bisections is the most steps spent narrowing the bracket.
	Bisections int
	// Precision ends bisection once (fail-pass)/pass is below it (e.g. 0.05).
	Precision float64
	// Retries is how many times a failing step is run again before its rate
	// counts as failing, so that a moment of noise on a shared machine does
	// not end the search; a rate passes when any attempt passes.
	Retries int
	// Criteria judge each step.
	Criteria Criteria
}

// Validate reports a configuration the search cannot work with.
func (c SearchConfig) Validate() error {
	switch {
	case c.MinRate < 1:
		return fmt.Errorf("load: min rate %d must be at least 1", c.MinRate)
	case c.StartRate < c.MinRate:
		return fmt.Errorf("load: start rate %d below min rate %d", c.StartRate, c.MinRate)
	case c.MaxRate < c.StartRate:
		return fmt.Errorf("load: max rate %d below start rate %d", c.MaxRate, c.StartRate)
	case c.Bisections < 0 || c.Retries < 0:
		return fmt.Errorf("load: negative bisections %d or retries %d", c.Bisections, c.Retries)
	}
	return nil
}

// SearchResult is what FindMaxRate learned.
type SearchResult struct {
	// Best is the passing step with the highest rate; nil when none passed.
	Best *StepResult `json:"best"`
	// Steps lists every step in the order it ran.
	Steps []StepResult `json:"steps"`
	// Truncated is set when the budget ended the search early.
	Truncated bool `json:"truncated"`
}

// FindMaxRate finds the highest rate that passes cfg.Criteria: it doubles
// from StartRate while steps pass (halving instead while they fail), then
// bisects between the best passing and the lowest failing rate. A failing
// step is retried up to cfg.Retries times before its rate counts as failing. It returns
// the steps so far together with any runner error other than the budget
// running out.
func FindMaxRate(ctx context.Context, cfg SearchConfig, run StepRunner) (SearchResult, error) {
	var res SearchResult
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	failing := 0 // lowest failing rate; 0 means none yet
	// step runs rate (with retries) and reports whether the search may go on.
	step := func(rate int) (bool, error) {
		for attempt := 0; ; attempt++ {
			s, err := run(ctx, rate)
			if err != nil {
				if errors.Is(err, ErrBudgetExhausted) {
					res.Truncated = true
					return false, nil
				}
				if s.Requests > 0 {
					res.Steps = append(res.Steps, cfg.Criteria.Judge(s))
				}
				return false, fmt.Errorf("load: step at %d req/s: %w", rate, err)
			}
			s = cfg.Criteria.Judge(s)
			res.Steps = append(res.Steps, s)
			if s.Pass {
				if res.Best == nil || s.Rate > res.Best.Rate {
					best := s
					res.Best = &best
				}
				return true, nil
			}
			if attempt >= cfg.Retries {
				if failing == 0 || rate < failing {
					failing = rate
				}
				return true, nil
			}
		}
	}

	// Bracket: double while passing, or halve while failing.
	rate := cfg.StartRate
	for {
		ok, err := step(rate)
		if err != nil || !ok {
			return res, err
		}
		if res.Best != nil && res.Best.Rate == rate {
			if failing != 0 || rate >= cfg.MaxRate {
				break
			}
			rate = min(rate*2, cfg.MaxRate)
			continue
		}
		if res.Best != nil || rate <= cfg.MinRate {
			break
		}
		rate = max(rate/2, cfg.MinRate)
	}

	// Bisect between the best passing rate and the lowest failing one.
	for range cfg.Bisections {
		if res.Best == nil || failing == 0 {
			break
		}
		lo := res.Best.Rate
		mid := lo + (failing-lo)/2
		if mid <= lo || float64(failing-lo) < cfg.Precision*float64(lo) {
			break
		}
		ok, err := step(mid)
		if err != nil || !ok {
			return res, err
		}
	}
	return res, nil
}
