// Package sqlite is Basalt's embedded storage engine: a docstore.Store over
// one SQLite file in WAL mode, through the pure-Go modernc.org/sqlite driver.
//
// Layout: the tables collections, outbox and idempotency (see migrations/),
// and one table docs_<collection> per collection whose declared indexes are
// expression indexes on json_extract(data, '$.path'). Document data is
// stored as SQLite JSONB (jsonb(?) in, json(data) out, byte-exact for the
// canonical JSON the service writes): BenchmarkJSONFormat measures
// json_extract-heavy scans about 2.6 times faster than over JSON text.
//
// Change events: the outbox is also the event log (events.go), whose
// positions are outbox seq, in commit order because there is one writer;
// event_log, event_cursors and event_dead_letters keep the log's trimmed
// bound, consumers' positions and events set aside (deadletters.go).
//
// Connections: one connection, pinned for the store's lifetime, does every
// write, in BEGIN IMMEDIATE transactions that concurrent writers share
// (group commit, see commit.go), so writers queue in Go instead of spinning
// on SQLITE_BUSY; a *sql.DB of query_only connections serves reads from WAL
// snapshots concurrently with the writer. Hot statements are prepared once
// per connection (stmtcache.go).
//
// Durability (Options.Synchronous):
//
//   - "full" (the default): PRAGMA synchronous=FULL. The WAL is fsynced
//     before a commit returns, so acknowledged writes survive power loss and
//     OS crashes as well as a crash of the process, provided the disk honours
//     fsync. Group commit shares each fsync among the writes of a group.
//   - "normal": PRAGMA synchronous=NORMAL. A commit has been
//     written to the WAL file when Write returns, so it survives the Basalt
//     process being killed (kill -9, panic, OOM kill). The WAL is fsynced
//     only at checkpoints, so an operating-system crash or power loss may lose
//     the most recently acknowledged transactions; the database file is never
//     corrupted and comes back in a consistent, earlier state.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
	"github.com/basaltdev/basalt/internal/storage/migration"
)

//go:embed migrations/*.sql
var migrations embed.FS

var (
	_ docstore.Store             = (*Store)(nil)
	_ docstore.IdempotencyPurger = (*Store)(nil)
)

// Options configures Open.
type Options struct {
	// Path is the database file. Its directory must exist.
	Path string
	// Synchronous is "full" (default) or "normal"; see the package
	// documentation for what each survives.
	Synchronous string
	// ReadConns is the size of the read pool; 0 means 4·GOMAXPROCS.
	ReadConns int
	// BusyTimeout is how long a connection waits for a lock held by another
	// process before failing with fault.Unavailable; 0 means 5s.
	BusyTimeout time.Duration
	// CacheSizeKiB is SQLite's page cache per connection; 0 means 16 MiB.
	CacheSizeKiB int
	// Logger receives lifecycle messages; nil discards them.
	Logger *slog.Logger
	// Tracer, when set, makes a span of each group commit that holds a
	// traced write ("sqlite commit group").
	Tracer trace.TracerProvider
	// Migrate is the phase of migrations Open applies: expand (the
	// default) applies those that only add; contract applies every
	// pending one (see internal/storage/migration).
	Migrate migration.Phase
}

// Store is the SQLite storage engine. It is safe for concurrent use.
type Store struct {
	write *sql.DB // exactly one connection, pinned as wconn
	read  *sql.DB // query_only pool
	// wconn is the one write connection, held for the store's lifetime so
	// statements prepared on it stay prepared. Only the committer
	// goroutine (commit.go) uses it.
	wconn    *sql.Conn
	writes   chan *writeReq // to the committer
	closeMu  sync.RWMutex   // guards closed against Write's hand-over
	closed   bool
	stopped  chan struct{} // closed by Close after closed is set
	loopDone chan struct{} // closed when the committer has returned
	close    sync.Once
	wstmts   *stmtCache
	rstmts   *stmtCache
	reads    cachedDB // queries on the read pool, through rstmts
	log      *slog.Logger
	// cursorLocks are the event consumers' locks (LockCursor).
	cursorLocks cursorLocks
	migrated    migration.Outcome // what Open's migration did
	tracer      trace.Tracer      // nil: no spans
}

