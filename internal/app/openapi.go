package app

import (
	"context"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/gateway/authapi"
	"github.com/basaltdev/basalt/internal/gateway/eventsapi"
	"github.com/basaltdev/basalt/internal/gateway/graphqlapi"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/gateway/webhookapi"
)

// openAPIDescribers are the describers of the routes served beside the
// REST API's on the main listener: the account routes and the operational
// ones of this package.
func openAPIDescribers(cfg Config) []restapi.OpenAPIDescriber {
	return []restapi.OpenAPIDescriber{authapi.DescribeOpenAPI, webhookapi.DescribeOpenAPI, eventsapi.DescribeOpenAPI, graphqlapi.DescribeOpenAPI, describeOperations(cfg)}
}

// describeOperations describes /healthz and /readyz, which are public, and
// /metrics when the main listener serves it (--metrics-token without
// --metrics-addr), to admins only: it takes the metrics token, which only
// operators hold.
func describeOperations(cfg Config) restapi.OpenAPIDescriber {
	metrics := cfg.MetricsAddr == "" && cfg.MetricsToken != ""
	return func(ctx context.Context, doc *openapi3.T) error {
		restapi.AddTag(doc, "operations", "Health, readiness and metrics, for load balancers, orchestrators and Prometheus")
		status := restapi.Object([]string{"status"}, openapi3.Schemas{"status": restapi.String(
			`"ok" (healthz); "ready", "draining" or "database unavailable" (readyz)`)}, true)
		doc.Components.Schemas["ServerStatus"] = status
		answer := func(desc string) *openapi3.ResponseRef {
			return restapi.JSONResponse(desc, restapi.SchemaRef("ServerStatus"))
		}
		doc.Paths.Set("/healthz", &openapi3.PathItem{Get: restapi.Operation("getHealth", "operations", "Liveness",
			`Answers {"status":"ok"} while the process serves requests, whatever the state of the database.`,
			nil, nil, openapi3.NewResponses(openapi3.WithStatus(200, answer("The process is alive"))))})
		unready := answer("Draining for shutdown, or the database does not answer; retry after Retry-After seconds")
		unready.Value.Headers = openapi3.Headers{"Retry-After": &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
			Description: "Seconds to wait", Schema: &openapi3.SchemaRef{Value: openapi3.NewIntegerSchema()}}}}}
		doc.Paths.Set("/readyz", &openapi3.PathItem{Get: restapi.Operation("getReadiness", "operations", "Readiness",
			"Answers 200 while the server takes requests and its database answers, and 503 while it drains for shutdown "+
				"or the database does not answer, so load balancers send requests elsewhere.",
			nil, nil, openapi3.NewResponses(openapi3.WithStatus(200, answer("Ready")), openapi3.WithStatus(503, unready)))})
		p := auth.FromContext(ctx)
		if !metrics || !p.Authenticated() || !p.IsAdmin() {
			return nil
		}
		text := openapi3.NewResponse().WithDescription("The metrics in the Prometheus text exposition format")
		text.Content = openapi3.Content{"text/plain": &openapi3.MediaType{Schema: restapi.String("Prometheus text format")}}
		doc.Paths.Set("/metrics", &openapi3.PathItem{Get: restapi.Operation("getMetrics", "operations", "Prometheus metrics",
			"The server's metrics (requests, latencies, database, sessions, mail) for a Prometheus scraper, to the bearer "+
				"token of --metrics-token only; account credentials are not accepted.",
			restapi.MetricsToken(), nil, restapi.Responses(200, &openapi3.ResponseRef{Value: text}, 401))})
		return nil
	}
}
