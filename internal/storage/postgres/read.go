package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// queryer is what reads need: a pooled connection or a transaction.
type queryer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func toMicros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// maxIdent is PostgreSQL's identifier length (NAMEDATALEN - 1).
const maxIdent = 63

// shorten returns name if it has at most n bytes, and otherwise a prefix
// of it followed by "_" and 16 hex digits of its SHA-256, n bytes in all,
// so that distinct names stay distinct within PostgreSQL's identifier
// length.
func shorten(name string, n int) string {
	if len(name) <= n {
		return name
	}
	h := sha256.Sum256([]byte(name))
	return name[:n-17] + "_" + hex.EncodeToString(h[:8])
}

// tableName returns the documents table of a collection, docs_<name>
// (shortened for names over 58 bytes), refusing any name that is not a
// valid collection name.
func tableName(op, collection string) (string, error) {
	if !docstore.ValidCollectionName(collection) { // defence in depth: only such names become SQL text
		return "", fault.Newf(fault.Invalid, op, "invalid collection name %q", collection)
	}
	return "docs_" + shorten(collection, maxIdent-len("docs_")), nil
}

func collectionNotFound(op, name string) error {
	return fault.Newf(fault.NotFound, op, "collection %q not found", name)
}

// tableErr maps an error from a statement on a documents table: a missing
// table means a missing collection (NotFound), otherwise mapErr decides.
func tableErr(op, collection string, err error) error {
	if isUndefinedTable(err) {
		return fault.Wrap(fault.NotFound, op, err, "collection \""+collection+"\" not found")
	}
	return mapErr(op, err)
}

func collectionExists(ctx context.Context, q queryer, name string) (bool, error) {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM collections WHERE name = $1`, name).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

const collectionColumns = "name, schema, indexes, access, version, created_at, updated_at"

// accessJSON is the content of the access column: a collection's rules,
// hidden fields and search configuration.
type accessJSON struct {
	Rules        docstore.Rules    `json:"rules"`
	HiddenFields []string          `json:"hiddenFields"`
	Search       docstore.Search   `json:"search"`
	References   map[string]string `json:"references,omitempty"`
}

func encodeAccess(c docstore.Collection) (string, error) {
	hidden := c.HiddenFields
	if hidden == nil {
		hidden = []string{}
	}
	b, err := json.Marshal(accessJSON{Rules: c.Rules, HiddenFields: hidden, Search: c.Search, References: c.References})
	return string(b), err
}

func scanCollection(s pgx.Row) (docstore.Collection, error) {
	var c docstore.Collection
	var schema, indexes, acc string
	var created, updated int64
	if err := s.Scan(&c.Name, &schema, &indexes, &acc, &c.Version, &created, &updated); err != nil {
		return c, err
	}
	c.Schema = json.RawMessage(schema)
	if err := json.Unmarshal([]byte(indexes), &c.Indexes); err != nil {
		return c, err
	}
	var a accessJSON
	if err := json.Unmarshal([]byte(acc), &a); err != nil {
		return c, err
	}
	c.Rules = a.Rules
	c.Search = a.Search
	if len(a.References) > 0 {
		c.References = a.References
	}
	if len(a.HiddenFields) > 0 {
		c.HiddenFields = a.HiddenFields
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return c, nil
}

func getCollection(ctx context.Context, q queryer, name string) (docstore.Collection, error) {
	return getCollectionSQL(ctx, q, name, `SELECT `+collectionColumns+` FROM collections WHERE name = $1`)
}

// collectionLockClass is the first key of the advisory locks that guard
// collection definitions (the second is hashtext of the name), so they do
// not collide with advisory locks of other applications on the database.
const collectionLockClass = 0x0BA5A17

// getCollectionShared reads a collection inside a write transaction and
// holds a shared advisory lock on its name until the transaction ends, so
// the definition cannot change under a write validated against it: a
// definition change takes the lock exclusively (lockCollection), so it
// waits for such writes to commit, and writes that start later wait for the
// change and see the new definition. Advisory locks live in the lock
// manager only; unlike SELECT … FOR SHARE they write nothing to the
// collections row, which every write of the collection would contend on.
func getCollectionShared(ctx context.Context, q queryer, name string) (docstore.Collection, error) {
	// The lock is its own statement: a statement reads from a snapshot
	// taken when it starts, so a SELECT that waited for the lock inside
	// itself could still return the definition from before the change.
	if _, err := q.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(`+strconv.Itoa(collectionLockClass)+`, hashtext($1))`, name); err != nil {
		return docstore.Collection{}, mapErr("postgres.GetCollection", err)
	}
	return getCollection(ctx, q, name)
}

// lockCollection takes the exclusive advisory lock of a collection's
// definition, until the transaction ends.
func lockCollection(ctx context.Context, q queryer, name string) error {
	_, err := q.Exec(ctx, `SELECT pg_advisory_xact_lock(`+strconv.Itoa(collectionLockClass)+`, hashtext($1))`, name)
	return err
}

