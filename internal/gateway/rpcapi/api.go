package rpcapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
	"github.com/basaltdev/basalt/internal/apilimit"
	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/bearer"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/jsonvalue"
	"github.com/basaltdev/basalt/internal/realtime"
	"github.com/basaltdev/basalt/internal/rpcfault"
)

// DefaultMaxBodyBytes bounds a request message when Options.MaxBodyBytes
// is zero, as REST bounds a body.
const DefaultMaxBodyBytes = 1 << 20

// Limits decides the API-wide rate limits of a call (apilimit.Limits
// implements it; see apilimit.Limits.Decide).
type Limits interface {
	Decide(ctx context.Context, req apilimit.Request, known func() (auth.Principal, bool), authenticate func() (auth.Principal, error)) (auth.Principal, apilimit.Fields, error)
}

// Options configures an API.
type Options struct {
	// MaxBodyBytes bounds every request message (DefaultMaxBodyBytes when
	// zero).
	MaxBodyBytes int
	// JSON bounds the JSON data of request messages, as REST bounds its
	// bodies. Zero fields take jsonvalue's defaults.
	JSON jsonvalue.Limits
	// Authenticator checks the bearer credential of the authorization
	// metadata (bearer.Authenticate); nil makes every caller anonymous.
	Authenticator auth.Authenticator
	// Limits are the API-wide rate limits of every call; nil limits
	// nothing.
	Limits Limits
	// ClientIP returns the client address of a call's HTTP request
	// (behind trusted proxies, the forwarded one); nil takes the socket
	// peer's.
	ClientIP func(*http.Request) string
	// Realtime feeds WatchDocuments; nil answers it unavailable.
	Realtime *realtime.Hub
	// CompressMinBytes is the smallest message compressed (gzip, when the
	// client accepts it), as REST's --compress-min-bytes; zero compresses
	// none.
	CompressMinBytes int
	// Internal, when set, serves other Basalt components (see Internal),
	// and basalt.v1.ComponentService to them.
	Internal *Internal
	// Ready is the readiness ComponentService.Ready reports (nil: ready).
	Ready func(context.Context) error
	// Elsewhere, when set, serves the procedures whose service lives in
	// another process: WatchDocuments, fed by the realtime hub of the
	// process that has the document database. It passes the calls on as
	// they came.
	Elsewhere http.Handler
}

// Services are the services the API serves.
type Services struct {
	Documents   docstore.Documents
	Collections docstore.Collections
	Accounts    Accounts
	// Subscriber decides WatchDocuments' subscriptions and events.
	Subscriber Subscriber
	// Component answers ComponentService's account calls (an accounts
	// component's); nil answers them unavailable.
	Component Component
}

// API serves the basalt.v1 services over gRPC, gRPC-Web and Connect.
type API struct {
	svc  Services
	opts Options
	// inputs are the request message types of the procedures whose
	// client sends one message, by procedure; Register fills it before
	// the first call, and calls only read it.
	inputs map[string]protoreflect.MessageType
}

// New returns the API over svc.
func New(svc Services, opts Options) *API {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.ClientIP == nil {
		opts.ClientIP = peerIP
	}
	return &API{svc: svc, opts: opts}
}

// Register adds a route per procedure (the path /basalt.v1.<Service>/<Method>)
// to mux. Every call is rate limited and authenticated (guard) before its
// handler runs.
func (a *API) Register(mux *http.ServeMux) {
	server := connect.NewServer(a.guard)
	// A service without its implementation here (a component that runs
	// without it) answers unimplemented (the guard).
	basaltv1connect.RegisterDocumentServiceHandler(server, &documentService{svc: a.svc.Documents, dec: decoder{limits: a.opts.JSON},
		watch: &watcher{subs: a.svc.Subscriber, hub: a.opts.Realtime, authenticator: a.opts.Authenticator}})
	basaltv1connect.RegisterCollectionServiceHandler(server, NewCollectionService(a.svc.Collections, a.opts.JSON))
	basaltv1connect.RegisterAuthServiceHandler(server, NewAuthService(a.svc.Accounts))
	basaltv1connect.RegisterAdminServiceHandler(server, NewAdminService(a.svc.Accounts))
	basaltv1connect.RegisterAPIKeyServiceHandler(server, NewAPIKeyService(a.svc.Accounts))
	if a.opts.Internal != nil {
		basaltv1connect.RegisterComponentServiceHandler(server, componentService{svc: a.svc.Component, ready: a.opts.Ready})
	}
	// Reflection describes the basalt.v1 services, the health service
	// (served beside, by MountHealth) and itself, for tools such as
	// grpcurl. The descriptors are public: they are the .proto files.
	grpcreflect.Register(server, grpcreflect.WithNamer(grpcreflect.NamerFunc(func() []string {
		names := []string{grpchealth.HealthV1ServiceName, grpcreflect.ReflectV1ServiceName, grpcreflect.ReflectV1AlphaServiceName}
		for _, sd := range services {
			names = append(names, string(sd.FullName()))
		}
		return names
	})))
	a.inputs = map[string]protoreflect.MessageType{}
	for spec := range server.Specs() {
		md, ok := spec.Schema.(protoreflect.MethodDescriptor)
		if !ok || md.IsStreamingClient() {
			continue
		}
		mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
		if err != nil { // a generated service without its generated messages: a build that cannot serve
			panic("rpcapi: " + spec.Procedure + ": " + err.Error())
		}
		a.inputs[spec.Procedure] = mt
	}
	connecthttp.Mount(withClientIP{mux: mux, ip: a.opts.ClientIP, errors: connecthttp.NewErrorWriter(), elsewhere: a.opts.Elsewhere}, server,
		a.compression(), connecthttp.WithReadMaxBytes(a.opts.MaxBodyBytes))
}

