package accounts

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/fault"
)

// Bounds on what admins configure.
const (
	maxRoles       = 16
	maxScopes      = 64
	maxKeyName     = 100
	maxPageSize    = 500
	defaultPerPage = 50
)

// validRole reports whether r matches [a-z][a-z0-9_-]{0,31}.
func validRole(r string) bool {
	if r == "" || len(r) > 32 || r[0] < 'a' || r[0] > 'z' {
		return false
	}
	for i := 1; i < len(r); i++ {
		c := r[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// checkRoles validates and de-duplicates roles, keeping their order.
func checkRoles(op, pointer string, roles []string) ([]string, error) {
	if len(roles) > maxRoles {
		return nil, fieldErr(op, pointer, fmt.Sprintf("must have at most %d roles", maxRoles))
	}
	var out []string
	for i, r := range roles {
		if !validRole(r) {
			return nil, fieldErr(op, fmt.Sprintf("%s/%d", pointer, i), "must match [a-z][a-z0-9_-]{0,31}")
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// mayGrant refuses to let the caller of ctx give roles it may not give
// (see auth.Principal.MayGrantRoles): account says whether they are for an
// account or for an API key.
func mayGrant(ctx context.Context, op string, roles []string, account bool) error {
	if auth.FromContext(ctx).MayGrantRoles(roles, account) {
		return nil
	}
	msg := "an API key may give only roles it has itself"
	if account {
		msg = "an API key may give an account only roles it has itself, and only when its scopes are unbounded (\"*:*\", and every management scope for the admin role)"
	}
	return &fault.Error{Kind: fault.Forbidden, Op: op, Msg: msg,
		Fields: []fault.FieldError{{Pointer: "/roles", Message: "grants more than the calling key has"}}}
}

// CreateAccount creates an account with roles, as an admin (or the
// operator's "basalt admin create").
func (s *Service) CreateAccount(ctx context.Context, n NewAccount) (Account, error) {
	const op = "accounts.CreateAccount"
	if err := requireAdmin(ctx, op, auth.ScopeAdminAccounts); err != nil {
		return Account{}, err
	}
	email, err := normalizeEmail(op, n.Email)
	if err != nil {
		return Account{}, err
	}
	if err := checkNewPassword(op, "/password", n.Password); err != nil {
		return Account{}, err
	}
	roles, err := checkRoles(op, "/roles", n.Roles)
	if err != nil {
		return Account{}, err
	}
	if err := mayGrant(ctx, op, roles, true); err != nil {
		return Account{}, err
	}
	hash, err := s.hasher.Hash(ctx, n.Password)
	if err != nil {
		return Account{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Account{}, fault.Internalf(op, err)
	}
	now := s.timestamp()
	a := Account{ID: id.String(), Email: email, PasswordHash: hash, Roles: roles, CreatedAt: now, UpdatedAt: now}
	if n.Verified {
		a.VerifiedAt = now
	}
	err = s.store.AuthWrite(ctx, func(tx Tx) error { return tx.InsertAccount(ctx, a) })
	if fault.Is(err, fault.Conflict) {
		return Account{}, &fault.Error{Kind: fault.Conflict, Op: op, Msg: "an account with this email address exists",
			Fields: []fault.FieldError{{Pointer: "/email", Message: "is taken"}}}
	}
	return a, err
}

// maxEmailQuery is the longest email search: an address's longest.
const maxEmailQuery = 254

// ListAccounts returns a page of the accounts q asks for, by ID, with the
// cursor of the next page. The email search reads the accounts in ID
// order until it fills the page, so on a large table a rare match costs a
// scan. Admins only.
func (s *Service) ListAccounts(ctx context.Context, q AccountQuery) (AccountPage, error) {
	const op = "accounts.ListAccounts"
	if err := requireAdmin(ctx, op, auth.ScopeAdminAccounts); err != nil {
		return AccountPage{}, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultPerPage
	}
	limit = min(limit, maxPageSize)
	if len(q.After) > 64 {
		return AccountPage{}, fieldErr(op, "/after", "must be an account ID")
	}
	if len(q.Email) > maxEmailQuery || !utf8.ValidString(q.Email) {
		return AccountPage{}, fieldErr(op, "/email", fmt.Sprintf("must be at most %d bytes of UTF-8", maxEmailQuery))
	}
	email := strings.ToLower(strings.TrimSpace(q.Email))
	// One account more than the page says whether another page follows.
	accts, err := s.store.ListAccounts(ctx, AccountQuery{After: q.After, Limit: limit + 1, Email: email})
	if err != nil {
		return AccountPage{}, err
	}
	page := AccountPage{Items: accts}
	if len(accts) > limit {
		page.Items = accts[:limit]
		page.Next = accts[limit-1].ID
	}
	return page, nil
}

// GetAccount returns an account. Admins only.
func (s *Service) GetAccount(ctx context.Context, id string) (Account, error) {
	if err := requireAdmin(ctx, "accounts.GetAccount", auth.ScopeAdminAccounts); err != nil {
		return Account{}, err
	}
	return s.store.AccountByID(ctx, id)
}

// UpdateAccount disables or enables an account or sets its roles. Disabling
// ends every session of the account. New roles reach access tokens at their
// next refresh (revoke the sessions to apply them at once). Admins only.
func (s *Service) UpdateAccount(ctx context.Context, id string, u AccountUpdate) (Account, error) {
	const op = "accounts.UpdateAccount"
	if err := requireAdmin(ctx, op, auth.ScopeAdminAccounts); err != nil {
		return Account{}, err
	}
	var roles []string
	if u.Roles != nil {
		var err error
		if roles, err = checkRoles(op, "/roles", *u.Roles); err != nil {
			return Account{}, err
		}
		if err := mayGrant(ctx, op, roles, true); err != nil {
			return Account{}, err
		}
	}
	now := s.timestamp()
	var (
		a       Account
		revoked []string
	)
	err := s.store.AuthWrite(ctx, func(tx Tx) error {
		var err error
		if a, err = tx.GetAccount(ctx, id); err != nil {
			return err
		}
		revoked = nil
		if u.Disabled != nil {
			switch {
			case *u.Disabled && a.DisabledAt.IsZero():
				a.DisabledAt = now
				if revoked, err = s.revokeAccountSessions(ctx, tx, a.ID, "", "disabled", now); err != nil {
					return err
				}
			case !*u.Disabled:
				a.DisabledAt = time.Time{}
			}
		}
		if u.Roles != nil {
			a.Roles = roles
		}
		if u.Verified != nil {
			switch {
			case *u.Verified && a.VerifiedAt.IsZero():
				a.VerifiedAt = now
			case !*u.Verified:
				a.VerifiedAt = time.Time{}
			}
		}
		a.UpdatedAt = now
		return tx.UpdateAccount(ctx, a)
	})
	if err != nil {
		return Account{}, err
	}
	s.addRevoked(revoked, now)
	return a, nil
}

// DeleteAccount deletes an account and ends its sessions. Admins only.
func (s *Service) DeleteAccount(ctx context.Context, id string) error {
	if err := requireAdmin(ctx, "accounts.DeleteAccount", auth.ScopeAdminAccounts); err != nil {
		return err
	}
	return s.deleteAccount(ctx, id)
}

// CreateAPIKey makes an API key and returns it with its secret, which is
// shown this once and stored only as a hash. Admins only.
func (s *Service) CreateAPIKey(ctx context.Context, spec APIKeySpec) (APIKey, string, error) {
	const op = "accounts.CreateAPIKey"
	if err := requireAdmin(ctx, op, auth.ScopeAdminAPIKeys); err != nil {
		return APIKey{}, "", err
	}
	switch {
	case spec.Name == "":
		return APIKey{}, "", fieldErr(op, "/name", "is required")
	case len(spec.Name) > maxKeyName || !utf8.ValidString(spec.Name):
		return APIKey{}, "", fieldErr(op, "/name", fmt.Sprintf("must be valid UTF-8 of at most %d bytes", maxKeyName))
	case len(spec.Scopes) == 0:
		return APIKey{}, "", fieldErr(op, "/scopes", `must list at least one scope, such as "posts:read" or "*:*"`)
	case len(spec.Scopes) > maxScopes:
		return APIKey{}, "", fieldErr(op, "/scopes", fmt.Sprintf("must have at most %d scopes", maxScopes))
	}
	var scopes []string
	for i, sc := range spec.Scopes {
		if !auth.ValidScope(sc) {
			return APIKey{}, "", fieldErr(op, fmt.Sprintf("/scopes/%d", i),
				`must be "<collection or *>:<list|get|create|update|delete|read|write|*>" or a management scope such as "admin:accounts"`)
		}
		if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	roles, err := checkRoles(op, "/roles", spec.Roles)
	if err != nil {
		return APIKey{}, "", err
	}
	p := auth.FromContext(ctx)
	if !p.Covers(scopes) {
		return APIKey{}, "", &fault.Error{Kind: fault.Forbidden, Op: op,
			Msg:    "an API key may not create a key with scopes beyond its own",
			Fields: []fault.FieldError{{Pointer: "/scopes", Message: "grants more than the calling key's scopes"}}}
	}
	if err := mayGrant(ctx, op, roles, false); err != nil {
		return APIKey{}, "", err
	}
	now := s.timestamp()
	if !spec.ExpiresAt.IsZero() && !spec.ExpiresAt.After(now) {
		return APIKey{}, "", fieldErr(op, "/expiresAt", "must be in the future")
	}
	secret, err := newSecret(apiKeyPrefix)
	if err != nil {
		return APIKey{}, "", err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return APIKey{}, "", fault.Internalf(op, err)
	}
	k := APIKey{
		ID: id.String(), Name: spec.Name, Prefix: secret[:apiKeyShown], Hash: hashSecret(secret),
		Roles: roles, Scopes: scopes, CreatedBy: p.ID, CreatedAt: now,
	}
	if p.Kind == auth.KindAPIKey {
		k.CreatedBy, k.CreatedByKey = p.Account, p.ID
	}
	if !spec.ExpiresAt.IsZero() {
		k.ExpiresAt = spec.ExpiresAt.UTC().Truncate(time.Microsecond)
	}
	if err := s.store.AuthWrite(ctx, func(tx Tx) error { return tx.InsertAPIKey(ctx, k) }); err != nil {
		return APIKey{}, "", err
	}
	k.Hash = nil
	return k, secret, nil
}

// ListAPIKeys returns every API key, without hashes. Admins only.
func (s *Service) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	if err := requireAdmin(ctx, "accounts.ListAPIKeys", auth.ScopeAdminAPIKeys); err != nil {
		return nil, err
	}
	keys, err := s.store.ListAPIKeys(ctx)
	for i := range keys {
		keys[i].Hash = nil
	}
	return keys, err
}

// RevokeAPIKey stops an API key from working, on every process within the
// revocation bound. Admins only.
func (s *Service) RevokeAPIKey(ctx context.Context, id string) error {
	const op = "accounts.RevokeAPIKey"
	if err := requireAdmin(ctx, op, auth.ScopeAdminAPIKeys); err != nil {
		return err
	}
	now := s.timestamp()
	err := s.store.AuthWrite(ctx, func(tx Tx) error {
		k, err := tx.GetAPIKey(ctx, id)
		if err != nil {
			return err
		}
		if !k.RevokedAt.IsZero() {
			return nil
		}
		k.RevokedAt = now
		if err := tx.UpdateAPIKey(ctx, k); err != nil {
			return err
		}
		return tx.AppendRevocation(ctx, Revocation{ID: k.ID, RevokedAt: now})
	})
	if err == nil {
		s.revoked.Add(id, now)
	}
	return err
}
