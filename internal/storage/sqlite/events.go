package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// The event log.
//
// SQLite has one writer and the committer (commit.go) runs writes one after
// another, so the order in which outbox rows get their seq (AUTOINCREMENT)
// is the order in which they commit. seq is therefore the event's position:
// there is nothing to number, and a row rolled back with its write takes its
// seq with it (sqlite_sequence is rolled back too), so positions have no
// holes. AUTOINCREMENT never gives a seq again, even after the rows holding
// the highest ones were deleted: the newest position given is the outbox's
// entry in sqlite_sequence, which survives trimming.

var (
	_ eventbus.Log     = (*Store)(nil)
	_ eventbus.Cursors = (*Store)(nil)
)

// trimBatch bounds the rows one trimming transaction deletes, so that the
// single writer is never held for long.
const trimBatch = 1000

// Sequence numbers nothing: an event's position is its seq, given when it
// is written. It returns 0.
func (s *Store) Sequence(context.Context, int) (int, error) { return 0, nil }

// ReadEvents returns up to limit events with a position above after, in
// position order.
func (s *Store) ReadEvents(ctx context.Context, after int64, limit int) ([]eventbus.Event, error) {
	const op = "sqlite.ReadEvents"
	if limit <= 0 {
		return nil, fault.Newf(fault.Invalid, op, "limit must be positive, not %d", limit)
	}
	rows, err := s.reads.QueryContext(ctx, `SELECT seq, event_id, type, collection, document_id, version, payload, batch_id, created_at, trace_parent
		FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out := make([]eventbus.Event, 0, min(limit, 256))
	for rows.Next() {
		var e eventbus.Event
		var typ string
		var payload []byte
		var at int64
		if err := rows.Scan(&e.Position, &e.ID, &typ, &e.Collection, &e.DocumentID, &e.Version, &payload, &e.BatchID, &at, &e.TraceParent); err != nil {
			return nil, mapErr(op, err)
		}
		e.Type = eventbus.Type(typ)
		e.Payload = payload
		e.Time = fromMicros(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// LogBounds returns the position up to which events were trimmed and the
// highest position given (0 before the first event), read in one snapshot.
func (s *Store) LogBounds(ctx context.Context) (trimmed, newest int64, err error) {
	const op = "sqlite.LogBounds"
	err = s.reads.QueryRowContext(ctx, `SELECT (SELECT trimmed FROM event_log WHERE id = 1),
		COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)`).Scan(&trimmed, &newest)
	if err != nil {
		return 0, 0, mapErr(op, err)
	}
	return trimmed, newest, nil
}

// TrimEvents deletes the events with a position ≤ upTo whose time is
// before the cut-off and that no event within the window precedes (a
// prefix of the log: no hole is left above the bound), in batches, and
// raises the trimmed bound to just
// below the oldest event left (to the newest position when none is left).
// An event kept because it is recent keeps the bound below itself, so
// "every position ≤ trimmed is gone" stays true.
func (s *Store) TrimEvents(ctx context.Context, before time.Time, upTo int64) (int64, error) {
	const op = "sqlite.TrimEvents"
	var total int64
	for {
		var n int64
		err := s.Write(ctx, func(dt docstore.Tx) error {
			q := dt.(*tx).q
			// Only a prefix goes: an event kept because it is recent keeps
			// every later one (times need not follow positions), so the
			// log never has a hole above the trimmed bound.
			cut := toMicros(before)
			res, err := q.ExecContext(ctx, `DELETE FROM outbox WHERE seq IN
				(SELECT seq FROM outbox WHERE seq <= ? AND created_at < ?
					AND seq < COALESCE((SELECT seq FROM outbox WHERE created_at >= ? ORDER BY seq LIMIT 1), ? + 1)
					ORDER BY seq LIMIT ?)`,
				upTo, cut, cut, upTo, trimBatch)
			if err != nil {
				return mapErr(op, err)
			}
			if n, err = res.RowsAffected(); err != nil || n == 0 {
				return mapErr(op, err)
			}
			_, err = q.ExecContext(ctx, `UPDATE event_log SET trimmed = max(trimmed, COALESCE(
					(SELECT min(seq) - 1 FROM outbox),
					(SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0))
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

// LogSize returns how many events the outbox holds and the total size of
// their payloads in bytes.
func (s *Store) LogSize(ctx context.Context) (events, bytes int64, err error) {
	const op = "sqlite.LogSize"
	err = s.reads.QueryRowContext(ctx,
		`SELECT count(*), COALESCE(sum(length(CAST(payload AS BLOB))), 0) FROM outbox`).Scan(&events, &bytes)
	if err != nil {
		return 0, 0, mapErr(op, err)
	}
	return events, bytes, nil
}

// Cursor returns the position stored for the consumer called name.
func (s *Store) Cursor(ctx context.Context, name string) (pos int64, found bool, err error) {
	const op = "sqlite.Cursor"
	err = s.reads.QueryRowContext(ctx, `SELECT position FROM event_cursors WHERE name = ?`, name).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, mapErr(op, err)
	}
	return pos, true, nil
}

// SetCursor stores the position of the consumer called name.
func (s *Store) SetCursor(ctx context.Context, name string, pos int64) error {
	const op = "sqlite.SetCursor"
	if name == "" {
		return fault.New(fault.Invalid, op, "a cursor needs a name")
	}
	return s.Write(ctx, func(dt docstore.Tx) error {
		_, err := dt.(*tx).q.ExecContext(ctx, `INSERT INTO event_cursors (name, position, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
			name, pos, toMicros(time.Now()))
		return mapErr(op, err)
	})
}

// ListCursors returns every stored cursor, ordered by name (bytewise).
func (s *Store) ListCursors(ctx context.Context) ([]eventbus.Cursor, error) {
	const op = "sqlite.ListCursors"
	rows, err := s.reads.QueryContext(ctx, `SELECT name, position, updated_at FROM event_cursors ORDER BY name`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []eventbus.Cursor
	for rows.Next() {
		var c eventbus.Cursor
		var at int64
		if err := rows.Scan(&c.Name, &c.Position, &at); err != nil {
			return nil, mapErr(op, err)
		}
		c.UpdatedAt = fromMicros(at)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// LockCursor takes name's lock and holds it until Unlock is called or ctx
// ends. One process owns a SQLite database (the data directory is locked),
// so the lock lives in this Store and is never lost otherwise.
func (s *Store) LockCursor(ctx context.Context, name string) (eventbus.CursorLock, error) {
	const op = "sqlite.LockCursor"
	if err := ctx.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	held, end := context.WithCancel(ctx)
	release, err := s.cursorLocks.lock(held, name)
	if err != nil {
		end()
		return nil, mapErr(op, err)
	}
	l := &cursorLockHeld{s: s, name: name, held: held}
	// The lock goes when held ends, once a SetCursor in progress is done.
	stop := context.AfterFunc(held, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		release()
	})
	l.unlock = func() {
		stopped := stop()
		end()
		if stopped {
			l.mu.Lock()
			defer l.mu.Unlock()
			release()
		}
	}
	return l, nil
}

// cursorLockHeld is a held cursor lock of a SQLite store.
type cursorLockHeld struct {
	s      *Store
	name   string
	held   context.Context
	unlock func()
	mu     sync.Mutex // held across SetCursor and the release, so none writes after the release
}

// Held ends on Unlock or when LockCursor's ctx ends.
func (l *cursorLockHeld) Held() context.Context { return l.held }

// SetCursor stores the locked name's position while the lock is held.
func (l *cursorLockHeld) SetCursor(ctx context.Context, pos int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held.Err() != nil {
		return fault.Wrap(fault.Conflict, "sqlite.SetCursor", eventbus.ErrLockLost, "the cursor lock of "+l.name+" is no longer held")
	}
	return l.s.SetCursor(ctx, l.name, pos)
}

// Unlock releases the lock.
func (l *cursorLockHeld) Unlock() { l.unlock() }

// cursorLocks is a set of named exclusive locks; its zero value is ready.
type cursorLocks struct {
	mu sync.Mutex
	m  map[string]*cursorLock
}

// cursorLock is one name's lock: a token in a channel of capacity one,
// and how many callers hold or wait for it (the entry goes when none do).
type cursorLock struct {
	held chan struct{}
	refs int
}

// lock takes name's lock, waiting while another caller holds it or until
// ctx ends, and returns the function that releases it.
func (l *cursorLocks) lock(ctx context.Context, name string) (func(), error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*cursorLock)
	}
	c := l.m[name]
	if c == nil {
		c = &cursorLock{held: make(chan struct{}, 1)}
		l.m[name] = c
	}
	c.refs++
	l.mu.Unlock()

	select {
	case c.held <- struct{}{}:
	case <-ctx.Done():
		l.drop(name, c)
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-c.held
			l.drop(name, c)
		})
	}, nil
}

func (l *cursorLocks) drop(name string, c *cursorLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.refs--
	if c.refs == 0 {
		delete(l.m, name)
	}
}
