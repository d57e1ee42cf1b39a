package postgres

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// The event log.
//
// An outbox row's seq is taken when it is inserted, but transactions commit
// in any order: a row with a low seq may become visible after rows with
// higher ones were read. So readers never follow seq. Sequence gives
// committed rows their position instead, under the row lock of event_log
// (SELECT … FOR UPDATE), which serializes every sequencer of every process:
// after taking the lock, each statement of the sequencer's transaction
// (READ COMMITTED) sees every earlier sequencer's commit, numbers the
// committed rows that have no position yet with the positions that follow
// last_position, and raises last_position. A row whose transaction commits
// late is numbered by the next Sequence, with a higher position than any
// given before. Positions are given in whole transactions, so readers see
// them as a prefix with no holes (apart from trimmed events).
//
// Each Sequence that numbered events sends NOTIFY basalt_events (payload:
// the new last position); ListenEvents delivers it to other processes.

var (
	_ eventbus.Log     = (*Store)(nil)
	_ eventbus.Cursors = (*Store)(nil)
	_ eventbus.Waker   = (*Store)(nil)
)

// eventsChannel is the LISTEN/NOTIFY channel of newly numbered events.
const eventsChannel = "basalt_events"

// trimBatch bounds the rows one trimming transaction deletes.
const trimBatch = 1000

// inTx runs fn in one READ COMMITTED transaction on a pooled connection.
func (s *Store) inTx(ctx context.Context, op string, fn func(q pgx.Tx) error) error {
	c, err := s.acquire(ctx, op)
	if err != nil {
		return err
	}
	defer c.Release()
	return mapErr(op, pgx.BeginFunc(ctx, c, fn))
}

