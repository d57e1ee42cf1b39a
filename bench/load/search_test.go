package load

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// capacityRunner imitates a server that sustains up to capacity req/s: it
// records the rates it was asked for and answers with a step that passes
// exactly when rate ≤ capacity. Steps beyond maxSteps exhaust the budget.
type capacityRunner struct {
	capacity int
	maxSteps int
	rates    []int
}

func (c *capacityRunner) run(_ context.Context, rate int) (StepResult, error) {
	if c.maxSteps > 0 && len(c.rates) >= c.maxSteps {
		return StepResult{}, fmt.Errorf("step %d: %w", len(c.rates)+1, ErrBudgetExhausted)
	}
	c.rates = append(c.rates, rate)
	s := StepResult{Rate: rate, Requests: uint64(rate) * 3, Throughput: float64(rate), P50: time.Millisecond, P99: 5 * time.Millisecond}
	if rate > c.capacity {
		s.Throughput = float64(c.capacity)
		s.P99 = time.Second
	}
	return s, nil
}

func testSearchConfig() SearchConfig {
	return SearchConfig{StartRate: 100, MaxRate: 100_000, MinRate: 10, Bisections: 4, Precision: 0.05, Criteria: DefaultCriteria()}
}

func TestFindMaxRate(t *testing.T) {
	tests := []struct {
		name      string
		cfg       func(*SearchConfig)
		capacity  int
		maxSteps  int
		wantRates []int
		wantBest  int // 0: no passing step
		truncated bool
	}{
		{
			name:      "double then bisect",
			capacity:  1000,
			wantRates: []int{100, 200, 400, 800, 1600, 1200, 1000, 1100, 1050},
			wantBest:  1000,
		},
		{
			name:      "exact power of two",
			capacity:  800,
			wantRates: []int{100, 200, 400, 800, 1600, 1200, 1000, 900, 850},
			wantBest:  800,
		},
		{
			name:      "precision stops bisection early",
			cfg:       func(c *SearchConfig) { c.Precision = 0.25 },
			capacity:  1000,
			wantRates: []int{100, 200, 400, 800, 1600, 1200, 1000},
			wantBest:  1000,
		},
		{
			name:      "no bisection",
			cfg:       func(c *SearchConfig) { c.Bisections = 0 },
			capacity:  1000,
			wantRates: []int{100, 200, 400, 800, 1600},
			wantBest:  800,
		},
		{
			name:      "start fails: halve then bisect",
			capacity:  30,
			wantRates: []int{100, 50, 25, 37, 31, 28, 29},
			wantBest:  29,
		},
		{
			name:      "nothing passes down to the min rate",
			capacity:  5,
			wantRates: []int{100, 50, 25, 12, 10},
		},
		{
			name:      "max rate caps the search",
			cfg:       func(c *SearchConfig) { c.MaxRate = 500 },
			capacity:  1_000_000,
			wantRates: []int{100, 200, 400, 500},
			wantBest:  500,
		},
		{
			name:      "budget runs out while doubling",
			capacity:  1000,
			maxSteps:  3,
			wantRates: []int{100, 200, 400},
			wantBest:  400,
			truncated: true,
		},
		{
			name:      "budget runs out while bisecting",
			capacity:  1000,
			maxSteps:  6,
			wantRates: []int{100, 200, 400, 800, 1600, 1200},
			wantBest:  800,
			truncated: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testSearchConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			r := &capacityRunner{capacity: tt.capacity, maxSteps: tt.maxSteps}
			res, err := FindMaxRate(context.Background(), cfg, r.run)
			if err != nil {
				t.Fatalf("FindMaxRate: %v", err)
			}
			if !slices.Equal(r.rates, tt.wantRates) {
				t.Errorf("rates = %v, want %v", r.rates, tt.wantRates)
			}
			if len(res.Steps) != len(r.rates) {
				t.Errorf("%d steps recorded, %d run", len(res.Steps), len(r.rates))
			}
			best := 0
			if res.Best != nil {
				best = res.Best.Rate
				if !res.Best.Pass {
					t.Errorf("best step %d does not pass", best)
				}
			}
			if best != tt.wantBest {
				t.Errorf("best = %d, want %d", best, tt.wantBest)
			}
			if res.Truncated != tt.truncated {
				t.Errorf("truncated = %v, want %v", res.Truncated, tt.truncated)
			}
		})
	}
}

