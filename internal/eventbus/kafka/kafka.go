// Package kafka is the event bus over Apache Kafka (or any broker that
// speaks its protocol, such as Redpanda), through franz-go.
//
// Events go to one topic per stream: document events to
// <prefix>documents, collection events to <prefix>collections. The record
// key is the event's Key ("collection/documentId", or the collection for
// collection events), so one document's events land in one partition, in
// the order they were published; the value is the event's JSON envelope;
// the headers repeat its id, type and position. The producer is idempotent
// and waits for every in-sync replica (acks=all), so a broker retry never
// duplicates or reorders a record.
//
// A named consumer is the consumer group <prefix><name> over both topics.
// It commits a batch's offsets only after its handler returned nil; after
// an error it rewinds to the batch's first records and delivers them again.
package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// The record headers every event carries (besides its JSON value).
const (
	HeaderID       = "basalt-event-id"
	HeaderType     = "basalt-event-type"
	HeaderPosition = "basalt-event-position"
	// HeaderTraceParent, on the events of traced writes, is the W3C
	// traceparent of the write: a consumer continues its trace.
	HeaderTraceParent = "traceparent"
)

// DefaultTopicPrefix is the prefix of topic and consumer group names.
const DefaultTopicPrefix = "basalt."

// ErrClosed is returned by the bus's methods after Close.
var ErrClosed = errors.New("kafka bus: closed")

// Config configures the bus.
type Config struct {
	// Brokers are the bootstrap brokers, host:port each. Required.
	Brokers []string
	// TopicPrefix starts the names of the topics and of the consumer
	// groups (default "basalt.").
	TopicPrefix string
	// Partitions is the partition count of the topics the bus creates
	// when they are missing (default 6); existing topics keep theirs.
	Partitions int32
	// ReplicationFactor of created topics; 0 or -1 takes the brokers'
	// default.
	ReplicationFactor int16
	// MaxRecordBytes is the largest record (one event's envelope) the
	// producer sends, and the max.message.bytes of the topics the bus
	// creates (default 4 MiB; Kafka's own default is 1 MB). It must hold
	// the largest document plus its envelope: a larger event cannot be
	// published, and the relay retries it without end.
	MaxRecordBytes int32
	// ClientID names this process to the brokers (default "basalt").
	ClientID string
	// PublishTimeout bounds how long one Publish waits for the brokers'
	// acknowledgements before failing, whatever its context (default 30s).
	PublishTimeout time.Duration
	// MaxBatch is the most events one handler call receives (default 500).
	MaxBatch int
	// RetryMin and RetryMax bound the backoff between deliveries of a batch
	// whose handler failed, and between attempts to reach the brokers
	// (defaults 100ms and 10s).
	RetryMin, RetryMax time.Duration
	// AdminTimeout bounds Lag (default 5s).
	AdminTimeout time.Duration
	// Logger receives the bus's and franz-go's warnings and errors.
	Logger *slog.Logger
	// Registerer, when set, receives the bus's metrics.
	Registerer prometheus.Registerer
}