// compression is the answers' compression: gzip from
// Options.CompressMinBytes up, as the client accepts it; none when zero.
func (a *API) compression() connecthttp.Option {
	if a.opts.CompressMinBytes <= 0 {
		return connecthttp.WithCompressors()
	}
	return connecthttp.WithCompressMinBytes(a.opts.CompressMinBytes)
}

// withClientIP mounts each handler behind one that puts the client
// address of its requests in their context, for the guard.
type withClientIP struct {
	mux       *http.ServeMux
	ip        func(*http.Request) string
	errors    *connecthttp.ErrorWriter
	elsewhere http.Handler
}

// httpCall is what a call's HTTP request leaves the guard and the
// handlers, in one context value: its client address and, for an internal
// call, the client's User-Agent (forwarded); the function that records
// its outcome for the gateway's metrics and access log
// (gateway.OutcomeOf); and, for a streaming call, its
// http.ResponseController, so that each send has a deadline of its own
// instead of the server's write timeout, which would cut every stream.
type httpCall struct {
	ip        string
	userAgent string
	forwarded bool // ip and userAgent are an internal call's: its client's
	record    func(status int)
	response  *http.ResponseController
}

type httpCallKey struct{}

// callOf is the httpCall of ctx (zero outside an HTTP request).
func callOf(ctx context.Context) *httpCall {
	if c, ok := ctx.Value(httpCallKey{}).(*httpCall); ok {
		return c
	}
	return &httpCall{}
}

// bidiProcedures are the procedures whose client and server both stream,
// which only HTTP/2 (and HTTP/3) can carry.
var bidiProcedures = map[string]bool{
	"/" + grpcreflect.ReflectV1ServiceName + "/ServerReflectionInfo":      true,
	"/" + grpcreflect.ReflectV1AlphaServiceName + "/ServerReflectionInfo": true,
}

func (m withClientIP) Handle(pattern string, h http.Handler) {
	bidi, streams := bidiProcedures[pattern], streamProcedures[pattern]
	if streams && m.elsewhere != nil {
		m.mux.Handle(pattern, m.elsewhere)
		return
	}
	m.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bidi && r.ProtoMajor < 2 {
			// Connect's own answer is a bare 505; this one is an error
			// in the protocol the client speaks.
			_ = m.errors.Write(w, r, rpcfault.Error(fault.New(fault.Invalid, op,
				"this procedure streams both ways, which needs HTTP/2: "+r.Proto+" cannot carry it")))
			return
		}
		call := &httpCall{ip: m.ip(r), record: gateway.OutcomeOf(w)}
		if streams {
			call.response = http.NewResponseController(w)
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), httpCallKey{}, call)))
	}))
}

