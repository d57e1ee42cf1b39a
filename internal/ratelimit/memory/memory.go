// Package memory is Basalt's in-process ratelimit.Limiter: GCRA over a map
// of key → theoretical arrival time (TAT), guarded by one mutex. It suits a
// single Basalt process (login throttling per account and per client IP);
// cluster-wide limits need the Redis limiter.
//
// Memory is bounded by maxKeys without any background goroutine. The keys
// are also kept in a min-heap ordered by TAT, and every Allow does the
// upkeep:
//
//   - entries whose TAT is not after now are dropped (their bucket is full,
//     so forgetting them changes no answer);
//   - when a new key must be stored while maxKeys keys are held, the entry
//     with the oldest TAT is evicted first. That is the key whose bucket is
//     closest to full, so forgetting it loosens its limit the least; the
//     evicted key starts again from a full bucket.
//
// Each Allow costs O(log maxKeys) plus O(log maxKeys) per expired entry it
// drops, which amortises to O(log maxKeys).
package memory

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/basaltdev/basalt/internal/ratelimit"
)

// Limiter is the in-process GCRA limiter. Use New; it is safe for
// concurrent use.
type Limiter struct {
	now     func() time.Time
	maxKeys int

	mu    sync.Mutex
	byKey map[string]*entry
	heap  tatHeap
}

var _ ratelimit.Limiter = (*Limiter)(nil)

type entry struct {
	key   string
	tat   int64 // microseconds since the Unix epoch
	index int   // position in the heap
}

// New returns a limiter that reads the time from now and holds at most
// maxKeys keys (at least 1; smaller values are raised to 1).
func New(now func() time.Time, maxKeys int) *Limiter {
	maxKeys = max(maxKeys, 1)
	return &Limiter{
		now:     now,
		maxKeys: maxKeys,
		byKey:   make(map[string]*entry),
	}
}

// Allow implements ratelimit.Limiter.
func (l *Limiter) Allow(ctx context.Context, key string, lim ratelimit.Limit, n int) (ratelimit.Decision, error) {
	if err := ratelimit.Check(lim, n); err != nil {
		return ratelimit.Decision{}, err
	}
	if err := ctx.Err(); err != nil {
		return ratelimit.Decision{}, fmt.Errorf("ratelimit: %w", err)
	}
	now := l.now().UnixMicro()

	l.mu.Lock()
	defer l.mu.Unlock()
	l.dropExpired(now)
	return l.decide(key, lim, n, now), nil
}

// AllowAll implements ratelimit.Limiter: the requests are decided under
// one hold of the lock, at one instant.
func (l *Limiter) AllowAll(ctx context.Context, reqs []ratelimit.Request, dst []ratelimit.Decision) ([]ratelimit.Decision, error) {
	if err := ratelimit.CheckAll(reqs); err != nil {
		return dst, err
	}
	if err := ctx.Err(); err != nil {
		return dst, fmt.Errorf("ratelimit: %w", err)
	}
	now := l.now().UnixMicro()

	l.mu.Lock()
	defer l.mu.Unlock()
	l.dropExpired(now)
	for _, r := range reqs {
		d := l.decide(r.Key, r.Limit, r.N, now)
		dst = append(dst, d)
		if !d.Allowed {
			break
		}
	}
	return dst, nil
}

// decide applies one request at now and stores the key's new TAT; l.mu
// is held and expired entries are dropped.
func (l *Limiter) decide(key string, lim ratelimit.Limit, n int, now int64) ratelimit.Decision {
	e := l.byKey[key]
	tat := now
	if e != nil {
		tat = e.tat
	}
	d, next := ratelimit.Decide(tat, now, lim, n)
	if next <= now {
		// The bucket is full: nothing worth keeping. (An existing entry
		// was dropped already.)
		return d
	}
	if e != nil {
		e.tat = next
		heap.Fix(&l.heap, e.index)
		return d
	}
	if len(l.byKey) >= l.maxKeys {
		oldest := heap.Pop(&l.heap).(*entry)
		delete(l.byKey, oldest.key)
	}
	e = &entry{key: key, tat: next}
	heap.Push(&l.heap, e)
	l.byKey[key] = e
	return d
}

// Len returns the number of keys held, including any whose TAT has passed
// but that no Allow has dropped yet.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byKey)
}

func (l *Limiter) dropExpired(now int64) {
	for len(l.heap) > 0 && l.heap[0].tat <= now {
		e := heap.Pop(&l.heap).(*entry)
		delete(l.byKey, e.key)
	}
}

// tatHeap is a min-heap of entries by TAT.
type tatHeap []*entry

func (h tatHeap) Len() int           { return len(h) }
func (h tatHeap) Less(i, j int) bool { return h[i].tat < h[j].tat }
func (h tatHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *tatHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *tatHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
