package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// queryer is what reads need: the read pool or a write transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func toMicros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// tableName returns the documents table of a collection, refusing any name
// that is not a valid collection name.
func tableName(op, collection string) (string, error) {
	if !docstore.ValidCollectionName(collection) { // defence in depth: only such names become SQL text
		return "", fault.Newf(fault.Invalid, op, "invalid collection name %q", collection)
	}
	return "docs_" + collection, nil
}

func collectionNotFound(op, name string) error {
	return fault.Newf(fault.NotFound, op, "collection %q not found", name)
}

// tableErr maps an error from a statement on a documents table: when the
// collection does not exist (its table is missing) it is NotFound,
// otherwise mapErr decides.
func tableErr(ctx context.Context, q queryer, op, collection string, err error) error {
	var fe *fault.Error
	if errors.As(err, &fe) || ctx.Err() != nil {
		return mapErr(op, err)
	}
	exists, cerr := collectionExists(ctx, q, collection)
	if cerr == nil && !exists {
		return collectionNotFound(op, collection)
	}
	return mapErr(op, err)
}

func collectionExists(ctx context.Context, q queryer, name string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM collections WHERE name = ?`, name).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// collectionColumns is the select list that scanCollection reads.
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

func scanCollection(s scanner) (docstore.Collection, error) {
	var c docstore.Collection
	var schema, indexes, acc []byte
	var created, updated int64
	if err := s.Scan(&c.Name, &schema, &indexes, &acc, &c.Version, &created, &updated); err != nil {
		return c, err
	}
	c.Schema = json.RawMessage(schema)
	if err := json.Unmarshal(indexes, &c.Indexes); err != nil {
		return c, err
	}
	var a accessJSON
	if err := json.Unmarshal(acc, &a); err != nil {
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
	const op = "sqlite.GetCollection"
	c, err := scanCollection(q.QueryRowContext(ctx,
		`SELECT `+collectionColumns+` FROM collections WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return c, collectionNotFound(op, name)
	}
	if err != nil {
		return c, mapErr(op, err)
	}
	return c, nil
}

// docColumns is the select list that scanDocument reads.
const docColumns = "id, version, created_at, updated_at, json(data)"

func scanDocument(s scanner, collection string) (docstore.Document, error) {
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
	const op = "sqlite.GetDocument"
	table, err := tableName(op, collection)
	if err != nil {
		return docstore.Document{}, err
	}
	d, err := scanDocument(q.QueryRowContext(ctx,
		`SELECT `+docColumns+` FROM `+table+` WHERE id = ?`, id), collection)
	if errors.Is(err, sql.ErrNoRows) {
		return d, fault.Newf(fault.NotFound, op, "document %q not found in %q", id, collection)
	}
	if err != nil {
		return d, tableErr(ctx, q, op, collection, err)
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
	b.bind(id)
	if filter != nil {
		b.w(" AND (")
		if err := b.expr(filter, false); err != nil {
			return docstore.Document{}, err
		}
		b.w(")")
	}
	d, err := scanDocument(q.QueryRowContext(ctx, b.sql.String(), b.args...), collection)
	if errors.Is(err, sql.ErrNoRows) {
		return d, fault.Newf(fault.NotFound, op, "document %q not found in %q", id, collection)
	}
	if err != nil {
		return d, tableErr(ctx, q, op, collection, err)
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
	b.bind(id)
	if filter != nil {
		b.w(" AND (")
		if err := b.expr(filter, false); err != nil {
			return false, err
		}
		b.w(")")
	}
	b.w(")")
	var found bool
	if err := q.QueryRowContext(ctx, b.sql.String(), b.args...).Scan(&found); err != nil {
		return false, tableErr(ctx, q, op, collection, err)
	}
	return found, nil
}

func listDocuments(ctx context.Context, q queryer, p docstore.ListParams) ([]docstore.Document, error) {
	const op = "sqlite.ListDocuments"
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
		if out, err = appendRows(ctx, q, op, p.Collection, lq, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func appendRows(ctx context.Context, q queryer, op, collection string, lq listQuery, out []docstore.Document) ([]docstore.Document, error) {
	rows, err := q.QueryContext(ctx, lq.text, lq.args...)
	if err != nil {
		return nil, tableErr(ctx, q, op, collection, err)
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
		return nil, mapErr(op, err)
	}
	return out, nil
}
