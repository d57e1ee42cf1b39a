package accounts

import (
	"context"
	"time"
)

// Account is a user who signs in with an email address and a password.
type Account struct {
	ID           string // UUIDv7
	Email        string // normalized: trimmed, lower-case; unique
	PasswordHash string // argon2id PHC string
	Roles        []string
	VerifiedAt   time.Time // zero until the email address is verified
	DisabledAt   time.Time // zero unless an admin disabled the account
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Session is one login of an account on one device. Its refresh tokens
// rotate on every use; revoking it ends every token issued in it.
type Session struct {
	ID         string // UUIDv7
	AccountID  string
	Device     string // client-supplied label, at most 128 bytes
	UserAgent  string // at most 512 bytes
	IP         string
	CreatedAt  time.Time
	LastUsedAt time.Time // last refresh (or login)
	ExpiresAt  time.Time // absolute lifetime end
	RevokedAt  time.Time // zero while the session is live
	// RevokeReason says why: "logout", "reuse", "password", "admin", …
	RevokeReason string
}

// RefreshToken is one link of a session's refresh token chain. Only the
// SHA-256 of the token is stored.
type RefreshToken struct {
	Hash       []byte // SHA-256 of the token; primary key
	SessionID  string
	Generation int64     // 1 for the token issued at login, +1 per rotation
	CreatedAt  time.Time //
	UsedAt     time.Time // zero until the token is exchanged for its successor
}

// OneTimeToken is an emailed token (verification, password reset,
// invitation). Only its SHA-256 is stored; it is deleted when used.
type OneTimeToken struct {
	Hash    []byte
	Purpose string // PurposeVerifyEmail, PurposeResetPassword or PurposeInvite
	// AccountID is the account the token acts on; empty for an
	// invitation, whose address has no account yet.
	AccountID string
	// Email and Roles are set on invitations: the invited address
	// (normalized) and the roles its account gets.
	Email     string
	Roles     []string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// One-time token purposes.
const (
	PurposeVerifyEmail   = "verify-email"
	PurposeResetPassword = "reset-password"
	PurposeInvite        = "invite"
)

// APIKey is a credential for a service. Only the SHA-256 of the secret is
// stored; Prefix is the first characters of the key, shown in listings so
// that people can tell keys apart.
type APIKey struct {
	ID        string // UUIDv7
	Name      string
	Prefix    string
	Hash      []byte // SHA-256 of the whole key; unique
	Roles     []string
	Scopes    []string
	CreatedBy string // account behind the creator (see auth.Principal.Account), may be empty
	// CreatedByKey is the API key that created this one, empty when an
	// account (or the operator's command line) did.
	CreatedByKey string
	CreatedAt    time.Time
	ExpiresAt    time.Time // zero: never
	LastUsedAt   time.Time // zero: never used
	RevokedAt    time.Time // zero while usable
}

// SigningKey is an Ed25519 key that signs access tokens. The newest key
// that has not been superseded signs; every key verifies until NotAfter.
type SigningKey struct {
	ID        string // the kid
	Private   []byte // ed25519.PrivateKey (64 bytes)
	CreatedAt time.Time
	// NotAfter is zero for the current key. Rotation sets it on the
	// previous keys to the moment their last token expires.
	NotAfter time.Time
}

// Revocation records that a session or an API key stopped being valid, so
// that every process learns it (see package revocation).
type Revocation struct {
	ID        string    // session ID or API key ID
	RevokedAt time.Time // time of the revoking transaction
}

// Store is what the account service needs from a storage engine. Like
// docstore.Store, it keeps no business rules.
//
// Errors: a missing row is fault.NotFound; an insert whose key (or unique
// email, or API key hash) exists is fault.Conflict; an unreachable database
// is fault.Unavailable. Timestamps round-trip at microsecond precision, in
// UTC. Slices that were empty may come back nil.
type Store interface {
	// AccountByID and AccountByEmail read one account.
	AccountByID(ctx context.Context, id string) (Account, error)
	AccountByEmail(ctx context.Context, email string) (Account, error)
	// ListAccounts returns up to q.Limit accounts with ID > q.After, by
	// ID, and when q.Email is not empty only those whose (lower-case)
	// address contains it; q.Email is lower case.
	ListAccounts(ctx context.Context, q AccountQuery) ([]Account, error)
	// SessionByID reads one session.
	SessionByID(ctx context.Context, id string) (Session, error)
	// ListSessions returns the sessions of an account, newest first,
	// revoked ones included.
	ListSessions(ctx context.Context, accountID string) ([]Session, error)
	// APIKeyByHash reads the API key whose Hash is hash.
	APIKeyByHash(ctx context.Context, hash []byte) (APIKey, error)
	// APIKeyByID reads one API key.
	APIKeyByID(ctx context.Context, id string) (APIKey, error)
	// ListAPIKeys returns every API key, by ID.
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	// OneTimeToken reads, without taking it, the one-time token whose
	// hash and purpose match, expired or not (Tx.TakeOneTimeToken uses it).
	OneTimeToken(ctx context.Context, hash []byte, purpose string) (OneTimeToken, error)
	// SigningKeys returns every signing key, oldest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// RevocationsSince returns the revocations with RevokedAt >= since,
	// oldest first.
	RevocationsSince(ctx context.Context, since time.Time) ([]Revocation, error)
	// AuthWrite runs fn in one read-write transaction, like
	// docstore.Store.Write: it commits durably only when fn returns nil
	// and may call fn again after a serialization failure.
	AuthWrite(ctx context.Context, fn func(Tx) error) error
	// PurgeAuth deletes what can no longer matter at now: sessions whose
	// ExpiresAt (or RevokedAt) is before before, with their refresh
	// tokens; one-time tokens that expired before before; revocations
	// older than before; signing keys whose NotAfter is before before.
	// It returns how many rows it deleted.
	PurgeAuth(ctx context.Context, before time.Time) (int64, error)
}

// Tx is one read-write transaction of a Store.
type Tx interface {
	GetAccount(ctx context.Context, id string) (Account, error)
	GetAccountByEmail(ctx context.Context, email string) (Account, error)
	InsertAccount(ctx context.Context, a Account) error
	// UpdateAccount overwrites every field of the account with a.ID
	// (NotFound if none; Conflict if a.Email belongs to another account).
	UpdateAccount(ctx context.Context, a Account) error
	// DeleteAccount deletes an account with its sessions, refresh tokens
	// and one-time tokens.
	DeleteAccount(ctx context.Context, id string) error

	// GetSession reads a session and locks it until the transaction ends,
	// so that concurrent refreshes of one session run one after another
	// (PostgreSQL: SELECT … FOR NO KEY UPDATE; the other Get methods of a
	// Tx lock their row the same way there).
	GetSession(ctx context.Context, id string) (Session, error)
	InsertSession(ctx context.Context, s Session) error
	// UpdateSession overwrites every field of the session with s.ID.
	UpdateSession(ctx context.Context, s Session) error
	// ListSessions is Store.ListSessions inside the transaction.
	ListSessions(ctx context.Context, accountID string) ([]Session, error)

	// GetRefreshToken reads the refresh token whose hash is hash.
	GetRefreshToken(ctx context.Context, hash []byte) (RefreshToken, error)
	InsertRefreshToken(ctx context.Context, r RefreshToken) error
	// MarkRefreshTokenUsed sets UsedAt of the token (NotFound if none).
	MarkRefreshTokenUsed(ctx context.Context, hash []byte, usedAt time.Time) error
	// LatestRefreshToken returns the session's token with the highest
	// Generation.
	LatestRefreshToken(ctx context.Context, sessionID string) (RefreshToken, error)

	InsertOneTimeToken(ctx context.Context, t OneTimeToken) error
	// TakeOneTimeToken deletes and returns the token whose hash and
	// purpose match (NotFound if none, expired or not).
	TakeOneTimeToken(ctx context.Context, hash []byte, purpose string) (OneTimeToken, error)
	// DeleteOneTimeTokens deletes an account's tokens of one purpose.
	DeleteOneTimeTokens(ctx context.Context, accountID, purpose string) error

	GetAPIKey(ctx context.Context, id string) (APIKey, error)
	InsertAPIKey(ctx context.Context, k APIKey) error
	// UpdateAPIKey overwrites every field of the API key with k.ID.
	UpdateAPIKey(ctx context.Context, k APIKey) error

	InsertSigningKey(ctx context.Context, k SigningKey) error
	// UpdateSigningKey overwrites NotAfter of the key with k.ID.
	UpdateSigningKey(ctx context.Context, k SigningKey) error
	// SigningKeys is Store.SigningKeys inside the transaction.
	SigningKeys(ctx context.Context) ([]SigningKey, error)

	// AppendRevocation records a revocation.
	AppendRevocation(ctx context.Context, r Revocation) error
}
