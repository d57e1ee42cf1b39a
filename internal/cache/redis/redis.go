// Package redis is Basalt's shared cache.Cache: entries live on a Redis
// server that every process of a deployment uses, and each process keeps
// a copy of the keys it reads (RESP3 client-side caching, the server's
// CLIENT TRACKING): the server tells the process when a key it holds
// changes or goes, and the copy goes with it. A hot document is then read
// from the process's memory, and is gone from it as soon as any process
// deletes or replaces the entry.
//
// Entries are written with their time to live (SET … PX), so Redis can
// also evict them under memory pressure (allkeys-lru or volatile-lru).
//
// A process's own Set or Delete reaches its copy through the server's
// invalidation message too, which arrives just after the command's answer.
// So that a Get right after them is never served the copy they replaced,
// the keys this process wrote are read from the server (not from the
// copy) for Options.Settle after each write.
//
// When Redis is unreachable or slow, calls fail within Options.Timeout;
// once Redis is known to be down (a refused or broken connection, or
// SlowCalls timeouts in a row), calls fail at once without trying Redis
// for Options.Backoff. Callers read the database instead. A copy held by a process is dropped when its
// connection to the server is lost, since the server can no longer tell
// it of changes.
package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/basaltdev/basalt/internal/breaker"
	"github.com/basaltdev/basalt/internal/cache"
)

// Defaults of Options.
const (
	DefaultTimeout = 100 * time.Millisecond
	DefaultBackoff = breaker.DefaultBackoff
	DefaultSettle  = time.Second
	// SlowCalls is how many calls in a row must time out before Redis is
	// taken for down.
	SlowCalls = breaker.DefaultSlowCalls
)

// ErrUnavailable is wrapped by the errors of calls that Redis did not
// answer, or that were not tried because it failed recently.
var ErrUnavailable = errors.New("cache: redis is unavailable")

// Options configure a Cache.
type Options struct {
	// Client is the Redis client; required. The Cache does not close it.
	Client rueidis.Client
	// Prefix namespaces the keys, e.g. "basalt:cache:".
	Prefix string
	// Local is the longest a process keeps its copy of a key it read
	// (client-side caching); 0 reads the server every time. A client
	// made with DisableCache ignores it.
	Local time.Duration
	// Timeout bounds each call (DefaultTimeout); Backoff is how long
	// calls fail at once after one failed (DefaultBackoff).
	Timeout, Backoff time.Duration
	// Settle is how long after this process writes a key its Gets read
	// the server rather than its copy (DefaultSettle).
	Settle time.Duration
}

// Cache is the Redis cache. Use New; it is safe for concurrent use.
type Cache struct {
	client  rueidis.Client
	prefix  string
	local   time.Duration
	timeout time.Duration
	// down stops calls to Redis for a while once it is taken for down.
	down *breaker.Breaker

	settle  time.Duration
	mu      sync.Mutex
	written map[string]time.Time // keys this process wrote, until when to read them from the server
	queue   []writtenKey
}

type writtenKey struct {
	key   string
	until time.Time
}

var _ cache.Cache = (*Cache)(nil)

// New returns a cache over o.Client.
func New(o Options) (*Cache, error) {
	if o.Client == nil {
		return nil, errors.New("cache/redis: a client is required")
	}
	c := &Cache{client: o.Client, prefix: o.Prefix, local: o.Local, timeout: o.Timeout,
		down: breaker.New(o.Backoff, SlowCalls), settle: o.Settle, written: map[string]time.Time{}}
	if c.settle <= 0 {
		c.settle = DefaultSettle
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	return c, nil
}

// Get implements cache.Cache.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	ctx, cancel, err := c.start(ctx)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	var res rueidis.RedisResult
	if c.local > 0 && !c.settling(key) {
		res = c.client.DoCache(ctx, c.client.B().Get().Key(c.prefix+key).Cache(), c.local)
	} else {
		res = c.client.Do(ctx, c.client.B().Get().Key(c.prefix+key).Build())
	}
	v, err := res.AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, false, c.done(ctx, nil)
	}
	if err != nil {
		return nil, false, c.done(ctx, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, c.done(ctx, nil)
}

// Set implements cache.Cache.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := cache.Check(key, ttl); err != nil {
		return err
	}
	ctx, cancel, err := c.start(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	c.wrote(key)
	cmd := c.client.B().Set().Key(c.prefix + key).Value(rueidis.BinaryString(value)).PxMilliseconds(max(1, ttl.Milliseconds())).Build()
	return c.done(ctx, c.client.Do(ctx, cmd).Error())
}

// Delete implements cache.Cache.
func (c *Cache) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return ctx.Err()
	}
	ctx, cancel, err := c.start(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	full := make([]string, len(keys))
	for i, k := range keys {
		c.wrote(k)
		full[i] = c.prefix + k
	}
	return c.done(ctx, c.client.Do(ctx, c.client.B().Del().Key(full...).Build()).Error())
}

// start checks ctx and the backoff, and bounds the call by the timeout.
func (c *Cache) start(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if wait := c.down.Wait(); wait > 0 {
		return nil, nil, fmt.Errorf("%w: it failed recently; trying again in %v", ErrUnavailable, wait.Round(time.Millisecond))
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	return cctx, cancel, nil
}

// done records the outcome of a call made under ctx (start's).
func (c *Cache) done(ctx context.Context, err error) error {
	if err == nil {
		c.down.Succeeded()
		return nil
	}
	var rerr *rueidis.RedisError
	if errors.As(err, &rerr) {
		return fmt.Errorf("cache: redis: %w", err) // an answer: the server is up
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err // the caller's context ended
	}
	if errors.Is(err, context.DeadlineExceeded) {
		c.down.TimedOut()
	} else {
		c.down.Failed()
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// wrote marks key as written by this process: Gets read it from the server
// for the settle time.
func (c *Cache) wrote(key string) {
	if c.local <= 0 {
		return
	}
	now := time.Now()
	until := now.Add(c.settle)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pruneLocked(now)
	c.written[key] = until
	c.queue = append(c.queue, writtenKey{key: key, until: until})
}

// settling reports whether key was written by this process within the
// settle time.
func (c *Cache) settling(key string) bool {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.written[key]
	return ok && now.Before(until)
}

func (c *Cache) pruneLocked(now time.Time) {
	i := 0
	for ; i < len(c.queue) && !now.Before(c.queue[i].until); i++ {
		w := c.queue[i]
		if c.written[w.key].Equal(w.until) {
			delete(c.written, w.key)
		}
	}
	if i > 0 {
		c.queue = append(c.queue[:0], c.queue[i:]...)
	}
}
