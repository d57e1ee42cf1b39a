package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"

	"github.com/basaltdev/basalt/internal/cache"
	"github.com/basaltdev/basalt/internal/cache/memory"
	cacheredis "github.com/basaltdev/basalt/internal/cache/redis"
	"github.com/basaltdev/basalt/internal/cache/storecache"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
)

// CacheConfig configures the cache of document reads (gets by id and
// lists).
type CacheConfig struct {
	// Enabled turns the cache on.
	Enabled bool
	// MaxBytes bounds the in-process cache (without Redis).
	MaxBytes int64
	// TTL is how long an entry is kept.
	TTL time.Duration
	// Local is how long a process keeps its copy of an entry it read from
	// Redis (client-side caching; 0 reads Redis every time).
	Local time.Duration
	// Skip are the collections whose documents are never cached.
	Skip []string
}

// DefaultCacheConfig returns the defaults of CacheConfig.
func DefaultCacheConfig() CacheConfig {
	return CacheConfig{Enabled: true, MaxBytes: 64 << 20, TTL: storecache.DefaultTTL, Local: time.Minute}
}

// cacheFlags are serve's flags of the read cache.
type cacheFlags struct {
	Cache         bool          `name:"cache" help:"Cache document reads (gets by id and lists): in process, or on Redis with --redis, checked against the change events so that no answer is older than a write already acknowledged by the same process; --no-cache reads the database every time ($$BASALT_CACHE)." default:"true" negatable:""`
	CacheMaxBytes int64         `name:"cache-max-bytes" help:"Most bytes the in-process cache holds (without --redis) ($$BASALT_CACHE_MAX_BYTES)." default:"67108864"`
	CacheTTL      time.Duration `name:"cache-ttl" help:"How long a cached read is kept, at most ($$BASALT_CACHE_TTL)." default:"10m"`
	CacheLocalTTL time.Duration `name:"cache-local-ttl" help:"With --redis: how long a process keeps its own copy of a cached read, which Redis invalidates as soon as it changes (client-side caching); 0 asks Redis every time ($$BASALT_CACHE_LOCAL_TTL)." default:"1m"`
	CacheSkip     []string      `name:"cache-skip" help:"Comma-separated collections whose documents are never cached ($$BASALT_CACHE_SKIP)." placeholder:"COLLECTION,…"`
}

func (f cacheFlags) apply(cfg *Config) {
	c := CacheConfig{Enabled: f.Cache, MaxBytes: f.CacheMaxBytes, TTL: f.CacheTTL, Local: f.CacheLocalTTL}
	for _, s := range f.CacheSkip {
		if s = strings.TrimSpace(s); s != "" {
			c.Skip = append(c.Skip, s)
		}
	}
	cfg.Cache = c
}

func (c CacheConfig) validate() error {
	if !c.Enabled {
		return nil
	}
	if c.MaxBytes < 1<<20 {
		return errors.New("--cache-max-bytes must be at least 1048576 (1 MiB)")
	}
	if c.TTL < time.Second || c.TTL > 24*time.Hour {
		return errors.New("--cache-ttl must be between 1s and 24h")
	}
	if c.Local < 0 || c.Local > c.TTL {
		return errors.New("--cache-local-ttl must be between 0s and --cache-ttl")
	}
	for _, name := range c.Skip {
		if !docstore.ValidCollectionName(name) {
			return fmt.Errorf("--cache-skip: %q is not a collection name ([a-z][a-z0-9_]{0,62})", name)
		}
	}
	return nil
}

// readCache wraps store in the cache of document reads, on Redis when rdb
// is set and in process otherwise; it returns store itself and a nil
// *storecache.Store when the cache is off.
//
// On Redis, keys are "basalt:cache:<deployment>:…", where the deployment
// is named by a secret of the database: deployments that share a Redis
// server never read each other's entries (whose log positions would mean
// nothing to them).
func readCache(ctx context.Context, cfg Config, store docstore.Store, db database, rdb rueidis.Client, news *eventbus.Signal,
	log *slog.Logger, reg prometheus.Registerer) (docstore.Store, *storecache.Store, error) {
	c := cfg.Cache
	if !c.Enabled {
		return store, nil, nil
	}
	var backing cache.Cache = memory.New(c.MaxBytes, time.Now)
	if rdb != nil {
		deployment, err := secret(ctx, db.Store, "cache-namespace")
		if err != nil {
			return nil, nil, err
		}
		rc, err := cacheredis.New(cacheredis.Options{Client: rdb, Prefix: fmt.Sprintf("%scache:%x:", redisKeyPrefix, deployment[:6]), Local: c.Local})
		if err != nil {
			return nil, nil, err
		}
		backing = rc
	}
	skip := map[string]bool{}
	for _, name := range c.Skip {
		skip[name] = true
	}
	sc, err := storecache.New(store, storecache.Options{Cache: backing, Log: db.log, News: news, TTL: c.TTL,
		Skip: func(coll string) bool { return skip[coll] }, Logger: log, Registerer: reg})
	if err != nil {
		return nil, nil, err
	}
	return sc, sc, nil
}
