package load

import (
	"fmt"
	"sync"
	"time"
)

// Budget bounds a run in wall-clock time and total requests. It is safe for
// concurrent use.
type Budget struct {
	now func() time.Time

	mu       sync.Mutex
	deadline time.Time
	requests int64
}

// NewBudget returns a budget that ends at deadline or after requests
// requests; now is the clock (time.Now outside tests).
func NewBudget(deadline time.Time, requests int64, now func() time.Time) *Budget {
	return &Budget{now: now, deadline: deadline, requests: requests}
}

// Take reserves a step of rate requests per second lasting d, plus overhead
// of wall-clock time. It returns an error wrapping ErrBudgetExhausted when the
// step would end after the deadline or exceed the remaining requests.
func (b *Budget) Take(rate int, d, overhead time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	need := int64(float64(rate) * d.Seconds())
	if end := b.now().Add(d + overhead); end.After(b.deadline) {
		return fmt.Errorf("%w: a %s step at %d req/s would end %s after the deadline",
			ErrBudgetExhausted, d, rate, end.Sub(b.deadline).Round(time.Millisecond))
	}
	if need > b.requests {
		return fmt.Errorf("%w: a step of %d requests exceeds the %d left", ErrBudgetExhausted, need, b.requests)
	}
	b.requests -= need
	return nil
}

// Split carves a share of 1/n of the remaining time and requests into a new
// budget and takes the requests from b. The share's deadline is
// now + (deadline-now)/n, so unused time flows back to later shares.
func (b *Budget) Split(n int) *Budget {
	b.mu.Lock()
	defer b.mu.Unlock()
	n = max(n, 1)
	now := b.now()
	left := max(b.deadline.Sub(now), 0)
	share := b.requests / int64(n)
	b.requests -= share
	return &Budget{now: b.now, deadline: now.Add(left / time.Duration(n)), requests: share}
}

// Return gives the unused requests of a share back to b.
func (b *Budget) Return(share *Budget) {
	share.mu.Lock()
	left := share.requests
	share.requests = 0
	share.mu.Unlock()
	b.mu.Lock()
	b.requests += left
	b.mu.Unlock()
}

// Deadline is when the budget ends.
func (b *Budget) Deadline() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.deadline
}

// Requests is the number of requests left.
func (b *Budget) Requests() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.requests
}
