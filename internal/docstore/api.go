package docstore

// This file declares the requests and answers of the document service, the
// one API every transport (REST, GraphQL, gRPC) calls.

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Documents are the document calls every transport (REST, gRPC, and a
// client of a documents component in another process) makes of the
// document service; *Service implements them. Each authorizes its caller
// (auth.FromContext) itself.
type Documents interface {
	GetDocument(ctx context.Context, collection, id string) (Document, error)
	BatchGetDocuments(ctx context.Context, collection string, ids []string) ([]Document, error)
	ListDocuments(ctx context.Context, r ListRequest) (Page, error)
	CreateDocument(ctx context.Context, r CreateRequest) (Document, error)
	ReplaceDocument(ctx context.Context, r ReplaceRequest) (Document, error)
	PatchDocument(ctx context.Context, r PatchRequest) (Document, error)
	DeleteDocument(ctx context.Context, r DeleteRequest) error
	Batch(ctx context.Context, ops []BatchOp, idempotencyKey string) ([]BatchResult, error)
}

// Collections are the collection calls every transport makes of the
// document service; *Service implements them.
type Collections interface {
	ListCollections(ctx context.Context) ([]Collection, error)
	GetCollection(ctx context.Context, name string) (Collection, error)
	CreateCollection(ctx context.Context, spec CollectionSpec) (Collection, error)
	ReplaceCollection(ctx context.Context, name string, spec CollectionSpec, ifMatch Versions) (Collection, error)
	PatchCollection(ctx context.Context, name string, patch Data, ifMatch Versions) (Collection, error)
	DeleteCollection(ctx context.Context, name string, ifMatch Versions) error
}

var (
	_ Documents   = (*Service)(nil)
	_ Collections = (*Service)(nil)
)

// CollectionSpec is what a client supplies to create or replace a
// collection.
type CollectionSpec struct {
	Name         string          `json:"name"`
	Schema       json.RawMessage `json:"schema"`
	Indexes      []Index         `json:"indexes,omitempty"`
	Rules        Rules           `json:"rules"`
	HiddenFields []string        `json:"hiddenFields,omitempty"`
	Search       *Search         `json:"search,omitempty"`
	// References declare relations: each key is a top-level data field of
	// type string (the id of one document) or array of strings (ids), and
	// its value the collection those documents are in. Reads can expand a
	// reference into the documents (REST's expand, GraphQL's relation
	// fields); nothing checks that the ids exist.
	References map[string]string `json:"references,omitempty"`
}

// Data is a document's content as decoded from a request: a JSON object
// whose numbers are json.Number, arrays []any and objects map[string]any.
type Data = map[string]any

// CreateRequest creates a document. ID is optional (a UUIDv7 is generated).
type CreateRequest struct {
	Collection     string
	ID             string
	Data           Data
	IdempotencyKey string
}

// Versions are the versions a conditional write accepts (HTTP's If-Match,
// gRPC's expected version): the write happens only when the current
// version is one of them, and fails with fault.PreconditionFailed
// otherwise. Empty accepts any version. No version is 0, so Versions{0}
// accepts none (a condition none of whose tags names a version).
type Versions []int64

// Version is the condition of one expected version; 0 for none.
func Version(v int64) Versions {
	if v == 0 {
		return nil
	}
	return Versions{v}
}

func (vs Versions) accepts(cur int64) bool { return len(vs) == 0 || slices.Contains(vs, cur) }

// String lists the versions, for messages.
func (vs Versions) String() string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(parts, " or ")
}

// ReplaceRequest replaces the data of an existing document, at one of the
// versions IfMatch names.
type ReplaceRequest struct {
	Collection     string
	ID             string
	Data           Data
	IfMatch        Versions
	IdempotencyKey string
}

// PatchRequest applies a JSON Merge Patch (RFC 7386) to a document's data.
type PatchRequest struct {
	Collection     string
	ID             string
	Patch          Data
	IfMatch        Versions
	IdempotencyKey string
}

// DeleteRequest deletes a document.
type DeleteRequest struct {
	Collection     string
	ID             string
	IfMatch        Versions
	IdempotencyKey string
}

// ListRequest is a list query in the language of the public API: Filter,
// Sort and Fields are the strings a client sent (empty means default).
type ListRequest struct {
	Collection string
	Filter     string
	Sort       string // e.g. "-score,title"; default "id"
	Fields     string // e.g. "title,author.name"; default all of data
	Cursor     string // opaque, from a previous Page
	Limit      int    // 0 means the default page size
	Total      bool   // count all matching documents
	// Cursors asks for Page.Cursors, a cursor after each item (GraphQL's
	// edges have one each).
	Cursors bool
}

// Page is one page of a list.
type Page struct {
	Items      []Document
	NextCursor string // empty on the last page
	// Total is set only when asked for: the number of documents matching
	// the filter (and the caller's list rule), whatever the cursor. It is
	// exact up to Limits.ListTotalCap; when more documents match, Total
	// is the cap and TotalCapped is set.
	Total       *int64
	TotalCapped bool
	// Cursors, when asked for, continue the list after each item (the
	// last one is NextCursor when there is more).
	Cursors []string
}

// BatchOp is one write of a batch. Op is OpCreate, OpReplace, OpPatch or
// OpDelete; Data is the content (create, replace) or the merge patch (patch).
type BatchOp struct {
	Op         Operation `json:"op"`
	Collection string    `json:"collection"`
	ID         string    `json:"id,omitempty"`
	Data       Data      `json:"data,omitempty"`
	IfMatch    int64     `json:"ifMatch,omitempty"`
}

// BatchResult is the outcome of one op of a committed batch. Document is nil
// for deletes.
type BatchResult struct {
	Op       Operation `json:"op"`
	ID       string    `json:"id"`
	Document *Document `json:"document,omitempty"`
}
