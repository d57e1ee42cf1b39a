package kafka

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// The label values of the metrics: fixed sets, every series created at zero.
const (
	streamDocuments   = "documents"
	streamCollections = "collections"

	reasonConnect = "connect" // the topics could not be checked or created
	reasonFetch   = "fetch"   // a fetch from a partition failed
	reasonHandler = "handler" // the handler returned an error
	reasonDecode  = "decode"  // a record was not a change event
	reasonCommit  = "commit"  // committing a handled batch failed
)

type metrics struct {
	published     *prometheus.CounterVec // by stream
	publishErrors prometheus.Counter
	consumeErrors *prometheus.CounterVec // by reason
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "basalt_kafka_published_total",
			Help: "Events the Kafka brokers acknowledged, by stream (documents, collections).",
		}, []string{"stream"}),
		publishErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "basalt_kafka_publish_errors_total",
			Help: "Publish calls to Kafka that failed (the relay publishes their events again).",
		}),
		consumeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "basalt_kafka_consume_errors_total",
			Help: "Failures while consuming from Kafka, by reason: connect, fetch, handler (the batch is delivered again), decode (a record that is not an event, skipped), commit.",
		}, []string{"reason"}),
	}
	for _, s := range []string{streamDocuments, streamCollections} {
		m.published.WithLabelValues(s)
	}
	for _, r := range []string{reasonConnect, reasonFetch, reasonHandler, reasonDecode, reasonCommit} {
		m.consumeErrors.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.published, m.publishErrors, m.consumeErrors} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}
