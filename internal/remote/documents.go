package remote

import (
	"context"
	"encoding/json"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway/rpcapi"
)

// Documents are the document and collection calls of a remote documents
// component.
type Documents struct {
	c     *conn
	docs  basaltv1connect.DocumentServiceClient
	colls basaltv1connect.CollectionServiceClient
	comp  basaltv1connect.ComponentServiceClient
}

var (
	_ docstore.Documents   = (*Documents)(nil)
	_ docstore.Collections = (*Documents)(nil)
)

// NewDocuments returns the documents component at o.URL.
func NewDocuments(o Options) (*Documents, error) {
	c, err := newConn(o)
	if err != nil {
		return nil, err
	}
	return &Documents{c: c, docs: basaltv1connect.NewDocumentServiceClient(c.client),
		colls: basaltv1connect.NewCollectionServiceClient(c.client), comp: basaltv1connect.NewComponentServiceClient(c.client)}, nil
}

// Ready returns nil when the component is ready to serve.
func (d *Documents) Ready(ctx context.Context) error { return ready(ctx, d.c, d.comp) }

const op = "remote"

// jsonOf is data as JSON text.
func jsonOf(data docstore.Data) ([]byte, error) {
	if data == nil {
		return nil, nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fault.Internalf(op, err)
	}
	return b, nil
}

// expected is the expected version that stands for ifMatch: none, its one
// version, or, for several (an If-Match of several tags), the current
// version when it is one of them. A write that expects a version the
// thing is not at fails as the service fails it (mismatch).
func expected(ifMatch docstore.Versions, current func() (int64, error), mismatch func(cur int64) error) (int64, error) {
	switch {
	case len(ifMatch) == 0:
		return 0, nil
	case len(ifMatch) == 1 && ifMatch[0] > 0:
		return ifMatch[0], nil
	}
	cur, err := current()
	if err != nil {
		return 0, err
	}
	for _, v := range ifMatch {
		if v == cur {
			return v, nil
		}
	}
	return 0, mismatch(cur)
}

// documentVersion is the expected version of document id for ifMatch.
func (d *Documents) documentVersion(ctx context.Context, collection, id string, ifMatch docstore.Versions) (int64, error) {
	return expected(ifMatch, func() (int64, error) {
		doc, err := d.GetDocument(ctx, collection, id)
		return doc.Version, err
	}, func(cur int64) error {
		return fault.Newf(fault.PreconditionFailed, op, "document %q is at version %d, not %s", id, cur, ifMatch)
	})
}

// collectionVersion is the expected version of collection name for
// ifMatch.
func (d *Documents) collectionVersion(ctx context.Context, name string, ifMatch docstore.Versions) (int64, error) {
	return expected(ifMatch, func() (int64, error) {
		c, err := d.GetCollection(ctx, name)
		return c.Version, err
	}, func(cur int64) error {
		return fault.Newf(fault.PreconditionFailed, op, "collection %q is at version %d, not %s", name, cur, ifMatch)
	})
}

// GetDocument returns a document (a read: retried).
func (d *Documents) GetDocument(ctx context.Context, collection, id string) (docstore.Document, error) {
	res, err := call(ctx, d.c, true, func(ctx context.Context) (*basaltv1.GetDocumentResponse, error) {
		return d.docs.GetDocument(ctx, &basaltv1.GetDocumentRequest{Collection: collection, Id: id})
	})
	if err != nil {
		return docstore.Document{}, err
	}
	return rpcapi.DocumentOf(res.GetDocument()), nil
}

// BatchGetDocuments returns the documents among ids the caller may get (a
// read: retried).
func (d *Documents) BatchGetDocuments(ctx context.Context, collection string, ids []string) ([]docstore.Document, error) {
	res, err := call(ctx, d.c, true, func(ctx context.Context) (*basaltv1.BatchGetDocumentsResponse, error) {
		return d.docs.BatchGetDocuments(ctx, &basaltv1.BatchGetDocumentsRequest{Collection: collection, Ids: ids})
	})
	if err != nil {
		return nil, err
	}
	out := make([]docstore.Document, len(res.GetDocuments()))
	for i, m := range res.GetDocuments() {
		out[i] = rpcapi.DocumentOf(m)
	}
	return out, nil
}

// ListDocuments returns a page of documents (a read: retried).
func (d *Documents) ListDocuments(ctx context.Context, r docstore.ListRequest) (docstore.Page, error) {
	res, err := call(ctx, d.c, true, func(ctx context.Context) (*basaltv1.ListDocumentsResponse, error) {
		return d.docs.ListDocuments(ctx, &basaltv1.ListDocumentsRequest{Collection: r.Collection, Filter: r.Filter, Sort: r.Sort,
			Limit: int32(min(max(r.Limit, 0), 1<<30)), Cursor: r.Cursor, Fields: r.Fields, Total: r.Total})
	})
	if err != nil {
		return docstore.Page{}, err
	}
	return rpcapi.PageOf(res), nil
}

