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
