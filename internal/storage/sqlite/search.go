package sqlite

// Full-text index of a collection (searchdb.Store).
//
// A collection whose Search.Text is set has two FTS5 tables, kept current
// by triggers on its documents table, so that every write path indexes in
// its own transaction without knowing about search:
//
//   - ft_<c>_w, the word index: doc UNINDEXED (the document id), then one
//     column per searchable field, in sorted data-path order (c0, c1, …),
//     tokenized by 'porter unicode61 remove_diacritics 2' for english and
//     'unicode61 remove_diacritics 2' for every other language. Its rowid is
//     the documents table's rowid. Basalt never runs VACUUM, and VACUUM
//     (or VACUUM INTO, the documented backup) keeps rowids in the SQLite
//     in use, but SQLite does not promise it for tables without an INTEGER
//     PRIMARY KEY: so a search joins on rowid and checks doc = id as well,
//     and a renumbered rowid could only hide a hit, never show another
//     document (changing the text configuration rebuilds the index).
//   - ft_<c>_n, the length in characters of each indexed document's
//     text, for the score (reading it from the word index's content would
//     cost a content lookup per match).
//   - ft_<c>_t, the trigram index (tokenize='trigram') over the fields'
//     text joined by blank lines in the same order: the candidates of the
//     typo-tolerant match. It is contentless (content='',
//     contentless_delete=1): the text it would store is the word index's.
//
// The word index is a contentful FTS5 table rather than an external-content
// one over the documents table: its content is the extracted text, which
// the documents table does not hold as a column (it holds JSONB), so an
// external content table would need a view that re-extracts every field
// whenever FTS5 reads content (highlights, snippets, deletes), and its
// deletes would need the old values exactly. The cost is the text stored a
// second time: BenchmarkSearchIndexSize measures, for 10,000 documents of
// a 6-word title and a 60-word body, 4.6 MB of documents, 7.0 MB of word
// index of which 4.2 MB is that content, and 1.4 MB of trigram index.
//
// The trigram index keeps no positions (detail=none: 7.4 MB without it),
// since its queries are single trigrams ORed; the word index keeps no
// column sizes (columnsize=0), which only bm25() would read.
//
// A change of the fields, weights or language drops both tables and
// creates them again, empty, with new triggers, in the transaction of the
// change: from then on writes are indexed under the new configuration, and
// BuildText indexes the documents written before, in id order, recording
// its progress in search_builds. Until it is done, a search answers from
// what is indexed: documents not yet indexed under the new configuration
// are not found (never found under the old one).

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/search/searchdb"
)

// textIndex describes the text index of a collection under a
// configuration.
type textIndex struct {
	collection string
	words      string   // the word index table
	trigrams   string   // the trigram index table
	lengths    string   // the text length of each indexed row
	docs       string   // the documents table
	fields     []string // searchable data paths, sorted
	weights    []int    // their weights, 1..4
	paths      []string // their JSON path literals ('$.a.b')
	tokenizer  string
	language   string // PostgreSQL's name of it
}

// newTextIndex checks a text configuration and describes its index.
func newTextIndex(op, collection string, cfg docstore.TextSearch) (textIndex, error) {
	docs, err := tableName(op, collection)
	if err != nil {
		return textIndex{}, err
	}
	ix := textIndex{collection: collection, docs: docs,
		words: "ft_" + collection + "_w", trigrams: "ft_" + collection + "_t", lengths: "ft_" + collection + "_n",
		fields: slices.Sorted(maps.Keys(cfg.Fields)), tokenizer: "unicode61 remove_diacritics 2"}
	if len(ix.fields) == 0 {
		return textIndex{}, fault.New(fault.Invalid, op, "full-text search needs at least one field")
	}
	for _, f := range ix.fields {
		path, err := jsonPath(strings.Split(f, "."))
		if err != nil {
			return textIndex{}, fault.Newf(fault.Invalid, op, "invalid searchable field %q", f)
		}
		w := cfg.Fields[f]
		if w < 1 || w > 4 {
			return textIndex{}, fault.Newf(fault.Invalid, op, "the weight of %q must be 1 to 4", f)
		}
		ix.paths = append(ix.paths, path)
		ix.weights = append(ix.weights, w)
	}
	ix.language = textLanguage(cfg)
	if ix.language == "english" {
		ix.tokenizer = "porter " + ix.tokenizer
	}
	return ix, nil
}

