package app

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/apilimit"
	"github.com/basaltdev/basalt/internal/gateway/authapi"
	"github.com/basaltdev/basalt/internal/ratelimit"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
)

// rateLimitFlags are serve's flags of the API-wide rate limits.
type rateLimitFlags struct {
	RateLimits bool     `name:"rate-limits" default:"true" help:"API-wide rate limits per route class and caller, see docs/rate-limits.md; --rate-limits=false turns every one off ($$BASALT_RATE_LIMITS)."`
	RateLimit  []string `name:"rate-limit" placeholder:"SPEC" help:"A rate limit that replaces a default, or adds one for a collection: [COLLECTION.]CLASS:KIND=COUNT/PER:BURST, or CLASS:KIND=off (CLASS auth, read, write, search, realtime; KIND ip, anonymous, account, apikey). Repeat the flag; in the environment and the config file, separate specs with commas. Defaults: ${rate_limit_defaults} ($$BASALT_RATE_LIMIT)."`
}

// rateLimitDefaults lists the default limits for the help text.
func rateLimitDefaults() string { return strings.Join(apilimit.DefaultSpecs(), " ") }

// apply sets cfg.RateLimits: the defaults with every --rate-limit applied
// in order (a later spec for the same limit wins).
func (f rateLimitFlags) apply(cfg *Config) error {
	rl := apilimit.DefaultConfig()
	rl.Disabled = !f.RateLimits
	for _, s := range f.RateLimit {
		if strings.TrimSpace(s) == "" {
			continue // an empty entry of a comma-separated list
		}
		if err := rl.Set(s); err != nil {
			return err
		}
	}
	cfg.RateLimits = rl
	return nil
}

// api returns the limiter of the API-wide limits: Redis, shared by the
// processes, with --redis; nil without (newAPILimits then counts in
// process). It has no fallback of its own: apilimit decides the auth class
// in process and lets the others through while Redis fails.
func (l *limiters) api() ratelimit.Limiter {
	if l.shared == nil {
		return nil // a nil *rlredis.Limiter must not become a non-nil interface
	}
	return l.shared
}

// apiLimitsKeys bounds the keys of the in-process limiters of the API-wide
// limits (each key is a few dozen bytes).
const apiLimitsKeys = 1_000_000

// newAPILimits builds the API-wide rate limits of cfg.RateLimits over
// shared, the process's limiter (Redis with --redis, so the processes
// share the counts; nil: an in-process one). The auth class falls back to
// an in-process limiter when shared fails.
func newAPILimits(cfg Config, shared ratelimit.Limiter, log *slog.Logger, reg prometheus.Registerer) (*apilimit.Limits, error) {
	if shared == nil {
		shared = memory.New(time.Now, apiLimitsKeys)
	}
	return apilimit.New(apilimit.Options{
		Config:     cfg.RateLimits,
		Limiter:    shared,
		Fallback:   memory.New(time.Now, apiLimitsKeys),
		ClientIP:   func(r *http.Request) string { return authapi.ClientIP(r, cfg.Auth.TrustedProxies) },
		Logger:     log,
		Registerer: reg,
	})
}
