package load

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The storage engines Basalt can be measured on (the -db flag).
const (
	DBSQLite   = "sqlite"
	DBPostgres = "postgres"
)

// DefaultPGURL is the PostgreSQL admin database the bench connects to in
// postgres mode to create and drop its own databases.
const DefaultPGURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// DBPrefix begins the name of every database the bench creates; DropDatabase
// refuses any other name.
const DBPrefix = "basalt_bench_"

var benchDBName = regexp.MustCompile(`^` + DBPrefix + `[a-z0-9_]{1,40}$`)

// DefaultThresholdsFor are the least ratios to hello (to get, for
// get-auth: see BaselineOf) that Basalt's acceptance criteria require on
// the engine db (DBSQLite or DBPostgres): PostgreSQL adds a network round
// trip to every query, so its ratios to hello are lower.
func DefaultThresholdsFor(db string) map[string]float64 {
	if db == DBPostgres {
		return map[string]float64{ScenarioGet: 0.12, ScenarioGetAuth: 0.90, ScenarioList: 0.06,
			ScenarioListTotal: 0.001, ScenarioListTotal1M: 0.001, ScenarioCreate: 0.08}
	}
	return DefaultThresholds()
}

// NewDatabaseName returns DBPrefix, then kind and "_" when kind is not
// empty, then 16 random hex digits: a name that needs no quoting and is
// unlikely to exist.
func NewDatabaseName(kind string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("load: random database name: %w", err)
	}
	name := DBPrefix
	if kind != "" {
		name += kind + "_"
	}
	name += hex.EncodeToString(b[:])
	if !benchDBName.MatchString(name) {
		return "", fmt.Errorf("load: invalid database name %q", name)
	}
	return name, nil
}

// DatabaseURL returns adminURL (a postgres:// URL) with its database
// replaced by name; query parameters such as sslmode are kept.
func DatabaseURL(adminURL, name string) (string, error) {
	u, err := parsePGURL(adminURL)
	if err != nil {
		return "", err
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String(), nil
}

// RedactURL hides the password of a URL for reports and logs.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func parsePGURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("load: PostgreSQL URL: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("load: PostgreSQL URL %q: want postgres://…", RedactURL(s))
	}
	return u, nil
}

// PGAdmin creates and drops the bench's databases through short-lived
// connections to an admin database.
type PGAdmin struct {
	// URL is a postgres:// URL of an existing database (DefaultPGURL).
	URL string
}

// connect opens a connection to the admin database.
func (a PGAdmin) connect(ctx context.Context) (*pgx.Conn, error) {
	if _, err := parsePGURL(a.URL); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, a.URL)
	if err != nil {
		return nil, fmt.Errorf("load: connect to PostgreSQL %s: %w", RedactURL(a.URL), err)
	}
	return conn, nil
}

// exec runs one statement on a fresh admin connection.
func (a PGAdmin) exec(ctx context.Context, sql string) (err error) {
	conn, err := a.connect(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, conn.Close(context.WithoutCancel(ctx))) }()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("load: %s: %w", sql, err)
	}
	return nil
}

// ServerVersion returns PostgreSQL's server_version, e.g. "15.20 (Debian …)".
func (a PGAdmin) ServerVersion(ctx context.Context) (v string, err error) {
	conn, err := a.connect(ctx)
	if err != nil {
		return "", err
	}
	defer func() { err = errors.Join(err, conn.Close(context.WithoutCancel(ctx))) }()
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "", fmt.Errorf("load: PostgreSQL server version: %w", err)
	}
	return v, nil
}

