package app

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/realtime"
)

// RealtimeConfig configures realtime subscriptions (Server-Sent Events).
type RealtimeConfig struct {
	// Heartbeat is the interval of the comments that keep idle streams
	// open through proxies.
	Heartbeat time.Duration
	// MaxPerAccount and MaxPerIP bound the open streams of one account
	// (user or API key) and of one client address.
	MaxPerAccount, MaxPerIP int
	// Queue is how many events may wait for one stream before it is
	// dropped as too slow.
	Queue int
}

// DefaultRealtimeConfig returns the defaults of RealtimeConfig.
func DefaultRealtimeConfig() RealtimeConfig {
	return RealtimeConfig{Heartbeat: restapi.DefaultHeartbeat, MaxPerAccount: realtime.DefaultMaxPerAccount,
		MaxPerIP: realtime.DefaultMaxPerIP, Queue: realtime.DefaultQueue}
}

func (c RealtimeConfig) validate() error {
	if c.Heartbeat < time.Second || c.Heartbeat > 10*time.Minute {
		return errors.New("--realtime-heartbeat must be between 1s and 10m")
	}
	if c.MaxPerAccount < 1 || c.MaxPerIP < 1 {
		return errors.New("--realtime-streams-per-account and --realtime-streams-per-ip must be at least 1")
	}
	if c.Queue < 1 || c.Queue > 1<<20 {
		return errors.New("--realtime-queue must be between 1 and 1048576")
	}
	return nil
}

// realtimeFlags are serve's flags of realtime subscriptions.
type realtimeFlags struct {
	RealtimeHeartbeat  time.Duration `name:"realtime-heartbeat" help:"Interval of the heartbeat comments of idle event streams and of the pings of GraphQL WebSocket connections (1s to 10m) ($$BASALT_REALTIME_HEARTBEAT)." default:"15s"`
	RealtimePerAccount int           `name:"realtime-streams-per-account" help:"Most open event streams (GraphQL subscriptions included) of one account or API key; more are answered 429 ($$BASALT_REALTIME_STREAMS_PER_ACCOUNT)." default:"32"`
	RealtimePerIP      int           `name:"realtime-streams-per-ip" help:"Most open event streams (GraphQL subscriptions included), and GraphQL WebSocket connections, of one client address; more are answered 429 ($$BASALT_REALTIME_STREAMS_PER_IP)." default:"128"`
	RealtimeQueue      int           `name:"realtime-queue" help:"Events that may wait for one event stream; a stream further behind is ended with a dropped event and resumes with Last-Event-ID ($$BASALT_REALTIME_QUEUE)." default:"256"`
}

func (f realtimeFlags) apply(cfg *Config) {
	cfg.Realtime = RealtimeConfig{Heartbeat: f.RealtimeHeartbeat, MaxPerAccount: f.RealtimePerAccount,
		MaxPerIP: f.RealtimePerIP, Queue: f.RealtimeQueue}
}

// realtimeHub returns the hub of realtime subscriptions over the
// database's event log, woken by news (the relay's notices).
// The hub also tells svc of the collection events it reads, so that a
// definition changed through another process applies here at once.
func realtimeHub(cfg Config, db database, news *eventbus.Signal, svc *docstore.Service, log *slog.Logger, reg prometheus.Registerer) (*realtime.Hub, error) {
	onEvent := func(e eventbus.Event) {
		if e.Type.IsCollection() {
			svc.DefinitionChanged(e.Collection)
		}
	}
	return realtime.New(realtime.Options{Log: db.log, News: news, Queue: cfg.Realtime.Queue, OnEvent: onEvent,
		MaxPerAccount: cfg.Realtime.MaxPerAccount, MaxPerIP: cfg.Realtime.MaxPerIP, Logger: log, Registerer: reg})
}
