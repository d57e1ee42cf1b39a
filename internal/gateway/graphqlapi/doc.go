// Package graphqlapi serves Basalt's GraphQL API over the document and
// account services: a schema built at run time, per caller, from the
// collections their catalog lists (docstore.Catalog), so that a caller
// sees only the collections, root fields and data fields their rules and
// hidden fields admit.
//
// Documents are parsed and validated with github.com/vektah/gqlparser/v2
// (the parser and validator of gqlgen, complete to the specification and
// maintained), against the schema the package builds as SDL text, then
// bounded (Limits) and executed by the package's own executor: the one
// Go engine that builds types from values at run time,
// github.com/graphql-go/graphql, is no longer released, and a schema of
// collections needs little of an engine beyond selection, fragments,
// directives, variables and null propagation.
//
// The data of the documents a query reads is parsed with
// github.com/valyala/fastjson (a page's documents with one parser, about
// three times faster than encoding/json's decoding into interfaces), and
// the answer is written by the package's own encoder for its few value
// types; together they halved the time of a list through GraphQL
// (BenchmarkGraphQLList in internal/app).
//
// Subscriptions are served over WebSocket (github.com/coder/websocket)
// with the graphql-transport-ws protocol, written here (ws.go); their
// events come from the realtime hub, each decided for its subscriber by
// the document service at delivery (subscriptions.go).
package graphqlapi
