package accounts

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/fault"
)

// metrics count what the service answers, for dashboards and alerts (a
// jump in bad credentials is a guessing attack; reuse means stolen tokens).
type metrics struct {
	logins    *prometheus.CounterVec // by outcome
	refreshes *prometheus.CounterVec // by outcome
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "basalt_auth_logins_total",
			Help: "Login attempts by outcome: ok, bad_credentials, throttled, refused (disabled or unverified), invalid, error.",
		}, []string{"outcome"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "basalt_auth_refreshes_total",
			Help: "Refresh-token exchanges by outcome: ok, retry (same successor within the grace window), reuse (session revoked), rejected, error.",
		}, []string{"outcome"}),
	}
	// Every series exists from the start at zero: a rate() or increase()
	// over a series that appears only with its first event misses that
	// event, and the first reuse of a stolen token is the one that matters.
	for _, o := range loginOutcomes {
		m.logins.WithLabelValues(o)
	}
	for _, o := range refreshOutcomes {
		m.refreshes.WithLabelValues(o)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.logins, m.refreshes} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

// The outcome labels of the metrics: a fixed set, created at zero.
var (
	loginOutcomes   = []string{"ok", "bad_credentials", "throttled", "refused", "invalid", "error"}
	refreshOutcomes = []string{"ok", "retry", "reuse", "rejected", "error"}
)

// loginOutcome names the outcome of a login for the metrics.
func loginOutcome(err error) string {
	switch fault.KindOf(err) {
	case "":
		return "ok"
	case fault.Unauthenticated:
		return "bad_credentials"
	case fault.TooManyRequests:
		return "throttled"
	case fault.Forbidden:
		return "refused"
	case fault.Validation, fault.Invalid:
		return "invalid"
	}
	return "error"
}
