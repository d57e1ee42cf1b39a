package rpcapi

import (
	"context"
	"fmt"
	"net/http"

	connectv1 "connectrpc.com/connect"
	"connectrpc.com/grpchealth"
)

// healthPatterns are the route patterns of the gRPC health checking
// protocol (grpc.health.v1.Health), which MountHealth registers.
var healthPatterns = []string{
	"POST /" + grpchealth.HealthV1ServiceName + "/Check",
	"POST /" + grpchealth.HealthV1ServiceName + "/Watch",
}

// HealthPatterns returns the route patterns MountHealth registers.
func HealthPatterns() []string { return append([]string(nil), healthPatterns...) }

// MountHealth serves the gRPC health checking protocol on mux, over gRPC,
// gRPC-Web and Connect: Check answers SERVING for the whole server (the
// service "") and for each basalt.v1 service while ready returns nil, and
// NOT_SERVING otherwise (while the server drains, or while a dependency
// is down, as GET /readyz answers 503); NOT_FOUND for any other service.
// Watch is not served (UNIMPLEMENTED): a stream that lasts as long as the
// connection would hold a drain until its timeout, and probes use Check.
// Like GET /healthz and /readyz, health checks are not rate limited and
// need no credential.
func MountHealth(mux *http.ServeMux, ready func(context.Context) error) {
	_, h := grpchealth.NewHandler(healthChecker{ready: ready})
	for _, p := range healthPatterns {
		mux.Handle(p, h)
	}
}

// healthChecker reports the health of the server and of each service it
// serves: all the same, since they share the process and its database.
type healthChecker struct {
	ready func(context.Context) error
}

func (c healthChecker) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	if !knownService(req.Service) {
		return nil, connectv1.NewError(connectv1.CodeNotFound, fmt.Errorf("no service %q here", req.Service))
	}
	if err := c.ready(ctx); err != nil {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
}

// knownService reports whether the health of name is reported: the whole
// server's ("") or a basalt.v1 service's.
func knownService(name string) bool {
	if name == "" {
		return true
	}
	for _, sd := range services {
		if string(sd.FullName()) == name {
			return true
		}
	}
	return false
}
