package rpcapi

import (
	"context"
	"time"

	"connectrpc.com/connect/v2"
	"google.golang.org/protobuf/types/known/timestamppb"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/rpcfault"
)

// Accounts are the account calls the RPC API makes of the account
// service; *accounts.Service implements them.
type Accounts interface {
	accounts.Auth
	accounts.Admin
	accounts.APIKeys
}

var _ Accounts = (*accounts.Service)(nil)

// publicProcedures need no credential: the guard does not authenticate
// their callers (a credential sent is ignored, as REST ignores one on the
// same routes), and they answer anonymous callers.
var publicProcedures = map[string]bool{
	basaltv1connect.AuthServiceSignUpProcedure:               true,
	basaltv1connect.AuthServiceLoginProcedure:                true,
	basaltv1connect.AuthServiceRefreshProcedure:              true,
	basaltv1connect.AuthServiceRequestPasswordResetProcedure: true,
	basaltv1connect.AuthServiceResetPasswordProcedure:        true,
	basaltv1connect.AuthServiceVerifyEmailProcedure:          true,
}

// maxListCursor bounds the cursor of a list of accounts (an account id).
const maxListCursor = 1024

// callerOf is the client address and User-Agent of a call, for the
// account service's throttles and session records.
func callerOf(ctx context.Context) (ip, userAgent string) {
	call := callOf(ctx)
	if call.forwarded {
		return call.ip, call.userAgent // an internal call's: the client's
	}
	ip = call.ip
	if info, ok := connect.CallInfoForServerContext(ctx); ok {
		userAgent = info.RequestHeader().Get("User-Agent")
	}
	return ip, userAgent
}

// NewAuthService returns the handlers of basalt.v1.AuthService over svc.
func NewAuthService(svc Accounts) basaltv1connect.AuthServiceHandler { return authService{svc: svc} }

type authService struct{ svc Accounts }

func (s authService) SignUp(ctx context.Context, r *basaltv1.SignUpRequest) (*basaltv1.SignUpResponse, error) {
	ip, _ := callerOf(ctx)
	if err := s.svc.SignUp(ctx, accounts.SignUpRequest{Email: r.GetEmail(), Password: r.GetPassword(), Invite: r.GetInvite(), IP: ip}); err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.SignUpResponse{}, nil
}

func (s authService) Login(ctx context.Context, r *basaltv1.LoginRequest) (*basaltv1.LoginResponse, error) {
	ip, ua := callerOf(ctx)
	t, err := s.svc.Login(ctx, accounts.LoginRequest{Email: r.GetEmail(), Password: r.GetPassword(), Device: r.GetDevice(), UserAgent: ua, IP: ip})
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.LoginResponse{Tokens: tokens(t)}, nil
}

func (s authService) Refresh(ctx context.Context, r *basaltv1.RefreshRequest) (*basaltv1.RefreshResponse, error) {
	ip, ua := callerOf(ctx)
	t, err := s.svc.Refresh(ctx, accounts.RefreshRequest{RefreshToken: r.GetRefreshToken(), UserAgent: ua, IP: ip})
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.RefreshResponse{Tokens: tokens(t)}, nil
}

func (s authService) Logout(ctx context.Context, _ *basaltv1.LogoutRequest) (*basaltv1.LogoutResponse, error) {
	if err := s.svc.Logout(ctx); err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.LogoutResponse{}, nil
}

func (s authService) GetMe(ctx context.Context, _ *basaltv1.GetMeRequest) (*basaltv1.GetMeResponse, error) {
	a, err := s.svc.Me(ctx)
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.GetMeResponse{Account: account(a)}, nil
}

func (s authService) DeleteMe(ctx context.Context, r *basaltv1.DeleteMeRequest) (*basaltv1.DeleteMeResponse, error) {
	if err := s.svc.DeleteMe(ctx, r.GetPassword()); err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.DeleteMeResponse{}, nil
}

