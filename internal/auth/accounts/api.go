package accounts

// This file declares the requests and answers of the account service, the
// one API every transport calls.

import (
	"context"
	"time"
)

// SignUpRequest creates an account. Invite is the token of an invitation
// to Email (see Service.Invite): needed in SignupInvite mode, accepted in
// SignupOpen mode too.
type SignUpRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Invite   string `json:"invite,omitempty"`
	IP       string `json:"-"`
}

// InviteRequest invites an address to sign up with roles.
type InviteRequest struct {
	Email string   `json:"email"`
	Roles []string `json:"roles,omitempty"`
}

// Invitation is an invitation that was sent: to whom, with which roles,
// valid until when.
type Invitation struct {
	Email     string
	Roles     []string
	ExpiresAt time.Time
}

// LoginRequest starts a session. Device is a label the client chooses
// ("Ada's phone"); UserAgent and IP come from the transport.
type LoginRequest struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	Device    string `json:"device,omitempty"`
	UserAgent string `json:"-"`
	IP        string `json:"-"`
}

// RefreshRequest exchanges a refresh token for its successor.
type RefreshRequest struct {
	RefreshToken string `json:"refreshToken"`
	UserAgent    string `json:"-"`
	IP           string `json:"-"`
}

// Tokens is the answer to a login or a refresh.
type Tokens struct {
	AccessToken      string    `json:"accessToken"`
	TokenType        string    `json:"tokenType"` // always "Bearer"
	ExpiresIn        int64     `json:"expiresIn"` // seconds
	AccessExpiresAt  time.Time `json:"accessTokenExpiresAt"`
	RefreshToken     string    `json:"refreshToken"`
	RefreshExpiresAt time.Time `json:"refreshTokenExpiresAt"` // the earlier of the idle and the absolute end
	Session          Session   `json:"-"`
}

// ChangePasswordRequest changes the caller's password.
type ChangePasswordRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

// ResetPasswordRequest sets a new password with an emailed reset token. IP
// comes from the transport.
type ResetPasswordRequest struct {
	Token       string `json:"token"`
	NewPassword string `json:"newPassword"`
	IP          string `json:"-"`
}

// AccountUpdate is an admin's change to an account; nil fields stay.
type AccountUpdate struct {
	Disabled *bool     `json:"disabled,omitempty"`
	Roles    *[]string `json:"roles,omitempty"`
	// Verified marks the address verified now (true, when it was not) or
	// not verified (false), as a verification by mail would.
	Verified *bool `json:"verified,omitempty"`
}

// NewAccount is an admin's request to create an account.
type NewAccount struct {
	Email    string   `json:"email"`
	Password string   `json:"password"`
	Roles    []string `json:"roles,omitempty"`
	Verified bool     `json:"verified,omitempty"`
}

// APIKeySpec describes an API key to create.
type APIKeySpec struct {
	Name      string    `json:"name"`
	Roles     []string  `json:"roles,omitempty"`
	Scopes    []string  `json:"scopes"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// The calls every transport (REST, gRPC, and a client of an accounts
// component in another process) makes of the account service, grouped as
// the basalt.v1 services group them; *Service implements them. Each
// authorizes its caller (auth.FromContext) itself.

// AccountQuery asks for a page of accounts by ID: those whose ID sorts
// after After (the cursor of the previous page; "" for the first), at most
// Limit (the default page size when 0), and, when Email is not empty,
// only those whose email address contains it (ignoring case).
type AccountQuery struct {
	After string
	Limit int
	Email string
}

// AccountPage is a page of accounts, oldest first.
type AccountPage struct {
	Items []Account
	// Next is the cursor (the after) of the next page; "" on the last.
	Next string
}

// Auth are the caller's own account calls.
type Auth interface {
	SignUp(ctx context.Context, r SignUpRequest) error
	Login(ctx context.Context, r LoginRequest) (Tokens, error)
	Refresh(ctx context.Context, r RefreshRequest) (Tokens, error)
	Logout(ctx context.Context) error
	Me(ctx context.Context) (Account, error)
	DeleteMe(ctx context.Context, password string) error
	ChangePassword(ctx context.Context, r ChangePasswordRequest) error
	RequestPasswordReset(ctx context.Context, email string) error
	ResetPassword(ctx context.Context, r ResetPasswordRequest) error
	RequestVerification(ctx context.Context) error
	VerifyEmail(ctx context.Context, token string) error
	Sessions(ctx context.Context) ([]Session, error)
	RevokeSession(ctx context.Context, id string) error
}

// Admin are the administration calls: every account, its sessions, the
// signing keys.
type Admin interface {
	ListAccounts(ctx context.Context, q AccountQuery) (AccountPage, error)
	GetAccount(ctx context.Context, id string) (Account, error)
	CreateAccount(ctx context.Context, n NewAccount) (Account, error)
	UpdateAccount(ctx context.Context, id string, u AccountUpdate) (Account, error)
	DeleteAccount(ctx context.Context, id string) error
	Invite(ctx context.Context, r InviteRequest) (Invitation, error)
	AccountSessions(ctx context.Context, accountID string) ([]Session, error)
	RevokeAnySession(ctx context.Context, id string) error
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	RotateKeys(ctx context.Context) (SigningKey, error)
}

// APIKeys are the API key calls.
type APIKeys interface {
	CreateAPIKey(ctx context.Context, spec APIKeySpec) (APIKey, string, error)
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	RevokeAPIKey(ctx context.Context, id string) error
}

var (
	_ Auth    = (*Service)(nil)
	_ Admin   = (*Service)(nil)
	_ APIKeys = (*Service)(nil)
)
