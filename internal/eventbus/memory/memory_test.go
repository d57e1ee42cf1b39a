package memory_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/eventbus/eventbustest"
	"github.com/basaltdev/basalt/internal/eventbus/memory"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/storage/postgres"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// On SQLite (one process), every bus of a case shares the News signal, and
// the poll interval is long: consumers must be woken by Publish and News,
// or the suite's waits time out.
func TestConformanceSQLite(t *testing.T) {
	eventbustest.Run(t, eventbustest.Harness{
		Name: "memory-sqlite",
		New: func(t *testing.T) eventbustest.Env {
			store, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db"), Synchronous: "normal"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = store.Close() })
			news := &eventbus.Signal{}
			return eventbustest.Env{
				Open: func(t *testing.T) eventbus.Bus {
					return newBus(t, memory.Config{Log: store, Cursors: store, News: news, PollInterval: time.Minute})
				},
				Append: eventbustest.LogAppend(store, store),
			}
		},
	})
}

// On PostgreSQL, each bus stands for a process of its own: its own
// connection pool and no shared signal, so a bus learns of another's events
// by polling (in production the relay's LISTEN wakes it sooner).
func TestConformancePostgres(t *testing.T) {
	eventbustest.Run(t, eventbustest.Harness{
		Name: "memory-postgres",
		New: func(t *testing.T) eventbustest.Env {
			url := pgtest.URL(t)
			open := func(t *testing.T) *postgres.Store {
				store, err := postgres.Open(context.Background(), postgres.Options{URL: url})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = store.Close() })
				return store
			}
			writer := open(t)
			return eventbustest.Env{
				Open: func(t *testing.T) eventbus.Bus {
					store := open(t)
					return newBus(t, memory.Config{Log: store, Cursors: store, PollInterval: 20 * time.Millisecond})
				},
				Append: eventbustest.LogAppend(writer, writer),
			}
		},
	})
}

func newBus(t *testing.T, cfg memory.Config) *memory.Bus {
	t.Helper()
	cfg.RetryBackoff = 5 * time.Millisecond
	cfg.MaxRetryBackoff = 50 * time.Millisecond
	cfg.BatchSize = 16
	bus, err := memory.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return bus
}
