package restapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/fault"
)

// MaxAuthorizationBytes bounds the Authorization header.
const MaxAuthorizationBytes = 8 << 10

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

// principalOf authenticates r. On a 401 it also returns the challenge to
// send.
func principalOf(r *http.Request, a auth.Authenticator) (auth.Principal, string, error) {
	const op = "restapi.Authenticate"
	if a == nil {
		return auth.Anonymous(), "", nil
	}
	credential, present, challenge, err := credentialOf(r)
	if err != nil {
		return auth.Principal{}, challenge, err
	}
	if !present {
		return auth.Anonymous(), "", nil
	}
	p, err := a.Authenticate(r.Context(), credential)
	switch {
	case err == nil && !p.Authenticated():
		// An authenticator that accepts a credential without saying whose
		// it is has not authenticated anyone.
		return auth.Principal{}, challengeInvalidToken, fault.New(fault.Unauthenticated, op, "the credential was not accepted")
	case err == nil:
		return p, "", nil
	case fault.KindOf(err) == fault.Unauthenticated:
		return auth.Principal{}, challengeInvalidToken, err
	case fault.KindOf(err) == fault.Unavailable:
		return auth.Principal{}, "", err
	}
	// Anything else is a failure to decide: never let the caller in.
	return auth.Principal{}, "", &fault.Error{Kind: fault.Internal, Op: op, Err: err}
}

// recognize tells who sends r when that costs nothing: anonymous without
// an Authorization header (or without an authenticator), the principal
// of a credential a recognizes (auth.Recognizer); false otherwise,
// malformed headers included, which principalOf refuses.
func recognize(r *http.Request, a auth.Authenticator) (auth.Principal, bool) {
	if a == nil {
		return auth.Anonymous(), true
	}
	credential, present, _, err := credentialOf(r)
	switch {
	case err != nil:
		return auth.Principal{}, false
	case !present:
		return auth.Anonymous(), true
	}
	rec, ok := a.(auth.Recognizer)
	if !ok {
		return auth.Principal{}, false
	}
	p, ok := rec.Recognize(credential)
	return p, ok && p.Authenticated()
}

// credentialOf returns the bearer credential of r's Authorization header,
// and whether there is one. A malformed header is an Unauthenticated
// error, with the challenge to send.
func credentialOf(r *http.Request) (credential string, present bool, challenge string, err error) {
	const op = "restapi.Authenticate"
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", false, "", nil
	case 1:
	default:
		return "", false, challengeBadRequest, fault.New(fault.Unauthenticated, op, "send one Authorization header")
	}
	v := values[0]
	if len(v) > MaxAuthorizationBytes {
		return "", false, challengeBadRequest, fault.New(fault.Unauthenticated, op,
			"the Authorization header is longer than "+strconv.Itoa(MaxAuthorizationBytes)+" bytes")
	}
	scheme, credential, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, challengeBadRequest, fault.New(fault.Unauthenticated, op,
			`the Authorization header must be "Bearer <access token or API key>"`)
	}
	credential = strings.TrimLeft(credential, " ")
	if !validCredential(credential) {
		return "", false, challengeBadRequest, fault.New(fault.Unauthenticated, op,
			"the bearer credential is empty or malformed")
	}
	return credential, true, "", nil
}

// tokenChar reports whether c may appear in a b64token before the padding.
func tokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
}

// validCredential reports whether s is a b64token (RFC 6750): letters,
// digits and -._~+/, then optional "=" padding.
func validCredential(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !tokenChar(c) {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
