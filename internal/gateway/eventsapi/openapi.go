package eventsapi

import (
	"context"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
)

// DescribeOpenAPI adds the routes to the OpenAPI document served to the
// caller in ctx (a restapi.OpenAPIDescriber), when the caller may use them
// (auth.ScopeAdminEvents).
func DescribeOpenAPI(ctx context.Context, doc *openapi3.T) error {
	if auth.FromContext(ctx).Manage("eventsapi.DescribeOpenAPI", auth.ScopeAdminEvents) != nil {
		return nil
	}
	for name, s := range schemas() {
		doc.Components.Schemas[name] = s
	}
	doc.Components.Parameters["DeadLetterID"] = &openapi3.ParameterRef{Value: openapi3.NewPathParameter("id").
		WithSchema(openapi3.NewInt64Schema().WithMin(1)).WithDescription("The dead letter id")}
	doc.Components.Parameters["DeadLettersConsumer"] = &openapi3.ParameterRef{Value: openapi3.NewQueryParameter("consumer").
		WithSchema(openapi3.NewStringSchema()).WithDescription("Only this consumer's dead letters (default: every consumer's)")}
	doc.Components.Parameters["DeadLettersAfter"] = &openapi3.ParameterRef{Value: openapi3.NewQueryParameter("after").
		WithSchema(openapi3.NewStringSchema()).WithDescription("The nextCursor of the previous page")}
	doc.Components.Parameters["DeadLettersLimit"] = &openapi3.ParameterRef{Value: openapi3.NewQueryParameter("limit").
		WithSchema(openapi3.NewIntegerSchema().WithMin(1).WithMax(consumer.MaxPageSize)).
		WithDescription("The most dead letters in the page (default 50)")}

	const tag = "events"
	restapi.AddTag(doc, tag, "The change-event consumers: positions, lag and dead letters (admins)")
	sec := restapi.Bearer()
	ref := restapi.SchemaRef
	doc.Paths.Set(ConsumersPath, &openapi3.PathItem{
		Get: restapi.Operation("listConsumers", tag, "List the event consumers",
			"Every consumer of the change events (the relay first, which publishes the log to the bus) with the position "+
				"it acknowledged, its lag and its dead letters; and the event log's size and bounds.",
			sec, nil, restapi.Responses(200, restapi.JSONResponse("The consumers and the log", ref("ConsumerList")), 400, 401, 403)),
	})
	doc.Paths.Set(DeadLettersPath, &openapi3.PathItem{
		Get: restapi.Operation("listDeadLetters", tag, "List dead letters",
			"Events a consumer's handler failed on too many times, set aside so its other documents go on; one page in id "+
				"order; pass nextCursor as after for the next page (null on the last).",
			sec, nil, restapi.Responses(200, restapi.JSONResponse("One page of dead letters", ref("DeadLetterPage")), 400, 401, 403),
			"DeadLettersConsumer", "DeadLettersAfter", "DeadLettersLimit"),
	})
	doc.Paths.Set(DeadLettersPath+"/{id}", &openapi3.PathItem{Parameters: restapi.Params("DeadLetterID"),
		Get: restapi.Operation("getDeadLetter", tag, "Get a dead letter", "One dead letter: its event (without payload), last error and attempts.",
			sec, nil, restapi.Responses(200, restapi.JSONResponse("The dead letter", ref("DeadLetter")), 400, 401, 403, 404)),
		Delete: restapi.Operation("deleteDeadLetter", tag, "Discard a dead letter",
			"Deletes the dead letter: its consumer never handles the event.",
			sec, nil, restapi.Responses(204, restapi.JSONResponse("Deleted", nil), 400, 401, 403, 404)),
	})
	doc.Paths.Set(DeadLettersPath+"/{id}/retry", &openapi3.PathItem{Parameters: restapi.Params("DeadLetterID"),
		Post: restapi.Operation("retryDeadLetter", tag, "Retry a dead letter",
			"Marks the dead letter for retry: its consumer hands the event to its handler again within seconds, deletes the "+
				"dead letter on success, and otherwise records the error and one more attempt and clears the mark.",
			sec, restapi.OptionalJSONBody(ref("DeadLetterNoParameters")),
			restapi.Responses(202, restapi.JSONResponse("The dead letter, marked for retry", ref("DeadLetter")),
				400, 401, 403, 404, 413, 415)),
	})
	return nil
}

func schemas() openapi3.Schemas {
	str := restapi.String
	obj := restapi.ClosedObject
	integer := restapi.Int64
	typ, list := restapi.EventTypes()
	typ.Value.Description = "The event type (" + list + ")"
	event := restapi.EventSchema("The event id", typ)
	return openapi3.Schemas{
		"Consumer": obj([]string{"name", "position", "lag", "deadLetters"}, openapi3.Schemas{
			"name":        str(`The consumer's name; "relay" is the relay`),
			"position":    restapi.Nullable(integer(""), "The last position it acknowledged; null when it stored none (new, or on Kafka)"),
			"lag":         integer("Events it has not acknowledged yet"),
			"deadLetters": integer("Its dead letters"),
		}),
		"EventLog": obj([]string{"events", "bytes", "newest", "trimmed"}, openapi3.Schemas{
			"events": integer("Events the log holds"), "bytes": integer("Their payloads' size"),
			"newest": integer("The highest position given"), "trimmed": integer("Every position up to this one was deleted (retention)"),
		}),
		"ConsumerList": obj([]string{"items", "log"}, openapi3.Schemas{
			"items": restapi.ArrayOf(ref("Consumer")), "log": ref("EventLog")}),
		"DeadLetter": obj([]string{"id", "consumer", "event", "error", "attempts", "retry", "createdAt", "updatedAt"}, openapi3.Schemas{
			"id": integer("The dead letter id"), "consumer": str("The consumer whose handler failed"),
			"event": event, "error": str("The handler's last error"), "attempts": integer("Handler calls made"),
			"retry": restapi.Bool("An administrator asked for a retry, not made yet"), "createdAt": restapi.Timestamp(), "updatedAt": restapi.Timestamp(),
		}),
		"DeadLetterPage": obj([]string{"items", "nextCursor"}, openapi3.Schemas{
			"items":      restapi.ArrayOf(ref("DeadLetter")),
			"nextCursor": restapi.Nullable(str(""), "Pass as after to get the next page; null on the last page")}),
		"DeadLetterNoParameters": obj(nil, openapi3.Schemas{}),
	}
}

func ref(name string) *openapi3.SchemaRef { return restapi.SchemaRef(name) }
