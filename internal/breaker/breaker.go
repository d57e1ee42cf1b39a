// Package breaker decides when a backend that keeps failing (a Redis server
// that is down) stops being tried for a while, so that callers fail at once
// instead of each waiting for a timeout. A refused or broken connection
// opens the breaker at once; timeouts open it only when several come in a
// row, so that one slow answer on a busy machine fails only its own call.
package breaker

import (
	"sync/atomic"
	"time"
)

// Defaults of New.
const (
	DefaultBackoff   = 500 * time.Millisecond
	DefaultSlowCalls = 3
)

// Breaker is safe for concurrent use. Use New.
type Breaker struct {
	backoff   time.Duration
	slowCalls int32
	// epoch anchors downUntil on the monotonic clock; downUntil is when,
	// in nanoseconds since epoch, calls are tried again (0: the last call
	// succeeded).
	epoch     time.Time
	downUntil atomic.Int64
	slow      atomic.Int32 // calls in a row that timed out
}

// New returns a breaker that, once open, stays open for backoff
// (DefaultBackoff if not positive) and opens after slowCalls timeouts in a
// row (DefaultSlowCalls if not positive).
func New(backoff time.Duration, slowCalls int) *Breaker {
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	if slowCalls <= 0 {
		slowCalls = DefaultSlowCalls
	}
	return &Breaker{backoff: backoff, slowCalls: int32(min(slowCalls, 1<<30)), epoch: time.Now()}
}

// Wait returns how long calls are still not to be tried; 0 means try.
func (b *Breaker) Wait() time.Duration {
	until := b.downUntil.Load()
	if until == 0 {
		return 0
	}
	return max(0, time.Duration(until)-time.Since(b.epoch))
}

// Succeeded records a call that the backend answered.
func (b *Breaker) Succeeded() {
	if b.slow.Load() != 0 {
		b.slow.Store(0)
	}
	if b.downUntil.Load() != 0 {
		b.downUntil.Store(0)
	}
}

// TimedOut records a call the backend did not answer in time: the breaker
// opens when it is the slowCalls-th in a row.
func (b *Breaker) TimedOut() {
	if b.slow.Add(1) >= b.slowCalls {
		b.open()
	}
}

// Failed records a call that failed for another reason than a timeout (the
// connection was refused or broken): the breaker opens.
func (b *Breaker) Failed() { b.open() }

func (b *Breaker) open() { b.downUntil.Store(int64(time.Since(b.epoch) + b.backoff)) }
