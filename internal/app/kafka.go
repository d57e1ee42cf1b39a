package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/eventbus/kafka"
)

// KafkaConfig selects the Kafka event bus.
type KafkaConfig struct {
	// Brokers are the bootstrap brokers (host:port); none selects the
	// in-process bus.
	Brokers []string
	// TopicPrefix starts the names of the topics and consumer groups.
	TopicPrefix string
}

// kafkaFlags are serve's flags of the Kafka bus.
type kafkaFlags struct {
	Kafka            []string `name:"kafka" help:"Kafka bootstrap brokers, host:port,…: change events go through Kafka instead of the in-process bus ($$BASALT_KAFKA)." placeholder:"HOST:PORT,…"`
	KafkaTopicPrefix string   `name:"kafka-topic-prefix" help:"Prefix of the Kafka topics (<prefix>documents, <prefix>collections) and consumer groups ($$BASALT_KAFKA_TOPIC_PREFIX)." default:"basalt."`
}

func (f kafkaFlags) apply(cfg *Config) {
	cfg.Kafka = KafkaConfig{TopicPrefix: f.KafkaTopicPrefix}
	for _, b := range f.Kafka {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Kafka.Brokers = append(cfg.Kafka.Brokers, b)
		}
	}
	if len(f.Kafka) > 0 && cfg.Kafka.Brokers == nil {
		cfg.Kafka.Brokers = []string{} // given, but empty: validate refuses it
	}
}

func (c KafkaConfig) validate() error {
	if c.Brokers == nil {
		return nil
	}
	if len(c.Brokers) == 0 {
		return errors.New("--kafka: give at least one broker as host:port")
	}
	for _, b := range c.Brokers {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			return fmt.Errorf("--kafka: %q is not host:port", b)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("--kafka: %q: the port must be 1 to 65535", b)
		}
	}
	if c.TopicPrefix == "" || len(c.TopicPrefix) > 100 {
		return errors.New("--kafka-topic-prefix must have 1 to 100 characters")
	}
	for _, r := range c.TopicPrefix {
		if !topicChar(r) {
			return fmt.Errorf("--kafka-topic-prefix %q: only letters, digits, '.', '_' and '-' (Kafka's topic characters)", c.TopicPrefix)
		}
	}
	return nil
}

// topicChar reports whether r may be in a Kafka topic name.
func topicChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// busAttrs are the log attributes that say which event bus serve uses.
func busAttrs(cfg Config) []any {
	if len(cfg.Kafka.Brokers) == 0 {
		return []any{"bus", "memory"}
	}
	return []any{"bus", "kafka", "kafka_brokers", strings.Join(cfg.Kafka.Brokers, ","), "kafka_topic_prefix", cfg.Kafka.TopicPrefix}
}

// kafkaBus returns the Kafka bus of cfg.
func kafkaBus(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*kafka.Bus, error) {
	return kafka.New(kafka.Config{Brokers: cfg.Kafka.Brokers, TopicPrefix: cfg.Kafka.TopicPrefix,
		MaxRecordBytes: maxRecordBytes(cfg.MaxBodyBytes), ClientID: "basalt", Logger: log, Registerer: reg})
}

// maxRecordBytes is the largest Kafka record serve produces: an event
// holds at most one document, which a request body of maxBody bytes wrote,
// and its envelope; at least 4 MiB.
func maxRecordBytes(maxBody int64) int32 {
	return int32(min(max(4<<20, maxBody+64<<10), 1<<30))
}
