// Package bearer reads the bearer credential of a request (RFC 6750): the
// access token or API key after "Bearer " in an HTTP Authorization header
// or in gRPC's authorization metadata, bounded and checked for shape
// before an authenticator sees it. Every transport authenticates through
// it, so a credential is accepted or refused alike whatever the wire.
package bearer

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/fault"
)

// MaxBytes bounds an Authorization value.
const MaxBytes = 8 << 10

// ErrMalformed is wrapped by the errors of a request whose Authorization is
// malformed (more than one value, another scheme, an empty or malformed
// credential, more than MaxBytes), as opposed to a well-formed credential
// the authenticator rejected: HTTP answers the first with
// error="invalid_request", the second with error="invalid_token".
var ErrMalformed = errors.New("malformed authorization")

const op = "bearer.Authenticate"

// Credential returns the credential of a request's Authorization values
// (the header's or the metadata's), and whether there is one. A malformed
// value is a fault.Unauthenticated error wrapping ErrMalformed.
func Credential(values []string) (credential string, present bool, err error) {
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", false, malformed("send one Authorization header")
	}
	v := values[0]
	if len(v) > MaxBytes {
		return "", false, malformed("the Authorization header is longer than " + strconv.Itoa(MaxBytes) + " bytes")
	}
	scheme, credential, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, malformed(`the Authorization header must be "Bearer <access token or API key>"`)
	}
	credential = strings.TrimLeft(credential, " ")
	if !validCredential(credential) {
		return "", false, malformed("the bearer credential is empty or malformed")
	}
	return credential, true, nil
}

func malformed(msg string) error {
	return &fault.Error{Kind: fault.Unauthenticated, Op: op, Msg: msg, Err: ErrMalformed}
}

// Authenticate returns the caller of a request with the Authorization
// values: anonymous without any (or with a nil a), else the principal a
// gives the credential. A malformed value, or a credential a rejects, is
// a fault.Unauthenticated error; a credential a accepts without saying
// whose it is, too. When a cannot decide, the error is fault.Unavailable
// as a gave it, and any other error of a becomes fault.Internal: a caller
// is never let in, or taken for anonymous, on doubt.
func Authenticate(ctx context.Context, a auth.Authenticator, values []string) (auth.Principal, error) {
	if a == nil {
		return auth.Anonymous(), nil
	}
	credential, present, err := Credential(values)
	if err != nil {
		return auth.Principal{}, err
	}
	if !present {
		return auth.Anonymous(), nil
	}
	p, err := a.Authenticate(ctx, credential)
	switch {
	case err == nil && !p.Authenticated():
		return auth.Principal{}, fault.New(fault.Unauthenticated, op, "the credential was not accepted")
	case err == nil:
		return p, nil
	case fault.KindOf(err) == fault.Unauthenticated, fault.KindOf(err) == fault.Unavailable:
		return auth.Principal{}, err
	}
	return auth.Principal{}, &fault.Error{Kind: fault.Internal, Op: op, Err: err}
}

// Recognize tells who sends a request with the Authorization values when
// that costs nothing: anonymous without any (or with a nil a), the
// principal of a credential a recognizes (auth.Recognizer); false
// otherwise, malformed values included, which Authenticate refuses.
func Recognize(a auth.Authenticator, values []string) (auth.Principal, bool) {
	if a == nil {
		return auth.Anonymous(), true
	}
	credential, present, err := Credential(values)
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
		if !tokenChar(s[i]) {
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
