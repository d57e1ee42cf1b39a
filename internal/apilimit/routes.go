package apilimit

import "strings"

// routeClasses classifies every route pattern ("METHOD /path") of the REST
// transports, and every procedure of the RPC one ("POST /<procedure>"). A test checks that each registered pattern is listed, so a
// new route cannot go unclassified.
var routeClasses = map[string]Class{
	// restapi: collections, documents, searches, event streams, batch.
	"GET /v1/collections":                                    Read,
	"POST /v1/collections":                                   Write,
	"GET /v1/collections/{collection}":                       Read,
	"PUT /v1/collections/{collection}":                       Write,
	"PATCH /v1/collections/{collection}":                     Write,
	"DELETE /v1/collections/{collection}":                    Write,
	"GET /v1/collections/{collection}/documents":             Read,
	"POST /v1/collections/{collection}/documents":            Write,
	"GET /v1/collections/{collection}/documents/{id}":        Read,
	"PUT /v1/collections/{collection}/documents/{id}":        Write,
	"PATCH /v1/collections/{collection}/documents/{id}":      Write,
	"DELETE /v1/collections/{collection}/documents/{id}":     Write,
	"GET /v1/collections/{collection}/search":                Search,
	"POST /v1/collections/{collection}/search":               Search,
	"GET /v1/collections/{collection}/events":                Realtime,
	"GET /v1/collections/{collection}/documents/{id}/events": Realtime,
	"POST /v1/batch":                                         Write,
	"GET /v1/openapi.json":                                   Read,

	// authapi: the account flows are the auth class; the caller's own
	// account and sessions, and the admin routes, are reads and writes.
	"POST /v1/auth/signup":                 Auth,
	"POST /v1/auth/login":                  Auth,
	"POST /v1/auth/refresh":                Auth,
	"POST /v1/auth/logout":                 Auth,
	"POST /v1/auth/password":               Auth,
	"POST /v1/auth/password/reset":         Auth,
	"POST /v1/auth/password/reset/confirm": Auth,
	"POST /v1/auth/verify/request":         Auth,
	"POST /v1/auth/verify":                 Auth,
	"GET /v1/auth/me":                      Read,
	"DELETE /v1/auth/me":                   Write,
	"GET /v1/auth/sessions":                Read,
	"DELETE /v1/auth/sessions/{id}":        Write,
	"GET /v1/admin/accounts":               Read,
	"POST /v1/admin/accounts":              Write,
	"GET /v1/admin/accounts/{id}":          Read,
	"PATCH /v1/admin/accounts/{id}":        Write,
	"DELETE /v1/admin/accounts/{id}":       Write,
	"GET /v1/admin/accounts/{id}/sessions": Read,
	"DELETE /v1/admin/sessions/{id}":       Write,
	"POST /v1/admin/invites":               Write,
	"GET /v1/admin/api-keys":               Read,
	"POST /v1/admin/api-keys":              Write,
	"DELETE /v1/admin/api-keys/{id}":       Write,
	"GET /v1/admin/keys":                   Read,
	"POST /v1/admin/keys/rotate":           Write,
	"GET /.well-known/jwks.json":           Read,

	// webhookapi.
	"GET /v1/admin/webhooks":                                         Read,
	"POST /v1/admin/webhooks":                                        Write,
	"GET /v1/admin/webhooks/{id}":                                    Read,
	"PATCH /v1/admin/webhooks/{id}":                                  Write,
	"DELETE /v1/admin/webhooks/{id}":                                 Write,
	"POST /v1/admin/webhooks/{id}/rotate-secret":                     Write,
	"GET /v1/admin/webhooks/{id}/deliveries":                         Read,
	"GET /v1/admin/webhooks/{id}/deliveries/{deliveryId}":            Read,
	"POST /v1/admin/webhooks/{id}/deliveries/{deliveryId}/redeliver": Write,

	// graphqlapi: every request is a read, decided before its body is
	// read; a mutation, once parsed, is also limited as a write, and its
	// login, refresh or logout in the auth class.
	"GET /graphql":           Read,
	"POST /graphql":          Read,
	"POST /graphql#mutation": Write,
	"POST /graphql#auth":     Auth,
	"POST /graphql#search":   Search,
	// A subscription, over WebSocket, is an event stream.
	"GET /graphql#subscription": Realtime,

	// rpcapi: the basalt.v1 procedures over gRPC and Connect, classed
	// like the REST routes they mirror.
	"POST /basalt.v1.DocumentService/GetDocument":         Read,
	"POST /basalt.v1.DocumentService/BatchGetDocuments":   Read,
	"POST /basalt.v1.DocumentService/ListDocuments":       Read,
	"POST /basalt.v1.DocumentService/CreateDocument":      Write,
	"POST /basalt.v1.DocumentService/ReplaceDocument":     Write,
	"POST /basalt.v1.DocumentService/PatchDocument":       Write,
	"POST /basalt.v1.DocumentService/DeleteDocument":      Write,
	"POST /basalt.v1.DocumentService/Batch":               Write,
	"POST /basalt.v1.DocumentService/WatchDocuments":      Realtime,
	"POST /basalt.v1.CollectionService/ListCollections":   Read,
	"POST /basalt.v1.CollectionService/GetCollection":     Read,
	"POST /basalt.v1.CollectionService/CreateCollection":  Write,
	"POST /basalt.v1.CollectionService/ReplaceCollection": Write,
	"POST /basalt.v1.CollectionService/PatchCollection":   Write,
	"POST /basalt.v1.CollectionService/DeleteCollection":  Write,
	"POST /basalt.v1.AuthService/SignUp":                  Auth,
	"POST /basalt.v1.AuthService/Login":                   Auth,
	"POST /basalt.v1.AuthService/Refresh":                 Auth,
	"POST /basalt.v1.AuthService/Logout":                  Auth,
	"POST /basalt.v1.AuthService/ChangePassword":          Auth,
	"POST /basalt.v1.AuthService/RequestPasswordReset":    Auth,
	"POST /basalt.v1.AuthService/ResetPassword":           Auth,
	"POST /basalt.v1.AuthService/RequestVerification":     Auth,
	"POST /basalt.v1.AuthService/VerifyEmail":             Auth,
	"POST /basalt.v1.AuthService/GetMe":                   Read,
	"POST /basalt.v1.AuthService/DeleteMe":                Write,
	"POST /basalt.v1.AuthService/ListSessions":            Read,
	"POST /basalt.v1.AuthService/RevokeSession":           Write,
	"POST /basalt.v1.AdminService/ListAccounts":           Read,
	"POST /basalt.v1.AdminService/GetAccount":             Read,
	"POST /basalt.v1.AdminService/CreateAccount":          Write,
	"POST /basalt.v1.AdminService/UpdateAccount":          Write,
	"POST /basalt.v1.AdminService/DeleteAccount":          Write,
	"POST /basalt.v1.AdminService/InviteAccount":          Write,
	"POST /basalt.v1.AdminService/ListAccountSessions":    Read,
	"POST /basalt.v1.AdminService/RevokeAccountSession":   Write,
	"POST /basalt.v1.AdminService/ListSigningKeys":        Read,
	"POST /basalt.v1.AdminService/RotateSigningKeys":      Write,
	"POST /basalt.v1.APIKeyService/CreateAPIKey":          Write,
	"POST /basalt.v1.APIKeyService/ListAPIKeys":           Read,
	"POST /basalt.v1.APIKeyService/RevokeAPIKey":          Write,
	// Server reflection: the API's descriptors, public like the OpenAPI
	// document. (Health checks, like /healthz, are not limited.)
	"POST /grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      Read,
	"POST /grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": Read,

	// eventsapi.
	"GET /v1/admin/consumers":                Read,
	"GET /v1/admin/dead-letters":             Read,
	"GET /v1/admin/dead-letters/{id}":        Read,
	"DELETE /v1/admin/dead-letters/{id}":     Write,
	"POST /v1/admin/dead-letters/{id}/retry": Write,
}

// ClassOf returns the class of a route pattern ("METHOD /path") and
// whether the pattern is classified. An unclassified pattern is a read
// when its method is GET or HEAD and a write otherwise: never unlimited.
func ClassOf(route string) (Class, bool) {
	if c, ok := routeClasses[route]; ok {
		return c, true
	}
	method, _, _ := strings.Cut(route, " ")
	if method == "GET" || method == "HEAD" {
		return Read, false
	}
	return Write, false
}

// ClassifiedRoutes returns every classified pattern with its class.
func ClassifiedRoutes() map[string]Class {
	out := make(map[string]Class, len(routeClasses))
	for k, v := range routeClasses {
		out[k] = v
	}
	return out
}

// MetricClass names the class of route for the metrics' class label (the
// classes of the service-level objectives): a classified route's class,
// or "other" for the rest (health checks, metrics, gRPC health and
// reflection). An RPC procedure's route is its path alone ("/<procedure>",
// as the mux registers it) or "POST /<procedure>".
func MetricClass(route string) string {
	if strings.HasPrefix(route, "/") {
		route = "POST " + route
	}
	if c, ok := routeClasses[route]; ok {
		return c.String()
	}
	return "other"
}
