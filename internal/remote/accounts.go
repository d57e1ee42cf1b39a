package remote

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/gateway/rpcapi"
)

// Accounts are the calls of a remote accounts component: the account
// service's (accounts.Auth, Admin, APIKeys), the authentication of
// credentials and the public signing keys. Authenticate asks the
// component every time, so a revoked token or key is refused as soon as
// the component refuses it.
type Accounts struct {
	c     *conn
	auth  basaltv1connect.AuthServiceClient
	admin basaltv1connect.AdminServiceClient
	keys  basaltv1connect.APIKeyServiceClient
	comp  basaltv1connect.ComponentServiceClient
}

var (
	_ accounts.Auth      = (*Accounts)(nil)
	_ accounts.Admin     = (*Accounts)(nil)
	_ accounts.APIKeys   = (*Accounts)(nil)
	_ auth.Authenticator = (*Accounts)(nil)
	_ rpcapi.Component   = (*Accounts)(nil)
)

// NewAccounts returns the accounts component at o.URL.
func NewAccounts(o Options) (*Accounts, error) {
	c, err := newConn(o)
	if err != nil {
		return nil, err
	}
	return &Accounts{c: c, auth: basaltv1connect.NewAuthServiceClient(c.client),
		admin: basaltv1connect.NewAdminServiceClient(c.client), keys: basaltv1connect.NewAPIKeyServiceClient(c.client),
		comp: basaltv1connect.NewComponentServiceClient(c.client)}, nil
}

// Authenticate returns who credential stands for (a read: retried).
func (a *Accounts) Authenticate(ctx context.Context, credential string) (auth.Principal, error) {
	res, err := call(ctx, a.c, true, func(ctx context.Context) (*basaltv1.AuthenticateResponse, error) {
		return a.comp.Authenticate(ctx, &basaltv1.AuthenticateRequest{Credential: credential})
	})
	if err != nil {
		return auth.Principal{}, err
	}
	return rpcapi.PrincipalOf(res.GetPrincipal())
}

// JWKS returns the public signing keys (a read: retried).
func (a *Accounts) JWKS(ctx context.Context) ([]byte, error) {
	res, err := call(ctx, a.c, true, func(ctx context.Context) (*basaltv1.GetJWKSResponse, error) {
		return a.comp.GetJWKS(ctx, &basaltv1.GetJWKSRequest{})
	})
	if err != nil {
		return nil, err
	}
	return res.GetJwks(), nil
}

// Ready returns nil when the component is ready to serve.
func (a *Accounts) Ready(ctx context.Context) error { return ready(ctx, a.c, a.comp) }

// ready asks the component at c whether it is ready (not retried: the
// readiness is now).
func ready(ctx context.Context, c *conn, comp basaltv1connect.ComponentServiceClient) error {
	_, err := call(ctx, c, false, func(ctx context.Context) (*basaltv1.ReadyResponse, error) {
		return comp.Ready(ctx, &basaltv1.ReadyRequest{})
	})
	return err
}

// SignUp creates an account.
func (a *Accounts) SignUp(ctx context.Context, r accounts.SignUpRequest) error {
	_, err := call(withClient(ctx, r.IP, ""), a.c, false, func(ctx context.Context) (*basaltv1.SignUpResponse, error) {
		return a.auth.SignUp(ctx, &basaltv1.SignUpRequest{Email: r.Email, Password: r.Password, Invite: r.Invite})
	})
	return err
}

// Login starts a session.
func (a *Accounts) Login(ctx context.Context, r accounts.LoginRequest) (accounts.Tokens, error) {
	res, err := call(withClient(ctx, r.IP, r.UserAgent), a.c, false, func(ctx context.Context) (*basaltv1.LoginResponse, error) {
		return a.auth.Login(ctx, &basaltv1.LoginRequest{Email: r.Email, Password: r.Password, Device: r.Device})
	})
	if err != nil {
		return accounts.Tokens{}, err
	}
	return tokensOf(res.GetTokens()), nil
}

