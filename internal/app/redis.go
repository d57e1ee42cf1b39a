package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"

	"github.com/basaltdev/basalt/internal/auth/revocation"
	rvredis "github.com/basaltdev/basalt/internal/auth/revocation/redis"
	"github.com/basaltdev/basalt/internal/ratelimit"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
	rlredis "github.com/basaltdev/basalt/internal/ratelimit/redis"
)

// RedisConfig selects Redis as the layer several Basalt processes share
// (login throttles, revocation broadcasts). Without a URL everything stays
// in-process.
type RedisConfig struct {
	// URL is redis://[user:password@]host:port[/db] or rediss://… (TLS);
	// empty keeps everything in-process.
	URL string
}

// redisFlags are serve's flags of Redis.
type redisFlags struct {
	Redis string `name:"redis" help:"Redis URL, redis://[user:password@]host:port[/db] or rediss://… for TLS: login throttles are shared by every process using it, and fall back to in-process counts while it is unreachable; revocations reach the other processes through it ahead of their database polls; empty keeps everything in-process ($$BASALT_REDIS)." placeholder:"URL"`
}

func (f redisFlags) apply(cfg *Config) { cfg.Redis = RedisConfig{URL: strings.TrimSpace(f.Redis)} }

func (c RedisConfig) validate() error {
	if c.URL == "" {
		return nil
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return errors.New("--redis must be a URL redis://[user:password@]host:port[/db] or rediss://…")
	}
	if _, err := rueidis.ParseURL(c.URL); err != nil {
		return fmt.Errorf("--redis %s: %w", redactURL(c.URL), err)
	}
	return nil
}

// redisAttrs are the log attributes that say which Redis serve uses.
func redisAttrs(cfg Config) []any {
	if cfg.Redis.URL == "" {
		return []any{"redis", "none"}
	}
	return []any{"redis", redactURL(cfg.Redis.URL)}
}

// openRedis returns a client of --redis, or nil without it. A server that
// does not answer now is logged, not fatal: the client dials again on
// later calls, and the limits decide in-process meanwhile.
func openRedis(cfg Config, log *slog.Logger) (rueidis.Client, error) {
	if cfg.Redis.URL == "" {
		return nil, nil
	}
	opt, err := rueidis.ParseURL(cfg.Redis.URL)
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	// One server (no cluster discovery), and a client even when the first
	// dial fails.
	opt.ForceSingleClient = true
	opt.Dialer.Timeout = 2 * time.Second
	client, err := rueidis.NewClient(opt)
	if client == nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	if err != nil {
		log.Warn("redis does not answer; login throttles count in-process until it does", "redis", redactURL(cfg.Redis.URL), "err", err)
	}
	return client, nil
}

// redisKeyPrefix starts every key Basalt writes to Redis.
const redisKeyPrefix = "basalt:"

// limiters builds the rate limiters of the process: in-process without
// Redis; with it, Redis first and the in-process limiter while Redis is
// unavailable, counted by basalt_ratelimit_fallbacks_total and logged at
// most every 10 seconds.
type limiters struct {
	// fallbacks counts decisions taken in-process because Redis failed,
	// by the limits they were for ("auth").
	fallbacks *prometheus.CounterVec
	// shared is the Redis limiter of every shared limit (nil without
	// Redis): one, so that its breaker learns of an outage once.
	shared *rlredis.Limiter
	log    *slog.Logger

	mu      sync.Mutex
	lastLog time.Time
	missed  int // fallbacks not logged since lastLog
}

func newLimiters(client rueidis.Client, log *slog.Logger, reg prometheus.Registerer) (*limiters, error) {
	l := &limiters{
		log: log,
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "basalt_ratelimit_fallbacks_total",
			Help: "Rate-limit decisions taken in-process because Redis was unavailable, by the limits they were for.",
		}, []string{"limits"}),
	}
	if client == nil {
		return l, nil
	}
	l.shared = rlredis.New(rlredis.Options{Client: client, Prefix: redisKeyPrefix + "rl:"})
	if reg != nil {
		if err := reg.Register(l.fallbacks); err != nil {
			return nil, err
		}
		l.fallbacks.WithLabelValues("auth")
	}
	return l, nil
}

// auth returns the limiter of logins, sign-ups and emailed-token requests:
// it never becomes unlimited.
func (l *limiters) auth() ratelimit.Limiter {
	mem := memory.New(time.Now, 100_000)
	if l.shared == nil {
		return mem
	}
	count := l.fallbacks.WithLabelValues("auth")
	return ratelimit.Fallback(l.shared, mem, func(err error) {
		count.Inc()
		l.logFallback("auth", err)
	})
}

// logFallback logs a fallback at most every 10 seconds, with the number
// left unlogged since the last line.
func (l *limiters) logFallback(limits string, err error) {
	l.mu.Lock()
	now := time.Now()
	if !l.lastLog.IsZero() && now.Sub(l.lastLog) < 10*time.Second {
		l.missed++
		l.mu.Unlock()
		return
	}
	missed := l.missed
	l.lastLog, l.missed = now, 0
	l.mu.Unlock()
	l.log.Warn("redis unavailable: rate limits decided in-process", "limits", limits, "err", err, "unlogged_before", missed)
}

// revocationBroadcaster returns the Redis pub/sub channel that carries
// revocations between the processes ahead of their database polls, or nil
// without --redis.
func revocationBroadcaster(client rueidis.Client, log *slog.Logger) revocation.Broadcaster {
	if client == nil {
		return nil
	}
	return rvredis.New(client, redisKeyPrefix+"revocations", log)
}

// closeRedis closes the client, if any, once nothing uses it.
func closeRedis(c rueidis.Client) {
	if c != nil {
		c.Close()
	}
}
