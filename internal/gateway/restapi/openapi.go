package restapi

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// OpenAPIVersion is the OpenAPI version of the document GET
// /v1/openapi.json serves. OpenAPI 3.1 schemas are JSON Schema 2020-12, the
// dialect of collection schemas, so those embed with their definitions
// hoisted into components.
const OpenAPIVersion = "3.1.0"

// OpenAPIDescriber adds the routes of one transport (paths, schemas, tags)
// to the OpenAPI document served to the caller in ctx, leaving out what
// that caller can never reach. Options.OpenAPI lists the describers of the
// routes other packages serve on the same server.
type OpenAPIDescriber func(ctx context.Context, doc *openapi3.T) error

// openAPI serves GET /v1/openapi.json to every caller: the document
// describes what the caller in the request context may reach (see
// docstore.Service.Catalog), plus the routes of Options.OpenAPI.
func (a *API) openAPI(w http.ResponseWriter, r *http.Request) {
	if _, err := ParseQuery(r); err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	if a.opts.Catalog == nil {
		a.WriteProblem(w, r, fault.New(fault.Unavailable, "restapi.openAPI", "the API description is not served here"))
		return
	}
	cat, err := a.opts.Catalog.Catalog(r.Context())
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	doc, err := BuildOpenAPI(r.Context(), cat, a.opts.OpenAPI...)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	// The document depends on the caller: a cache must not hand one
	// caller's to another.
	w.Header().Add("Vary", "Authorization")
	a.resp.WriteJSON(w, r, http.StatusOK, doc)
}

// BuildOpenAPI returns the OpenAPI 3.1 document of the REST API as cat
// allows it: the collection routes a caller who may see definitions gets,
// the generic document routes and the batch with the actions some
// collection could admit, and for each collection of cat its own document
// routes, whose schemas embed the collection's JSON Schema. The routes of
// more are added before the collections, so that collection schemas take
// names no other schema or generated type has.
func BuildOpenAPI(ctx context.Context, cat docstore.Catalog, more ...OpenAPIDescriber) (*openapi3.T, error) {
	doc := &openapi3.T{
		OpenAPI:           OpenAPIVersion,
		JSONSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
		Info: &openapi3.Info{
			Title:   "Basalt API",
			Version: "v1",
			Description: "Collections of JSON documents with schemas, versions, lists and batches, and the accounts that use them. " +
				"This document describes what its caller may reach: fetch it with your credentials.",
			License: &openapi3.License{Name: "Apache-2.0", Identifier: "Apache-2.0"},
		},
		// The document is served by the server it describes; a relative
		// URL keeps it right behind proxies and on any address.
		Servers: openapi3.Servers{{URL: "/", Description: "The server that served this document"}},
		Paths:   openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas:         fixedSchemas(),
			Parameters:      fixedParameters(),
			Responses:       problemResponses(),
			SecuritySchemes: securitySchemes(),
		},
		// Credentials are optional: access rules may admit anonymous
		// callers. Every operation states its own requirement.
		Security: *OptionalBearer(),
	}
	AddTag(doc, "meta", "This document")
	doc.Paths.Set("/v1/openapi.json", &openapi3.PathItem{Get: Operation("getOpenAPI", "meta",
		"This OpenAPI document",
		"The OpenAPI 3.1 document of this server as the caller may use it: anonymous callers see the public routes, "+
			"their own account's routes and the collections whose rules could admit them; admins see everything. "+
			"Hidden fields never appear in the schemas shown to callers who are not admins.",
		OptionalBearer(), nil, Responses(200, JSONResponse("The OpenAPI 3.1 document", anyObject("An OpenAPI 3.1 document")), 400, 401))})
	addCollectionPaths(doc, cat)
	addGenericPaths(doc, cat)
	for _, d := range more {
		if err := d(ctx, doc); err != nil {
			return nil, err
		}
	}
	if err := addCollections(doc, cat); err != nil {
		return nil, err
	}
	addRateLimitAnswers(doc)
	pruneTags(doc)
	if err := pruneComponents(doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// componentRef finds the references to components in JSON text.
var componentRef = regexp.MustCompile(`"#/components/(schemas|parameters|responses)/([^"]+)"`)

// pruneComponents drops the components that no operation uses, directly
// or through other components, and the security schemes no operation
// names: a caller is not told about shapes of routes they cannot reach.
func pruneComponents(doc *openapi3.T) error {
	type key struct{ kind, name string }
	used := map[key]bool{}
	schemes := map[string]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.Security != nil {
				for _, req := range *op.Security {
					for name := range req {
						schemes[name] = true
					}
				}
			}
		}
	}
	root, err := json.Marshal(doc.Paths)
	if err != nil {
		return fault.Internalf("restapi.BuildOpenAPI", err)
	}
	queue := [][]byte{root}
	for len(queue) > 0 {
		text := queue[0]
		queue = queue[1:]
		for _, m := range componentRef.FindAllSubmatch(text, -1) {
			k := key{string(m[1]), strings.ReplaceAll(strings.ReplaceAll(string(m[2]), "~1", "/"), "~0", "~")}
			if used[k] {
				continue
			}
			used[k] = true
			var v any
			switch k.kind {
			case "schemas":
				v = doc.Components.Schemas[k.name]
			case "parameters":
				v = doc.Components.Parameters[k.name]
			case "responses":
				v = doc.Components.Responses[k.name]
			}
			raw, err := json.Marshal(v)
			if err != nil {
				return fault.Internalf("restapi.BuildOpenAPI", err)
			}
			queue = append(queue, raw)
		}
	}
	c := doc.Components
	maps.DeleteFunc(c.Schemas, func(name string, _ *openapi3.SchemaRef) bool { return !used[key{"schemas", name}] })
	maps.DeleteFunc(c.Parameters, func(name string, _ *openapi3.ParameterRef) bool { return !used[key{"parameters", name}] })
	maps.DeleteFunc(c.Responses, func(name string, _ *openapi3.ResponseRef) bool { return !used[key{"responses", name}] })
	maps.DeleteFunc(c.SecuritySchemes, func(name string, _ *openapi3.SecuritySchemeRef) bool {
		return !schemes[name] && name != bearerAuth // the document's own security names bearerAuth
	})
	return nil
}