// stmtCacheSize bounds the prepared statements kept per pool.
const stmtCacheSize = 256

// Open opens (creating if needed) the database at opts.Path, applies the
// embedded migrations and returns a ready Store.
func Open(ctx context.Context, opts Options) (*Store, error) {
	const op = "sqlite.Open"
	if opts.Path == "" {
		return nil, fault.New(fault.Invalid, op, "database path is empty")
	}
	sync := strings.ToLower(opts.Synchronous)
	switch sync {
	case "":
		sync = "full"
	case "normal", "full":
	default:
		return nil, fault.Newf(fault.Invalid, op, "synchronous must be \"normal\" or \"full\", not %q", opts.Synchronous)
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4 * runtime.GOMAXPROCS(0)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.CacheSizeKiB <= 0 {
		opts.CacheSizeKiB = 16 << 10
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	common := []string{
		"busy_timeout(" + strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10) + ")",
		"foreign_keys(1)",
		"cache_size(-" + strconv.Itoa(opts.CacheSizeKiB) + ")",
		"temp_store(memory)",
	}
	writeDSN := dsn(opts.Path, append(common, "journal_mode(WAL)", "synchronous("+sync+")"), true)
	readDSN := dsn(opts.Path, append(common, "query_only(1)"), false)

	w, err := sql.Open("sqlite", writeDSN)
	if err != nil {
		return nil, fmt.Errorf("%s: open writer: %w", op, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	phase := opts.Migrate
	if phase == "" {
		phase = migration.Expand
	}
	migrated, err := migrate(ctx, w, phase, log)
	if err != nil {
		_ = w.Close()
		return nil, mapErr(op, err)
	}

	r, err := sql.Open("sqlite", readDSN)
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("%s: open readers: %w", op, err)
	}
	r.SetMaxOpenConns(opts.ReadConns)
	r.SetMaxIdleConns(opts.ReadConns)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, mapErr(op, err)
	}
	log.Info("sqlite store opened", "path", opts.Path, "synchronous", sync, "read_conns", opts.ReadConns)
	wconn, err := w.Conn(ctx)
	if err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, mapErr(op, err)
	}
	st := &Store{write: w, read: r, wconn: wconn, log: log, migrated: migrated, tracer: tracerOf(opts.Tracer),
		wstmts: newStmtCache(wconn, stmtCacheSize), rstmts: newStmtCache(r, stmtCacheSize),
		writes: make(chan *writeReq, maxGroup), stopped: make(chan struct{}), loopDone: make(chan struct{})}
	st.reads = cachedDB{st.rstmts}
	go st.commitLoop() // owned by st; Close stops it
	return st, nil
}