func (c *Config) defaults() error {
	if len(c.Brokers) == 0 {
		return errors.New("kafka bus: no brokers")
	}
	for _, b := range c.Brokers {
		if b == "" {
			return errors.New("kafka bus: an empty broker address")
		}
	}
	if c.TopicPrefix == "" {
		c.TopicPrefix = DefaultTopicPrefix
	}
	if c.Partitions <= 0 {
		c.Partitions = 6
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if c.MaxRecordBytes <= 0 {
		c.MaxRecordBytes = 4 << 20
	}
	if c.ClientID == "" {
		c.ClientID = "basalt"
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 30 * time.Second
	}
	if c.AdminTimeout <= 0 {
		c.AdminTimeout = 5 * time.Second
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 500
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(10*time.Second, c.RetryMin)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Bus is the Kafka event bus. It is safe for concurrent use.
type Bus struct {
	cfg     Config
	docs    string // topic of document events
	colls   string // topic of collection events
	client  *kgo.Client
	admin   *kadm.Client
	metrics *metrics

	topicsMu sync.Mutex
	topicsOK bool

	// life ends when the bus is closed; consumers hold it.
	life      context.Context
	stop      context.CancelFunc
	closeMu   sync.Mutex // orders consumers.Add before Close's Wait
	consumers sync.WaitGroup
	closeOnce sync.Once
}

var _ eventbus.Bus = (*Bus)(nil)

// New returns a bus over the brokers in cfg. It does not reach them yet:
// the topics are created (when missing) by the first Publish, Consume or
// Lag, so a process can start while the brokers are down.
func New(cfg Config) (*Bus, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	life, stop := context.WithCancel(context.Background())
	b := &Bus{
		cfg:     cfg,
		docs:    cfg.TopicPrefix + "documents",
		colls:   cfg.TopicPrefix + "collections",
		metrics: m,
		life:    life,
		stop:    stop,
	}
	cl, err := kgo.NewClient(b.clientOpts(
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(max(cfg.PublishTimeout, time.Second)),
		// Idempotence stays on: the client's own retries never duplicate
		// or reorder a record. But a record whose request is in flight
		// when the brokers go away may be failed (ctx, the timeout) rather
		// than retried forever, so Publish returns and the relay backs
		// off, and a shutdown does not wait for Kafka. The relay then
		// publishes it again: if the brokers had written it, consumers
		// see it twice (at least once), never out of order.
		kgo.AllowIdempotentProduceCancellation(),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchMaxBytes(cfg.MaxRecordBytes),
		// The default partitioner hashes keys as every Kafka client
		// does (murmur2): other producers of the same keys agree.
	)...)
	if err != nil {
		stop()
		return nil, fmt.Errorf("kafka bus: %w", err)
	}
	b.client, b.admin = cl, kadm.NewClient(cl)
	return b, nil
}

// clientOpts returns the options every client of the bus shares, then
// more.
func (b *Bus) clientOpts(more ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(b.cfg.Brokers...),
		kgo.ClientID(b.cfg.ClientID),
		kgo.WithLogger(logger{b.cfg.Logger}),
		// Requests to brokers that fail are retried after RetryMin,
		// doubling up to 1s, so a broker back from an outage is used
		// again within a second.
		kgo.RetryBackoffFn(func(n int) time.Duration { return min(b.backoff(n), time.Second) }),
		// A failed produce waits for fresh metadata before its retry;
		// the default minimum age (5s) would hold it that long.
		kgo.MetadataMinAge(min(b.cfg.RetryMax, time.Second)),
	}, more...)
}

// Topics returns the names of the topics of document and collection events.
func (b *Bus) Topics() (documents, collections string) { return b.docs, b.colls }

// Group returns the consumer group of the named consumer.
func (b *Bus) Group(name string) string { return b.cfg.TopicPrefix + name }

func (b *Bus) closed() bool { return b.life.Err() != nil }

// Check reports whether the brokers answer (for readiness).
func (b *Bus) Check(ctx context.Context) error {
	if b.closed() {
		return ErrClosed
	}
	if err := b.client.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}

// ensureTopics creates the bus's topics when they are missing. It succeeds
// once per bus; until then every caller tries again.
func (b *Bus) ensureTopics(ctx context.Context) error {
	b.topicsMu.Lock()
	defer b.topicsMu.Unlock()
	if b.topicsOK {
		return nil
	}
	configs := map[string]*string{"max.message.bytes": kadm.StringPtr(strconv.Itoa(int(b.cfg.MaxRecordBytes)))}
	resp, err := b.admin.CreateTopics(ctx, b.cfg.Partitions, b.cfg.ReplicationFactor, configs, b.docs, b.colls)
	if err != nil {
		return fmt.Errorf("kafka bus: create topics: %w", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka bus: create topic %s: %w", r.Topic, r.Err)
		}
	}
	b.topicsOK = true
	return nil
}

// record is the Kafka record of one event.
func (b *Bus) record(e eventbus.Event) (*kgo.Record, error) {
	value, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("kafka bus: encode event %s: %w", e.ID, err)
	}
	topic := b.docs
	if e.Type.IsCollection() {
		topic = b.colls
	}
	r := &kgo.Record{
		Topic: topic,
		Key:   []byte(e.Key()),
		Value: value,
		Headers: []kgo.RecordHeader{
			{Key: HeaderID, Value: []byte(e.ID)},
			{Key: HeaderType, Value: []byte(e.Type)},
			{Key: HeaderPosition, Value: []byte(strconv.FormatInt(e.Position, 10))},
		},
	}
	if e.TraceParent != "" {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderTraceParent, Value: []byte(e.TraceParent)})
	}
	return r, nil
}

