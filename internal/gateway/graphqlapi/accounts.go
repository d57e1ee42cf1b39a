package graphqlapi

// This file serves the caller's own account through GraphQL: me and
// sessions, and the mutations login, refresh, logout and revokeSession,
// over the account service as REST's /v1/auth routes call it.

import (
	"context"
	"time"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// Accounts are the account calls of the root fields (accounts.Auth).
type Accounts interface {
	Me(ctx context.Context) (accounts.Account, error)
	Login(ctx context.Context, r accounts.LoginRequest) (accounts.Tokens, error)
	Refresh(ctx context.Context, r accounts.RefreshRequest) (accounts.Tokens, error)
	Logout(ctx context.Context) error
	Sessions(ctx context.Context) ([]accounts.Session, error)
	RevokeSession(ctx context.Context, id string) error
}

// accountSDL declares the account types, and accountQuery and
// accountMutation the root fields (Query's me is written with the
// others).
const (
	accountSDL = `"A session of an account: a login and the refreshes since (as GET /v1/auth/sessions shows it)."
type Session {
  id: ID!
  device: String!
  userAgent: String!
  ip: String!
  createdAt: DateTime!
  lastUsedAt: DateTime!
  expiresAt: DateTime!
  revokedAt: DateTime
  revokeReason: String
  "The session of the request's own access token."
  current: Boolean!
}

"The tokens of a login or a refresh (as POST /v1/auth/login answers them)."
type AuthTokens {
  accessToken: String!
  tokenType: String!
  "Seconds the access token lives."
  expiresIn: Int!
  accessTokenExpiresAt: DateTime!
  refreshToken: String!
  refreshTokenExpiresAt: DateTime!
  session: Session!
}

`
	accountQuery = `  "The sessions of the caller's account, the current one marked."
  sessions: [Session!]!
`
	accountMutation = `  "Logs in with an email and a password: the tokens of a new session."
  login(email: String!, password: String!, device: String): AuthTokens
  "Spends a refresh token for the session's next tokens."
  refresh(refreshToken: String!): AuthTokens
  "Ends the caller's session."
  logout: Boolean
  "Ends one of the caller's sessions."
  revokeSession(id: ID!): Boolean
`
)

// accountTypes and the root fields' names, which no collection's may take.
var (
	accountTypes     = []string{"Session", "AuthTokens"}
	accountRoots     = []string{"me", "sessions"}
	accountMutations = []string{"login", "refresh", "logout", "revokeSession"}
)

// authMutation reports whether a root field of Mutation is an account
// flow, limited in the auth class as REST's /v1/auth routes are.
func authMutation(name string) bool {
	return name == "login" || name == "refresh" || name == "logout"
}

// client is what the HTTP request tells of its client, for sessions.
type client struct{ ip, userAgent string }

type clientKey struct{}

func withClient(ctx context.Context, c client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

func clientOf(ctx context.Context) client {
	c, _ := ctx.Value(clientKey{}).(client)
	return c
}

// accountRoot resolves the account fields of Query; false for others.
func (e *executor) accountRoot(name string) (any, bool, error) {
	switch name {
	case "me":
		if e.svc.Accounts == nil || auth.FromContext(e.ctx).Kind != auth.KindUser {
			return nil, true, nil // no account: anonymous, or an API key
		}
		a, err := e.svc.Accounts.Me(e.ctx)
		if err != nil {
			return nil, true, err
		}
		return accountValue(a), true, nil
	case "sessions":
		if e.svc.Accounts == nil {
			return nil, true, fault.New(fault.Unavailable, op, "accounts are not served here")
		}
		ss, err := e.svc.Accounts.Sessions(e.ctx)
		if err != nil {
			return nil, true, err
		}
		current := auth.FromContext(e.ctx).SessionID
		out := make([]any, len(ss))
		for i, s := range ss {
			out[i] = sessionValue(s, current)
		}
		return out, true, nil
	}
	return nil, false, nil
}

// accountMutation resolves the account fields of Mutation; false for
// others.
func (e *executor) accountMutation(name string, args map[string]any) (any, bool, error) {
	switch name {
	case "login", "refresh", "logout", "revokeSession":
	default:
		return nil, false, nil
	}
	if e.svc.Accounts == nil {
		return nil, true, fault.New(fault.Unavailable, op, "accounts are not served here")
	}
	c := clientOf(e.ctx)
	str := func(k string) string { s, _ := args[k].(string); return s }
	switch name {
	case "login":
		t, err := e.svc.Accounts.Login(e.ctx, accounts.LoginRequest{Email: str("email"), Password: str("password"), Device: str("device"),
			UserAgent: c.userAgent, IP: c.ip})
		if err != nil {
			return nil, true, err
		}
		return tokensValue(t), true, nil
	case "refresh":
		t, err := e.svc.Accounts.Refresh(e.ctx, accounts.RefreshRequest{RefreshToken: str("refreshToken"), UserAgent: c.userAgent, IP: c.ip})
		if err != nil {
			return nil, true, err
		}
		return tokensValue(t), true, nil
	case "logout":
		if err := e.svc.Accounts.Logout(e.ctx); err != nil {
			return nil, true, err
		}
		return true, true, nil
	}
	if err := e.svc.Accounts.RevokeSession(e.ctx, idArg(args["id"])); err != nil {
		return nil, true, err
	}
	return true, true, nil
}

// stamp is t in REST's format; nil for the zero time.
func stamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(docstore.TimeFormat)
}

// accountValue is a as a value of the Account type: GET /v1/auth/me's
// fields.
func accountValue(a accounts.Account) map[string]any {
	roles := make([]any, len(a.Roles))
	for i, r := range a.Roles {
		roles[i] = r
	}
	return map[string]any{"id": a.ID, "email": a.Email, "roles": roles, "verified": !a.VerifiedAt.IsZero(), "verifiedAt": stamp(a.VerifiedAt),
		"disabled": !a.DisabledAt.IsZero(), "createdAt": stamp(a.CreatedAt), "updatedAt": stamp(a.UpdatedAt)}
}

// sessionValue is s as a value of the Session type; current is the
// caller's session.
func sessionValue(s accounts.Session, current string) map[string]any {
	var reason any
	if s.RevokeReason != "" {
		reason = s.RevokeReason
	}
	return map[string]any{"id": s.ID, "device": s.Device, "userAgent": s.UserAgent, "ip": s.IP, "createdAt": stamp(s.CreatedAt),
		"lastUsedAt": stamp(s.LastUsedAt), "expiresAt": stamp(s.ExpiresAt), "revokedAt": stamp(s.RevokedAt), "revokeReason": reason,
		"current": current != "" && s.ID == current}
}

// tokensValue is t as a value of the AuthTokens type.
func tokensValue(t accounts.Tokens) map[string]any {
	return map[string]any{"accessToken": t.AccessToken, "tokenType": t.TokenType, "expiresIn": t.ExpiresIn,
		"accessTokenExpiresAt": stamp(t.AccessExpiresAt), "refreshToken": t.RefreshToken, "refreshTokenExpiresAt": stamp(t.RefreshExpiresAt),
		"session": sessionValue(t.Session, t.Session.ID)}
}
