package e2e

import "github.com/basaltdev/basalt/internal/auth"

// eventsAdminRows are the rows of the operators' routes of the event
// consumers. No dead letter exists on the table's server: the callers
// admitted learn that (404), the others learn nothing.
func eventsAdminRows() []authzRow {
	const letters = "/v1/admin/dead-letters"
	const missing = letters + "/999999"
	return []authzRow{
		{route: "GET /v1/admin/consumers", req: fixed("GET", "/v1/admin/consumers", ""), want: manage(200, auth.ScopeAdminEvents)},
		{route: "GET " + letters, req: fixed("GET", letters+"?limit=10", ""), want: manage(200, auth.ScopeAdminEvents)},
		{route: "GET " + letters + "/{id}", req: fixed("GET", missing, ""), want: manage(404, auth.ScopeAdminEvents)},
		{route: "DELETE " + letters + "/{id}", req: fixed("DELETE", missing, ""), want: manage(404, auth.ScopeAdminEvents)},
		{route: "POST " + letters + "/{id}/retry", req: fixed("POST", missing+"/retry", ""), want: manage(404, auth.ScopeAdminEvents)},
	}
}
