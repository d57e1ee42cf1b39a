package migration_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite"

	"github.com/basaltdev/basalt/internal/storage/migration"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestPhaseOf(t *testing.T) {
	for _, c := range []struct {
		name    string
		version int64
		src     string
		want    migration.Phase
		err     string
	}{
		{"expand", 12, "-- basalt:phase expand\n-- +goose Up\nCREATE TABLE t (a int);\n", migration.Expand, ""},
		{"contract", 12, "-- A comment first.\n--   basalt:phase contract  \n-- +goose Up\nDROP TABLE t;\n", migration.Contract, ""},
		{"old without a phase", 7, "-- +goose Up\nALTER TABLE t DROP COLUMN a;\n", migration.Expand, ""},
		{"old that declares one", 7, "-- basalt:phase contract\n-- +goose Up\nDROP TABLE t;\n", migration.Contract, ""},
		{"missing", 12, "-- +goose Up\nCREATE TABLE t (a int);\n", "", "no \"-- basalt:phase expand|contract\" line"},
		{"after Up does not count", 12, "-- +goose Up\n-- basalt:phase expand\nCREATE TABLE t (a int);\n", "", "no \""},
		{"unknown", 12, "-- basalt:phase shrink\n-- +goose Up\n", "", "unknown migration phase \"shrink\""},
		{"twice", 12, "-- basalt:phase expand\n-- basalt:phase contract\n-- +goose Up\n", "", "declared twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := migration.PhaseOf(c.version, []byte(c.src))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("PhaseOf = %q, %v; want an error with %q", got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("PhaseOf = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// statementCases are the splitter's cases, and the fuzz target's seeds.
var statementCases = []struct {
	name string
	src  string
	want []string
	err  string
}{
	{"two", "-- +goose Up\nCREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\n-- +goose Down\nDROP TABLE t;\n",
		[]string{"create table t ( a int )", "insert into t values ( 1 )"}, ""},
	{"comments", "CREATE /* a /* nested */ comment */ TABLE t; -- DROP TABLE x;\n", []string{"create table t"}, ""},
	{"strings hide keywords and semicolons", "INSERT INTO t VALUES ('DROP TABLE x; it''s', E'a\\'; DELETE', \"We\"\"ird\");",
		[]string{`insert into t values ( '…' , '…' , "We""ird" )`}, ""},
	{"dollar bodies", "-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN DELETE FROM t; RETURN NULL; END $body$;\n-- +goose StatementEnd\nSELECT $$;$$, $1;",
		[]string{"create function f ( ) returns trigger language plpgsql as '…'", "select '…' , $ 1"}, ""},
	{"qualified and numbers", "ALTER TABLE public.t ADD COLUMN n numeric DEFAULT 1.5e3;", []string{"alter table public . t add column n numeric default 1.5e3"}, ""},
	{"empty", "-- +goose Up\n;;\n-- only a comment\n", []string{}, ""},
	{"open quote", "SELECT 'abc", nil, "' quote is not closed"},
	{"open identifier", `SELECT "abc`, nil, `" quote is not closed`},
	{"open comment", "SELECT /* abc", nil, "/* comment is not closed"},
	{"open body", "SELECT $x$ abc", nil, "$x$ body is not closed"},
}

func TestStatements(t *testing.T) {
	for _, c := range statementCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := migration.Statements([]byte(c.src))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("Statements = %q, %v; want an error with %q", got, err, c.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, c.want) {
				t.Fatalf("Statements = %q, %v\nwant %q", got, err, c.want)
			}
		})
	}
}

// FuzzStatements: the splitter never panics, and splitting its own output
// again gives the same statements.
func FuzzStatements(f *testing.F) {
	for _, c := range statementCases {
		f.Add(c.src)
	}
	for _, c := range checkCases {
		f.Add(c.src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := migration.Statements([]byte(src))
		if err != nil {
			return
		}
		_, _ = migration.Check([]byte(src))
		again, err := migration.Statements([]byte(strings.Join(stmts, ";\n")))
		if err != nil {
			t.Fatalf("re-splitting %q: %v", stmts, err)
		}
		if !slices.Equal(again, stmts) {
			t.Fatalf("re-splitting %q gave %q", stmts, again)
		}
	})
}

