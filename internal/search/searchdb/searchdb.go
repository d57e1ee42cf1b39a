// Package searchdb declares what search needs from a storage engine:
// full-text queries over the engine's own text index (PostgreSQL tsvector
// and pg_trgm, SQLite FTS5 and its trigram tokenizer), the build of that
// index when a collection's search configuration changes, and the
// embedder's vectors, stored beside the documents they were computed
// from. searchdbtest/ is the conformance suite both engines pass.
//
// The text index is the engine's: it is created, changed and dropped with
// the collection (Tx.CreateCollection, UpdateCollection, DeleteCollection
// read Collection.Search) and kept current in the transaction of every
// document write, so a search sees every write that committed before it.
// A change of the configuration indexes new writes at once under the new
// configuration; the documents written before are indexed again by
// BuildText, in the background, and TextStatus reports its progress.
package searchdb

import (
	"context"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/query"
)

// Markers around a matched term in a TextHit's highlights. They are
// control characters no JSON string of a document holds unescaped; the
// search service escapes the text between them for its transports.
const (
	MarkStart = "\x02"
	MarkEnd   = "\x03"
)

// TextQuery is one full-text query.
type TextQuery struct {
	Collection string
	// Text is the collection's text configuration (Collection.Search.Text,
	// never nil): its fields, weights and language.
	Text docstore.TextSearch
	// Query is the caller's query in web-search syntax: words (all must
	// match), "quoted phrases", OR between alternatives, and -word or
	// -"phrase" to exclude (PostgreSQL's websearch_to_tsquery).
	Query string
	// Fuzzy selects the typo-tolerant match: documents containing words
	// similar to the query's words by trigram similarity (pg_trgm, FTS5
	// trigram), ranked by that similarity. Phrases and exclusions keep
	// their meaning where the engine can keep it.
	Fuzzy bool
	// Filter is checked (the caller's filter and rule, ANDed); nil: any.
	Filter query.Expr
	// Sort, when set, orders hits as a list does (ending with the id key);
	// nil orders by relevance: Score descending, then id ascending.
	Sort []query.SortKey
	// After is the keyset position of the last hit of the previous page:
	// with Sort, its sort values (as docstore.ListParams.After); by
	// relevance, [Score float64, id string]. nil for the first page.
	After []any
	// Limit is the most hits returned.
	Limit int
	// Highlight lists the searchable fields (data paths of Text.Fields) to
	// return snippets of: the fields the caller may see.
	Highlight []string
}

// TextHit is one document a text query matched.
type TextHit struct {
	Document docstore.Document
	// Score is the hit's relevance, higher is better, comparable within
	// one query only: ts_rank_cd with the field weights, −bm25 with the
	// column weights, or the trigram similarity of a fuzzy query. With
	// Sort it is still computed. An engine returns the same Score for the
	// same document and query every time (cursors rely on it).
	Score float64
	// Highlights maps a field of TextQuery.Highlight that matched to a
	// snippet of its text with each match between MarkStart and MarkEnd.
	Highlights map[string]string
}

// BuildStatus is the state of a collection's text index.
type BuildStatus struct {
	// Building is true while documents written before the last change of
	// the configuration are not yet indexed under it.
	Building bool
	// Indexed and Total count the documents indexed under the current
	// configuration and the documents of the collection.
	Indexed, Total int64
}

// StoredVector is a vector an embedder computed for one vector field of
// one document.
type StoredVector struct {
	Collection string
	DocumentID string
	Field      string
	// Version is the document version whose text was embedded.
	Version int64
	// Hash identifies the embedded text and embedder (SHA-256), so that a
	// write that leaves the text unchanged is not embedded again.
	Hash   []byte
	Vector []float32
}

// Store is implemented by storage engines.
//
// Errors follow docstore.Store: a missing collection is fault.NotFound, a
// query the engine cannot parse is fault.Invalid with a message for the
// caller, an unreachable database fault.Unavailable.
type Store interface {
	// SearchText runs a full-text query.
	SearchText(ctx context.Context, q TextQuery) ([]TextHit, error)
	// TextStatus reports the build of the collection's text index.
	TextStatus(ctx context.Context, collection string) (BuildStatus, error)
	// BuildText indexes, under the collection's current configuration, up
	// to limit documents that are not yet, and reports whether none is
	// left. Several processes may call it at once.
	BuildText(ctx context.Context, collection string, limit int) (done bool, err error)

	// PutVectors stores vectors, each replacing the one stored for its
	// document and field, in one transaction that also appends, for each
	// vector stored, the event event returns to the outbox. A vector whose
	// document is missing or at another version than v.Version is not
	// stored (a later write will be embedded in turn). It returns how many
	// were stored.
	PutVectors(ctx context.Context, vs []StoredVector, event func(StoredVector) (eventbus.Event, error)) (int, error)
	// GetVectors returns the stored vectors of field for the ids that
	// have one.
	GetVectors(ctx context.Context, collection, field string, ids []string) ([]StoredVector, error)
	// ListVectors returns up to limit stored vectors of field, in document
	// id order, after the id after ("" for the start).
	ListVectors(ctx context.Context, collection, field, after string, limit int) ([]StoredVector, error)
}
