package sqlite

import (
	"context"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
)

var _ docstore.SecretKeeper = (*Store)(nil)

// Secret implements docstore.SecretKeeper.
func (s *Store) Secret(ctx context.Context, name string, candidate []byte) ([]byte, error) {
	const op = "sqlite.Secret"
	var value []byte
	err := s.Write(ctx, func(dt docstore.Tx) error {
		q := dt.(*tx).q
		if _, err := q.ExecContext(ctx, `INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, name, candidate, time.Now().UnixMicro()); err != nil {
			return mapErr(op, err)
		}
		return mapErr(op, q.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&value))
	})
	return value, err
}
