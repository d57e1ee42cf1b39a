package memory_test

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/cache"
	"github.com/basaltdev/basalt/internal/cache/cachetest"
	"github.com/basaltdev/basalt/internal/cache/memory"
)

func TestContract(t *testing.T) {
	cachetest.Run(t, "memory", func(*testing.T) cache.Cache { return memory.New(64<<20, time.Now) })
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestBoundedByBytes(t *testing.T) {
	ctx := context.Background()
	c := memory.New(1<<20, time.Now)
	v := bytes.Repeat([]byte("x"), 1000)
	for i := range 5000 { // ~5.5 MB offered
		if err := c.Set(ctx, "k"+strconv.Itoa(i), v, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if b := c.Bytes(); b > 1<<20 {
		t.Fatalf("holds %d bytes, more than its 1 MiB bound", b)
	}
	if n := c.Len(); n < 500 {
		t.Fatalf("holds %d entries; a 1 MiB cache should keep most of a MiB of 1 KB values", n)
	}
	// The most recent survive, the oldest are gone.
	if _, ok, _ := c.Get(ctx, "k4999"); !ok {
		t.Error("the last entry set was evicted")
	}
	if _, ok, _ := c.Get(ctx, "k0"); ok {
		t.Error("the first entry set survived 5 MB of newer ones")
	}
}

func TestLeastRecentlyUsedGoesFirst(t *testing.T) {
	ctx := context.Background()
	c := memory.New(64<<10, time.Now) // 4 KiB per shard
	// Fill one shard's worth through keys that all land somewhere; then
	// keep reading "keep" while adding: it must survive.
	if err := c.Set(ctx, "keep", []byte("k"), time.Hour); err != nil {
		t.Fatal(err)
	}
	v := bytes.Repeat([]byte("y"), 200)
	for i := range 2000 {
		if _, ok, _ := c.Get(ctx, "keep"); !ok {
			t.Fatalf("the entry read before every insert was evicted after %d inserts", i)
		}
		if err := c.Set(ctx, "n"+strconv.Itoa(i), v, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
}

func TestExpiredEntriesMakeRoomFirst(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	c := memory.New(64<<10, clk.now)
	if err := c.Set(ctx, "a", []byte("1"), time.Second); err != nil {
		t.Fatal(err)
	}
	clk.advance(999 * time.Millisecond)
	if _, ok, _ := c.Get(ctx, "a"); !ok {
		t.Fatal("entry gone before its time to live")
	}
	clk.advance(time.Millisecond)
	if _, ok, _ := c.Get(ctx, "a"); ok {
		t.Fatal("entry served at the end of its time to live")
	}
	if c.Len() != 0 {
		t.Fatalf("an expired entry that was read is still held (%d entries)", c.Len())
	}
}

func TestOversizedValueIsNotKept(t *testing.T) {
	ctx := context.Background()
	c := memory.New(64<<10, time.Now)
	if err := c.Set(ctx, "k", []byte("small"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", make([]byte, 1<<20), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Get(ctx, "k"); ok {
		t.Fatal("a value larger than the cache was kept, or the older value survived its replacement")
	}
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	c := memory.New(64<<20, time.Now)
	v := bytes.Repeat([]byte("d"), 512)
	for i := range 1000 {
		_ = c.Set(ctx, "k"+strconv.Itoa(i), v, time.Hour)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_, _, _ = c.Get(ctx, "k"+strconv.Itoa(i%1000))
			i++
		}
	})
}
