package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/basaltdev/basalt/internal/eventbus"
)

// Consume delivers events to h as the consumer group <prefix><name> over
// both topics, until ctx ends (it then returns nil) or the bus is closed
// (ErrClosed). A new group starts at the oldest records the brokers keep.
//
// Each handler call gets the records of one poll, at most MaxBatch, each
// partition's in offset order: one document's events are in the order
// they were published. The batch's offsets are committed only after h
// returned nil. After an error, Consume moves its fetch positions back to
// the batch's first records and delivers them again after a backoff; a
// rebalance in between gives them to the next owner from the last commit.
// Rebalances wait while a batch is being handled, so two processes never
// handle one partition's records at once.
func (b *Bus) Consume(ctx context.Context, name string, h eventbus.Handler) error {
	if err := eventbus.CheckConsumerName(name); err != nil {
		return err
	}
	if !b.addConsumer() {
		return ErrClosed
	}
	defer b.consumers.Done()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopOnClose := context.AfterFunc(b.life, cancel)
	defer stopOnClose()
	ended := func() error {
		if ctx.Err() != nil {
			return nil
		}
		return ErrClosed
	}

	log := b.cfg.Logger.With("consumer", name)
	for attempt := 0; ; attempt++ {
		err := b.ensureTopics(cctx)
		if err == nil {
			break
		}
		if cctx.Err() != nil {
			return ended()
		}
		b.metrics.consumeErrors.WithLabelValues(reasonConnect).Inc()
		log.Warn("kafka bus: consumer cannot reach the brokers yet", "err", err)
		if !wait(cctx, b.backoff(attempt)) {
			return ended()
		}
	}

	cl, err := kgo.NewClient(b.clientOpts(
		kgo.ConsumerGroup(b.Group(name)),
		kgo.ConsumeTopics(b.docs, b.colls),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		// A member that died (kill -9, a lost machine) keeps its
		// partitions until its session times out: 10 s rather than
		// Kafka's 45 s default, so a restarted process or another member
		// takes them over soon. Heartbeats go every 3 s.
		kgo.SessionTimeout(10*time.Second),
		kgo.FetchMaxWait(time.Second),
	)...)
	if err != nil {
		return err
	}
	defer func() {
		cl.AllowRebalance()
		// Leave the group (so its partitions move to another member at
		// once), but do not hang on brokers that are gone.
		lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = cl.LeaveGroupContext(lctx)
		lcancel()
		cl.Close()
	}()

	failures := 0
	for {
		fetches := cl.PollRecords(cctx, b.cfg.MaxBatch)
		if cctx.Err() != nil {
			return ended()
		}
		if fetches.IsClientClosed() {
			return ErrClosed
		}
		fetchFailed := false
		fetches.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			fetchFailed = true
			b.metrics.consumeErrors.WithLabelValues(reasonFetch).Inc()
			log.Warn("kafka bus: fetch failed", "topic", topic, "partition", partition, "err", err)
		})
		recs := fetches.Records()
		if len(recs) == 0 {
			cl.AllowRebalance()
			if fetchFailed && !wait(cctx, b.backoff(0)) {
				return ended()
			}
			continue
		}
		events := b.decode(log, recs)
		if len(events) > 0 {
			if err := h(cctx, events); err != nil {
				b.metrics.consumeErrors.WithLabelValues(reasonHandler).Inc()
				log.Warn("kafka bus: handler failed; the batch will be delivered again", "events", len(events), "err", err)
				rewind(cl, recs)
				cl.AllowRebalance()
				if !wait(cctx, b.backoff(failures)) {
					return ended()
				}
				failures++
				continue
			}
		}
		failures = 0
		// The batch is handled: commit it even when ctx just ended.
		commitCtx, commitCancel := context.WithTimeout(context.WithoutCancel(cctx), 10*time.Second)
		if err := cl.CommitRecords(commitCtx, recs...); err != nil {
			// The next commit covers these records too; until then a
			// rebalance or restart delivers them again (at least once).
			b.metrics.consumeErrors.WithLabelValues(reasonCommit).Inc()
			log.Warn("kafka bus: commit failed; the batch may be delivered again", "err", err)
		}
		commitCancel()
		cl.AllowRebalance()
	}
}

// addConsumer counts a Consume call in, unless the bus is closed.
func (b *Bus) addConsumer() bool {
	b.closeMu.Lock()
	defer b.closeMu.Unlock()
	if b.closed() {
		return false
	}
	b.consumers.Add(1)
	return true
}

// decode turns records into events. A record that is not an event (another
// producer wrote to the topic) is logged, counted and skipped.
func (b *Bus) decode(log interface {
	Warn(string, ...any)
}, recs []*kgo.Record) []eventbus.Event {
	events := make([]eventbus.Event, 0, len(recs))
	for _, r := range recs {
		var e eventbus.Event
		if err := json.Unmarshal(r.Value, &e); err != nil || e.ID == "" || !e.Type.Valid() {
			b.metrics.consumeErrors.WithLabelValues(reasonDecode).Inc()
			log.Warn("kafka bus: skipping a record that is not a change event",
				"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
			continue
		}
		for _, h := range r.Headers {
			if h.Key == HeaderTraceParent {
				e.TraceParent = string(h.Value)
			}
		}
		events = append(events, e)
	}
	return events
}

// rewind moves the fetch position of every partition in recs back to its
// first record there, dropping what was fetched after it, so the next polls
// deliver those records again.
func rewind(cl *kgo.Client, recs []*kgo.Record) {
	to := map[string]map[int32]kgo.EpochOffset{}
	for _, r := range recs {
		parts := to[r.Topic]
		if parts == nil {
			parts = map[int32]kgo.EpochOffset{}
			to[r.Topic] = parts
		}
		if at, ok := parts[r.Partition]; !ok || r.Offset < at.Offset {
			parts[r.Partition] = kgo.EpochOffset{Epoch: -1, Offset: r.Offset}
		}
	}
	cl.SetOffsets(to)
}
