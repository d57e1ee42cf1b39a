package consumer

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// The outcomes of an attempt at an event, a fixed set of label values.
const (
	outcomeOK           = "ok"            // Handle succeeded
	outcomeRetried      = "retried"       // Handle failed; the event is tried again
	outcomeDeadLettered = "dead_lettered" // Handle failed MaxAttempts times; the event was set aside
)

// metrics are one consumer's series of the metrics every consumer of a
// process shares, labelled by consumer name (names come from code).
type metrics struct {
	events      *prometheus.CounterVec
	deadLetters prometheus.Gauge
	lag         prometheus.Gauge
}

func (m *metrics) handled(outcome string) { m.events.WithLabelValues(outcome).Inc() }

func newMetrics(reg prometheus.Registerer, name string) (*metrics, error) {
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "basalt_consumer_events_total",
		Help: "Attempts at change events by consumer and outcome: ok, retried (failed, tried again), dead_lettered (failed too often, set aside).",
	}, []string{"consumer", "outcome"})
	deadLetters := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "basalt_consumer_dead_letters",
		Help: "Dead letters stored for each consumer (events its handler failed on too often).",
	}, []string{"consumer"})
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "basalt_consumer_lag_events",
		Help: "Events in the log each consumer has not acknowledged yet.",
	}, []string{"consumer"})
	if reg != nil {
		var err error
		if events, err = register(reg, events); err != nil {
			return nil, err
		}
		if deadLetters, err = register(reg, deadLetters); err != nil {
			return nil, err
		}
		if lag, err = register(reg, lag); err != nil {
			return nil, err
		}
	}
	m := &metrics{events: events.MustCurryWith(prometheus.Labels{"consumer": name}),
		deadLetters: deadLetters.WithLabelValues(name), lag: lag.WithLabelValues(name)}
	// Every series exists from the start, at zero.
	for _, o := range []string{outcomeOK, outcomeRetried, outcomeDeadLettered} {
		m.events.WithLabelValues(o)
	}
	return m, nil
}

// register registers c, or returns the collector of the same description
// that another consumer of the process registered first.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}
