// Package webhookapi is the REST transport of the webhook service: the
// /v1/admin/webhooks routes. Like restapi and authapi it is thin: each
// handler decodes the request strictly and within bounds (with restapi's
// shared plumbing), calls one webhook.Service method and encodes the
// answer; the service decides who may do what, and every error is an
// RFC 9457 problem.
package webhookapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/jsonvalue"
	"github.com/basaltdev/basalt/internal/webhook"
)

// maxBodyBytes bounds request bodies: a URL, a description and a list of
// event types.
const maxBodyBytes = 16 << 10

// Base is the path of the webhooks.
const Base = "/v1/admin/webhooks"

// API serves the webhook routes over a webhook service.
type API struct {
	svc    *webhook.Service
	auth   auth.Authenticator
	resp   *restapi.Responder
	limits restapi.Limits
}

// New returns the webhook API; authn says who the caller is.
func New(svc *webhook.Service, authn auth.Authenticator, log *slog.Logger) *API {
	return &API{svc: svc, auth: authn, resp: restapi.NewResponder("webhookapi", log)}
}

func (a *API) routes() []restapi.Route {
	const (
		one        = Base + "/{id}"
		deliveries = one + "/deliveries"
	)
	return []restapi.Route{
		{Method: "GET", Path: Base, Handler: a.list},
		{Method: "POST", Path: Base, Handler: a.create},
		{Method: "GET", Path: one, Handler: a.get},
		{Method: "PATCH", Path: one, Handler: a.update},
		{Method: "DELETE", Path: one, Handler: a.remove},
		{Method: "POST", Path: one + "/rotate-secret", Handler: a.rotate},
		{Method: "GET", Path: deliveries, Handler: a.listDeliveries},
		{Method: "GET", Path: deliveries + "/{deliveryId}", Handler: a.getDelivery},
		{Method: "POST", Path: deliveries + "/{deliveryId}/redeliver", Handler: a.redeliver},
	}
}

// RoutePatterns returns the pattern ("METHOD /path") of every route.
func RoutePatterns() []string {
	return restapi.Patterns((&API{}).routes())
}

// WithLimits puts every route behind the API-wide rate limits lim (see
// restapi.Responder.Guard) and returns a.
func (a *API) WithLimits(lim restapi.Limits) *API {
	a.limits = lim
	return a
}

// Register adds the routes to mux, each behind the rate limits and bearer
// authentication, with a 405 problem (and Allow) for other methods on
// their paths. Answers carry Cache-Control: no-store (secrets, delivery
// records).
func (a *API) Register(mux *http.ServeMux) {
	routes := a.routes()
	for i, rt := range routes {
		routes[i].Handler = a.resp.Guard(rt.Method+" "+rt.Path, a.limits, a.auth, restapi.NoStore(rt.Handler)).ServeHTTP
	}
	restapi.RegisterRoutes(mux, routes, nil)
}

// list serves GET /v1/admin/webhooks: {"items":[webhook…]}, without
// secrets.
func (a *API) list(w http.ResponseWriter, r *http.Request) {
	if _, err := restapi.ParseQuery(r); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	hooks, err := a.svc.List(r.Context())
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	items := make([]webhookView, 0, len(hooks))
	for _, h := range hooks {
		items = append(items, viewWebhook(h))
	}
	a.resp.WriteJSON(w, r, http.StatusOK, itemsView[webhookView]{Items: items})
}

// create serves POST /v1/admin/webhooks:
// {"url","collection","types","description","enabled"} → 201 with the
// webhook and, this once, its secret.
func (a *API) create(w http.ResponseWriter, r *http.Request) {
	body, err := a.read(w, r, false)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	n := webhook.NewWebhook{URL: body.Str("url"), Collection: body.Str("collection"), Description: body.Str("description")}
	n.Types, _ = body.StrList("types")
	if b, ok := body.Boolean("enabled"); ok {
		n.Enabled = &b
	}
	if err := body.Done(); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	hook, err := a.svc.Create(r.Context(), n)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	w.Header().Set("Location", Base+"/"+hook.ID)
	a.resp.WriteJSON(w, r, http.StatusCreated, newWebhookView{webhookView: viewWebhook(hook), Secret: hook.Secret})
}

// get serves GET /v1/admin/webhooks/{id}.
func (a *API) get(w http.ResponseWriter, r *http.Request) {
	id, err := restapi.PathTarget(r, "id")
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	hook, err := a.svc.Get(r.Context(), id)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, viewWebhook(hook))
}

// update serves PATCH /v1/admin/webhooks/{id}:
// {"url","types","description","enabled"} (a merge patch: absent members
// stay) → 200 with the webhook.
func (a *API) update(w http.ResponseWriter, r *http.Request) {
	id, err := restapi.PathValue(r, "id")
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	body, err := a.read(w, r, true)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	var u webhook.Update
	if body.Has("url") {
		s := body.Str("url")
		u.URL = &s
	}
	if body.Has("description") {
		s := body.Str("description")
		u.Description = &s
	}
	if types, ok := body.StrList("types"); ok {
		u.Types = &types
	}
	if b, ok := body.Boolean("enabled"); ok {
		u.Enabled = &b
	}
	if err := body.Done(); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	hook, err := a.svc.Update(r.Context(), id, u)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, viewWebhook(hook))
}

