package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// The accounts.Store of the SQLite engine: the tables of
// migrations/00004_auth.sql. Reads outside a transaction use the read pool;
// AuthWrite runs on the write path of Write (group commit, one savepoint per
// caller, durable commit). Foreign keys cascade: deleting an account deletes
// its sessions, their refresh tokens and its one-time tokens. A row that
// references a missing account or session cannot be inserted (NotFound).

var (
	_ accounts.Store = (*Store)(nil)
	_ accounts.Tx    = (*authTx)(nil)
)

// authTx is an accounts.Tx over one write transaction, on the same pinned
// connection and savepoint as the docstore transaction that carries it.
type authTx struct {
	q pinnedTx
}

// AuthWrite runs fn in a write transaction, exactly like Write: fn's
// effects commit (durably) only when it returns nil, and are rolled back
// when it fails or panics. SQLite has one writer, so fn is never retried.
func (s *Store) AuthWrite(ctx context.Context, fn func(accounts.Tx) error) error {
	return s.Write(ctx, func(dt docstore.Tx) error {
		return fn(&authTx{q: dt.(*tx).q})
	})
}

// nullMicros stores a zero time as NULL.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// fromNullMicros reads NULL as the zero time.
func fromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

// blob keeps a nil byte slice from becoming NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// stringsJSON encodes a string list (roles, scopes) as a JSON array.
func stringsJSON(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, err := json.Marshal(v)
	if err != nil { // unreachable: strings always encode
		return "[]"
	}
	return string(b)
}

