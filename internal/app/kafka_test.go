package app

import (
	"slices"
	"testing"
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
