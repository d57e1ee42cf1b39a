// Package cache is Basalt's cache contract: a store of byte values by key,
// each with a time to live, that may forget any entry at any time. The
// in-process implementation (memory) serves a single process; the Redis one
// (redis) is shared by every process of a deployment and keeps a
// server-invalidated copy of hot keys in each process (RESP3 client-side
// caching). Both run the cachetest conformance suite.
//
// A cache is never the truth. Callers must be correct when any entry is
// missing, and must not trust an entry merely because it is present: what a
// value holds decides whether it is still valid (storecache stamps every
// entry with the event-log position it was read at). The contract
// therefore promises little beyond this:
//
//   - Get after Set, with nothing in between, returns the value set, or
//     nothing (a cache may drop entries: memory pressure, eviction, a
//     flushed or restarted server);
//   - Get after Delete returns nothing, unless the key was Set again;
//   - an entry is never returned after its time to live;
//   - a returned value is never modified later by the cache, and the
//     caller must not modify it either.
//
// Errors are the backing store's failures (a Redis server that cannot be
// reached); callers treat them as misses and read the truth.
package cache

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Cache stores byte values by key, each until its time to live ends.
type Cache interface {
	// Get returns the value of key; ok is false when there is none.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Set stores value under key for ttl (more than zero). The cache keeps
	// value as it is: the caller must not modify it afterwards.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes the keys.
	Delete(ctx context.Context, keys ...string) error
}

// ErrInvalid is wrapped by the errors of calls with invalid arguments (an
// empty key, a ttl that is not positive): programming errors.
var ErrInvalid = errors.New("cache: invalid argument")

// Check validates the arguments of Set, for implementations.
func Check(key string, ttl time.Duration) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalid)
	}
	if ttl <= 0 {
		return fmt.Errorf("%w: the time to live %v is not positive", ErrInvalid, ttl)
	}
	return nil
}
