package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
)

// TestStockGRPCClient calls a real server with grpc-go, the reference gRPC
// implementation (Basalt serves with Connect): health checks, server
// reflection as grpcurl uses it (list the services, fetch their
// descriptors, call a method built from them alone), typed calls with
// their errors' codes and Problem details, and health turning NOT_SERVING
// on the metrics listener while the server drains.
func TestStockGRPCClient(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startProcess(t, dataDir, "--metrics-addr", "127.0.0.1:0")
	actAsAdmin(t, []string{"--data-dir", dataDir}, s)
	s.client(t).must(201, "POST", "/v1/collections", `{"name":"posts"}`)

	conn := dialGRPC(t, s.addr)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	admin := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.token)

	t.Run("Health", func(t *testing.T) {
		health := healthpb.NewHealthClient(conn)
		for _, svc := range []string{"", "basalt.v1.DocumentService", "basalt.v1.CollectionService"} {
			res, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health of %q: %v, %v", svc, res, err)
			}
		}
		_, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"})
		if status.Code(err) != grpccodes.NotFound {
			t.Errorf("health of an unknown service: %v, want NotFound", err)
		}
	})

	t.Run("Reflection", func(t *testing.T) {
		stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = stream.CloseSend() }()
		ask := func(req *reflectionpb.ServerReflectionRequest) *reflectionpb.ServerReflectionResponse {
			t.Helper()
			if err := stream.Send(req); err != nil {
				t.Fatal(err)
			}
			res, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		var names []string
		for _, svc := range ask(&reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}).GetListServicesResponse().GetService() {
			names = append(names, svc.GetName())
		}
		for _, want := range []string{"basalt.v1.DocumentService", "basalt.v1.CollectionService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
			if !slices.Contains(names, want) {
				t.Errorf("reflection lists %v, without %s", names, want)
			}
		}

		// Build a CreateDocument call from the descriptors alone, as
		// grpcurl does: nothing compiled in.
		files := &descriptorpb.FileDescriptorSet{}
		for _, raw := range ask(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{
			FileContainingSymbol: "basalt.v1.DocumentService"}}).GetFileDescriptorResponse().GetFileDescriptorProto() {
			fd := &descriptorpb.FileDescriptorProto{}
			if err := proto.Unmarshal(raw, fd); err != nil {
				t.Fatal(err)
			}
			files.File = append(files.File, fd)
		}
		// The well-known types a file imports may have been sent on an
		// earlier answer of this stream; ask for any missing.
		have := map[string]bool{}
		for _, f := range files.File {
			have[f.GetName()] = true
		}
		for _, f := range slices.Clone(files.File) {
			for _, dep := range f.GetDependency() {
				if have[dep] {
					continue
				}
				for _, raw := range ask(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileByFilename{
					FileByFilename: dep}}).GetFileDescriptorResponse().GetFileDescriptorProto() {
					fd := &descriptorpb.FileDescriptorProto{}
					if err := proto.Unmarshal(raw, fd); err != nil {
						t.Fatal(err)
					}
					if !have[fd.GetName()] {
						have[fd.GetName()] = true
						files.File = append(files.File, fd)
					}
				}
			}
		}
		reg, err := protodesc.NewFiles(files)
		if err != nil {
			t.Fatalf("the reflected descriptors do not resolve: %v", err)
		}
		d, err := reg.FindDescriptorByName("basalt.v1.DocumentService")
		if err != nil {
			t.Fatal(err)
		}
		method := d.(protoreflect.ServiceDescriptor).Methods().ByName("CreateDocument")
		in := dynamicpb.NewMessage(method.Input())
		in.Set(method.Input().Fields().ByName("collection"), protoreflect.ValueOfString("posts"))
		in.Set(method.Input().Fields().ByName("data"), protoreflect.ValueOfBytes([]byte(`{"title":"reflected"}`)))
		out := dynamicpb.NewMessage(method.Output())
		if err := conn.Invoke(admin, "/basalt.v1.DocumentService/CreateDocument", in, out); err != nil {
			t.Fatal(err)
		}
		doc := out.Get(method.Output().Fields().ByName("document")).Message()
		if id := doc.Get(doc.Descriptor().Fields().ByName("id")).String(); id == "" {
			t.Errorf("created %v: no id", out)
		}
	})

	t.Run("Calls", func(t *testing.T) {
		created := &basaltv1.CreateDocumentResponse{}
		if err := conn.Invoke(admin, "/basalt.v1.DocumentService/CreateDocument",
			&basaltv1.CreateDocumentRequest{Collection: "posts", Data: []byte(`{"title":"typed"}`)}, created); err != nil {
			t.Fatal(err)
		}
		got := &basaltv1.GetDocumentResponse{}
		if err := conn.Invoke(admin, "/basalt.v1.DocumentService/GetDocument",
			&basaltv1.GetDocumentRequest{Collection: "posts", Id: created.GetDocument().GetId()}, got); err != nil {
			t.Fatal(err)
		}
		var data map[string]any
		if err := json.Unmarshal(got.GetDocument().GetData(), &data); err != nil || data["title"] != "typed" {
			t.Errorf("got %s (%v)", got.GetDocument().GetData(), err)
		}

		for _, tc := range []struct {
			name    string
			ctx     context.Context
			req     proto.Message
			code    grpccodes.Code
			problem string
		}{
			{"missing document", admin, &basaltv1.GetDocumentRequest{Collection: "posts", Id: "nope"}, grpccodes.NotFound, "not_found"},
			{"no credential", ctx, &basaltv1.CreateDocumentRequest{Collection: "posts", Data: []byte(`{}`)}, grpccodes.Unauthenticated, "unauthenticated"},
			{"forged credential", metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer forged"),
				&basaltv1.GetDocumentRequest{Collection: "posts", Id: "x"}, grpccodes.Unauthenticated, "unauthenticated"},
			{"bad JSON", admin, &basaltv1.CreateDocumentRequest{Collection: "posts", Data: []byte(`{`)}, grpccodes.InvalidArgument, "invalid"},
		} {
			procedure := "/basalt.v1.DocumentService/GetDocument"
			if _, ok := tc.req.(*basaltv1.CreateDocumentRequest); ok {
				procedure = "/basalt.v1.DocumentService/CreateDocument"
			}
			err := conn.Invoke(tc.ctx, procedure, tc.req, &basaltv1.GetDocumentResponse{})
			st := status.Convert(err)
			if st.Code() != tc.code {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.code)
				continue
			}
			var problem *basaltv1.Problem
			for _, d := range st.Details() {
				if p, ok := d.(*basaltv1.Problem); ok {
					problem = p
				}
			}
			if problem.GetCode() != tc.problem {
				t.Errorf("%s: details %v, want a Problem with code %q", tc.name, st.Details(), tc.problem)
			}
		}
	})

	t.Run("Metrics", func(t *testing.T) {
		// gRPC answers 200 and puts its status in the trailers: the
		// metrics count the status REST would have answered (412 for a
		// version that does not match, where gRPC says aborted).
		created := &basaltv1.CreateDocumentResponse{}
		if err := conn.Invoke(admin, "/basalt.v1.DocumentService/CreateDocument",
			&basaltv1.CreateDocumentRequest{Collection: "posts", Data: []byte(`{}`)}, created); err != nil {
			t.Fatal(err)
		}
		err := conn.Invoke(admin, "/basalt.v1.DocumentService/ReplaceDocument", &basaltv1.ReplaceDocumentRequest{Collection: "posts",
			Id: created.GetDocument().GetId(), Data: []byte(`{}`), ExpectedVersion: 7}, &basaltv1.ReplaceDocumentResponse{})
		if status.Code(err) != grpccodes.Aborted {
			t.Fatalf("a replace at another version: %v", err)
		}
		res, err := http.Get("http://" + s.metricsAddr(t) + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		for _, want := range []string{
			`basalt_http_requests_total{class="read",code="404",method="POST",route="/basalt.v1.DocumentService/GetDocument"} 1`,
			`basalt_http_requests_total{class="write",code="401",method="POST",route="/basalt.v1.DocumentService/CreateDocument"} 1`,
			`basalt_http_requests_total{class="write",code="400",method="POST",route="/basalt.v1.DocumentService/CreateDocument"} 1`,
			`basalt_http_requests_total{class="read",code="200",method="POST",route="/basalt.v1.DocumentService/GetDocument"} 1`,
			`basalt_http_requests_total{class="write",code="412",method="POST",route="/basalt.v1.DocumentService/ReplaceDocument"} 1`,
		} {
			if !strings.Contains(string(b), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})

	t.Run("NotServingWhileDraining", func(t *testing.T) {
		metrics := healthpb.NewHealthClient(dialGRPC(t, s.metricsAddr(t)))
		if res, err := metrics.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health on the metrics listener: %v, %v", res, err)
		}
		// A request in flight holds the drain open meanwhile.
		slow := startSlowRequest(t, "http://"+s.addr+"/v1/auth/signup", `{"email": "late@example.com",`)
		slow.waitReading(t)
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		s.waitForLog(t, "draining HTTP server")
		if res, err := metrics.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || res.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health while draining: %v, %v; want NOT_SERVING", res, err)
		}
		if res, err := metrics.Check(ctx, &healthpb.HealthCheckRequest{Service: "basalt.v1.DocumentService"}); err != nil || res.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health of the document service while draining: %v, %v; want NOT_SERVING", res, err)
		}
		if a := slow.finish(t, ` "password": "correct horse battery"}`); a.err != nil || a.status != 202 {
			t.Errorf("sign-up in flight at SIGTERM: %+v, want 202", a)
		}
		if code := s.exitCode(t); code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
	})
}

// dialGRPC returns a grpc-go client connection to addr over h2c.
func dialGRPC(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
