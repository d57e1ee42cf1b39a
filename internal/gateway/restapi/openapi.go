package restapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// OpenAPIVersion is the OpenAPI version of the document GET
// /v1/openapi.json serves. OpenAPI 3.1 schemas are JSON Schema 2020-12, the
// dialect of collection schemas, so those embed unchanged.
const OpenAPIVersion = "3.1.0"

// openAPI serves GET /v1/openapi.json, built from the current collections.
func (a *API) openAPI(w http.ResponseWriter, r *http.Request) {
	if _, err := ParseQuery(r); err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	cs, err := a.svc.ListCollections(r.Context())
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	doc, err := BuildOpenAPI(cs)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, doc)
}

// BuildOpenAPI returns the OpenAPI 3.1 document of the REST API for the
// given collections: the fixed routes, plus for each collection its own
// document paths whose request and response schemas embed the collection's
// JSON Schema as the data schema (components/schemas/<name>.Data).
func BuildOpenAPI(cs []docstore.Collection) (*openapi3.T, error) {
	doc := &openapi3.T{
		OpenAPI:           OpenAPIVersion,
		JSONSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
		Info: &openapi3.Info{
			Title:       "Basalt REST API",
			Version:     "v1",
			Description: "Collections of JSON documents with schemas, versions, lists and batches.",
		},
		Paths: openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas:         fixedSchemas(),
			Parameters:      fixedParameters(),
			Responses:       problemResponses(),
			SecuritySchemes: securitySchemes(),
		},
		// Credentials are optional: access rules may admit anonymous
		// callers. Operations for admins only require them.
		Security: *openapi3.NewSecurityRequirements().
			With(openapi3.NewSecurityRequirement().Authenticate(bearerAuth)).
			With(openapi3.NewSecurityRequirement()),
	}
	addCollectionPaths(doc)
	addDocumentPaths(doc, "/v1/collections/{collection}/documents", "Document", "Document", "DocumentList", nil)
	doc.Paths.Set("/v1/batch", &openapi3.PathItem{Post: &openapi3.Operation{
		OperationID: "batch", Summary: "Apply several writes in one transaction", Tags: []string{"batch"},
		Parameters:  params("IdempotencyKey"),
		RequestBody: jsonBody(schemaRef("BatchRequest"), mediaJSON),
		Responses:   responses(200, okResponse("Every operation committed", schemaRef("BatchResponse")), 400, 401, 403, 404, 409, 412, 413, 415, 422),
	}})
	doc.Paths.Set("/v1/openapi.json", &openapi3.PathItem{Get: &openapi3.Operation{
		OperationID: "getOpenAPI", Summary: "This document (admins only: it shows every collection's definition)", Tags: []string{"meta"},
		Security:  adminOnly(),
		Responses: responses(200, okResponse("The OpenAPI 3.1 document", &openapi3.SchemaRef{Value: openapi3.NewObjectSchema()}), 401, 403),
	}})
	for _, c := range cs {
		base := "Collection_" + c.Name
		data, err := dataSchema(c, base+".Data")
		if err != nil {
			return nil, err
		}
		s := doc.Components.Schemas
		s[base+".Data"] = data
		s[base+".Document"] = documentSchema(schemaRef(base+".Data"), c.Name)
		s[base+".DocumentList"] = listSchema(schemaRef(base + ".Document"))
		addDocumentPaths(doc, "/v1/collections/"+c.Name+"/documents", "_"+c.Name, base+".Data", base+".DocumentList", &c)
	}
	return doc, nil
}

// dataSchema converts a collection's JSON Schema for embedding at
// components/schemas/<key>: local references ("#/$defs/x") are rewritten to
// point inside the embedded copy.
func dataSchema(c docstore.Collection, key string) (*openapi3.SchemaRef, error) {
	raw := c.Schema
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage(`{"type":"object"}`)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fault.Internalf("restapi.BuildOpenAPI", fmt.Errorf("schema of collection %q: %w", c.Name, err))
	}
	rewritten, err := json.Marshal(rewriteRefs(v, "#/components/schemas/"+escapeToken(key)))
	if err != nil {
		return nil, fault.Internalf("restapi.BuildOpenAPI", err)
	}
	var s openapi3.Schema
	if err := json.Unmarshal(rewritten, &s); err != nil {
		return nil, fault.Internalf("restapi.BuildOpenAPI", fmt.Errorf("schema of collection %q: %w", c.Name, err))
	}
	return &openapi3.SchemaRef{Value: &s}, nil
}

