package memory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/ratelimit"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
	"github.com/basaltdev/basalt/internal/ratelimit/ratelimittest"
)

func TestConformance(t *testing.T) {
	ratelimittest.Run(t, "memory", func(_ *testing.T, now func() time.Time) ratelimit.Limiter {
		return memory.New(now, 1000)
	})
}

func TestEvictionBounds(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	l := ratelimit.Limit{Rate: 1, Burst: 1} // T = 1s
	lim := memory.New(now, 3)

	allow := func(key string) ratelimit.Decision {
		t.Helper()
		d, err := lim.Allow(ctx, key, l, 1)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	// Keys a, b, c get TATs +1s, +1.1s, +1.2s.
	for i, k := range []string{"a", "b", "c"} {
		if !allow(k).Allowed {
			t.Fatalf("%s denied", k)
		}
		if i < 2 {
			clock = clock.Add(100 * time.Millisecond)
		}
	}
	if got := lim.Len(); got != 3 {
		t.Fatalf("Len = %d, want 3", got)
	}
	// Full: a new key evicts the oldest TAT (a), so a starts over.
	if !allow("d").Allowed {
		t.Fatal("d denied")
	}
	if got := lim.Len(); got != 3 {
		t.Fatalf("Len after eviction = %d, want 3", got)
	}
	if allow("b").Allowed || allow("c").Allowed {
		t.Fatal("b or c was forgotten, want a evicted")
	}
	if !allow("a").Allowed {
		t.Fatal("a still limited, want it evicted")
	}
	// Now b is the oldest and was evicted for a.
	if !allow("b").Allowed {
		t.Fatal("b still limited, want it evicted")
	}

	// A denied request for an unknown key stores nothing.
	if d, err := lim.Allow(ctx, "big", l, 2); err != nil || d.Allowed {
		t.Fatalf("n > Burst: %+v, %v", d, err)
	}
	if got := lim.Len(); got != 3 {
		t.Fatalf("Len = %d, want 3", got)
	}

	// Expired entries are dropped on the next access.
	clock = clock.Add(time.Hour)
	if _, err := lim.Allow(ctx, "x", l, 0); err != nil {
		t.Fatal(err)
	}
	if got := lim.Len(); got != 0 {
		t.Fatalf("Len after expiry = %d, want 0", got)
	}

	// Many distinct keys never exceed the bound.
	for i := range 10000 {
		allow(fmt.Sprint("ip:", i))
		if got := lim.Len(); got > 3 {
			t.Fatalf("Len = %d after %d keys, want ≤ 3", got, i+1)
		}
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	ctx := context.Background()
	lim := memory.New(time.Now, 100000)
	l := ratelimit.Limit{Rate: 1000, Burst: 100}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("account:", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := lim.Allow(ctx, keys[i%len(keys)], l, 1); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
