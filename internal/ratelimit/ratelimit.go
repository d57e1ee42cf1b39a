// Package ratelimit is Basalt's rate-limiter contract: a Limiter answers
// whether n events for a key may happen now under a Limit, using the generic
// cell rate algorithm (GCRA). Implementations (in-process memory, Redis for
// cluster-wide limits) all run the ratelimittest conformance suite, so they
// answer alike to the microsecond.
//
// # Algorithm
//
// Each key has a theoretical arrival time TAT: the time at which its bucket
// would be full again if no further events happened. A key that was never
// seen, or whose TAT is not after now, has a full bucket.
//
// For a Limit{Rate, Burst} the emission interval is T = 1/Rate (the time one
// event takes to refill) and the delay-variation tolerance is
// τ = T·(Burst−1). A request for n events at time now is decided as follows:
//
//	tat    = max(TAT, now)
//	newTAT = tat + n·T
//	allowed iff newTAT − now ≤ τ + T   (that is, ≤ T·Burst)
//
// If allowed, TAT becomes newTAT; if denied, TAT is left unchanged (a denied
// request consumes nothing). For n = 1 this is the classic virtual-scheduling
// test "now ≥ TAT − τ"; it is the formulation of redis-cell's CL.THROTTLE
// with max_burst = Burst−1. So an idle key allows Burst events at once, and
// then one event every T.
//
// The Decision reports, with TAT' being the key's TAT after the decision and
// tat' = max(TAT', now):
//
//	Remaining  = floor((now + T·Burst − tat') / T), in [0, Burst]:
//	             how many more single events would be allowed right now.
//	ResetAfter = tat' − now: how long until the bucket is full again.
//	RetryAfter = 0 when allowed; when denied with n ≤ Burst,
//	             newTAT − now − T·Burst, the shortest wait after which the
//	             same request is allowed (assuming no other events for the
//	             key); when n > Burst, RetryNever, since the request can never
//	             be allowed.
//
// n = 0 is a query: it is always allowed, consumes nothing and reports
// Remaining and ResetAfter.
//
// # Resolution
//
// Time is handled in whole microseconds so that every implementation (Redis
// stores microseconds) computes the same answers: T is 1/Rate rounded to the
// nearest microsecond, now is truncated to the microsecond, and every
// duration in a Decision is a whole number of microseconds.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// RetryNever is Decision.RetryAfter for a request that can never be
// allowed, because it asks for more events than the Limit's Burst.
const RetryNever time.Duration = -1

// MaxWindow bounds T·Burst, the time a full bucket takes to refill from
// empty, so that the arithmetic in microseconds cannot overflow.
const MaxWindow = 10 * 365 * 24 * time.Hour

// ErrInvalid is wrapped by the errors Allow returns for an invalid Limit or
// a negative n: these are programming or configuration errors, never a
// client's fault.
var ErrInvalid = errors.New("ratelimit: invalid argument")

// ErrUnavailable is wrapped by the errors Allow returns when a limiter's
// backing store (Redis) cannot decide: it is down, too slow or refused the
// call. The events may or may not have been counted there (a call that
// timed out may still have run); a caller may decide with another limiter
// instead (see Fallback).
var ErrUnavailable = errors.New("ratelimit: store unavailable")

// Limit is a GCRA rate limit: Rate events per second on average, with up to
// Burst events at once.
type Limit struct {
	// Rate is the sustained rate in events per second. It must be finite
	// and positive, and 1/Rate rounded to the nearest microsecond must be
	// at least one microsecond.
	Rate float64
	// Burst is how many events an idle key allows at once; at least 1.
	Burst int
}

// Validate reports whether l can be used: a finite Rate whose emission
// interval (rounded) is at least one microsecond, Burst ≥ 1, and T·Burst within
// MaxWindow. The error wraps ErrInvalid.
func (l Limit) Validate() error {
	if math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) || l.Rate <= 0 {
		return fmt.Errorf("%w: rate %v must be finite and positive", ErrInvalid, l.Rate)
	}
	if l.Burst < 1 {
		return fmt.Errorf("%w: burst %d must be at least 1", ErrInvalid, l.Burst)
	}
	t := 1e6 / l.Rate
	if math.Round(t) < 1 {
		return fmt.Errorf("%w: rate %v exceeds one event per microsecond", ErrInvalid, l.Rate)
	}
	if t*float64(l.Burst) > float64(MaxWindow/time.Microsecond) {
		return fmt.Errorf("%w: burst %d at rate %v refills in more than %v", ErrInvalid, l.Burst, l.Rate, MaxWindow)
	}
	return nil
}

