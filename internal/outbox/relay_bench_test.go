package outbox_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/eventbus/kafka"
	"github.com/basaltdev/basalt/internal/eventbus/memory"
	"github.com/basaltdev/basalt/internal/outbox"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// benchEvents is the number of events each iteration of BenchmarkRelay
// commits (untimed) and the relay then publishes (timed).
const benchEvents = 2000

// BenchmarkRelay measures the relay's throughput in events per second from
// an SQLite event log to the in-process bus and to Kafka (a kfake cluster
// in this process): each iteration commits benchEvents document events in
// transactions of 100 with the clock stopped, then wakes the relay and
// times it until its cursor reaches the newest event.
func BenchmarkRelay(b *testing.B) {
	b.Run("bus=memory", func(b *testing.B) {
		benchRelay(b, func(b *testing.B, st engine) (eventbus.Bus, bool) {
			bus, err := memory.New(memory.Config{Log: st, Cursors: st})
			if err != nil {
				b.Fatal(err)
			}
			return bus, true
		})
	})
	b.Run("bus=kafka", func(b *testing.B) {
		benchRelay(b, func(b *testing.B, _ engine) (eventbus.Bus, bool) {
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(cluster.Close)
			bus, err := kafka.New(kafka.Config{Brokers: cluster.ListenAddrs(), Partitions: 3})
			if err != nil {
				b.Fatal(err)
			}
			return bus, false
		})
	})
}

func benchRelay(b *testing.B, newBus func(b *testing.B, st engine) (eventbus.Bus, bool)) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(b.TempDir(), "basalt.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	bus, local := newBus(b, st)
	b.Cleanup(func() { _ = bus.Close() })
	relay, err := outbox.New(outbox.Config{Log: st, Cursors: st, Bus: bus, WaitForConsumers: local})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- relay.Run(runCtx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})

	payload, err := json.Marshal(map[string]any{"id": "d", "collection": "bench", "version": 1,
		"data": map[string]any{"title": "a bench document", "score": 42, "tags": []string{"rock", "lava"}}})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		for t := 0; t < benchEvents; t += 100 {
			err := st.Write(ctx, func(tx docstore.Tx) error {
				for j := range 100 {
					id := "d" + strconv.Itoa(i*benchEvents+t+j)
					if err := tx.AppendOutbox(ctx, eventbus.Event{ID: uuid.Must(uuid.NewV7()).String(), Type: eventbus.DocumentCreated,
						Collection: "bench", DocumentID: id, Version: 1, Time: now, Payload: payload}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		if _, err := st.Sequence(ctx, benchEvents); err != nil {
			b.Fatal(err)
		}
		_, newest, err := st.LogBounds(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		relay.Wake()
		waitRelayed(b, st, newest)
	}
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N*benchEvents)/s, "events/s")
	}
}

// waitRelayed waits until the relay's cursor reaches pos, for at most a
// minute.
func waitRelayed(b *testing.B, cursors eventbus.Cursors, pos int64) {
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		at, _, err := cursors.Cursor(context.Background(), eventbus.RelayName)
		if err != nil {
			b.Fatal(err)
		}
		if at >= pos {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the relay's cursor is at %d after a minute, want %d", at, pos)
		}
		<-tick.C
	}
}
