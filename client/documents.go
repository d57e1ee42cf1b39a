package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
)

// Document is a document: its system fields and its data.
type Document struct {
	ID         string
	Collection string
	Version    int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// Data is the document's JSON object as Basalt keeps it (numbers as
	// written).
	Data json.RawMessage
}

// Decode decodes the document's data into v.
func (d Document) Decode(v any) error { return json.Unmarshal(d.Data, v) }

func documentOf(d *basaltv1.Document) Document {
	return Document{ID: d.GetId(), Collection: d.GetCollection(), Version: d.GetVersion(), CreatedAt: d.GetCreatedAt().AsTime(),
		UpdatedAt: d.GetUpdatedAt().AsTime(), Data: d.GetData()}
}

// Documents are the documents of one collection.
type Documents struct {
	c          *Client
	collection string
}

// Documents returns the documents of collection.
func (c *Client) Documents(collection string) Documents {
	return Documents{c: c, collection: collection}
}

// jsonOf is v as JSON text: v itself when it is json.RawMessage or
// []byte, else its encoding.
func jsonOf(v any) ([]byte, error) {
	switch b := v.(type) {
	case json.RawMessage:
		return b, nil
	case []byte:
		return b, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("client: encoding the data: %w", err)
	}
	return b, nil
}

// Get returns the document id.
func (d Documents) Get(ctx context.Context, id string) (Document, error) {
	if d.collection == "" {
		return Document{}, errNoCollection
	}
	res, err := call(ctx, d.c, func(ctx context.Context) (*basaltv1.GetDocumentResponse, error) {
		return d.c.Services.Documents.GetDocument(ctx, &basaltv1.GetDocumentRequest{Collection: d.collection, Id: id})
	})
	if err != nil {
		return Document{}, err
	}
	return documentOf(res.GetDocument()), nil
}

// GetMany returns the documents among ids that exist and that the caller
// may get (as Get would decide for each), in the order of ids, once each:
// one call for up to 1,000 ids.
func (d Documents) GetMany(ctx context.Context, ids ...string) ([]Document, error) {
	if d.collection == "" {
		return nil, errNoCollection
	}
	res, err := call(ctx, d.c, func(ctx context.Context) (*basaltv1.BatchGetDocumentsResponse, error) {
		return d.c.Services.Documents.BatchGetDocuments(ctx, &basaltv1.BatchGetDocumentsRequest{Collection: d.collection, Ids: ids})
	})
	if err != nil {
		return nil, err
	}
	out := make([]Document, len(res.GetDocuments()))
	for i, m := range res.GetDocuments() {
		out[i] = documentOf(m)
	}
	return out, nil
}

// ListOptions select and order the documents of a list, in Basalt's filter
// and sort language (see docs/filters.md).
type ListOptions struct {
	Filter string
	Sort   string
	// Limit is the most documents of the page (the server's default when
	// zero).
	Limit int
	// Cursor is the NextCursor of the previous page.
	Cursor string
	// Fields, when set, are the only data fields returned
	// ("title,author.name").
	Fields string
	// Total asks for the number of matching documents.
	Total bool
}

// Page is one page of a list.
type Page struct {
	Items []Document
	// NextCursor is "" on the last page.
	NextCursor string
	// Total is the number of matching documents (with ListOptions.Total),
	// at most the server's cap, which TotalCapped says was reached.
	Total       int64
	TotalCapped bool
}

// List returns a page of documents.
func (d Documents) List(ctx context.Context, o ListOptions) (Page, error) {
	if d.collection == "" {
		return Page{}, errNoCollection
	}
	res, err := call(ctx, d.c, func(ctx context.Context) (*basaltv1.ListDocumentsResponse, error) {
		return d.c.Services.Documents.ListDocuments(ctx, &basaltv1.ListDocumentsRequest{Collection: d.collection, Filter: o.Filter,
			Sort: o.Sort, Limit: int32(min(max(o.Limit, 0), 1<<30)), Cursor: o.Cursor, Fields: o.Fields, Total: o.Total})
	})
	if err != nil {
		return Page{}, err
	}
	p := Page{NextCursor: res.GetNextCursor(), Total: res.GetTotal(), TotalCapped: res.GetTotalCapped(), Items: make([]Document, len(res.GetItems()))}
	for i, it := range res.GetItems() {
		p.Items[i] = documentOf(it)
	}
	return p, nil
}

// WriteOptions qualify a write.
type WriteOptions struct {
	// ID names a new document (a UUIDv7 is made when empty).
	ID string
	// ExpectedVersion, when not zero, makes the write happen only while
	// the document is at that version (else IsPreconditionFailed).
	ExpectedVersion int64
	// IdempotencyKey makes a retried write happen once: the same key with
	// the same request answers as the first time did.
	IdempotencyKey string
}

func firstOf(o []WriteOptions) WriteOptions {
	if len(o) == 0 {
		return WriteOptions{}
	}
	return o[0]
}