// AddTag declares a tag at the top level of doc, once.
func AddTag(doc *openapi3.T, name, description string) {
	if doc.Tags.Get(name) == nil {
		doc.Tags = append(doc.Tags, &openapi3.Tag{Name: name, Description: description})
	}
}

// pruneTags drops the declared tags that no operation uses (a caller who
// may reach none of their routes).
func pruneTags(doc *openapi3.T) {
	used := map[string]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, t := range op.Tags {
				used[t] = true
			}
		}
	}
	doc.Tags = slices.DeleteFunc(doc.Tags, func(t *openapi3.Tag) bool { return !used[t.Name] })
}

// Operation is an operation with its id, one tag, a summary and a
// description, its security (nil: none required) and its parameters.
func Operation(id, tag, summary, description string, security *openapi3.SecurityRequirements,
	body *openapi3.RequestBodyRef, rs *openapi3.Responses, parameters ...string) *openapi3.Operation {
	if security == nil {
		security = Public()
	}
	op := &openapi3.Operation{OperationID: id, Tags: []string{tag}, Summary: summary, Description: description,
		Security: security, RequestBody: body, Responses: rs}
	if len(parameters) > 0 {
		op.Parameters = params(parameters...)
	}
	return op
}

// bearerAuth names the security scheme of Authorization: Bearer.
const bearerAuth = "bearerAuth"

// metricsAuth names the security scheme of the metrics token.
const metricsAuth = "metricsToken"

// securitySchemes are the bearer credentials of callers (an access token
// or an API key) and the metrics token of scrapers.
func securitySchemes() openapi3.SecuritySchemes {
	return openapi3.SecuritySchemes{
		bearerAuth: &openapi3.SecuritySchemeRef{Value: &openapi3.SecurityScheme{
			Type: "http", Scheme: "bearer", BearerFormat: "JWT or API key",
			Description: "An access token (JWT) from /v1/auth/login or an API key. Without it the caller is anonymous.",
		}},
		metricsAuth: &openapi3.SecuritySchemeRef{Value: &openapi3.SecurityScheme{
			Type: "http", Scheme: "bearer",
			Description: "The metrics token of --metrics-token, for Prometheus scrapers; no account credential is accepted.",
		}},
	}
}

