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

	"github.com/basaltdev/basalt/internal/fault"
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
	// Allows) and to some management areas (see Permits). Users have no
	// scopes and are not restricted by them.
	Scopes []string
	// Account is, for an API key, the account behind it: the account that
	// created it, or that created the key that created it. Empty when the
	// key was made without an account (by the operator's command line).
	Account string
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

// Management scopes. An API key needs the scope of an area, besides the
// admin role, to act in it; "*:*" and the other document scopes never grant
// one. Their actions are no document action, so no document scope (whose
// left side may name a collection called "admin" or "collections") reads
// the same.
const (
	// ScopeCollectionsView reads collection definitions.
	ScopeCollectionsView = "collections:view"
	// ScopeCollectionsManage creates, changes and deletes collections, and
	// reads their definitions.
	ScopeCollectionsManage = "collections:manage"
	// ScopeAdminAccounts lists, reads, creates, changes, disables and
	// deletes accounts.
	ScopeAdminAccounts = "admin:accounts"
	// ScopeAdminSessions lists any account's sessions and revokes them.
	ScopeAdminSessions = "admin:sessions"
	// ScopeAdminAPIKeys lists, creates and revokes API keys.
	ScopeAdminAPIKeys = "admin:api-keys"
	// ScopeAdminSigningKeys lists and rotates the token signing keys.
	ScopeAdminSigningKeys = "admin:signing-keys"
	// ScopeAdminEvents reads the change-event consumers' state and lists,
	// retries and discards their dead letters.
	ScopeAdminEvents = "admin:events"
	// ScopeAdminWebhooks lists, registers, changes and deletes webhooks,
	// reads their deliveries and redelivers them.
	ScopeAdminWebhooks = "admin:webhooks"
)

// ManagementScopes are every management scope, in the order docs list them.
func ManagementScopes() []string {
	return []string{ScopeCollectionsView, ScopeCollectionsManage, ScopeAdminAccounts,
		ScopeAdminSessions, ScopeAdminAPIKeys, ScopeAdminSigningKeys, ScopeAdminEvents, ScopeAdminWebhooks}
}

// isManagementScope reports whether s is one of ManagementScopes.
func isManagementScope(s string) bool {
	switch s {
	case ScopeCollectionsView, ScopeCollectionsManage, ScopeAdminAccounts,
		ScopeAdminSessions, ScopeAdminAPIKeys, ScopeAdminSigningKeys, ScopeAdminEvents, ScopeAdminWebhooks:
		return true
	}
	return false
}

// Allows reports whether p's scopes permit action on collection. Only API
// keys carry scopes; every other principal is allowed (access rules still
// apply). A scope is "<collection>:<action>", where either side may be "*",
// and the action "read" stands for list and get, "write" for create, update
// and delete.
func (p Principal) Allows(collection, action string) bool {
	if p.Kind != KindAPIKey {
		return true
	}
	return scopesAllow(p.Scopes, collection, action)
}

// scopesAllow reports whether one of scopes grants action on collection
// ("*" as collection: on every collection).
func scopesAllow(scopes []string, collection, action string) bool {
	for _, s := range scopes {
		c, a, ok := strings.Cut(s, ":")
		if !ok || (c != "*" && c != collection) {
			continue
		}
		if actionCovers(a, action) {
			return true
		}
	}
	return false
}

// actionCovers reports whether the action part of a document scope grants
// action.
func actionCovers(scope, action string) bool {
	switch scope {
	case "*", action:
		return true
	case "read":
		return action == ActionList || action == ActionGet
	case "write":
		return action == ActionCreate || action == ActionUpdate || action == ActionDelete
	}
	return false
}

// Permits reports whether p's scopes permit the management area scope
// (one of the Scope constants). Only API keys carry scopes; every other
// principal is permitted (the admin role is still required).
// ScopeCollectionsManage includes ScopeCollectionsView.
func (p Principal) Permits(scope string) bool {
	if p.Kind != KindAPIKey {
		return true
	}
	for _, s := range p.Scopes {
		if s == scope || (scope == ScopeCollectionsView && s == ScopeCollectionsManage) {
			return true
		}
	}
	return false
}

// Manage admits p to the management area scope for operation op: an
// anonymous caller is Unauthenticated; a caller without the admin role, or
// an API key whose scopes do not permit the area, is Forbidden.
func (p Principal) Manage(op, scope string) error {
	switch {
	case !p.Authenticated():
		return fault.New(fault.Unauthenticated, op, "authentication required")
	case !p.IsAdmin():
		return fault.New(fault.Forbidden, op, "only admins may do this")
	case !p.Permits(scope):
		return fault.Newf(fault.Forbidden, op, "the API key's scopes do not include %q", scope)
	}
	return nil
}

// Covers reports whether p's scopes grant everything scopes grant, so that
// p may hand scopes on (to a new API key). Principals without scopes cover
// every scope. Every scope is checked on its own, action by action, so
// "posts:list" and "posts:get" together cover "posts:read"; a scope on
// every collection ("*:…") is covered only by scopes on every collection.
func (p Principal) Covers(scopes []string) bool {
	if p.Kind != KindAPIKey {
		return true
	}
	for _, s := range scopes {
		if isManagementScope(s) {
			if !p.Permits(s) {
				return false
			}
			continue
		}
		c, a, ok := strings.Cut(s, ":")
		if !ok {
			return false
		}
		for _, act := range [...]string{ActionList, ActionGet, ActionCreate, ActionUpdate, ActionDelete} {
			if actionCovers(a, act) && !scopesAllow(p.Scopes, c, act) {
				return false
			}
		}
	}
	return true
}

// MayGrantRoles reports whether p may give roles to an account or an API
// key. Admin users may give any role. An API key may give only roles it
// has itself, and since an account is bounded by no scope, it may give an
// account roles only when its own scopes are unbounded too (every document
// action on every collection, and for the admin role every management
// scope); account is true when the roles are for an account.
func (p Principal) MayGrantRoles(roles []string, account bool) bool {
	if p.Kind != KindAPIKey || len(roles) == 0 {
		return true
	}
	for _, r := range roles {
		if !slices.Contains(p.Roles, r) {
			return false
		}
	}
	if !account {
		return true
	}
	all := []string{"*:*"}
	if slices.Contains(roles, RoleAdmin) {
		all = append(all, ManagementScopes()...)
	}
	return p.Covers(all)
}

// ValidScope reports whether s is a well-formed scope: a document scope
// ("<collection or *>:<action>") or one of the management scopes.
func ValidScope(s string) bool {
	if isManagementScope(s) {
		return true
	}
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

// Recognizer is implemented by Authenticators that can tell whose a
// credential is without any I/O or signature check, when they verified it
// recently. Recognize returns the principal the credential had then, or
// false when it is not known that cheaply (never seen, expired, malformed).
// It decides nothing: a revoked credential may still be recognized, and
// Authenticate must still be called. The rate limits use it to decide the
// caller's limit and the address's in one step.
type Recognizer interface {
	Recognize(credential string) (Principal, bool)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, credential string) (Principal, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, credential string) (Principal, error) {
	return f(ctx, credential)
}
