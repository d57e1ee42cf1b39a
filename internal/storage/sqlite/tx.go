package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// tx is a docstore.Tx over one write transaction. Its statements run on
// the pinned write connection inside a BEGIN IMMEDIATE transaction, or a
// savepoint of one, that commit.go manages.
type tx struct {
	q pinnedTx
}

var _ docstore.Tx = (*tx)(nil)

func (t *tx) GetCollection(ctx context.Context, name string) (docstore.Collection, error) {
	return getCollection(ctx, t.q, name)
}

func (t *tx) GetDocument(ctx context.Context, collection, id string) (docstore.Document, error) {
	return getDocument(ctx, t.q, collection, id)
}

// MatchDocument reports whether the document exists and matches filter, as
// this transaction sees it.
func (t *tx) MatchDocument(ctx context.Context, collection, id string, filter query.Expr) (bool, error) {
	return matchDocument(ctx, t.q, "sqlite.MatchDocument", collection, id, filter)
}

// indexName names the index of a field list deterministically:
// ix_<collection>_<first 16 hex digits of SHA-256 of the fields>.
func indexName(collection string, fields []string) string {
	h := sha256.Sum256([]byte(strings.Join(fields, "\x00")))
	return "ix_" + collection + "_" + hex.EncodeToString(h[:8])
}

// indexDDL returns the CREATE INDEX statements of a collection's indexes,
// keyed by index name. Every index ends with id, so that it also serves the
// id tie-break of sort orders.
func indexDDL(op, collection string, indexes []docstore.Index) (map[string]string, error) {
	out := make(map[string]string, len(indexes))
	for _, ix := range indexes {
		if len(ix.Fields) == 0 {
			return nil, fault.New(fault.Invalid, op, "an index needs at least one field")
		}
		cols := make([]string, 0, len(ix.Fields)+1)
		for _, f := range ix.Fields {
			e, err := indexFieldSQL(f)
			if err != nil {
				return nil, fault.Newf(fault.Invalid, op, "invalid index field %q", f)
			}
			cols = append(cols, e)
		}
		if ix.Fields[len(ix.Fields)-1] != "id" {
			cols = append(cols, "id")
		}
		name := indexName(collection, ix.Fields)
		out[name] = "CREATE INDEX " + name + " ON docs_" + collection + " (" + strings.Join(cols, ", ") + ")"
	}
	return out, nil
}

func (t *tx) CreateCollection(ctx context.Context, c docstore.Collection) error {
	const op = "sqlite.CreateCollection"
	table, err := tableName(op, c.Name)
	if err != nil {
		return err
	}
	ddl, err := indexDDL(op, c.Name, c.Indexes)
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
	_, err = t.q.ExecContext(ctx, `INSERT INTO collections (`+collectionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, c.Name, string(c.Schema), string(indexes), acc, c.Version,
		toMicros(c.CreatedAt), toMicros(c.UpdatedAt))
	if isConstraintUnique(err) {
		return fault.Newf(fault.Conflict, op, "collection %q already exists", c.Name)
	}
	if err != nil {
		return mapErr(op, err)
	}
	if err := t.q.ddl(ctx, `CREATE TABLE `+table+` (
		id         TEXT    PRIMARY KEY,
		version    INTEGER NOT NULL,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		data       BLOB    NOT NULL -- SQLite JSONB
	)`); err != nil {
		return mapErr(op, err)
	}
	for _, stmt := range ddl {
		if err := t.q.ddl(ctx, stmt); err != nil {
			return mapErr(op, err)
		}
	}
	return t.createSearch(ctx, c)
}

func nonNilIndexes(ix []docstore.Index) []docstore.Index {
	if ix == nil {
		return []docstore.Index{}
	}
	return ix
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
	const op = "sqlite.UpdateCollection"
	table, err := tableName(op, c.Name)
	if err != nil {
		return err
	}
	want, err := indexDDL(op, c.Name, c.Indexes)
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
	prev, err := getCollection(ctx, t.q, c.Name) // its search configuration
	if err != nil && !fault.Is(err, fault.NotFound) {
		return err
	}
	res, err := t.q.ExecContext(ctx, `UPDATE collections SET schema = ?, indexes = ?, access = ?, version = ?, updated_at = ?
		WHERE name = ? AND version = ?`, string(c.Schema), string(indexes), acc, c.Version, toMicros(c.UpdatedAt),
		c.Name, prevVersion)
	if err := affectedOne(op, res, err); err != nil {
		if errors.Is(err, errNoRow) {
			return t.versionMiss(ctx, op, c.Name)
		}
		return err
	}
	have, err := t.indexNames(ctx, table)
	if err != nil {
		return mapErr(op, err)
	}
	for name := range have {
		if _, ok := want[name]; !ok {
			if err := t.q.ddl(ctx, "DROP INDEX "+name); err != nil {
				return mapErr(op, err)
			}
		}
	}
	for name, stmt := range want {
		if !have[name] {
			if err := t.q.ddl(ctx, stmt); err != nil {
				return mapErr(op, err)
			}
		}
	}
	return t.updateSearch(ctx, prev.Search, c)
}

