package load

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testPGURL is the admin database of the tests that need PostgreSQL
// ($BASALT_BENCH_PG_URL, else DefaultPGURL). They fail, not skip, when it
// is unreachable.
func testPGURL() string {
	if u := os.Getenv("BASALT_BENCH_PG_URL"); u != "" {
		return u
	}
	return DefaultPGURL
}

func parseFlags(t *testing.T, args ...string) Config {
	t.Helper()
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("basalt-bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return cfg
}

// listTotalThresholds are the default least ratios to hello of list-total
// and list-total-1m, per engine.
var listTotalThresholds = map[string][2]float64{DBSQLite: {0.01, 0.01}, DBPostgres: {0.001, 0.001}}

func TestFlagDefaultsPerMode(t *testing.T) {
	tests := []struct {
		args []string
		db   string
		want map[string]float64
	}{
		{nil, DBSQLite, map[string]float64{ScenarioGet: 0.25, ScenarioGetAuth: 0.9, ScenarioList: 0.11, ScenarioCreate: 0.14}},
		{[]string{"-db", "sqlite"}, DBSQLite, map[string]float64{ScenarioGet: 0.25, ScenarioGetAuth: 0.9, ScenarioList: 0.11, ScenarioCreate: 0.14}},
		{[]string{"-db", "postgres"}, DBPostgres, map[string]float64{ScenarioGet: 0.12, ScenarioGetAuth: 0.9, ScenarioList: 0.06, ScenarioCreate: 0.08}},
		// An explicit threshold wins whatever the flag order.
		{[]string{"-min-ratio-get", "0.2", "-db", "postgres"}, DBPostgres, map[string]float64{ScenarioGet: 0.2, ScenarioGetAuth: 0.9, ScenarioList: 0.06, ScenarioCreate: 0.08}},
		{[]string{"-db", "postgres", "-min-ratio-create", "0"}, DBPostgres, map[string]float64{ScenarioGet: 0.12, ScenarioGetAuth: 0.9, ScenarioList: 0.06, ScenarioCreate: 0}},
		{[]string{"-min-ratio-list", "0.5"}, DBSQLite, map[string]float64{ScenarioGet: 0.25, ScenarioGetAuth: 0.9, ScenarioList: 0.5, ScenarioCreate: 0.14}},
		{[]string{"-min-ratio-get-auth", "0.95", "-db", "postgres"}, DBPostgres, map[string]float64{ScenarioGet: 0.12, ScenarioGetAuth: 0.95, ScenarioList: 0.06, ScenarioCreate: 0.08}},
	}
	for _, tt := range tests {
		cfg := parseFlags(t, tt.args...)
		if cfg.DB != tt.db {
			t.Errorf("%q: db %q, want %q", tt.args, cfg.DB, tt.db)
		}
		// list-total's defaults, which no case here overrides.
		tt.want[ScenarioListTotal], tt.want[ScenarioListTotal1M] = listTotalThresholds[tt.db][0], listTotalThresholds[tt.db][1]
		if got := cfg.EffectiveThresholds(); !maps.Equal(got, tt.want) {
			t.Errorf("%q: thresholds %v, want %v", tt.args, got, tt.want)
		}
	}

	cfg := parseFlags(t)
	if cfg.PGURL != "postgres://postgres@127.0.0.1:5432/test?sslmode=disable" || cfg.PGBench != DefaultPGBenchConfig() {
		t.Errorf("defaults: pg-url %q, pgbench %+v", cfg.PGURL, cfg.PGBench)
	}
	if got := strings.Join(cfg.PGBench.Args(), " "); got != "-S -c 8 -j 2 -T 10" || cfg.PGBench.Scale != 10 {
		t.Errorf("pgbench args %q scale %d, want -S -c 8 -j 2 -T 10, scale 10", got, cfg.PGBench.Scale)
	}
	if DefaultThresholdsFor(DBPostgres)[ScenarioGet] == DefaultThresholds()[ScenarioGet] {
		t.Error("postgres and sqlite share the get threshold")
	}

	for name, args := range map[string][]string{
		"unknown engine":   {"-db", "mysql"},
		"not a URL":        {"-db", "postgres", "-pg-url", "host=127.0.0.1 dbname=test"},
		"wrong URL scheme": {"-db", "postgres", "-pg-url", "mysql://127.0.0.1/test"},
	} {
		cfg := parseFlags(t, append([]string{"-basalt", "basalt"}, args...)...)
		cfg.HelloCommand = []string{"hello"}
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %q", name, args)
		}
	}
	ok := parseFlags(t, "-basalt", "basalt", "-db", "postgres", "-pg-url", "postgresql://u:secret@db.internal:6432/admin")
	ok.HelloCommand = []string{"hello"}
	if err := ok.Validate(); err != nil {
		t.Errorf("postgresql:// URL: %v", err)
	}
}