// rewriteRefs prefixes every local "$ref" ("#…") in a schema with base.
func rewriteRefs(v any, base string) any {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			if s, ok := child.(string); ok && k == "$ref" && strings.HasPrefix(s, "#") {
				t[k] = base + strings.TrimPrefix(s, "#")
				continue
			}
			t[k] = rewriteRefs(child, base)
		}
	case []any:
		for i, child := range t {
			t[i] = rewriteRefs(child, base)
		}
	}
	return v
}

// bearerAuth names the security scheme of Authorization: Bearer.
const bearerAuth = "bearerAuth"

// securitySchemes is the one scheme: a bearer access token or API key.
func securitySchemes() openapi3.SecuritySchemes {
	return openapi3.SecuritySchemes{bearerAuth: &openapi3.SecuritySchemeRef{Value: &openapi3.SecurityScheme{
		Type: "http", Scheme: "bearer", BearerFormat: "JWT or API key",
		Description: "An access token (JWT) from /v1/auth/login or an API key. Without it the caller is anonymous.",
	}}}
}

// adminOnly is the security of operations that need credentials (of an
// admin).
func adminOnly() *openapi3.SecurityRequirements {
	return openapi3.NewSecurityRequirements().With(openapi3.NewSecurityRequirement().Authenticate(bearerAuth))
}

func schemaRef(name string) *openapi3.SchemaRef {
	return openapi3.NewSchemaRef("#/components/schemas/"+name, nil)
}

// params references the named component parameters.
func params(names ...string) openapi3.Parameters {
	out := make(openapi3.Parameters, 0, len(names))
	for _, n := range names {
		out = append(out, &openapi3.ParameterRef{Ref: "#/components/parameters/" + n})
	}
	return out
}

func jsonBody(s *openapi3.SchemaRef, mediaTypes ...string) *openapi3.RequestBodyRef {
	content := openapi3.Content{}
	for _, mt := range mediaTypes {
		content[mt] = &openapi3.MediaType{Schema: s}
	}
	return &openapi3.RequestBodyRef{Value: &openapi3.RequestBody{Required: true, Content: content}}
}

// header is a response header of type string.
func header(desc string) *openapi3.HeaderRef {
	return &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
		Description: desc, Schema: &openapi3.SchemaRef{Value: openapi3.NewStringSchema()},
	}}}
}

// okResponse is a JSON success answer; headers are "ETag" and "Location".
func okResponse(desc string, s *openapi3.SchemaRef, headers ...string) *openapi3.ResponseRef {
	resp := openapi3.NewResponse().WithDescription(desc)
	if s != nil {
		resp.Content = openapi3.Content{mediaJSON: &openapi3.MediaType{Schema: s}}
	}
	if len(headers) > 0 {
		resp.Headers = openapi3.Headers{}
		for _, h := range headers {
			switch h {
			case "ETag":
				resp.Headers[h] = header(`The version as a strong entity tag, like "3"`)
			case "Location":
				resp.Headers[h] = header("The path of the created resource")
			}
		}
	}
	return &openapi3.ResponseRef{Value: resp}
}

// responses builds a Responses object: a success code and its response,
// then error codes that reference the problem responses; every operation
// also gets the default problem response.
func responses(code int, ok *openapi3.ResponseRef, errCodes ...int) *openapi3.Responses {
	opts := []openapi3.NewResponsesOption{openapi3.WithStatus(code, ok)}
	for _, c := range errCodes {
		ref := fmt.Sprintf("#/components/responses/Problem%d", c)
		if c == http.StatusNotModified {
			ref = "#/components/responses/NotModified"
		}
		opts = append(opts, openapi3.WithStatus(c, &openapi3.ResponseRef{Ref: ref}))
	}
	rs := openapi3.NewResponses(opts...)
	rs.Set("default", &openapi3.ResponseRef{Ref: "#/components/responses/ProblemDefault"})
	return rs
}

