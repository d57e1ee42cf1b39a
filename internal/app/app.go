// Package app is Basalt's composition root: it turns a Config into running
// components (storage, services, transports, listeners), starts them in
// dependency order and stops them in reverse. It is the only package that
// imports storage engines and transports.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
	"github.com/basaltdev/basalt/internal/storage/timing"
	"github.com/basaltdev/basalt/internal/telemetry"
)

// Run runs the Basalt server until ctx ends, then drains in-flight
// requests and closes the database.
func Run(ctx context.Context, cfg Config) error {
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	reg := telemetry.NewRegistry()

	raw, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := raw.Close(); cerr != nil {
			log.Error("closing the database failed", "err", cerr)
		}
	}()
	store, err := timing.New(raw, "sqlite", reg, telemetry.LatencyBuckets)
	if err != nil {
		return err
	}
	key, err := loadOrCreateKey(filepath.Join(cfg.DataDir, "cursor.key"))
	if err != nil {
		return err
	}
	svc, err := docstore.NewService(store, docstore.Options{Logger: log, CursorKey: key})
	if err != nil {
		return err
	}

	api := restapi.New(svc, restapi.Options{Logger: log, MaxBodyBytes: cfg.MaxBodyBytes})
	mux := http.NewServeMux()
	var srv *gateway.Server
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ready(w, r, srv, store)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	api.Register(mux)
	mux.Handle("/", restapi.NotFoundHandler())
	mw, err := gateway.NewMiddleware(log, reg, telemetry.LatencyBuckets, func(w http.ResponseWriter, r *http.Request) {
		restapi.WriteProblem(w, r, fault.Internalf("gateway", errors.New("handler panicked")))
	})
	if err != nil {
		return err
	}
	srv = gateway.NewServer(gateway.Config{Addr: cfg.Addr, DrainTimeout: cfg.DrainTimeout}, mw.Wrap(mux), log)
	addr, err := srv.Listen()
	if err != nil {
		return err
	}
	log.Info("basalt is serving", "addr", addr.String(), "data_dir", cfg.DataDir, "version", cfg.Version,
		"sqlite_synchronous", cfg.SQLiteSynchronous)
	if cfg.Ready != nil {
		cfg.Ready(addr.String())
	}
	return runAll(ctx, log, srv.Run, svc.Run)
}

// runAll runs components until ctx ends or one of them fails; then it
// cancels the others and waits for all of them.
func runAll(ctx context.Context, log *slog.Logger, runs ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for _, run := range runs {
		wg.Go(func() {
			if err := run(ctx); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				log.Error("component failed", "err", err)
			}
			cancel()
		})
	}
	wg.Wait()
	return first
}

func ready(w http.ResponseWriter, r *http.Request, srv *gateway.Server, store docstore.Store) {
	w.Header().Set("Content-Type", "application/json")
	if srv != nil && srv.Draining() {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"draining"}` + "\n"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := store.Ping(ctx); err != nil {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"database unavailable"}` + "\n"))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
}

func newLogger(cfg Config) (*slog.Logger, error) {
	out := cfg.Logs
	if out == nil {
		out = os.Stderr
	}
	return telemetry.NewLogger(out, cfg.LogLevel)
}

// openStore opens (and migrates) the configured database.
func openStore(ctx context.Context, cfg Config, log *slog.Logger) (*sqlite.Store, error) {
	if cfg.DB != "" {
		return nil, fmt.Errorf("--db %q: only the embedded SQLite database is available in this version; leave --db empty", cfg.DB)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return sqlite.Open(ctx, sqlite.Options{
		Path:        filepath.Join(cfg.DataDir, "basalt.db"),
		Synchronous: cfg.SQLiteSynchronous,
		Logger:      log,
	})
}

// Migrate opens the database, applies pending migrations and closes it.
func Migrate(ctx context.Context, cfg Config) error {
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	s, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	log.Info("database is migrated", "data_dir", cfg.DataDir)
	return s.Close()
}

// loadOrCreateKey returns the 32-byte secret stored at path, creating it on
// first start.
func loadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("%s: key is shorter than 32 bytes", path)
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadOrCreateKey(path)
		}
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	if _, err := f.Write(key); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return key, f.Close()
}
