package sqlite

import (
	"context"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
)

var _ docstore.InstanceRegistry = (*Store)(nil)

// Heartbeat implements docstore.InstanceRegistry.
func (s *Store) Heartbeat(ctx context.Context, in docstore.Instance) error {
	const op = "sqlite.Heartbeat"
	now := time.Now()
	return s.Write(ctx, func(dt docstore.Tx) error {
		q := dt.(*tx).q
		if _, err := q.ExecContext(ctx, `INSERT INTO instances (id, version, migration, host, targets, started_at, seen_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`,
			in.ID, in.Version, in.Migration, in.Host, in.Targets, in.StartedAt.UnixMicro(), now.UnixMicro()); err != nil {
			return mapErr(op, err)
		}
		_, err := q.ExecContext(ctx, `DELETE FROM instances WHERE seen_at < ?`, now.Add(-24*time.Hour).UnixMicro())
		return mapErr(op, err)
	})
}

// Leave implements docstore.InstanceRegistry.
func (s *Store) Leave(ctx context.Context, id string) error {
	const op = "sqlite.Leave"
	return s.Write(ctx, func(dt docstore.Tx) error {
		_, err := dt.(*tx).q.ExecContext(ctx, `DELETE FROM instances WHERE id = ?`, id)
		return mapErr(op, err)
	})
}

// Instances implements docstore.InstanceRegistry.
func (s *Store) Instances(ctx context.Context, since time.Time) ([]docstore.Instance, error) {
	const op = "sqlite.Instances"
	rows, err := s.read.QueryContext(ctx, `SELECT id, version, migration, host, targets, started_at, seen_at
		FROM instances WHERE seen_at >= ? ORDER BY started_at, id`, since.UnixMicro())
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []docstore.Instance
	for rows.Next() {
		var in docstore.Instance
		var started, seen int64
		if err := rows.Scan(&in.ID, &in.Version, &in.Migration, &in.Host, &in.Targets, &started, &seen); err != nil {
			return nil, mapErr(op, err)
		}
		in.StartedAt, in.SeenAt = time.UnixMicro(started).UTC(), time.UnixMicro(seen).UTC()
		out = append(out, in)
	}
	return out, mapErr(op, rows.Err())
}
