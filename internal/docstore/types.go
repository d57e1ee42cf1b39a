package docstore

import (
	"encoding/json"
	"time"

	"github.com/basaltdev/basalt/internal/query"
)

// Collection is a named set of documents sharing a JSON Schema.
type Collection struct {
	Name      string
	Schema    json.RawMessage // JSON Schema draft 2020-12, canonical JSON
	Indexes   []Index
	Version   int64 // starts at 1, +1 on every change of the definition
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Index declares fields that a storage engine indexes for filters and sorts.
type Index struct {
	Fields []string `json:"fields"` // dotted paths inside data, or system field names
}

// Document is one JSON document of a collection. Data is the user's object
// as canonical JSON (object keys sorted, numbers as written).
type Document struct {
	Collection string
	ID         string
	Version    int64 // starts at 1, +1 on every write
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Data       json.RawMessage
}

// Operation says what a write did to a document.
type Operation string

// Document operations, as recorded in the outbox.
const (
	OpCreate  Operation = "create"
	OpReplace Operation = "replace"
	OpPatch   Operation = "patch"
	OpDelete  Operation = "delete"
)

// Event is one outbox row: the record of one committed document write.
type Event struct {
	ID         string // UUIDv7
	Collection string
	DocumentID string
	Operation  Operation
	Version    int64           // the document version the write produced (for deletes: the deleted version + 1)
	Payload    json.RawMessage // the document after the write as the API shows it; for deletes, {"id":…} only
	Time       time.Time
}

// IdempotencyRecord remembers the first answer to a write sent with an
// Idempotency-Key, so a retry gets the same answer.
type IdempotencyRecord struct {
	Key         string // the scoped key (see Service)
	RequestHash []byte // SHA-256 of the canonical request
	Response    json.RawMessage
	CreatedAt   time.Time
}

// ListParams is a checked, engine-neutral list query.
type ListParams struct {
	Collection string
	// Filter is nil for "every document".
	Filter query.Expr
	// Sort always ends with the id key, so the order is total.
	Sort []query.SortKey
	// After is the keyset position: the values of the Sort keys of the last
	// row of the previous page, in Sort order; nil for the first page. A
	// value is nil (null), string, json.Number, bool, int64 (version) or
	// time.Time (createdAt/updatedAt).
	After []any
	// Limit is the most rows to return.
	Limit int
}
