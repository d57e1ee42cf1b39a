package load

import (
	"io"
	"net"
	"net/http"
	"time"
)

// ScenarioTracing measures what tracing costs a get by id: one Basalt
// with tracing off and one with tracing on at 1 % sampling, exporting
// over OTLP/HTTP to a collector in the load generator that accepts every
// span, side by side, each seeded with the same documents.
const ScenarioTracing = "tracing"

// The variants of ScenarioTracing; the first is the one the other is
// compared with.
const (
	VariantTracingOff = "off"
	VariantTracingOn  = "on-1%"
)

// TracingVariants are the variants of ScenarioTracing; otlpURL is the
// collector's.
func TracingVariants(otlpURL string) []Variant {
	return []Variant{
		{VariantTracingOff, nil, "tracing off (no --otlp-endpoint)"},
		{VariantTracingOn, []string{"--otlp-endpoint=" + otlpURL, "--trace-sample-ratio=0.01"}, "tracing on, 1 % of the traces sampled and exported over OTLP/HTTP"},
	}
}

// otlpSink is a collector that accepts every export and keeps nothing.
type otlpSink struct {
	srv  *http.Server
	addr string
}

// startOTLPSink listens on a free port of 127.0.0.1.
func startOTLPSink() (*otlpSink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &otlpSink{addr: l.Addr().String(), srv: &http.Server{ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/x-protobuf")
			w.WriteHeader(http.StatusOK)
		})}}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

// URL is the collector's base URL.
func (s *otlpSink) URL() string { return "http://" + s.addr }

// Close stops the collector.
func (s *otlpSink) Close() error { return s.srv.Close() }