// CreateDatabase creates the database name (see NewDatabaseName).
func (a PGAdmin) CreateDatabase(ctx context.Context, name string) error {
	if !benchDBName.MatchString(name) {
		return fmt.Errorf("load: refusing to create database %q: not a bench database name", name)
	}
	return a.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

// DropDatabase drops the database name if it exists, closing any connection
// still open to it. It only drops names made by NewDatabaseName, and runs
// even when ctx is already cancelled (it is cleanup after Ctrl-C too).
func (a PGAdmin) DropDatabase(ctx context.Context, name string) error {
	if !benchDBName.MatchString(name) {
		return fmt.Errorf("load: refusing to drop database %q: not a bench database name", name)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return a.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// DatabaseExists reports whether the database name exists.
func (a PGAdmin) DatabaseExists(ctx context.Context, name string) (ok bool, err error) {
	conn, err := a.connect(ctx)
	if err != nil {
		return false, err
	}
	defer func() { err = errors.Join(err, conn.Close(context.WithoutCancel(ctx))) }()
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
		return false, fmt.Errorf("load: look up database %s: %w", name, err)
	}
	return ok, nil
}

// PGBenchConfig shapes the pgbench -S measurement of PostgreSQL itself.
type PGBenchConfig struct {
	// Path is the pgbench binary; "" looks it up (FindPGBench), "off" skips
	// the measurement.
	Path string
	// Scale is pgbench -i -s; Clients, Threads and Duration are -c, -j, -T.
	Scale, Clients, Threads int
	Duration                time.Duration
}

// DefaultPGBenchConfig is pgbench -i -s 10, then pgbench -S -c 8 -j 2 -T 10.
func DefaultPGBenchConfig() PGBenchConfig {
	return PGBenchConfig{Scale: 10, Clients: 8, Threads: 2, Duration: 10 * time.Second}
}

// PGBenchOff is the PGBenchConfig.Path that skips the measurement.
const PGBenchOff = "off"

// Args returns the arguments of the measured (select-only) pgbench run.
func (c PGBenchConfig) Args() []string {
	return []string{"-S", "-c", strconv.Itoa(c.Clients), "-j", strconv.Itoa(c.Threads),
		"-T", strconv.Itoa(int(c.Duration.Round(time.Second) / time.Second))}
}

// PGBenchResult is PostgreSQL's own select-only throughput, measured with
// pgbench -S on a scratch database on the same machine.
type PGBenchResult struct {
	// Command is the measured pgbench invocation, without the database.
	Command string `json:"command,omitempty"`
	// Scale is the pgbench -i -s scale factor (100,000 accounts each).
	Scale int `json:"scale,omitempty"`
	// TPS is "tps = … (without initial connection time)".
	TPS float64 `json:"tps,omitempty"`
	// Transactions and Failed are the processed and failed transactions.
	Transactions int64 `json:"transactions,omitempty"`
	Failed       int64 `json:"failed,omitempty"`
	// LatencyMs is pgbench's "latency average" in milliseconds.
	LatencyMs float64 `json:"latencyMs,omitempty"`
	// GetRatio is Basalt's get-by-id rate over TPS; 0 when unknown.
	GetRatio float64 `json:"getRatio,omitempty"`
	// Skipped says why pgbench did not run (not installed, disabled).
	Skipped string `json:"skipped,omitempty"`
	// Err is the error that ended the measurement.
	Err string `json:"error,omitempty"`
}

// ParsePGBenchOutput reads pgbench's summary: the tps line without initial
// connection time (PostgreSQL 14+) or excluding connections establishing
// (up to 13), and when present the processed and failed transactions and
// the average latency.
func ParsePGBenchOutput(out []byte) (PGBenchResult, error) {
	var r PGBenchResult
	found := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			k, v, ok = strings.Cut(line, ":")
		}
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "tps":
			num, rest, _ := strings.Cut(v, " ")
			if rest != "(without initial connection time)" && rest != "(excluding connections establishing)" {
				continue
			}
			tps, err := strconv.ParseFloat(num, 64)
			if err != nil || tps <= 0 {
				return r, fmt.Errorf("load: pgbench: bad tps line %q", line)
			}
			r.TPS, found = tps, true
		case "number of transactions actually processed":
			num, _, _ := strings.Cut(v, "/") // "1234" or "1234/1000" with -t
			r.Transactions, _ = strconv.ParseInt(num, 10, 64)
		case "number of failed transactions":
			num, _, _ := strings.Cut(v, " ")
			r.Failed, _ = strconv.ParseInt(num, 10, 64)
		case "latency average":
			if num, ok := strings.CutSuffix(v, " ms"); ok {
				r.LatencyMs, _ = strconv.ParseFloat(num, 64)
			}
		}
	}
	if !found {
		return r, errors.New("load: pgbench printed no \"tps = … (without initial connection time)\" line")
	}
	return r, nil
}

