// Package cachetest is the conformance suite of cache.Cache: every cache
// Basalt ships (in-process memory, Redis) runs it.
//
// A cache's test calls Run with a function that returns a fresh, empty
// cache (e.g. a new key prefix on a shared Redis server) able to hold at
// least 4 MiB. Expiry is checked against the real clock, since a Redis
// server keeps its own. Subtests are named impl=<impl>/contract=cache/<Case>.
package cachetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/cache"
)

// Run runs the cache contract against the caches newCache returns.
func Run(t *testing.T, impl string, newCache func(t *testing.T) cache.Cache) {
	cases := []struct {
		name string
		fn   func(t *testing.T, c cache.Cache)
	}{
		{"SetThenGet", testSetThenGet},
		{"MissingKey", testMissingKey},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"DeleteThenGetNeverReturnsTheOldValue", testDeleteThenGet},
		{"BinaryAndEmptyValues", testBinaryValues},
		{"LargeValue", testLargeValue},
		{"Expiry", testExpiry},
		{"InvalidArguments", testInvalidArguments},
		{"CanceledContext", testCanceledContext},
		{"Concurrency", testConcurrency},
		{"Independent", func(t *testing.T, c cache.Cache) { testIndependent(t, c, newCache(t)) }},
	}
	t.Run("impl="+impl, func(t *testing.T) {
		t.Run("contract=cache", func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, newCache(t))
				})
			}
		})
	})
}

const ttl = time.Minute

func set(t *testing.T, c cache.Cache, key string, value []byte, d time.Duration) {
	t.Helper()
	if err := c.Set(context.Background(), key, value, d); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func get(t *testing.T, c cache.Cache, key string) ([]byte, bool) {
	t.Helper()
	v, ok, err := c.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v, ok
}

func expect(t *testing.T, c cache.Cache, key string, want []byte) {
	t.Helper()
	v, ok := get(t, c, key)
	if !ok || !bytes.Equal(v, want) {
		t.Fatalf("Get(%q) = %q, %v; want %q", key, v, ok, want)
	}
}

func expectMiss(t *testing.T, c cache.Cache, key string) {
	t.Helper()
	if v, ok := get(t, c, key); ok {
		t.Fatalf("Get(%q) = %q; want a miss", key, v)
	}
}

func testSetThenGet(t *testing.T, c cache.Cache) {
	set(t, c, "a", []byte("alpha"), ttl)
	set(t, c, "b", []byte("beta"), ttl)
	expect(t, c, "a", []byte("alpha"))
	expect(t, c, "b", []byte("beta"))
}

func testMissingKey(t *testing.T, c cache.Cache) {
	expectMiss(t, c, "never-set")
}

func testOverwrite(t *testing.T, c cache.Cache) {
	set(t, c, "k", []byte("one"), ttl)
	set(t, c, "k", []byte("two"), ttl)
	expect(t, c, "k", []byte("two"))
}

func testDelete(t *testing.T, c cache.Cache) {
	set(t, c, "x", []byte("1"), ttl)
	set(t, c, "y", []byte("2"), ttl)
	set(t, c, "z", []byte("3"), ttl)
	if err := c.Delete(context.Background(), "x", "y", "missing"); err != nil {
		t.Fatal(err)
	}
	expectMiss(t, c, "x")
	expectMiss(t, c, "y")
	expect(t, c, "z", []byte("3"))
	if err := c.Delete(context.Background()); err != nil {
		t.Fatalf("Delete of no keys: %v", err)
	}
}

// testDeleteThenGet repeats set, read, delete, read: a read after a delete
// never sees the deleted value, however recently it was read (a process's
// local copy of a Redis key must go with the key).
func testDeleteThenGet(t *testing.T, c cache.Cache) {
	for i := range 200 {
		v := []byte("v" + strconv.Itoa(i))
		set(t, c, "hot", v, ttl)
		expect(t, c, "hot", v)
		expect(t, c, "hot", v)
		if err := c.Delete(context.Background(), "hot"); err != nil {
			t.Fatal(err)
		}
		expectMiss(t, c, "hot")
	}
}

func testBinaryValues(t *testing.T, c cache.Cache) {
	bin := []byte{0, 1, 2, 0xff, 0, '\n', '\r', 0x80}
	set(t, c, "bin", bin, ttl)
	expect(t, c, "bin", bin)
	set(t, c, "empty", []byte{}, ttl)
	v, ok := get(t, c, "empty")
	if !ok || len(v) != 0 {
		t.Fatalf("Get(empty) = %q, %v; want an empty value", v, ok)
	}
	key := "key with spaces, ünïcode and \x00 a NUL"
	set(t, c, key, []byte("odd key"), ttl)
	expect(t, c, key, []byte("odd key"))
}

func testLargeValue(t *testing.T, c cache.Cache) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB
	set(t, c, "big", big, ttl)
	expect(t, c, "big", big)
}