// remove serves DELETE /v1/admin/webhooks/{id} → 204.
func (a *API) remove(w http.ResponseWriter, r *http.Request) {
	id, err := restapi.PathTarget(r, "id")
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	if err := a.svc.Delete(r.Context(), id); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// rotate serves POST /v1/admin/webhooks/{id}/rotate-secret (no body, or
// {"keepPreviousSeconds": n}, default one day) → 200 with the webhook and
// its new secret.
func (a *API) rotate(w http.ResponseWriter, r *http.Request) {
	id, err := restapi.PathValue(r, "id")
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	body, err := a.readOptional(w, r)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	keep := webhook.DefaultKeepPrevious
	if n, ok := body.Integer("keepPreviousSeconds"); ok {
		keep = time.Duration(n) * time.Second
		if n < 0 || n > int64(webhook.MaxKeepPrevious/time.Second) {
			keep = -1 // the service says what is wrong
		}
	}
	if err := body.Done(); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	hook, err := a.svc.RotateSecret(r.Context(), id, keep)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, newWebhookView{webhookView: viewWebhook(hook), Secret: hook.Secret})
}

// listDeliveries serves GET /v1/admin/webhooks/{id}/deliveries?limit=&cursor=:
// {"items":[delivery…],"nextCursor":…}, newest first.
func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request) {
	id, err := restapi.PathValue(r, "id")
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	q, err := restapi.ParseQuery(r, "limit", "cursor")
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	limit, err := restapi.PageLimit(q, webhook.MaxPageSize)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	cursor := q.Get("cursor")
	if q.Has("cursor") && (cursor == "" || len(cursor) > restapi.MaxPathValue) {
		a.resp.WriteProblem(w, r, restapi.BadRequest("cursor must be the nextCursor of a previous page"))
		return
	}
	if err := restapi.RejectBody(r); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	ds, next, err := a.svc.ListDeliveries(r.Context(), id, cursor, limit)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	page := deliveryPage{Items: make([]deliveryView, 0, len(ds))}
	for _, d := range ds {
		page.Items = append(page.Items, viewDelivery(d))
	}
	if next != "" {
		page.NextCursor = &next
	}
	a.resp.WriteJSON(w, r, http.StatusOK, page)
}

// getDelivery serves GET /v1/admin/webhooks/{id}/deliveries/{deliveryId}.
func (a *API) getDelivery(w http.ResponseWriter, r *http.Request) {
	hookID, id, err := deliveryTarget(r)
	if err == nil {
		err = restapi.NoInput(r)
	}
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	d, err := a.svc.GetDelivery(r.Context(), hookID, id)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, viewDelivery(d))
}

// redeliver serves POST …/deliveries/{deliveryId}/redeliver (no body, or
// {}) → 202 with the delivery, pending and due now.
func (a *API) redeliver(w http.ResponseWriter, r *http.Request) {
	hookID, id, err := deliveryTarget(r)
	if err == nil {
		err = a.readEmpty(w, r)
	}
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	d, err := a.svc.Redeliver(r.Context(), hookID, id)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusAccepted, viewDelivery(d))
}

func deliveryTarget(r *http.Request) (hookID, id string, err error) {
	if hookID, err = restapi.PathValue(r, "id"); err != nil {
		return "", "", err
	}
	id, err = restapi.PathValue(r, "deliveryId")
	return hookID, id, err
}

// bodyLimits bound the structure of request bodies.
var bodyLimits = jsonvalue.Limits{MaxDepth: 3, MaxString: 4 << 10, MaxMembers: 64}

// read checks the query (none) and the media type, and decodes the body
// as one JSON object; mergePatch also accepts application/merge-patch+json.
func (a *API) read(w http.ResponseWriter, r *http.Request, mergePatch bool) (*restapi.BodyObject, error) {
	if _, err := restapi.ParseQuery(r); err != nil {
		return nil, err
	}
	return restapi.ReadBodyObject(w, r, maxBodyBytes, bodyLimits, mergePatch)
}

// readOptional reads an optional JSON object: no body reads as {}.
func (a *API) readOptional(w http.ResponseWriter, r *http.Request) (*restapi.BodyObject, error) {
	if _, err := restapi.ParseQuery(r); err != nil {
		return nil, err
	}
	return restapi.ReadOptionalBodyObject(w, r, maxBodyBytes, bodyLimits)
}

// readEmpty accepts no body, or an empty JSON object.
func (a *API) readEmpty(w http.ResponseWriter, r *http.Request) error {
	o, err := a.readOptional(w, r)
	if err != nil {
		return err
	}
	return o.Done()
}
