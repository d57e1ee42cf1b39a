package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/webhook"
)

// WebhookConfig configures webhook deliveries.
type WebhookConfig struct {
	// AllowNetworks are networks webhooks may reach although the SSRF
	// guard refuses them (loopback, private, …).
	AllowNetworks []netip.Prefix
	// Timeout bounds one delivery attempt.
	Timeout time.Duration
	// MaxAttempts is how many attempts a delivery gets before it fails.
	MaxAttempts int
	// BackoffBase and BackoffMax shape the waits between attempts.
	BackoffBase, BackoffMax time.Duration
	// Concurrency bounds the deliveries one process sends at once.
	Concurrency int
	// Retention is how long finished deliveries are kept.
	Retention time.Duration
}

// DefaultWebhookConfig returns the defaults of WebhookConfig.
func DefaultWebhookConfig() WebhookConfig {
	return WebhookConfig{Timeout: 10 * time.Second, MaxAttempts: 30, BackoffBase: 5 * time.Second,
		BackoffMax: time.Hour, Concurrency: 8,
		Retention: 30 * 24 * time.Hour}
}

func (c WebhookConfig) validate() error {
	switch {
	case c.Timeout < time.Second || c.Timeout > 5*time.Minute:
		return errors.New("--webhook-timeout must be between 1s and 5m")
	case c.MaxAttempts < 1 || c.MaxAttempts > 100:
		return errors.New("--webhook-max-attempts must be between 1 and 100")
	case c.BackoffBase < 100*time.Millisecond || c.BackoffMax < c.BackoffBase || c.BackoffMax > 24*time.Hour:
		return errors.New("--webhook-backoff-base must be at least 100ms, and --webhook-backoff-max at least as long and at most 24h")
	case c.Concurrency < 1 || c.Concurrency > 1024:
		return errors.New("--webhook-concurrency must be between 1 and 1024")
	case c.Retention < time.Hour:
		return errors.New("--webhook-retention must be at least 1h")
	}
	return nil
}

// webhookFlags are serve's flags of webhook deliveries.
type webhookFlags struct {
	WebhookAllowNetworks []string      `name:"webhook-allow-networks" help:"Comma-separated CIDR networks that webhooks may reach although they are internal (loopback, private, link-local, …); none by default ($$BASALT_WEBHOOK_ALLOW_NETWORKS)." placeholder:"CIDR,…"`
	WebhookTimeout       time.Duration `name:"webhook-timeout" help:"Time limit of one webhook delivery attempt, 1s to 5m ($$BASALT_WEBHOOK_TIMEOUT)." default:"10s"`
	WebhookMaxAttempts   int           `name:"webhook-max-attempts" help:"Attempts of a webhook delivery before it fails ($$BASALT_WEBHOOK_MAX_ATTEMPTS)." default:"30"`
	WebhookBackoffBase   time.Duration `name:"webhook-backoff-base" help:"Wait after a delivery's first failed attempt; it doubles after each, with full jitter ($$BASALT_WEBHOOK_BACKOFF_BASE)." default:"5s"`
	WebhookBackoffMax    time.Duration `name:"webhook-backoff-max" help:"Longest wait between two attempts of a delivery ($$BASALT_WEBHOOK_BACKOFF_MAX)." default:"1h"`
	WebhookConcurrency   int           `name:"webhook-concurrency" help:"Webhook deliveries one process sends at once ($$BASALT_WEBHOOK_CONCURRENCY)." default:"8"`
	WebhookRetention     time.Duration `name:"webhook-retention" help:"How long succeeded and failed webhook deliveries are kept after their last attempt ($$BASALT_WEBHOOK_RETENTION)." default:"720h"`
}

func (f webhookFlags) apply(cfg *Config) error {
	allow, err := webhook.ParseNetworks(f.WebhookAllowNetworks)
	if err != nil {
		return fmt.Errorf("--webhook-allow-networks: %w", err)
	}
	cfg.Webhooks = WebhookConfig{AllowNetworks: allow, Timeout: f.WebhookTimeout, MaxAttempts: f.WebhookMaxAttempts,
		BackoffBase: f.WebhookBackoffBase, BackoffMax: f.WebhookBackoffMax, Concurrency: f.WebhookConcurrency,
		Retention: f.WebhookRetention}
	return nil
}

// webhooks are the parts of webhook delivery in one process.
type webhooks struct {
	svc      *webhook.Service
	worker   *webhook.Worker
	consumer *consumer.Consumer // nil without a bus
}

// newWebhooks builds the webhook service, the "webhooks" consumer of the
// event stream (on bus; none when bus is nil) and the delivery worker.
// Deliveries leave without hidden fields (docstore.OutboundEvent).
func newWebhooks(cfg Config, db database, bus eventbus.Bus, docs *docstore.Service, log *slog.Logger,
	reg prometheus.Registerer, tp trace.TracerProvider) (*webhooks, error) {
	store, ok := db.Store.(webhook.Store)
	if !ok {
		return nil, fmt.Errorf("the %s engine keeps no webhooks", db.engine)
	}
	c := cfg.Webhooks
	guard := webhook.NewGuard(c.AllowNetworks, nil)
	version := cfg.Version
	if version == "" {
		version = "dev"
	}
	worker, err := webhook.NewWorker(webhook.WorkerConfig{Store: store, Guard: guard, Filter: docs.OutboundEvent,
		Logger: log, Registerer: reg, Concurrency: c.Concurrency, Timeout: c.Timeout, MaxAttempts: c.MaxAttempts,
		BackoffBase: c.BackoffBase, BackoffMax: c.BackoffMax, UserAgent: "Basalt-Webhooks/" + version,
		Retention: c.Retention})
	if err != nil {
		return nil, err
	}
	w := &webhooks{worker: worker,
		svc: webhook.NewService(webhook.ServiceConfig{Store: store, Catalog: db.Store, Guard: guard, Log: db.log,
			Wake: worker.Wake})}
	if bus != nil && db.deadLetters != nil {
		disp := webhook.NewDispatcher(store, nil, worker.Wake)
		w.consumer, err = consumer.New(consumer.Config{Name: webhook.ConsumerName, Bus: bus, DeadLetters: db.deadLetters,
			Handle: disp.Handle, Logger: log, Registerer: reg, Tracer: tracerOf(tp, "webhook")})
		if err != nil {
			return nil, err
		}
	}
	return w, nil
}

// components are the webhook parts that run until the process stops.
func (w *webhooks) components() []component {
	out := []component{{name: "webhook worker", run: w.worker.Run}}
	if w.consumer != nil {
		out = append(out, component{name: "webhooks consumer", run: w.consumer.Run})
	}
	return out
}