var checkCases = []struct {
	name string
	src  string
	want string // a part of the reason; "" when the migration is expand-only
}{
	{"new table with constraints", "CREATE TABLE t (id text PRIMARY KEY, n int NOT NULL UNIQUE); CREATE UNIQUE INDEX t_n ON t (n); ALTER TABLE t ADD CONSTRAINT c CHECK (n > 0);", ""},
	{"nullable column", "ALTER TABLE docs ADD COLUMN note text;", ""},
	{"NOT NULL with a default", "ALTER TABLE docs ADD COLUMN n int NOT NULL DEFAULT 0, ADD COLUMN m text;", ""},
	{"index", "CREATE INDEX CONCURRENTLY IF NOT EXISTS d_n ON docs (n);", ""},
	{"backfill", "UPDATE docs SET n = 1 WHERE n IS NULL;", ""},
	{"a column named type", "ALTER TABLE outbox ADD COLUMN type text;", ""},
	{"default changes", "ALTER TABLE docs ALTER COLUMN n SET DEFAULT 1;", ""},
	{"function body", "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN DELETE FROM t; DROP TABLE x; END $$ LANGUAGE plpgsql;", ""},
	{"drop column", "ALTER TABLE docs DROP COLUMN n;", "drops"},
	{"drop in a later clause", "ALTER TABLE docs ADD COLUMN m text, DROP COLUMN n;", "drops"},
	{"drop table", "DROP TABLE IF EXISTS old;", "drops"},
	{"drop index", "DROP INDEX docs_n;", "drops"},
	{"rename column", "ALTER TABLE docs RENAME COLUMN n TO m;", "renames"},
	{"rename table", "ALTER TABLE docs RENAME TO documents;", "renames"},
	{"type change", "ALTER TABLE docs ALTER COLUMN n TYPE bigint;", "type"},
	{"type change without COLUMN", "ALTER TABLE docs ALTER n SET DATA TYPE bigint;", "type"},
	{"set not null", "ALTER TABLE ONLY public.docs ALTER COLUMN n SET NOT NULL;", "NOT NULL"},
	{"drop not null", "ALTER TABLE docs ALTER COLUMN n DROP NOT NULL;", "drops a column's default"},
	{"NOT NULL without a default", "ALTER TABLE docs ADD COLUMN n int NOT NULL;", "without a default"},
	{"constraint", "ALTER TABLE docs ADD CONSTRAINT n_pos CHECK (n > 0) NOT VALID;", "constraint"},
	{"unique column", "ALTER TABLE docs ADD COLUMN k text UNIQUE;", "unique"},
	{"unique index on an old table", "CREATE UNIQUE INDEX docs_k ON ONLY docs (k);", "unique index"},
	{"delete", "DELETE FROM sessions WHERE expired;", "removes rows"},
	{"truncate", "TRUNCATE outbox;", "removes rows"},
	{"SQLite table rebuild", "CREATE TABLE new_docs (id text); INSERT INTO new_docs SELECT id FROM docs; DROP TABLE docs; ALTER TABLE new_docs RENAME TO docs;", "drops"},
	{"quoted names are not keywords", `ALTER TABLE docs ADD COLUMN "drop" text, ADD COLUMN "rename_me" text;`, ""},
	{"Down section is not checked", "-- +goose Up\nALTER TABLE docs ADD COLUMN n int;\n-- +goose Down\nALTER TABLE docs DROP COLUMN n;\n", ""},
}

func TestCheck(t *testing.T) {
	for _, c := range checkCases {
		t.Run(c.name, func(t *testing.T) {
			problems, err := migration.Check([]byte(c.src))
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				if len(problems) > 0 {
					t.Fatalf("Check found %v; want none", problems)
				}
				return
			}
			if len(problems) == 0 || !strings.Contains(problems[0].Reason, c.want) {
				t.Fatalf("Check found %v; want a problem about %q", problems, c.want)
			}
		})
	}
}

