package restapi

import (
	"errors"
	"net/http"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/bearer"
	"github.com/basaltdev/basalt/internal/fault"
)

// MaxAuthorizationBytes bounds the Authorization header.
const MaxAuthorizationBytes = bearer.MaxBytes

// Challenges sent in WWW-Authenticate (RFC 6750) with 401 answers.
const (
	challenge             = `Bearer realm="basalt"`
	challengeInvalidToken = `Bearer realm="basalt", error="invalid_token"`
	challengeBadRequest   = `Bearer realm="basalt", error="invalid_request"`
)

// Authenticate returns next behind bearer authentication: it puts the
// caller's principal in the request context (auth.WithPrincipal) and
// leaves every decision about what the caller may do to the services.
//
// A request without an Authorization header is anonymous. "Authorization:
// Bearer <credential>" is checked by a; a rejected credential is answered
// 401 with WWW-Authenticate: Bearer …, error="invalid_token". Any other
// header (another scheme, an empty or malformed credential, more than one
// Authorization header, more than MaxAuthorizationBytes) is answered 401
// too. When a cannot decide (fault.Unavailable) the answer is 503: a caller
// is never let in, or treated as anonymous, on doubt. A nil a makes every
// request anonymous.
func Authenticate(a auth.Authenticator, next http.Handler) http.Handler {
	return authenticate(a, WriteProblem, next)
}

// Authenticate is the package Authenticate whose failures are answered by
// rs.WriteProblem: an authenticator that fails for an unknown reason (a 500)
// is logged once, like every internal error of the transport.
func (rs *Responder) Authenticate(a auth.Authenticator, next http.Handler) http.Handler {
	return authenticate(a, rs.WriteProblem, next)
}

// authenticate is Authenticate with the function that answers failures
// (the API's, which also logs internal errors).
func authenticate(a auth.Authenticator, fail func(http.ResponseWriter, *http.Request, error), next http.Handler) http.Handler {
	return guard("", nil, a, fail, next)
}

// guard is authenticate behind the rate limits lim (nil: none) of route
// (see Responder.Guard).
func guard(route string, lim Limits, a auth.Authenticator, fail func(http.ResponseWriter, *http.Request, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p auth.Principal
		var wwwAuth string
		var err error
		if lim == nil {
			p, wwwAuth, err = principalOf(r, a)
		} else {
			p, err = lim.Admit(w, r, route, func() (auth.Principal, bool) {
				return recognize(r, a)
			}, func() (auth.Principal, error) {
				var err error
				p, wwwAuth, err = principalOf(r, a)
				return p, err
			})
		}
		if err != nil {
			if fault.KindOf(err) == fault.Unauthenticated {
				w.Header().Set("WWW-Authenticate", wwwAuth)
			}
			fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// principalOf authenticates r (bearer.Authenticate). On a 401 it also
// returns the challenge to send.
func principalOf(r *http.Request, a auth.Authenticator) (auth.Principal, string, error) {
	p, err := bearer.Authenticate(r.Context(), a, r.Header.Values("Authorization"))
	if err != nil {
		return auth.Principal{}, Challenge(err), err
	}
	return p, "", nil
}

// Challenge is the WWW-Authenticate challenge of an authentication error
// (bearer.Authenticate's): invalid_request for a malformed credential,
// invalid_token for one refused; "" for an error of another kind.
func Challenge(err error) string {
	switch {
	case errors.Is(err, bearer.ErrMalformed):
		return challengeBadRequest
	case fault.KindOf(err) == fault.Unauthenticated:
		return challengeInvalidToken
	}
	return ""
}

// recognize tells who sends r when that costs nothing (bearer.Recognize).
func recognize(r *http.Request, a auth.Authenticator) (auth.Principal, bool) {
	return bearer.Recognize(a, r.Header.Values("Authorization"))
}
