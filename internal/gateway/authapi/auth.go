package authapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
)

// The /v1/auth routes: what a user does with their own account.

// signUp serves POST /v1/auth/signup: {"email","password","invite"} → 202
// without a body, whether or not the address already has an account; 403
// when the sign-up mode or the invitation refuses it.
func (a *API) signUp(w http.ResponseWriter, r *http.Request) {
	body, err := a.read(w, r)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	req := accounts.SignUpRequest{
		Email:    body.Str("email"),
		Password: body.Str("password"),
		Invite:   body.Str("invite"),
		IP:       ClientIP(r, a.opts.TrustedProxies),
	}
	if err := body.Done(); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	if err := a.svc.SignUp(r.Context(), req); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// login serves POST /v1/auth/login: {"email","password","device"} → 200
// with the tokens and the new session.
func (a *API) login(w http.ResponseWriter, r *http.Request) {
	body, err := a.read(w, r)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	req := accounts.LoginRequest{
		Email:     body.Str("email"),
		Password:  body.Str("password"),
		Device:    body.Str("device"),
		UserAgent: UserAgent(r),
		IP:        ClientIP(r, a.opts.TrustedProxies),
	}
	if err := body.Done(); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	t, err := a.svc.Login(r.Context(), req)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, viewTokens(t))
}

// refresh serves POST /v1/auth/refresh: {"refreshToken"} → 200 with the
// successor tokens.
func (a *API) refresh(w http.ResponseWriter, r *http.Request) {
	body, err := a.read(w, r)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	req := accounts.RefreshRequest{
		RefreshToken: body.Str("refreshToken"),
		UserAgent:    UserAgent(r),
		IP:           ClientIP(r, a.opts.TrustedProxies),
	}
	if err := body.Done(); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	t, err := a.svc.Refresh(r.Context(), req)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, viewTokens(t))
}

// logout serves POST /v1/auth/logout (no body, or {}) → 204: the caller's
// session ends.
func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.readEmpty(w, r); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	if err := a.svc.Logout(r.Context()); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// me serves GET /v1/auth/me: the caller's account.
func (a *API) me(w http.ResponseWriter, r *http.Request) {
	if _, err := restapi.ParseQuery(r); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	acct, err := a.svc.Me(r.Context())
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, viewAccount(acct))
}

// deleteMe serves DELETE /v1/auth/me: {"password"} → 204; the account and
// its sessions are gone.
func (a *API) deleteMe(w http.ResponseWriter, r *http.Request) {
	body, err := a.read(w, r)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	pw := body.Str("password")
	if err := body.Done(); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	if err := a.svc.DeleteMe(r.Context(), pw); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// sessions serves GET /v1/auth/sessions: {"items":[session…]}, the
// caller's sessions; "current" marks the one the request was made in.
func (a *API) sessions(w http.ResponseWriter, r *http.Request) {
	if _, err := restapi.ParseQuery(r); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	ss, err := a.svc.Sessions(r.Context())
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, itemsView[sessionView]{Items: viewSessions(ss, auth.FromContext(r.Context()).SessionID)})
}

// revokeSession serves DELETE /v1/auth/sessions/{id} → 204: one of the
// caller's own sessions.
func (a *API) revokeSession(w http.ResponseWriter, r *http.Request) {
	a.revoke(w, r, a.svc.RevokeSession)
}

// revokeAnySession serves DELETE /v1/admin/sessions/{id} → 204: any
// account's session, for admins.
func (a *API) revokeAnySession(w http.ResponseWriter, r *http.Request) {
	a.revoke(w, r, a.svc.RevokeAnySession)
}

// revoke answers a DELETE of the {id} in the path with revoke's verdict:
// 204 or a problem.
func (a *API) revoke(w http.ResponseWriter, r *http.Request, revoke func(context.Context, string) error) {
	id, err := restapi.PathTarget(r, "id")
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	if err := revoke(r.Context(), id); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// changePassword serves POST /v1/auth/password:
// {"currentPassword","newPassword"} → 204.
func (a *API) changePassword(w http.ResponseWriter, r *http.Request) {
	body, err := a.read(w, r)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	req := accounts.ChangePasswordRequest{
		CurrentPassword: body.Str("currentPassword"),
		NewPassword:     body.Str("newPassword"),
	}
	if err := body.Done(); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	if err := a.svc.ChangePassword(r.Context(), req); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// requestPasswordReset serves POST /v1/auth/password/reset: {"email"} →
// 202, whether or not the address has an account.
func (a *API) requestPasswordReset(w http.ResponseWriter, r *http.Request) {
	body, err := a.read(w, r)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	email := body.Str("email")
	if err := body.Done(); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	if err := a.svc.RequestPasswordReset(r.Context(), email); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// resetPassword serves POST /v1/auth/password/reset/confirm:
// {"token","newPassword"} → 204.
func (a *API) resetPassword(w http.ResponseWriter, r *http.Request) {
	body, err := a.read(w, r)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	req := accounts.ResetPasswordRequest{Token: body.Str("token"), NewPassword: body.Str("newPassword"),
		IP: ClientIP(r, a.opts.TrustedProxies)}
	if err := body.Done(); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	if err := a.svc.ResetPassword(r.Context(), req); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// requestVerification serves POST /v1/auth/verify/request (no body, or
// {}) → 202: a verification message is on its way to the caller.
func (a *API) requestVerification(w http.ResponseWriter, r *http.Request) {
	if err := a.readEmpty(w, r); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	if err := a.svc.RequestVerification(r.Context()); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// verifyEmail serves POST /v1/auth/verify: {"token"} → 204.
func (a *API) verifyEmail(w http.ResponseWriter, r *http.Request) {
	body, err := a.read(w, r)
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	tok := body.Str("token")
	if err := body.Done(); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	if err := a.svc.VerifyEmail(r.Context(), tok); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// jwks serves GET /.well-known/jwks.json: the public keys that verify
// access tokens, cacheable for a minute (a new key is published before it
// signs).
func (a *API) jwks(w http.ResponseWriter, r *http.Request) {
	if _, err := restapi.ParseQuery(r); err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	doc, err := a.svc.JWKS(r.Context())
	if err != nil {
		a.resp.WriteProblem(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=60")
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(doc)
	}
}

// read reads the JSON object body of r (see readObject).
func (a *API) read(w http.ResponseWriter, r *http.Request) (*restapi.BodyObject, error) {
	if _, err := restapi.ParseQuery(r); err != nil {
		return nil, err
	}
	return readObject(w, r, a.opts.MaxBodyBytes, false)
}

// readEmpty accepts no body, or an empty JSON object, for requests that
// take no parameters.
func (a *API) readEmpty(w http.ResponseWriter, r *http.Request) error {
	if _, err := restapi.ParseQuery(r); err != nil {
		return err
	}
	o, err := readOptionalObject(w, r, a.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	return o.Done()
}