// Refresh exchanges a refresh token for the next tokens.
func (a *Accounts) Refresh(ctx context.Context, r accounts.RefreshRequest) (accounts.Tokens, error) {
	res, err := call(withClient(ctx, r.IP, r.UserAgent), a.c, false, func(ctx context.Context) (*basaltv1.RefreshResponse, error) {
		return a.auth.Refresh(ctx, &basaltv1.RefreshRequest{RefreshToken: r.RefreshToken})
	})
	if err != nil {
		return accounts.Tokens{}, err
	}
	return tokensOf(res.GetTokens()), nil
}

// Logout ends the caller's session.
func (a *Accounts) Logout(ctx context.Context) error {
	_, err := call(ctx, a.c, false, func(ctx context.Context) (*basaltv1.LogoutResponse, error) {
		return a.auth.Logout(ctx, &basaltv1.LogoutRequest{})
	})
	return err
}

// Me returns the caller's account (a read: retried).
func (a *Accounts) Me(ctx context.Context) (accounts.Account, error) {
	res, err := call(ctx, a.c, true, func(ctx context.Context) (*basaltv1.GetMeResponse, error) {
		return a.auth.GetMe(ctx, &basaltv1.GetMeRequest{})
	})
	if err != nil {
		return accounts.Account{}, err
	}
	return accountOf(res.GetAccount()), nil
}

// DeleteMe deletes the caller's account.
func (a *Accounts) DeleteMe(ctx context.Context, password string) error {
	_, err := call(ctx, a.c, false, func(ctx context.Context) (*basaltv1.DeleteMeResponse, error) {
		return a.auth.DeleteMe(ctx, &basaltv1.DeleteMeRequest{Password: password})
	})
	return err
}

// ChangePassword sets the caller's new password.
func (a *Accounts) ChangePassword(ctx context.Context, r accounts.ChangePasswordRequest) error {
	_, err := call(ctx, a.c, false, func(ctx context.Context) (*basaltv1.ChangePasswordResponse, error) {
		return a.auth.ChangePassword(ctx, &basaltv1.ChangePasswordRequest{CurrentPassword: r.CurrentPassword, NewPassword: r.NewPassword})
	})
	return err
}

// RequestPasswordReset mails a reset token to email, if it has an account.
func (a *Accounts) RequestPasswordReset(ctx context.Context, email string) error {
	_, err := call(ctx, a.c, false, func(ctx context.Context) (*basaltv1.RequestPasswordResetResponse, error) {
		return a.auth.RequestPasswordReset(ctx, &basaltv1.RequestPasswordResetRequest{Email: email})
	})
	return err
}

// ResetPassword sets a new password with a reset token.
func (a *Accounts) ResetPassword(ctx context.Context, r accounts.ResetPasswordRequest) error {
	_, err := call(withClient(ctx, r.IP, ""), a.c, false, func(ctx context.Context) (*basaltv1.ResetPasswordResponse, error) {
		return a.auth.ResetPassword(ctx, &basaltv1.ResetPasswordRequest{Token: r.Token, NewPassword: r.NewPassword})
	})
	return err
}

// RequestVerification mails the caller a verification token.
func (a *Accounts) RequestVerification(ctx context.Context) error {
	_, err := call(ctx, a.c, false, func(ctx context.Context) (*basaltv1.RequestVerificationResponse, error) {
		return a.auth.RequestVerification(ctx, &basaltv1.RequestVerificationRequest{})
	})
	return err
}

// VerifyEmail verifies an address with its token.
func (a *Accounts) VerifyEmail(ctx context.Context, token string) error {
	_, err := call(ctx, a.c, false, func(ctx context.Context) (*basaltv1.VerifyEmailResponse, error) {
		return a.auth.VerifyEmail(ctx, &basaltv1.VerifyEmailRequest{Token: token})
	})
	return err
}

