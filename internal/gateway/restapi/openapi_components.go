package restapi

import (
	"fmt"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
)

// This file holds the fixed components of the OpenAPI document: schemas of
// the public shapes (API.md), parameters and problem responses.

func strSchema(desc string) *openapi3.SchemaRef {
	s := openapi3.NewStringSchema()
	s.Description = desc
	return &openapi3.SchemaRef{Value: s}
}

func object(required []string, props openapi3.Schemas, closed bool) *openapi3.SchemaRef {
	s := openapi3.NewObjectSchema()
	s.Required = required
	s.Properties = props
	if closed {
		no := false
		s.AdditionalProperties = openapi3.AdditionalProperties{Has: &no}
	}
	return &openapi3.SchemaRef{Value: s}
}

func arrayOf(items *openapi3.SchemaRef) *openapi3.SchemaRef {
	s := openapi3.NewArraySchema()
	s.Items = items
	return &openapi3.SchemaRef{Value: s}
}

func versionSchema() *openapi3.SchemaRef {
	s := openapi3.NewInt64Schema()
	s.Min = new(float64(1))
	s.Description = "Starts at 1 and grows by 1 on every write"
	return &openapi3.SchemaRef{Value: s}
}

func timeSchema() *openapi3.SchemaRef {
	s := openapi3.NewDateTimeSchema()
	s.Description = "RFC 3339, UTC"
	return &openapi3.SchemaRef{Value: s}
}

// documentSchema is a document whose data follows data; collection, when
// set, is the only value of the collection member.
func documentSchema(data *openapi3.SchemaRef, collection string) *openapi3.SchemaRef {
	coll := strSchema("The collection name")
	if collection != "" {
		coll.Value.Const = collection
	}
	return object([]string{"id", "collection", "version", "createdAt", "updatedAt", "data"}, openapi3.Schemas{
		"id": strSchema("The document id"), "collection": coll, "version": versionSchema(),
		"createdAt": timeSchema(), "updatedAt": timeSchema(), "data": data,
	}, true)
}

// listSchema is one page of documents.
func listSchema(item *openapi3.SchemaRef) *openapi3.SchemaRef {
	cursor := openapi3.NewStringSchema().WithTypes("string", "null")
	cursor.Description = "Pass as cursor to get the next page; null on the last page"
	total := openapi3.NewInt64Schema()
	total.Description = "The number of matching documents, present only when total=true"
	return object([]string{"items", "nextCursor"}, openapi3.Schemas{
		"items": arrayOf(item), "nextCursor": {Value: cursor}, "total": {Value: total},
	}, true)
}

// fixedSchemas are the schemas that do not depend on collections.
func fixedSchemas() openapi3.Schemas {
	anyObject := &openapi3.SchemaRef{Value: openapi3.NewObjectSchema()}
	index := object([]string{"fields"}, openapi3.Schemas{"fields": arrayOf(strSchema("A data path or system field"))}, true)
	name := strSchema("The collection name")
	name.Value.Pattern = "^[a-z][a-z0-9_]{0,62}$"
	op := strSchema("The write to apply")
	op.Value.Enum = []any{"create", "replace", "patch", "delete"}
	problem := object([]string{"type", "title", "status", "code"}, openapi3.Schemas{
		"type":   strSchema("urn:basalt:problem:<code>"),
		"title":  strSchema("A short summary of the kind of problem"),
		"status": {Value: openapi3.NewIntegerSchema()},
		"code":   strSchema("The stable machine-readable error code"),
		"detail": strSchema("What went wrong with this request"),
		"errors": arrayOf(schemaRef("FieldError")),
	}, false)
	rule := openapi3.NewStringSchema().WithTypes("string", "null")
	rule.Description = `null: admins only; "": everyone, anonymous callers included; otherwise a rule expression over ` +
		`the document and @auth.id, @auth.type, @auth.roles`
	ruleProps := openapi3.Schemas{}
	for _, a := range []string{"list", "get", "create", "update", "delete"} {
		ruleProps[a] = &openapi3.SchemaRef{Value: rule}
	}
	hidden := arrayOf(strSchema("A data path, like author.email"))
	hidden.Value.Description = "Data fields left out of the documents returned to callers who are not admins"
	return openapi3.Schemas{
		"Rules":      withDescription(object(nil, ruleProps, true), "The access rule of each action on documents; a missing member is null"),
		"Data":       withDescription(anyObject, "A document's data: one JSON object"),
		"MergePatch": withDescription(&openapi3.SchemaRef{Value: openapi3.NewObjectSchema()}, "A JSON Merge Patch (RFC 7386): null removes a member"),
		"Index":      index,
		"CollectionSpec": object([]string{"name", "schema"}, openapi3.Schemas{
			"name": name, "schema": withDescription(&openapi3.SchemaRef{Value: openapi3.NewObjectSchema()}, "A JSON Schema (2020-12) for the data"),
			"indexes": arrayOf(schemaRef("Index")), "rules": schemaRef("Rules"), "hiddenFields": hidden,
		}, true),
		"Collection": object([]string{"name", "schema", "indexes", "rules", "hiddenFields", "version", "createdAt", "updatedAt"}, openapi3.Schemas{
			"name": name, "schema": {Value: openapi3.NewObjectSchema()}, "indexes": arrayOf(schemaRef("Index")),
			"rules": schemaRef("Rules"), "hiddenFields": hidden,
			"version": versionSchema(), "createdAt": timeSchema(), "updatedAt": timeSchema(),
		}, true),
		"CollectionList": object([]string{"items"}, openapi3.Schemas{"items": arrayOf(schemaRef("Collection"))}, true),
		"Document":       documentSchema(schemaRef("Data"), ""),
		"DocumentList":   listSchema(schemaRef("Document")),
		"BatchOperation": object([]string{"op", "collection"}, openapi3.Schemas{
			"op": op, "collection": strSchema("The collection name"), "id": strSchema("The document id; optional for create"),
			"data": withDescription(anyObject, "The data (create, replace) or merge patch (patch)"), "ifMatch": versionSchema(),
		}, true),
		"BatchRequest": object([]string{"operations"}, openapi3.Schemas{"operations": arrayOf(schemaRef("BatchOperation"))}, true),
		"BatchResult": object([]string{"op", "id"}, openapi3.Schemas{
			"op": op, "id": strSchema("The document id"), "document": schemaRef("Document"),
		}, true),
		"BatchResponse": object([]string{"results"}, openapi3.Schemas{"results": arrayOf(schemaRef("BatchResult"))}, true),
		"FieldError": object([]string{"pointer", "message"}, openapi3.Schemas{
			"pointer": strSchema("A JSON pointer (RFC 6901) into the request body"), "message": strSchema("What is wrong there"),
		}, false),
		"Problem": problem,
	}
}

