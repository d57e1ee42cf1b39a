package rpcfault_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/rpcfault"
)

// every is each fault kind with the code it travels with.
var every = []struct {
	kind fault.Kind
	code connect.Code
}{
	{fault.Internal, connect.CodeInternal},
	{fault.Invalid, connect.CodeInvalidArgument},
	{fault.Validation, connect.CodeInvalidArgument},
	{fault.Unauthenticated, connect.CodeUnauthenticated},
	{fault.Forbidden, connect.CodePermissionDenied},
	{fault.NotFound, connect.CodeNotFound},
	{fault.Conflict, connect.CodeAlreadyExists},
	{fault.PreconditionFailed, connect.CodeAborted},
	{fault.NotModified, connect.CodeFailedPrecondition},
	{fault.PayloadTooLarge, connect.CodeResourceExhausted},
	{fault.UnsupportedMedia, connect.CodeInvalidArgument},
	{fault.IdempotencyMismatch, connect.CodeFailedPrecondition},
	{fault.TooManyRequests, connect.CodeResourceExhausted},
	{fault.Unavailable, connect.CodeUnavailable},
}

// sample is a service error of kind with everything a problem can carry.
func sample(kind fault.Kind) *fault.Error {
	return &fault.Error{Kind: kind, Op: "docstore.Create", Msg: "the " + string(kind) + " message",
		Fields:     []fault.FieldError{{Pointer: "/data/title", Message: "is required"}},
		RetryAfter: 1500 * time.Millisecond, Err: errors.New("the cause, for the logs")}
}

// wantBack is what a client reads of sample(kind): everything but the
// operation and the cause, none of it for an internal error.
func wantBack(kind fault.Kind) *fault.Error {
	if kind == fault.Internal {
		return &fault.Error{Kind: kind, Msg: "an internal error occurred"}
	}
	s := sample(kind)
	return &fault.Error{Kind: kind, Msg: s.Msg, Fields: s.Fields, RetryAfter: s.RetryAfter}
}

func same(t *testing.T, what string, got error, want *fault.Error) {
	t.Helper()
	var fe *fault.Error
	if !errors.As(got, &fe) {
		t.Fatalf("%s: %T %v, want a *fault.Error", what, got, got)
	}
	if fe.Kind != want.Kind || fe.Type != want.Type || fe.Msg != want.Msg || !reflect.DeepEqual(fe.Fields, want.Fields) || fe.RetryAfter != want.RetryAfter {
		t.Errorf("%s: kind %q type %q msg %q fields %v retry %v; want kind %q type %q msg %q fields %v retry %v", what,
			fe.Kind, fe.Type, fe.Msg, fe.Fields, fe.RetryAfter, want.Kind, want.Type, want.Msg, want.Fields, want.RetryAfter)
	}
}

// TestEveryKind: every kind of fault has its entry in the table above.
func TestEveryKind(t *testing.T) {
	var listed []fault.Kind
	for _, c := range every {
		listed = append(listed, c.kind)
	}
	if !slices.Equal(listed, fault.Kinds()) {
		t.Fatalf("the test lists %v, fault.Kinds() %v", listed, fault.Kinds())
	}
}

func TestRoundTrip(t *testing.T) {
	for _, c := range every {
		s := sample(c.kind)
		ce := rpcfault.Error(s)
		if ce.Code() != c.code || rpcfault.Code(c.kind) != c.code {
			t.Errorf("%s: code %v, want %v", c.kind, ce.Code(), c.code)
		}
		// The cause stays on the server's side of the error, for the logs.
		if !errors.Is(ce, s.Err) {
			t.Errorf("%s: the server-side error lost its cause", c.kind)
		}
		same(t, string(c.kind), rpcfault.Fault(ce), wantBack(c.kind))
	}
	// A problem type travels with its kind.
	typed := &fault.Error{Kind: fault.Forbidden, Type: fault.TypeSignupClosed, Msg: "sign-up is closed"}
	same(t, "typed", rpcfault.Fault(rpcfault.Error(typed)), &fault.Error{Kind: fault.Forbidden, Type: fault.TypeSignupClosed, Msg: "sign-up is closed"})
}

