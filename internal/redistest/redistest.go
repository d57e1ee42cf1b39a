// Package redistest gives tests a real Redis server.
//
// It uses, in order: the server named by BASALT_TEST_REDIS (a redis:// or
// rediss:// URL), the development and CI server on 127.0.0.1:6379 when it
// answers PING, or a throwaway redis-server it starts on a free port in a
// temporary directory (no persistence). Tests of one package share that
// server and isolate themselves by key prefix: Prefix returns a prefix of
// the test's own, whose keys are deleted when the test ends.
//
// Tests that stop, restart or flush Redis use Start instead: a dedicated
// throwaway server that only the calling test sees.
//
// A test that asks for Redis and cannot get one fails; it never skips.
// Packages that use redistest run their tests through Main so a throwaway
// server is stopped when the tests end:
//
//	func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// EnvURL names the environment variable that points tests at a server.
const EnvURL = "BASALT_TEST_REDIS"

// DefaultURL is the server on development and CI machines.
const DefaultURL = "redis://127.0.0.1:6379/0"

// shared is the Redis server of this test process; it is found or started
// once and shared by every test of the package.
type shared struct {
	once sync.Once
	url  string
	err  error
	own  *Server // set when this process started a throwaway server
}

// theServer is per test binary: tests of one package share one server, the
// way they share one process. It is the only package-level state here, and
// it exists only in test binaries.
var theServer shared

// Main runs the tests and stops a throwaway server started for them.
func Main(m *testing.M) int {
	code := m.Run()
	if s := theServer.own; s != nil {
		s.kill()
		_ = os.RemoveAll(s.dir)
	}
	return code
}

// URL returns the URL of the shared server. Tests on it must keep to keys
// under their own Prefix and must not flush, stop or reconfigure it.
func URL(t testing.TB) string {
	t.Helper()
	s := &theServer
	s.once.Do(s.find)
	if s.err != nil {
		t.Fatalf("redistest: no Redis for this test: %v", s.err)
	}
	return s.url
}

// Prefix returns a key prefix no other test uses ("basalt:test:<random>:").
// Every key of the shared server under it is deleted when t ends.
func Prefix(t testing.TB) string {
	t.Helper()
	u := URL(t)
	prefix := "basalt:test:" + randomHex(8) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := deletePrefix(ctx, u, prefix); err != nil {
			t.Errorf("redistest: deleting the keys under %q: %v", prefix, err)
		}
	})
	return prefix
}

// Client returns a client of the server at u, closed when t ends.
func Client(t testing.TB, u string) rueidis.Client {
	t.Helper()
	c, err := newClient(u)
	if err != nil {
		t.Fatalf("redistest: connecting to %s: %v", redact(u), err)
	}
	t.Cleanup(c.Close)
	return c
}

// CachingClient returns a client of the server at u with client-side
// caching on (RESP3 CLIENT TRACKING), as a Basalt process makes it, closed
// when t ends. Each call is a process of its own: its own connections and
// its own local copies.
func CachingClient(t testing.TB, u string) rueidis.Client {
	t.Helper()
	opt, err := rueidis.ParseURL(u)
	if err != nil {
		t.Fatalf("redistest: %s: %v", redact(u), err)
	}
	opt.Dialer.Timeout = time.Second
	c, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatalf("redistest: connecting to %s: %v", redact(u), err)
	}
	t.Cleanup(c.Close)
	return c
}

// Keys returns the keys under prefix on the server at u.
func Keys(ctx context.Context, u, prefix string) ([]string, error) {
	c, err := newClient(u)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return scan(ctx, c, prefix)
}

func (s *shared) find() {
	if v := os.Getenv(EnvURL); v != "" {
		if err := ping(v); err != nil {
			s.err = fmt.Errorf("%s (from %s): %w", redact(v), EnvURL, err) // an explicit server must work
			return
		}
		s.url = v
		return
	}
	var errs []error
	if err := ping(DefaultURL); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", DefaultURL, err))
	} else {
		s.url = DefaultURL
		return
	}
	own, err := start()
	if err != nil {
		s.err = errors.Join(append(errs, fmt.Errorf("starting a throwaway redis-server: %w", err))...)
		return
	}
	s.own, s.url = own, own.URL()
}

// Server is a redis-server of one test's own, which the test may stop,
// restart or flush (to test what Basalt does when Redis goes away or loses
// its data).
type Server struct {
	dir  string
	bin  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd     // nil while stopped
	exited chan struct{} // closed when cmd has exited
}

// Start starts a throwaway redis-server on a free port of 127.0.0.1,
// without persistence. It is killed and its directory removed when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() {
		s.kill()
		_ = os.RemoveAll(s.dir)
	})
	return s
}

// URL is the server's redis:// URL (database 0).
func (s *Server) URL() string {
	return "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0"
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Stop kills the server at once, like a crash: connections are cut and,
// without persistence, its data is lost.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.kill()
}

// Restart starts the server again after Stop, on the same port, empty.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.kill()
	if err := s.run(); err != nil {
		t.Fatalf("redistest: restarting redis-server: %v", err)
	}
}

func start() (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found: install Redis (apt-get install redis-server): %w", err)
	}
	dir, err := os.MkdirTemp("", "basalt-redistest-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{dir: dir, bin: bin, port: port}
	if err := s.run(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) run() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	log, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--daemonize", "no", "--protected-mode", "yes")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := ping(s.URL())
		if err == nil {
			break
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redis-server exited before answering PING (%w):\n%s", waitErr, out)
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server on port %d does not answer PING: %w", s.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.cmd = cmd
	s.exited = exited
	return nil
}

func (s *Server) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd, s.exited = nil, nil
}

func newClient(u string) (rueidis.Client, error) {
	opt, err := rueidis.ParseURL(u)
	if err != nil {
		return nil, err
	}
	opt.ForceSingleClient = true
	opt.DisableCache = true
	opt.Dialer.Timeout = 2 * time.Second
	return rueidis.NewClient(opt)
}

func ping(u string) error {
	c, err := newClient(u)
	if err != nil {
		if c != nil {
			c.Close()
		}
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return c.Do(ctx, c.B().Ping().Build()).Error()
}

func scan(ctx context.Context, c rueidis.Client, prefix string) ([]string, error) {
	var keys []string
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(escapeGlob(prefix)+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			return nil, err
		}
		keys = append(keys, e.Elements...)
		cursor = e.Cursor
		if cursor == 0 {
			return keys, nil
		}
	}
}

func deletePrefix(ctx context.Context, u, prefix string) error {
	c, err := newClient(u)
	if err != nil {
		return err
	}
	defer c.Close()
	keys, err := scan(ctx, c, prefix)
	if err != nil {
		return err
	}
	for len(keys) > 0 {
		batch := keys[:min(len(keys), 500)]
		keys = keys[len(batch):]
		if err := c.Do(ctx, c.B().Unlink().Key(batch...).Build()).Error(); err != nil {
			return err
		}
	}
	return nil
}

// escapeGlob escapes the characters SCAN MATCH treats as a pattern.
func escapeGlob(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}