func getCollectionSQL(ctx context.Context, q queryer, name, query string) (docstore.Collection, error) {
	const op = "postgres.GetCollection"
	c, err := scanCollection(q.QueryRow(ctx, query, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, collectionNotFound(op, name)
	}
	if err != nil {
		return c, mapErr(op, err)
	}
	return c, nil
}

func listCollections(ctx context.Context, q queryer) ([]docstore.Collection, error) {
	const op = "postgres.ListCollections"
	rows, err := q.Query(ctx, `SELECT `+collectionColumns+` FROM collections ORDER BY name`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []docstore.Collection
	for rows.Next() {
		c, err := scanCollection(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// docColumns is the select list that scanDocument reads: raw is the
// document's JSON text exactly as written.
const docColumns = "id, version, created_at, updated_at, raw"

func scanDocument(s pgx.Row, collection string) (docstore.Document, error) {
	d := docstore.Document{Collection: collection}
	var created, updated int64
	var data []byte
	if err := s.Scan(&d.ID, &d.Version, &created, &updated, &data); err != nil {
		return d, err
	}
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	d.Data = json.RawMessage(data)
	return d, nil
}

func getDocument(ctx context.Context, q queryer, collection, id string) (docstore.Document, error) {
	return readDocument(ctx, q, collection, id, "")
}

// getDocumentForUpdate is getDocument in a write transaction: it locks the
// row until the transaction ends, so that a transaction that reads a
// document and writes it back from the version it read never finds that
// another committed meanwhile (writers of one document take turns; under
// READ COMMITTED, a writer that waited reads the version committed before
// it).
func getDocumentForUpdate(ctx context.Context, q queryer, collection, id string) (docstore.Document, error) {
	return readDocument(ctx, q, collection, id, " FOR UPDATE")
}

func readDocument(ctx context.Context, q queryer, collection, id, lock string) (docstore.Document, error) {
	const op = "postgres.GetDocument"
	table, err := tableName(op, collection)
	if err != nil {
		return docstore.Document{}, err
	}
	d, err := scanDocument(q.QueryRow(ctx, `SELECT `+docColumns+` FROM `+table+` WHERE id = $1`+lock, id), collection)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, fault.Newf(fault.NotFound, op, "document %q not found in %q", id, collection)
	}
	if err != nil {
		return d, tableErr(op, collection, err)
	}
	return d, nil
}

// getDocumentWhere returns one document if it matches filter (nil: any).
func getDocumentWhere(ctx context.Context, q queryer, op, collection, id string, filter query.Expr) (docstore.Document, error) {
	table, err := tableName(op, collection)
	if err != nil {
		return docstore.Document{}, err
	}
	var b builder
	b.w("SELECT ", docColumns, " FROM ", table, " WHERE id = ")
	b.bind(id, kindText)
	if filter != nil {
		b.w(" AND (")
		if err := b.expr(filter, false); err != nil {
			return docstore.Document{}, err
		}
		b.w(")")
	}
	d, err := scanDocument(q.QueryRow(ctx, b.sql.String(), b.args...), collection)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, fault.Newf(fault.NotFound, op, "document %q not found in %q", id, collection)
	}
	if err != nil {
		return d, tableErr(op, collection, err)
	}
	return d, nil
}

// matchDocument reports whether a document exists and matches filter
// (nil: any).
func matchDocument(ctx context.Context, q queryer, op, collection, id string, filter query.Expr) (bool, error) {
	table, err := tableName(op, collection)
	if err != nil {
		return false, err
	}
	var b builder
	b.w("SELECT EXISTS (SELECT 1 FROM ", table, " WHERE id = ")
	b.bind(id, kindText)
	if filter != nil {
		b.w(" AND (")
		if err := b.expr(filter, false); err != nil {
			return false, err
		}
		b.w(")")
	}
	b.w(")")
	var found bool
	if err := q.QueryRow(ctx, b.sql.String(), b.args...).Scan(&found); err != nil {
		return false, tableErr(op, collection, err)
	}
	return found, nil
}

func listDocuments(ctx context.Context, q queryer, p docstore.ListParams) ([]docstore.Document, error) {
	const op = "postgres.ListDocuments"
	queries, err := compileList(p)
	if err != nil {
		return nil, err
	}
	var out []docstore.Document
	for _, lq := range queries {
		if p.Limit > 0 && len(out) >= p.Limit {
			break
		}
		if p.Limit > 0 {
			lq.args[len(lq.args)-1] = int64(p.Limit - len(out))
		}
		if out, err = appendRows(ctx, q, op, p.Collection, lq.text, lq.args, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func appendRows(ctx context.Context, q queryer, op, collection, text string, args []any, out []docstore.Document) ([]docstore.Document, error) {
	rows, err := q.Query(ctx, text, args...)
	if err != nil {
		return nil, tableErr(op, collection, err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDocument(rows, collection)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, tableErr(op, collection, err)
	}
	return out, nil
}

// jsonbText returns the document text to parse into the jsonb column. The
// raw column keeps the exact bytes; jsonb cannot hold U+0000, so each
// \u0000 escape is read as \ufffd (U+FFFD, the replacement character) for
// filtering and indexing only.
func jsonbText(data []byte) string {
	if !bytes.Contains(data, []byte(`\u0000`)) {
		return string(data)
	}
	out := make([]byte, 0, len(data))
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c != '\\' || i+1 >= len(data) {
			out = append(out, c)
			continue
		}
		// In JSON text a backslash only starts an escape inside a string.
		if data[i+1] == 'u' && i+6 <= len(data) && string(data[i+2:i+6]) == "0000" {
			out = append(out, `\ufffd`...)
			i += 5
			continue
		}
		out = append(out, c, data[i+1])
		i++
	}
	return string(out)
}
