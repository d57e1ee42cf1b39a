package sqlite

// Stored vectors (searchdb.Store): the table search_vectors, one row per
// collection, vector field and document, the vector as float32
// little-endian bytes. Rows leave with their document (a trigger on the
// documents table, sv_<c>_del, generated for the configured fields so
// that it deletes by primary key), with their collection, and with their
// field when the configuration drops it or changes its dimensions.

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/search/searchdb"
)

// sqlString returns s as an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// createVectorTrigger creates the trigger that deletes a document's
// vectors with it, when the collection has vector fields.
func (t *tx) createVectorTrigger(ctx context.Context, op, collection string, fields map[string]docstore.VectorField) error {
	if len(fields) == 0 {
		return nil
	}
	table, err := tableName(op, collection)
	if err != nil {
		return err
	}
	names := slices.Sorted(maps.Keys(fields))
	lits := make([]string, len(names))
	for i, n := range names {
		lits[i] = sqlString(n)
	}
	return mapErr(op, t.q.ddl(ctx, "CREATE TRIGGER sv_"+collection+"_del AFTER DELETE ON "+table+
		" BEGIN DELETE FROM search_vectors WHERE collection = "+sqlString(collection)+
		" AND field IN ("+strings.Join(lits, ", ")+") AND document_id = old.id; END"))
}

// updateVectors applies a change of the vector fields: the vectors of a
// field removed, or whose dimensions changed, are deleted.
func (t *tx) updateVectors(ctx context.Context, op string, prev map[string]docstore.VectorField, c docstore.Collection) error {
	changed := len(prev) != len(c.Search.Vectors)
	for name, f := range prev {
		g, ok := c.Search.Vectors[name]
		if ok && g.Dimensions == f.Dimensions {
			continue
		}
		changed = true
		if _, err := t.q.ExecContext(ctx, `DELETE FROM search_vectors WHERE collection = ? AND field = ?`,
			c.Name, name); err != nil {
			return mapErr(op, err)
		}
	}
	if !changed {
		return nil
	}
	if err := t.q.ddl(ctx, "DROP TRIGGER IF EXISTS sv_"+c.Name+"_del"); err != nil {
		return mapErr(op, err)
	}
	return t.createVectorTrigger(ctx, op, c.Name, c.Search.Vectors)
}

// PutVectors stores the vectors whose document exists at v.Version and
// whose field is configured with v's dimensions, each with the event event
// returns, in one transaction; the others are skipped. The caller wakes
// the outbox relay, as after any write.
func (s *Store) PutVectors(ctx context.Context, vs []searchdb.StoredVector, event func(searchdb.StoredVector) (eventbus.Event, error)) (int, error) {
	const op = "sqlite.PutVectors"
	var stored int
	err := s.Write(ctx, func(dt docstore.Tx) error {
		t := dt.(*tx)
		stored = 0
		cols := map[string]*docstore.Collection{}
		for _, v := range vs {
			c, ok := cols[v.Collection]
			if !ok {
				got, err := getCollection(ctx, t.q, v.Collection)
				if err != nil && !fault.Is(err, fault.NotFound) {
					return err
				}
				if err == nil {
					c = &got
				}
				cols[v.Collection] = c
			}
			if c == nil {
				continue
			}
			if f, ok := c.Search.Vectors[v.Field]; !ok || f.Dimensions != len(v.Vector) {
				continue
			}
			table, err := tableName(op, v.Collection)
			if err != nil {
				return err
			}
			hash := v.Hash
			if hash == nil {
				hash = []byte{}
			}
			res, err := t.q.ExecContext(ctx, `INSERT INTO search_vectors (collection, field, document_id, version, hash, vector)
				SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM `+table+` WHERE id = ?3 AND version = ?4)
				ON CONFLICT (collection, field, document_id) DO UPDATE SET
					version = excluded.version, hash = excluded.hash, vector = excluded.vector`,
				v.Collection, v.Field, v.DocumentID, v.Version, hash, searchdb.EncodeVector(v.Vector))
			if err != nil {
				return mapErr(op, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				if err != nil {
					return mapErr(op, err)
				}
				continue
			}
			e, err := event(v)
			if err != nil {
				return fault.Internalf(op, err)
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

// GetVectors returns the stored vectors of field for the ids that have
// one, in id order.
func (s *Store) GetVectors(ctx context.Context, collection, field string, ids []string) ([]searchdb.StoredVector, error) {
	const op = "sqlite.GetVectors"
	if err := s.vectorCollection(ctx, op, collection); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, fault.Internalf(op, err)
	}
	out, err := s.queryVectors(ctx, op, `SELECT collection, document_id, field, version, hash, vector FROM search_vectors
		WHERE collection = ? AND field = ? AND document_id IN (SELECT value FROM json_each(?))`,
		collection, field, string(list))
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b searchdb.StoredVector) int { return strings.Compare(a.DocumentID, b.DocumentID) })
	out = slices.CompactFunc(out, func(a, b searchdb.StoredVector) bool { return a.DocumentID == b.DocumentID })
	return out, nil
}

// ListVectors returns up to limit stored vectors of field in document id
// order after the id after.
func (s *Store) ListVectors(ctx context.Context, collection, field, after string, limit int) ([]searchdb.StoredVector, error) {
	const op = "sqlite.ListVectors"
	if err := s.vectorCollection(ctx, op, collection); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	return s.queryVectors(ctx, op, `SELECT collection, document_id, field, version, hash, vector FROM search_vectors
		WHERE collection = ? AND field = ? AND document_id > ? ORDER BY document_id LIMIT ?`,
		collection, field, after, limit)
}

// vectorCollection checks that the collection exists.
func (s *Store) vectorCollection(ctx context.Context, op, collection string) error {
	exists, err := collectionExists(ctx, s.reads, collection)
	if err != nil {
		return mapErr(op, err)
	}
	if !exists {
		return collectionNotFound(op, collection)
	}
	return nil
}

func (s *Store) queryVectors(ctx context.Context, op, query string, args ...any) ([]searchdb.StoredVector, error) {
	rows, err := s.reads.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []searchdb.StoredVector
	for rows.Next() {
		var v searchdb.StoredVector
		var blob []byte
		if err := rows.Scan(&v.Collection, &v.DocumentID, &v.Field, &v.Version, &v.Hash, &blob); err != nil {
			return nil, mapErr(op, err)
		}
		if v.Vector, err = searchdb.DecodeVector(blob); err != nil {
			return nil, fault.Internalf(op, err)
		}
		out = append(out, v)
	}
	return out, mapErr(op, rows.Err())
}