// parseStrings decodes a JSON array of strings; empty comes back nil.
func parseStrings(b []byte) ([]string, error) {
	var v []string
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// queryOne runs a single-row query; no row is NotFound with message what.
func queryOne[T any](ctx context.Context, q queryer, op, what string, scan func(scanner) (T, error), query string, args ...any) (T, error) {
	v, err := scan(q.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		var zero T
		return zero, fault.New(fault.NotFound, op, what)
	}
	if err != nil {
		var zero T
		return zero, mapErr(op, err)
	}
	return v, nil
}

// queryAll runs a query and scans every row.
func queryAll[T any](ctx context.Context, q queryer, op string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// execOne runs a statement that must change one row; none is NotFound with
// message what.
func (t *authTx) execOne(ctx context.Context, op, what string, onErr func(error) error, query string, args ...any) error {
	res, err := t.q.ExecContext(ctx, query, args...)
	if err != nil {
		return onErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(op, err)
	}
	if n == 0 {
		return fault.New(fault.NotFound, op, what)
	}
	return nil
}

// constraintErr maps a failed insert or update: a duplicate primary key
// is Conflict with message dupKey, another unique violation Conflict with
// dupUnique, a missing referenced row NotFound with missingRef.
func constraintErr(op string, err error, dupKey, dupUnique, missingRef string) error {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fault.New(fault.Conflict, op, dupKey)
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return fault.New(fault.Conflict, op, dupUnique)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		if missingRef != "" {
			return fault.New(fault.NotFound, op, missingRef)
		}
	}
	return mapErr(op, err)
}

// Accounts.

const accountColumns = "id, email, password_hash, roles, verified_at, disabled_at, created_at, updated_at"

func scanAccount(s scanner) (accounts.Account, error) {
	var a accounts.Account
	var roles []byte
	var verified, disabled sql.NullInt64
	var created, updated int64
	if err := s.Scan(&a.ID, &a.Email, &a.PasswordHash, &roles, &verified, &disabled, &created, &updated); err != nil {
		return a, err
	}
	var err error
	if a.Roles, err = parseStrings(roles); err != nil {
		return a, err
	}
	a.VerifiedAt, a.DisabledAt = fromNullMicros(verified), fromNullMicros(disabled)
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return a, nil
}

const accountNotFound = "account not found"

func accountByID(ctx context.Context, q queryer, op, id string) (accounts.Account, error) {
	return queryOne(ctx, q, op, accountNotFound, scanAccount,
		`SELECT `+accountColumns+` FROM accounts WHERE id = ?`, id)
}

const selectAccountByEmail = `SELECT ` + accountColumns + ` FROM accounts WHERE email = ?`

func accountByEmail(ctx context.Context, q queryer, op, email string) (accounts.Account, error) {
	return queryOne(ctx, q, op, accountNotFound, scanAccount, selectAccountByEmail, email)
}

// AccountByID reads one account.
func (s *Store) AccountByID(ctx context.Context, id string) (accounts.Account, error) {
	return accountByID(ctx, s.reads, "sqlite.AccountByID", id)
}

// AccountByEmail reads the account with this (normalized) email address.
func (s *Store) AccountByEmail(ctx context.Context, email string) (accounts.Account, error) {
	return accountByEmail(ctx, s.reads, "sqlite.AccountByEmail", email)
}

// ListAccounts returns up to q.Limit accounts with an ID greater than
// q.After, by ID, whose email contains q.Email. A negative limit is
// Invalid.
func (s *Store) ListAccounts(ctx context.Context, q accounts.AccountQuery) ([]accounts.Account, error) {
	const op = "sqlite.ListAccounts"
	if q.Limit < 0 {
		return nil, fault.Newf(fault.Invalid, op, "limit must not be negative, not %d", q.Limit)
	}
	if q.Limit == 0 {
		return nil, nil
	}
	return queryAll(ctx, s.reads, op, scanAccount,
		`SELECT `+accountColumns+` FROM accounts WHERE id > ? AND (? = '' OR instr(email, ?) > 0) ORDER BY id LIMIT ?`,
		q.After, q.Email, q.Email, q.Limit)
}

func (t *authTx) GetAccount(ctx context.Context, id string) (accounts.Account, error) {
	return accountByID(ctx, t.q, "sqlite.GetAccount", id)
}

func (t *authTx) GetAccountByEmail(ctx context.Context, email string) (accounts.Account, error) {
	return accountByEmail(ctx, t.q, "sqlite.GetAccountByEmail", email)
}

const emailInUse = "the email address is already in use"

func (t *authTx) InsertAccount(ctx context.Context, a accounts.Account) error {
	const op = "sqlite.InsertAccount"
	_, err := t.q.ExecContext(ctx, `INSERT INTO accounts (`+accountColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Email, a.PasswordHash, stringsJSON(a.Roles), nullMicros(a.VerifiedAt), nullMicros(a.DisabledAt),
		toMicros(a.CreatedAt), toMicros(a.UpdatedAt))
	if err != nil {
		return constraintErr(op, err, "the account already exists", emailInUse, "")
	}
	return nil
}

func (t *authTx) UpdateAccount(ctx context.Context, a accounts.Account) error {
	const op = "sqlite.UpdateAccount"
	return t.execOne(ctx, op, accountNotFound,
		func(err error) error { return constraintErr(op, err, emailInUse, emailInUse, "") },
		`UPDATE accounts SET email = ?, password_hash = ?, roles = ?, verified_at = ?, disabled_at = ?,
			created_at = ?, updated_at = ? WHERE id = ?`,
		a.Email, a.PasswordHash, stringsJSON(a.Roles), nullMicros(a.VerifiedAt), nullMicros(a.DisabledAt),
		toMicros(a.CreatedAt), toMicros(a.UpdatedAt), a.ID)
}

// DeleteAccount deletes the account; the foreign keys delete its sessions,
// their refresh tokens and its one-time tokens in the same statement.
func (t *authTx) DeleteAccount(ctx context.Context, id string) error {
	const op = "sqlite.DeleteAccount"
	return t.execOne(ctx, op, accountNotFound, func(err error) error { return mapErr(op, err) },
		`DELETE FROM accounts WHERE id = ?`, id)
}

// Sessions.

const sessionColumns = "id, account_id, device, user_agent, ip, created_at, last_used_at, expires_at, revoked_at, revoke_reason"

func scanSession(s scanner) (accounts.Session, error) {
	var x accounts.Session
	var created, expires int64
	var lastUsed, revoked sql.NullInt64
	if err := s.Scan(&x.ID, &x.AccountID, &x.Device, &x.UserAgent, &x.IP, &created, &lastUsed, &expires,
		&revoked, &x.RevokeReason); err != nil {
		return x, err
	}
	x.CreatedAt, x.ExpiresAt = fromMicros(created), fromMicros(expires)
	x.LastUsedAt, x.RevokedAt = fromNullMicros(lastUsed), fromNullMicros(revoked)
	return x, nil
}

const sessionNotFound = "session not found"

func sessionByID(ctx context.Context, q queryer, op, id string) (accounts.Session, error) {
	return queryOne(ctx, q, op, sessionNotFound, scanSession,
		`SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id)
}

const selectSessionsOfAccount = `SELECT ` + sessionColumns +
	` FROM sessions WHERE account_id = ? ORDER BY created_at DESC, id DESC`

func listSessions(ctx context.Context, q queryer, op, accountID string) ([]accounts.Session, error) {
	return queryAll(ctx, q, op, scanSession, selectSessionsOfAccount, accountID)
}

// SessionByID reads one session.
func (s *Store) SessionByID(ctx context.Context, id string) (accounts.Session, error) {
	return sessionByID(ctx, s.reads, "sqlite.SessionByID", id)
}

// ListSessions returns the sessions of an account, revoked ones included,
// newest (by CreatedAt) first.
func (s *Store) ListSessions(ctx context.Context, accountID string) ([]accounts.Session, error) {
	return listSessions(ctx, s.reads, "sqlite.ListSessions", accountID)
}

// GetSession reads a session. It takes no lock: SQLite has one writer and
// write transactions run one after another, so no other transaction can
// change the session before this one ends.
func (t *authTx) GetSession(ctx context.Context, id string) (accounts.Session, error) {
	return sessionByID(ctx, t.q, "sqlite.GetSession", id)
}

func (t *authTx) InsertSession(ctx context.Context, s accounts.Session) error {
	const op = "sqlite.InsertSession"
	_, err := t.q.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.AccountID, s.Device, s.UserAgent, s.IP, toMicros(s.CreatedAt), nullMicros(s.LastUsedAt),
		toMicros(s.ExpiresAt), nullMicros(s.RevokedAt), s.RevokeReason)
	if err != nil {
		return constraintErr(op, err, "the session already exists", "the session already exists", accountNotFound)
	}
	return nil
}

func (t *authTx) UpdateSession(ctx context.Context, s accounts.Session) error {
	const op = "sqlite.UpdateSession"
	return t.execOne(ctx, op, sessionNotFound,
		func(err error) error {
			return constraintErr(op, err, "the session already exists", "the session already exists", accountNotFound)
		},
		`UPDATE sessions SET account_id = ?, device = ?, user_agent = ?, ip = ?, created_at = ?, last_used_at = ?,
			expires_at = ?, revoked_at = ?, revoke_reason = ? WHERE id = ?`,
		s.AccountID, s.Device, s.UserAgent, s.IP, toMicros(s.CreatedAt), nullMicros(s.LastUsedAt),
		toMicros(s.ExpiresAt), nullMicros(s.RevokedAt), s.RevokeReason, s.ID)
}

func (t *authTx) ListSessions(ctx context.Context, accountID string) ([]accounts.Session, error) {
	return listSessions(ctx, t.q, "sqlite.ListSessions", accountID)
}

// Refresh tokens.

const refreshColumns = "hash, session_id, generation, created_at, used_at"

func scanRefreshToken(s scanner) (accounts.RefreshToken, error) {
	var r accounts.RefreshToken
	var created int64
	var used sql.NullInt64
	if err := s.Scan(&r.Hash, &r.SessionID, &r.Generation, &created, &used); err != nil {
		return r, err
	}
	r.CreatedAt, r.UsedAt = fromMicros(created), fromNullMicros(used)
	return r, nil
}

const refreshTokenNotFound = "refresh token not found"

func (t *authTx) GetRefreshToken(ctx context.Context, hash []byte) (accounts.RefreshToken, error) {
	return queryOne(ctx, t.q, "sqlite.GetRefreshToken", refreshTokenNotFound, scanRefreshToken,
		`SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = ?`, blob(hash))
}

func (t *authTx) InsertRefreshToken(ctx context.Context, r accounts.RefreshToken) error {
	const op = "sqlite.InsertRefreshToken"
	_, err := t.q.ExecContext(ctx, `INSERT INTO refresh_tokens (`+refreshColumns+`) VALUES (?, ?, ?, ?, ?)`,
		blob(r.Hash), r.SessionID, r.Generation, toMicros(r.CreatedAt), nullMicros(r.UsedAt))
	if err != nil {
		return constraintErr(op, err, "the refresh token already exists", "the refresh token already exists", sessionNotFound)
	}
	return nil
}

func (t *authTx) MarkRefreshTokenUsed(ctx context.Context, hash []byte, usedAt time.Time) error {
	const op = "sqlite.MarkRefreshTokenUsed"
	return t.execOne(ctx, op, refreshTokenNotFound, func(err error) error { return mapErr(op, err) },
		`UPDATE refresh_tokens SET used_at = ? WHERE hash = ?`, nullMicros(usedAt), blob(hash))
}

const selectLatestRefreshToken = `SELECT ` + refreshColumns +
	` FROM refresh_tokens WHERE session_id = ? ORDER BY generation DESC LIMIT 1`

func (t *authTx) LatestRefreshToken(ctx context.Context, sessionID string) (accounts.RefreshToken, error) {
	return queryOne(ctx, t.q, "sqlite.LatestRefreshToken", refreshTokenNotFound, scanRefreshToken,
		selectLatestRefreshToken, sessionID)
}

// One-time tokens.

// oneTimeColumns are the columns of a one-time token; account_id is NULL
// for an invitation, which has no account yet.
const oneTimeColumns = "hash, purpose, account_id, email, roles, created_at, expires_at"

func scanOneTimeToken(s scanner) (accounts.OneTimeToken, error) {
	var o accounts.OneTimeToken
	var account sql.NullString
	var roles []byte
	var created, expires int64
	if err := s.Scan(&o.Hash, &o.Purpose, &account, &o.Email, &roles, &created, &expires); err != nil {
		return o, err
	}
	var err error
	if o.Roles, err = parseStrings(roles); err != nil {
		return o, err
	}
	o.AccountID = account.String
	o.CreatedAt, o.ExpiresAt = fromMicros(created), fromMicros(expires)
	return o, nil
}

func (t *authTx) InsertOneTimeToken(ctx context.Context, o accounts.OneTimeToken) error {
	const op = "sqlite.InsertOneTimeToken"
	var account any
	if o.AccountID != "" {
		account = o.AccountID
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO one_time_tokens (`+oneTimeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		blob(o.Hash), o.Purpose, account, o.Email, stringsJSON(o.Roles), toMicros(o.CreatedAt), toMicros(o.ExpiresAt))
	if err != nil {
		return constraintErr(op, err, "the token already exists", "the token already exists", accountNotFound)
	}
	return nil
}

// OneTimeToken reads the token with this hash and purpose, expired or not.
func (s *Store) OneTimeToken(ctx context.Context, hash []byte, purpose string) (accounts.OneTimeToken, error) {
	return queryOne(ctx, s.reads, "sqlite.OneTimeToken", "token not found", scanOneTimeToken,
		`SELECT `+oneTimeColumns+` FROM one_time_tokens WHERE hash = ? AND purpose = ?`, blob(hash), purpose)
}

// TakeOneTimeToken deletes and returns the token with this hash and
// purpose, whether or not it has expired: judging ExpiresAt is the
// service's business. NotFound when there is no such token.
func (t *authTx) TakeOneTimeToken(ctx context.Context, hash []byte, purpose string) (accounts.OneTimeToken, error) {
	return queryOne(ctx, t.q, "sqlite.TakeOneTimeToken", "token not found", scanOneTimeToken,
		`DELETE FROM one_time_tokens WHERE hash = ? AND purpose = ? RETURNING `+oneTimeColumns, blob(hash), purpose)
}

const deleteOneTimeTokens = `DELETE FROM one_time_tokens WHERE account_id = ? AND purpose = ?`

func (t *authTx) DeleteOneTimeTokens(ctx context.Context, accountID, purpose string) error {
	const op = "sqlite.DeleteOneTimeTokens"
	_, err := t.q.ExecContext(ctx, deleteOneTimeTokens, accountID, purpose)
	return mapErr(op, err)
}

// API keys.

const apiKeyColumns = "id, name, prefix, hash, roles, scopes, created_by, created_by_key, created_at, expires_at, last_used_at, revoked_at"

func scanAPIKey(s scanner) (accounts.APIKey, error) {
	var k accounts.APIKey
	var roles, scopes []byte
	var created int64
	var expires, lastUsed, revoked sql.NullInt64
	if err := s.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &roles, &scopes, &k.CreatedBy, &k.CreatedByKey, &created,
		&expires, &lastUsed, &revoked); err != nil {
		return k, err
	}
	var err error
	if k.Roles, err = parseStrings(roles); err != nil {
		return k, err
	}
	if k.Scopes, err = parseStrings(scopes); err != nil {
		return k, err
	}
	k.CreatedAt = fromMicros(created)
	k.ExpiresAt, k.LastUsedAt, k.RevokedAt = fromNullMicros(expires), fromNullMicros(lastUsed), fromNullMicros(revoked)
	return k, nil
}