func TestNewDatabaseName(t *testing.T) {
	valid := regexp.MustCompile(`^basalt_bench_[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for range 100 {
		name, err := NewDatabaseName("")
		if err != nil {
			t.Fatal(err)
		}
		if !valid.MatchString(name) || len(name) > 63 {
			t.Fatalf("name %q is not basalt_bench_ and 16 hex digits", name)
		}
		if seen[name] {
			t.Fatalf("name %q generated twice", name)
		}
		seen[name] = true
	}
	scratch, err := NewDatabaseName("pgbench")
	if err != nil || !regexp.MustCompile(`^basalt_bench_pgbench_[0-9a-f]{16}$`).MatchString(scratch) {
		t.Errorf("scratch name %q, %v", scratch, err)
	}
	if _, err := NewDatabaseName("Bad-Kind"); err == nil {
		t.Error("a kind needing quotes was accepted")
	}

	u, err := DatabaseURL("postgres://postgres:pw@127.0.0.1:5432/test?sslmode=disable", "basalt_bench_0123456789abcdef")
	if want := "postgres://postgres:pw@127.0.0.1:5432/basalt_bench_0123456789abcdef?sslmode=disable"; err != nil || u != want {
		t.Errorf("DatabaseURL = %q, %v; want %q", u, err, want)
	}
	if got := RedactURL(u); strings.Contains(got, "pw") {
		t.Errorf("RedactURL kept the password: %s", got)
	}
	if _, err := DatabaseURL("host=127.0.0.1", "basalt_bench_x"); err == nil {
		t.Error("DatabaseURL accepted a keyword/value DSN")
	}

	// Only bench databases are ever created or dropped; the names are
	// checked before any connection is made.
	admin := PGAdmin{URL: "postgres://nobody@127.0.0.1:1/none"}
	for _, name := range []string{"test", "postgres", "basalt_bench_", `basalt_bench_x"; DROP DATABASE test; --`, "BASALT_BENCH_X"} {
		if err := admin.DropDatabase(context.Background(), name); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("DropDatabase(%q) = %v, want a refusal", name, err)
		}
		if err := admin.CreateDatabase(context.Background(), name); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("CreateDatabase(%q) = %v, want a refusal", name, err)
		}
	}
}

// pgbench15 is the complete output of pgbench 15.20 -S -c 2 -j 1 -T 1.
const pgbench15 = `pgbench (15.20 (Debian 15.20-0+deb12u1))
starting vacuum...end.
transaction type: <builtin: select only>
scaling factor: 10
query mode: simple
number of clients: 2
number of threads: 1
maximum number of tries: 1
duration: 1 s
number of transactions actually processed: 36597
number of failed transactions: 0 (0.000%)
latency average = 0.054 ms
initial connection time = 3.670 ms
tps = 36727.640216 (without initial connection time)
`