// peerIP is the address of the socket peer, without its port.
func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// guard reads the request message of a call, decides its rate limits
// (with the collection the message names, for the collection's own
// rules), authenticates its caller, and only then runs the handler with
// the caller in its context. A refused call gets the error as the service
// would, with the RateLimit fields in its response metadata. A call
// whose client streams (reflection) is decided before its first message,
// without a collection.
func (a *API) guard(next connect.ServerFunc) connect.ServerFunc {
	return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) (err error) {
		if record := callOf(ctx).record; record != nil {
			defer func() { record(httpStatus(err)) }()
		}
		if !a.serves(spec.Procedure) {
			return connect.NewError(connect.CodeUnimplemented, spec.Procedure+" is not served by this component")
		}
		var msg proto.Message
		if mt, ok := a.inputs[spec.Procedure]; ok {
			msg = mt.New().Interface()
			if err := stream.Receive(msg); err != nil {
				return err
			}
		}
		// run runs the handler as the caller in ctx, with the message read.
		run := func(ctx context.Context) error {
			if msg == nil {
				return next(ctx, spec, stream)
			}
			return next(ctx, spec, &received{ServerStream: stream, msg: msg})
		}
		info, _ := connect.CallInfoForServerContext(ctx)
		var values []string
		if info != nil {
			if private(spec.Procedure) {
				// As REST's account routes: a read in the Connect protocol
				// may be a GET, and caches keep GETs.
				info.ResponseHeader().Set("Cache-Control", "no-store")
			}
			values = info.RequestHeader().Values("Authorization")
			p, ip, ua, from, err := a.opts.Internal.internalCall(info.RequestHeader())
			if err != nil {
				return rpcfault.Error(err)
			}
			switch from {
			case fromComponent:
				return run(forwarded(auth.WithPrincipal(ctx, p), ip, ua))
			case forwardedByGateway:
				ctx = forwarded(ctx, ip, ua)
			default:
				if componentProcedures[spec.Procedure] {
					return rpcfault.Error(fault.New(fault.Unauthenticated, op, "this procedure serves other Basalt components only"))
				}
			}
		}
		if info == nil && componentProcedures[spec.Procedure] {
			return rpcfault.Error(fault.New(fault.Unauthenticated, op, "this procedure serves other Basalt components only"))
		}
		authenticate := func() (auth.Principal, error) { return bearer.Authenticate(ctx, a.opts.Authenticator, values) }
		known := func() (auth.Principal, bool) { return bearer.Recognize(a.opts.Authenticator, values) }
		if publicProcedures[spec.Procedure] {
			// As REST's public routes: the call is anonymous, whatever it
			// carries.
			authenticate = func() (auth.Principal, error) { return auth.Anonymous(), nil }
			known = func() (auth.Principal, bool) { return auth.Anonymous(), true }
		}
		var p auth.Principal
		if a.opts.Limits == nil {
			p, err = authenticate()
		} else {
			ip := callOf(ctx).ip
			var fields apilimit.Fields
			p, fields, err = a.opts.Limits.Decide(ctx, apilimit.Request{Route: "POST " + spec.Procedure, Collection: collectionOf(msg), ClientIP: ip},
				known, authenticate)
			if info != nil {
				setFields(info.ResponseHeader(), fields)
			}
		}
		if err != nil {
			return rpcfault.Error(err)
		}
		return run(auth.WithPrincipal(ctx, p))
	}
}

// serves reports whether the service of procedure has its
// implementation in this API.
func (a *API) serves(procedure string) bool {
	switch serviceOf(procedure) {
	case basaltv1connect.DocumentServiceName:
		return a.svc.Documents != nil
	case basaltv1connect.CollectionServiceName:
		return a.svc.Collections != nil
	case basaltv1connect.AuthServiceName, basaltv1connect.AdminServiceName, basaltv1connect.APIKeyServiceName:
		return a.svc.Accounts != nil
	}
	return true
}

// serviceOf is the service of a procedure ("/basalt.v1.DocumentService/Get…"
// → "basalt.v1.DocumentService").
func serviceOf(procedure string) string {
	service, _, _ := strings.Cut(strings.TrimPrefix(procedure, "/"), "/")
	return service
}

// private reports whether the answers of procedure hold tokens, secrets
// or personal data: those of the account services.
func private(procedure string) bool {
	switch serviceOf(procedure) {
	case basaltv1connect.AuthServiceName, basaltv1connect.AdminServiceName, basaltv1connect.APIKeyServiceName, basaltv1connect.ComponentServiceName:
		return true
	}
	return false
}

// setFields puts the RateLimit fields in the response metadata.
func setFields(h *connect.Header, f apilimit.Fields) {
	if f.Policy != "" {
		h.Set("RateLimit-Policy", f.Policy)
	}
	if f.State != "" {
		h.Set("RateLimit", f.State)
	}
}

// collectionOf is the collection a request message is about: its
// collection field, or the name of a collection's own request; "" for
// none (a batch).
func collectionOf(msg proto.Message) string {
	switch m := msg.(type) {
	case nil: // a client stream's
		return ""
	case interface{ GetCollection() string }: // the document calls
		return m.GetCollection()
	case *basaltv1.CreateCollectionRequest:
		return m.GetSpec().GetName()
	case interface{ GetName() string }: // the other collection calls
		return m.GetName()
	}
	return ""
}

// received hands the handler the request message the guard read.
type received struct {
	connect.ServerStream
	msg  proto.Message
	done bool
}

func (r *received) Receive(dst any) error {
	if r.done {
		return io.EOF
	}
	m, ok := dst.(proto.Message)
	if !ok {
		return rpcfault.Error(fault.Internalf(op, errors.New("rpcapi: a handler received into a value that is not a message")))
	}
	// Move the fields over rather than Merge them: Merge would copy the
	// message's data (up to --max-body-bytes) a second time.
	to := m.ProtoReflect()
	r.msg.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		to.Set(fd, v)
		return true
	})
	r.done = true
	return nil
}

// httpStatus is the HTTP status that stands for a call's outcome in the
// metrics and the access log: 200 for success, 499 when the client went
// away (as nginx counts it), else the status REST answers the same error
// with (restapi.ProblemFor: 412 for precondition_failed, 422 for
// idempotency_mismatch, …).
func httpStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case connect.CodeOf(err) == connect.CodeCanceled:
		return 499
	}
	return restapi.ProblemFor(rpcfault.Fault(err)).Status
}