func TestInternalShowsNothing(t *testing.T) {
	cause := errors.New("pq: password authentication failed for user basalt")
	for _, err := range []error{cause, fault.Internalf("docstore.Get", cause), fmt.Errorf("wrapped: %w", cause)} {
		ce := rpcfault.Error(err)
		if ce.Code() != connect.CodeInternal || ce.Message() != "an internal error occurred" {
			t.Errorf("%v: %v %q", err, ce.Code(), ce.Message())
		}
		if !errors.Is(ce, cause) {
			t.Errorf("%v: the server-side error lost its cause", err)
		}
	}
	if rpcfault.Error(nil) != nil || rpcfault.Fault(nil) != nil {
		t.Error("nil is not nil")
	}
}

func TestContextErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		code connect.Code
	}{{context.Canceled, connect.CodeCanceled}, {context.DeadlineExceeded, connect.CodeDeadlineExceeded}} {
		ce := rpcfault.Error(fmt.Errorf("query: %w", c.err))
		if ce.Code() != c.code {
			t.Errorf("%v: code %v, want %v", c.err, ce.Code(), c.code)
		}
		back := rpcfault.Fault(ce)
		if !errors.Is(back, c.err) || fault.KindOf(back) != fault.Unavailable {
			t.Errorf("%v back: %v (kind %s)", c.err, back, fault.KindOf(back))
		}
	}
}

// TestWithoutProblem: an error without a Problem detail (a proxy's, the
// RPC machinery's) is judged by its code.
func TestWithoutProblem(t *testing.T) {
	for code, kind := range map[connect.Code]fault.Kind{
		connect.CodeNotFound: fault.NotFound, connect.CodeUnavailable: fault.Unavailable,
		connect.CodeUnimplemented: fault.Internal, connect.CodeUnknown: fault.Internal,
		connect.CodeResourceExhausted: fault.TooManyRequests,
	} {
		back := rpcfault.Fault(connect.NewError(code, "from a proxy"))
		if fault.KindOf(back) != kind || (kind != fault.Internal && fault.Message(back) != "from a proxy") {
			t.Errorf("%v: %v (kind %s), want %s", code, back, fault.KindOf(back), kind)
		}
	}
	if back := rpcfault.Fault(errors.New("dial tcp: connection refused")); fault.KindOf(back) != fault.Unavailable {
		t.Errorf("a transport error: kind %s, want unavailable", fault.KindOf(back))
	}
}

// failing answers every GetDocument with the error of its collection's
// kind.
type failing struct {
	basaltv1connect.UnimplementedDocumentServiceHandler
}

func (failing) GetDocument(_ context.Context, r *basaltv1.GetDocumentRequest) (*basaltv1.GetDocumentResponse, error) {
	return nil, rpcfault.Error(sample(fault.Kind(r.GetCollection())))
}

// TestOverTheWire sends every kind through a real server and client, in
// each protocol: Connect, gRPC and gRPC-Web.
func TestOverTheWire(t *testing.T) {
	server := connect.NewServer()
	basaltv1connect.RegisterDocumentServiceHandler(server, failing{})
	mux := http.NewServeMux()
	connecthttp.Mount(mux, server)
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	for name, opts := range map[string][]connecthttp.Option{
		"connect": nil, "grpc": {connecthttp.WithGRPC()}, "grpc-web": {connecthttp.WithGRPCWeb()},
	} {
		t.Run(name, func(t *testing.T) {
			client := basaltv1connect.NewDocumentServiceClient(connect.NewClient(connecthttp.NewTransport(srv.Client(), srv.URL, opts...)))
			for _, c := range every {
				_, err := client.GetDocument(t.Context(), &basaltv1.GetDocumentRequest{Collection: string(c.kind), Id: "x"})
				if connect.CodeOf(err) != c.code {
					t.Errorf("%s: code %v, want %v", c.kind, connect.CodeOf(err), c.code)
				}
				same(t, string(c.kind), rpcfault.Fault(err), wantBack(c.kind))
			}
		})
	}
}
