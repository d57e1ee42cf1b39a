package rpcapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	connectv1 "connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"github.com/basaltdev/basalt/internal/gateway/rpcapi"
)

// TestHealth: the whole server and each basalt.v1 service are SERVING
// while ready says so and NOT_SERVING while it does not; other services
// are unknown.
func TestHealth(t *testing.T) {
	var down atomic.Bool
	mux := http.NewServeMux()
	rpcapi.MountHealth(mux, func(context.Context) error {
		if down.Load() {
			return errors.New("draining")
		}
		return nil
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := grpchealth.NewClient(srv.Client(), srv.URL)
	check := func(service string) (grpchealth.Status, error) {
		res, err := client.Check(t.Context(), &grpchealth.CheckRequest{Service: service})
		if err != nil {
			return 0, err
		}
		return res.Status, nil
	}
	for _, want := range []grpchealth.Status{grpchealth.StatusServing, grpchealth.StatusNotServing} {
		down.Store(want == grpchealth.StatusNotServing)
		for _, svc := range []string{"", "basalt.v1.DocumentService", "basalt.v1.CollectionService"} {
			if got, err := check(svc); err != nil || got != want {
				t.Errorf("%q: %v, %v; want %v", svc, got, err, want)
			}
		}
	}
	if _, err := check("basalt.v1.NoService"); connectv1.CodeOf(err) != connectv1.CodeNotFound {
		t.Errorf("an unknown service: %v, want NotFound", err)
	}
}