func (s authService) ChangePassword(ctx context.Context, r *basaltv1.ChangePasswordRequest) (*basaltv1.ChangePasswordResponse, error) {
	err := s.svc.ChangePassword(ctx, accounts.ChangePasswordRequest{CurrentPassword: r.GetCurrentPassword(), NewPassword: r.GetNewPassword()})
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.ChangePasswordResponse{}, nil
}

func (s authService) RequestPasswordReset(ctx context.Context, r *basaltv1.RequestPasswordResetRequest) (*basaltv1.RequestPasswordResetResponse, error) {
	if err := s.svc.RequestPasswordReset(ctx, r.GetEmail()); err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.RequestPasswordResetResponse{}, nil
}

func (s authService) ResetPassword(ctx context.Context, r *basaltv1.ResetPasswordRequest) (*basaltv1.ResetPasswordResponse, error) {
	ip, _ := callerOf(ctx)
	if err := s.svc.ResetPassword(ctx, accounts.ResetPasswordRequest{Token: r.GetToken(), NewPassword: r.GetNewPassword(), IP: ip}); err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.ResetPasswordResponse{}, nil
}

func (s authService) RequestVerification(ctx context.Context, _ *basaltv1.RequestVerificationRequest) (*basaltv1.RequestVerificationResponse, error) {
	if err := s.svc.RequestVerification(ctx); err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.RequestVerificationResponse{}, nil
}

func (s authService) VerifyEmail(ctx context.Context, r *basaltv1.VerifyEmailRequest) (*basaltv1.VerifyEmailResponse, error) {
	if err := s.svc.VerifyEmail(ctx, r.GetToken()); err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.VerifyEmailResponse{}, nil
}

func (s authService) ListSessions(ctx context.Context, _ *basaltv1.ListSessionsRequest) (*basaltv1.ListSessionsResponse, error) {
	ss, err := s.svc.Sessions(ctx)
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.ListSessionsResponse{Items: sessions(ss, auth.FromContext(ctx).SessionID)}, nil
}

func (s authService) RevokeSession(ctx context.Context, r *basaltv1.RevokeSessionRequest) (*basaltv1.RevokeSessionResponse, error) {
	if err := s.svc.RevokeSession(ctx, r.GetId()); err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.RevokeSessionResponse{}, nil
}

// NewAdminService returns the handlers of basalt.v1.AdminService over svc.
func NewAdminService(svc Accounts) basaltv1connect.AdminServiceHandler { return adminService{svc: svc} }

type adminService struct{ svc Accounts }

func (s adminService) ListAccounts(ctx context.Context, r *basaltv1.ListAccountsRequest) (*basaltv1.ListAccountsResponse, error) {
	if r.GetLimit() < 0 {
		return nil, rpcfault.Error(invalid("limit must not be negative", "/limit"))
	}
	if len(r.GetCursor()) > maxListCursor {
		return nil, rpcfault.Error(invalid("cursor must be the next_cursor of a previous page", "/cursor"))
	}
	accts, err := s.svc.ListAccounts(ctx, accounts.AccountQuery{After: r.GetCursor(), Limit: int(r.GetLimit()), Email: r.GetEmail()})
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	out := &basaltv1.ListAccountsResponse{Items: make([]*basaltv1.Account, len(accts.Items)), NextCursor: accts.Next}
	for i, a := range accts.Items {
		out.Items[i] = account(a)
	}
	return out, nil
}

func (s adminService) GetAccount(ctx context.Context, r *basaltv1.GetAccountRequest) (*basaltv1.GetAccountResponse, error) {
	a, err := s.svc.GetAccount(ctx, r.GetId())
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.GetAccountResponse{Account: account(a)}, nil
}

func (s adminService) CreateAccount(ctx context.Context, r *basaltv1.CreateAccountRequest) (*basaltv1.CreateAccountResponse, error) {
	a, err := s.svc.CreateAccount(ctx, accounts.NewAccount{Email: r.GetEmail(), Password: r.GetPassword(), Roles: r.GetRoles(), Verified: r.GetVerified()})
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.CreateAccountResponse{Account: account(a)}, nil
}