// EmissionInterval returns T = 1/Rate in whole microseconds (rounded to the
// nearest one). It is meaningful only for a valid Limit.
func (l Limit) EmissionInterval() time.Duration {
	return time.Duration(math.Round(1e6/l.Rate)) * time.Microsecond
}

// Decision is the answer to one Allow call.
type Decision struct {
	// Allowed reports whether the n events may happen; if so they were
	// counted.
	Allowed bool
	// Remaining is how many more single events would be allowed right now.
	Remaining int
	// RetryAfter is 0 when Allowed; otherwise the wait after which the same
	// request would be allowed, or RetryNever if it never can be.
	RetryAfter time.Duration
	// ResetAfter is how long until the key's bucket is full again.
	ResetAfter time.Duration
}

// Limiter decides whether events for a key may happen now. Keys are
// independent; a Limit may differ between calls for the same key, and each
// call is decided under the Limit it passes.
//
// Allow decides one request. It returns an error wrapping ErrInvalid for
// an invalid Limit or n < 0, ctx's error if ctx is done, and an
// implementation's error if its backing store fails; on error the Decision
// is the zero value and nothing was counted (a store error wrapping
// ErrUnavailable may have counted it: see ErrUnavailable).
//
// AllowAll decides several requests in one atomic step (for Redis, one
// round trip): reqs in order, as Allow would decide them one after another
// at one instant with no other decision between, stopping after the first
// refused request, whose successors are neither decided nor counted. It
// appends the decisions made to dst and returns it, so the last is the
// refusal if one was refused. It is how one request to Basalt is checked
// against several limits (its address's and its caller's) for the price of
// one. Its errors are Allow's, for any request (an invalid one is found
// before anything is counted); on error it returns dst unchanged.
type Limiter interface {
	Allow(ctx context.Context, key string, l Limit, n int) (Decision, error)
	AllowAll(ctx context.Context, reqs []Request, dst []Decision) ([]Decision, error)
}

// Request is one request of Limiter.AllowAll: N events for Key under Limit.
type Request struct {
	Key   string
	Limit Limit
	N     int
}

// Check validates the arguments of Allow, for implementations.
func Check(l Limit, n int) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("%w: n %d must not be negative", ErrInvalid, n)
	}
	return nil
}

// CheckAll validates the requests of AllowAll, for implementations.
func CheckAll(reqs []Request) error {
	for i, r := range reqs {
		if err := Check(r.Limit, r.N); err != nil {
			return fmt.Errorf("request %d (key %q): %w", i, r.Key, err)
		}
	}
	return nil
}

// CallerDone returns ctx's error if ctx is done, or
// context.DeadlineExceeded if its deadline has passed, for implementations
// and wrappers telling a caller's timeout from a store's failure: a client
// may see the deadline pass (through its connection's deadline) a moment
// before the context's own timer marks it done.
func CallerDone(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// Decide applies GCRA in microseconds, for implementations: given the key's
// stored TAT (any value not after now when the key is unknown), the current
// time now, a valid Limit and n ≥ 0, it returns the Decision and the TAT to
// store (equal to tat when nothing changes). Implementations that cannot
// run Go where the state lives (Redis runs Lua) must compute the same.
func Decide(tat, now int64, l Limit, n int) (Decision, int64) {
	t := int64(l.EmissionInterval() / time.Microsecond)
	window := t * int64(l.Burst)
	base := max(tat, now)
	if n > l.Burst {
		return Decision{
			Remaining:  remaining(base, now, t, window, l.Burst),
			RetryAfter: RetryNever,
			ResetAfter: micros(base - now),
		}, tat
	}
	next := base + int64(n)*t
	if next-now > window {
		return Decision{
			Remaining:  remaining(base, now, t, window, l.Burst),
			RetryAfter: micros(next - now - window),
			ResetAfter: micros(base - now),
		}, tat
	}
	if n == 0 {
		next = tat
	}
	return Decision{
		Allowed:    true,
		Remaining:  remaining(next, now, t, window, l.Burst),
		ResetAfter: micros(max(next, now) - now),
	}, next
}

func remaining(tat, now, t, window int64, burst int) int {
	r := (now + window - max(tat, now)) / t
	return int(min(max(r, 0), int64(burst)))
}

func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