// dsn builds a modernc.org/sqlite DSN: each pragma is one _pragma
// parameter, executed on every new connection.
func dsn(path string, pragmas []string, immediate bool) string {
	v := url.Values{}
	for _, p := range pragmas {
		v.Add("_pragma", p)
	}
	if immediate {
		v.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + v.Encode()
}

// migrator reads the embedded migrations for db.
func migrator(db *sql.DB) (*migration.Migrator, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return migration.New(p, fsys)
}

// migrate applies the pending migrations of phase and returns what it
// did.
func migrate(ctx context.Context, db *sql.DB, phase migration.Phase, log *slog.Logger) (migration.Outcome, error) {
	m, err := migrator(db)
	if err != nil {
		return migration.Outcome{}, err
	}
	return m.Migrate(ctx, phase, log)
}

// MigrationVersion is the version of the last migration applied to the
// database, as read when the store opened.
func (s *Store) MigrationVersion() int64 { return s.migrated.Version }

// KnownMigration is the highest migration this binary has (applied or
// not): what a process of it registers, so that a contract migration
// above it waits for the process to stop.
func (s *Store) KnownMigration() int64 { return s.migrated.Known }

// MigratedAtOpen lists the migrations Open applied.
func (s *Store) MigratedAtOpen() []migration.Migration { return s.migrated.Applied }

// Migrations lists the engine's migrations with their phase and whether
// the database has them. It reads through the read pool.
func (s *Store) Migrations(ctx context.Context) ([]migration.Migration, error) {
	m, err := migrator(s.read)
	if err != nil {
		return nil, err
	}
	return m.Status(ctx)
}

// tracerOf is the store's tracer of tp, nil without one.
func tracerOf(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer("github.com/basaltdev/basalt/internal/storage/sqlite")
}

// Close closes both connection pools.
func (s *Store) Close() error {
	var err error
	s.close.Do(func() {
		s.closeMu.Lock() // waits for hand-overs in progress
		s.closed = true
		s.closeMu.Unlock()
		close(s.stopped)
		<-s.loopDone // the committer finishes the group it is running
		err = errors.Join(s.rstmts.close(), s.wstmts.close(), s.wconn.Close(), s.read.Close(), s.write.Close())
	})
	return err
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return mapErr("sqlite.Ping", err)
	}
	return nil
}

// GetCollection returns the named collection.
func (s *Store) GetCollection(ctx context.Context, name string) (docstore.Collection, error) {
	return getCollection(ctx, s.reads, name)
}

// ListCollections returns every collection, ordered by name.
func (s *Store) ListCollections(ctx context.Context) ([]docstore.Collection, error) {
	const op = "sqlite.ListCollections"
	rows, err := s.reads.QueryContext(ctx,
		`SELECT `+collectionColumns+` FROM collections ORDER BY name`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []docstore.Collection
	for rows.Next() {
		c, err := scanCollection(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// GetDocument returns one document.
func (s *Store) GetDocument(ctx context.Context, collection, id string) (docstore.Document, error) {
	return getDocument(ctx, s.reads, collection, id)
}

// GetDocumentWhere returns one document if it matches filter; one that
// does not is NotFound, like a missing one.
func (s *Store) GetDocumentWhere(ctx context.Context, collection, id string, filter query.Expr) (docstore.Document, error) {
	return getDocumentWhere(ctx, s.reads, "sqlite.GetDocumentWhere", collection, id, filter)
}

// ListDocuments returns at most p.Limit documents (all of them when
// p.Limit ≤ 0) matching p.Filter in p.Sort order, after the keyset p.After.
// Ordering follows SQLite: nulls (and missing fields) sort first in
// ascending order and last in descending order; strings compare by their
// UTF-8 bytes.
func (s *Store) ListDocuments(ctx context.Context, p docstore.ListParams) ([]docstore.Document, error) {
	return listDocuments(ctx, s.reads, p)
}

// CountDocuments counts the documents matching p.Filter, at most p.Limit
// of them when p.Limit is positive (see compileCount).
func (s *Store) CountDocuments(ctx context.Context, p docstore.CountParams) (int64, error) {
	const op = "sqlite.CountDocuments"
	text, args, err := compileCount(p)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := s.reads.QueryRowContext(ctx, text, args...).Scan(&n); err != nil {
		return 0, tableErr(ctx, s.reads, op, p.Collection, err)
	}
	return n, nil
}

// PurgeIdempotency deletes idempotency records created before the cut-off,
// in batches so that writers are never blocked for long, and returns how
// many it deleted.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	const op = "sqlite.PurgeIdempotency"
	var total int64
	for {
		var n int64
		err := s.Write(ctx, func(dt docstore.Tx) error {
			res, err := dt.(*tx).q.ExecContext(ctx, `DELETE FROM idempotency WHERE key IN
				(SELECT key FROM idempotency WHERE created_at < ? LIMIT 1000)`, before.UnixMicro())
			if err != nil {
				return mapErr(op, err)
			}
			n, err = res.RowsAffected()
			return mapErr(op, err)
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < 1000 {
			return total, nil
		}
	}
}
