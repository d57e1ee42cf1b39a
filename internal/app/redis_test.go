package app

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/basaltdev/basalt/internal/ratelimit"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
)

func TestRedisFlag(t *testing.T) {
	cmd, err := parse(t, nil, "serve")
	if err != nil || cmd.Config.Redis.URL != "" {
		t.Fatalf("default --redis = %q (%v), want none", cmd.Config.Redis.URL, err)
	}
	cmd, err = parse(t, nil, "serve", "--redis", "redis://:secret@127.0.0.1:6379/2")
	if err != nil || cmd.Config.Redis.URL != "redis://:secret@127.0.0.1:6379/2" {
		t.Fatalf("--redis: %q, %v", cmd.Config.Redis.URL, err)
	}
	if got := redisAttrs(cmd.Config); len(got) != 2 || strings.Contains(got[1].(string), "secret") {
		t.Fatalf("log attributes %v show the password", got)
	}
	cmd, err = parse(t, map[string]string{"BASALT_REDIS": "rediss://user:pw@redis.example:6380"}, "serve")
	if err != nil || cmd.Config.Redis.URL != "rediss://user:pw@redis.example:6380" {
		t.Fatalf("BASALT_REDIS: %q, %v", cmd.Config.Redis.URL, err)
	}
	for _, bad := range []string{"127.0.0.1:6379", "http://127.0.0.1:6379", "redis://", "redis://127.0.0.1:6379/x", "unix:///tmp/redis.sock"} {
		if _, err := parse(t, nil, "serve", "--redis", bad); err == nil || !strings.Contains(err.Error(), "--redis") {
			t.Errorf("--redis %q: error %v, want one naming --redis", bad, err)
		}
	}
}

// TestAuthLimiterFallsBack: with Redis unreachable (even at start), the
// login limiter keeps limiting in-process, counts each fallback and logs
// once per 10 seconds.
func TestAuthLimiterFallsBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	cfg := DefaultConfig()
	cfg.Redis.URL = "redis://" + addr
	client, err := openRedis(cfg, log)
	if err != nil || client == nil {
		t.Fatalf("openRedis with Redis down: %v, %v; want a client", client, err)
	}
	defer closeRedis(client)
	if !strings.Contains(logs.String(), "redis does not answer") {
		t.Fatalf("no warning that Redis is down:\n%s", logs.String())
	}
	reg := prometheus.NewRegistry()
	lims, err := newLimiters(client, log, reg)
	if err != nil {
		t.Fatal(err)
	}
	lim := lims.auth()
	l := ratelimit.Limit{Rate: 1.0 / 3600, Burst: 2}
	for i, want := range []bool{true, true, false, false} {
		d, err := lim.Allow(t.Context(), "auth:email:a@example.com", l, 1)
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		if d.Allowed != want {
			t.Fatalf("attempt %d: %+v, want allowed=%v", i, d, want)
		}
	}
	if n := testutil.ToFloat64(lims.fallbacks.WithLabelValues("auth")); n != 4 {
		t.Fatalf("basalt_ratelimit_fallbacks_total{limits=auth} = %v, want 4", n)
	}
	if n := strings.Count(logs.String(), "rate limits decided in-process"); n != 1 {
		t.Fatalf("%d fallback log lines within 10s, want 1:\n%s", n, logs.String())
	}
	lims.mu.Lock()
	lims.lastLog = lims.lastLog.Add(-11 * time.Second)
	lims.mu.Unlock()
	if _, err := lim.Allow(t.Context(), "k", l, 1); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), `"unlogged_before":3`); n != 1 {
		t.Fatalf("after 10s, want a line counting the 3 unlogged fallbacks:\n%s", logs.String())
	}
}

func TestAuthLimiterWithoutRedisIsInProcess(t *testing.T) {
	lims, err := newLimiters(nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lims.auth().(*memory.Limiter); !ok {
		t.Fatalf("without --redis the login limiter is %T, want the in-process one", lims.auth())
	}
}
