package accounts_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/ratelimit"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
)

// keysSeen is a limiter that records the keys it is asked about.
type keysSeen struct {
	ratelimit.Limiter
	mu   sync.Mutex
	keys []string
}

func (k *keysSeen) Allow(ctx context.Context, key string, l ratelimit.Limit, n int) (ratelimit.Decision, error) {
	k.mu.Lock()
	k.keys = append(k.keys, key)
	k.mu.Unlock()
	return k.Limiter.Allow(ctx, key, l, n)
}

func (k *keysSeen) prefixes() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string]int{}
	for _, key := range k.keys {
		p, _, _ := strings.Cut(key, ":")
		out[p]++
	}
	return out
}

// TestHashShareCountsOnHashLimiter: with a HashLimiter, the per-IP share of
// this process's hashing budget is counted there, and the (shared) Limiter
// sees only the login throttles.
func TestHashShareCountsOnHashLimiter(t *testing.T) {
	for _, separate := range []bool{false, true} {
		f := newFixture(t, engines()["sqlite"])
		shared := &keysSeen{Limiter: memory.New(f.clock.Now, 1000)}
		own := &keysSeen{Limiter: memory.New(f.clock.Now, 1000)}
		svc := f.service(t, func(o *accounts.Options) {
			o.Hasher = hasherWithBudget(t, 4)
			o.Limiter = shared
			if separate {
				o.HashLimiter = own
			}
		})
		_, err := svc.Login(bg, accounts.LoginRequest{Email: "nobody@example.com", Password: "guess guess", IP: "198.51.100.1"})
		wantKind(t, "login with a made-up address", err, fault.Unauthenticated)
		got, gotOwn := shared.prefixes(), own.prefixes()
		if got["auth"] != 2 {
			t.Fatalf("separate=%v: the shared limiter saw %v, want the two login throttles", separate, got)
		}
		if separate && (got["hash"] != 0 || gotOwn["hash"] != 1) {
			t.Fatalf("the hash share went to the shared limiter (%v) instead of HashLimiter (%v)", got, gotOwn)
		}
		if !separate && got["hash"] != 1 {
			t.Fatalf("without HashLimiter, the shared limiter saw %v, want the hash share too", got)
		}
	}
}
