package redis_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/basaltdev/basalt/internal/cache"
	"github.com/basaltdev/basalt/internal/cache/cachetest"
	cacheredis "github.com/basaltdev/basalt/internal/cache/redis"
	"github.com/basaltdev/basalt/internal/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// client returns a client of the server at u with client-side caching
// on, as Basalt makes it.
func client(t *testing.T, u string) rueidis.Client { return redistest.CachingClient(t, u) }

func newCache(t *testing.T, c rueidis.Client, prefix string, local time.Duration) *cacheredis.Cache {
	t.Helper()
	// A generous timeout: the machine running the tests may be busy, and
	// a timeout here would fail the contract for the wrong reason.
	rc, err := cacheredis.New(cacheredis.Options{Client: c, Prefix: prefix, Local: local, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func TestContract(t *testing.T) {
	u := redistest.URL(t)
	c := client(t, u)
	cachetest.Run(t, "redis", func(t *testing.T) cache.Cache { return newCache(t, c, redistest.Prefix(t), 0) })
	cachetest.Run(t, "redis-local-copies", func(t *testing.T) cache.Cache {
		return newCache(t, c, redistest.Prefix(t), time.Minute)
	})
}

// TestLocalCopyFollowsOtherProcesses: a process's copy of a key goes as
// soon as another process replaces or deletes the entry.
func TestLocalCopyFollowsOtherProcesses(t *testing.T) {
	u, prefix := redistest.URL(t), redistest.Prefix(t)
	ctx := context.Background()
	a := newCache(t, client(t, u), prefix, time.Minute)
	b := newCache(t, client(t, u), prefix, time.Minute)
	if err := a.Set(ctx, "k", []byte("v1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	for range 3 { // the first read fetches, the next are local
		if v, ok, err := a.Get(ctx, "k"); err != nil || !ok || string(v) != "v1" {
			t.Fatalf("a: %q %v %v", v, ok, err)
		}
	}
	if err := b.Set(ctx, "k", []byte("v2"), time.Minute); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a's copy of k to follow b's write", func() bool {
		v, _, _ := a.Get(ctx, "k")
		return string(v) == "v2"
	})
	if err := b.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a's copy of k to go with b's delete", func() bool {
		_, ok, _ := a.Get(ctx, "k")
		return !ok
	})
}

// TestRedisDownAndBack: calls fail fast while the server is down, and after
// it returns (empty, as after a restart without persistence) no copy held
// from before is served.
func TestRedisDownAndBack(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	c := newCache(t, client(t, srv.URL()), "", time.Minute)
	if err := c.Set(ctx, "k", []byte("before"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Get(ctx, "k"); err != nil || !ok || string(v) != "before" {
		t.Fatalf("%q %v %v", v, ok, err)
	}
	srv.Stop(t)
	// The copy goes with the connection that kept it current: once the
	// process has noticed the server is gone, Get fails.
	eventually(t, "Get to fail with the server down", func() bool {
		_, _, err := c.Get(ctx, "k")
		return errors.Is(err, cacheredis.ErrUnavailable)
	})
	start := time.Now()
	for range 20 {
		if _, _, err := c.Get(ctx, "k"); !errors.Is(err, cacheredis.ErrUnavailable) {
			t.Fatalf("Get with the server down: %v, want ErrUnavailable", err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("20 calls with the server down took %v; they should fail fast", d)
	}
	srv.Restart(t)
	eventually(t, "the cache to reach the restarted server", func() bool {
		_, ok, err := c.Get(ctx, "k")
		if ok {
			t.Fatal("a value from before the restart was served")
		}
		return err == nil
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		<-time.After(5 * time.Millisecond)
	}
}
