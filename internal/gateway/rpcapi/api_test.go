package rpcapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
	"github.com/basaltdev/basalt/internal/apilimit"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway/rpcapi"
	"github.com/basaltdev/basalt/internal/rpcfault"
)

// TestRateLimits: calls are limited like REST requests, per collection
// too, with the RateLimit fields in the response metadata and the wait in
// the refusal's Problem.
func TestRateLimits(t *testing.T) {
	for name, opts := range map[string][]connecthttp.Option{"connect": nil, "grpc": {connecthttp.WithGRPC()}} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, "read:account=1/1m:5", "posts.read:account=1/1m:2")
			u := f.client("user", opts...)
			ctx, info := connect.NewClientContext(context.Background())
			req := &basaltv1.ListDocumentsRequest{Collection: "posts"}
			if _, err := u.ListDocuments(ctx, req); err != nil {
				t.Fatal(err)
			}
			if got := info.ResponseHeader().Get("RateLimit"); got != `"posts.read-account";r=1;t=60` {
				t.Errorf("RateLimit = %q", got)
			}
			if got := info.ResponseHeader().Get("RateLimit-Policy"); !strings.Contains(got, `"posts.read-account";q=2;w=120`) {
				t.Errorf("RateLimit-Policy = %q", got)
			}
			if _, err := u.ListDocuments(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			_, err := u.ListDocuments(context.Background(), req)
			wantFault(t, "the third list of posts", err, fault.TooManyRequests, "")
			if connect.CodeOf(err) != connect.CodeResourceExhausted || fault.RetryAfterOf(rpcfault.Fault(err)) < time.Second {
				t.Errorf("refusal: %v, retry after %v", err, fault.RetryAfterOf(rpcfault.Fault(err)))
			}
			// Another collection has the class's budget.
			if _, err := u.ListDocuments(context.Background(), &basaltv1.ListDocumentsRequest{Collection: "other"}); fault.KindOf(rpcfault.Fault(err)) == fault.TooManyRequests {
				t.Errorf("another collection: %v", err)
			}
		})
	}
}

// TestAddressBeforeBadCredentials: a credential the server does not know
// is refused by the address's limit before it is checked.
func TestAddressBeforeBadCredentials(t *testing.T) {
	f := newFixture(t, "read:ip=1/1m:1")
	bad := f.client("forged")
	_, err := bad.GetDocument(context.Background(), &basaltv1.GetDocumentRequest{Collection: "posts", Id: "x"})
	wantFault(t, "the first forged call", err, fault.Unauthenticated, "")
	_, err = bad.GetDocument(context.Background(), &basaltv1.GetDocumentRequest{Collection: "posts", Id: "x"})
	wantFault(t, "the second forged call", err, fault.TooManyRequests, "")
}

// TestEveryProcedureIsServed: RoutePatterns names what Register serves.
func TestEveryProcedureIsServed(t *testing.T) {
	var want []string
	for _, p := range []string{
		basaltv1connect.DocumentServiceGetDocumentProcedure, basaltv1connect.DocumentServiceBatchGetDocumentsProcedure, basaltv1connect.DocumentServiceListDocumentsProcedure,
		basaltv1connect.DocumentServiceCreateDocumentProcedure, basaltv1connect.DocumentServiceReplaceDocumentProcedure,
		basaltv1connect.DocumentServicePatchDocumentProcedure, basaltv1connect.DocumentServiceDeleteDocumentProcedure,
		basaltv1connect.DocumentServiceBatchProcedure, basaltv1connect.DocumentServiceWatchDocumentsProcedure,
		basaltv1connect.CollectionServiceListCollectionsProcedure, basaltv1connect.CollectionServiceGetCollectionProcedure,
		basaltv1connect.CollectionServiceCreateCollectionProcedure, basaltv1connect.CollectionServiceReplaceCollectionProcedure,
		basaltv1connect.CollectionServicePatchCollectionProcedure, basaltv1connect.CollectionServiceDeleteCollectionProcedure,
		basaltv1connect.APIKeyServiceCreateAPIKeyProcedure, basaltv1connect.APIKeyServiceListAPIKeysProcedure, basaltv1connect.APIKeyServiceRevokeAPIKeyProcedure, basaltv1connect.AdminServiceCreateAccountProcedure, basaltv1connect.AdminServiceDeleteAccountProcedure, basaltv1connect.AdminServiceGetAccountProcedure, basaltv1connect.AdminServiceInviteAccountProcedure, basaltv1connect.AdminServiceListAccountSessionsProcedure, basaltv1connect.AdminServiceListAccountsProcedure, basaltv1connect.AdminServiceListSigningKeysProcedure, basaltv1connect.AdminServiceRevokeAccountSessionProcedure, basaltv1connect.AdminServiceRotateSigningKeysProcedure, basaltv1connect.AdminServiceUpdateAccountProcedure, basaltv1connect.AuthServiceChangePasswordProcedure, basaltv1connect.AuthServiceDeleteMeProcedure, basaltv1connect.AuthServiceGetMeProcedure, basaltv1connect.AuthServiceListSessionsProcedure, basaltv1connect.AuthServiceLoginProcedure, basaltv1connect.AuthServiceLogoutProcedure, basaltv1connect.AuthServiceRefreshProcedure, basaltv1connect.AuthServiceRequestPasswordResetProcedure, basaltv1connect.AuthServiceRequestVerificationProcedure, basaltv1connect.AuthServiceResetPasswordProcedure, basaltv1connect.AuthServiceRevokeSessionProcedure, basaltv1connect.AuthServiceSignUpProcedure, basaltv1connect.AuthServiceVerifyEmailProcedure,
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
	} {
		want = append(want, "POST "+p)
	}
	got := rpcapi.RoutePatterns()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("RoutePatterns() = %v, want %v", got, want)
	}
	mux := http.NewServeMux()
	rpcapi.New(rpcapi.Services{}, rpcapi.Options{}).Register(mux)
	rpcapi.MountHealth(mux, func(context.Context) error { return nil })
	for _, r := range append(got, rpcapi.HealthPatterns()...) {
		if _, ok := apilimit.ClassOf(r); !ok && !slices.Contains(rpcapi.HealthPatterns(), r) {
			t.Errorf("%s has no rate-limit class", r)
		}
		method, path, _ := strings.Cut(r, " ")
		if _, pattern := mux.Handler(httptest.NewRequest(method, path, nil)); !strings.HasSuffix(pattern, path) {
			t.Errorf("%s is served by the pattern %q", r, pattern)
		}
	}
}
