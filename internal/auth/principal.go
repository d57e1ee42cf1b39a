// Package auth says who is making a request: the Principal that every
// service reads from its context to decide what the caller may do. The
// packages below it issue and check the credentials that produce one:
// password (argon2id), token (access tokens), accounts (accounts, sessions,
// refresh tokens and API keys) and revocation (the revoked-session feed).
package auth

import (
	"context"
	"slices"
	"strings"
)

// RoleAdmin is the role that may use the management API and that access
// rules never restrict.
const RoleAdmin = "admin"

// Kind says what kind of credential a principal presented.
type Kind uint8

// Principal kinds. The zero value is an anonymous caller.
const (
	KindAnonymous Kind = iota
	KindUser           // an account, through an access token
	KindAPIKey         // a service, through an API key
	KindSystem         // Basalt itself, acting on an operator's command (CLI)
)

func (k Kind) String() string {
	switch k {
	case KindUser:
		return "user"
	case KindAPIKey:
		return "apikey"
	case KindSystem:
		return "system"
	default:
		return "anonymous"
	}
}

// Actions on documents, as named in access rules and API key scopes.
const (
	ActionList   = "list"
	ActionGet    = "get"
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// Principal is the caller of a request.
type Principal struct {
	Kind Kind
	// ID is the account ID (KindUser) or the API key ID (KindAPIKey); empty
	// for anonymous callers.
	ID string
	// SessionID is the session an access token was issued in (KindUser).
	SessionID string
	// Roles are the caller's roles; RoleAdmin among them makes it an admin.
	Roles []string
	// Scopes restrict an API key to some collections and actions (see
	// Allows). Users have no scopes and are not restricted by them.
	Scopes []string
}

// Anonymous is the principal of a request without credentials.
func Anonymous() Principal { return Principal{} }

// System is the principal of an operator's command run by Basalt itself,
// such as "basalt admin create": an admin that no credential can claim.
func System() Principal { return Principal{Kind: KindSystem, Roles: []string{RoleAdmin}} }

// Authenticated reports whether the caller presented valid credentials.
func (p Principal) Authenticated() bool { return p.Kind != KindAnonymous }

// IsAdmin reports whether p has the admin role.
func (p Principal) IsAdmin() bool { return slices.Contains(p.Roles, RoleAdmin) }

// Allows reports whether p's scopes permit action on collection. Only API
// keys carry scopes; every other principal is allowed (access rules still
// apply). A scope is "<collection>:<action>", where either side may be "*",
// and the action "read" stands for list and get, "write" for create, update
// and delete.
func (p Principal) Allows(collection, action string) bool {
	if p.Kind != KindAPIKey {
		return true
	}
	for _, s := range p.Scopes {
		c, a, ok := strings.Cut(s, ":")
		if !ok || (c != "*" && c != collection) {
			continue
		}
		switch a {
		case "*", action:
			return true
		case "read":
			if action == ActionList || action == ActionGet {
				return true
			}
		case "write":
			if action == ActionCreate || action == ActionUpdate || action == ActionDelete {
				return true
			}
		}
	}
	return false
}

// ValidScope reports whether s is a well-formed scope.
func ValidScope(s string) bool {
	c, a, ok := strings.Cut(s, ":")
	if !ok || c == "" || len(s) > 128 {
		return false
	}
	if c != "*" && !validCollection(c) {
		return false
	}
	switch a {
	case "*", "read", "write", ActionList, ActionGet, ActionCreate, ActionUpdate, ActionDelete:
		return true
	}
	return false
}

// validCollection mirrors docstore's collection name rule
// ([a-z][a-z0-9_]{0,62}) without importing it.
func validCollection(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal ctx carries, or Anonymous.
func FromContext(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// Authenticator turns the credential of a request (the value after "Bearer "
// in an Authorization header: an access token or an API key) into a
// principal. Every failure is a fault.Unauthenticated error, except
// fault.Unavailable when the answer cannot be known right now (the caller
// must not be let in then either).
type Authenticator interface {
	Authenticate(ctx context.Context, credential string) (Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, credential string) (Principal, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, credential string) (Principal, error) {
	return f(ctx, credential)
}
