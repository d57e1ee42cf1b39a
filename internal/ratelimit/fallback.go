package ratelimit

import (
	"context"
	"errors"
)

// Fallback returns a Limiter that decides with primary and, when primary
// fails for any reason but an invalid argument (ErrInvalid) or the caller's
// done context, decides with secondary instead. It is how a limit that must
// never become unlimited (logins) survives its shared store going down: a
// Redis limiter as primary, an in-process one as secondary, so each process
// keeps limiting on its own counts until Redis returns.
//
// onError, if not nil, is called with each primary error that was answered
// by secondary, so the caller can count and log outages (rate-limiting its
// log lines is the caller's business); it must be safe for concurrent use.
// Errors of secondary are returned as they are.
func Fallback(primary, secondary Limiter, onError func(error)) Limiter {
	return &fallback{primary: primary, secondary: secondary, onError: onError}
}

type fallback struct {
	primary, secondary Limiter
	onError            func(error)
}

func (f *fallback) Allow(ctx context.Context, key string, l Limit, n int) (Decision, error) {
	d, err := f.primary.Allow(ctx, key, l, n)
	if err == nil || errors.Is(err, ErrInvalid) || CallerDone(ctx) != nil {
		return d, err
	}
	if f.onError != nil {
		f.onError(err)
	}
	return f.secondary.Allow(ctx, key, l, n)
}

func (f *fallback) AllowAll(ctx context.Context, reqs []Request, dst []Decision) ([]Decision, error) {
	out, err := f.primary.AllowAll(ctx, reqs, dst)
	if err == nil || errors.Is(err, ErrInvalid) || CallerDone(ctx) != nil {
		return out, err
	}
	if f.onError != nil {
		f.onError(err)
	}
	return f.secondary.AllowAll(ctx, reqs, dst)
}