const (
	apiKeyNotFound = "API key not found"
	apiKeyExists   = "the API key already exists"
)

const selectAPIKeyByHash = `SELECT ` + apiKeyColumns + ` FROM api_keys WHERE hash = ?`

// APIKeyByHash reads the API key whose hash is hash.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (accounts.APIKey, error) {
	return queryOne(ctx, s.reads, "sqlite.APIKeyByHash", apiKeyNotFound, scanAPIKey, selectAPIKeyByHash, blob(hash))
}

// APIKeyByID reads one API key.
func (s *Store) APIKeyByID(ctx context.Context, id string) (accounts.APIKey, error) {
	return queryOne(ctx, s.reads, "sqlite.APIKeyByID", apiKeyNotFound, scanAPIKey,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`, id)
}

// ListAPIKeys returns every API key, by ID.
func (s *Store) ListAPIKeys(ctx context.Context) ([]accounts.APIKey, error) {
	return queryAll(ctx, s.reads, "sqlite.ListAPIKeys", scanAPIKey,
		`SELECT `+apiKeyColumns+` FROM api_keys ORDER BY id`)
}

func (t *authTx) GetAPIKey(ctx context.Context, id string) (accounts.APIKey, error) {
	return queryOne(ctx, t.q, "sqlite.GetAPIKey", apiKeyNotFound, scanAPIKey,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`, id)
}