func withDescription(s *openapi3.SchemaRef, desc string) *openapi3.SchemaRef {
	s.Value.Description = desc
	return s
}

// fixedParameters are the parameters operations reference.
func fixedParameters() openapi3.ParametersMap {
	str := func(p *openapi3.Parameter, desc string) *openapi3.ParameterRef {
		p.Description = desc
		if p.Schema == nil {
			p.Schema = &openapi3.SchemaRef{Value: openapi3.NewStringSchema()}
		}
		return &openapi3.ParameterRef{Value: p}
	}
	limit := openapi3.NewQueryParameter("limit").WithSchema(openapi3.NewIntegerSchema().WithMin(0))
	total := openapi3.NewQueryParameter("total").WithSchema(openapi3.NewBoolSchema())
	return openapi3.ParametersMap{
		"CollectionName": str(openapi3.NewPathParameter("collection"), "The collection name"),
		"DocumentID":     str(openapi3.NewPathParameter("id"), "The document id"),
		"Filter":         str(openapi3.NewQueryParameter("filter"), "A filter expression over data fields and id, version, createdAt, updatedAt"),
		"Sort":           str(openapi3.NewQueryParameter("sort"), "Comma-separated fields, '-' for descending, like -score,title"),
		"Limit":          str(limit, "The most documents in the page"),
		"Cursor":         str(openapi3.NewQueryParameter("cursor"), "The nextCursor of the previous page"),
		"Fields":         str(openapi3.NewQueryParameter("fields"), "Comma-separated data fields to return"),
		"Total":          str(total, "Also count every matching document"),
		"CreateID":       str(openapi3.NewQueryParameter("id"), "The id of the new document; generated when absent"),
		"IfMatch":        str(openapi3.NewHeaderParameter("If-Match"), `Write only if the version is one of these strong entity tags ("3", or a list "3", "4"); weak tags never match; * requires existence`),
		"IfNoneMatch":    str(openapi3.NewHeaderParameter("If-None-Match"), "Answer 304 if the current ETag is listed"),
		"IdempotencyKey": str(openapi3.NewHeaderParameter("Idempotency-Key"), "1 to 255 printable ASCII characters; a retry gets the first answer"),
	}
}

// problemCodes are the statuses that have a named problem response.
var problemCodes = []int{400, 401, 403, 404, 409, 412, 413, 415, 422}

// problemResponses are the error responses operations reference.
func problemResponses() openapi3.ResponseBodies {
	problem := func(desc string) *openapi3.ResponseRef {
		r := openapi3.NewResponse().WithDescription(desc)
		r.Content = openapi3.Content{ProblemContentType: &openapi3.MediaType{Schema: schemaRef("Problem")}}
		return &openapi3.ResponseRef{Value: r}
	}
	out := openapi3.ResponseBodies{
		"ProblemDefault": problem("An error (RFC 9457 problem)"),
		"NotModified": {Value: &openapi3.Response{
			Description: new("The representation has not changed"),
			Headers:     openapi3.Headers{"ETag": header("The current version")},
		}},
	}
	for _, c := range problemCodes {
		out[fmt.Sprintf("Problem%d", c)] = problem(http.StatusText(c))
	}
	out["Problem401"].Value.Headers = openapi3.Headers{
		"WWW-Authenticate": header(`The challenge: Bearer realm="basalt", with error="invalid_token" when a credential was rejected`),
	}
	return out
}
