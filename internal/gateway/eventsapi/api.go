// Package eventsapi is the REST transport of the operators' view of the
// change events (consumer.Admin): the consumers' positions, lag and dead
// letters, under /v1/admin. Like the other transports it is thin: each
// handler decodes the request within bounds, calls one consumer.Admin
// method and encodes the answer; the service decides who may (the
// admin:events scope), and every error is an RFC 9457 problem.
package eventsapi

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/jsonvalue"
)

// The routes' paths.
const (
	ConsumersPath   = "/v1/admin/consumers"
	DeadLettersPath = "/v1/admin/dead-letters"
)

// maxBodyBytes bounds the bodies accepted (none, or {}).
const maxBodyBytes = 1 << 10

// API serves the routes over the operators' view.
type API struct {
	admin  *consumer.Admin
	auth   auth.Authenticator
	resp   *restapi.Responder
	limits restapi.Limits
}

// New returns the API; authn says who the caller is.
func New(admin *consumer.Admin, authn auth.Authenticator, log *slog.Logger) *API {
	return &API{admin: admin, auth: authn, resp: restapi.NewResponder("eventsapi", log)}
}

func (a *API) routes() []restapi.Route {
	const one = DeadLettersPath + "/{id}"
	return []restapi.Route{
		{Method: "GET", Path: ConsumersPath, Handler: a.consumers},
		{Method: "GET", Path: DeadLettersPath, Handler: a.listDeadLetters},
		{Method: "GET", Path: one, Handler: a.getDeadLetter},
		{Method: "DELETE", Path: one, Handler: a.deleteDeadLetter},
		{Method: "POST", Path: one + "/retry", Handler: a.retryDeadLetter},
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
// their paths.
func (a *API) Register(mux *http.ServeMux) {
	routes := a.routes()
	for i, rt := range routes {
		routes[i].Handler = a.resp.Guard(rt.Method+" "+rt.Path, a.limits, a.auth, restapi.NoStore(rt.Handler)).ServeHTTP
	}
	restapi.RegisterRoutes(mux, routes, nil)
}

// consumers serves GET /v1/admin/consumers: {"items":[consumer…],"log":{…}}.
func (a *API) consumers(w http.ResponseWriter, r *http.Request) {
	if err := restapi.NoInput(r); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	list, err := a.admin.Consumers(r.Context())
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	log, err := a.admin.Log(r.Context())
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, ViewConsumers(list, log))
}

// listDeadLetters serves GET /v1/admin/dead-letters?consumer=&after=&limit=:
// {"items":[dead letter…],"nextCursor":…} in id order.
func (a *API) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	q, err := restapi.ParseQuery(r, "consumer", "after", "limit")
	if err == nil {
		err = restapi.RejectBody(r)
	}
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	var after int64
	if q.Has("after") {
		n, err := strconv.ParseInt(q.Get("after"), 10, 64)
		if err != nil || n < 0 {
			a.resp.WriteProblem(w, r, restapi.BadRequest("after must be the nextCursor of a previous page"))
			return
		}
		after = n
	}
	limit, err := restapi.PageLimit(q, consumer.MaxPageSize)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	list, next, err := a.admin.ListDeadLetters(r.Context(), q.Get("consumer"), after, limit)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	page := deadLetterPage{Items: make([]deadLetterView, 0, len(list))}
	for _, d := range list {
		page.Items = append(page.Items, viewDeadLetter(d))
	}
	if next != 0 {
		s := strconv.FormatInt(next, 10)
		page.NextCursor = &s
	}
	a.resp.WriteJSON(w, r, http.StatusOK, page)
}

// getDeadLetter serves GET /v1/admin/dead-letters/{id}.
func (a *API) getDeadLetter(w http.ResponseWriter, r *http.Request) {
	id, err := deadLetterID(r)
	if err == nil {
		err = restapi.NoInput(r)
	}
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	d, err := a.admin.GetDeadLetter(r.Context(), id)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, viewDeadLetter(d))
}

// retryDeadLetter serves POST /v1/admin/dead-letters/{id}/retry (no body,
// or {}) → 202 with the dead letter, marked for retry.
func (a *API) retryDeadLetter(w http.ResponseWriter, r *http.Request) {
	id, err := deadLetterID(r)
	if err == nil {
		err = readEmpty(w, r)
	}
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	d, err := a.admin.RetryDeadLetter(r.Context(), id)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusAccepted, viewDeadLetter(d))
}

// deleteDeadLetter serves DELETE /v1/admin/dead-letters/{id} → 204.
func (a *API) deleteDeadLetter(w http.ResponseWriter, r *http.Request) {
	id, err := deadLetterID(r)
	if err == nil {
		err = restapi.NoInput(r)
	}
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	if err := a.admin.DeleteDeadLetter(r.Context(), id); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deadLetterID reads the {id} of the path. An id that is not a positive
// integer names no dead letter: 404, like a missing one.
func deadLetterID(r *http.Request) (int64, error) {
	s, err := restapi.PathValue(r, "id")
	if err != nil {
		return 0, err
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, fault.New(fault.NotFound, "eventsapi.deadLetterID", "no such dead letter")
	}
	return id, nil
}

// readEmpty accepts no query parameters and no body, or an empty JSON
// object.
func readEmpty(w http.ResponseWriter, r *http.Request) error {
	if _, err := restapi.ParseQuery(r); err != nil {
		return err
	}
	o, err := restapi.ReadOptionalBodyObject(w, r, maxBodyBytes, jsonvalue.Limits{MaxDepth: 1, MaxString: 64, MaxMembers: 1})
	if err != nil {
		return err
	}
	if o.Done() != nil { // a member: none is asked for
		return restapi.BadRequest("this request takes no parameters: send no body, or {}")
	}
	return nil
}
