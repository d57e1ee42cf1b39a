package restapi

import (
	"net/http"

	"github.com/basaltdev/basalt/internal/auth"
)

// Limits decides the API-wide rate limits of requests (apilimit.Limits
// implements it). Admit checks the limits that apply to every caller from
// r's address and the caller's own limits, and calls authenticate unless
// a limit refuses r: when known tells the caller at no cost, both limits
// before authenticate, in one step; otherwise the address's before it and
// the caller's after. It sets the RateLimit-Policy and RateLimit fields on
// w and returns the caller, a fault.TooManyRequests error with a
// RetryAfter when a limit refuses r, or the error of authenticate.
type Limits interface {
	Admit(w http.ResponseWriter, r *http.Request, route string, known func() (auth.Principal, bool), authenticate func() (auth.Principal, error)) (auth.Principal, error)
}

// Guard returns next behind the rate limits lim and bearer authentication
// by a, for the route pattern ("METHOD /path") it serves: the one place
// where every REST transport limits and authenticates a request. A
// caller known at no cost (anonymous, or a credential a recognizes:
// auth.Recognizer) has both its limits checked in one step before its
// credential; for any other the per-address limit is checked before the
// credential, the caller's after. A refusal is answered 429
// too_many_requests with Retry-After by rs.WriteProblem and runs nothing
// of next. A nil lim limits nothing; a nil a makes every caller anonymous
// (the public routes).
func (rs *Responder) Guard(route string, lim Limits, a auth.Authenticator, next http.Handler) http.Handler {
	return guard(route, lim, a, rs.WriteProblem, next)
}
