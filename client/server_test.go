package client_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/app"
)

// The admin account of the test servers.
const (
	adminEmail    = "admin@example.com"
	adminPassword = "a long admin password"
)

// startServer runs a Basalt (app.Run, SQLite in a temporary directory,
// rate limits off) with the admin account, until the test ends, and
// returns its base URL.
func startServer(t testing.TB, configure ...func(*app.Config)) string {
	t.Helper()
	base, stop, err := runServer(t.TempDir(), configure...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("app.Run: %v", err)
		}
	})
	return base
}

// runServer starts a Basalt on a random port of 127.0.0.1 with its data
// in dir; stop stops it.
func runServer(dir string, configure ...func(*app.Config)) (base string, stop func() error, err error) {
	cfg := app.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Logs = io.Discard
	// Its one client address stands for many users: the tests log in and
	// sign up faster than the hashing budget of one address allows.
	cfg.Auth.PasswordIPShare = 1
	cfg.Auth.PasswordMaxRate = 100_000
	cfg.RateLimits.Disabled = true
	for _, f := range configure {
		f(&cfg)
	}
	admin := cfg
	admin.Admin = app.AdminAccount{Email: adminEmail, Password: adminPassword}
	if err := app.CreateAdmin(context.Background(), admin); err != nil {
		return "", nil, err
	}
	addr := make(chan string, 1)
	cfg.Ready = func(a string) { addr <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg) }()
	stop = func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return context.DeadlineExceeded
		}
	}
	select {
	case a := <-addr:
		return "http://" + a, stop, nil
	case err := <-done:
		cancel()
		return "", nil, err
	case <-time.After(30 * time.Second):
		_ = stop()
		return "", nil, context.DeadlineExceeded
	}
}

// exampleServer starts a Basalt for the examples, with the admin account
// admin@example.com; stop stops it and removes its data.
func exampleServer() (base string, stop func()) {
	dir, err := os.MkdirTemp("", "basalt-client-example")
	if err != nil {
		panic(err)
	}
	base, stopServer, err := runServer(dir)
	if err != nil {
		panic(err)
	}
	return base, func() {
		_ = stopServer()
		_ = os.RemoveAll(dir)
	}
}
