package rpcapi

import (
	"context"

	"connectrpc.com/grpcreflect/v2"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/jsonvalue"
	"github.com/basaltdev/basalt/internal/rpcfault"
)

// NewCollectionService returns the handlers of basalt.v1.CollectionService
// over svc, decoding JSON merge patches within limits.
func NewCollectionService(svc docstore.Collections, limits jsonvalue.Limits) basaltv1connect.CollectionServiceHandler {
	return &collectionService{svc: svc, dec: decoder{limits: limits}}
}

type collectionService struct {
	svc docstore.Collections
	dec decoder
}

func (s *collectionService) ListCollections(ctx context.Context, _ *basaltv1.ListCollectionsRequest) (*basaltv1.ListCollectionsResponse, error) {
	cs, err := s.svc.ListCollections(ctx)
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	out := &basaltv1.ListCollectionsResponse{Collections: make([]*basaltv1.Collection, len(cs))}
	for i, c := range cs {
		out.Collections[i] = collection(c)
	}
	return out, nil
}

func (s *collectionService) GetCollection(ctx context.Context, r *basaltv1.GetCollectionRequest) (*basaltv1.GetCollectionResponse, error) {
	c, err := s.svc.GetCollection(ctx, r.GetName())
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.GetCollectionResponse{Collection: collection(c)}, nil
}

func (s *collectionService) CreateCollection(ctx context.Context, r *basaltv1.CreateCollectionRequest) (*basaltv1.CreateCollectionResponse, error) {
	c, err := s.svc.CreateCollection(ctx, collectionSpec(r.GetSpec()))
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.CreateCollectionResponse{Collection: collection(c)}, nil
}

func (s *collectionService) ReplaceCollection(ctx context.Context, r *basaltv1.ReplaceCollectionRequest) (*basaltv1.ReplaceCollectionResponse, error) {
	c, err := s.svc.ReplaceCollection(ctx, r.GetName(), collectionSpec(r.GetSpec()), docstore.Version(r.GetExpectedVersion()))
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.ReplaceCollectionResponse{Collection: collection(c)}, nil
}

func (s *collectionService) PatchCollection(ctx context.Context, r *basaltv1.PatchCollectionRequest) (*basaltv1.PatchCollectionResponse, error) {
	patch, err := s.dec.object(r.GetPatch(), "/patch")
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	c, err := s.svc.PatchCollection(ctx, r.GetName(), patch, docstore.Version(r.GetExpectedVersion()))
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.PatchCollectionResponse{Collection: collection(c)}, nil
}

func (s *collectionService) DeleteCollection(ctx context.Context, r *basaltv1.DeleteCollectionRequest) (*basaltv1.DeleteCollectionResponse, error) {
	if err := s.svc.DeleteCollection(ctx, r.GetName(), docstore.Version(r.GetExpectedVersion())); err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.DeleteCollectionResponse{}, nil
}

// services are the basalt.v1 services this package serves.
var services = []protoreflect.ServiceDescriptor{
	basaltv1.File_basalt_v1_documents_proto.Services().ByName("DocumentService"),
	basaltv1.File_basalt_v1_collections_proto.Services().ByName("CollectionService"),
	basaltv1.File_basalt_v1_accounts_proto.Services().ByName("AuthService"),
	basaltv1.File_basalt_v1_accounts_proto.Services().ByName("AdminService"),
	basaltv1.File_basalt_v1_accounts_proto.Services().ByName("APIKeyService"),
}

// GetPatterns returns "GET /<procedure>" for every unary procedure
// API.Register serves that changes nothing (idempotency_level =
// NO_SIDE_EFFECTS): the
// Connect protocol may call those with an HTTP GET. The rate limits class
// them with their POST (RoutePatterns).
func GetPatterns() []string {
	var out []string
	for _, sd := range services {
		ms := sd.Methods()
		for i := range ms.Len() {
			md := ms.Get(i)
			opts, _ := md.Options().(*descriptorpb.MethodOptions)
			if !md.IsStreamingClient() && !md.IsStreamingServer() && opts.GetIdempotencyLevel() == descriptorpb.MethodOptions_NO_SIDE_EFFECTS {
				out = append(out, "GET /"+string(sd.FullName())+"/"+string(ms.Get(i).Name()))
			}
		}
	}
	return out
}

// RoutePatterns returns the route of every procedure API.Register serves,
// as the rate limits name them: "POST /<procedure>", the method every RPC
// protocol uses (Connect's GET of a read is classified by its method).
// Those of MountHealth are HealthPatterns.
func RoutePatterns() []string {
	var out []string
	for _, sd := range services {
		ms := sd.Methods()
		for i := range ms.Len() {
			out = append(out, "POST /"+string(sd.FullName())+"/"+string(ms.Get(i).Name()))
		}
	}
	for _, name := range []string{grpcreflect.ReflectV1ServiceName, grpcreflect.ReflectV1AlphaServiceName} {
		out = append(out, "POST /"+name+"/ServerReflectionInfo")
	}
	return out
}
