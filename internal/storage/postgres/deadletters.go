package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/fault"
)

var _ consumer.DeadLetterStore = (*Store)(nil)

const deadLetterColumns = `id, consumer, event, error, attempts, retry, created_at, updated_at`

// AddDeadLetter stores d and returns its id.
func (s *Store) AddDeadLetter(ctx context.Context, d consumer.DeadLetter) (int64, error) {
	const op = "postgres.AddDeadLetter"
	event, err := json.Marshal(d.Event)
	if err != nil {
		return 0, fault.Internalf(op, err)
	}
	now := toMicros(time.Now())
	var id int64
	err = s.read(ctx, op, func(q queryer) error {
		return mapErr(op, q.QueryRow(ctx, `INSERT INTO event_dead_letters
			(consumer, event_id, position, event, error, attempts, retry, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
			d.Consumer, d.Event.ID, d.Event.Position, string(event), d.Error, d.Attempts, d.Retry, now).Scan(&id))
	})
	return id, err
}

// ListDeadLetters returns up to limit dead letters with an id above after,
// in id order, of one consumer or (consumer "") of all.
func (s *Store) ListDeadLetters(ctx context.Context, consumerName string, after int64, limit int) ([]consumer.DeadLetter, error) {
	const op = "postgres.ListDeadLetters"
	if limit <= 0 {
		return nil, fault.Newf(fault.Invalid, op, "limit must be positive, not %d", limit)
	}
	var out []consumer.DeadLetter
	err := s.read(ctx, op, func(q queryer) error {
		var rows pgx.Rows
		var err error
		if consumerName == "" {
			rows, err = q.Query(ctx, `SELECT `+deadLetterColumns+` FROM event_dead_letters
				WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
		} else {
			rows, err = q.Query(ctx, `SELECT `+deadLetterColumns+` FROM event_dead_letters
				WHERE consumer = $1 AND id > $2 ORDER BY id LIMIT $3`, consumerName, after, limit)
		}
		if err != nil {
			return mapErr(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDeadLetter(op, rows)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return mapErr(op, rows.Err())
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetDeadLetter returns one dead letter.
func (s *Store) GetDeadLetter(ctx context.Context, id int64) (d consumer.DeadLetter, err error) {
	const op = "postgres.GetDeadLetter"
	err = s.read(ctx, op, func(q queryer) error {
		d, err = scanDeadLetter(op, q.QueryRow(ctx, `SELECT `+deadLetterColumns+` FROM event_dead_letters WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return deadLetterNotFound(op, id)
		}
		return err
	})
	return d, err
}

// MarkDeadLetterRetry asks for the dead letter to be handed to its
// consumer again.
func (s *Store) MarkDeadLetterRetry(ctx context.Context, id int64) error {
	return s.changeDeadLetter(ctx, "postgres.MarkDeadLetterRetry", id,
		`UPDATE event_dead_letters SET retry = true, updated_at = $2 WHERE id = $1`, id, toMicros(time.Now()))
}

// UpdateDeadLetter records another failed attempt and clears Retry.
func (s *Store) UpdateDeadLetter(ctx context.Context, id int64, errText string, attempts int) error {
	return s.changeDeadLetter(ctx, "postgres.UpdateDeadLetter", id,
		`UPDATE event_dead_letters SET error = $2, attempts = $3, retry = false, updated_at = $4 WHERE id = $1`,
		id, errText, attempts, toMicros(time.Now()))
}

// DeleteDeadLetter removes one dead letter.
func (s *Store) DeleteDeadLetter(ctx context.Context, id int64) error {
	return s.changeDeadLetter(ctx, "postgres.DeleteDeadLetter", id, `DELETE FROM event_dead_letters WHERE id = $1`, id)
}

// changeDeadLetter runs one statement on dead letter id, NotFound when it
// changed no row.
func (s *Store) changeDeadLetter(ctx context.Context, op string, id int64, stmt string, args ...any) error {
	return s.read(ctx, op, func(q queryer) error {
		tag, err := q.Exec(ctx, stmt, args...)
		if err != nil {
			return mapErr(op, err)
		}
		if tag.RowsAffected() == 0 {
			return deadLetterNotFound(op, id)
		}
		return nil
	})
}

// CountDeadLetters returns how many dead letters each consumer has.
func (s *Store) CountDeadLetters(ctx context.Context) (map[string]int64, error) {
	const op = "postgres.CountDeadLetters"
	out := make(map[string]int64)
	err := s.read(ctx, op, func(q queryer) error {
		rows, err := q.Query(ctx, `SELECT consumer, count(*) FROM event_dead_letters GROUP BY consumer`)
		if err != nil {
			return mapErr(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var n int64
			if err := rows.Scan(&name, &n); err != nil {
				return mapErr(op, err)
			}
			out[name] = n
		}
		return mapErr(op, rows.Err())
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func scanDeadLetter(op string, sc pgx.Row) (consumer.DeadLetter, error) {
	var d consumer.DeadLetter
	var event string
	var created, updated int64
	if err := sc.Scan(&d.ID, &d.Consumer, &event, &d.Error, &d.Attempts, &d.Retry, &created, &updated); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return d, err
		}
		return d, mapErr(op, err)
	}
	if err := json.Unmarshal([]byte(event), &d.Event); err != nil {
		return d, fault.Internalf(op, err)
	}
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	return d, nil
}

func deadLetterNotFound(op string, id int64) error {
	return fault.Newf(fault.NotFound, op, "dead letter %d not found", id)
}