// Sequence numbers up to limit committed events that have no position yet,
// in seq order, and returns how many it numbered.
func (s *Store) Sequence(ctx context.Context, limit int) (int, error) {
	const op = "postgres.Sequence"
	if limit <= 0 {
		return 0, fault.Newf(fault.Invalid, op, "limit must be positive, not %d", limit)
	}
	var n int
	err := s.inTx(ctx, op, func(q pgx.Tx) error {
		n = 0
		var last int64
		if err := q.QueryRow(ctx, `SELECT last_position FROM event_log WHERE id = 1 FOR UPDATE`).Scan(&last); err != nil {
			return mapErr(op, err)
		}
		tag, err := q.Exec(ctx, `UPDATE outbox o SET position = $1 + u.n
			FROM (SELECT seq, row_number() OVER (ORDER BY seq) AS n
				FROM outbox WHERE position IS NULL ORDER BY seq LIMIT $2) u
			WHERE o.seq = u.seq`, last, limit)
		if err != nil {
			return mapErr(op, err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		last += tag.RowsAffected()
		if _, err := q.Exec(ctx, `UPDATE event_log SET last_position = $1 WHERE id = 1`, last); err != nil {
			return mapErr(op, err)
		}
		if _, err := q.Exec(ctx, `SELECT pg_notify($1, $2)`, eventsChannel, strconv.FormatInt(last, 10)); err != nil {
			return mapErr(op, err)
		}
		n = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ReadEvents returns up to limit numbered events with a position above
// after, in position order.
func (s *Store) ReadEvents(ctx context.Context, after int64, limit int) ([]eventbus.Event, error) {
	const op = "postgres.ReadEvents"
	if limit <= 0 {
		return nil, fault.Newf(fault.Invalid, op, "limit must be positive, not %d", limit)
	}
	var out []eventbus.Event
	err := s.read(ctx, op, func(q queryer) error {
		rows, err := q.Query(ctx, `SELECT position, event_id, type, collection, document_id, version, payload, batch_id, created_at, trace_parent
			FROM outbox WHERE position > $1 ORDER BY position LIMIT $2`, after, limit)
		if err != nil {
			return mapErr(op, err)
		}
		defer rows.Close()
		out = make([]eventbus.Event, 0, min(limit, 256))
		for rows.Next() {
			var e eventbus.Event
			var typ, payload string
			var at int64
			if err := rows.Scan(&e.Position, &e.ID, &typ, &e.Collection, &e.DocumentID, &e.Version, &payload, &e.BatchID, &at, &e.TraceParent); err != nil {
				return mapErr(op, err)
			}
			e.Type = eventbus.Type(typ)
			e.Payload = []byte(payload)
			e.Time = fromMicros(at)
			out = append(out, e)
		}
		return mapErr(op, rows.Err())
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LogBounds returns the position up to which events were trimmed and the
// last position given.
func (s *Store) LogBounds(ctx context.Context) (trimmed, newest int64, err error) {
	const op = "postgres.LogBounds"
	err = s.read(ctx, op, func(q queryer) error {
		return mapErr(op, q.QueryRow(ctx, `SELECT trimmed, last_position FROM event_log WHERE id = 1`).Scan(&trimmed, &newest))
	})
	if err != nil {
		return 0, 0, err
	}
	return trimmed, newest, nil
}

// TrimEvents deletes the numbered events with a position ≤ upTo whose time
// is before the cut-off and that no event within the window precedes (a
// prefix of the log: no hole is left above the bound), in batches, and
// raises the trimmed bound to just below the oldest numbered event left
// (to the last position given when none is left). The bound is computed
// under the event_log row lock, so no Sequence gives positions meanwhile;
// an event kept because it is recent keeps the bound below itself.
func (s *Store) TrimEvents(ctx context.Context, before time.Time, upTo int64) (int64, error) {
	const op = "postgres.TrimEvents"
	var total int64
	for {
		var n int64
		err := s.inTx(ctx, op, func(q pgx.Tx) error {
			// Only a prefix goes: an event kept because it is recent keeps
			// every later one (times need not follow positions), so the
			// log never has a hole above the trimmed bound.
			tag, err := q.Exec(ctx, `DELETE FROM outbox WHERE seq IN
				(SELECT seq FROM outbox WHERE position <= $1 AND created_at < $2
					AND position < COALESCE((SELECT position FROM outbox
						WHERE position IS NOT NULL AND created_at >= $2 ORDER BY position LIMIT 1), $1 + 1)
					ORDER BY position LIMIT $3)`,
				upTo, toMicros(before), trimBatch)
			if err != nil {
				return mapErr(op, err)
			}
			if n = tag.RowsAffected(); n == 0 {
				return nil
			}
			// Lock first: the next statement's snapshot then includes
			// every Sequence that committed before.
			if _, err := q.Exec(ctx, `SELECT 1 FROM event_log WHERE id = 1 FOR UPDATE`); err != nil {
				return mapErr(op, err)
			}
			_, err = q.Exec(ctx, `UPDATE event_log SET trimmed = GREATEST(trimmed,
					COALESCE((SELECT min(position) - 1 FROM outbox WHERE position IS NOT NULL), last_position))
				WHERE id = 1`)
			return mapErr(op, err)
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < trimBatch {
			return total, nil
		}
	}
}

// LogSize returns how many events the outbox holds (numbered or not) and
// the total size of their payloads in bytes.
func (s *Store) LogSize(ctx context.Context) (events, bytes int64, err error) {
	const op = "postgres.LogSize"
	err = s.read(ctx, op, func(q queryer) error {
		return mapErr(op, q.QueryRow(ctx,
			`SELECT count(*), COALESCE(sum(octet_length(payload)), 0) FROM outbox`).Scan(&events, &bytes))
	})
	if err != nil {
		return 0, 0, err
	}
	return events, bytes, nil
}

// Cursor returns the position stored for the consumer called name.
func (s *Store) Cursor(ctx context.Context, name string) (pos int64, found bool, err error) {
	const op = "postgres.Cursor"
	err = s.read(ctx, op, func(q queryer) error {
		err := q.QueryRow(ctx, `SELECT position FROM event_cursors WHERE name = $1`, name).Scan(&pos)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return mapErr(op, err)
	})
	if err != nil {
		return 0, false, err
	}
	return pos, found, nil
}

// SetCursor stores the position of the consumer called name.
func (s *Store) SetCursor(ctx context.Context, name string, pos int64) error {
	const op = "postgres.SetCursor"
	if name == "" {
		return fault.New(fault.Invalid, op, "a cursor needs a name")
	}
	return s.read(ctx, op, func(q queryer) error {
		_, err := q.Exec(ctx, `INSERT INTO event_cursors (name, position, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
			name, pos, toMicros(time.Now()))
		return mapErr(op, err)
	})
}

// ListCursors returns every stored cursor, ordered by name (bytewise).
func (s *Store) ListCursors(ctx context.Context) ([]eventbus.Cursor, error) {
	const op = "postgres.ListCursors"
	var out []eventbus.Cursor
	err := s.read(ctx, op, func(q queryer) error {
		rows, err := q.Query(ctx, `SELECT name, position, updated_at FROM event_cursors ORDER BY name`)
		if err != nil {
			return mapErr(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var c eventbus.Cursor
			var at int64
			if err := rows.Scan(&c.Name, &c.Position, &at); err != nil {
				return mapErr(op, err)
			}
			c.UpdatedAt = fromMicros(at)
			out = append(out, c)
		}
		return mapErr(op, rows.Err())
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// lockCheckInterval is how often a held cursor lock checks its session, and
// lockCheckTimeout how long a check may take before the session is given up.
const (
	lockCheckInterval = time.Second
	lockCheckTimeout  = 5 * time.Second
)

// CursorLockKey is the text whose hash (hashtextextended(key, 0)) is the
// advisory lock of the consumer called name: pg_locks shows who holds it.
func CursorLockKey(name string) string { return "basalt.cursor:" + name }

// LockCursor takes name's lock, across every process on the database, and
// holds it until Unlock is called, ctx ends or its session ends: a session
// advisory lock on a hash of "basalt.cursor:"+name. The session is a
// connection of its own, outside the pool: consumers hold their locks for
// as long as they run, and waiting processes wait for as long as that,
// which must not take connections from requests. Waiting is bounded by ctx
// only, not by the statement timeout.
//
// The server releases the lock when the session ends, and another process
// may then take it: the lock checks its session every second (SELECT 1,
// within the check's timeout) and ends Held as soon as a check or a write
// on it fails. SetCursor writes through the session, so it can only
// succeed while the lock is held.
func (s *Store) LockCursor(ctx context.Context, name string) (eventbus.CursorLock, error) {
	const op = "postgres.LockCursor"
	if err := ctx.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	conn, err := s.connect(ctx, op)
	if err != nil {
		return nil, err
	}
	key := CursorLockKey(name)
	// The lock is the session's; the transaction only scopes the
	// statement timeout's suspension.
	err = pgx.BeginFunc(ctx, conn, func(q pgx.Tx) error {
		if _, err := q.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, key)
		return err
	})
	if err != nil {
		// The wait was cancelled or the connection failed: end the
		// session, so that no lock it might hold survives.
		s.closeConn(conn)
		return nil, mapErr(op, err)
	}
	held, end := context.WithCancel(ctx)
	l := &cursorLock{s: s, conn: conn, name: name, key: key, held: held, end: end, done: make(chan struct{})}
	stop := context.AfterFunc(held, l.release)
	l.stop = stop
	go l.watch()
	return l, nil
}

// cursorLock is a held cursor lock: the session holding the advisory lock.
type cursorLock struct {
	s         *Store
	name, key string
	held      context.Context
	end       context.CancelFunc
	stop      func() bool   // stops the release when held ends
	done      chan struct{} // closed when watch returns

	mu       sync.Mutex // serializes the uses of conn
	conn     *pgx.Conn
	released bool
}

// Held ends as soon as the lock may be lost, on Unlock, or when
// LockCursor's ctx ends.
func (l *cursorLock) Held() context.Context { return l.held }

// SetCursor stores the locked name's position through the lock's session:
// it fails if the session, and so the lock, is gone.
func (l *cursorLock) SetCursor(ctx context.Context, pos int64) error {
	const op = "postgres.SetCursor"
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released || l.held.Err() != nil {
		return fault.Wrap(fault.Conflict, op, eventbus.ErrLockLost, "the cursor lock of "+l.name+" is no longer held")
	}
	_, err := l.conn.Exec(ctx, `INSERT INTO event_cursors (name, position, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
		l.name, pos, toMicros(time.Now()))
	if err != nil && l.conn.IsClosed() {
		// The session is gone (or its use was cut off): the lock may
		// be another's already.
		l.end()
		return fault.Wrap(fault.Conflict, op, eventbus.ErrLockLost, err.Error())
	}
	return mapErr(op, err)
}

// Unlock releases the lock and waits for its watch to end.
func (l *cursorLock) Unlock() {
	stopped := l.stop()
	l.end()
	if stopped {
		l.release()
	}
	<-l.done
}

// watch checks the session every lockCheckInterval until held ends, and
// ends held when a check fails.
func (l *cursorLock) watch() {
	defer close(l.done)
	tick := time.NewTicker(lockCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-l.held.Done():
			return
		case <-tick.C:
		}
		if err := l.check(); err != nil {
			if l.held.Err() == nil {
				l.s.log.Warn("postgres: a cursor lock's session failed; the lock may be another's", "cursor", l.name, "err", err)
			}
			l.end()
			return
		}
	}
}

// check runs a query on the session, within a bound: a session that does
// not answer may have been ended by the server.
func (l *cursorLock) check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), lockCheckTimeout)
	defer cancel()
	_, err := l.conn.Exec(ctx, `SELECT 1`)
	return err
}

// release unlocks and ends the session (ending the session alone would
// release the lock; unlocking first hands it over without waiting for
// the server to notice).
func (l *cursorLock) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return
	}
	l.released = true
	if !l.conn.IsClosed() {
		rctx, cancel := context.WithTimeout(context.Background(), l.s.acquireTimeout)
		defer cancel()
		var unlocked bool
		if err := l.conn.QueryRow(rctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, l.key).Scan(&unlocked); err != nil || !unlocked {
			l.s.log.Warn("postgres: releasing a cursor lock failed; ending its session", "cursor", l.name, "err", err)
		}
	}
	l.s.closeConn(l.conn)
}

// connect opens a connection outside the pool, configured like the pool's.
func (s *Store) connect(ctx context.Context, op string) (*pgx.Conn, error) {
	if s.closed.Load() {
		return nil, fault.New(fault.Unavailable, op, "the store is closed")
	}
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return nil, mapErr(op, err)
	}
	return conn, nil
}

// closeConn ends a connection's session.
func (s *Store) closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), s.acquireTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}

// ListenEvents calls fn after each notice that a Sequence (of any process)
// numbered events, until ctx ends (it then returns nil). It listens on a
// connection of its own, outside the pool, and returns an error when that
// connection fails; the caller then polls, and may listen again.
func (s *Store) ListenEvents(ctx context.Context, fn func()) error {
	const op = "postgres.ListenEvents"
	if s.closed.Load() {
		return fault.New(fault.Unavailable, op, "the store is closed")
	}
	cfg := s.pool.Config().ConnConfig
	// Waiting for a notice is not a statement: when ctx ends, stop reading
	// at once instead of asking the server to cancel.
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return mapErr(op, err)
	}
	defer s.closeConn(conn)
	if _, err := conn.Exec(ctx, "LISTEN "+eventsChannel); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return mapErr(op, err)
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return mapErr(op, err)
		}
		fn()
	}
}
