package restapi

import (
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/eventbus"
)

// Params references the named component parameters, such as the path
// parameters of a path item.
func Params(names ...string) openapi3.Parameters {
	return params(names...)
}

// Int64 is a 64-bit integer schema.
func Int64(desc string) *openapi3.SchemaRef {
	s := openapi3.NewInt64Schema()
	s.Description = desc
	return &openapi3.SchemaRef{Value: s}
}

// Bool is a boolean schema.
func Bool(desc string) *openapi3.SchemaRef {
	s := openapi3.NewBoolSchema()
	s.Description = desc
	return &openapi3.SchemaRef{Value: s}
}

// ClosedObject is an object schema with the given properties and no other
// members: the shape of the requests and answers of the transports whose
// bodies are read with BodyObject.
func ClosedObject(required []string, props openapi3.Schemas) *openapi3.SchemaRef {
	return Object(required, props, true)
}

// EventTypes is the string schema of a change event's type (an enum of
// eventbus.Types), without a description, and the types joined with ", "
// for one.
func EventTypes() (*openapi3.SchemaRef, string) {
	var names []any
	var list []string
	for _, t := range eventbus.Types() {
		names = append(names, string(t))
		list = append(list, string(t))
	}
	return &openapi3.SchemaRef{Value: openapi3.NewStringSchema().WithEnum(names...)}, strings.Join(list, ", ")
}

// EventSchema is a change event as the admin views show it: its envelope
// without the payload, its id described as idDesc and its type as typ.
func EventSchema(idDesc string, typ *openapi3.SchemaRef) *openapi3.SchemaRef {
	return ClosedObject([]string{"id", "type", "collection", "version", "time", "position"}, openapi3.Schemas{
		"id": String(idDesc), "type": typ, "collection": String("The collection"),
		"documentId": String("The document; absent for collection events"), "version": Int64("The version the write produced"),
		"time": Timestamp(), "batchId": String("The batch of a POST /v1/batch"),
		"position": Int64("The event's position in the log"),
	})
}