// FindPGBench returns the pgbench on PATH or, failing that, the newest in
// /usr/lib/postgresql/*/bin; "" when there is none.
func FindPGBench() string {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	slices.SortFunc(found, func(a, b string) int { return pgDirVersion(a) - pgDirVersion(b) })
	for i := len(found) - 1; i >= 0; i-- {
		if p, err := exec.LookPath(found[i]); err == nil {
			return p
		}
	}
	return ""
}

// pgDirVersion is the major version in /usr/lib/postgresql/VERSION/bin/pgbench.
func pgDirVersion(p string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return v
}

// RunPGBench measures PostgreSQL's own select-only throughput: it creates a
// scratch database, initializes it with pgbench -i, runs pgbench -S against
// it and drops it again. Failures are reported in the result, not returned.
func RunPGBench(ctx context.Context, admin PGAdmin, cfg PGBenchConfig, logf func(string, ...any)) (res PGBenchResult) {
	res.Scale = cfg.Scale
	res.Command = "pgbench " + strings.Join(cfg.Args(), " ")
	path := cfg.Path
	switch path {
	case PGBenchOff:
		res.Skipped = "disabled with -pgbench off"
		return res
	case "":
		if path = FindPGBench(); path == "" {
			res.Skipped = "pgbench is not installed (not on PATH nor in /usr/lib/postgresql/*/bin)"
			return res
		}
	}
	name, err := NewDatabaseName("pgbench")
	if err != nil {
		res.Err = err.Error()
		return res
	}
	dbURL, err := DatabaseURL(admin.URL, name)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	if err := admin.CreateDatabase(ctx, name); err != nil {
		res.Err = err.Error()
		return res
	}
	logf("pgbench: scratch database %s", name)
	defer func() {
		if err := admin.DropDatabase(ctx, name); err != nil {
			res.Err = strings.TrimPrefix(res.Err+"; ", "; ") + err.Error()
		} else {
			logf("pgbench: dropped %s", name)
		}
	}()
	run := func(timeout time.Duration, args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, path, append(args, dbURL)...)
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		if err != nil {
			return out, fmt.Errorf("load: %s %s: %w: %s", filepath.Base(path), strings.Join(args, " "), err, lastLines(out, 3))
		}
		return out, nil
	}
	start := time.Now()
	if _, err := run(2*time.Minute, "-i", "-q", "-s", strconv.Itoa(cfg.Scale)); err != nil {
		res.Err = err.Error()
		return res
	}
	logf("pgbench: initialized scale %d in %s; running %s", cfg.Scale, time.Since(start).Round(100*time.Millisecond), res.Command)
	out, err := run(cfg.Duration+time.Minute, cfg.Args()...)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	parsed, err := ParsePGBenchOutput(out)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	parsed.Command, parsed.Scale = res.Command, res.Scale
	logf("pgbench: %.0f tx/s, %d transactions, %d failed, latency average %.3f ms", parsed.TPS, parsed.Transactions, parsed.Failed, parsed.LatencyMs)
	return parsed
}

// lastLines returns the last n non-empty lines of out, joined by " / ".
func lastLines(out []byte, n int) string {
	var lines []string
	for l := range strings.Lines(string(out)) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(len(lines)-n, 0):], " / ")
}
