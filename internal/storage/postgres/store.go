// Package postgres is Basalt's scaled-out storage engine: a docstore.Store
// over PostgreSQL (15 or later) through a pgxpool connection pool. Several
// Basalt processes may share one database.
//
// Layout: the tables collections, outbox and idempotency (see
// migrations/, applied by Open under a session advisory lock so that
// processes starting together migrate once), and one table docs_<name> per
// collection (names over 58 bytes are shortened with a hash). A documents
// table keeps each document twice: raw, the canonical JSON text exactly as
// the service wrote it (what reads return, byte for byte), and data, the
// same document as jsonb for filters and indexes, with a GIN
// jsonb_path_ops index. Declared indexes are expression indexes named
// ix_<collection>_<hash> over the very expressions the compiler emits
// (compile.go), ending with id; they are created and dropped inside the
// transaction that changes the collection, since PostgreSQL DDL is
// transactional. Timestamps are bigint Unix microseconds (UTC).
//
// Change events: the outbox is also the event log (events.go); since
// transactions commit out of seq order, Sequence gives committed rows their
// position under the event_log row lock, and NOTIFY tells other processes.
// event_cursors and event_dead_letters keep consumers' positions and events
// set aside (deadletters.go); consumers' locks are advisory locks.
//
// Ordering (the same as the SQLite engine, checked by storagetest): nulls
// and missing fields sort first ascending and last descending; strings
// compare by their UTF-8 bytes (COLLATE "C"), whatever the database
// collation; numbers numerically (numeric, exact for any JSON number);
// false before true. Fields of several JSON types sort as jsonb.
//
// Transactions: Write runs at READ COMMITTED; the service's conditional
// writes (WHERE version = prev) make that safe. Serialization failures and
// deadlocks are retried a few times, calling fn again. A statement that
// fails inside a transaction aborts it in PostgreSQL, so Tx methods avoid
// failing statements for expected outcomes (existing keys use ON CONFLICT
// DO NOTHING); a missing collection's table does fail the statement and
// ends the transaction's usefulness.
//
// Durability: Write returns after PostgreSQL's COMMIT, which with the
// server's default synchronous_commit=on has flushed the WAL to disk (and,
// with synchronous replication configured, to the standbys), so an
// acknowledged write survives a crash of Basalt, of the server and power
// loss, provided the disk honours fsync.
//
// Failure: every connection runs with statement_timeout; waiting for a
// pooled connection is bounded by Options.AcquireTimeout; both surface as
// fault.Unavailable, as do connection failures and server shutdowns.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"go.opentelemetry.io/otel/trace"

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
	// URL is the database, postgres://user:password@host:port/db?… (any
	// libpq connection string pgx accepts).
	URL string
	// MaxConns bounds the pool; 0 means pgxpool's default (4, or the
	// number of CPUs if greater).
	MaxConns int32
	// MinConns is the number of connections kept open when idle.
	MinConns int32
	// AcquireTimeout bounds the wait for a pooled connection (including
	// dialling a new one); 0 means 2s. A request must fail fast with
	// fault.Unavailable rather than queue without end.
	AcquireTimeout time.Duration
	// StatementTimeout is the server's statement_timeout on every
	// connection; 0 means 5s.
	StatementTimeout time.Duration
	// MaxConnLifetime closes connections older than this; 0 means
	// pgxpool's default (1h).
	MaxConnLifetime time.Duration
	// Logger receives lifecycle messages; nil discards them.
	Logger *slog.Logger
	// Tracer, when set, makes a span of each statement run within a
	// recorded span.
	Tracer trace.TracerProvider
	// Migrate is the phase of migrations Open applies: expand (the
	// default) applies those that only add; contract applies every
	// pending one (see internal/storage/migration).
	Migrate migration.Phase
}

// Store is the PostgreSQL storage engine. It is safe for concurrent use.
type Store struct {
	pool           *pgxpool.Pool
	migrated       migration.Outcome // what Open's migration did
	acquireTimeout time.Duration
	log            *slog.Logger
	closeOnce      sync.Once
	closed         atomic.Bool
}

// cancelGrace is how long a cancelled statement's connection waits for
// the server to confirm the cancel request before it is closed instead.
const cancelGrace = time.Second

// maxWriteAttempts is how often Write runs fn when transactions keep
// failing with serialization failures or deadlocks.
const maxWriteAttempts = 4