// Bearer is the security of operations that need credentials.
func Bearer() *openapi3.SecurityRequirements {
	return openapi3.NewSecurityRequirements().With(openapi3.NewSecurityRequirement().Authenticate(bearerAuth))
}

// OptionalBearer is the security of operations that anonymous callers may
// use too: credentials, or none.
func OptionalBearer() *openapi3.SecurityRequirements {
	return openapi3.NewSecurityRequirements().
		With(openapi3.NewSecurityRequirement().Authenticate(bearerAuth)).
		With(openapi3.NewSecurityRequirement())
}

// Public is the security of operations that take no credentials.
func Public() *openapi3.SecurityRequirements {
	return openapi3.NewSecurityRequirements()
}

// MetricsToken is the security of the metrics route.
func MetricsToken() *openapi3.SecurityRequirements {
	return openapi3.NewSecurityRequirements().With(openapi3.NewSecurityRequirement().Authenticate(metricsAuth))
}

// addCollectionPaths adds the routes of collection definitions that cat
// lets the caller use.
func addCollectionPaths(doc *openapi3.T, cat docstore.Catalog) {
	if !cat.ViewDefinitions {
		return
	}
	AddTag(doc, "collections", "Collection definitions: schema, indexes, access rules and hidden fields (admins)")
	coll := SchemaRef("Collection")
	const tag = "collections"
	list := &openapi3.PathItem{Get: Operation("listCollections", tag, "List collections",
		"Every collection definition, ordered by name.",
		Bearer(), nil, Responses(200, JSONResponse("The collections by name", SchemaRef("CollectionList")), 400, 401, 403))}
	one := &openapi3.PathItem{Parameters: params("CollectionName"),
		Get: Operation("getCollection", tag, "Get a collection",
			"One collection definition, with its version as the ETag.",
			Bearer(), nil, Responses(200, JSONResponse("The collection", coll, "ETag"), 304, 400, 401, 403, 404), "IfNoneMatch")}
	if cat.ManageDefinitions {
		list.Post = Operation("createCollection", tag, "Create a collection",
			"Creates a collection from its name, JSON Schema (2020-12), indexes, access rules and hidden fields.",
			Bearer(), JSONBody(SchemaRef("CollectionSpec"), mediaJSON),
			Responses(201, JSONResponse("Created", coll, "ETag", "Location"), 400, 401, 403, 409, 413, 415))
		one.Put = Operation("replaceCollection", tag, "Replace a collection's definition",
			"Replaces the schema, indexes, rules and hidden fields; every stored document must match the new schema.",
			Bearer(), JSONBody(SchemaRef("CollectionSpec"), mediaJSON),
			Responses(200, JSONResponse("The new definition", coll, "ETag"), 400, 401, 403, 404, 409, 412, 413, 415), "IfMatch")
		one.Patch = Operation("patchCollection", tag, "Merge-patch a collection's definition",
			"Applies a JSON Merge Patch (RFC 7386) to the definition; every stored document must match the resulting schema.",
			Bearer(), JSONBody(SchemaRef("MergePatch"), mediaMergePatch, mediaJSON),
			Responses(200, JSONResponse("The new definition", coll, "ETag"), 400, 401, 403, 404, 409, 412, 413, 415), "IfMatch")
		one.Delete = Operation("deleteCollection", tag, "Delete a collection and its documents",
			"Deletes the collection, its documents and its indexes.",
			Bearer(), nil, Responses(204, JSONResponse("Deleted", nil), 400, 401, 403, 404, 412), "IfMatch")
	}
	doc.Paths.Set("/v1/collections", list)
	doc.Paths.Set("/v1/collections/{collection}", one)
}

// actionsOf is the union of the actions of cat's collections, and of the
// actions that could admit anonymous callers.
func actionsOf(cat docstore.Catalog) (acts, anonymous map[string]bool) {
	acts, anonymous = map[string]bool{}, map[string]bool{}
	for _, c := range cat.Collections {
		for _, a := range c.Actions {
			acts[a] = true
		}
		for _, a := range c.Anonymous {
			anonymous[a] = true
		}
	}
	return acts, anonymous
}