// Create adds a document with data (a value encoded to a JSON object, or
// JSON text as json.RawMessage).
func (d Documents) Create(ctx context.Context, data any, opts ...WriteOptions) (Document, error) {
	if d.collection == "" {
		return Document{}, errNoCollection
	}
	b, err := jsonOf(data)
	if err != nil {
		return Document{}, err
	}
	o := firstOf(opts)
	res, err := call(ctx, d.c, func(ctx context.Context) (*basaltv1.CreateDocumentResponse, error) {
		return d.c.Services.Documents.CreateDocument(ctx, &basaltv1.CreateDocumentRequest{Collection: d.collection, Id: o.ID, Data: b,
			IdempotencyKey: o.IdempotencyKey})
	})
	if err != nil {
		return Document{}, err
	}
	return documentOf(res.GetDocument()), nil
}

// Replace replaces the data of document id.
func (d Documents) Replace(ctx context.Context, id string, data any, opts ...WriteOptions) (Document, error) {
	if d.collection == "" {
		return Document{}, errNoCollection
	}
	b, err := jsonOf(data)
	if err != nil {
		return Document{}, err
	}
	o := firstOf(opts)
	res, err := call(ctx, d.c, func(ctx context.Context) (*basaltv1.ReplaceDocumentResponse, error) {
		return d.c.Services.Documents.ReplaceDocument(ctx, &basaltv1.ReplaceDocumentRequest{Collection: d.collection, Id: id, Data: b,
			ExpectedVersion: o.ExpectedVersion, IdempotencyKey: o.IdempotencyKey})
	})
	if err != nil {
		return Document{}, err
	}
	return documentOf(res.GetDocument()), nil
}

// Patch applies a JSON Merge Patch (RFC 7386) to the data of document id:
// members set to null are removed.
func (d Documents) Patch(ctx context.Context, id string, patch any, opts ...WriteOptions) (Document, error) {
	if d.collection == "" {
		return Document{}, errNoCollection
	}
	b, err := jsonOf(patch)
	if err != nil {
		return Document{}, err
	}
	o := firstOf(opts)
	res, err := call(ctx, d.c, func(ctx context.Context) (*basaltv1.PatchDocumentResponse, error) {
		return d.c.Services.Documents.PatchDocument(ctx, &basaltv1.PatchDocumentRequest{Collection: d.collection, Id: id, Patch: b,
			ExpectedVersion: o.ExpectedVersion, IdempotencyKey: o.IdempotencyKey})
	})
	if err != nil {
		return Document{}, err
	}
	return documentOf(res.GetDocument()), nil
}

// Delete removes document id.
func (d Documents) Delete(ctx context.Context, id string, opts ...WriteOptions) error {
	if d.collection == "" {
		return errNoCollection
	}
	o := firstOf(opts)
	_, err := call(ctx, d.c, func(ctx context.Context) (*basaltv1.DeleteDocumentResponse, error) {
		return d.c.Services.Documents.DeleteDocument(ctx, &basaltv1.DeleteDocumentRequest{Collection: d.collection, Id: id,
			ExpectedVersion: o.ExpectedVersion, IdempotencyKey: o.IdempotencyKey})
	})
	return err
}

// CollectionSpec describes a collection to create: its name, the JSON
// Schema of its documents (nil: any object), indexes and access rules.
// Search and hidden fields are set through Services.Collections.
type CollectionSpec struct {
	Name    string
	Schema  any
	Indexes [][]string
	Rules   Rules
}

// Rules are a collection's access rules; nil leaves an action to admins
// only, "" opens it to everyone (see docs/rules.md).
type Rules struct {
	List, Get, Create, Update, Delete *string
}

// Rule returns a pointer to rule, for Rules.
func Rule(rule string) *string { return &rule }

// CreateCollection creates a collection (admins, and API keys with the
// collections:manage scope).
func (c *Client) CreateCollection(ctx context.Context, spec CollectionSpec) error {
	var schema []byte
	if spec.Schema != nil {
		b, err := jsonOf(spec.Schema)
		if err != nil {
			return err
		}
		schema = b
	}
	s := &basaltv1.CollectionSpec{Name: spec.Name, Schema: schema,
		Rules: &basaltv1.Rules{List: spec.Rules.List, Get: spec.Rules.Get, Create: spec.Rules.Create, Update: spec.Rules.Update, Delete: spec.Rules.Delete}}
	for _, fields := range spec.Indexes {
		s.Indexes = append(s.Indexes, &basaltv1.Index{Fields: fields})
	}
	_, err := call(ctx, c, func(ctx context.Context) (*basaltv1.CreateCollectionResponse, error) {
		return c.Services.Collections.CreateCollection(ctx, &basaltv1.CreateCollectionRequest{Spec: s})
	})
	return err
}

// DeleteCollection deletes a collection and its documents.
func (c *Client) DeleteCollection(ctx context.Context, name string) error {
	_, err := call(ctx, c, func(ctx context.Context) (*basaltv1.DeleteCollectionResponse, error) {
		return c.Services.Collections.DeleteCollection(ctx, &basaltv1.DeleteCollectionRequest{Name: name})
	})
	return err
}