func (s adminService) UpdateAccount(ctx context.Context, r *basaltv1.UpdateAccountRequest) (*basaltv1.UpdateAccountResponse, error) {
	var u accounts.AccountUpdate
	if r.Disabled != nil {
		d := r.GetDisabled()
		u.Disabled = &d
	}
	if r.Verified != nil {
		v := r.GetVerified()
		u.Verified = &v
	}
	if r.GetRoles() != nil {
		roles := r.GetRoles().GetRoles()
		if roles == nil {
			roles = []string{}
		}
		u.Roles = &roles
	}
	a, err := s.svc.UpdateAccount(ctx, r.GetId(), u)
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.UpdateAccountResponse{Account: account(a)}, nil
}

func (s adminService) DeleteAccount(ctx context.Context, r *basaltv1.DeleteAccountRequest) (*basaltv1.DeleteAccountResponse, error) {
	if err := s.svc.DeleteAccount(ctx, r.GetId()); err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.DeleteAccountResponse{}, nil
}

func (s adminService) InviteAccount(ctx context.Context, r *basaltv1.InviteAccountRequest) (*basaltv1.InviteAccountResponse, error) {
	inv, err := s.svc.Invite(ctx, accounts.InviteRequest{Email: r.GetEmail(), Roles: r.GetRoles()})
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.InviteAccountResponse{Email: inv.Email, Roles: inv.Roles, ExpiresAt: stamp(inv.ExpiresAt)}, nil
}

func (s adminService) ListAccountSessions(ctx context.Context, r *basaltv1.ListAccountSessionsRequest) (*basaltv1.ListAccountSessionsResponse, error) {
	ss, err := s.svc.AccountSessions(ctx, r.GetAccountId())
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.ListAccountSessionsResponse{Items: sessions(ss, auth.FromContext(ctx).SessionID)}, nil
}

func (s adminService) RevokeAccountSession(ctx context.Context, r *basaltv1.RevokeAccountSessionRequest) (*basaltv1.RevokeAccountSessionResponse, error) {
	if err := s.svc.RevokeAnySession(ctx, r.GetId()); err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.RevokeAccountSessionResponse{}, nil
}

func (s adminService) ListSigningKeys(ctx context.Context, _ *basaltv1.ListSigningKeysRequest) (*basaltv1.ListSigningKeysResponse, error) {
	keys, err := s.svc.ListSigningKeys(ctx)
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	out := &basaltv1.ListSigningKeysResponse{Items: make([]*basaltv1.SigningKey, len(keys))}
	for i, k := range keys {
		out.Items[i] = signingKey(k)
	}
	return out, nil
}

func (s adminService) RotateSigningKeys(ctx context.Context, _ *basaltv1.RotateSigningKeysRequest) (*basaltv1.RotateSigningKeysResponse, error) {
	k, err := s.svc.RotateKeys(ctx)
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.RotateSigningKeysResponse{Key: signingKey(k)}, nil
}

// NewAPIKeyService returns the handlers of basalt.v1.APIKeyService over
// svc.
func NewAPIKeyService(svc Accounts) basaltv1connect.APIKeyServiceHandler {
	return apiKeyService{svc: svc}
}

type apiKeyService struct{ svc Accounts }

func (s apiKeyService) CreateAPIKey(ctx context.Context, r *basaltv1.CreateAPIKeyRequest) (*basaltv1.CreateAPIKeyResponse, error) {
	spec := accounts.APIKeySpec{Name: r.GetName(), Roles: r.GetRoles(), Scopes: r.GetScopes()}
	if r.GetExpiresAt() != nil {
		if err := r.GetExpiresAt().CheckValid(); err != nil {
			return nil, rpcfault.Error(invalid("expires_at is not a valid time", "/expires_at"))
		}
		spec.ExpiresAt = r.GetExpiresAt().AsTime()
	}
	k, secret, err := s.svc.CreateAPIKey(ctx, spec)
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.CreateAPIKeyResponse{ApiKey: apiKey(k), Key: secret}, nil
}

