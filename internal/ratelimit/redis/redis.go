// Package redis is Basalt's cluster-wide ratelimit.Limiter: GCRA over Redis,
// so that every Basalt process sharing a Redis server counts the same
// events against the same limit.
//
// Each decision is one atomic Lua script (sent by SHA with EVALSHA, loaded
// with EVAL when the server does not know it yet); so is each AllowAll, in
// one round trip whatever the number of requests. The script reads the
// key's theoretical arrival time (TAT, in microseconds since the Unix
// epoch), takes now from the Redis server's clock (TIME), so every process
// agrees on it whatever its own clock says, applies the GCRA test of the
// ratelimit contract and stores the new TAT. It returns the stored TAT
// before the decision and the now it used, and the Go side computes the
// reported Decision with ratelimit.Decide from exactly those numbers, so
// the answer matches the in-process limiter to the microsecond.
//
// Every key has a TTL: a key is written with PX set to just past the time
// its bucket is full again, and deleted when a decision leaves its bucket
// full, so Redis holds only keys that still limit something.
//
// Lua numbers are doubles. Microseconds since the epoch (about 2^51 today)
// and T·Burst (at most ratelimit.MaxWindow, about 2^48 µs) are integers
// below 2^53, so every sum the script computes is exact; it does no
// division. TATs are written with string.format('%d') (a plain tostring
// would print 14 significant digits).
//
// When Redis is unreachable or slow, Allow fails within Options.Timeout
// with an error wrapping ratelimit.ErrUnavailable. Once Redis is known to
// be down — a call failed for another reason than the timeout (a refused
// or broken connection), or SlowCalls calls in a row timed out — Allow
// fails at once without trying Redis for Options.Backoff, so callers do
// not each wait for a timeout while it is down. A single slow answer (a
// busy machine) fails only its own call. Callers that must keep limiting
// wrap the limiter in ratelimit.Fallback.
package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/basaltdev/basalt/internal/breaker"
	"github.com/basaltdev/basalt/internal/ratelimit"
)

// DefaultTimeout bounds one decision when Options.Timeout is zero.
const DefaultTimeout = 250 * time.Millisecond

// SlowCalls is how many calls in a row must time out before Redis is
// taken for down.
const SlowCalls = breaker.DefaultSlowCalls

// DefaultBackoff is how long Allow fails at once after a failed call, when
// Options.Backoff is zero.
const DefaultBackoff = breaker.DefaultBackoff

// Options configure a Limiter.
type Options struct {
	// Client is the Redis client; required. The Limiter does not close it.
	Client rueidis.Client
	// Prefix namespaces the limiter's keys, e.g. "basalt:rl:".
	Prefix string
	// Now, when set, is the clock the script uses instead of the Redis
	// server's TIME. Tests set it to drive time; production leaves it nil
	// so that every process agrees on the server's clock.
	Now func() time.Time
	// Timeout bounds each call to Redis (DefaultTimeout if zero).
	Timeout time.Duration
	// Backoff is how long Allow fails at once, without trying Redis,
	// after a call failed (DefaultBackoff if zero).
	Backoff time.Duration
}