// security is the security of an operation on documents: credentials
// optional when the action could admit anonymous callers, else required.
func security(anonymous bool) *openapi3.SecurityRequirements {
	if anonymous {
		return OptionalBearer()
	}
	return Bearer()
}

// addGenericPaths adds the document routes that take the collection name
// as a parameter, and the batch, with the actions some collection of cat
// admits. For a caller who may not see definitions, the collection
// parameter lists the collections they may use.
func addGenericPaths(doc *openapi3.T, cat docstore.Catalog) {
	acts, anonymous := actionsOf(cat)
	if len(acts) == 0 {
		return
	}
	if !cat.ViewDefinitions {
		p := doc.Components.Parameters["CollectionName"].Value
		s := openapi3.NewStringSchema()
		for _, c := range cat.Collections {
			s.Enum = append(s.Enum, c.Name)
		}
		p.Schema = &openapi3.SchemaRef{Value: s}
	}
	AddTag(doc, "documents", "Documents of collections: lists and queries, reads, and conditional writes")
	addDocumentPaths(doc, "/v1/collections/{collection}/documents", "", acts, anonymous,
		SchemaRef("Data"), SchemaRef("Document"), SchemaRef("DocumentList"), "CollectionName")
	if acts[auth.ActionList] {
		doc.Components.Schemas["SearchResult"] = searchResultSchema(SchemaRef("Document"))
	}
	addSearchPaths(doc, "/v1/collections/{collection}", "", acts, anonymous, SchemaRef("SearchResult"), "CollectionName")
	addEventPaths(doc, acts, anonymous)
	if acts[auth.ActionCreate] || acts[auth.ActionUpdate] || acts[auth.ActionDelete] {
		if !cat.ViewDefinitions {
			coll := doc.Components.Schemas["BatchOperation"].Value.Properties["collection"].Value
			for _, c := range cat.Collections {
				if c.Allows(auth.ActionCreate) || c.Allows(auth.ActionUpdate) || c.Allows(auth.ActionDelete) {
					coll.Enum = append(coll.Enum, c.Name)
				}
			}
		}
		AddTag(doc, "batch", "Several writes in one transaction")
		doc.Paths.Set("/v1/batch", &openapi3.PathItem{Post: Operation("batch", "batch", "Apply several writes in one transaction",
			"Creates, replaces, patches and deletes documents of any collections in one transaction: every operation "+
				"commits, or none does and the problem names the one that failed.",
			security(anonymous[auth.ActionCreate] || anonymous[auth.ActionUpdate] || anonymous[auth.ActionDelete]),
			JSONBody(SchemaRef("BatchRequest"), mediaJSON),
			Responses(200, JSONResponse("Every operation committed", SchemaRef("BatchResults")), 400, 401, 403, 404, 409, 412, 413, 415, 422),
			"IdempotencyKey")})
	}
}