func TestParsePGBenchOutput(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want PGBenchResult
		err  bool
	}{
		{name: "pgbench 15", out: pgbench15,
			want: PGBenchResult{TPS: 36727.640216, Transactions: 36597, Failed: 0, LatencyMs: 0.054}},
		{name: "pgbench 14, tps line only", out: "tps = 896.967014 (without initial connection time)\n",
			want: PGBenchResult{TPS: 896.967014}},
		{name: "pgbench 13 and older: excluding connections", out: "number of transactions actually processed: 10000/10000\n" +
			"latency average = 8.899 ms\n" +
			"tps = 1123.735497 (including connections establishing)\n" +
			"tps = 1124.264005 (excluding connections establishing)\n",
			want: PGBenchResult{TPS: 1124.264005, Transactions: 10000, LatencyMs: 8.899}},
		{name: "failed transactions", out: "number of transactions actually processed: 5000\n" +
			"number of failed transactions: 12 (0.240%)\n" +
			"tps = 4980.5 (without initial connection time)\n",
			want: PGBenchResult{TPS: 4980.5, Transactions: 5000, Failed: 12}},
		{name: "including connections only", out: "tps = 1123.735497 (including connections establishing)\n", err: true},
		{name: "initialization output", out: "dropping old tables...\ncreating tables...\ndone in 0.68 s (drop tables 0.00 s, create tables 0.00 s).\n", err: true},
		{name: "connection error", out: "pgbench: error: connection to server at \"127.0.0.1\", port 5432 failed: Connection refused\n", err: true},
		{name: "bad number", out: "tps = many (without initial connection time)\n", err: true},
		{name: "zero", out: "tps = 0.000000 (without initial connection time)\n", err: true},
		{name: "empty", out: "", err: true},
	}
	for _, tt := range tests {
		got, err := ParsePGBenchOutput([]byte(tt.out))
		if (err != nil) != tt.err {
			t.Errorf("%s: err = %v, want error %v", tt.name, err, tt.err)
			continue
		}
		if !tt.err && got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestWriteMarkdownPostgres(t *testing.T) {
	r := testReport()
	r.Engine = "PostgreSQL 15.20 (a fresh database on 127.0.0.1:5432, dropped at the end)"
	r.PGBench = &PGBenchResult{Command: "pgbench -S -c 8 -j 2 -T 10", Scale: 10, TPS: 32000.4, Transactions: 320004, LatencyMs: 0.25}
	r.Evaluate(DefaultThresholdsFor(DBPostgres))
	if r.PGBench.GetRatio != 4000.0/32000.4 {
		t.Errorf("get ratio %v", r.PGBench.GetRatio)
	}
	var b bytes.Buffer
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"2026-11-26T12:00:00Z\n\nEngine: PostgreSQL 15.20 (a fresh database on 127.0.0.1:5432, dropped at the end)\n\nMethod:",
		"| get | 4,000 | 0.40 ms | 12.0 ms | 24.0 ms | 1 / 12,000 | 31.2 % | ≥ 12 % | PASS |\n",
		"| list | 1,000 | 0.40 ms | 45.0 ms | 90.0 ms | 1 / 3,000 | 7.8 % | ≥ 6 % | PASS |\n",
		"| create | none | — | — | — | — | 0 % | ≥ 8 % | FAIL |\n" +
			"\n" +
			"PostgreSQL itself, pgbench -S: 32,000 tx/s (`pgbench -S -c 8 -j 2 -T 10` after `pgbench -i -s 10`, 320,004 transactions, 0 failed, latency average 0.250 ms; without initial connection time). Basalt get-by-id: 4,000 req/s, 12.5 % of it.\n" +
			"\n- seeded 100,000 documents\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}

	for _, tt := range []struct {
		pg   PGBenchResult
		want string
	}{
		{PGBenchResult{Skipped: "pgbench is not installed (not on PATH nor in /usr/lib/postgresql/*/bin)"},
			"\nPostgreSQL itself, pgbench -S: not measured: pgbench is not installed (not on PATH nor in /usr/lib/postgresql/*/bin).\n"},
		{PGBenchResult{Err: "load: pgbench -i -q -s 10: exit status 1: connection refused"},
			"\nPostgreSQL itself, pgbench -S: not measured: load: pgbench -i -q -s 10: exit status 1: connection refused.\n"},
	} {
		r := testReport()
		r.PGBench = &tt.pg
		r.Evaluate(DefaultThresholdsFor(DBPostgres))
		var b bytes.Buffer
		if err := r.WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tt.want) {
			t.Errorf("report lacks %q:\n%s", tt.want, b.String())
		}
	}

	// SQLite reports carry no pgbench line.
	sq := testReport()
	sq.Evaluate(DefaultThresholds())
	b.Reset()
	if err := sq.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "pgbench") {
		t.Errorf("SQLite report mentions pgbench:\n%s", b.String())
	}
}