// Limiter is the Redis GCRA limiter. Use New; it is safe for concurrent
// use.
type Limiter struct {
	client  rueidis.Client
	prefix  string
	now     func() time.Time
	timeout time.Duration
	// down stops calls to Redis for a while once it is taken for down.
	down *breaker.Breaker
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// New returns a limiter over o.Client.
func New(o Options) *Limiter {
	l := &Limiter{
		client:  o.Client,
		prefix:  o.Prefix,
		now:     o.Now,
		timeout: o.Timeout,
		down:    breaker.New(o.Backoff, SlowCalls),
	}
	if l.timeout <= 0 {
		l.timeout = DefaultTimeout
	}
	return l
}

// script is GCRA as specified by package ratelimit, minus the reporting,
// which the Go side derives from the numbers the script returns. It
// decides one request per key, in order, at one now, and stops after the
// first refused one (AllowAll; Allow is one key).
//
//	KEYS[i]        the key of request i
//	ARGV[1]        now in µs, or "" for the server's clock
//	ARGV[3i-1..3i+1] T (the emission interval in µs), Burst and n of request i
//
// It returns {now, allowed (0/1) and the stored TAT before the decision
// (now when the key is unknown) of each request decided}.
var script = rueidis.NewLuaScript(`
local now
if ARGV[1] == '' then
  local tm = redis.call('TIME')
  now = tonumber(tm[1]) * 1000000 + tonumber(tm[2])
else
  now = tonumber(ARGV[1])
end
local out = {now}
for i = 1, #KEYS do
  local t = tonumber(ARGV[3 * i - 1])
  local burst = tonumber(ARGV[3 * i])
  local n = tonumber(ARGV[3 * i + 1])
  local stored = redis.call('GET', KEYS[i])
  local tat = now
  if stored then
    tat = tonumber(stored) or now
  end
  local base = tat
  if base < now then base = now end
  local allowed = 0
  local keep = tat
  if n <= burst then
    local nxt = base + n * t
    if nxt - now <= t * burst then
      allowed = 1
      if n > 0 then keep = nxt end
    end
  end
  if keep > now then
    local px = math.ceil((keep - now) / 1000) + 1
    if keep ~= tat or not stored then
      redis.call('SET', KEYS[i], string.format('%d', keep), 'PX', string.format('%d', px))
    else
      redis.call('PEXPIRE', KEYS[i], string.format('%d', px))
    end
  elseif stored then
    redis.call('DEL', KEYS[i])
  end
  out[#out + 1] = allowed
  out[#out + 1] = tat
  if allowed == 0 then break end
end
return out
`)

// Allow implements ratelimit.Limiter.
func (l *Limiter) Allow(ctx context.Context, key string, lim ratelimit.Limit, n int) (ratelimit.Decision, error) {
	if err := ratelimit.Check(lim, n); err != nil {
		return ratelimit.Decision{}, err
	}
	var buf [1]ratelimit.Decision
	ds, err := l.allowAll(ctx, []ratelimit.Request{{Key: key, Limit: lim, N: n}}, buf[:0])
	if err != nil {
		return ratelimit.Decision{}, err
	}
	return ds[0], nil
}

// AllowAll implements ratelimit.Limiter: one script call, so one round
// trip, decides every request.
func (l *Limiter) AllowAll(ctx context.Context, reqs []ratelimit.Request, dst []ratelimit.Decision) ([]ratelimit.Decision, error) {
	if err := ratelimit.CheckAll(reqs); err != nil {
		return dst, err
	}
	if len(reqs) == 0 {
		return dst, nil
	}
	return l.allowAll(ctx, reqs, dst)
}

// allowAll runs the script for valid reqs (at least one).
func (l *Limiter) allowAll(ctx context.Context, reqs []ratelimit.Request, dst []ratelimit.Decision) ([]ratelimit.Decision, error) {
	if err := ctx.Err(); err != nil {
		return dst, fmt.Errorf("ratelimit: %w", err)
	}
	if wait := l.down.Wait(); wait > 0 {
		return dst, fmt.Errorf("%w: redis failed recently; trying again in %v", ratelimit.ErrUnavailable, wait.Round(time.Millisecond))
	}
	keys := make([]string, len(reqs))
	args := make([]string, 1, 1+3*len(reqs))
	if l.now != nil {
		args[0] = strconv.FormatInt(l.now().UnixMicro(), 10)
	}
	for i, r := range reqs {
		keys[i] = l.prefix + r.Key
		args = append(args, strconv.FormatInt(int64(r.Limit.EmissionInterval()/time.Microsecond), 10),
			strconv.Itoa(r.Limit.Burst), strconv.Itoa(r.N))
	}
	cctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	res, err := script.Exec(cctx, l.client, keys, args).AsIntSlice()
	if err == nil && (len(res) < 3 || len(res)%2 != 1 || len(res) > 1+2*len(reqs)) {
		err = fmt.Errorf("script returned %d values for %d requests", len(res), len(reqs))
	}
	if err != nil {
		if cerr := ratelimit.CallerDone(ctx); cerr != nil {
			return dst, fmt.Errorf("ratelimit: %w", cerr)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			l.down.TimedOut()
			return dst, fmt.Errorf("%w: redis did not answer within %v", ratelimit.ErrUnavailable, l.timeout)
		}
		l.down.Failed()
		return dst, fmt.Errorf("%w: redis: %w", ratelimit.ErrUnavailable, err)
	}
	l.down.Succeeded()
	now, n := res[0], len(dst)
	for i := range (len(res) - 1) / 2 {
		allowed, tat, r := res[1+2*i], res[2+2*i], reqs[i]
		d, _ := ratelimit.Decide(tat, now, r.Limit, r.N)
		if d.Allowed != (allowed == 1) || (!d.Allowed && 2*i+3 != len(res)) {
			// The script and Decide disagree: a bug, never a client's fault.
			return dst[:n], fmt.Errorf("%w: redis decided allowed=%d for request %d where the contract says %v (TAT %d, now %d, %d values)",
				ratelimit.ErrUnavailable, allowed, i, d.Allowed, tat, now, len(res))
		}
		dst = append(dst, d)
	}
	if last := dst[len(dst)-1]; last.Allowed && len(dst)-n != len(reqs) {
		return dst[:n], fmt.Errorf("%w: redis decided %d of %d requests, the last allowed", ratelimit.ErrUnavailable, len(dst)-n, len(reqs))
	}
	return dst, nil
}