func (s apiKeyService) ListAPIKeys(ctx context.Context, _ *basaltv1.ListAPIKeysRequest) (*basaltv1.ListAPIKeysResponse, error) {
	keys, err := s.svc.ListAPIKeys(ctx)
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	out := &basaltv1.ListAPIKeysResponse{Items: make([]*basaltv1.APIKey, len(keys))}
	for i, k := range keys {
		out.Items[i] = apiKey(k)
	}
	return out, nil
}

func (s apiKeyService) RevokeAPIKey(ctx context.Context, r *basaltv1.RevokeAPIKeyRequest) (*basaltv1.RevokeAPIKeyResponse, error) {
	if err := s.svc.RevokeAPIKey(ctx, r.GetId()); err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.RevokeAPIKeyResponse{}, nil
}

// stamp is t as a message field: unset when t is zero.
func stamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func account(a accounts.Account) *basaltv1.Account {
	return &basaltv1.Account{Id: a.ID, Email: a.Email, Roles: a.Roles, Verified: !a.VerifiedAt.IsZero(), VerifiedAt: stamp(a.VerifiedAt),
		Disabled: !a.DisabledAt.IsZero(), CreatedAt: stamp(a.CreatedAt), UpdatedAt: stamp(a.UpdatedAt)}
}

// session is s as a message; current is the caller's session id.
func session(s accounts.Session, current string) *basaltv1.Session {
	return &basaltv1.Session{Id: s.ID, Device: s.Device, UserAgent: s.UserAgent, Ip: s.IP, CreatedAt: stamp(s.CreatedAt),
		LastUsedAt: stamp(s.LastUsedAt), ExpiresAt: stamp(s.ExpiresAt), RevokedAt: stamp(s.RevokedAt), RevokeReason: s.RevokeReason,
		Current: current != "" && s.ID == current}
}

func sessions(ss []accounts.Session, current string) []*basaltv1.Session {
	out := make([]*basaltv1.Session, len(ss))
	for i, s := range ss {
		out[i] = session(s, current)
	}
	return out
}

func tokens(t accounts.Tokens) *basaltv1.Tokens {
	return &basaltv1.Tokens{AccessToken: t.AccessToken, TokenType: t.TokenType, ExpiresIn: t.ExpiresIn,
		AccessTokenExpiresAt: stamp(t.AccessExpiresAt), RefreshToken: t.RefreshToken, RefreshTokenExpiresAt: stamp(t.RefreshExpiresAt),
		Session: session(t.Session, t.Session.ID)}
}

func apiKey(k accounts.APIKey) *basaltv1.APIKey {
	return &basaltv1.APIKey{Id: k.ID, Name: k.Name, Prefix: k.Prefix, Roles: k.Roles, Scopes: k.Scopes, CreatedBy: k.CreatedBy,
		CreatedByKey: k.CreatedByKey, CreatedAt: stamp(k.CreatedAt), ExpiresAt: stamp(k.ExpiresAt), LastUsedAt: stamp(k.LastUsedAt),
		RevokedAt: stamp(k.RevokedAt)}
}

func signingKey(k accounts.SigningKey) *basaltv1.SigningKey {
	return &basaltv1.SigningKey{Kid: k.ID, CreatedAt: stamp(k.CreatedAt), NotAfter: stamp(k.NotAfter)}
}

// invalid is an invalid request whose fault is the field at pointer.
func invalid(msg, pointer string) error {
	return &fault.Error{Kind: fault.Invalid, Op: op, Msg: msg, Fields: []fault.FieldError{{Pointer: pointer, Message: msg}}}
}
