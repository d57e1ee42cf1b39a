package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/basaltdev/basalt/internal/app"
)

// TestTracingOfAWrite: one REST request that writes a document yields one
// trace, continuing the caller's (W3C traceparent): the server span of
// the route, the write transaction within it, and within that the
// document's insert and the event's append to the outbox (on PostgreSQL
// down to the statements). The request's log line names the trace.
func TestTracingOfAWrite(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		exp := tracetest.NewInMemoryExporter()
		c, _, logs := serveApp(t, engine, true, func(cfg *app.Config) {
			cfg.Tracing = app.TracingConfig{Exporter: exp, SampleRatio: 0} // only the caller's sampled traces
			cfg.LogLevel = "debug"
		})
		admin := c.as(c.login(adminEmail, adminPassword).AccessToken)
		admin.must(201, "POST", "/v1/collections", `{"name":"notes","schema":{"type":"object"}}`)
		if n := len(exp.GetSpans()); n != 0 {
			t.Errorf("%d spans of unsampled requests at ratio 0", n)
		}

		const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
		admin.must(201, "POST", "/v1/collections/notes/documents?id=n1", `{"title":"basalt"}`,
			"traceparent", "00-"+traceID+"-"+parentID+"-01")

		spans := exp.GetSpans()
		byName := map[string]tracetest.SpanStub{}
		for _, s := range spans {
			if s.SpanContext.TraceID().String() != traceID {
				t.Errorf("span %q is in trace %s, not the caller's", s.Name, s.SpanContext.TraceID())
			}
			byName[s.Name] = s
		}
		server, ok := byName["POST /v1/collections/{collection}/documents"]
		if !ok {
			t.Fatalf("no server span of the route; spans: %v", names(spans))
		}
		if server.SpanKind != trace.SpanKindServer || server.Parent.SpanID().String() != parentID {
			t.Errorf("server span: kind %v, parent %s; want server, the caller's %s", server.SpanKind, server.Parent.SpanID(), parentID)
		}
		write := childOf(t, byName, "db write", server)
		childOf(t, byName, "db insert_document", write)
		outbox := childOf(t, byName, "outbox append", write)
		// The event carries the trace on: the relay's publish and the
		// consumers' handling of it join the write's trace.
		var later map[string]tracetest.SpanStub
		waitFor(t, 20*time.Second, "the relay's and the webhooks consumer's spans", func() bool {
			later = map[string]tracetest.SpanStub{}
			for _, s := range exp.GetSpans() {
				if s.SpanContext.TraceID().String() == traceID {
					later[s.Name] = s
				}
			}
			_, published := later["outbox publish"]
			_, consumed := later["consume webhooks"]
			return published && consumed
		})
		childOf(t, later, "outbox publish", outbox)
		if c := childOf(t, later, "consume webhooks", outbox); c.SpanKind != trace.SpanKindConsumer {
			t.Errorf("consume webhooks is a %v span", c.SpanKind)
		}
		if engine == "sqlite" { // the group commit the write shared
			childOf(t, byName, "sqlite commit group", write)
		}
		if engine == "postgres" {
			stmt := childOf(t, byName, "postgres INSERT", outbox)
			if q := attr(stmt, "db.query.text"); !strings.Contains(q, "INSERT INTO outbox") {
				t.Errorf("the outbox append's statement is %q", q)
			}
		}

		// A login's trace shows the password verification.
		const loginTrace = "6bf92f3577b34da6a3ce929d0e0e4738"
		c.must(200, "POST", "/v1/auth/login", `{"email":"`+adminEmail+`","password":"`+adminPassword+`"}`,
			"traceparent", "00-"+loginTrace+"-00f067aa0ba902b7-01")
		login := map[string]tracetest.SpanStub{}
		for _, s := range exp.GetSpans() {
			if s.SpanContext.TraceID().String() == loginTrace {
				login[s.Name] = s
			}
		}
		childOf(t, login, "password verify", login["POST /v1/auth/login"])

		var logged bool
		for _, line := range strings.Split(logs.String(), "\n") {
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == "request" && entry["trace_id"] == traceID &&
				entry["span_id"] == server.SpanContext.SpanID().String() {
				logged = true
			}
		}
		if !logged {
			t.Errorf("no request log line names trace %s:\n%s", traceID, logs.String())
		}
	})
}

// childOf returns the span named name, failing unless parent is its
// parent.
func childOf(t *testing.T, byName map[string]tracetest.SpanStub, name string, parent tracetest.SpanStub) tracetest.SpanStub {
	t.Helper()
	s, ok := byName[name]
	if !ok {
		t.Fatalf("no span %q", name)
	}
	if s.Parent.SpanID() != parent.SpanContext.SpanID() {
		t.Errorf("span %q is a child of %s, want %q (%s)", name, s.Parent.SpanID(), parent.Name, parent.SpanContext.SpanID())
	}
	return s
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

func names(spans tracetest.SpanStubs) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}

// TestTracingAcrossComponents: in a split deployment, a write sent to the
// gateway is one trace across processes: the gateway's server span, its
// call to the documents component (a client span whose context travels in
// traceparent), the component's server span, and the write within it.
func TestTracingAcrossComponents(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	c := serveSplitApp(t, func(cfg *app.Config) { cfg.Tracing = app.TracingConfig{Exporter: exp} })
	admin := c.as(c.login(adminEmail, adminPassword).AccessToken)
	admin.must(201, "POST", "/v1/collections", `{"name":"notes","schema":{"type":"object"}}`)
	const traceID = "5bf92f3577b34da6a3ce929d0e0e4737"
	admin.must(201, "POST", "/v1/collections/notes/documents?id=n1", `{"title":"basalt"}`,
		"traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")

	byKey := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID().String() == traceID {
			byKey[s.SpanKind.String()+" "+s.Name] = s
		}
	}
	const procedure = "POST /basalt.v1.DocumentService/CreateDocument"
	gateway, ok := byKey["server POST /v1/collections/{collection}/documents"]
	if !ok {
		t.Fatalf("no gateway span in the trace: %v", spanKeys(byKey))
	}
	call := childOf(t, byKey, "client "+procedure, gateway)
	component := childOf(t, byKey, "server "+procedure, call)
	write := childOf(t, byKey, "client db write", component)
	childOf(t, byKey, "client outbox append", write)
}

func spanKeys(m map[string]tracetest.SpanStub) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