// addDocumentPaths adds the list, create and one-document routes at base
// whose action is in acts; those in anonymous take credentials
// optionally, the others require them. suffix ends the operation ids; data
// is the request schema, doc and list the answers'; common names the path
// parameters shared by every route.
func addDocumentPaths(doc *openapi3.T, base, suffix string, acts, anonymous map[string]bool, data, docRef, list *openapi3.SchemaRef,
	common ...string) {
	const tag = "documents"
	coll := &openapi3.PathItem{Parameters: params(common...)}
	if acts[auth.ActionList] {
		coll.Get = Operation("listDocuments"+suffix, tag, "List or query documents",
			"One page of the documents the caller may list, filtered, sorted and projected (fields=) as asked; "+
				"pass nextCursor as cursor for the next page.",
			security(anonymous[auth.ActionList]), nil, Responses(200, JSONResponse("One page of documents", list), 400, 401, 403, 404),
			"Filter", "Sort", "Limit", "Cursor", "Fields", "Total", "Expand")
	}
	if acts[auth.ActionCreate] {
		coll.Post = Operation("createDocument"+suffix, tag, "Create a document; the body is its data",
			"Validates the body against the collection's schema and stores it as a new document at version 1.",
			security(anonymous[auth.ActionCreate]), JSONBody(data, mediaJSON),
			Responses(201, JSONResponse("Created", docRef, "ETag", "Location"), 400, 401, 403, 404, 409, 413, 415, 422),
			"CreateID", "IdempotencyKey")
	}
	if coll.Get != nil || coll.Post != nil {
		doc.Paths.Set(base, coll)
	}
	one := &openapi3.PathItem{Parameters: params(append(common, "DocumentID")...)}
	if acts[auth.ActionGet] {
		one.Get = Operation("getDocument"+suffix, tag, "Get a document",
			"One document the caller may see, with its version as the ETag.",
			security(anonymous[auth.ActionGet]), nil, Responses(200, JSONResponse("The document", docRef, "ETag"), 304, 400, 401, 403, 404), "IfNoneMatch", "Expand")
	}
	if acts[auth.ActionUpdate] {
		one.Put = Operation("replaceDocument"+suffix, tag, "Replace a document's data",
			"Replaces the data, which must match the collection's schema; If-Match makes the write conditional.",
			security(anonymous[auth.ActionUpdate]), JSONBody(data, mediaJSON),
			Responses(200, JSONResponse("The document after the write", docRef, "ETag"), 400, 401, 403, 404, 409, 412, 413, 415, 422),
			"IfMatch", "IdempotencyKey")
		one.Patch = Operation("patchDocument"+suffix, tag, "Merge-patch (RFC 7386) a document's data",
			"Applies a JSON Merge Patch to the data (null removes a member); the result must match the collection's schema.",
			security(anonymous[auth.ActionUpdate]), JSONBody(SchemaRef("MergePatch"), mediaMergePatch, mediaJSON),
			Responses(200, JSONResponse("The document after the write", docRef, "ETag"), 400, 401, 403, 404, 409, 412, 413, 415, 422),
			"IfMatch", "IdempotencyKey")
	}
	if acts[auth.ActionDelete] {
		one.Delete = Operation("deleteDocument"+suffix, tag, "Delete a document",
			"Deletes the document; If-Match makes the delete conditional.",
			security(anonymous[auth.ActionDelete]), nil, Responses(204, JSONResponse("Deleted", nil), 400, 401, 403, 404, 412, 422), "IfMatch", "IdempotencyKey")
	}
	if len(one.Operations()) > 0 {
		doc.Paths.Set(base+"/{id}", one)
	}
}

// addCollections adds, for each collection of cat, its document routes
// with their own schemas: the collection's data as written
// (Collection_<name>.Data), as returned (.ReadData, which a projection or
// hidden fields cannot break) and its documents and lists.
func addCollections(doc *openapi3.T, cat docstore.Catalog) error {
	names := newSchemaNames(doc)
	for _, c := range cat.Collections {
		for _, suffix := range []string{"listDocuments", "createDocument", "getDocument", "replaceDocument", "patchDocument", "deleteDocument",
			"searchDocuments", "searchDocumentsWithBody"} {
			names.reserveOperation(suffix + "_" + c.Name)
		}
	}
	for _, c := range cat.Collections {
		base := names.take("Collection_" + c.Name)
		h, err := newHoister(c.Name, c.Schema, base, names)
		if err != nil {
			return err
		}
		data, read, err := h.hoist(doc.Components.Schemas)
		if err != nil {
			return err
		}
		docName := names.take(base + ".Document")
		listName := names.take(base + ".DocumentList")
		doc.Components.Schemas[docName] = documentSchema(SchemaRef(read), c.Name)
		doc.Components.Schemas[listName] = listSchema(SchemaRef(docName))
		acts, anonymous := actionsOf(docstore.Catalog{Collections: []docstore.CatalogEntry{c}})
		addDocumentPaths(doc, "/v1/collections/"+c.Name+"/documents", "_"+c.Name, acts, anonymous,
			SchemaRef(data), SchemaRef(docName), SchemaRef(listName))
		if acts[auth.ActionList] {
			resultName := names.take(base + ".SearchResult")
			doc.Components.Schemas[resultName] = searchResultSchema(SchemaRef(docName))
			addSearchPaths(doc, "/v1/collections/"+c.Name, "_"+c.Name, acts, anonymous, SchemaRef(resultName))
		}
	}
	return nil
}