// textLanguage returns the configuration's language, "english" by default.
func textLanguage(cfg docstore.TextSearch) string {
	if cfg.Language == "" {
		return "english"
	}
	return cfg.Language
}

// sameText reports whether two text configurations index alike.
func sameText(a, b *docstore.TextSearch) bool {
	if a == nil || b == nil {
		return a == b
	}
	return textLanguage(*a) == textLanguage(*b) && maps.Equal(a.Fields, b.Fields)
}

// fieldText is the SQL expression of the searchable text of field i of
// the row alias r: a string as is, an array's strings joined by spaces,
// anything else NULL, with the highlight markers removed.
func (ix textIndex) fieldText(r string, i int) string {
	p := ix.paths[i]
	return "replace(replace(CASE json_type(" + r + ".data, " + p + ")" +
		" WHEN 'text' THEN json_extract(" + r + ".data, " + p + ")" +
		" WHEN 'array' THEN (SELECT group_concat(value, ' ' ORDER BY key) FROM json_each(" + r + ".data, " + p + ") WHERE type = 'text')" +
		" END, char(2), ''), char(3), '')"
}

// fieldTexts returns the expressions of every field of the row alias r.
func (ix textIndex) fieldTexts(r string) []string {
	out := make([]string, len(ix.fields))
	for i := range ix.fields {
		out[i] = ix.fieldText(r, i)
	}
	return out
}

// joinedText is the SQL expression of the text of every field of the row
// alias r, joined by blank lines: the trigram index's text, and the text
// whose words a fuzzy query compares (see fuzzyText).
func (ix textIndex) joinedText(r string) string {
	return "concat_ws(char(10, 10), " + strings.Join(ix.fieldTexts(r), ", ") + ")"
}

// textLength is the SQL expression of the length, in characters, of the
// searchable text of the row alias r.
func (ix textIndex) textLength(r string) string {
	var parts []string
	for _, e := range ix.fieldTexts(r) {
		parts = append(parts, "coalesce(length("+e+"), 0)")
	}
	return "(" + strings.Join(parts, " + ") + ")"
}

// columns returns the word index's field columns: c0, c1, …
func (ix textIndex) columns() []string {
	out := make([]string, len(ix.fields))
	for i := range out {
		out[i] = "c" + strconv.Itoa(i)
	}
	return out
}

// insertRows returns the statements that index the row alias r.
func (ix textIndex) insertRows(r string) []string {
	return []string{
		"INSERT INTO " + ix.words + " (rowid, doc, " + strings.Join(ix.columns(), ", ") + ") VALUES (" +
			r + ".rowid, " + r + ".id, " + strings.Join(ix.fieldTexts(r), ", ") + ")",
		"INSERT INTO " + ix.trigrams + " (rowid, t) VALUES (" + r + ".rowid, " + ix.joinedText(r) + ")",
		"INSERT INTO " + ix.lengths + " (rid, len) VALUES (" + r + ".rowid, " + ix.textLength(r) + ")",
	}
}

// buildRows returns the statements that index the documents whose ids are
// in (?1, ?2] and that are not indexed yet.
func (ix textIndex) buildRows() []string {
	return []string{
		"INSERT INTO " + ix.words + " (rowid, doc, " + strings.Join(ix.columns(), ", ") + ") SELECT d.rowid, d.id, " +
			strings.Join(ix.fieldTexts("d"), ", ") + " FROM " + ix.docs + " AS d WHERE d.id > ?1 AND d.id <= ?2" +
			" AND NOT EXISTS (SELECT 1 FROM " + ix.words + " WHERE rowid = d.rowid) ORDER BY d.id",
		"INSERT INTO " + ix.trigrams + " (rowid, t) SELECT d.rowid, " + ix.joinedText("d") + " FROM " + ix.docs +
			" AS d WHERE d.id > ?1 AND d.id <= ?2" +
			" AND NOT EXISTS (SELECT 1 FROM " + ix.trigrams + " WHERE rowid = d.rowid) ORDER BY d.id",
		"INSERT INTO " + ix.lengths + " (rid, len) SELECT d.rowid, " + ix.textLength("d") + " FROM " + ix.docs +
			" AS d WHERE d.id > ?1 AND d.id <= ?2 AND NOT EXISTS (SELECT 1 FROM " + ix.lengths + " WHERE rid = d.rowid)",
	}
}

// deleteRows returns the statements that remove the row alias r.
func (ix textIndex) deleteRows(r string) []string {
	return []string{
		"DELETE FROM " + ix.words + " WHERE rowid = " + r + ".rowid",
		"DELETE FROM " + ix.trigrams + " WHERE rowid = " + r + ".rowid",
		"DELETE FROM " + ix.lengths + " WHERE rid = " + r + ".rowid",
	}
}

