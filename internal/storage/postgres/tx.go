package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// tx is a docstore.Tx over one PostgreSQL transaction.
type tx struct {
	q pgx.Tx
}

var _ docstore.Tx = (*tx)(nil)

func (t *tx) GetCollection(ctx context.Context, name string) (docstore.Collection, error) {
	return getCollectionShared(ctx, t.q, name)
}

func (t *tx) GetDocument(ctx context.Context, collection, id string) (docstore.Document, error) {
	return getDocumentForUpdate(ctx, t.q, collection, id)
}

// MatchDocument reports whether the document exists and matches filter, as
// this transaction sees it.
func (t *tx) MatchDocument(ctx context.Context, collection, id string, filter query.Expr) (bool, error) {
	return matchDocument(ctx, t.q, "postgres.MatchDocument", collection, id, filter)
}

// indexDDL returns the CREATE INDEX statements of a collection's indexes,
// keyed by index name. An index's columns are the expressions queries on
// its fields compile to, which depend on the fields' types in the schema;
// its name is ix_<collection>_<first 16 hex digits of SHA-256 of those
// columns>, so a change of type replaces the index. Every index ends with
// id, so that it also serves the id tie-break of sort orders.
func indexDDL(op, collection, table string, schema json.RawMessage, indexes []docstore.Index) (map[string]string, error) {
	sch, err := query.SchemaFromJSON(schema)
	if err != nil {
		sch = nil // the fields are then indexed as jsonb
	}
	out := make(map[string]string, len(indexes))
	for _, ix := range indexes {
		if len(ix.Fields) == 0 {
			return nil, fault.New(fault.Invalid, op, "an index needs at least one field")
		}
		cols := make([]string, 0, len(ix.Fields)+1)
		for _, f := range ix.Fields {
			e, err := indexColumn(f, sch)
			if err != nil {
				return nil, fault.Newf(fault.Invalid, op, "invalid index field %q", f)
			}
			cols = append(cols, e)
		}
		if ix.Fields[len(ix.Fields)-1] != "id" {
			cols = append(cols, "id")
		}
		h := sha256.Sum256([]byte(strings.Join(cols, "\x00")))
		name := "ix_" + shorten(collection, maxIdent-len("ix__")-16) + "_" + hex.EncodeToString(h[:8])
		out[name] = "CREATE INDEX " + name + " ON " + table + " (" + strings.Join(cols, ", ") + ")"
	}
	return out, nil
}

func nonNilIndexes(ix []docstore.Index) []docstore.Index {
	if ix == nil {
		return []docstore.Index{}
	}
	return ix
}

