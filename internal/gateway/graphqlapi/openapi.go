package graphqlapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/gateway/restapi"
)

// DescribeOpenAPI adds POST and GET /graphql to the OpenAPI document (a
// restapi.OpenAPIDescriber): every caller may use them, and the GraphQL
// schema itself says what each one may ask for.
func DescribeOpenAPI(_ context.Context, doc *openapi3.T) error {
	str := restapi.String
	doc.Components.Schemas["GraphQLRequest"] = restapi.Object([]string{"query"}, openapi3.Schemas{
		"query":         str("The GraphQL document"),
		"operationName": restapi.Nullable(str(""), "The operation of the document to run, when it has several"),
		"variables":     restapi.Nullable(restapi.Object(nil, nil, false), "The operation's variables"),
		"extensions":    restapi.Nullable(restapi.Object(nil, nil, false), "Protocol extensions"),
	}, true)
	doc.Components.Schemas["GraphQLResponse"] = restapi.Object(nil, openapi3.Schemas{
		"data": restapi.Nullable(restapi.Object(nil, nil, false),
			"The fields asked for; absent when the request could not run, null when a field that cannot be null failed"),
		"errors": restapi.ArrayOf(restapi.Object([]string{"message"}, openapi3.Schemas{
			"message":    str("What went wrong"),
			"path":       restapi.ArrayOf(&openapi3.SchemaRef{Value: &openapi3.Schema{}}),
			"locations":  restapi.ArrayOf(restapi.Object(nil, nil, false)),
			"extensions": restapi.Object(nil, openapi3.Schemas{"code": str("Basalt's error code, as REST's problem code")}, false),
		}, false)),
	}, false)
	for name, desc := range map[string]string{
		"GraphQLQuery":         "The GraphQL document (a query: GET runs no mutation)",
		"GraphQLOperationName": "The operation of the document to run, when it has several",
		"GraphQLVariables":     "The operation's variables, as a JSON object",
	} {
		p := map[string]string{"GraphQLQuery": "query", "GraphQLOperationName": "operationName", "GraphQLVariables": "variables"}[name]
		param := openapi3.NewQueryParameter(p).WithSchema(openapi3.NewStringSchema()).WithDescription(desc)
		if name == "GraphQLQuery" {
			param.Required = true
		}
		doc.Components.Parameters[name] = &openapi3.ParameterRef{Value: param}
	}

	const tag = "graphql"
	restapi.AddTag(doc, tag, "GraphQL: a schema per caller, typed from the collections they may reach")
	answer := func(desc string) *openapi3.ResponseRef {
		r := restapi.JSONResponse(desc, restapi.SchemaRef("GraphQLResponse"))
		r.Value.Content[mediaGraphQLResponse] = r.Value.Content[mediaJSON]
		return r
	}
	// responses are the GraphQL answers: errors are GraphQL errors, not
	// problems; what the server answers before the request reaches GraphQL
	// (a drain, a body the middleware refuses) stays a problem (default).
	responses := func(codes ...int) *openapi3.Responses {
		rs := restapi.Responses(200, answer("The GraphQL response (application/graphql-response+json when accepted)"))
		for _, c := range codes {
			rs.Set(strconv.Itoa(c), answer("GraphQL errors: "+http.StatusText(c)+", without data"))
		}
		return rs
	}
	desc := "Runs a GraphQL query as the caller (an access token, an API key, or anonymous). The schema is built for the " +
		"caller from the collections their access rules admit, without hidden fields. Answers follow GraphQL over HTTP: " +
		"errors carry Basalt's code in extensions.code."
	doc.Paths.Set("/graphql", &openapi3.PathItem{
		Post: restapi.Operation("graphqlPost", tag, "Run a GraphQL request", desc+" A JSON array of up to 10 requests is a batch.",
			restapi.OptionalBearer(), restapi.JSONBody(restapi.SchemaRef("GraphQLRequest"), mediaJSON),
			responses(400, 401, 406, 413, 415, 429)),
		Get: restapi.Operation("graphqlGet", tag, "Run a GraphQL query, or open a WebSocket for subscriptions", desc+
			" With Upgrade: websocket and the subprotocol "+wsProtocol+" (Sec-WebSocket-Protocol), the GET opens a WebSocket "+
			"that carries subscriptions to change events, queries and mutations (the graphql-ws library's protocol); its "+
			"credential is the Authorization header or the authorization entry of connection_init's payload.",
			restapi.OptionalBearer(), nil, wsResponses(responses(400, 401, 403, 406, 426, 429)),
			"GraphQLQuery", "GraphQLOperationName", "GraphQLVariables"),
	})
	return nil
}

// wsResponses adds the upgrade's answer to rs.
func wsResponses(rs *openapi3.Responses) *openapi3.Responses {
	rs.Set("101", &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription(
		"Switching Protocols: the WebSocket is open, speaking " + wsProtocol)})
	return rs
}