// TestPGAdminCreateDrop needs the PostgreSQL server of the bench
// (127.0.0.1:5432, or $BASALT_BENCH_PG_URL) and fails without it.
func TestPGAdminCreateDrop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := PGAdmin{URL: testPGURL()}
	name, err := NewDatabaseName("")
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.CreateDatabase(ctx, name); err != nil {
		t.Fatalf("CreateDatabase (is PostgreSQL running on 127.0.0.1:5432?): %v", err)
	}
	t.Cleanup(func() { _ = admin.DropDatabase(context.Background(), name) })
	if ok, err := admin.DatabaseExists(ctx, name); err != nil || !ok {
		t.Fatalf("after create: exists %v, %v", ok, err)
	}
	if err := admin.CreateDatabase(ctx, name); err == nil {
		t.Error("creating the database twice succeeded")
	}
	if err := admin.DropDatabase(ctx, name); err != nil {
		t.Fatalf("DropDatabase: %v", err)
	}
	if ok, err := admin.DatabaseExists(ctx, name); err != nil || ok {
		t.Errorf("after drop: exists %v, %v", ok, err)
	}
	if err := admin.DropDatabase(ctx, name); err != nil {
		t.Errorf("dropping a dropped database: %v", err)
	}
}

// TestRunEndToEndPostgres runs the whole postgres mode against the fake
// Basalt (which connects to the --db it is given), without pgbench, and
// checks that the bench database is gone afterwards.
func TestRunEndToEndPostgres(t *testing.T) {
	cfg := testConfig(t)
	cfg.Scenarios = []string{ScenarioGet}
	cfg.Docs = 100
	cfg.DB, cfg.PGURL, cfg.PGBench.Path = DBPostgres, testPGURL(), PGBenchOff
	var log bytes.Buffer
	cfg.Log = &log
	rep, err := Run(context.Background(), cfg, Environment{})
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	if !strings.HasPrefix(rep.Engine, "PostgreSQL ") || rep.PGBench == nil || rep.PGBench.Skipped == "" {
		t.Errorf("engine %q, pgbench %+v", rep.Engine, rep.PGBench)
	}
	if th := rep.Scenarios[0].Threshold; th != 0.12 {
		t.Errorf("get threshold %v, want 0.12", th)
	}
	out, err := os.ReadFile(filepath.Join(cfg.WorkDir, "basalt.log"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`db=(basalt_bench_[0-9a-f]{16})\n`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("basalt got no bench database; its log:\n%s", out)
	}
	ok, err := PGAdmin{URL: cfg.PGURL}.DatabaseExists(context.Background(), string(m[1]))
	if err != nil || ok {
		t.Errorf("database %s after the run: exists %v, %v", m[1], ok, err)
	}
}

// TestRunPGBenchFailures: pgbench problems end up in the result, never
// in a failed run, and the scratch database is dropped.
func TestRunPGBenchFailures(t *testing.T) {
	admin := PGAdmin{URL: testPGURL()}
	cfg := DefaultPGBenchConfig()
	cfg.Path = PGBenchOff
	if res := RunPGBench(context.Background(), admin, cfg, t.Logf); res.Skipped == "" || res.TPS != 0 {
		t.Errorf("off: %+v", res)
	}
	var log bytes.Buffer
	cfg.Path = filepath.Join(t.TempDir(), "pgbench")
	res := RunPGBench(context.Background(), admin, cfg, func(f string, a ...any) { fmt.Fprintf(&log, f+"\n", a...) })
	if res.Err == "" || res.TPS != 0 || !strings.Contains(res.Err, "pgbench -i -q -s 10") {
		t.Errorf("missing binary: %+v", res)
	}
	m := regexp.MustCompile(`scratch database (basalt_bench_pgbench_[0-9a-f]{16})`).FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("no scratch database in the log:\n%s", log.String())
	}
	if ok, err := admin.DatabaseExists(context.Background(), m[1]); err != nil || ok {
		t.Errorf("scratch database %s afterwards: exists %v, %v", m[1], ok, err)
	}
}