// indexNames returns the declared (not automatic) indexes of a table.
func (t *tx) indexNames(ctx context.Context, table string) (map[string]bool, error) {
	rows, err := t.q.queryOnce(ctx,
		`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, table)
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
		if !strings.HasPrefix(name, "ix_") || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			continue // not an index Basalt created
		}
		out[name] = true
	}
	return out, rows.Err()
}

func (t *tx) DeleteCollection(ctx context.Context, name string, prevVersion int64) error {
	const op = "sqlite.DeleteCollection"
	table, err := tableName(op, name)
	if err != nil {
		return err
	}
	res, err := t.q.ExecContext(ctx, `DELETE FROM collections WHERE name = ? AND version = ?`, name, prevVersion)
	if err := affectedOne(op, res, err); err != nil {
		if errors.Is(err, errNoRow) {
			return t.versionMiss(ctx, op, name)
		}
		return err
	}
	if err := t.q.ddl(ctx, "DROP TABLE "+table); err != nil {
		return mapErr(op, err)
	}
	return t.dropSearch(ctx, name)
}

func (t *tx) EachDocument(ctx context.Context, collection string, fn func(docstore.Document) error) error {
	const op = "sqlite.EachDocument"
	table, err := tableName(op, collection)
	if err != nil {
		return err
	}
	rows, err := t.q.QueryContext(ctx, `SELECT `+docColumns+` FROM `+table+` ORDER BY id`)
	if err != nil {
		return tableErr(ctx, t.q, op, collection, err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDocument(rows, collection)
		if err != nil {
			return mapErr(op, err)
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return mapErr(op, rows.Err())
}

func docData(d docstore.Document) string {
	if len(d.Data) == 0 {
		return "{}"
	}
	return string(d.Data)
}

func (t *tx) InsertDocument(ctx context.Context, d docstore.Document) error {
	const op = "sqlite.InsertDocument"
	table, err := tableName(op, d.Collection)
	if err != nil {
		return err
	}
	_, err = t.q.ExecContext(ctx, `INSERT INTO `+table+` (id, version, created_at, updated_at, data)
		VALUES (?, ?, ?, ?, jsonb(?))`, d.ID, d.Version, toMicros(d.CreatedAt), toMicros(d.UpdatedAt), docData(d))
	if isConstraintUnique(err) {
		return fault.Newf(fault.Conflict, op, "document %q already exists in %q", d.ID, d.Collection)
	}
	if err != nil {
		return tableErr(ctx, t.q, op, d.Collection, err)
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
	const op = "sqlite.UpdateDocument"
	table, err := tableName(op, d.Collection)
	if err != nil {
		return err
	}
	res, err := t.q.ExecContext(ctx, `UPDATE `+table+` SET version = ?, updated_at = ?, data = jsonb(?)
		WHERE id = ? AND version = ?`, d.Version, toMicros(d.UpdatedAt), docData(d), d.ID, prevVersion)
	if err != nil {
		return tableErr(ctx, t.q, op, d.Collection, err)
	}
	if err := affectedOne(op, res, nil); err != nil {
		if errors.Is(err, errNoRow) {
			return t.docMiss(ctx, op, d.Collection, d.ID)
		}
		return err
	}
	return nil
}

func (t *tx) DeleteDocument(ctx context.Context, collection, id string, prevVersion int64) error {
	const op = "sqlite.DeleteDocument"
	table, err := tableName(op, collection)
	if err != nil {
		return err
	}
	res, err := t.q.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = ? AND version = ?`, id, prevVersion)
	if err != nil {
		return tableErr(ctx, t.q, op, collection, err)
	}
	if err := affectedOne(op, res, nil); err != nil {
		if errors.Is(err, errNoRow) {
			return t.docMiss(ctx, op, collection, id)
		}
		return err
	}
	return nil
}

func (t *tx) AppendOutbox(ctx context.Context, e eventbus.Event) error {
	const op = "sqlite.AppendOutbox"
	_, err := t.q.ExecContext(ctx, `INSERT INTO outbox (event_id, type, collection, document_id, version, payload, batch_id, created_at, trace_parent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, string(e.Type), e.Collection, e.DocumentID, e.Version,
		string(e.Payload), e.BatchID, toMicros(e.Time), e.TraceParent)
	if isConstraintUnique(err) {
		return fault.Newf(fault.Conflict, op, "event %q already recorded", e.ID)
	}
	return mapErr(op, err)
}

func (t *tx) GetIdempotency(ctx context.Context, key string) (docstore.IdempotencyRecord, bool, error) {
	const op = "sqlite.GetIdempotency"
	rec := docstore.IdempotencyRecord{Key: key}
	var hash, resp []byte
	var at int64
	err := t.q.QueryRowContext(ctx, `SELECT request_hash, response, created_at FROM idempotency WHERE key = ?`, key).
		Scan(&hash, &resp, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return docstore.IdempotencyRecord{}, false, nil
	}
	if err != nil {
		return docstore.IdempotencyRecord{}, false, mapErr(op, err)
	}
	rec.RequestHash, rec.Response, rec.CreatedAt = hash, resp, fromMicros(at)
	return rec, true, nil
}

func (t *tx) PutIdempotency(ctx context.Context, rec docstore.IdempotencyRecord) error {
	const op = "sqlite.PutIdempotency"
	hash := rec.RequestHash
	if hash == nil {
		hash = []byte{}
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO idempotency (key, request_hash, response, created_at)
		VALUES (?, ?, ?, ?)`, rec.Key, hash, string(rec.Response), toMicros(rec.CreatedAt))
	if isConstraintUnique(err) {
		return fault.Newf(fault.Conflict, op, "idempotency key %q already used", rec.Key)
	}
	return mapErr(op, err)
}

var errNoRow = errors.New("no row changed")

// affectedOne returns errNoRow when a statement changed no row.
func affectedOne(op string, res sql.Result, err error) error {
	if err != nil {
		return mapErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(op, err)
	}
	if n == 0 {
		return errNoRow
	}
	return nil
}
