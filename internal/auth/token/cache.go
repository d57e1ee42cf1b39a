package token

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"time"
)

// DefaultCacheEntries is the bound of a Cache made with maxEntries < 1.
const DefaultCacheEntries = 10000

// Cache remembers verified access tokens until they expire, so a token is
// checked cryptographically once rather than on every request.
//
// Only tokens that verified are cached, keyed by the whole token string: a
// hit requires the exact same string, never just the same claims. A hit is
// honoured only while the cache's clock is before the token's Expiry (the
// verifier's leeway does not extend it) and while the key that signed the
// token is still among the verifier's keys, unchanged and not retired, so
// removing a key ends its tokens at once, cached or not. Rejections are
// never cached: every rejected token goes to the Verifier again.
//
// The cache holds at most maxEntries tokens, in two generations: when the
// current one is full it becomes the previous one and the oldest is
// dropped; a hit in the previous generation moves the token back to the
// current one. It is safe for concurrent use.
type Cache struct {
	v        *Verifier
	now      func() time.Time
	genCap   int
	maxTotal int

	mu   sync.RWMutex
	cur  map[string]cacheEntry
	prev map[string]cacheEntry
}

// cacheEntry is one verified token: its claims and the key that verified it.
type cacheEntry struct {
	claims Claims
	kid    string
	public ed25519.PublicKey
}

// NewCache returns a cache in front of v holding at most maxEntries tokens
// (DefaultCacheEntries if maxEntries < 1), judging expiry by now (v's clock
// if now is nil).
func NewCache(v *Verifier, maxEntries int, now func() time.Time) *Cache {
	if maxEntries < 1 {
		maxEntries = DefaultCacheEntries
	}
	if now == nil {
		now = v.now
	}
	return &Cache{
		v:        v,
		now:      now,
		genCap:   max(1, maxEntries/2),
		maxTotal: maxEntries,
		cur:      make(map[string]cacheEntry),
		prev:     make(map[string]cacheEntry),
	}
}

// Verify returns the claims of token, from the cache if token verified
// before and is still valid, from the Verifier otherwise. Errors are the
// Verifier's.
func (c *Cache) Verify(token string) (Claims, error) {
	if len(token) > MaxTokenBytes || token == "" {
		return c.v.Verify(token)
	}
	if claims, ok := c.lookup(token); ok {
		return claims, nil
	}

	// Verify against one snapshot of the keys, so the key recorded with
	// the entry is exactly the one whose signature checked out.
	keys := c.v.keys()
	snap := *c.v
	snap.keys = func() []Key { return keys }
	claims, err := snap.Verify(token)
	if err != nil {
		return Claims{}, err
	}
	if kid, ok := tokenKeyID(token); ok {
		for _, k := range keys {
			if k.ID == kid {
				// The entry keeps its own slices: the caller may modify
				// the ones it gets.
				kept := claims
				kept.Roles = cloneNonEmpty(claims.Roles)
				kept.Scopes = cloneNonEmpty(claims.Scopes)
				c.store(strings.Clone(token), cacheEntry{claims: kept, kid: kid, public: k.Public})
				break
			}
		}
	}
	return claims, nil
}

// Lookup returns the claims of token if it verified before and its cache
// entry is still good now (not expired, its key unchanged and not
// retired), without verifying anything; false otherwise.
func (c *Cache) Lookup(token string) (Claims, bool) {
	if len(token) > MaxTokenBytes || token == "" {
		return Claims{}, false
	}
	return c.lookup(token)
}

// lookup returns the cached claims of token if they are still good now.
func (c *Cache) lookup(token string) (Claims, bool) {
	c.mu.RLock()
	e, inCur := c.cur[token]
	inPrev := false
	if !inCur {
		e, inPrev = c.prev[token]
	}
	c.mu.RUnlock()
	if !inCur && !inPrev {
		return Claims{}, false
	}
	now := c.now()
	if !now.Before(e.claims.Expiry) || !c.keyStillValid(e, now) {
		c.mu.Lock()
		delete(c.cur, token)
		delete(c.prev, token)
		c.mu.Unlock()
		return Claims{}, false
	}
	if inPrev {
		c.mu.Lock()
		if _, ok := c.prev[token]; ok {
			delete(c.prev, token)
			c.insertLocked(token, e)
		}
		c.mu.Unlock()
	}
	claims := e.claims
	claims.Roles = cloneNonEmpty(claims.Roles)
	claims.Scopes = cloneNonEmpty(claims.Scopes)
	return claims, true
}

// keyStillValid reports whether the key that verified e is still one of
// the verifier's keys, with the same public key, and not retired at now.
func (c *Cache) keyStillValid(e cacheEntry, now time.Time) bool {
	for _, k := range c.v.keys() {
		if k.ID == e.kid {
			return bytes.Equal(k.Public, e.public) && !k.retired(now)
		}
	}
	return false
}

func (c *Cache) store(token string, e cacheEntry) {
	c.mu.Lock()
	c.insertLocked(token, e)
	c.mu.Unlock()
}

// insertLocked adds a token to the current generation, starting a new one
// when it is full, and keeps the total within maxTotal.
func (c *Cache) insertLocked(token string, e cacheEntry) {
	if _, ok := c.cur[token]; !ok && len(c.cur) >= c.genCap {
		c.prev = c.cur
		c.cur = make(map[string]cacheEntry, c.genCap)
	}
	c.cur[token] = e
	delete(c.prev, token)
	if len(c.cur)+len(c.prev) > c.maxTotal {
		clear(c.prev)
	}
}

// Len returns the number of tokens cached.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.cur) + len(c.prev)
}

// Reset forgets every cached token.
func (c *Cache) Reset() {
	c.mu.Lock()
	c.cur = make(map[string]cacheEntry)
	c.prev = make(map[string]cacheEntry)
	c.mu.Unlock()
}

// tokenKeyID returns the kid header of a token that has already verified.
func tokenKeyID(token string) (string, bool) {
	seg, _, ok := strings.Cut(token, ".")
	if !ok {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return "", false
	}
	var h struct {
		KeyID string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil || h.KeyID == "" {
		return "", false
	}
	return h.KeyID, true
}