func (t *authTx) InsertAPIKey(ctx context.Context, k accounts.APIKey) error {
	const op = "sqlite.InsertAPIKey"
	_, err := t.q.ExecContext(ctx, `INSERT INTO api_keys (`+apiKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Name, k.Prefix, blob(k.Hash), stringsJSON(k.Roles), stringsJSON(k.Scopes), k.CreatedBy, k.CreatedByKey,
		toMicros(k.CreatedAt), nullMicros(k.ExpiresAt), nullMicros(k.LastUsedAt), nullMicros(k.RevokedAt))
	if err != nil {
		return constraintErr(op, err, apiKeyExists, apiKeyExists, "")
	}
	return nil
}

func (t *authTx) UpdateAPIKey(ctx context.Context, k accounts.APIKey) error {
	const op = "sqlite.UpdateAPIKey"
	return t.execOne(ctx, op, apiKeyNotFound,
		func(err error) error { return constraintErr(op, err, apiKeyExists, apiKeyExists, "") },
		`UPDATE api_keys SET name = ?, prefix = ?, hash = ?, roles = ?, scopes = ?, created_by = ?, created_by_key = ?, created_at = ?,
			expires_at = ?, last_used_at = ?, revoked_at = ? WHERE id = ?`,
		k.Name, k.Prefix, blob(k.Hash), stringsJSON(k.Roles), stringsJSON(k.Scopes), k.CreatedBy, k.CreatedByKey,
		toMicros(k.CreatedAt), nullMicros(k.ExpiresAt), nullMicros(k.LastUsedAt), nullMicros(k.RevokedAt), k.ID)
}

