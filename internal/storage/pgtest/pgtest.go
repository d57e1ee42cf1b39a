// Package pgtest gives tests real PostgreSQL databases.
//
// It uses, in order: the server named by BASALT_TEST_POSTGRES (a URL of a
// database the test may create databases from), the development and CI
// server on 127.0.0.1:5432 (trust auth, user postgres, database test), or a
// throwaway cluster it starts from the installed binaries (initdb and
// pg_ctl, on a free port under a temporary directory). Each call to URL
// creates a fresh, empty database that is dropped when the test ends.
//
// A test that asks for PostgreSQL and cannot get one fails; it never skips.
// Packages that use pgtest run their tests through Main so a throwaway
// cluster is stopped when the tests end:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
package pgtest

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
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable that points tests at a server.
const EnvURL = "BASALT_TEST_POSTGRES"

// DefaultURL is the server on development and CI machines.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// server is the PostgreSQL server of this test process; it is found or
// started once and shared by every test of the package.
type server struct {
	once    sync.Once
	admin   string // URL of a database to run CREATE/DROP DATABASE from
	err     error
	dataDir string // set when this process started a throwaway cluster
	pgCtl   string
	as      string // OS account that runs the cluster, when not this one
}

// Main runs the tests and stops a throwaway cluster started for them.
func Main(m *testing.M) int {
	s := &theServer
	code := m.Run()
	if s.dataDir != "" {
		out, err := command(s.as, s.pgCtl, "-D", s.dataDir, "-m", "immediate", "-w", "stop").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stopping the throwaway cluster: %v\n%s", err, out)
		}
		_ = os.RemoveAll(filepath.Dir(s.dataDir))
	}
	return code
}

// theServer is per test binary: tests of one package share one server, the
// way they share one process. It is the only package-level state here, and
// it exists only in test binaries.
var theServer server

// URL returns the URL of a new, empty database, dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	s := &theServer
	s.once.Do(s.find)
	if s.err != nil {
		t.Fatalf("pgtest: no PostgreSQL for this test: %v", s.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.admin)
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", redact(s.admin), err)
	}
	defer conn.Close(context.Background())
	name := "basalt_t_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: CREATE DATABASE: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, s.admin)
		if err != nil {
			t.Errorf("pgtest: dropping %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: DROP DATABASE %s: %v", name, err)
		}
	})
	u, err := url.Parse(s.admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func (s *server) find() {
	candidates := []string{}
	if v := os.Getenv(EnvURL); v != "" {
		candidates = append(candidates, v)
	} else {
		candidates = append(candidates, DefaultURL)
	}
	var errs []error
	for _, u := range candidates {
		if err := ping(u); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", redact(u), err))
			continue
		}
		s.admin = u
		return
	}
	if os.Getenv(EnvURL) != "" {
		s.err = errors.Join(errs...) // an explicit server must work
		return
	}
	if err := s.startCluster(); err != nil {
		s.err = errors.Join(append(errs, fmt.Errorf("starting a throwaway cluster: %w", err))...)
	}
}

func ping(u string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// startCluster starts the throwaway cluster shared by this process's tests.
func (s *server) startCluster() error {
	c, err := newCluster()
	if err != nil {
		return err
	}
	s.dataDir, s.pgCtl, s.as, s.admin = c.dataDir, c.pgCtl, c.as, c.admin
	return nil
}

// Cluster is a PostgreSQL cluster of one test's own, which the test may
// stop and start (to test what Basalt does when its database goes away).
type Cluster struct {
	root, dataDir, pgCtl, as, opts string
	admin                          string
}

// StartCluster starts a new cluster from the installed binaries on a free
// port. It is stopped and removed when t ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := newCluster()
	if err != nil {
		t.Fatalf("pgtest: starting a cluster: %v", err)
	}
	t.Cleanup(func() {
		_ = command(c.as, c.pgCtl, "-D", c.dataDir, "-m", "immediate", "-w", "stop").Run()
		_ = os.RemoveAll(c.root)
	})
	return c
}

// AdminURL is the URL of the cluster's postgres database.
func (c *Cluster) AdminURL() string { return c.admin }

// Stop stops the cluster at once (pg_ctl -m immediate: no checkpoint, like
// a crash; connections are cut).
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	if out, err := command(c.as, c.pgCtl, "-D", c.dataDir, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// Start starts the cluster again after Stop, on the same port.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
}

func (c *Cluster) start() error {
	if out, err := command(c.as, c.pgCtl, "-D", c.dataDir, "-o", c.opts, "-l", filepath.Join(c.root, "log"), "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl start: %w\n%s", err, out)
	}
	return nil
}

// newCluster runs initdb and pg_ctl from the installed PostgreSQL.
func newCluster() (*Cluster, error) {
	initdb, err := findBinary("initdb")
	if err != nil {
		return nil, err
	}
	pgCtl, err := findBinary("pg_ctl")
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "basalt-pgtest-")
	if err != nil {
		return nil, err
	}
	// PostgreSQL refuses to run as root; as root, run it as the postgres
	// account the Debian package creates.
	as, err := runAs(root)
	if err != nil {
		return nil, err
	}
	c := &Cluster{root: root, dataDir: filepath.Join(root, "data"), pgCtl: pgCtl, as: as}
	if out, err := command(as, initdb, "-D", c.dataDir, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c.opts = fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", port, root)
	if err := c.start(); err != nil {
		return nil, err
	}
	c.admin = "postgres://postgres@127.0.0.1:" + strconv.Itoa(port) + "/postgres?sslmode=disable"
	return c, ping(c.admin)
}

// runAs returns the account to run PostgreSQL as ("" for this process's
// own) and hands dir to it.
func runAs(dir string) (string, error) {
	if os.Geteuid() != 0 {
		return "", nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return "", fmt.Errorf("running as root and there is no postgres account to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return "", err
	}
	return "postgres", nil
}

// command runs name as the account as (through runuser) or as this process.
func command(as, name string, args ...string) *exec.Cmd {
	if as == "" {
		return exec.Command(name, args...)
	}
	return exec.Command("runuser", append([]string{"-u", as, "--", name}, args...)...)
}

// findBinary looks in PATH, then in Debian's versioned directories
// (newest version first).
func findBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	sort.Sort(sort.Reverse(sort.StringSlice(matches)))
	if len(matches) > 0 {
		return matches[0], nil
	}
	return "", fmt.Errorf("%s not found: install PostgreSQL (apt-get install postgresql)", name)
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

// TerminateAdvisoryLockHolder ends the session that holds the session
// advisory lock hashtextextended(key, 0), as a dropped connection or a
// server restart would; it fails the test when no session holds it.
func TerminateAdvisoryLockHolder(t testing.TB, url, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var ok bool
	err = conn.QueryRow(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)`, key).Scan(&ok)
	if err != nil || !ok {
		t.Fatalf("terminating the session holding the lock %q: %v, %v", key, ok, err)
	}
}
