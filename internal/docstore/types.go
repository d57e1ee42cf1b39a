package docstore

import (
	"encoding/json"
	"time"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/query"
)

// Collection is a named set of documents sharing a JSON Schema.
type Collection struct {
	Name    string
	Schema  json.RawMessage // JSON Schema draft 2020-12, canonical JSON
	Indexes []Index
	// Rules say who may list, get, create, update and delete documents.
	Rules Rules
	// HiddenFields are data paths (author.email) removed from the
	// documents returned to callers who are not admins.
	HiddenFields []string
	// Search configures full-text and vector search; the zero value: none.
	Search Search
	// References declare the data fields that hold the ids of documents of
	// other collections: field → collection (see CollectionSpec).
	References map[string]string
	Version    int64 // starts at 1, +1 on every change of the definition
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Rules are the access rules of a collection, one per action on its
// documents. For each action, nil (JSON null, the default) lets admins only;
// a pointer to "" lets everyone, anonymous callers included; any other
// string is a rule expression (see query.ParseRule) that must hold for the
// caller and the document.
type Rules struct {
	List   *string `json:"list"`
	Get    *string `json:"get"`
	Create *string `json:"create"`
	Update *string `json:"update"`
	Delete *string `json:"delete"`
}

// Indexes of the actions in Rules.byAction order.
const (
	actList = iota
	actGet
	actCreate
	actUpdate
	actDelete
	numActions
)

// actionName returns the name of action i as rules, scopes and JSON name
// it (auth.ActionList, …).
func actionName(i int) string {
	return [numActions]string{auth.ActionList, auth.ActionGet, auth.ActionCreate, auth.ActionUpdate, auth.ActionDelete}[i]
}

// byAction returns the rules in action order (actList, actGet, …).
func (r Rules) byAction() [numActions]*string {
	return [numActions]*string{r.List, r.Get, r.Create, r.Update, r.Delete}
}

// Equal reports whether r and o give every action the same rule.
func (r Rules) Equal(o Rules) bool {
	a, b := r.byAction(), o.byAction()
	for i := range a {
		x, y := a[i], b[i]
		if (x == nil) != (y == nil) || (x != nil && *x != *y) {
			return false
		}
	}
	return true
}

// clone returns a copy of r that shares no pointer with it.
func (r Rules) clone() Rules {
	c := func(p *string) *string {
		if p == nil {
			return nil
		}
		v := *p
		return &v
	}
	return Rules{List: c(r.List), Get: c(r.Get), Create: c(r.Create), Update: c(r.Update), Delete: c(r.Delete)}
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

// CountParams is a checked, engine-neutral count query.
type CountParams struct {
	Collection string
	// Filter is nil for "every document".
	Filter query.Expr
	// Limit, when positive, is the most documents counted: the count
	// stops there, so a result of Limit means "Limit or more".
	Limit int64
	// Indexes are the collection's declared indexes (Collection.Indexes).
	// An engine may name one whose first field the filter bounds, so that
	// its planner reads the matches from that index and stops after Limit
	// of them instead of scanning the collection.
	Indexes []Index
}