func (t *tx) CreateCollection(ctx context.Context, c docstore.Collection) error {
	const op = "postgres.CreateCollection"
	table, err := tableName(op, c.Name)
	if err != nil {
		return err
	}
	ddl, err := indexDDL(op, c.Name, table, c.Schema, c.Indexes)
	if err != nil {
		return err
	}
	indexes, err := json.Marshal(nonNilIndexes(c.Indexes))
	if err != nil {
		return fault.Internalf(op, err)
	}
	acc, err := encodeAccess(c)
	if err != nil {
		return fault.Internalf(op, err)
	}
	tag, err := t.q.Exec(ctx, `INSERT INTO collections (`+collectionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING`, c.Name, string(c.Schema), string(indexes),
		acc, c.Version, toMicros(c.CreatedAt), toMicros(c.UpdatedAt))
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return fault.Newf(fault.Conflict, op, "collection %q already exists", c.Name)
	}
	stmts := []string{`CREATE TABLE ` + table + ` (
		id         text   COLLATE "C" PRIMARY KEY,
		version    bigint NOT NULL,
		created_at bigint NOT NULL,
		updated_at bigint NOT NULL,
		raw        text   NOT NULL, -- the canonical JSON as written, returned byte for byte
		data       jsonb  NOT NULL  -- the same document, for filters and indexes
	)`, `CREATE INDEX ON ` + table + ` USING gin (data jsonb_path_ops)`}
	for _, stmt := range ddl {
		stmts = append(stmts, stmt)
	}
	for _, stmt := range stmts {
		if _, err := t.q.Exec(ctx, stmt); err != nil {
			return mapErr(op, err)
		}
	}
	return syncSearch(ctx, t.q, op, table, c, true)
}

// versionMiss explains why a conditional statement changed no row: the
// collection is missing (NotFound) or has another version.
func (t *tx) versionMiss(ctx context.Context, op, name string) error {
	exists, err := collectionExists(ctx, t.q, name)
	if err != nil {
		return mapErr(op, err)
	}
	if !exists {
		return collectionNotFound(op, name)
	}
	return fault.Newf(fault.PreconditionFailed, op, "collection %q has changed", name)
}

func (t *tx) UpdateCollection(ctx context.Context, c docstore.Collection, prevVersion int64) error {
	const op = "postgres.UpdateCollection"
	table, err := tableName(op, c.Name)
	if err != nil {
		return err
	}
	want, err := indexDDL(op, c.Name, table, c.Schema, c.Indexes)
	if err != nil {
		return err
	}
	indexes, err := json.Marshal(nonNilIndexes(c.Indexes))
	if err != nil {
		return fault.Internalf(op, err)
	}
	acc, err := encodeAccess(c)
	if err != nil {
		return fault.Internalf(op, err)
	}
	if err := lockCollection(ctx, t.q, c.Name); err != nil {
		return mapErr(op, err)
	}
	tag, err := t.q.Exec(ctx, `UPDATE collections SET schema = $1, indexes = $2, access = $3, version = $4, updated_at = $5
		WHERE name = $6 AND version = $7`, string(c.Schema), string(indexes), acc, c.Version, toMicros(c.UpdatedAt),
		c.Name, prevVersion)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return t.versionMiss(ctx, op, c.Name)
	}
	have, err := t.indexNames(ctx, table)
	if err != nil {
		return mapErr(op, err)
	}
	for name := range have {
		if _, ok := want[name]; !ok {
			if _, err := t.q.Exec(ctx, "DROP INDEX "+name); err != nil {
				return mapErr(op, err)
			}
		}
	}
	for name, stmt := range want {
		if !have[name] {
			if _, err := t.q.Exec(ctx, stmt); err != nil {
				return mapErr(op, err)
			}
		}
	}
	return syncSearch(ctx, t.q, op, table, c, false)
}

// indexNames returns the declared indexes of a documents table (those
// named ix_…; the primary key and the GIN index are not).
func (t *tx) indexNames(ctx context.Context, table string) (map[string]bool, error) {
	rows, err := t.q.Query(ctx, `SELECT indexname FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename = $1 AND indexname LIKE 'ix\_%'`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		if strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			continue // not an index Basalt created
		}
		out[name] = true
	}
	return out, rows.Err()
}

func (t *tx) DeleteCollection(ctx context.Context, name string, prevVersion int64) error {
	const op = "postgres.DeleteCollection"
	table, err := tableName(op, name)
	if err != nil {
		return err
	}
	if err := lockCollection(ctx, t.q, name); err != nil {
		return mapErr(op, err)
	}
	tag, err := t.q.Exec(ctx, `DELETE FROM collections WHERE name = $1 AND version = $2`, name, prevVersion)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return t.versionMiss(ctx, op, name)
	}
	if _, err := t.q.Exec(ctx, "DROP TABLE "+table); err != nil {
		return mapErr(op, err)
	}
	return dropSearch(ctx, t.q, op, name)
}

// eachBatch is how many documents EachDocument reads at a time. Reading in
// batches keeps the connection free while fn runs, so fn may use the
// transaction.
const eachBatch = 256

func (t *tx) EachDocument(ctx context.Context, collection string, fn func(docstore.Document) error) error {
	const op = "postgres.EachDocument"
	table, err := tableName(op, collection)
	if err != nil {
		return err
	}
	var after *string
	for {
		var docs []docstore.Document
		if after == nil {
			docs, err = appendRows(ctx, t.q, op, collection,
				`SELECT `+docColumns+` FROM `+table+` ORDER BY id LIMIT $1`, []any{eachBatch}, nil)
		} else {
			docs, err = appendRows(ctx, t.q, op, collection,
				`SELECT `+docColumns+` FROM `+table+` WHERE id > $1 ORDER BY id LIMIT $2`, []any{*after, eachBatch}, nil)
		}
		if err != nil {
			return err
		}
		for _, d := range docs {
			if err := fn(d); err != nil {
				return err
			}
		}
		if len(docs) < eachBatch {
			return nil
		}
		last := docs[len(docs)-1].ID
		after = &last
	}
}

func docData(d docstore.Document) []byte {
	if len(d.Data) == 0 {
		return []byte("{}")
	}
	return d.Data
}

func (t *tx) InsertDocument(ctx context.Context, d docstore.Document) error {
	const op = "postgres.InsertDocument"
	table, err := tableName(op, d.Collection)
	if err != nil {
		return err
	}
	data := docData(d)
	tag, err := t.q.Exec(ctx, `INSERT INTO `+table+` (id, version, created_at, updated_at, raw, data)
		VALUES ($1, $2, $3, $4, $5, $6::text::jsonb) ON CONFLICT (id) DO NOTHING`,
		d.ID, d.Version, toMicros(d.CreatedAt), toMicros(d.UpdatedAt), string(data), jsonbText(data))
	if err != nil {
		return tableErr(op, d.Collection, err)
	}
	if tag.RowsAffected() == 0 {
		return fault.Newf(fault.Conflict, op, "document %q already exists in %q", d.ID, d.Collection)
	}
	return nil
}

// docMiss explains why a conditional document statement changed no row.
func (t *tx) docMiss(ctx context.Context, op, collection, id string) error {
	_, err := getDocument(ctx, t.q, collection, id)
	if err != nil {
		if fault.Is(err, fault.NotFound) {
			return fault.Wrap(fault.NotFound, op, err, fault.Message(err))
		}
		return err
	}
	return fault.Newf(fault.PreconditionFailed, op, "document %q has changed", id)
}

func (t *tx) UpdateDocument(ctx context.Context, d docstore.Document, prevVersion int64) error {
	const op = "postgres.UpdateDocument"
	table, err := tableName(op, d.Collection)
	if err != nil {
		return err
	}
	data := docData(d)
	tag, err := t.q.Exec(ctx, `UPDATE `+table+` SET version = $1, updated_at = $2, raw = $3, data = $4::text::jsonb
		WHERE id = $5 AND version = $6`, d.Version, toMicros(d.UpdatedAt), string(data), jsonbText(data), d.ID, prevVersion)
	if err != nil {
		return tableErr(op, d.Collection, err)
	}
	if tag.RowsAffected() == 0 {
		return t.docMiss(ctx, op, d.Collection, d.ID)
	}
	return nil
}

func (t *tx) DeleteDocument(ctx context.Context, collection, id string, prevVersion int64) error {
	const op = "postgres.DeleteDocument"
	table, err := tableName(op, collection)
	if err != nil {
		return err
	}
	tag, err := t.q.Exec(ctx, `DELETE FROM `+table+` WHERE id = $1 AND version = $2`, id, prevVersion)
	if err != nil {
		return tableErr(op, collection, err)
	}
	if tag.RowsAffected() == 0 {
		return t.docMiss(ctx, op, collection, id)
	}
	return nil
}

func (t *tx) AppendOutbox(ctx context.Context, e eventbus.Event) error {
	const op = "postgres.AppendOutbox"
	tag, err := t.q.Exec(ctx, `INSERT INTO outbox (event_id, type, collection, document_id, version, payload, batch_id, created_at, trace_parent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id) DO NOTHING`, e.ID, string(e.Type), e.Collection,
		e.DocumentID, e.Version, string(e.Payload), e.BatchID, toMicros(e.Time), e.TraceParent)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return fault.Newf(fault.Conflict, op, "event %q already recorded", e.ID)
	}
	return nil
}

func (t *tx) GetIdempotency(ctx context.Context, key string) (docstore.IdempotencyRecord, bool, error) {
	const op = "postgres.GetIdempotency"
	rec := docstore.IdempotencyRecord{Key: key}
	var hash []byte
	var resp string
	var at int64
	err := t.q.QueryRow(ctx, `SELECT request_hash, response, created_at FROM idempotency WHERE key = $1`, key).
		Scan(&hash, &resp, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return docstore.IdempotencyRecord{}, false, nil
	}
	if err != nil {
		return docstore.IdempotencyRecord{}, false, mapErr(op, err)
	}
	rec.RequestHash, rec.Response, rec.CreatedAt = hash, json.RawMessage(resp), fromMicros(at)
	return rec, true, nil
}

func (t *tx) PutIdempotency(ctx context.Context, rec docstore.IdempotencyRecord) error {
	const op = "postgres.PutIdempotency"
	hash := rec.RequestHash
	if hash == nil {
		hash = []byte{}
	}
	tag, err := t.q.Exec(ctx, `INSERT INTO idempotency (key, request_hash, response, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING`, rec.Key, hash, string(rec.Response), toMicros(rec.CreatedAt))
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return fault.Newf(fault.Conflict, op, "idempotency key %q already used", rec.Key)
	}
	return nil
}