func TestFindMaxRateRetries(t *testing.T) {
	// The first attempt at 400 req/s meets a noisy moment; the retry passes.
	var rates []int
	noisy := true
	run := func(_ context.Context, rate int) (StepResult, error) {
		rates = append(rates, rate)
		s := StepResult{Rate: rate, Requests: 100, Throughput: float64(rate), P99: time.Millisecond}
		if rate > 1000 || (rate == 400 && noisy) {
			noisy = rate != 400
			s.P99 = time.Second
		}
		return s, nil
	}
	cfg := testSearchConfig()
	cfg.Retries, cfg.Bisections = 1, 0
	res, err := FindMaxRate(context.Background(), cfg, run)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{100, 200, 400, 400, 800, 1600, 1600}; !slices.Equal(rates, want) {
		t.Errorf("rates = %v, want %v", rates, want)
	}
	if res.Best == nil || res.Best.Rate != 800 || len(res.Steps) != 7 {
		t.Errorf("best %+v after %d steps, want 800 after 7", res.Best, len(res.Steps))
	}
}

func TestFindMaxRateRunnerError(t *testing.T) {
	boom := errors.New("connection refused")
	calls := 0
	run := func(_ context.Context, rate int) (StepResult, error) {
		calls++
		if calls == 3 {
			return StepResult{Rate: rate, Requests: 10, Errors: 10}, boom
		}
		return StepResult{Rate: rate, Requests: 10, Throughput: float64(rate)}, nil
	}
	res, err := FindMaxRate(context.Background(), testSearchConfig(), run)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if len(res.Steps) != 3 || res.Steps[2].Pass {
		t.Errorf("steps = %+v, want 3 with the failing one last", res.Steps)
	}
	if res.Best == nil || res.Best.Rate != 200 {
		t.Errorf("best = %+v, want the 200 req/s step", res.Best)
	}
}

func TestSearchConfigValidate(t *testing.T) {
	bad := []func(*SearchConfig){
		func(c *SearchConfig) { c.MinRate = 0 },
		func(c *SearchConfig) { c.StartRate = 5 },
		func(c *SearchConfig) { c.MaxRate = 50 },
		func(c *SearchConfig) { c.Bisections = -1 },
		func(c *SearchConfig) { c.Retries = -1 },
	}
	for i, mutate := range bad {
		cfg := testSearchConfig()
		mutate(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("case %d: Validate accepted %+v", i, cfg)
		}
		if _, err := FindMaxRate(context.Background(), cfg, nil); err == nil {
			t.Errorf("case %d: FindMaxRate accepted %+v", i, cfg)
		}
	}
}

func TestCriteriaJudge(t *testing.T) {
	ok := StepResult{Rate: 1000, Requests: 3000, Throughput: 990, P99: 10 * time.Millisecond}
	tests := []struct {
		name string
		edit func(*StepResult)
		pass bool
	}{
		{"sustained", func(*StepResult) {}, true},
		{"throughput at 95 %", func(s *StepResult) { s.Throughput = 950 }, true},
		{"throughput below 95 %", func(s *StepResult) { s.Throughput = 949 }, false},
		{"two errors in 3000", func(s *StepResult) { s.Errors = 2 }, true},
		{"errors at 0.1 %", func(s *StepResult) { s.Errors = 3 }, false},
		{"p99 just below 50 ms", func(s *StepResult) { s.P99 = 50*time.Millisecond - 1 }, true},
		{"p99 at 50 ms", func(s *StepResult) { s.P99 = 50 * time.Millisecond }, false},
		{"no requests", func(s *StepResult) { s.Requests = 0 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.edit(&s)
			got := DefaultCriteria().Judge(s)
			if got.Pass != tt.pass {
				t.Errorf("Pass = %v (%s), want %v", got.Pass, got.Reason, tt.pass)
			}
			if got.Pass == (got.Reason != "") {
				t.Errorf("Reason %q does not match Pass %v", got.Reason, got.Pass)
			}
		})
	}
}

func TestBudget(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	b := NewBudget(now.Add(time.Minute), 10_000, clock)

	if err := b.Take(1000, 3*time.Second, time.Second); err != nil {
		t.Fatalf("Take: %v", err)
	}
	if got := b.Requests(); got != 7000 {
		t.Errorf("requests left = %d, want 7000", got)
	}
	if err := b.Take(3000, 3*time.Second, 0); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("9000 requests out of 7000: err = %v, want ErrBudgetExhausted", err)
	}
	now = now.Add(58 * time.Second)
	if err := b.Take(1, 3*time.Second, 0); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("step past the deadline: err = %v, want ErrBudgetExhausted", err)
	}

	now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b = NewBudget(now.Add(40*time.Second), 9000, clock)
	share := b.Split(4)
	if got, want := share.Deadline(), now.Add(10*time.Second); !got.Equal(want) {
		t.Errorf("share deadline = %s, want %s", got, want)
	}
	if share.Requests() != 2250 || b.Requests() != 6750 {
		t.Errorf("split requests = %d + %d, want 2250 + 6750", share.Requests(), b.Requests())
	}
	if err := share.Take(250, 2*time.Second, 0); err != nil {
		t.Fatalf("share Take: %v", err)
	}
	b.Return(share)
	if b.Requests() != 8500 || share.Requests() != 0 {
		t.Errorf("after Return: %d and %d, want 8500 and 0", b.Requests(), share.Requests())
	}
}
