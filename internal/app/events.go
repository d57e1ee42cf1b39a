package app

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/eventbus/memory"
	"github.com/basaltdev/basalt/internal/outbox"
)

// EventsConfig configures change events: the event log and its relay.
type EventsConfig struct {
	// Retention is how long published events stay in the event log: the
	// window in which realtime subscribers resume, after which a deleted
	// document's data has left the log.
	Retention time.Duration
}

// DefaultEventsConfig returns the defaults of EventsConfig.
func DefaultEventsConfig() EventsConfig {
	return EventsConfig{Retention: outbox.DefaultRetention}
}

// maxEventRetention bounds --event-retention: the log keeps every event of
// the window, so a year of them is not a setting but a mistake.
const maxEventRetention = 90 * 24 * time.Hour

func (c EventsConfig) validate() error {
	if c.Retention < time.Minute || c.Retention > maxEventRetention {
		return errors.New("--event-retention must be between 1m and 2160h (90 days)")
	}
	return nil
}

// eventsFlags are serve's flags of change events.
type eventsFlags struct {
	EventRetention time.Duration `name:"event-retention" help:"How long published change events stay in the event log: realtime subscribers can resume within it, and a deleted document's data leaves the log after it (1m to 2160h) ($$BASALT_EVENT_RETENTION)." default:"24h"`
}

func (f eventsFlags) apply(cfg *Config) {
	cfg.Events = EventsConfig{Retention: f.EventRetention}
}

// eventBus returns the bus that carries change events to consumers: Kafka
// with --kafka, else the in-process bus, which reads the database's event
// log and keeps each consumer's position there. local reports whether its
// consumers read the log itself (so trimming waits for them).
func eventBus(cfg Config, db database, news *eventbus.Signal, log *slog.Logger, reg prometheus.Registerer) (bus eventbus.Bus, local bool, err error) {
	if len(cfg.Kafka.Brokers) > 0 {
		k, err := kafkaBus(cfg, log, reg)
		if err != nil {
			return nil, false, err
		}
		return k, false, nil
	}
	b, err := memory.New(memory.Config{Log: db.log, Cursors: db.cursors, News: news, Logger: log})
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// newRelay returns the relay from the database's event log to bus. Writes
// of this process wake it (docstore's Committed hook); on PostgreSQL,
// other processes' do too (the engine's Waker).
func newRelay(cfg Config, db database, bus eventbus.Bus, local bool, news *eventbus.Signal, log *slog.Logger,
	reg prometheus.Registerer, tp trace.TracerProvider) (*outbox.Relay, error) {
	return outbox.New(outbox.Config{Log: db.log, Cursors: db.cursors, Bus: bus, Waker: db.waker, News: news,
		Logger: log, Registerer: reg, Retention: cfg.Events.Retention, WaitForConsumers: local, Tracer: tracerOf(tp, "outbox")})
}