// Open connects to opts.URL, applies the embedded migrations and returns
// a ready Store. It fails with fault.Unavailable, within AcquireTimeout,
// when the server cannot be reached.
func Open(ctx context.Context, opts Options) (*Store, error) {
	const op = "postgres.Open"
	if opts.URL == "" {
		return nil, fault.New(fault.Invalid, op, "database URL is empty")
	}
	if opts.AcquireTimeout <= 0 {
		opts.AcquireTimeout = 2 * time.Second
	}
	if opts.StatementTimeout <= 0 {
		opts.StatementTimeout = 5 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, op, err, "invalid database URL")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.MinConns > 0 {
		cfg.MinConns = opts.MinConns
	}
	if opts.MaxConnLifetime > 0 {
		cfg.MaxConnLifetime = opts.MaxConnLifetime
	}
	cfg.ConnConfig.ConnectTimeout = opts.AcquireTimeout
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	cfg.ConnConfig.RuntimeParams["application_name"] = "basalt"
	// A request that ends (its client went away, its deadline passed)
	// cancels its statement on the server too. pgx's default only gives
	// up on the connection, and the server would run the statement on,
	// up to statement_timeout, for nobody.
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: cancelGrace}
	}
	if opts.Tracer != nil {
		cfg.ConnConfig.Tracer = queryTracer{tracer: opts.Tracer.Tracer("github.com/basaltdev/basalt/internal/storage/postgres")}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, mapErr(op, err)
	}
	s := &Store{pool: pool, acquireTimeout: opts.AcquireTimeout, log: log}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	phase := opts.Migrate
	if phase == "" {
		phase = migration.Expand
	}
	if s.migrated, err = migrate(ctx, pool, phase, log); err != nil {
		pool.Close()
		return nil, mapErr(op, err)
	}
	log.Info("postgres store opened", "host", cfg.ConnConfig.Host, "database", cfg.ConnConfig.Database,
		"max_conns", cfg.MaxConns)
	return s, nil
}

// migrator reads the embedded migrations for the database behind pool,
// through database/sql (goose's interface), holding PostgreSQL's session
// advisory lock while it applies one so that concurrent processes apply
// each once. close releases its database/sql handle.
func migrator(pool *pgxpool.Pool) (m *migration.Migrator, close func(), err error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, nil, fmt.Errorf("migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, nil, fmt.Errorf("migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker))
	if err == nil {
		m, err = migration.New(p, fsys)
	}
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("migrations: %w", err)
	}
	return m, func() { _ = db.Close() }, nil
}

// migrate applies the pending migrations of phase and returns what it
// did.
func migrate(ctx context.Context, pool *pgxpool.Pool, phase migration.Phase, log *slog.Logger) (migration.Outcome, error) {
	m, closeDB, err := migrator(pool)
	if err != nil {
		return migration.Outcome{}, err
	}
	defer closeDB()
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
// the database has them.
func (s *Store) Migrations(ctx context.Context) ([]migration.Migration, error) {
	m, closeDB, err := migrator(s.pool)
	if err != nil {
		return nil, err
	}
	defer closeDB()
	return m.Status(ctx)
}

// Close closes the pool, waiting for connections in use to be released.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.pool.Close()
	})
	return nil
}

// Stat returns the pool's statistics, to be exported as metrics.
func (s *Store) Stat() *pgxpool.Stat { return s.pool.Stat() }

// acquire takes a pooled connection, waiting at most AcquireTimeout.
func (s *Store) acquire(ctx context.Context, op string) (*pgxpool.Conn, error) {
	if s.closed.Load() {
		return nil, fault.New(fault.Unavailable, op, "the store is closed")
	}
	actx, cancel := context.WithTimeout(ctx, s.acquireTimeout)
	defer cancel()
	c, err := s.pool.Acquire(actx)
	if err != nil {
		if ctx.Err() == nil && actx.Err() != nil {
			return nil, fault.Wrap(fault.Unavailable, op, err, "no database connection became available in time")
		}
		return nil, mapErr(op, err)
	}
	return c, nil
}

// read runs fn on a pooled connection.
func (s *Store) read(ctx context.Context, op string, fn func(q queryer) error) error {
	c, err := s.acquire(ctx, op)
	if err != nil {
		return err
	}
	defer c.Release()
	return fn(c)
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	const op = "postgres.Ping"
	return s.read(ctx, op, func(q queryer) error {
		_, err := q.Exec(ctx, "SELECT 1")
		return mapErr(op, err)
	})
}

