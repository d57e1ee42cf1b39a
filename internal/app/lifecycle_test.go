package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/gateway"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
)

// events records what happened, in order.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, s)
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.list)
}

func listening(t *testing.T) *gateway.Server {
	t.Helper()
	srv := gateway.NewServer(gateway.Config{Addr: "127.0.0.1:0"}, http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if _, err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestServeStopsComponentsInOrder: when ctx ends, the components keep
// running until the listener has drained, then stop one at a time in the
// order given, each flushed before its context ends.
func TestServeStopsComponentsInOrder(t *testing.T) {
	srv := listening(t)
	var ev events
	waitThen := func(name string) func(context.Context) error {
		return func(ctx context.Context) error {
			<-ctx.Done()
			if !srv.Draining() {
				ev.add(name + " stopped before the drain")
			}
			ev.add(name + " stopped")
			return nil
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := serve(ctx, slog.New(slog.DiscardHandler), srv, nil, []component{
		{name: "a", run: waitThen("a")},
		{name: "b", run: waitThen("b"), flush: func(context.Context) error { ev.add("b flushed"); return nil }},
		{name: "c", run: waitThen("c")},
	})
	if err != nil {
		t.Fatalf("serve = %v", err)
	}
	if got, want := ev.all(), []string{"a stopped", "b flushed", "b stopped", "c stopped"}; !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

// TestServeStopsWhenAComponentFails: a component that fails stops the
// listener and the other components, and its error is serve's.
func TestServeStopsWhenAComponentFails(t *testing.T) {
	srv := listening(t)
	broken := errors.New("broken")
	var ev events
	err := serve(t.Context(), slog.New(slog.DiscardHandler), srv, nil, []component{
		{name: "ok", run: func(ctx context.Context) error { <-ctx.Done(); ev.add("ok stopped"); return nil }},
		{name: "bad", run: func(context.Context) error { return broken }},
	})
	if !errors.Is(err, broken) || !strings.Contains(err.Error(), "bad") {
		t.Fatalf("serve = %v, want the failure of bad", err)
	}
	if ExitCode(err) != ExitFailure {
		t.Errorf("exit code %d, want %d", ExitCode(err), ExitFailure)
	}
	if got := ev.all(); !slices.Equal(got, []string{"ok stopped"}) {
		t.Fatalf("events %q", got)
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("x"), 1},
		{errors.Join(errors.New("http server"), gateway.ErrDrainTimeout), 3},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestDataDirLock: a second lock of one directory is refused, naming the
// directory and the holder's process ID; released, it can be taken again.
func TestDataDirLock(t *testing.T) {
	dir := t.TempDir()
	first, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockDataDir(dir)
	if err == nil {
		t.Fatal("a second lock of the data directory was granted")
	}
	for _, want := range []string{dir, "another Basalt process", "pid " + strconv.Itoa(os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := first.release(); err != nil {
		t.Fatal(err)
	}
	again, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	if err := again.release(); err != nil {
		t.Fatal(err)
	}
}

// TestReadinessNamesWhatIsNotReady: /readyz answers 503 and names the
// account service until it has started, 200 once it has, and names the
// database when that stops answering.
func TestReadinessNamesWhatIsNotReady(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Auth.PasswordMemoryKiB, cfg.Auth.PasswordIterations = 8192, 1
	log := slog.New(slog.DiscardHandler)
	db, err := openStore(t.Context(), cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	acc, hasher, err := accountService(t.Context(), cfg, db, log, nil, nil, discardMail{}, memory.New(time.Now, 1000), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeHasher(hasher, log) })
	rd := &readiness{}
	rd.add("database", databaseReady(db.Store))
	rd.add("accounts", func(context.Context) error { return acc.Ready() })
	check := func(wantCode int, wantStatus string, wantChecks map[string]string) {
		t.Helper()
		w := httptest.NewRecorder()
		rd.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
		var body struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", w.Body, err)
		}
		if w.Code != wantCode || body.Status != wantStatus || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("answer %d %s %q, want %d %s", w.Code, w.Header().Get("Content-Type"), w.Body, wantCode, wantStatus)
		}
		if (wantCode == 503) != (w.Header().Get("Retry-After") != "") {
			t.Errorf("Retry-After %q with %d", w.Header().Get("Retry-After"), w.Code)
		}
		for k, v := range wantChecks {
			if !strings.Contains(body.Checks[k], v) {
				t.Errorf("check %s = %q, want it to say %q (%q)", k, body.Checks[k], v, w.Body)
			}
		}
	}
	check(503, "not ready", map[string]string{"database": "ok", "accounts": "signing keys are not loaded"})
	if err := acc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	check(200, "ready", map[string]string{"database": "ok", "accounts": "ok"})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	check(503, "not ready", map[string]string{"database": "unavailable", "accounts": "ok"})
}

// TestStorageAttrs: the start-up log names the engine and only that
// engine's settings, never the database password.
func TestStorageAttrs(t *testing.T) {
	cfg := DefaultConfig()
	attrs := func(c Config) map[string]any {
		a := storageAttrs(c)
		m := map[string]any{}
		for i := 0; i+1 < len(a); i += 2 {
			m[a[i].(string)] = a[i+1]
		}
		return m
	}
	got := attrs(cfg)
	if got["engine"] != "sqlite" || got["data_dir"] != cfg.DataDir || got["sqlite_synchronous"] != "full" || got["db_host"] != nil {
		t.Errorf("sqlite: %v", got)
	}
	cfg.DB = "postgres://basalt:s3cret@db.internal:5433/prod?sslmode=require"
	got = attrs(cfg)
	if got["engine"] != "postgres" || got["db_host"] != "db.internal:5433" || got["db_name"] != "prod" ||
		got["db_max_conns"] != cfg.DBMaxConns || got["data_dir"] != nil || got["sqlite_synchronous"] != nil {
		t.Errorf("postgres: %v", got)
	}
	for _, v := range got {
		if s, ok := v.(string); ok && strings.Contains(s, "s3cret") {
			t.Errorf("postgres attributes hold the password: %v", got)
		}
	}
}