// Sessions returns the caller's sessions (a read: retried).
func (a *Accounts) Sessions(ctx context.Context) ([]accounts.Session, error) {
	res, err := call(ctx, a.c, true, func(ctx context.Context) (*basaltv1.ListSessionsResponse, error) {
		return a.auth.ListSessions(ctx, &basaltv1.ListSessionsRequest{})
	})
	if err != nil {
		return nil, err
	}
	return sessionsOf(res.GetItems(), auth.FromContext(ctx).ID), nil
}

// RevokeSession ends one of the caller's sessions.
func (a *Accounts) RevokeSession(ctx context.Context, id string) error {
	_, err := call(ctx, a.c, false, func(ctx context.Context) (*basaltv1.RevokeSessionResponse, error) {
		return a.auth.RevokeSession(ctx, &basaltv1.RevokeSessionRequest{Id: id})
	})
	return err
}

// ListAccounts returns a page of accounts (a read: retried).
func (a *Accounts) ListAccounts(ctx context.Context, q accounts.AccountQuery) (accounts.AccountPage, error) {
	res, err := call(ctx, a.c, true, func(ctx context.Context) (*basaltv1.ListAccountsResponse, error) {
		return a.admin.ListAccounts(ctx, &basaltv1.ListAccountsRequest{Cursor: q.After, Limit: int32(min(max(q.Limit, 0), 1<<30)), Email: q.Email})
	})
	if err != nil {
		return accounts.AccountPage{}, err
	}
	page := accounts.AccountPage{Items: make([]accounts.Account, len(res.GetItems())), Next: res.GetNextCursor()}
	for i, m := range res.GetItems() {
		page.Items[i] = accountOf(m)
	}
	return page, nil
}

// GetAccount returns an account (a read: retried).
func (a *Accounts) GetAccount(ctx context.Context, id string) (accounts.Account, error) {
	res, err := call(ctx, a.c, true, func(ctx context.Context) (*basaltv1.GetAccountResponse, error) {
		return a.admin.GetAccount(ctx, &basaltv1.GetAccountRequest{Id: id})
	})
	if err != nil {
		return accounts.Account{}, err
	}
	return accountOf(res.GetAccount()), nil
}

// CreateAccount makes an account.
func (a *Accounts) CreateAccount(ctx context.Context, n accounts.NewAccount) (accounts.Account, error) {
	res, err := call(ctx, a.c, false, func(ctx context.Context) (*basaltv1.CreateAccountResponse, error) {
		return a.admin.CreateAccount(ctx, &basaltv1.CreateAccountRequest{Email: n.Email, Password: n.Password, Roles: n.Roles, Verified: n.Verified})
	})
	if err != nil {
		return accounts.Account{}, err
	}
	return accountOf(res.GetAccount()), nil
}

// UpdateAccount changes an account.
func (a *Accounts) UpdateAccount(ctx context.Context, id string, u accounts.AccountUpdate) (accounts.Account, error) {
	req := &basaltv1.UpdateAccountRequest{Id: id, Disabled: u.Disabled, Verified: u.Verified}
	if u.Roles != nil {
		req.Roles = &basaltv1.Roles{Roles: *u.Roles}
	}
	res, err := call(ctx, a.c, false, func(ctx context.Context) (*basaltv1.UpdateAccountResponse, error) {
		return a.admin.UpdateAccount(ctx, req)
	})
	if err != nil {
		return accounts.Account{}, err
	}
	return accountOf(res.GetAccount()), nil
}

// DeleteAccount deletes an account.
func (a *Accounts) DeleteAccount(ctx context.Context, id string) error {
	_, err := call(ctx, a.c, false, func(ctx context.Context) (*basaltv1.DeleteAccountResponse, error) {
		return a.admin.DeleteAccount(ctx, &basaltv1.DeleteAccountRequest{Id: id})
	})
	return err
}

