package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/basaltdev/basalt/internal/docstore"
)

var _ docstore.SecretKeeper = (*Store)(nil)

// Secret implements docstore.SecretKeeper.
func (s *Store) Secret(ctx context.Context, name string, candidate []byte) ([]byte, error) {
	const op = "postgres.Secret"
	var value []byte
	err := s.read(ctx, op, func(q queryer) error {
		// Insert if absent, then read whichever value won. When another
		// process inserts at the same moment, this statement's snapshot
		// may see neither row; the next attempt sees the winner.
		var err error
		for range 3 {
			err = q.QueryRow(ctx, `WITH ins AS (
					INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3)
					ON CONFLICT (name) DO NOTHING RETURNING value)
				SELECT value FROM ins UNION ALL SELECT value FROM secrets WHERE name = $1 LIMIT 1`,
				name, candidate, time.Now().UnixMicro()).Scan(&value)
			if !errors.Is(err, pgx.ErrNoRows) {
				break
			}
		}
		return mapErr(op, err)
	})
	return value, err
}