// CreateDocument adds a document.
func (d *Documents) CreateDocument(ctx context.Context, r docstore.CreateRequest) (docstore.Document, error) {
	data, err := jsonOf(r.Data)
	if err != nil {
		return docstore.Document{}, err
	}
	res, err := call(ctx, d.c, false, func(ctx context.Context) (*basaltv1.CreateDocumentResponse, error) {
		return d.docs.CreateDocument(ctx, &basaltv1.CreateDocumentRequest{Collection: r.Collection, Id: r.ID, Data: data,
			IdempotencyKey: r.IdempotencyKey})
	})
	if err != nil {
		return docstore.Document{}, err
	}
	return rpcapi.DocumentOf(res.GetDocument()), nil
}

// ReplaceDocument replaces a document's data.
func (d *Documents) ReplaceDocument(ctx context.Context, r docstore.ReplaceRequest) (docstore.Document, error) {
	data, err := jsonOf(r.Data)
	if err != nil {
		return docstore.Document{}, err
	}
	v, err := d.documentVersion(ctx, r.Collection, r.ID, r.IfMatch)
	if err != nil {
		return docstore.Document{}, err
	}
	res, err := call(ctx, d.c, false, func(ctx context.Context) (*basaltv1.ReplaceDocumentResponse, error) {
		return d.docs.ReplaceDocument(ctx, &basaltv1.ReplaceDocumentRequest{Collection: r.Collection, Id: r.ID, Data: data,
			ExpectedVersion: v, IdempotencyKey: r.IdempotencyKey})
	})
	if err != nil {
		return docstore.Document{}, err
	}
	return rpcapi.DocumentOf(res.GetDocument()), nil
}

// PatchDocument merge-patches a document's data.
func (d *Documents) PatchDocument(ctx context.Context, r docstore.PatchRequest) (docstore.Document, error) {
	patch, err := jsonOf(r.Patch)
	if err != nil {
		return docstore.Document{}, err
	}
	v, err := d.documentVersion(ctx, r.Collection, r.ID, r.IfMatch)
	if err != nil {
		return docstore.Document{}, err
	}
	res, err := call(ctx, d.c, false, func(ctx context.Context) (*basaltv1.PatchDocumentResponse, error) {
		return d.docs.PatchDocument(ctx, &basaltv1.PatchDocumentRequest{Collection: r.Collection, Id: r.ID, Patch: patch,
			ExpectedVersion: v, IdempotencyKey: r.IdempotencyKey})
	})
	if err != nil {
		return docstore.Document{}, err
	}
	return rpcapi.DocumentOf(res.GetDocument()), nil
}

// DeleteDocument deletes a document.
func (d *Documents) DeleteDocument(ctx context.Context, r docstore.DeleteRequest) error {
	v, err := d.documentVersion(ctx, r.Collection, r.ID, r.IfMatch)
	if err != nil {
		return err
	}
	_, err = call(ctx, d.c, false, func(ctx context.Context) (*basaltv1.DeleteDocumentResponse, error) {
		return d.docs.DeleteDocument(ctx, &basaltv1.DeleteDocumentRequest{Collection: r.Collection, Id: r.ID, ExpectedVersion: v,
			IdempotencyKey: r.IdempotencyKey})
	})
	return err
}

// Batch applies several writes in one transaction.
func (d *Documents) Batch(ctx context.Context, ops []docstore.BatchOp, idempotencyKey string) ([]docstore.BatchResult, error) {
	req := &basaltv1.BatchRequest{IdempotencyKey: idempotencyKey, Operations: make([]*basaltv1.BatchOperation, len(ops))}
	for i, o := range ops {
		data, err := jsonOf(o.Data)
		if err != nil {
			return nil, err
		}
		var m *basaltv1.BatchOperation
		switch o.Op {
		case docstore.OpCreate:
			m = &basaltv1.BatchOperation{Operation: &basaltv1.BatchOperation_Create{Create: &basaltv1.CreateDocumentRequest{
				Collection: o.Collection, Id: o.ID, Data: data}}}
		case docstore.OpReplace:
			m = &basaltv1.BatchOperation{Operation: &basaltv1.BatchOperation_Replace{Replace: &basaltv1.ReplaceDocumentRequest{
				Collection: o.Collection, Id: o.ID, Data: data, ExpectedVersion: o.IfMatch}}}
		case docstore.OpPatch:
			m = &basaltv1.BatchOperation{Operation: &basaltv1.BatchOperation_Patch{Patch: &basaltv1.PatchDocumentRequest{
				Collection: o.Collection, Id: o.ID, Patch: data, ExpectedVersion: o.IfMatch}}}
		case docstore.OpDelete:
			m = &basaltv1.BatchOperation{Operation: &basaltv1.BatchOperation_Delete{Delete: &basaltv1.DeleteDocumentRequest{
				Collection: o.Collection, Id: o.ID, ExpectedVersion: o.IfMatch}}}
		default:
			return nil, fault.Newf(fault.Invalid, op, "operation %d: %q is not an operation", i, o.Op)
		}
		req.Operations[i] = m
	}
	res, err := call(ctx, d.c, false, func(ctx context.Context) (*basaltv1.BatchResponse, error) {
		return d.docs.Batch(ctx, req)
	})
	if err != nil {
		return nil, err
	}
	out := make([]docstore.BatchResult, len(res.GetResults()))
	for i, r := range res.GetResults() {
		out[i] = docstore.BatchResult{ID: r.GetId()}
		if i < len(ops) {
			out[i].Op = ops[i].Op
		}
		if r.GetDocument() != nil {
			doc := rpcapi.DocumentOf(r.GetDocument())
			out[i].Document = &doc
		}
	}
	return out, nil
}

