package rpcapi

import (
	"context"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/jsonvalue"
	"github.com/basaltdev/basalt/internal/rpcfault"
)

// NewDocumentService returns the handlers of basalt.v1.DocumentService over
// svc, decoding JSON data within limits (zero fields: jsonvalue's
// defaults, as REST).
func NewDocumentService(svc docstore.Documents, limits jsonvalue.Limits) basaltv1connect.DocumentServiceHandler {
	return &documentService{svc: svc, dec: decoder{limits: limits}}
}

type documentService struct {
	svc   docstore.Documents
	dec   decoder
	watch *watcher // nil: WatchDocuments is unavailable
}

func (s *documentService) BatchGetDocuments(ctx context.Context, r *basaltv1.BatchGetDocumentsRequest) (*basaltv1.BatchGetDocumentsResponse, error) {
	docs, err := s.svc.BatchGetDocuments(ctx, r.GetCollection(), r.GetIds())
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	out := &basaltv1.BatchGetDocumentsResponse{Documents: make([]*basaltv1.Document, len(docs))}
	for i, d := range docs {
		out.Documents[i] = document(d)
	}
	return out, nil
}

func (s *documentService) GetDocument(ctx context.Context, r *basaltv1.GetDocumentRequest) (*basaltv1.GetDocumentResponse, error) {
	d, err := s.svc.GetDocument(ctx, r.GetCollection(), r.GetId())
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.GetDocumentResponse{Document: document(d)}, nil
}

func (s *documentService) ListDocuments(ctx context.Context, r *basaltv1.ListDocumentsRequest) (*basaltv1.ListDocumentsResponse, error) {
	p, err := s.svc.ListDocuments(ctx, listRequest(r))
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return page(p), nil
}

func (s *documentService) CreateDocument(ctx context.Context, r *basaltv1.CreateDocumentRequest) (*basaltv1.CreateDocumentResponse, error) {
	data, err := s.dec.object(r.GetData(), "/data")
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	d, err := s.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: r.GetCollection(), ID: r.GetId(), Data: data,
		IdempotencyKey: r.GetIdempotencyKey()})
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.CreateDocumentResponse{Document: document(d)}, nil
}

func (s *documentService) ReplaceDocument(ctx context.Context, r *basaltv1.ReplaceDocumentRequest) (*basaltv1.ReplaceDocumentResponse, error) {
	data, err := s.dec.object(r.GetData(), "/data")
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	d, err := s.svc.ReplaceDocument(ctx, docstore.ReplaceRequest{Collection: r.GetCollection(), ID: r.GetId(), Data: data,
		IfMatch: docstore.Version(r.GetExpectedVersion()), IdempotencyKey: r.GetIdempotencyKey()})
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.ReplaceDocumentResponse{Document: document(d)}, nil
}

func (s *documentService) PatchDocument(ctx context.Context, r *basaltv1.PatchDocumentRequest) (*basaltv1.PatchDocumentResponse, error) {
	patch, err := s.dec.object(r.GetPatch(), "/patch")
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	d, err := s.svc.PatchDocument(ctx, docstore.PatchRequest{Collection: r.GetCollection(), ID: r.GetId(), Patch: patch,
		IfMatch: docstore.Version(r.GetExpectedVersion()), IdempotencyKey: r.GetIdempotencyKey()})
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.PatchDocumentResponse{Document: document(d)}, nil
}

func (s *documentService) DeleteDocument(ctx context.Context, r *basaltv1.DeleteDocumentRequest) (*basaltv1.DeleteDocumentResponse, error) {
	err := s.svc.DeleteDocument(ctx, docstore.DeleteRequest{Collection: r.GetCollection(), ID: r.GetId(),
		IfMatch: docstore.Version(r.GetExpectedVersion()), IdempotencyKey: r.GetIdempotencyKey()})
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.DeleteDocumentResponse{}, nil
}

func (s *documentService) Batch(ctx context.Context, r *basaltv1.BatchRequest) (*basaltv1.BatchResponse, error) {
	ops, err := s.dec.batchOps(r.GetOperations())
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	rs, err := s.svc.Batch(ctx, ops, r.GetIdempotencyKey())
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return batchResults(rs), nil
}