// Reachable checks that the server accepts a new connection and answers
// on it, outside the pool: a pool whose connections are all in use makes
// Ping wait, while the server is up. The connection is closed at once.
func (s *Store) Reachable(ctx context.Context) error {
	const op = "postgres.Reachable"
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return mapErr(op, err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	_, err = conn.Exec(ctx, "SELECT 1")
	return mapErr(op, err)
}

// GetCollection returns the named collection.
func (s *Store) GetCollection(ctx context.Context, name string) (c docstore.Collection, err error) {
	err = s.read(ctx, "postgres.GetCollection", func(q queryer) error {
		c, err = getCollection(ctx, q, name)
		return err
	})
	return c, err
}

// ListCollections returns every collection, ordered by name.
func (s *Store) ListCollections(ctx context.Context) (out []docstore.Collection, err error) {
	err = s.read(ctx, "postgres.ListCollections", func(q queryer) error {
		out, err = listCollections(ctx, q)
		return err
	})
	return out, err
}

// GetDocument returns one document.
func (s *Store) GetDocument(ctx context.Context, collection, id string) (d docstore.Document, err error) {
	err = s.read(ctx, "postgres.GetDocument", func(q queryer) error {
		d, err = getDocument(ctx, q, collection, id)
		return err
	})
	return d, err
}

// GetDocumentWhere returns one document if it matches filter; one that
// does not is NotFound, like a missing one.
func (s *Store) GetDocumentWhere(ctx context.Context, collection, id string, filter query.Expr) (d docstore.Document, err error) {
	const op = "postgres.GetDocumentWhere"
	err = s.read(ctx, op, func(q queryer) error {
		d, err = getDocumentWhere(ctx, q, op, collection, id, filter)
		return err
	})
	return d, err
}

// ListDocuments returns at most p.Limit documents (all of them when
// p.Limit ≤ 0) matching p.Filter in p.Sort order, after the keyset
// p.After, in the order the package documentation describes.
func (s *Store) ListDocuments(ctx context.Context, p docstore.ListParams) (out []docstore.Document, err error) {
	err = s.read(ctx, "postgres.ListDocuments", func(q queryer) error {
		out, err = listDocuments(ctx, q, p)
		return err
	})
	return out, err
}

// CountDocuments counts the documents matching p.Filter, at most p.Limit
// of them when p.Limit is positive (see compileCount).
func (s *Store) CountDocuments(ctx context.Context, p docstore.CountParams) (int64, error) {
	const op = "postgres.CountDocuments"
	text, args, err := compileCount(p)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.read(ctx, op, func(q queryer) error {
		if err := q.QueryRow(ctx, text, args...).Scan(&n); err != nil {
			return tableErr(op, p.Collection, err)
		}
		return nil
	})
	return n, err
}

// Write runs fn in one READ COMMITTED transaction and commits it when fn
// returns nil. When fn fails or panics the transaction is rolled back (and
// the panic continues). A transaction that fails with a serialization
// failure or a deadlock is retried, calling fn again, up to
// maxWriteAttempts times in all.
func (s *Store) Write(ctx context.Context, fn func(docstore.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.writeOnce(ctx, fn)
		if err == nil || attempt >= maxWriteAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
		s.log.Debug("postgres: retrying a write transaction", "attempt", attempt, "err", err)
	}
}

func (s *Store) writeOnce(ctx context.Context, fn func(docstore.Tx) error) (err error) {
	const op = "postgres.Write"
	c, err := s.acquire(ctx, op)
	if err != nil {
		return err
	}
	defer c.Release()
	ptx, err := c.Begin(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	done := false
	defer func() {
		if !done { // fn panicked: roll back, then let the panic go on
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.acquireTimeout)
			defer cancel()
			_ = ptx.Rollback(rctx)
		}
	}()
	ferr := fn(&tx{q: ptx})
	done = true
	if ferr != nil {
		if rerr := ptx.Rollback(context.WithoutCancel(ctx)); rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) {
			s.log.Warn("postgres: rollback failed", "err", rerr)
		}
		return ferr
	}
	if err := ptx.Commit(ctx); err != nil {
		return mapErr(op, err)
	}
	return nil
}

// PurgeIdempotency deletes idempotency records created before the cut-off,
// in batches so that no transaction holds many row locks for long, and
// returns how many it deleted.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	const op = "postgres.PurgeIdempotency"
	const batch = 1000
	var total int64
	for {
		var n int64
		err := s.read(ctx, op, func(q queryer) error {
			tag, err := q.Exec(ctx, `DELETE FROM idempotency WHERE key IN
				(SELECT key FROM idempotency WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
				toMicros(before), batch)
			n = tag.RowsAffected()
			return mapErr(op, err)
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < batch {
			return total, nil
		}
	}
}