// Signing keys.

const signingKeyColumns = "id, private_key, created_at, not_after"

func scanSigningKey(s scanner) (accounts.SigningKey, error) {
	var k accounts.SigningKey
	var created int64
	var notAfter sql.NullInt64
	if err := s.Scan(&k.ID, &k.Private, &created, &notAfter); err != nil {
		return k, err
	}
	k.CreatedAt, k.NotAfter = fromMicros(created), fromNullMicros(notAfter)
	return k, nil
}

func signingKeys(ctx context.Context, q queryer, op string) ([]accounts.SigningKey, error) {
	return queryAll(ctx, q, op, scanSigningKey,
		`SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created_at, id`)
}

// SigningKeys returns every signing key, oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]accounts.SigningKey, error) {
	return signingKeys(ctx, s.reads, "sqlite.SigningKeys")
}

func (t *authTx) SigningKeys(ctx context.Context) ([]accounts.SigningKey, error) {
	return signingKeys(ctx, t.q, "sqlite.SigningKeys")
}

func (t *authTx) InsertSigningKey(ctx context.Context, k accounts.SigningKey) error {
	const op = "sqlite.InsertSigningKey"
	_, err := t.q.ExecContext(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES (?, ?, ?, ?)`,
		k.ID, blob(k.Private), toMicros(k.CreatedAt), nullMicros(k.NotAfter))
	if err != nil {
		return constraintErr(op, err, "the signing key already exists", "the signing key already exists", "")
	}
	return nil
}

func (t *authTx) UpdateSigningKey(ctx context.Context, k accounts.SigningKey) error {
	const op = "sqlite.UpdateSigningKey"
	return t.execOne(ctx, op, "signing key not found", func(err error) error { return mapErr(op, err) },
		`UPDATE signing_keys SET not_after = ? WHERE id = ?`, nullMicros(k.NotAfter), k.ID)
}

// Revocations.

const selectRevocationsSince = `SELECT id, revoked_at FROM revocations WHERE revoked_at >= ? ORDER BY revoked_at, seq`

// RevocationsSince returns the revocations with RevokedAt at or after
// since, oldest first (in recording order among equal times).
func (s *Store) RevocationsSince(ctx context.Context, since time.Time) ([]accounts.Revocation, error) {
	return queryAll(ctx, s.reads, "sqlite.RevocationsSince", func(sc scanner) (accounts.Revocation, error) {
		var r accounts.Revocation
		var at int64
		err := sc.Scan(&r.ID, &at)
		r.RevokedAt = fromMicros(at)
		return r, err
	}, selectRevocationsSince, toMicros(since))
}

// AppendRevocation records a revocation. The same ID may be recorded more
// than once.
func (t *authTx) AppendRevocation(ctx context.Context, r accounts.Revocation) error {
	const op = "sqlite.AppendRevocation"
	_, err := t.q.ExecContext(ctx, `INSERT INTO revocations (id, revoked_at) VALUES (?, ?)`, r.ID, toMicros(r.RevokedAt))
	return mapErr(op, err)
}

// Purge.

// purgeBatch bounds the rows one purge transaction deletes, so that
// writers queued behind it are never held up for long.
const purgeBatch = 1000

// The purge statements: ?1 is the cut-off, ?2 the batch size.
const (
	purgeRefreshTokens = `DELETE FROM refresh_tokens WHERE rowid IN (SELECT r.rowid FROM sessions s
		JOIN refresh_tokens r ON r.session_id = s.id
		WHERE s.expires_at < ?1 OR s.revoked_at < ?1 LIMIT ?2)`
	purgeOneTimeTokens = `DELETE FROM one_time_tokens WHERE rowid IN
		(SELECT rowid FROM one_time_tokens WHERE expires_at < ?1 LIMIT ?2)`
	purgeRevocations = `DELETE FROM revocations WHERE seq IN
		(SELECT seq FROM revocations WHERE revoked_at < ?1 LIMIT ?2)`
	purgeSigningKeys = `DELETE FROM signing_keys WHERE rowid IN
		(SELECT rowid FROM signing_keys WHERE not_after < ?1 LIMIT ?2)`
	selectPurgedSessions = `SELECT json_group_array(id) FROM (SELECT id FROM sessions
		WHERE expires_at < ?1 OR revoked_at < ?1 LIMIT ?2)`
)

// PurgeAuth deletes what can no longer matter at before: sessions that
// expired or were revoked before it, with their refresh tokens; one-time
// tokens that expired before it; revocations recorded before it; signing
// keys whose NotAfter is before it. It works in batches of its own
// transactions, so it is not atomic; each batch is. It returns how many
// rows it deleted.
func (s *Store) PurgeAuth(ctx context.Context, before time.Time) (int64, error) {
	const op = "sqlite.PurgeAuth"
	cut := toMicros(before)
	var total int64
	// Refresh tokens first, in bounded batches: a long-lived session has a
	// long chain of them.
	for _, stmt := range []string{purgeRefreshTokens, purgeOneTimeTokens, purgeRevocations, purgeSigningKeys} {
		n, err := s.purgeLoop(ctx, op, func(ctx context.Context, q pinnedTx) (int64, bool, error) {
			res, err := q.ExecContext(ctx, stmt, cut, purgeBatch)
			if err != nil {
				return 0, false, err
			}
			n, err := res.RowsAffected()
			return n, n >= purgeBatch, err
		})
		total += n
		if err != nil {
			return total, err
		}
	}
	// Then the sessions, with the refresh tokens issued since the first
	// pass, so that the foreign key cascades nothing uncounted.
	n, err := s.purgeLoop(ctx, op, func(ctx context.Context, q pinnedTx) (int64, bool, error) {
		var ids string
		if err := q.QueryRowContext(ctx, selectPurgedSessions, cut, purgeBatch).Scan(&ids); err != nil {
			return 0, false, err
		}
		res, err := q.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE session_id IN (SELECT value FROM json_each(?))`, ids)
		if err != nil {
			return 0, false, err
		}
		tokens, err := res.RowsAffected()
		if err != nil {
			return 0, false, err
		}
		if res, err = q.ExecContext(ctx, `DELETE FROM sessions WHERE id IN (SELECT value FROM json_each(?))`, ids); err != nil {
			return tokens, false, err
		}
		sessions, err := res.RowsAffected()
		return tokens + sessions, sessions >= purgeBatch, err
	})
	return total + n, err
}

// purgeLoop runs batch in write transactions until it reports that it is
// done, and returns the sum of the rows it deleted.
func (s *Store) purgeLoop(ctx context.Context, op string, batch func(context.Context, pinnedTx) (int64, bool, error)) (int64, error) {
	var total int64
	for {
		var n int64
		var more bool
		err := s.Write(ctx, func(dt docstore.Tx) error {
			var err error
			n, more, err = batch(ctx, dt.(*tx).q)
			return mapErr(op, err)
		})
		if err != nil {
			return total, err
		}
		total += n
		if !more {
			return total, nil
		}
	}
}
