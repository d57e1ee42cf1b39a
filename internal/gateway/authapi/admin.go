package authapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
)

// The /v1/admin routes: accounts, sessions, API keys and signing keys. The
// service answers 401 to anonymous callers and 403 to callers who are not
// admins.

// accountLocation is the path of one account.
func accountLocation(id string) string {
	return adminBase + "/accounts/" + url.PathEscape(id)
}

// listAccounts serves GET /v1/admin/accounts?limit=&cursor=:
// {"items":[account…],"nextCursor":…} by ID. nextCursor is null on the
// last page; otherwise it is passed as cursor to get the next one.
func (a *API) listAccounts(w http.ResponseWriter, r *http.Request) {
	q, err := restapi.ParseQuery(r, "limit", "cursor", "email")
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	limit := 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			a.resp.WriteProblem(w, r, restapi.BadRequest("limit must be a positive integer"))
			return
		}
		limit = n
	}
	cursor := q.Get("cursor")
	if q.Has("cursor") && (cursor == "" || len(cursor) > restapi.MaxPathValue) {
		a.resp.WriteProblem(w, r, restapi.BadRequest("cursor must be the nextCursor of a previous page"))
		return
	}
	accts, err := a.svc.ListAccounts(r.Context(), accounts.AccountQuery{After: cursor, Limit: limit, Email: q.Get("email")})
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	page := pageView[accountView]{Items: mapSlice(accts.Items, viewAccount)}
	if accts.Next != "" {
		page.NextCursor = &accts.Next
	}
	a.resp.WriteJSON(w, r, http.StatusOK, page)
}

// createAccount serves POST /v1/admin/accounts:
// {"email","password","roles","verified"} → 201 with the account and its
// Location.
func (a *API) createAccount(w http.ResponseWriter, r *http.Request) {
	body, err := a.read(w, r)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	n := accounts.NewAccount{Email: body.Str("email"), Password: body.Str("password")}
	n.Roles, _ = body.StrList("roles")
	n.Verified, _ = body.Boolean("verified")
	if err := body.Done(); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	acct, err := a.svc.CreateAccount(r.Context(), n)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	w.Header().Set("Location", accountLocation(acct.ID))
	a.resp.WriteJSON(w, r, http.StatusCreated, viewAccount(acct))
}

// createInvite serves POST /v1/admin/invites: {"email","roles"} → 202
// with the invitation ({"email","roles","expiresAt"}); the token goes to
// the address by mail only.
func (a *API) createInvite(w http.ResponseWriter, r *http.Request) {
	body, err := a.read(w, r)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	req := accounts.InviteRequest{Email: body.Str("email")}
	req.Roles, _ = body.StrList("roles")
	if err := body.Done(); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	inv, err := a.svc.Invite(r.Context(), req)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusAccepted, viewInvite(inv))
}

// getAccount serves GET /v1/admin/accounts/{id}.
func (a *API) getAccount(w http.ResponseWriter, r *http.Request) {
	id, err := restapi.PathTarget(r, "id")
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	acct, err := a.svc.GetAccount(r.Context(), id)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, viewAccount(acct))
}

// updateAccount serves PATCH /v1/admin/accounts/{id}: {"disabled","roles","verified"}
// (application/merge-patch+json or application/json; absent members stay)
// → 200 with the account.
func (a *API) updateAccount(w http.ResponseWriter, r *http.Request) {
	id, err := restapi.PathValue(r, "id")
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	if _, err := restapi.ParseQuery(r); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	body, err := readObject(w, r, a.opts.MaxBodyBytes, true)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	var u accounts.AccountUpdate
	if d, ok := body.Boolean("disabled"); ok {
		u.Disabled = &d
	}
	if roles, ok := body.StrList("roles"); ok {
		u.Roles = &roles
	}
	if v, ok := body.Boolean("verified"); ok {
		u.Verified = &v
	}
	if err := body.Done(); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	acct, err := a.svc.UpdateAccount(r.Context(), id, u)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, viewAccount(acct))
}

// deleteAccount serves DELETE /v1/admin/accounts/{id} → 204.
func (a *API) deleteAccount(w http.ResponseWriter, r *http.Request) {
	id, err := restapi.PathTarget(r, "id")
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	if err := a.svc.DeleteAccount(r.Context(), id); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// accountSessions serves GET /v1/admin/accounts/{id}/sessions:
// {"items":[session…]}, newest first.
func (a *API) accountSessions(w http.ResponseWriter, r *http.Request) {
	id, err := restapi.PathTarget(r, "id")
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	ss, err := a.svc.AccountSessions(r.Context(), id)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, itemsView[sessionView]{Items: viewSessions(ss, auth.FromContext(r.Context()).SessionID)})
}

// listAPIKeys serves GET /v1/admin/api-keys: {"items":[API key…]}, without
// their secrets.
func (a *API) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	if _, err := restapi.ParseQuery(r); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	keys, err := a.svc.ListAPIKeys(r.Context())
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, itemsView[apiKeyView]{Items: mapSlice(keys, viewAPIKey)})
}

// createAPIKey serves POST /v1/admin/api-keys:
// {"name","scopes","roles","expiresAt"} → 201 with the key and, this once,
// its secret in "key".
func (a *API) createAPIKey(w http.ResponseWriter, r *http.Request) {
	body, err := a.read(w, r)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	spec := accounts.APIKeySpec{Name: body.Str("name")}
	spec.Scopes, _ = body.StrList("scopes")
	spec.Roles, _ = body.StrList("roles")
	spec.ExpiresAt = body.Timestamp("expiresAt")
	if err := body.Done(); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	k, secret, err := a.svc.CreateAPIKey(r.Context(), spec)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusCreated, newAPIKeyView{apiKeyView: viewAPIKey(k), Key: secret})
}

// revokeAPIKey serves DELETE /v1/admin/api-keys/{id} → 204. The key stays
// listed, with revokedAt.
func (a *API) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	a.revoke(w, r, a.svc.RevokeAPIKey)
}

// listSigningKeys serves GET /v1/admin/keys: {"items":[signing key…]},
// oldest first, without private keys.
func (a *API) listSigningKeys(w http.ResponseWriter, r *http.Request) {
	if _, err := restapi.ParseQuery(r); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	keys, err := a.svc.ListSigningKeys(r.Context())
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, itemsView[signingKeyView]{Items: mapSlice(keys, viewSigningKey)})
}

// rotateKeys serves POST /v1/admin/keys/rotate (no body, or {}) → 201 with
// the new signing key, which signs once every process has loaded it.
func (a *API) rotateKeys(w http.ResponseWriter, r *http.Request) {
	if err := a.readEmpty(w, r); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	k, err := a.svc.RotateKeys(r.Context())
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusCreated, viewSigningKey(k))
}
