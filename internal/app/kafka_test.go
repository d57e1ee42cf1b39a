package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/eventbus/kafka"
)

func TestKafkaFlags(t *testing.T) {
	cmd, err := parse(t, nil, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if k := cmd.Config.Kafka; k.Brokers != nil || k.TopicPrefix != "basalt." {
		t.Errorf("defaults: %+v, want no brokers (in-process bus) and prefix basalt.", k)
	}
	cmd, err = parse(t, nil, "serve", "--kafka", "k1:9092, k2:9093", "--kafka-topic-prefix", "prod.app_1-")
	if err != nil {
		t.Fatal(err)
	}
	if k := cmd.Config.Kafka; !slices.Equal(k.Brokers, []string{"k1:9092", "k2:9093"}) || k.TopicPrefix != "prod.app_1-" {
		t.Errorf("flags: %+v", k)
	}
	cmd, err = parse(t, map[string]string{"BASALT_KAFKA": "10.0.0.1:9092,10.0.0.2:9092", "BASALT_KAFKA_TOPIC_PREFIX": "env."}, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if k := cmd.Config.Kafka; !slices.Equal(k.Brokers, []string{"10.0.0.1:9092", "10.0.0.2:9092"}) || k.TopicPrefix != "env." {
		t.Errorf("environment: %+v", k)
	}
	for _, args := range [][]string{
		{"--kafka", "k1"},
		{"--kafka", ":9092"},
		{"--kafka", "k1:0"},
		{"--kafka", "k1:http"},
		{"--kafka", "k1:9092,k2"},
		{"--kafka", " , "},
		{"--kafka", "k1:9092", "--kafka-topic-prefix", "a/b"},
		{"--kafka", "k1:9092", "--kafka-topic-prefix", ""},
	} {
		if _, err := parse(t, nil, append([]string{"serve"}, args...)...); err == nil {
			t.Errorf("serve %q: no error", args)
		}
	}
}

// TestEventsStatusWithKafka: with --kafka, "basalt events status" reports
// the lag of the consumers' groups in Kafka, not of positions in the
// database (which Kafka consumers do not store).
func TestEventsStatusWithKafka(t *testing.T) {
	cmd, err := parse(t, nil, "events", "status", "--kafka", "k1:9092", "--kafka-topic-prefix", "p.")
	if err != nil {
		t.Fatal(err)
	}
	if k := cmd.Config.Kafka; !slices.Equal(k.Brokers, []string{"k1:9092"}) || k.TopicPrefix != "p." {
		t.Fatalf("events status --kafka: %+v", k)
	}

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	ctx := context.Background()
	bus, err := kafka.New(kafka.Config{Brokers: cluster.ListenAddrs(), TopicPrefix: "st."})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	var evs []eventbus.Event
	for i := range 3 {
		evs = append(evs, eventbus.Event{ID: fmt.Sprintf("e%d", i), Type: eventbus.DocumentCreated, Collection: "c",
			DocumentID: fmt.Sprintf("d%d", i), Version: 1, Time: time.Now(), Payload: json.RawMessage(`{}`), Position: int64(i + 1)})
	}
	if err := bus.Publish(ctx, evs); err != nil {
		t.Fatal(err)
	}

	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Logs = &bytes.Buffer{}
	cfg.EventsStatusJSON = true
	status := func() map[string]float64 {
		t.Helper()
		var out bytes.Buffer
		if err := EventsStatus(ctx, cfg, &out); err != nil {
			t.Fatal(err)
		}
		var v struct {
			Items []struct {
				Name string
				Lag  float64
			}
		}
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		lags := map[string]float64{}
		for _, it := range v.Items {
			lags[it.Name] = it.Lag
		}
		return lags
	}
	if lag := status()["webhooks"]; lag != 0 {
		t.Errorf("without --kafka, webhooks lag %v; want 0 (the database holds no event)", lag)
	}
	cfg.Kafka = KafkaConfig{Brokers: cluster.ListenAddrs(), TopicPrefix: "st."}
	if lag := status()["webhooks"]; lag != 3 {
		t.Errorf("with --kafka, webhooks lag %v; want 3 (its group has read none of the 3 records)", lag)
	}
}

func TestMaxRecordBytes(t *testing.T) {
	for body, want := range map[int64]int32{1 << 20: 4 << 20, 16 << 20: 16<<20 + 64<<10, 1 << 40: 1 << 30} {
		if got := maxRecordBytes(body); got != want {
			t.Errorf("maxRecordBytes(%d) = %d, want %d", body, got, want)
		}
	}
}