// ddl returns the statements creating the index tables and triggers. The
// update trigger reindexes only when the searchable text changed.
func (ix textIndex) ddl() []string {
	cols := ix.columns()
	trig := "ft_" + ix.collection
	return []string{
		"CREATE VIRTUAL TABLE " + ix.words + " USING fts5(doc UNINDEXED, " + strings.Join(cols, ", ") +
			", tokenize = '" + ix.tokenizer + "', columnsize = 0)",
		"CREATE VIRTUAL TABLE " + ix.trigrams + " USING fts5(t, tokenize = 'trigram', content = '', contentless_delete = 1, detail = none)",
		"CREATE TABLE " + ix.lengths + " (rid INTEGER PRIMARY KEY, len INTEGER NOT NULL)",
		"CREATE TRIGGER " + trig + "_ins AFTER INSERT ON " + ix.docs + " BEGIN " +
			strings.Join(ix.insertRows("new"), "; ") + "; END",
		"CREATE TRIGGER " + trig + "_upd AFTER UPDATE OF data ON " + ix.docs +
			" WHEN " + ix.joinedText("old") + " IS NOT " + ix.joinedText("new") + " BEGIN " +
			strings.Join(ix.deleteRows("old"), "; ") + "; " + strings.Join(ix.insertRows("new"), "; ") + "; END",
		"CREATE TRIGGER " + trig + "_del AFTER DELETE ON " + ix.docs + " BEGIN " +
			strings.Join(ix.deleteRows("old"), "; ") + "; END",
	}
}

// dropTextIndexDDL returns the statements dropping a collection's text
// index, whether or not it has one.
func dropTextIndexDDL(collection string) []string {
	trig := "ft_" + collection
	return []string{
		"DROP TRIGGER IF EXISTS " + trig + "_ins",
		"DROP TRIGGER IF EXISTS " + trig + "_upd",
		"DROP TRIGGER IF EXISTS " + trig + "_del",
		"DROP TABLE IF EXISTS ft_" + collection + "_w",
		"DROP TABLE IF EXISTS ft_" + collection + "_t",
		"DROP TABLE IF EXISTS ft_" + collection + "_n",
	}
}

// createSearch creates the search structures of a new collection (its
// documents table exists and is empty).
func (t *tx) createSearch(ctx context.Context, c docstore.Collection) error {
	const op = "sqlite.CreateCollection"
	if c.Search.Text != nil {
		if err := t.createTextIndex(ctx, op, c.Name, *c.Search.Text, true); err != nil {
			return err
		}
	}
	return t.createVectorTrigger(ctx, op, c.Name, c.Search.Vectors)
}

// createTextIndex creates the text index, and records its build as done
// (an empty collection) or to do.
func (t *tx) createTextIndex(ctx context.Context, op, collection string, cfg docstore.TextSearch, done bool) error {
	ix, err := newTextIndex(op, collection, cfg)
	if err != nil {
		return err
	}
	for _, stmt := range ix.ddl() {
		if err := t.q.ddl(ctx, stmt); err != nil {
			return mapErr(op, err)
		}
	}
	_, err = t.q.ExecContext(ctx, `INSERT INTO search_builds (collection, generation, last_id, done) VALUES (?, 1, '', ?)
		ON CONFLICT (collection) DO UPDATE SET generation = generation + 1, last_id = '', done = excluded.done`,
		collection, done)
	return mapErr(op, err)
}

// updateSearch applies a change of the search configuration from prev.
func (t *tx) updateSearch(ctx context.Context, prev docstore.Search, c docstore.Collection) error {
	const op = "sqlite.UpdateCollection"
	if !sameText(prev.Text, c.Search.Text) {
		for _, stmt := range dropTextIndexDDL(c.Name) {
			if err := t.q.ddl(ctx, stmt); err != nil {
				return mapErr(op, err)
			}
		}
		if c.Search.Text == nil {
			if _, err := t.q.ExecContext(ctx, `DELETE FROM search_builds WHERE collection = ?`, c.Name); err != nil {
				return mapErr(op, err)
			}
		} else if err := t.createTextIndex(ctx, op, c.Name, *c.Search.Text, false); err != nil {
			return err
		}
	}
	return t.updateVectors(ctx, op, prev.Vectors, c)
}

