// Package memory is Basalt's in-process cache.Cache: a least-recently-used
// cache bounded by the bytes it holds, split into shards so that
// concurrent requests rarely wait for each other. Expired entries are
// dropped when they are read or when room is needed; nothing runs in the
// background.
package memory

import (
	"container/list"
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/basaltdev/basalt/internal/cache"
)

// entryOverhead approximates what an entry costs beside its key and value
// (the list element, the map slot, the entry struct), so that many tiny
// entries still count against MaxBytes.
const entryOverhead = 96

const shards = 16

// Cache is the in-process cache. Use New; it is safe for concurrent use.
type Cache struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [shards]shard
}

var _ cache.Cache = (*Cache)(nil)

type shard struct {
	mu       sync.Mutex
	maxBytes int64
	bytes    int64
	byKey    map[string]*list.Element
	lru      list.List // front: most recently used
}

type entry struct {
	key     string
	value   []byte
	expires time.Time
}

func (e *entry) size() int64 { return int64(len(e.key)+len(e.value)) + entryOverhead }

// New returns a cache that holds at most maxBytes (keys, values and a fixed
// overhead per entry; at least 64 KiB) and reads the time from now.
func New(maxBytes int64, now func() time.Time) *Cache {
	maxBytes = max(maxBytes, 64<<10)
	c := &Cache{now: now, seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].maxBytes = maxBytes / shards
		c.shards[i].byKey = make(map[string]*list.Element)
	}
	return c
}

func (c *Cache) shard(key string) *shard {
	return &c.shards[maphash.String(c.seed, key)%shards]
}

// Get implements cache.Cache.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.byKey[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*entry)
	if !c.now().Before(e.expires) {
		s.remove(el)
		return nil, false, nil
	}
	s.lru.MoveToFront(el)
	return e.value, true, nil
}

// Set implements cache.Cache. A value larger than a shard's share of
// MaxBytes is not stored (and an older value of key is removed).
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := cache.Check(key, ttl); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := c.now()
	e := &entry{key: key, value: value, expires: now.Add(ttl)}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.byKey[key]; ok {
		s.remove(el)
	}
	if e.size() > s.maxBytes {
		return nil
	}
	for s.bytes+e.size() > s.maxBytes {
		s.evict(now)
	}
	s.byKey[key] = s.lru.PushFront(e)
	s.bytes += e.size()
	return nil
}

// Delete implements cache.Cache.
func (c *Cache) Delete(ctx context.Context, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, k := range keys {
		s := c.shard(k)
		s.mu.Lock()
		if el, ok := s.byKey[k]; ok {
			s.remove(el)
		}
		s.mu.Unlock()
	}
	return nil
}

// Len returns how many entries the cache holds, expired ones included
// until they are dropped.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.byKey)
		s.mu.Unlock()
	}
	return n
}

// Bytes returns the size the cache accounts for its entries.
func (c *Cache) Bytes() int64 {
	var n int64
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.bytes
		s.mu.Unlock()
	}
	return n
}

func (s *shard) remove(el *list.Element) {
	e := s.lru.Remove(el).(*entry)
	delete(s.byKey, e.key)
	s.bytes -= e.size()
}

// evict makes room: an expired entry among the least recently used few if
// there is one, else the least recently used entry.
func (s *shard) evict(now time.Time) {
	el := s.lru.Back()
	for i, cand := 0, el; i < 8 && cand != nil; i, cand = i+1, cand.Prev() {
		if !now.Before(cand.Value.(*entry).expires) {
			el = cand
			break
		}
	}
	s.remove(el)
}