// Publish produces one record per event, in order, and returns once the
// brokers acknowledged every one of them (or with the first failure; the
// caller then publishes the events again, and consumers may see some
// twice). It gives up when ctx ends or after Config.PublishTimeout.
func (b *Bus) Publish(ctx context.Context, events []eventbus.Event) error {
	if b.closed() {
		return ErrClosed
	}
	if len(events) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	if err := b.ensureTopics(ctx); err != nil {
		b.metrics.publishErrors.Inc()
		return err
	}
	recs := make([]*kgo.Record, 0, len(events))
	for _, e := range events {
		r, err := b.record(e)
		if err != nil {
			b.metrics.publishErrors.Inc()
			return err
		}
		recs = append(recs, r)
	}
	if err := b.client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.metrics.publishErrors.Inc()
		return fmt.Errorf("kafka bus: publish: %w", err)
	}
	for _, r := range recs {
		if r.Topic == b.colls {
			b.metrics.published.WithLabelValues(streamCollections).Inc()
		} else {
			b.metrics.published.WithLabelValues(streamDocuments).Inc()
		}
	}
	return nil
}

// Lag returns how many records of the two topics the consumer called name
// has not committed: per partition, the end offset minus the committed
// offset (or minus the start offset before its first commit), summed.
func (b *Bus) Lag(ctx context.Context, name string) (int64, error) {
	if err := eventbus.CheckConsumerName(name); err != nil {
		return 0, err
	}
	if b.closed() {
		return 0, ErrClosed
	}
	// Operators' views and metrics ask for the lag: they get an answer
	// (or Unavailable) in bounded time while the brokers are away.
	ctx, cancel := context.WithTimeout(ctx, b.cfg.AdminTimeout)
	defer cancel()
	lag, err := b.lag(ctx, name)
	if err != nil {
		return 0, fault.Wrap(fault.Unavailable, "kafka.Lag", fmt.Errorf("kafka bus: lag of %s: %w", name, err),
			"Kafka does not answer: the consumer's lag is unknown")
	}
	return lag, nil
}

func (b *Bus) lag(ctx context.Context, name string) (int64, error) {
	if err := b.ensureTopics(ctx); err != nil {
		return 0, err
	}
	committed, err := b.admin.FetchOffsets(ctx, b.Group(name))
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return 0, err
	}
	starts, err := b.admin.ListStartOffsets(ctx, b.docs, b.colls)
	if err != nil {
		return 0, err
	}
	ends, err := b.admin.ListEndOffsets(ctx, b.docs, b.colls)
	if err != nil {
		return 0, err
	}
	var lag int64
	var lerr error
	ends.Each(func(end kadm.ListedOffset) {
		if end.Err != nil {
			lerr = end.Err
			return
		}
		from := int64(0)
		if s, ok := starts.Lookup(end.Topic, end.Partition); ok && s.Err == nil {
			from = s.Offset
		}
		if c, ok := committed.Lookup(end.Topic, end.Partition); ok && c.Err == nil && c.At >= 0 {
			from = max(from, c.At)
		}
		lag += max(0, end.Offset-from)
	})
	return lag, lerr
}

// Close ends the Consume calls in progress (they return ErrClosed once
// their handler call finishes), then closes the producer. Publish, Consume
// and Lag fail with ErrClosed afterwards.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		b.closeMu.Lock()
		b.stop()
		b.closeMu.Unlock()
		b.consumers.Wait()
		b.client.Close()
	})
	return nil
}

// backoff returns the wait before attempt n (0-based): RetryMin doubled
// each time, at most RetryMax.
func (b *Bus) backoff(n int) time.Duration {
	d := b.cfg.RetryMin
	for range n {
		d *= 2
		if d >= b.cfg.RetryMax {
			return b.cfg.RetryMax
		}
	}
	return d
}

// wait waits d or until ctx ends; it reports whether d passed.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
