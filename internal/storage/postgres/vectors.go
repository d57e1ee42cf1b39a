package postgres

// Stored vectors (searchdb.Store): the vectors embedders computed, in
// search_vectors (migration 00009), as float32 little-endian bytes. They
// leave with their document (the AFTER DELETE trigger basalt_search_vectors
// of a collection with vector fields, in the delete's transaction), with
// their collection (dropSearch) and with their field (syncVectors).

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/search/searchdb"
)

// PutVectors stores the vectors whose document exists at their version
// and whose field the collection configures with their length, each
// replacing the one stored for its document and field, and appends
// event(v) to the outbox for each one stored, all in one transaction. The
// document row is locked (FOR SHARE) so that a delete committing meanwhile
// waits and takes the new vector with it; the collection's definition is
// read under its shared lock, so a change of the vector fields waits too.
// The caller wakes the relay when it returns a positive count, as after
// any write that recorded events.
func (s *Store) PutVectors(ctx context.Context, vs []searchdb.StoredVector, event func(searchdb.StoredVector) (eventbus.Event, error)) (int, error) {
	const op = "postgres.PutVectors"
	if len(vs) == 0 {
		return 0, nil
	}
	for _, v := range vs {
		if _, err := tableName(op, v.Collection); err != nil {
			return 0, err
		}
	}
	var stored int
	err := s.Write(ctx, func(dtx docstore.Tx) error {
		t := dtx.(*tx)
		stored = 0
		// The vectors of configured fields, each insert queued in one
		// batch (one round trip).
		collections := map[string]docstore.Collection{}
		var queued []searchdb.StoredVector
		batch := &pgx.Batch{}
		for _, v := range vs {
			c, seen := collections[v.Collection]
			if !seen {
				var err error
				c, err = getCollectionShared(ctx, t.q, v.Collection)
				if err != nil && !fault.Is(err, fault.NotFound) {
					return err
				}
				collections[v.Collection] = c // a missing collection has no vector field
			}
			f, ok := c.Search.Vectors[v.Field]
			if !ok || f.Dimensions != len(v.Vector) {
				continue // the field left the configuration or changed
			}
			table, _ := tableName(op, v.Collection)
			hash := v.Hash
			if hash == nil {
				hash = []byte{}
			}
			batch.Queue(`INSERT INTO search_vectors (collection, field, document_id, version, hash, vector)
				SELECT $1, $2, d.id, d.version, $5, $6 FROM (
					SELECT id, version FROM `+table+` WHERE id = $3 AND version = $4 FOR SHARE) AS d
				ON CONFLICT (collection, field, document_id) DO UPDATE
				SET version = excluded.version, hash = excluded.hash, vector = excluded.vector`,
				v.Collection, v.Field, v.DocumentID, v.Version, hash, searchdb.EncodeVector(v.Vector))
			queued = append(queued, v)
		}
		if len(queued) == 0 {
			return nil
		}
		inserted := make([]bool, len(queued))
		results := t.q.SendBatch(ctx, batch)
		for i, v := range queued {
			tag, err := results.Exec()
			if err != nil {
				_ = results.Close()
				return tableErr(op, v.Collection, err)
			}
			inserted[i] = tag.RowsAffected() > 0 // else the document is gone or at another version
		}
		if err := results.Close(); err != nil {
			return mapErr(op, err)
		}
		for i, v := range queued {
			if !inserted[i] {
				continue
			}
			e, err := event(v)
			if err != nil {
				return err
			}
			if err := t.AppendOutbox(ctx, e); err != nil {
				return err
			}
			stored++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return stored, nil
}

// vectorColumns is the select list scanVectors reads.
const vectorColumns = "document_id, version, hash, vector"

func scanVectors(rows pgx.Rows, collection, field string) ([]searchdb.StoredVector, error) {
	defer rows.Close()
	var out []searchdb.StoredVector
	for rows.Next() {
		v := searchdb.StoredVector{Collection: collection, Field: field}
		var raw []byte
		if err := rows.Scan(&v.DocumentID, &v.Version, &v.Hash, &raw); err != nil {
			return nil, err
		}
		var err error
		if v.Vector, err = searchdb.DecodeVector(raw); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// readVectors runs a query of stored vectors; when it finds none, it
// checks that the collection exists (NotFound otherwise).
func (s *Store) readVectors(ctx context.Context, op, collection, field, text string, args ...any) ([]searchdb.StoredVector, error) {
	var out []searchdb.StoredVector
	err := s.read(ctx, op, func(q queryer) error {
		rows, err := q.Query(ctx, text, args...)
		if err != nil {
			return mapErr(op, err)
		}
		if out, err = scanVectors(rows, collection, field); err != nil {
			return mapErr(op, err)
		}
		if len(out) > 0 {
			return nil
		}
		exists, err := collectionExists(ctx, q, collection)
		if err != nil {
			return mapErr(op, err)
		}
		if !exists {
			return collectionNotFound(op, collection)
		}
		return nil
	})
	return out, err
}

// GetVectors returns the stored vectors of field for the ids that have
// one, in id order.
func (s *Store) GetVectors(ctx context.Context, collection, field string, ids []string) ([]searchdb.StoredVector, error) {
	const op = "postgres.GetVectors"
	ids = slices.Clone(ids)
	for i, id := range ids {
		ids[i] = nulFree(id)
	}
	return s.readVectors(ctx, op, collection, field, `SELECT `+vectorColumns+` FROM search_vectors
		WHERE collection = $1 AND field = $2 AND document_id = ANY($3::text[]) ORDER BY document_id`,
		collection, field, ids)
}

// ListVectors returns up to limit stored vectors of field in document id
// order, after the id after.
func (s *Store) ListVectors(ctx context.Context, collection, field, after string, limit int) ([]searchdb.StoredVector, error) {
	const op = "postgres.ListVectors"
	if limit <= 0 {
		return nil, fault.Newf(fault.Invalid, op, "limit must be positive, not %d", limit)
	}
	return s.readVectors(ctx, op, collection, field, `SELECT `+vectorColumns+` FROM search_vectors
		WHERE collection = $1 AND field = $2 AND document_id > $3 ORDER BY document_id LIMIT $4`,
		collection, field, nulFree(after), limit)
}
