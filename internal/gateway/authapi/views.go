package authapi

import (
	"time"

	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/docstore"
)

// The JSON views of this file are the public shapes of accounts, sessions,
// API keys and signing keys. They are built field by field from the
// service's types, so a secret (a password hash, an API key hash, a private
// key) can only reach a response by being added here. Timestamps are
// RFC 3339 in UTC with microseconds, like documents'; a time that has not
// happened (never verified, never revoked) is null.

// stamp formats a timestamp.
func stamp(t time.Time) string { return t.UTC().Format(docstore.TimeFormat) }

// nullStamp formats a timestamp that may be zero (null).
func nullStamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := stamp(t)
	return &s
}

// nullString is s, or null when s is empty.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// list is never null in JSON.
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type inviteView struct {
	Email     string   `json:"email"`
	Roles     []string `json:"roles"`
	ExpiresAt string   `json:"expiresAt"`
}

func viewInvite(i accounts.Invitation) inviteView {
	return inviteView{Email: i.Email, Roles: list(i.Roles), ExpiresAt: stamp(i.ExpiresAt)}
}

type accountView struct {
	ID         string   `json:"id"`
	Email      string   `json:"email"`
	Roles      []string `json:"roles"`
	Verified   bool     `json:"verified"`
	VerifiedAt *string  `json:"verifiedAt"`
	Disabled   bool     `json:"disabled"`
	CreatedAt  string   `json:"createdAt"`
	UpdatedAt  string   `json:"updatedAt"`
}

func viewAccount(a accounts.Account) accountView {
	return accountView{
		ID:         a.ID,
		Email:      a.Email,
		Roles:      list(a.Roles),
		Verified:   !a.VerifiedAt.IsZero(),
		VerifiedAt: nullStamp(a.VerifiedAt),
		Disabled:   !a.DisabledAt.IsZero(),
		CreatedAt:  stamp(a.CreatedAt),
		UpdatedAt:  stamp(a.UpdatedAt),
	}
}

type sessionView struct {
	ID           string  `json:"id"`
	Device       string  `json:"device"`
	UserAgent    string  `json:"userAgent"`
	IP           string  `json:"ip"`
	CreatedAt    string  `json:"createdAt"`
	LastUsedAt   string  `json:"lastUsedAt"`
	ExpiresAt    string  `json:"expiresAt"`
	RevokedAt    *string `json:"revokedAt"`
	RevokeReason *string `json:"revokeReason"`
	// Current is true for the session the request was made in.
	Current bool `json:"current"`
}

// viewSession renders s; current is the caller's session ID.
func viewSession(s accounts.Session, current string) sessionView {
	return sessionView{
		ID:           s.ID,
		Device:       s.Device,
		UserAgent:    s.UserAgent,
		IP:           s.IP,
		CreatedAt:    stamp(s.CreatedAt),
		LastUsedAt:   stamp(s.LastUsedAt),
		ExpiresAt:    stamp(s.ExpiresAt),
		RevokedAt:    nullStamp(s.RevokedAt),
		RevokeReason: nullString(s.RevokeReason),
		Current:      current != "" && s.ID == current,
	}
}

func viewSessions(ss []accounts.Session, current string) []sessionView {
	out := make([]sessionView, len(ss))
	for i, s := range ss {
		out[i] = viewSession(s, current)
	}
	return out
}

// tokensView is the answer to a login or a refresh (OAuth 2.0 names in
// camelCase, plus the session the tokens belong to).
type tokensView struct {
	AccessToken           string      `json:"accessToken"`
	TokenType             string      `json:"tokenType"`
	ExpiresIn             int64       `json:"expiresIn"`
	AccessTokenExpiresAt  string      `json:"accessTokenExpiresAt"`
	RefreshToken          string      `json:"refreshToken"`
	RefreshTokenExpiresAt string      `json:"refreshTokenExpiresAt"`
	Session               sessionView `json:"session"`
}

func viewTokens(t accounts.Tokens) tokensView {
	return tokensView{
		AccessToken:           t.AccessToken,
		TokenType:             t.TokenType,
		ExpiresIn:             t.ExpiresIn,
		AccessTokenExpiresAt:  stamp(t.AccessExpiresAt),
		RefreshToken:          t.RefreshToken,
		RefreshTokenExpiresAt: stamp(t.RefreshExpiresAt),
		Session:               viewSession(t.Session, t.Session.ID),
	}
}

type apiKeyView struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Prefix    string   `json:"prefix"`
	Roles     []string `json:"roles"`
	Scopes    []string `json:"scopes"`
	CreatedBy *string  `json:"createdBy"`
	// CreatedByKey is the API key that created this one, null when an
	// account did.
	CreatedByKey *string `json:"createdByKey"`
	CreatedAt    string  `json:"createdAt"`
	ExpiresAt    *string `json:"expiresAt"`
	LastUsedAt   *string `json:"lastUsedAt"`
	RevokedAt    *string `json:"revokedAt"`
}

func viewAPIKey(k accounts.APIKey) apiKeyView {
	return apiKeyView{
		ID:           k.ID,
		Name:         k.Name,
		Prefix:       k.Prefix,
		Roles:        list(k.Roles),
		Scopes:       list(k.Scopes),
		CreatedBy:    nullString(k.CreatedBy),
		CreatedByKey: nullString(k.CreatedByKey),
		CreatedAt:    stamp(k.CreatedAt),
		ExpiresAt:    nullStamp(k.ExpiresAt),
		LastUsedAt:   nullStamp(k.LastUsedAt),
		RevokedAt:    nullStamp(k.RevokedAt),
	}
}

// newAPIKeyView is the answer to the creation of an API key: the only
// response that carries a secret, shown this once.
type newAPIKeyView struct {
	apiKeyView
	Key string `json:"key"`
}

type signingKeyView struct {
	KID       string  `json:"kid"`
	CreatedAt string  `json:"createdAt"`
	NotAfter  *string `json:"notAfter"`
}

func viewSigningKey(k accounts.SigningKey) signingKeyView {
	return signingKeyView{KID: k.ID, CreatedAt: stamp(k.CreatedAt), NotAfter: nullStamp(k.NotAfter)}
}

// itemsView is the body of a list answer.
type itemsView[T any] struct {
	Items []T `json:"items"`
}

// pageView is the body of a paginated list answer: nextCursor is null on
// the last page.
type pageView[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

// mapSlice applies f to every element; the result is never nil.
func mapSlice[S, T any](in []S, f func(S) T) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