// dropSearch removes the search structures of a deleted collection (its
// documents table, and with it its triggers, is dropped).
func (t *tx) dropSearch(ctx context.Context, collection string) error {
	const op = "sqlite.DeleteCollection"
	for _, stmt := range dropTextIndexDDL(collection) {
		if err := t.q.ddl(ctx, stmt); err != nil {
			return mapErr(op, err)
		}
	}
	for _, stmt := range []string{`DELETE FROM search_builds WHERE collection = ?`,
		`DELETE FROM search_vectors WHERE collection = ?`} {
		if _, err := t.q.ExecContext(ctx, stmt, collection); err != nil {
			return mapErr(op, err)
		}
	}
	return nil
}

// textConfig returns the text configuration of a collection, fault.Invalid
// when it has none.
func textConfig(op string, c docstore.Collection) (docstore.TextSearch, error) {
	if c.Search.Text == nil {
		return docstore.TextSearch{}, fault.Newf(fault.Invalid, op, "collection %q is not configured for full-text search", c.Name)
	}
	return *c.Search.Text, nil
}

// TextStatus reports the build of the collection's text index.
func (s *Store) TextStatus(ctx context.Context, collection string) (st searchdb.BuildStatus, err error) {
	const op = "sqlite.TextStatus"
	rtx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return st, mapErr(op, err)
	}
	defer func() { _ = rtx.Rollback() }()
	c, err := getCollection(ctx, rtx, collection)
	if err != nil {
		return st, err
	}
	cfg, err := textConfig(op, c)
	if err != nil {
		return st, err
	}
	ix, err := newTextIndex(op, collection, cfg)
	if err != nil {
		return st, err
	}
	done := true // no build recorded: nothing to build
	err = rtx.QueryRowContext(ctx, `SELECT done FROM search_builds WHERE collection = ?`, collection).Scan(&done)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return st, mapErr(op, err)
	}
	if err := rtx.QueryRowContext(ctx, `SELECT count(*) FROM `+ix.docs).Scan(&st.Total); err != nil {
		return st, mapErr(op, err)
	}
	st.Building = !done
	if !st.Building {
		st.Indexed = st.Total
		return st, nil
	}
	if err := rtx.QueryRowContext(ctx, `SELECT count(*) FROM `+ix.lengths).Scan(&st.Indexed); err != nil {
		return st, mapErr(op, err)
	}
	return st, nil
}

// BuildText indexes, under the collection's current text configuration,
// up to limit documents written before its last change, in id order, and
// reports whether none is left. A collection without text configuration
// has nothing to build. Builds by several processes serialize on SQLite's
// write lock, each batch continuing from the recorded position.
func (s *Store) BuildText(ctx context.Context, collection string, limit int) (done bool, err error) {
	const op = "sqlite.BuildText"
	if limit <= 0 {
		return false, fault.New(fault.Invalid, op, "the build batch size must be positive")
	}
	err = s.Write(ctx, func(dt docstore.Tx) error {
		t := dt.(*tx)
		c, err := getCollection(ctx, t.q, collection)
		if err != nil {
			return err
		}
		if c.Search.Text == nil {
			done = true
			return nil
		}
		ix, err := newTextIndex(op, collection, *c.Search.Text)
		if err != nil {
			return err
		}
		var last string
		var finished bool
		err = t.q.QueryRowContext(ctx, `SELECT last_id, done FROM search_builds WHERE collection = ?`, collection).
			Scan(&last, &finished)
		if errors.Is(err, sql.ErrNoRows) || finished {
			done = true
			return nil
		}
		if err != nil {
			return mapErr(op, err)
		}
		// The batch: the next limit ids; those a write indexed since the
		// change are skipped.
		var upTo sql.NullString
		var n int
		if err := t.q.QueryRowContext(ctx, `SELECT max(id), count(*) FROM (SELECT id FROM `+ix.docs+
			` WHERE id > ? ORDER BY id LIMIT ?)`, last, limit).Scan(&upTo, &n); err != nil {
			return mapErr(op, err)
		}
		if n > 0 {
			for _, stmt := range ix.buildRows() {
				if _, err := t.q.ExecContext(ctx, stmt, last, upTo.String); err != nil {
					return mapErr(op, err)
				}
			}
			last = upTo.String
		}
		done = n < limit
		_, err = t.q.ExecContext(ctx, `UPDATE search_builds SET last_id = ?, done = ? WHERE collection = ?`,
			last, done, collection)
		return mapErr(op, err)
	})
	return done, err
}