// Invite invites an address to sign up.
func (a *Accounts) Invite(ctx context.Context, r accounts.InviteRequest) (accounts.Invitation, error) {
	res, err := call(ctx, a.c, false, func(ctx context.Context) (*basaltv1.InviteAccountResponse, error) {
		return a.admin.InviteAccount(ctx, &basaltv1.InviteAccountRequest{Email: r.Email, Roles: r.Roles})
	})
	if err != nil {
		return accounts.Invitation{}, err
	}
	return accounts.Invitation{Email: res.GetEmail(), Roles: res.GetRoles(), ExpiresAt: timeOf(res.GetExpiresAt())}, nil
}

// AccountSessions returns an account's sessions (a read: retried).
func (a *Accounts) AccountSessions(ctx context.Context, accountID string) ([]accounts.Session, error) {
	res, err := call(ctx, a.c, true, func(ctx context.Context) (*basaltv1.ListAccountSessionsResponse, error) {
		return a.admin.ListAccountSessions(ctx, &basaltv1.ListAccountSessionsRequest{AccountId: accountID})
	})
	if err != nil {
		return nil, err
	}
	return sessionsOf(res.GetItems(), accountID), nil
}

// RevokeAnySession ends any account's session.
func (a *Accounts) RevokeAnySession(ctx context.Context, id string) error {
	_, err := call(ctx, a.c, false, func(ctx context.Context) (*basaltv1.RevokeAccountSessionResponse, error) {
		return a.admin.RevokeAccountSession(ctx, &basaltv1.RevokeAccountSessionRequest{Id: id})
	})
	return err
}

// ListSigningKeys returns the signing keys (a read: retried).
func (a *Accounts) ListSigningKeys(ctx context.Context) ([]accounts.SigningKey, error) {
	res, err := call(ctx, a.c, true, func(ctx context.Context) (*basaltv1.ListSigningKeysResponse, error) {
		return a.admin.ListSigningKeys(ctx, &basaltv1.ListSigningKeysRequest{})
	})
	if err != nil {
		return nil, err
	}
	out := make([]accounts.SigningKey, len(res.GetItems()))
	for i, k := range res.GetItems() {
		out[i] = signingKeyOf(k)
	}
	return out, nil
}

// RotateKeys adds a signing key.
func (a *Accounts) RotateKeys(ctx context.Context) (accounts.SigningKey, error) {
	res, err := call(ctx, a.c, false, func(ctx context.Context) (*basaltv1.RotateSigningKeysResponse, error) {
		return a.admin.RotateSigningKeys(ctx, &basaltv1.RotateSigningKeysRequest{})
	})
	if err != nil {
		return accounts.SigningKey{}, err
	}
	return signingKeyOf(res.GetKey()), nil
}

// CreateAPIKey makes an API key; the secret is returned once.
func (a *Accounts) CreateAPIKey(ctx context.Context, spec accounts.APIKeySpec) (accounts.APIKey, string, error) {
	req := &basaltv1.CreateAPIKeyRequest{Name: spec.Name, Roles: spec.Roles, Scopes: spec.Scopes}
	if !spec.ExpiresAt.IsZero() {
		req.ExpiresAt = timestamppb.New(spec.ExpiresAt)
	}
	res, err := call(ctx, a.c, false, func(ctx context.Context) (*basaltv1.CreateAPIKeyResponse, error) {
		return a.keys.CreateAPIKey(ctx, req)
	})
	if err != nil {
		return accounts.APIKey{}, "", err
	}
	return apiKeyOf(res.GetApiKey()), res.GetKey(), nil
}

