package webhookapi

import (
	"context"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/webhook"
)

// DescribeOpenAPI adds the webhook routes to the OpenAPI document served
// to the caller in ctx (a restapi.OpenAPIDescriber), when the caller may
// use them (auth.ScopeAdminWebhooks).
func DescribeOpenAPI(ctx context.Context, doc *openapi3.T) error {
	if auth.FromContext(ctx).Manage("webhookapi.DescribeOpenAPI", auth.ScopeAdminWebhooks) != nil {
		return nil
	}
	for name, s := range schemas() {
		doc.Components.Schemas[name] = s
	}
	doc.Components.Parameters["WebhookID"] = &openapi3.ParameterRef{Value: openapi3.NewPathParameter("id").
		WithSchema(openapi3.NewStringSchema()).WithDescription("The webhook id")}
	doc.Components.Parameters["DeliveryID"] = &openapi3.ParameterRef{Value: openapi3.NewPathParameter("deliveryId").
		WithSchema(openapi3.NewStringSchema()).WithDescription("The delivery id")}
	doc.Components.Parameters["DeliveriesLimit"] = &openapi3.ParameterRef{Value: openapi3.NewQueryParameter("limit").
		WithSchema(openapi3.NewIntegerSchema().WithMin(1).WithMax(webhook.MaxPageSize)).
		WithDescription("The most deliveries in the page (default 50)")}
	doc.Components.Parameters["DeliveriesCursor"] = &openapi3.ParameterRef{Value: openapi3.NewQueryParameter("cursor").
		WithSchema(openapi3.NewStringSchema()).WithDescription("The nextCursor of the previous page")}

	const tag = "webhooks"
	restapi.AddTag(doc, tag, "Signed HTTP deliveries of change events to registered endpoints (admins)")
	sec := restapi.Bearer()
	ref := restapi.SchemaRef
	noBody := restapi.OptionalJSONBody(ref("WebhookNoParameters"))
	rotation := restapi.OptionalJSONBody(ref("WebhookRotation"))
	doc.Paths.Set(Base, &openapi3.PathItem{
		Get: restapi.Operation("listWebhooks", tag, "List webhooks", "Every webhook, by id, without secrets.",
			sec, nil, restapi.Responses(200, restapi.JSONResponse("The webhooks", ref("WebhookList")), 400, 401, 403)),
		Post: restapi.Operation("createWebhook", tag, "Register a webhook",
			"Registers an endpoint for the events of a collection (or \"*\": every collection) and of some event types "+
				"(none: every type). The URL must be https or http and may not resolve to a loopback, private, link-local, "+
				"metadata or other internal address unless --webhook-allow-networks permits it. The answer carries the "+
				"signing secret this once.",
			sec, restapi.JSONBody(ref("NewWebhook"), restapi.MediaJSON),
			restapi.Responses(201, restapi.JSONResponse("Registered, with its secret", ref("WebhookWithSecret"), "Location"),
				400, 401, 403, 409, 413, 415)),
	})
	doc.Paths.Set(Base+"/{id}", &openapi3.PathItem{Parameters: restapi.Params("WebhookID"),
		Get: restapi.Operation("getWebhook", tag, "Get a webhook", "One webhook, without its secret.",
			sec, nil, restapi.Responses(200, restapi.JSONResponse("The webhook", ref("Webhook")), 400, 401, 403, 404)),
		Patch: restapi.Operation("updateWebhook", tag, "Change a webhook",
			"Sets the members present (a merge patch): URL, event types, description, enabled. A disabled webhook "+
				"gets no new deliveries, and its pending ones fail.",
			sec, restapi.JSONBody(ref("WebhookPatch"), restapi.MediaMergePatch, restapi.MediaJSON),
			restapi.Responses(200, restapi.JSONResponse("The webhook", ref("Webhook")), 400, 401, 403, 404, 413, 415)),
		Delete: restapi.Operation("deleteWebhook", tag, "Delete a webhook", "Deletes the webhook and its deliveries.",
			sec, nil, restapi.Responses(204, restapi.JSONResponse("Deleted", nil), 400, 401, 403, 404)),
	})
	doc.Paths.Set(Base+"/{id}/rotate-secret", &openapi3.PathItem{Parameters: restapi.Params("WebhookID"),
		Post: restapi.Operation("rotateWebhookSecret", tag, "Rotate a webhook's secret",
			"Gives the webhook a new secret, shown this once. Deliveries are signed with it from now on and, for "+
				"keepPreviousSeconds (default one day; 0 after a leak), with the previous secret too: a second "+
				"signature in webhook-signature, so receivers can switch secrets without refusing deliveries.",
			sec, rotation, restapi.Responses(200, restapi.JSONResponse("The webhook and its new secret", ref("WebhookWithSecret")),
				400, 401, 403, 404, 413, 415)),
	})
	doc.Paths.Set(Base+"/{id}/deliveries", &openapi3.PathItem{Parameters: restapi.Params("WebhookID"),
		Get: restapi.Operation("listWebhookDeliveries", tag, "List a webhook's deliveries",
			"One page of deliveries, newest first; pass nextCursor as cursor for the next page (null on the last).",
			sec, nil, restapi.Responses(200, restapi.JSONResponse("One page of deliveries", ref("DeliveryPage")), 400, 401, 403, 404),
			"DeliveriesLimit", "DeliveriesCursor"),
	})
	doc.Paths.Set(Base+"/{id}/deliveries/{deliveryId}", &openapi3.PathItem{
		Parameters: restapi.Params("WebhookID", "DeliveryID"),
		Get: restapi.Operation("getWebhookDelivery", tag, "Get a delivery", "One delivery: its event, status and attempts.",
			sec, nil, restapi.Responses(200, restapi.JSONResponse("The delivery", ref("Delivery")), 400, 401, 403, 404)),
	})
	doc.Paths.Set(Base+"/{id}/deliveries/{deliveryId}/redeliver", &openapi3.PathItem{
		Parameters: restapi.Params("WebhookID", "DeliveryID"),
		Post: restapi.Operation("redeliverWebhookDelivery", tag, "Redeliver",
			"Makes the delivery due now, whatever its status: a new attempt is made at once, retried like any other.",
			sec, noBody, restapi.Responses(202, restapi.JSONResponse("The delivery, pending", ref("Delivery")),
				400, 401, 403, 404, 413, 415)),
	})
	return nil
}