// TestEngineMigrations holds both engines' migrations to the policy.
func TestEngineMigrations(t *testing.T) {
	for _, engine := range []string{"postgres", "sqlite"} {
		t.Run(engine, func(t *testing.T) {
			dir := filepath.Join("..", engine, "migrations")
			if err := migration.CheckFS(os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			if names, _ := filepath.Glob(filepath.Join(dir, "*.sql")); len(names) < 10 {
				t.Fatalf("%s holds %d migrations; the path is wrong", dir, len(names))
			}
		})
	}
}

func TestCheckFS(t *testing.T) {
	fsys := fstest.MapFS{
		"00003_old.sql":      {Data: []byte("-- +goose Up\nALTER TABLE t DROP COLUMN a;\n")},
		"00012_fine.sql":     {Data: []byte("-- basalt:phase expand\n-- +goose Up\nALTER TABLE t ADD COLUMN b text;\n")},
		"00013_contract.sql": {Data: []byte("-- basalt:phase contract\n-- +goose Up\nALTER TABLE t DROP COLUMN a;\n")},
		"00014_lies.sql":     {Data: []byte("-- basalt:phase expand\n-- +goose Up\nALTER TABLE t RENAME COLUMN b TO c;\n")},
		"00015_silent.sql":   {Data: []byte("-- +goose Up\nSELECT 1;\n")},
		"nonumber.sql":       {Data: []byte("-- +goose Up\nSELECT 1;\n")},
	}
	err := migration.CheckFS(fsys)
	if err == nil {
		t.Fatal("CheckFS passed a migration that renames, one without a phase and one without a number")
	}
	msg := err.Error()
	for _, want := range []string{"00014_lies.sql is declared expand but renames", "00015_silent.sql: no", "nonumber.sql: a migration's name"} {
		if !strings.Contains(msg, want) {
			t.Errorf("CheckFS: %v\nwant %q", err, want)
		}
	}
	for _, fine := range []string{"00003_old", "00012_fine", "00013_contract"} {
		if strings.Contains(msg, fine) {
			t.Errorf("CheckFS complained about %s: %v", fine, err)
		}
	}
}

// phased is a migration set with contract migrations between expand ones.
var phased = fstest.MapFS{
	"00001_base.sql":         {Data: []byte("-- +goose Up\nCREATE TABLE t (a int, old text);\n-- +goose Down\nDROP TABLE t;\n")},
	"00012_add.sql":          {Data: []byte("-- basalt:phase expand\n-- +goose Up\nALTER TABLE t ADD COLUMN b int;\n-- +goose Down\nSELECT 1;\n")},
	"00013_drop_old.sql":     {Data: []byte("-- basalt:phase contract\n-- +goose Up\nALTER TABLE t DROP COLUMN old;\n-- +goose Down\nSELECT 1;\n")},
	"00014_add_table.sql":    {Data: []byte("-- basalt:phase expand\n-- +goose Up\nCREATE TABLE u (x int);\n-- +goose Down\nDROP TABLE u;\n")},
	"00015_tighten.sql":      {Data: []byte("-- basalt:phase contract\n-- +goose Up\nCREATE UNIQUE INDEX t_a ON t (a);\n-- +goose Down\nSELECT 1;\n")},
	"00016_add_another.sql":  {Data: []byte("-- basalt:phase expand\n-- +goose Up\nALTER TABLE u ADD COLUMN y int;\n-- +goose Down\nSELECT 1;\n")},
	"00017_add_and_more.sql": {Data: []byte("-- basalt:phase expand\n-- +goose Up\nCREATE INDEX u_y ON u (y);\n-- +goose Down\nSELECT 1;\n")},
}

type engine struct {
	name    string
	dialect goose.Dialect
	open    func(t *testing.T) *sql.DB
	locker  bool
	columns func(t *testing.T, db *sql.DB, table string) []string
}

func engines() []engine {
	return []engine{
		{name: "sqlite", dialect: goose.DialectSQLite3, open: func(t *testing.T) *sql.DB {
			db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db")+"?_pragma=busy_timeout(5000)")
			if err != nil {
				t.Fatal(err)
			}
			db.SetMaxOpenConns(1)
			t.Cleanup(func() { _ = db.Close() })
			return db
		}, columns: func(t *testing.T, db *sql.DB, table string) []string {
			return queryStrings(t, db, "SELECT name FROM pragma_table_info(?) ORDER BY cid", table)
		}},
		{name: "postgres", dialect: goose.DialectPostgres, locker: true, open: func(t *testing.T) *sql.DB {
			db, err := sql.Open("pgx", pgtest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			return db
		}, columns: func(t *testing.T, db *sql.DB, table string) []string {
			return queryStrings(t, db, "SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position", table)
		}},
	}
}

var _ = stdlib.GetDefaultDriver // registers "pgx"

func queryStrings(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func newMigrator(t *testing.T, e engine, db *sql.DB) *migration.Migrator {
	t.Helper()
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if e.locker {
		l, err := lock.NewPostgresSessionLocker()
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, goose.WithSessionLocker(l))
	}
	p, err := goose.NewProvider(e.dialect, db, phased, opts...)
	if err != nil {
		t.Fatal(err)
	}
	m, err := migration.New(p, phased)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func versions(ms []migration.Migration) []int64 {
	var v []int64
	for _, m := range ms {
		v = append(v, m.Version)
	}
	return v
}

// TestApply applies the phases on a real database of each engine: expand
// leaves contract migrations pending, even those before later expand
// ones; contract applies them.
func TestApply(t *testing.T) {
	ctx := context.Background()
	for _, e := range engines() {
		t.Run("engine="+e.name, func(t *testing.T) {
			db := e.open(t)
			m := newMigrator(t, e, db)
			applied, err := m.Apply(ctx, migration.Expand)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := versions(applied), []int64{1, 12, 14, 16, 17}; !slices.Equal(got, want) {
				t.Fatalf("expand applied %v; want %v", got, want)
			}
			if got, want := e.columns(t, db, "t"), []string{"a", "old", "b"}; !slices.Equal(got, want) {
				t.Fatalf("after expand, t has %v; want %v", got, want)
			}
			st, err := m.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var pending []string
			for _, s := range st {
				if !s.Applied {
					pending = append(pending, s.Name+" "+string(s.Phase))
				}
			}
			if want := []string{"00013_drop_old.sql contract", "00015_tighten.sql contract"}; !slices.Equal(pending, want) {
				t.Fatalf("pending after expand: %v; want %v", pending, want)
			}
			if again, err := m.Apply(ctx, migration.Expand); err != nil || len(again) != 0 {
				t.Fatalf("expand again applied %v, %v; want nothing", versions(again), err)
			}
			v, err := m.Version(ctx)
			if err != nil || v != 17 {
				t.Fatalf("Version = %d, %v; want 17", v, err)
			}
			applied, err = m.Apply(ctx, migration.Contract)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := versions(applied), []int64{13, 15}; !slices.Equal(got, want) {
				t.Fatalf("contract applied %v; want %v", got, want)
			}
			if got, want := e.columns(t, db, "t"), []string{"a", "b"}; !slices.Equal(got, want) {
				t.Fatalf("after contract, t has %v; want %v", got, want)
			}
			if _, err := m.Apply(ctx, "sideways"); err == nil {
				t.Fatal("Apply accepted an unknown phase")
			}
		})
	}
}

// TestApplyConcurrently: processes that start together on one PostgreSQL
// database apply each migration once, and none fails.
func TestApplyConcurrently(t *testing.T) {
	e := engines()[1]
	u := pgtest.URL(t)
	const n = 4
	var wg sync.WaitGroup
	results := make([][]int64, n)
	errs := make([]error, n)
	for i := range n {
		db, err := sql.Open("pgx", u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		m := newMigrator(t, e, db)
		wg.Go(func() {
			applied, err := m.Apply(context.Background(), migration.Contract)
			results[i], errs[i] = versions(applied), err
		})
	}
	wg.Wait()
	var all []int64
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("process %d: %v", i, errs[i])
		}
		all = append(all, results[i]...)
	}
	slices.Sort(all)
	if want := []int64{1, 12, 13, 14, 15, 16, 17}; !slices.Equal(all, want) {
		t.Fatalf("the processes applied %v together; want each of %v once", all, want)
	}
}
