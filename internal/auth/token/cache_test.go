package token

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// cacheFixture is a Verifier whose key set and clock the test controls, and
// which counts how many tokens it verified cryptographically: the Verifier
// reads its clock exactly once per token that parses, right before looking
// up the key and checking the signature, and the Cache never uses the
// Verifier's clock when it is given its own.
type cacheFixture struct {
	mu       sync.Mutex
	now      time.Time
	keys     []Key
	verifies atomic.Int64
	v        *Verifier
}

func newCacheFixture(t testing.TB, keys ...Key) *cacheFixture {
	t.Helper()
	f := &cacheFixture{now: t0, keys: keys}
	v, err := NewVerifier(testIssuer, testAudience, f.keySource, func() time.Time {
		f.verifies.Add(1)
		return f.clock()
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	return f
}

func (f *cacheFixture) keySource() []Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys
}

func (f *cacheFixture) setKeys(keys ...Key) {
	f.mu.Lock()
	f.keys = keys
	f.mu.Unlock()
}

func (f *cacheFixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *cacheFixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *cacheFixture) cache(maxEntries int) *Cache { return NewCache(f.v, maxEntries, f.clock) }

func issue(t testing.TB, key Key, sub string) (string, Claims) {
	t.Helper()
	tok, c, err := mustIssuer(t, t0).Issue(key, Claims{Subject: sub, SessionID: "s-" + sub, Roles: []string{"admin"}, Scopes: []string{"docs:read"}})
	if err != nil {
		t.Fatal(err)
	}
	return tok, c
}

// verifyVia calls c.Verify and reports whether the Verifier did the work.
func verifyVia(t *testing.T, f *cacheFixture, c *Cache, tok string) (Claims, bool, error) {
	t.Helper()
	before := f.verifies.Load()
	claims, err := c.Verify(tok)
	return claims, f.verifies.Load() != before, err
}

func TestCacheHitSkipsVerifier(t *testing.T) {
	key := mustKey(t, "k1")
	f := newCacheFixture(t, key)
	c := f.cache(100)
	tok, issued := issue(t, key, "u1")

	first, verified, err := verifyVia(t, f, c, tok)
	if err != nil || !verified {
		t.Fatalf("first Verify = %v (verified %v)", err, verified)
	}
	if !reflect.DeepEqual(first, issued) {
		t.Fatalf("claims = %+v, want %+v", first, issued)
	}
	for range 3 {
		again, verified, err := verifyVia(t, f, c, tok)
		if err != nil || verified {
			t.Fatalf("repeat Verify = %v, verified again: %v", err, verified)
		}
		if !reflect.DeepEqual(again, issued) {
			t.Fatalf("cached claims = %+v, want %+v", again, issued)
		}
		// Callers get their own slices.
		again.Roles[0] = "mutated"
		again.Scopes[0] = "mutated"
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d", c.Len())
	}
	c.Reset()
	if _, verified, err := verifyVia(t, f, c, tok); err != nil || !verified {
		t.Fatalf("Verify after Reset = %v (verified %v)", err, verified)
	}
}

func TestCacheExpiry(t *testing.T) {
	key := mustKey(t, "k1")
	f := newCacheFixture(t, key)
	c := f.cache(100)
	tok, issued := issue(t, key, "u1")
	if _, err := c.Verify(tok); err != nil {
		t.Fatal(err)
	}
	f.advance(issued.Expiry.Sub(f.clock()) - time.Nanosecond)
	if _, verified, err := verifyVia(t, f, c, tok); err != nil || verified {
		t.Fatalf("just before expiry: %v, verified %v; want a hit", err, verified)
	}
	// At Expiry the cache lets go; the Verifier decides (within its
	// leeway it still accepts, and the token is cached again).
	f.advance(time.Nanosecond)
	if _, verified, err := verifyVia(t, f, c, tok); err != nil || !verified {
		t.Fatalf("at expiry: %v, verified %v; want the Verifier to decide", err, verified)
	}
	if _, verified, err := verifyVia(t, f, c, tok); err != nil || !verified {
		t.Fatalf("at expiry, again: %v, verified %v; an expired entry must never hit", err, verified)
	}
	f.advance(DefaultLeeway)
	if _, err := c.Verify(tok); err == nil {
		t.Fatal("token accepted past expiry and leeway")
	} else {
		requireRejected(t, err)
	}
}

func TestCacheNeverCachesFailures(t *testing.T) {
	key, unknown := mustKey(t, "k1"), mustKey(t, "k9")
	f := newCacheFixture(t, key)
	c := f.cache(100)
	bad, _ := issue(t, unknown, "u1")
	for i := range 3 {
		_, verified, err := verifyVia(t, f, c, bad)
		requireRejected(t, err)
		if !verified {
			t.Fatalf("attempt %d: a rejected token did not reach the Verifier", i)
		}
	}
	// The key becomes known: the same token now verifies, so nothing
	// about the earlier rejection was remembered.
	f.setKeys(key, unknown)
	if _, err := c.Verify(bad); err != nil {
		t.Fatalf("after adding the key: %v", err)
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d, want 1", c.Len())
	}
}

func TestCacheRequiresTheExactToken(t *testing.T) {
	k1, k2 := mustKey(t, "k1"), mustKey(t, "k2")
	f := newCacheFixture(t, k1, k2)
	c := f.cache(100)
	hdr := map[string]any{"typ": "at+jwt", "kid": "k1"}
	a := sign(t, jose.EdDSA, k1.Private, hdr, goodPayload())
	// The same claims in other tokens: another key, another typ spelling.
	b := sign(t, jose.EdDSA, k2.Private, with(hdr, "kid", "k2"), goodPayload())
	d := sign(t, jose.EdDSA, k1.Private, with(hdr, "typ", "application/at+jwt"), goodPayload())

	ca, err := c.Verify(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{b, d} {
		co, verified, err := verifyVia(t, f, c, other)
		if err != nil || !verified {
			t.Fatalf("token with the same claims: %v, verified %v; want a miss", err, verified)
		}
		if !reflect.DeepEqual(co, ca) {
			t.Fatalf("claims differ: %+v vs %+v", co, ca)
		}
	}
	// Variants of the cached string are not hits: the Verifier rejects
	// them.
	last := a[len(a)-1]
	flip := byte('A')
	if last == 'A' {
		flip = 'B'
	}
	for _, v := range []string{a[:len(a)-1] + string(flip), a + "A", " " + a, a[:len(a)-1], strings.ToUpper(a)} {
		_, err := c.Verify(v)
		requireRejected(t, err)
	}
}

func TestCacheDropsTokensOfRemovedOrRetiredKeys(t *testing.T) {
	key := mustKey(t, "k1")
	f := newCacheFixture(t, key)
	c := f.cache(100)
	tok, _ := issue(t, key, "u1")
	if _, err := c.Verify(tok); err != nil {
		t.Fatal(err)
	}

	retired := key
	retired.NotAfter = t0.Add(time.Second)
	f.setKeys(retired)
	if _, verified, err := verifyVia(t, f, c, tok); err != nil || verified {
		t.Fatalf("key not yet retired: %v, verified %v; want a hit", err, verified)
	}
	f.advance(2 * time.Second)
	if _, err := c.Verify(tok); err == nil {
		t.Fatal("token of a retired key accepted")
	}

	// Removed, or replaced under the same kid.
	f.setKeys(key)
	if _, err := c.Verify(tok); err != nil {
		t.Fatal(err)
	}
	f.setKeys(mustKey(t, "k1"))
	if _, err := c.Verify(tok); err == nil {
		t.Fatal("token accepted after its key was replaced under the same kid")
	}
	f.setKeys()
	if _, err := c.Verify(tok); err == nil {
		t.Fatal("token accepted after its key was removed")
	}
}

func TestCacheBound(t *testing.T) {
	key := mustKey(t, "k1")
	for _, limit := range []int{1, 2, 3, 4, 10} {
		t.Run(fmt.Sprint("max=", limit), func(t *testing.T) {
			f := newCacheFixture(t, key)
			c := f.cache(limit)
			var toks []string
			for i := range 3 * limit {
				tok, _ := issue(t, key, fmt.Sprint("u", i))
				toks = append(toks, tok)
				if _, err := c.Verify(tok); err != nil {
					t.Fatal(err)
				}
				if c.Len() > limit {
					t.Fatalf("after %d tokens Len = %d > %d", i+1, c.Len(), limit)
				}
				if _, verified, err := verifyVia(t, f, c, tok); err != nil || verified {
					t.Fatalf("the newest token is not a hit: %v, verified %v", err, verified)
				}
			}
			if _, verified, err := verifyVia(t, f, c, toks[0]); err != nil || !verified {
				t.Fatalf("the oldest token is still cached: %v, verified %v", err, verified)
			}
		})
	}

	// A hit in the previous generation keeps a token.
	f := newCacheFixture(t, key)
	c := f.cache(2)
	a, _ := issue(t, key, "a")
	b, _ := issue(t, key, "b")
	d, _ := issue(t, key, "d")
	for _, tok := range []string{a, b, a, d} {
		if _, err := c.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	if _, verified, _ := verifyVia(t, f, c, a); verified {
		t.Fatal("a recently used token was evicted")
	}
	if _, verified, _ := verifyVia(t, f, c, b); !verified {
		t.Fatal("the least recently used token was kept")
	}

	// Zero or negative means the default.
	if got := NewCache(f.v, 0, nil).maxTotal; got != DefaultCacheEntries {
		t.Fatalf("default bound = %d", got)
	}
}

func TestCacheSkipsOverlongTokens(t *testing.T) {
	key := mustKey(t, "k1")
	f := newCacheFixture(t, key)
	c := f.cache(100)
	long := strings.Repeat("a", MaxTokenBytes+1)
	for range 2 {
		_, err := c.Verify(long)
		requireRejected(t, err)
	}
	if c.Len() != 0 {
		t.Fatalf("Len = %d", c.Len())
	}
}

func TestCacheConcurrentUse(t *testing.T) {
	k1, k2 := mustKey(t, "k1"), mustKey(t, "k2")
	f := newCacheFixture(t, k1, k2)
	c := f.cache(8)
	var toks []string
	var want []Claims
	for i := range 20 {
		k := k1
		if i%2 == 1 {
			k = k2
		}
		tok, cl := issue(t, k, fmt.Sprint("u", i))
		toks = append(toks, tok)
		want = append(want, cl)
	}
	bad, _ := issue(t, mustKey(t, "k3"), "x")

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 400 {
				j := (g*7 + i) % len(toks)
				got, err := c.Verify(toks[j])
				if err != nil || got.Subject != want[j].Subject {
					t.Errorf("Verify(token %d) = %+v, %v", j, got, err)
					return
				}
				got.Roles[0] = "mutated" // must not reach other callers
				if i%50 == 0 {
					if _, err := c.Verify(bad); err == nil {
						t.Error("bad token accepted")
						return
					}
				}
				if g == 0 && i%100 == 0 {
					f.setKeys(k1, k2)
					c.Reset()
				}
				if c.Len() > 8 {
					t.Errorf("Len = %d", c.Len())
					return
				}
			}
		})
	}
	wg.Wait()
	for j, tok := range toks {
		got, err := c.Verify(tok)
		if err != nil || !reflect.DeepEqual(got, want[j]) {
			t.Fatalf("after concurrent use, token %d = %+v, %v", j, got, err)
		}
	}
}