// keepPrevious is the schema of a rotation's keepPreviousSeconds.
func keepPrevious() *openapi3.SchemaRef {
	s := openapi3.NewInt64Schema().WithMin(0).WithMax(float64(webhook.MaxKeepPrevious / time.Second))
	s.Description = "How long the previous secret keeps signing beside the new one (default 86400; 0: not at all)"
	return &openapi3.SchemaRef{Value: s}
}

func schemas() openapi3.Schemas {
	str := restapi.String
	obj := restapi.ClosedObject
	boolean := restapi.Bool
	integer := restapi.Int64
	typ, list := restapi.EventTypes()
	types := restapi.ArrayOf(typ)
	types.Value.Description = "Event types (" + list + "); empty: every type"
	url := str("The endpoint: https or http, not an internal address")
	desc := str("A note for people")
	hookProps := func() openapi3.Schemas {
		return openapi3.Schemas{
			"id": str("The webhook id"), "url": url, "collection": str(`A collection name, or "*"`), "types": types,
			"enabled": boolean("Deliveries are made"), "description": desc,
			"createdAt": restapi.Timestamp(), "updatedAt": restapi.Timestamp(),
			"createdBy": restapi.Nullable(str(""), "The account or API key that registered it"),
			"previousSecretExpiresAt": restapi.Nullable(restapi.Timestamp(),
				"When the secret before the last rotation stops signing; null: it does not sign"),
		}
	}
	hookRequired := []string{"id", "url", "collection", "types", "enabled", "description", "createdAt", "updatedAt", "createdBy",
		"previousSecretExpiresAt"}
	withSecret := hookProps()
	withSecret["secret"] = str("The signing secret, whsec_<base64>, shown this once")
	nullable := func(s *openapi3.SchemaRef, d string) *openapi3.SchemaRef { return restapi.Nullable(s, d) }
	event := restapi.EventSchema("The event id (the webhook-id header)", typ)
	return openapi3.Schemas{
		"NewWebhook": obj([]string{"url", "collection"}, openapi3.Schemas{"url": url,
			"collection": str(`A collection name, or "*" for every collection`), "types": types, "description": desc,
			"enabled": boolean("Deliver at once (default true)")}),
		"WebhookPatch": obj(nil, openapi3.Schemas{"url": url, "types": types, "description": desc,
			"enabled": boolean("Deliver (true) or not (false)")}),
		"WebhookNoParameters": obj(nil, openapi3.Schemas{}),
		"WebhookRotation":     obj(nil, openapi3.Schemas{"keepPreviousSeconds": keepPrevious()}),
		"Webhook":             obj(hookRequired, hookProps()),
		"WebhookWithSecret":   obj(append(hookRequired, "secret"), withSecret),
		"WebhookList":         obj([]string{"items"}, openapi3.Schemas{"items": restapi.ArrayOf(restapi.SchemaRef("Webhook"))}),
		"Delivery": obj([]string{"id", "webhookId", "eventId", "event", "status", "attempts", "nextAttemptAt", "lastStatusCode",
			"lastError", "createdAt", "updatedAt"}, openapi3.Schemas{
			"id": str("The delivery id"), "webhookId": str("The webhook"), "eventId": str("The event"),
			"event":    event,
			"status":   &openapi3.SchemaRef{Value: openapi3.NewStringSchema().WithEnum("pending", "delivering", "succeeded", "failed")},
			"attempts": integer("Attempts made"),
			"nextAttemptAt": nullable(restapi.Timestamp(),
				"When a pending delivery is due (or a delivering one's lease ends); null once finished"),
			"lastStatusCode": nullable(integer(""), "The status of the last answer; null: none (not tried, or no answer)"),
			"lastError":      nullable(str(""), "Why the last attempt failed; null after a success"),
			"createdAt":      restapi.Timestamp(), "updatedAt": restapi.Timestamp(),
		}),
		"DeliveryPage": obj([]string{"items", "nextCursor"}, openapi3.Schemas{
			"items":      restapi.ArrayOf(restapi.SchemaRef("Delivery")),
			"nextCursor": restapi.Nullable(str(""), "Pass as cursor to get the next page; null on the last page")}),
	}
}
