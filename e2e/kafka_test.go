package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/basaltdev/basalt/internal/app"
	"github.com/basaltdev/basalt/internal/eventbus"
)

// TestKafkaBus runs the server with --kafka against an in-process Kafka
// cluster, on both engines: the start-up line names the bus, writes reach
// the topics (<prefix>documents keyed by collection/id, <prefix>collections
// keyed by collection), and the server's own consumers (webhooks) are fed
// through Kafka.
func TestKafkaBus(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cluster.Close)
		hooked := make(chan []byte, 16)
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			hooked <- body
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(rcv.Close)
		c, _, logs := serveApp(t, engine, true, func(cfg *app.Config) {
			cfg.Kafka = app.KafkaConfig{Brokers: cluster.ListenAddrs(), TopicPrefix: "e2e."}
			cfg.Webhooks.AllowNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		})
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("server logs:\n%s", logs.String())
			}
		})
		if !strings.Contains(logs.String(), `"bus":"kafka"`) {
			t.Errorf("the start-up line does not say bus=kafka:\n%s", logs.String())
		}
		admin := c.as(c.login(adminEmail, adminPassword).AccessToken)
		admin.must(201, "POST", "/v1/collections", `{"name":"notes","schema":{"type":"object"}}`)
		admin.must(201, "POST", "/v1/admin/webhooks", `{"url":"`+rcv.URL+`/in","collection":"notes","types":["document.created"]}`)
		admin.must(201, "POST", "/v1/collections/notes/documents?id=n1", `{"text":"one"}`)
		admin.must(200, "PATCH", "/v1/collections/notes/documents/n1", `{"text":"two"}`,
			"Content-Type", "application/merge-patch+json")

		// The records, as any Kafka consumer reads them.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...),
			kgo.ConsumeTopics("e2e.documents", "e2e.collections"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var docs, colls []*kgo.Record
		for len(docs) < 2 || len(colls) < 1 {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("read %d document and %d collection records from Kafka, want 2 and 1", len(docs), len(colls))
			}
			fs.EachRecord(func(r *kgo.Record) {
				if r.Topic == "e2e.documents" {
					docs = append(docs, r)
				} else {
					colls = append(colls, r)
				}
			})
		}
		var types []eventbus.Type
		for _, r := range docs {
			var e eventbus.Event
			if err := json.Unmarshal(r.Value, &e); err != nil {
				t.Fatal(err)
			}
			if string(r.Key) != "notes/n1" || e.DocumentID != "n1" {
				t.Errorf("document record key %q, event %+v", r.Key, e)
			}
			types = append(types, e.Type)
		}
		if len(types) != 2 || types[0] != eventbus.DocumentCreated || types[1] != eventbus.DocumentPatched {
			t.Errorf("document events %v, want created then patched", types)
		}
		if string(colls[0].Key) != "notes" {
			t.Errorf("collection record key %q, want notes", colls[0].Key)
		}

		// The webhooks consumer reads Kafka too.
		select {
		case body := <-hooked:
			if !strings.Contains(string(body), `"documentId":"n1"`) {
				t.Errorf("webhook body %s", body)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no webhook delivery through Kafka within 30s")
		}
	})
}

// TestKafkaDownAtStart starts the server with --kafka pointing at a broker
// that is not running yet: it starts and stays ready, writes are
// acknowledged, and once the broker starts the events reach Kafka.
func TestKafkaDownAtStart(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		addr := ln.Addr().String()
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
		c, _, logs := serveApp(t, engine, true, func(cfg *app.Config) {
			cfg.Kafka = app.KafkaConfig{Brokers: []string{addr}, TopicPrefix: "late."}
		})
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("server logs:\n%s", logs.String())
			}
		})
		admin := c.as(c.login(adminEmail, adminPassword).AccessToken)
		admin.must(201, "POST", "/v1/collections", `{"name":"notes","schema":{"type":"object"}}`)
		admin.must(201, "POST", "/v1/collections/notes/documents?id=n1", `{"text":"written while Kafka is down"}`)
		c.must(200, "GET", "/readyz", "")
		// The consumers' lag is Kafka's to tell: unavailable meanwhile.
		admin.must(503, "GET", "/v1/admin/consumers", "")

		cluster, err := kfake.NewCluster(kfake.Ports(port))
		if err != nil {
			t.Fatalf("starting Kafka on %s: %v", addr, err)
		}
		t.Cleanup(cluster.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("late.documents"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatal("the event written while Kafka was down never reached it")
			}
			found := false
			fs.EachRecord(func(r *kgo.Record) { found = found || string(r.Key) == "notes/n1" })
			if found {
				return
			}
		}
	})
}
