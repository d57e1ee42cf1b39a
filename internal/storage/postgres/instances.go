package postgres

import (
	"context"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
)

var _ docstore.InstanceRegistry = (*Store)(nil)

// Heartbeat implements docstore.InstanceRegistry.
func (s *Store) Heartbeat(ctx context.Context, in docstore.Instance) error {
	const op = "postgres.Heartbeat"
	now := time.Now()
	return s.read(ctx, op, func(q queryer) error {
		if _, err := q.Exec(ctx, `INSERT INTO instances (id, version, migration, host, targets, started_at, seen_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`,
			in.ID, in.Version, in.Migration, in.Host, in.Targets, in.StartedAt.UnixMicro(), now.UnixMicro()); err != nil {
			return mapErr(op, err)
		}
		_, err := q.Exec(ctx, `DELETE FROM instances WHERE seen_at < $1`, now.Add(-24*time.Hour).UnixMicro())
		return mapErr(op, err)
	})
}

// Leave implements docstore.InstanceRegistry.
func (s *Store) Leave(ctx context.Context, id string) error {
	const op = "postgres.Leave"
	return s.read(ctx, op, func(q queryer) error {
		_, err := q.Exec(ctx, `DELETE FROM instances WHERE id = $1`, id)
		return mapErr(op, err)
	})
}

// Instances implements docstore.InstanceRegistry.
func (s *Store) Instances(ctx context.Context, since time.Time) ([]docstore.Instance, error) {
	const op = "postgres.Instances"
	var out []docstore.Instance
	err := s.read(ctx, op, func(q queryer) error {
		rows, err := q.Query(ctx, `SELECT id, version, migration, host, targets, started_at, seen_at
			FROM instances WHERE seen_at >= $1 ORDER BY started_at, id`, since.UnixMicro())
		if err != nil {
			return mapErr(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var in docstore.Instance
			var started, seen int64
			if err := rows.Scan(&in.ID, &in.Version, &in.Migration, &in.Host, &in.Targets, &started, &seen); err != nil {
				return mapErr(op, err)
			}
			in.StartedAt, in.SeenAt = time.UnixMicro(started).UTC(), time.UnixMicro(seen).UTC()
			out = append(out, in)
		}
		return mapErr(op, rows.Err())
	})
	return out, err
}
