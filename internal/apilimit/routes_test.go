package apilimit_test

import (
	"slices"
	"testing"

	"github.com/basaltdev/basalt/internal/apilimit"
	"github.com/basaltdev/basalt/internal/gateway/authapi"
	"github.com/basaltdev/basalt/internal/gateway/eventsapi"
	"github.com/basaltdev/basalt/internal/gateway/graphqlapi"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/gateway/rpcapi"
	"github.com/basaltdev/basalt/internal/gateway/webhookapi"
)

// TestEveryRouteHasAClass: every route pattern the REST transports
// register is classified, and the table names no route that is gone. A
// new route fails here until it is given a class.
func TestEveryRouteHasAClass(t *testing.T) {
	table := apilimit.ClassifiedRoutes()
	var all []string
	for name, patterns := range map[string][]string{
		"restapi":    restapi.RoutePatterns(),
		"authapi":    authapi.RoutePatterns(),
		"webhookapi": webhookapi.RoutePatterns(),
		"eventsapi":  eventsapi.RoutePatterns(),
		"rpcapi":     rpcapi.RoutePatterns(),
		"graphqlapi": graphqlapi.LimitRoutes(),
	} {
		if len(patterns) == 0 {
			t.Errorf("%s registers no route", name)
		}
		for _, p := range patterns {
			if _, ok := apilimit.ClassOf(p); !ok {
				t.Errorf("%s: the route %q has no class (add it to routeClasses)", name, p)
			}
		}
		all = append(all, patterns...)
	}
	for p := range table {
		if !slices.Contains(all, p) {
			t.Errorf("routeClasses lists %q, which no transport registers", p)
		}
	}
}

// TestClassOf checks the classes that matter most, and the fallback of an
// unlisted route: never unlimited.
func TestClassOf(t *testing.T) {
	for _, c := range []struct {
		route string
		want  apilimit.Class
		known bool
	}{
		{"POST /v1/auth/login", apilimit.Auth, true},
		{"POST /v1/auth/signup", apilimit.Auth, true},
		{"POST /v1/auth/password/reset", apilimit.Auth, true},
		{"GET /v1/collections/{collection}/documents", apilimit.Read, true},
		{"PATCH /v1/collections/{collection}/documents/{id}", apilimit.Write, true},
		{"POST /v1/batch", apilimit.Write, true},
		{"POST /v1/collections/{collection}/search", apilimit.Search, true},
		{"GET /v1/collections/{collection}/events", apilimit.Realtime, true},
		{"GET /v1/admin/consumers", apilimit.Read, true},
		{"POST /basalt.v1.DocumentService/GetDocument", apilimit.Read, true},
		{"POST /basalt.v1.DocumentService/Batch", apilimit.Write, true},
		{"GET /basalt.v1.DocumentService/ListDocuments", apilimit.Read, false},
		{"GET /v1/new", apilimit.Read, false},
		{"DELETE /v1/new", apilimit.Write, false},
	} {
		got, known := apilimit.ClassOf(c.route)
		if got != c.want || known != c.known {
			t.Errorf("ClassOf(%q) = %s, %v; want %s, %v", c.route, got, known, c.want, c.known)
		}
	}
}

// TestMetricClass: the metrics' class of registered patterns, of RPC
// procedures as the mux registers them (path only), and "other" for the
// routes outside the API.
func TestMetricClass(t *testing.T) {
	for route, want := range map[string]string{
		"POST /v1/auth/login":                        "auth",
		"GET /v1/collections/{collection}/documents": "read",
		"POST /v1/batch":                             "write",
		"GET /v1/collections/{collection}/search":    "search",
		"GET /v1/collections/{collection}/events":    "realtime",
		"/basalt.v1.DocumentService/GetDocument":     "read",
		"/basalt.v1.DocumentService/WatchDocuments":  "realtime",
		"POST /graphql#mutation":                     "write",
		"GET /graphql#subscription":                  "realtime",
		"/grpc.health.v1.Health/Check":               "other",
		"GET /healthz":                               "other",
		"GET /metrics":                               "other",
		"GET /v1/new":                                "other",
	} {
		if got := apilimit.MetricClass(route); got != want {
			t.Errorf("MetricClass(%q) = %q, want %q", route, got, want)
		}
	}
}
