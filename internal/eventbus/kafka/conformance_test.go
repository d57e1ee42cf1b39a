package kafka_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/eventbus/eventbustest"
	"github.com/basaltdev/basalt/internal/eventbus/kafka"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/storage/postgres"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// engineStore is a storage engine as the suite's Append and the relay
// need it.
type engineStore interface {
	docstore.Store
	eventbus.Log
	eventbus.Cursors
}

func openSQLite(t *testing.T) engineStore {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db"), Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openPostgres(t *testing.T) engineStore {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Options{URL: pgtest.URL(t), MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// harness runs the suite on the Kafka bus over a fresh kfake cluster per
// case, with the events committed to and numbered by the given engine's
// event log, as the relay does.
func harness(name string, open func(t *testing.T) engineStore) eventbustest.Harness {
	return eventbustest.Harness{
		Name: name,
		New: func(t *testing.T) eventbustest.Env {
			cluster := newCluster(t)
			store := open(t)
			return eventbustest.Env{
				Open: func(t *testing.T) eventbus.Bus {
					b, err := kafka.New(kafka.Config{Brokers: cluster.ListenAddrs(), Partitions: 3})
					if err != nil {
						t.Fatal(err)
					}
					return b
				},
				Append: eventbustest.LogAppend(store, store),
			}
		},
	}
}

func TestConformance(t *testing.T) {
	eventbustest.Run(t, harness("kafka-sqlite", openSQLite))
	eventbustest.Run(t, harness("kafka-postgres", openPostgres))
}