// ListCollections returns every collection (a read: retried).
func (d *Documents) ListCollections(ctx context.Context) ([]docstore.Collection, error) {
	res, err := call(ctx, d.c, true, func(ctx context.Context) (*basaltv1.ListCollectionsResponse, error) {
		return d.colls.ListCollections(ctx, &basaltv1.ListCollectionsRequest{})
	})
	if err != nil {
		return nil, err
	}
	out := make([]docstore.Collection, len(res.GetCollections()))
	for i, c := range res.GetCollections() {
		out[i] = rpcapi.CollectionOf(c)
	}
	return out, nil
}

// GetCollection returns a collection (a read: retried).
func (d *Documents) GetCollection(ctx context.Context, name string) (docstore.Collection, error) {
	res, err := call(ctx, d.c, true, func(ctx context.Context) (*basaltv1.GetCollectionResponse, error) {
		return d.colls.GetCollection(ctx, &basaltv1.GetCollectionRequest{Name: name})
	})
	if err != nil {
		return docstore.Collection{}, err
	}
	return rpcapi.CollectionOf(res.GetCollection()), nil
}

// CreateCollection creates a collection.
func (d *Documents) CreateCollection(ctx context.Context, spec docstore.CollectionSpec) (docstore.Collection, error) {
	res, err := call(ctx, d.c, false, func(ctx context.Context) (*basaltv1.CreateCollectionResponse, error) {
		return d.colls.CreateCollection(ctx, &basaltv1.CreateCollectionRequest{Spec: rpcapi.CollectionSpecMessage(spec)})
	})
	if err != nil {
		return docstore.Collection{}, err
	}
	return rpcapi.CollectionOf(res.GetCollection()), nil
}

// ReplaceCollection replaces a collection's definition.
func (d *Documents) ReplaceCollection(ctx context.Context, name string, spec docstore.CollectionSpec, ifMatch docstore.Versions) (docstore.Collection, error) {
	v, err := d.collectionVersion(ctx, name, ifMatch)
	if err != nil {
		return docstore.Collection{}, err
	}
	res, err := call(ctx, d.c, false, func(ctx context.Context) (*basaltv1.ReplaceCollectionResponse, error) {
		return d.colls.ReplaceCollection(ctx, &basaltv1.ReplaceCollectionRequest{Name: name, Spec: rpcapi.CollectionSpecMessage(spec), ExpectedVersion: v})
	})
	if err != nil {
		return docstore.Collection{}, err
	}
	return rpcapi.CollectionOf(res.GetCollection()), nil
}

// PatchCollection merge-patches a collection's definition.
func (d *Documents) PatchCollection(ctx context.Context, name string, patch docstore.Data, ifMatch docstore.Versions) (docstore.Collection, error) {
	b, err := jsonOf(patch)
	if err != nil {
		return docstore.Collection{}, err
	}
	v, err := d.collectionVersion(ctx, name, ifMatch)
	if err != nil {
		return docstore.Collection{}, err
	}
	res, err := call(ctx, d.c, false, func(ctx context.Context) (*basaltv1.PatchCollectionResponse, error) {
		return d.colls.PatchCollection(ctx, &basaltv1.PatchCollectionRequest{Name: name, Patch: b, ExpectedVersion: v})
	})
	if err != nil {
		return docstore.Collection{}, err
	}
	return rpcapi.CollectionOf(res.GetCollection()), nil
}

// DeleteCollection deletes a collection and its documents.
func (d *Documents) DeleteCollection(ctx context.Context, name string, ifMatch docstore.Versions) error {
	v, err := d.collectionVersion(ctx, name, ifMatch)
	if err != nil {
		return err
	}
	_, err = call(ctx, d.c, false, func(ctx context.Context) (*basaltv1.DeleteCollectionResponse, error) {
		return d.colls.DeleteCollection(ctx, &basaltv1.DeleteCollectionRequest{Name: name, ExpectedVersion: v})
	})
	return err
}