// testExpiry checks an entry is served before its time to live and never
// after it, on the real clock.
func testExpiry(t *testing.T, c cache.Cache) {
	const short = 300 * time.Millisecond
	start := time.Now()
	set(t, c, "short", []byte("s"), short)
	// The entry expires at most short after Set returned (a slow Set
	// moves its expiry later than start + short).
	stored := time.Now()
	set(t, c, "long", []byte("l"), ttl)
	v, ok := get(t, c, "short")
	if time.Since(start) < short-50*time.Millisecond && (!ok || string(v) != "s") {
		t.Fatalf("Get(short) right after Set = %q, %v", v, ok)
	}
	for time.Since(stored) < short+20*time.Millisecond {
		runtime.Gosched()
	}
	expectMiss(t, c, "short")
	expect(t, c, "long", []byte("l"))
}

func testInvalidArguments(t *testing.T, c cache.Cache) {
	ctx := context.Background()
	if err := c.Set(ctx, "", []byte("v"), ttl); !errors.Is(err, cache.ErrInvalid) {
		t.Errorf("Set with an empty key: %v, want ErrInvalid", err)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if err := c.Set(ctx, "k", []byte("v"), d); !errors.Is(err, cache.ErrInvalid) {
			t.Errorf("Set with ttl %v: %v, want ErrInvalid", d, err)
		}
	}
	expectMiss(t, c, "k")
}

func testCanceledContext(t *testing.T, c cache.Cache) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Set(ctx, "k", []byte("v"), ttl); err == nil {
		t.Error("Set with a canceled context succeeded")
	}
	if _, _, err := c.Get(ctx, "k"); err == nil {
		t.Error("Get with a canceled context succeeded")
	}
	if err := c.Delete(ctx, "k"); err == nil {
		t.Error("Delete with a canceled context succeeded")
	}
}

// testConcurrency runs writers, readers and deleters on a few keys at once:
// every value read is one that was set for that key, whole.
func testConcurrency(t *testing.T, c cache.Cache) {
	const workers, rounds, keys = 8, 200, 4
	value := func(key string, i int) []byte {
		return bytes.Repeat([]byte(fmt.Sprintf("%s/%d;", key, i)), 1+i%7)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			for i := range rounds {
				key := "c" + strconv.Itoa((w+i)%keys)
				var err error
				switch (w + i) % 3 {
				case 0:
					err = c.Set(ctx, key, value(key, i), ttl)
				case 1:
					var v []byte
					var ok bool
					v, ok, err = c.Get(ctx, key)
					if err == nil && ok && !wellFormed(key, v) {
						err = fmt.Errorf("Get(%q) = %q, not a value set for the key", key, v)
					}
				default:
					err = c.Delete(ctx, key)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// wellFormed reports whether v is value(key, i) for some i.
func wellFormed(key string, v []byte) bool {
	i := bytes.IndexByte(v, ';')
	if i < 0 {
		return false
	}
	unit := v[:i+1]
	if !bytes.HasPrefix(unit, []byte(key+"/")) || len(v)%len(unit) != 0 {
		return false
	}
	return bytes.Equal(v, bytes.Repeat(unit, len(v)/len(unit)))
}

func testIndependent(t *testing.T, a, b cache.Cache) {
	set(t, a, "shared-name", []byte("a"), ttl)
	expectMiss(t, b, "shared-name")
	set(t, b, "shared-name", []byte("b"), ttl)
	expect(t, a, "shared-name", []byte("a"))
}
