package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/ratelimit"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
	"github.com/basaltdev/basalt/internal/ratelimit/ratelimittest"
)

// failing is a limiter whose store is down: it validates its arguments and
// context as every limiter does, then fails with err.
type failing struct {
	err   error
	calls atomic.Int64
}

func (f *failing) Allow(ctx context.Context, _ string, l ratelimit.Limit, n int) (ratelimit.Decision, error) {
	f.calls.Add(1)
	if err := ratelimit.Check(l, n); err != nil {
		return ratelimit.Decision{}, err
	}
	if err := ctx.Err(); err != nil {
		return ratelimit.Decision{}, fmt.Errorf("ratelimit: %w", err)
	}
	return ratelimit.Decision{}, f.err
}

func (f *failing) AllowAll(ctx context.Context, reqs []ratelimit.Request, dst []ratelimit.Decision) ([]ratelimit.Decision, error) {
	f.calls.Add(1)
	if err := ratelimit.CheckAll(reqs); err != nil {
		return dst, err
	}
	if err := ctx.Err(); err != nil {
		return dst, fmt.Errorf("ratelimit: %w", err)
	}
	return dst, f.err
}

// unused fails the test when asked anything.
type unused struct{ t *testing.T }

func (u unused) Allow(context.Context, string, ratelimit.Limit, int) (ratelimit.Decision, error) {
	u.t.Error("the secondary limiter was asked while the primary works")
	return ratelimit.Decision{}, errors.New("unused")
}

func (u unused) AllowAll(_ context.Context, _ []ratelimit.Request, dst []ratelimit.Decision) ([]ratelimit.Decision, error) {
	u.t.Error("the secondary limiter was asked while the primary works")
	return dst, errors.New("unused")
}

// deadlinePassed is a context whose deadline has passed but whose timer
// has not yet marked it done, as a client may observe for a moment.
type deadlinePassed struct{ context.Context }

func (deadlinePassed) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

func TestFallbackConformance(t *testing.T) {
	ratelimittest.Run(t, "fallback-primary-down", func(t *testing.T, now func() time.Time) ratelimit.Limiter {
		primary := &failing{err: fmt.Errorf("%w: connection refused", ratelimit.ErrUnavailable)}
		return ratelimit.Fallback(primary, memory.New(now, 1000), nil)
	})
	ratelimittest.Run(t, "fallback-primary-up", func(t *testing.T, now func() time.Time) ratelimit.Limiter {
		return ratelimit.Fallback(memory.New(now, 1000), unused{t}, func(err error) {
			t.Errorf("onError(%v) while the primary works", err)
		})
	})
}

func TestFallback(t *testing.T) {
	l := ratelimit.Limit{Rate: 1, Burst: 2}
	down := fmt.Errorf("%w: connection refused", ratelimit.ErrUnavailable)
	for _, c := range []struct {
		name         string
		primaryErr   error
		wantFallback bool
	}{
		{"unavailable", down, true},
		{"any other store error", errors.New("READONLY You can't write against a read only replica"), true},
		{"the store's own timeout", fmt.Errorf("redis: %w", context.DeadlineExceeded), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			primary := &failing{err: c.primaryErr}
			var seen []error
			lim := ratelimit.Fallback(primary, memory.New(time.Now, 10), func(err error) { seen = append(seen, err) })
			for i, want := range []bool{true, true, false} {
				d, err := lim.Allow(t.Context(), "k", l, 1)
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if d.Allowed != want {
					t.Fatalf("event %d: %+v, want allowed=%v (the secondary keeps limiting)", i, d, want)
				}
			}
			if len(seen) != 3 || !errors.Is(seen[0], c.primaryErr) {
				t.Fatalf("onError saw %v, want the primary's error 3 times", seen)
			}
		})
	}

	t.Run("AllowAll falls back as a whole", func(t *testing.T) {
		primary := &failing{err: down}
		var seen []error
		lim := ratelimit.Fallback(primary, memory.New(time.Now, 10), func(err error) { seen = append(seen, err) })
		reqs := []ratelimit.Request{{Key: "ip", Limit: l, N: 1}, {Key: "account", Limit: l, N: 2}}
		for i, want := range [][]bool{{true, true}, {true, false}} {
			ds, err := lim.AllowAll(t.Context(), reqs, nil)
			if err != nil {
				t.Fatalf("batch %d: %v", i, err)
			}
			got := make([]bool, len(ds))
			for j, d := range ds {
				got[j] = d.Allowed
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("batch %d: %+v, want allowed %v (decided by the secondary)", i, ds, want)
			}
		}
		if len(seen) != 2 || primary.calls.Load() != 2 {
			t.Fatalf("onError saw %v after %d primary calls, want 2 of each", seen, primary.calls.Load())
		}
		if _, err := lim.AllowAll(t.Context(), []ratelimit.Request{{Key: "k", Limit: ratelimit.Limit{}, N: 1}}, nil); !errors.Is(err, ratelimit.ErrInvalid) || len(seen) != 2 {
			t.Fatalf("invalid batch: %v, onError %d times; want ErrInvalid, no outage", err, len(seen))
		}
	})
	t.Run("invalid argument is not an outage", func(t *testing.T) {
		lim := ratelimit.Fallback(&failing{err: down}, unused{t}, func(err error) { t.Errorf("onError(%v)", err) })
		if _, err := lim.Allow(t.Context(), "k", ratelimit.Limit{Rate: 1, Burst: 0}, 1); !errors.Is(err, ratelimit.ErrInvalid) {
			t.Fatalf("error = %v, want ErrInvalid", err)
		}
	})
	t.Run("the caller's context is not an outage", func(t *testing.T) {
		lim := ratelimit.Fallback(&failing{err: down}, unused{t}, func(err error) { t.Errorf("onError(%v)", err) })
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := lim.Allow(ctx, "k", l, 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
	})
	t.Run("the caller's deadline is not an outage, even before its context says so", func(t *testing.T) {
		primary := &failing{err: fmt.Errorf("%w: redis: %w", ratelimit.ErrUnavailable, context.DeadlineExceeded)}
		lim := ratelimit.Fallback(primary, unused{t}, func(err error) { t.Errorf("onError(%v)", err) })
		if _, err := lim.Allow(deadlinePassed{t.Context()}, "k", l, 1); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("nil onError", func(t *testing.T) {
		lim := ratelimit.Fallback(&failing{err: down}, memory.New(time.Now, 10), nil)
		if d, err := lim.Allow(t.Context(), "k", l, 1); err != nil || !d.Allowed {
			t.Fatalf("%+v, %v", d, err)
		}
	})
}
