package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

var _ consumer.DeadLetterStore = (*Store)(nil)

const deadLetterColumns = `id, consumer, event, error, attempts, retry, created_at, updated_at`

// AddDeadLetter stores d and returns its id.
func (s *Store) AddDeadLetter(ctx context.Context, d consumer.DeadLetter) (int64, error) {
	const op = "sqlite.AddDeadLetter"
	event, err := json.Marshal(d.Event)
	if err != nil {
		return 0, fault.Internalf(op, err)
	}
	now := toMicros(time.Now())
	var id int64
	err = s.Write(ctx, func(dt docstore.Tx) error {
		res, err := dt.(*tx).q.ExecContext(ctx, `INSERT INTO event_dead_letters
			(consumer, event_id, position, event, error, attempts, retry, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.Consumer, d.Event.ID, d.Event.Position, string(event), d.Error, d.Attempts, d.Retry, now, now)
		if err != nil {
			return mapErr(op, err)
		}
		id, err = res.LastInsertId()
		return mapErr(op, err)
	})
	return id, err
}

// ListDeadLetters returns up to limit dead letters with an id above after,
// in id order, of one consumer or (consumer "") of all.
func (s *Store) ListDeadLetters(ctx context.Context, consumerName string, after int64, limit int) ([]consumer.DeadLetter, error) {
	const op = "sqlite.ListDeadLetters"
	if limit <= 0 {
		return nil, fault.Newf(fault.Invalid, op, "limit must be positive, not %d", limit)
	}
	var rows *sql.Rows
	var err error
	if consumerName == "" {
		rows, err = s.reads.QueryContext(ctx, `SELECT `+deadLetterColumns+` FROM event_dead_letters
			WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	} else {
		rows, err = s.reads.QueryContext(ctx, `SELECT `+deadLetterColumns+` FROM event_dead_letters
			WHERE consumer = ? AND id > ? ORDER BY id LIMIT ?`, consumerName, after, limit)
	}
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []consumer.DeadLetter
	for rows.Next() {
		d, err := scanDeadLetter(op, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// GetDeadLetter returns one dead letter.
func (s *Store) GetDeadLetter(ctx context.Context, id int64) (consumer.DeadLetter, error) {
	const op = "sqlite.GetDeadLetter"
	d, err := scanDeadLetter(op, s.reads.QueryRowContext(ctx,
		`SELECT `+deadLetterColumns+` FROM event_dead_letters WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return consumer.DeadLetter{}, deadLetterNotFound(op, id)
	}
	return d, err
}

// MarkDeadLetterRetry asks for the dead letter to be handed to its
// consumer again.
func (s *Store) MarkDeadLetterRetry(ctx context.Context, id int64) error {
	return s.changeDeadLetter(ctx, "sqlite.MarkDeadLetterRetry", id,
		`UPDATE event_dead_letters SET retry = 1, updated_at = ? WHERE id = ?`, toMicros(time.Now()), id)
}

// UpdateDeadLetter records another failed attempt and clears Retry.
func (s *Store) UpdateDeadLetter(ctx context.Context, id int64, errText string, attempts int) error {
	return s.changeDeadLetter(ctx, "sqlite.UpdateDeadLetter", id,
		`UPDATE event_dead_letters SET error = ?, attempts = ?, retry = 0, updated_at = ? WHERE id = ?`,
		errText, attempts, toMicros(time.Now()), id)
}

// DeleteDeadLetter removes one dead letter.
func (s *Store) DeleteDeadLetter(ctx context.Context, id int64) error {
	return s.changeDeadLetter(ctx, "sqlite.DeleteDeadLetter", id, `DELETE FROM event_dead_letters WHERE id = ?`, id)
}

// changeDeadLetter runs one statement on dead letter id, NotFound when it
// changed no row.
func (s *Store) changeDeadLetter(ctx context.Context, op string, id int64, stmt string, args ...any) error {
	return s.Write(ctx, func(dt docstore.Tx) error {
		res, err := dt.(*tx).q.ExecContext(ctx, stmt, args...)
		if err != nil {
			return mapErr(op, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return mapErr(op, err)
		}
		if n == 0 {
			return deadLetterNotFound(op, id)
		}
		return nil
	})
}

// CountDeadLetters returns how many dead letters each consumer has.
func (s *Store) CountDeadLetters(ctx context.Context) (map[string]int64, error) {
	const op = "sqlite.CountDeadLetters"
	rows, err := s.reads.QueryContext(ctx, `SELECT consumer, count(*) FROM event_dead_letters GROUP BY consumer`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, mapErr(op, err)
		}
		out[name] = n
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

func scanDeadLetter(op string, sc scanner) (consumer.DeadLetter, error) {
	var d consumer.DeadLetter
	var event []byte
	var created, updated int64
	if err := sc.Scan(&d.ID, &d.Consumer, &event, &d.Error, &d.Attempts, &d.Retry, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return d, err
		}
		return d, mapErr(op, err)
	}
	if err := json.Unmarshal(event, &d.Event); err != nil {
		return d, fault.Internalf(op, err)
	}
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	return d, nil
}

func deadLetterNotFound(op string, id int64) error {
	return fault.Newf(fault.NotFound, op, "dead letter %d not found", id)
}