// ListAPIKeys returns the API keys the caller may see (a read: retried).
func (a *Accounts) ListAPIKeys(ctx context.Context) ([]accounts.APIKey, error) {
	res, err := call(ctx, a.c, true, func(ctx context.Context) (*basaltv1.ListAPIKeysResponse, error) {
		return a.keys.ListAPIKeys(ctx, &basaltv1.ListAPIKeysRequest{})
	})
	if err != nil {
		return nil, err
	}
	out := make([]accounts.APIKey, len(res.GetItems()))
	for i, k := range res.GetItems() {
		out[i] = apiKeyOf(k)
	}
	return out, nil
}

// RevokeAPIKey revokes an API key.
func (a *Accounts) RevokeAPIKey(ctx context.Context, id string) error {
	_, err := call(ctx, a.c, false, func(ctx context.Context) (*basaltv1.RevokeAPIKeyResponse, error) {
		return a.keys.RevokeAPIKey(ctx, &basaltv1.RevokeAPIKeyRequest{Id: id})
	})
	return err
}

// timeOf is a message's time: zero when unset.
func timeOf(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

func accountOf(m *basaltv1.Account) accounts.Account {
	if m == nil {
		return accounts.Account{}
	}
	return accounts.Account{ID: m.GetId(), Email: m.GetEmail(), Roles: m.GetRoles(), VerifiedAt: timeOf(m.GetVerifiedAt()),
		DisabledAt: disabledAt(m), CreatedAt: timeOf(m.GetCreatedAt()), UpdatedAt: timeOf(m.GetUpdatedAt())}
}

// disabledAt stands for the disabled flag of an account message, which
// carries no time: the account service reports only whether an account
// is disabled.
func disabledAt(m *basaltv1.Account) time.Time {
	if !m.GetDisabled() {
		return time.Time{}
	}
	return timeOf(m.GetUpdatedAt())
}

// sessionsOf are session messages as the service returns them, of the
// account accountID.
func sessionsOf(ms []*basaltv1.Session, accountID string) []accounts.Session {
	out := make([]accounts.Session, len(ms))
	for i, m := range ms {
		out[i] = sessionOf(m, accountID)
	}
	return out
}

func sessionOf(m *basaltv1.Session, accountID string) accounts.Session {
	return accounts.Session{ID: m.GetId(), AccountID: accountID, Device: m.GetDevice(), UserAgent: m.GetUserAgent(), IP: m.GetIp(),
		CreatedAt: timeOf(m.GetCreatedAt()), LastUsedAt: timeOf(m.GetLastUsedAt()), ExpiresAt: timeOf(m.GetExpiresAt()),
		RevokedAt: timeOf(m.GetRevokedAt()), RevokeReason: m.GetRevokeReason()}
}

func tokensOf(m *basaltv1.Tokens) accounts.Tokens {
	return accounts.Tokens{AccessToken: m.GetAccessToken(), TokenType: m.GetTokenType(), ExpiresIn: m.GetExpiresIn(),
		AccessExpiresAt: timeOf(m.GetAccessTokenExpiresAt()), RefreshToken: m.GetRefreshToken(),
		RefreshExpiresAt: timeOf(m.GetRefreshTokenExpiresAt()), Session: sessionOf(m.GetSession(), "")}
}

func apiKeyOf(m *basaltv1.APIKey) accounts.APIKey {
	return accounts.APIKey{ID: m.GetId(), Name: m.GetName(), Prefix: m.GetPrefix(), Roles: m.GetRoles(), Scopes: m.GetScopes(),
		CreatedBy: m.GetCreatedBy(), CreatedByKey: m.GetCreatedByKey(), CreatedAt: timeOf(m.GetCreatedAt()),
		ExpiresAt: timeOf(m.GetExpiresAt()), LastUsedAt: timeOf(m.GetLastUsedAt()), RevokedAt: timeOf(m.GetRevokedAt())}
}

func signingKeyOf(m *basaltv1.SigningKey) accounts.SigningKey {
	return accounts.SigningKey{ID: m.GetKid(), CreatedAt: timeOf(m.GetCreatedAt()), NotAfter: timeOf(m.GetNotAfter())}
}