func BenchmarkCacheHit(b *testing.B) {
	key := mustKey(b, "k1")
	tok, _, err := mustIssuer(b, t0).Issue(key, Claims{Subject: "user-1", SessionID: "s-1", Roles: []string{"admin"}, Scopes: []string{"docs:read"}})
	if err != nil {
		b.Fatal(err)
	}
	c := NewCache(mustVerifier(b, t0, key), 10000, clockAt(t0))
	if _, err := c.Verify(tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCacheLookup: Lookup answers only from the cache, never verifies,
// and holds to the same validity as a hit of Verify.
func TestCacheLookup(t *testing.T) {
	key := mustKey(t, "k1")
	f := newCacheFixture(t, key)
	c := f.cache(100)
	tok, issued := issue(t, key, "u1")
	before := f.verifies.Load()
	if _, ok := c.Lookup(tok); ok {
		t.Fatal("Lookup knew a token never verified")
	}
	if _, ok := c.Lookup(""); ok {
		t.Fatal("Lookup knew the empty token")
	}
	if f.verifies.Load() != before {
		t.Fatal("Lookup verified a token")
	}
	if _, err := c.Verify(tok); err != nil {
		t.Fatal(err)
	}
	got, ok := c.Lookup(tok)
	if !ok || !reflect.DeepEqual(got, issued) {
		t.Fatalf("Lookup after Verify = %+v, %v; want %+v", got, ok, issued)
	}
	f.setKeys(mustKey(t, "k2"))
	if _, ok := c.Lookup(tok); ok {
		t.Fatal("Lookup knew a token whose key was removed")
	}
	f.setKeys(key)
	if _, err := c.Verify(tok); err != nil {
		t.Fatal(err)
	}
	f.advance(issued.Expiry.Sub(f.clock()))
	if _, ok := c.Lookup(tok); ok {
		t.Fatal("Lookup knew an expired token")
	}
}