// addCollectionPaths adds the routes of collection definitions, which are
// for admins only.
func addCollectionPaths(doc *openapi3.T) {
	coll := schemaRef("Collection")
	tags := []string{"collections"}
	doc.Paths.Set("/v1/collections", &openapi3.PathItem{
		Get: &openapi3.Operation{OperationID: "listCollections", Summary: "List collections", Tags: tags, Security: adminOnly(),
			Responses: responses(200, okResponse("The collections by name", schemaRef("CollectionList")), 401, 403)},
		Post: &openapi3.Operation{OperationID: "createCollection", Summary: "Create a collection", Tags: tags, Security: adminOnly(),
			RequestBody: jsonBody(schemaRef("CollectionSpec"), mediaJSON),
			Responses:   responses(201, okResponse("Created", coll, "ETag", "Location"), 400, 401, 403, 409, 413, 415)},
	})
	doc.Paths.Set("/v1/collections/{collection}", &openapi3.PathItem{
		Parameters: params("CollectionName"),
		Get: &openapi3.Operation{OperationID: "getCollection", Summary: "Get a collection", Tags: tags, Security: adminOnly(),
			Parameters: params("IfNoneMatch"),
			Responses:  responses(200, okResponse("The collection", coll, "ETag"), 304, 401, 403, 404)},
		Put: &openapi3.Operation{OperationID: "replaceCollection", Summary: "Replace a collection's definition", Tags: tags, Security: adminOnly(),
			Parameters: params("IfMatch"), RequestBody: jsonBody(schemaRef("CollectionSpec"), mediaJSON),
			Responses: responses(200, okResponse("The new definition", coll, "ETag"), 400, 401, 403, 404, 409, 412, 413, 415)},
		Patch: &openapi3.Operation{OperationID: "patchCollection", Summary: "Merge-patch a collection's definition", Tags: tags, Security: adminOnly(),
			Parameters: params("IfMatch"), RequestBody: jsonBody(schemaRef("MergePatch"), mediaMergePatch, mediaJSON),
			Responses: responses(200, okResponse("The new definition", coll, "ETag"), 400, 401, 403, 404, 409, 412, 413, 415)},
		Delete: &openapi3.Operation{OperationID: "deleteCollection", Summary: "Delete a collection and its documents", Tags: tags, Security: adminOnly(),
			Parameters: params("IfMatch"),
			Responses:  responses(204, okResponse("Deleted", nil), 400, 401, 403, 404, 412)},
	})
}

// addDocumentPaths adds list, create and one-document routes at base. For a
// named collection c, the collection wildcard is fixed and operation ids
// carry suffix; data and list name the request and list schemas.
func addDocumentPaths(doc *openapi3.T, base, suffix, data, list string, c *docstore.Collection) {
	docRef := schemaRef("Document")
	if c != nil {
		docRef = schemaRef("Collection_" + c.Name + ".Document")
	} else {
		suffix = ""
	}
	var common openapi3.Parameters
	if c == nil {
		common = params("CollectionName")
	}
	tags := []string{"documents"}
	dataRef := schemaRef(data)
	if c == nil {
		dataRef = schemaRef("Data")
	}
	doc.Paths.Set(base, &openapi3.PathItem{
		Parameters: common,
		Get: &openapi3.Operation{OperationID: "listDocuments" + suffix, Summary: "List or query documents", Tags: tags,
			Parameters: params("Filter", "Sort", "Limit", "Cursor", "Fields", "Total"),
			Responses:  responses(200, okResponse("One page of documents", schemaRef(list)), 400, 401, 403, 404)},
		Post: &openapi3.Operation{OperationID: "createDocument" + suffix, Summary: "Create a document; the body is its data", Tags: tags,
			Parameters: params("CreateID", "IdempotencyKey"), RequestBody: jsonBody(dataRef, mediaJSON),
			Responses: responses(201, okResponse("Created", docRef, "ETag", "Location"), 400, 401, 403, 404, 409, 413, 415, 422)},
	})
	oneParams := append(common, params("DocumentID")...)
	doc.Paths.Set(base+"/{id}", &openapi3.PathItem{
		Parameters: oneParams,
		Get: &openapi3.Operation{OperationID: "getDocument" + suffix, Summary: "Get a document", Tags: tags,
			Parameters: params("IfNoneMatch"),
			Responses:  responses(200, okResponse("The document", docRef, "ETag"), 304, 401, 403, 404)},
		Put: &openapi3.Operation{OperationID: "replaceDocument" + suffix, Summary: "Replace a document's data", Tags: tags,
			Parameters: params("IfMatch", "IdempotencyKey"), RequestBody: jsonBody(dataRef, mediaJSON),
			Responses: responses(200, okResponse("The document after the write", docRef, "ETag"), 400, 401, 403, 404, 409, 412, 413, 415, 422)},
		Patch: &openapi3.Operation{OperationID: "patchDocument" + suffix, Summary: "Merge-patch (RFC 7386) a document's data", Tags: tags,
			Parameters: params("IfMatch", "IdempotencyKey"), RequestBody: jsonBody(schemaRef("MergePatch"), mediaMergePatch, mediaJSON),
			Responses: responses(200, okResponse("The document after the write", docRef, "ETag"), 400, 401, 403, 404, 409, 412, 413, 415, 422)},
		Delete: &openapi3.Operation{OperationID: "deleteDocument" + suffix, Summary: "Delete a document", Tags: tags,
			Parameters: params("IfMatch", "IdempotencyKey"),
			Responses:  responses(204, okResponse("Deleted", nil), 400, 401, 403, 404, 412, 422)},
	})
}
