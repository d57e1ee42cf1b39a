package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// The accounts.Store of the engine keeps its rows in the tables of
// migrations/00004_auth.sql. Timestamps are timestamptz: pgx sends them at
// microsecond precision (truncated) and they are returned in UTC; optional
// ones (a zero time.Time) are NULL. Roles and scopes are text[].
//
// AuthWrite runs on the transaction machinery of Write (READ COMMITTED,
// retries of serialization failures and deadlocks, rollback on error or
// panic). Inside it, the single-row reads (GetAccount, GetAccountByEmail,
// GetSession, GetRefreshToken, GetAPIKey) lock the row they return until
// the transaction ends (SELECT … FOR NO KEY UPDATE, the lock an UPDATE
// takes), and Tx.SigningKeys locks the signing keys table against
// writers: concurrent read-modify-write transactions on one row then run
// one after another, and each sees what the previous one committed, as
// they do on SQLite, whose write transactions are serial. FOR NO KEY
// UPDATE rather than FOR UPDATE lets foreign key checks through, so a
// login (which inserts a session referencing its account) does not wait
// for a transaction that holds the account.

var _ accounts.Store = (*Store)(nil)

// SQLSTATE codes that statements on the accounts tables react to.
const (
	codeForeignKeyViolation = "23503"
	classDataException      = "22" // invalid text (NUL, bad UTF-8), timestamps out of range, …
)

// purgeBatch is how many rows of one table PurgeAuth deletes per
// statement, so that no transaction holds many row locks for long.
const purgeBatch = 1000

// authErr maps an error from a statement on the accounts tables: a
// foreign key violation means the account or session a row refers to does
// not exist (NotFound); a value PostgreSQL cannot store is Invalid;
// otherwise mapErr decides.
func authErr(op string, err error) error {
	code := sqlState(err)
	switch {
	case code == codeForeignKeyViolation:
		return fault.Wrap(fault.NotFound, op, err, "the row it refers to does not exist")
	case strings.HasPrefix(code, classDataException):
		return fault.Wrap(fault.Invalid, op, err, "a value cannot be stored")
	}
	return mapErr(op, err)
}

// rowScanner is a pgx.Row or pgx.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// nullTime is the value of a nullable timestamptz column: NULL for the
// zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// utcTime converts a scanned timestamptz: NULL is the zero time.
func utcTime(ts pgtype.Timestamptz) time.Time {
	if !ts.Valid {
		return time.Time{}
	}
	return ts.Time.UTC()
}

// nonNilStrings makes an absent list an empty array, since the array
// columns are NOT NULL.
func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// nonNilBytes makes an absent key an empty one, since the bytea columns
// are NOT NULL.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// authGet runs a single-row query and scans it with scan; no row is
// NotFound with the message notFound.
func authGet[T any](ctx context.Context, q queryer, op, notFound string, scan func(rowScanner) (T, error),
	sql string, args ...any) (T, error) {
	v, err := scan(q.QueryRow(ctx, sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		var zero T
		return zero, fault.New(fault.NotFound, op, notFound)
	}
	if err != nil {
		var zero T
		return zero, authErr(op, err)
	}
	return v, nil
}

// authList runs a query and scans every row with scan.
func authList[T any](ctx context.Context, q queryer, op string, scan func(rowScanner) (T, error),
	sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, authErr(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, authErr(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, authErr(op, err)
	}
	return out, nil
}

// authExec runs a statement that must change one row; none is NotFound with
// the message notFound.
func authExec(ctx context.Context, q queryer, op, notFound, sql string, args ...any) error {
	tag, err := q.Exec(ctx, sql, args...)
	if err != nil {
		return authErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return fault.New(fault.NotFound, op, notFound)
	}
	return nil
}

// authInsert runs an INSERT … ON CONFLICT DO NOTHING; no row inserted means
// a key exists: Conflict with the message conflict. Leaving the conflict
// to ON CONFLICT keeps the transaction usable after it.
func authInsert(ctx context.Context, q queryer, op, conflict, sql string, args ...any) error {
	tag, err := q.Exec(ctx, sql, args...)
	if err != nil {
		return authErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return fault.New(fault.Conflict, op, conflict)
	}
	return nil
}

// Accounts.

const accountColumns = "id, email, password_hash, roles, verified_at, disabled_at, created_at, updated_at"

func scanAccount(r rowScanner) (accounts.Account, error) {
	var a accounts.Account
	var verified, disabled, created, updated pgtype.Timestamptz
	if err := r.Scan(&a.ID, &a.Email, &a.PasswordHash, &a.Roles, &verified, &disabled, &created, &updated); err != nil {
		return a, err
	}
	a.VerifiedAt, a.DisabledAt, a.CreatedAt, a.UpdatedAt = utcTime(verified), utcTime(disabled), utcTime(created), utcTime(updated)
	return a, nil
}

func accountByID(ctx context.Context, q queryer, op, id, lock string) (accounts.Account, error) {
	return authGet(ctx, q, op, "account not found", scanAccount,
		`SELECT `+accountColumns+` FROM accounts WHERE id = $1`+lock, id)
}

func accountByEmail(ctx context.Context, q queryer, op, email, lock string) (accounts.Account, error) {
	return authGet(ctx, q, op, "account not found", scanAccount,
		`SELECT `+accountColumns+` FROM accounts WHERE email = $1`+lock, email)
}

// AccountByID reads one account.
func (s *Store) AccountByID(ctx context.Context, id string) (a accounts.Account, err error) {
	const op = "postgres.AccountByID"
	err = s.read(ctx, op, func(q queryer) error {
		a, err = accountByID(ctx, q, op, id, "")
		return err
	})
	return a, err
}

// AccountByEmail reads the account with the (normalized) email address.
func (s *Store) AccountByEmail(ctx context.Context, email string) (a accounts.Account, err error) {
	const op = "postgres.AccountByEmail"
	err = s.read(ctx, op, func(q queryer) error {
		a, err = accountByEmail(ctx, q, op, email, "")
		return err
	})
	return a, err
}

// ListAccounts returns up to q.Limit accounts with ID > q.After, by ID,
// whose email contains q.Email. A negative limit is Invalid.
func (s *Store) ListAccounts(ctx context.Context, aq accounts.AccountQuery) (out []accounts.Account, err error) {
	const op = "postgres.ListAccounts"
	if aq.Limit < 0 {
		return nil, fault.Newf(fault.Invalid, op, "limit must not be negative, not %d", aq.Limit)
	}
	if aq.Limit == 0 {
		return nil, nil
	}
	err = s.read(ctx, op, func(q queryer) error {
		out, err = authList(ctx, q, op, scanAccount,
			`SELECT `+accountColumns+` FROM accounts WHERE id > $1 AND ($3 = '' OR strpos(email, $3) > 0) ORDER BY id LIMIT $2`,
			aq.After, aq.Limit, aq.Email)
		return err
	})
	return out, err
}

// Sessions.

const sessionColumns = "id, account_id, device, user_agent, ip, created_at, last_used_at, expires_at, revoked_at, revoke_reason"

func scanSession(r rowScanner) (accounts.Session, error) {
	var s accounts.Session
	var created, lastUsed, expires, revoked pgtype.Timestamptz
	if err := r.Scan(&s.ID, &s.AccountID, &s.Device, &s.UserAgent, &s.IP, &created, &lastUsed, &expires, &revoked,
		&s.RevokeReason); err != nil {
		return s, err
	}
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt, s.RevokedAt = utcTime(created), utcTime(lastUsed), utcTime(expires), utcTime(revoked)
	return s, nil
}

func sessionByID(ctx context.Context, q queryer, op, id, lock string) (accounts.Session, error) {
	return authGet(ctx, q, op, "session not found", scanSession,
		`SELECT `+sessionColumns+` FROM sessions WHERE id = $1`+lock, id)
}

func listSessions(ctx context.Context, q queryer, op, accountID string) ([]accounts.Session, error) {
	return authList(ctx, q, op, scanSession, `SELECT `+sessionColumns+` FROM sessions WHERE account_id = $1
		ORDER BY created_at DESC, id DESC`, accountID)
}

// SessionByID reads one session.
func (s *Store) SessionByID(ctx context.Context, id string) (ss accounts.Session, err error) {
	const op = "postgres.SessionByID"
	err = s.read(ctx, op, func(q queryer) error {
		ss, err = sessionByID(ctx, q, op, id, "")
		return err
	})
	return ss, err
}

// ListSessions returns the sessions of an account, newest first, revoked
// ones included.
func (s *Store) ListSessions(ctx context.Context, accountID string) (out []accounts.Session, err error) {
	const op = "postgres.ListSessions"
	err = s.read(ctx, op, func(q queryer) error {
		out, err = listSessions(ctx, q, op, accountID)
		return err
	})
	return out, err
}

// Refresh tokens and one-time tokens.

const refreshTokenColumns = "hash, session_id, generation, created_at, used_at"

func scanRefreshToken(r rowScanner) (accounts.RefreshToken, error) {
	var t accounts.RefreshToken
	var created, used pgtype.Timestamptz
	if err := r.Scan(&t.Hash, &t.SessionID, &t.Generation, &created, &used); err != nil {
		return t, err
	}
	t.CreatedAt, t.UsedAt = utcTime(created), utcTime(used)
	return t, nil
}

// oneTimeTokenColumns are the columns of a one-time token; account_id is
// NULL for an invitation, which has no account yet.
const oneTimeTokenColumns = "hash, purpose, account_id, email, roles, created_at, expires_at"

func scanOneTimeToken(r rowScanner) (accounts.OneTimeToken, error) {
	var t accounts.OneTimeToken
	var account pgtype.Text
	var created, expires pgtype.Timestamptz
	if err := r.Scan(&t.Hash, &t.Purpose, &account, &t.Email, &t.Roles, &created, &expires); err != nil {
		return t, err
	}
	t.AccountID = account.String
	t.CreatedAt, t.ExpiresAt = utcTime(created), utcTime(expires)
	return t, nil
}

// API keys.

const apiKeyColumns = "id, name, prefix, hash, roles, scopes, created_by, created_by_key, created_at, expires_at, last_used_at, revoked_at"

func scanAPIKey(r rowScanner) (accounts.APIKey, error) {
	var k accounts.APIKey
	var created, expires, lastUsed, revoked pgtype.Timestamptz
	if err := r.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &k.Roles, &k.Scopes, &k.CreatedBy, &k.CreatedByKey, &created, &expires,
		&lastUsed, &revoked); err != nil {
		return k, err
	}
	k.CreatedAt, k.ExpiresAt, k.LastUsedAt, k.RevokedAt = utcTime(created), utcTime(expires), utcTime(lastUsed), utcTime(revoked)
	return k, nil
}

// APIKeyByHash reads the API key whose Hash is hash.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (k accounts.APIKey, err error) {
	const op = "postgres.APIKeyByHash"
	err = s.read(ctx, op, func(q queryer) error {
		k, err = authGet(ctx, q, op, "API key not found", scanAPIKey,
			`SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = $1`, nonNilBytes(hash))
		return err
	})
	return k, err
}

// APIKeyByID reads one API key.
func (s *Store) APIKeyByID(ctx context.Context, id string) (k accounts.APIKey, err error) {
	const op = "postgres.APIKeyByID"
	err = s.read(ctx, op, func(q queryer) error {
		k, err = authGet(ctx, q, op, "API key not found", scanAPIKey,
			`SELECT `+apiKeyColumns+` FROM api_keys WHERE id = $1`, id)
		return err
	})
	return k, err
}

// OneTimeToken reads the token whose hash and purpose match, expired or
// not.
func (s *Store) OneTimeToken(ctx context.Context, hash []byte, purpose string) (ot accounts.OneTimeToken, err error) {
	const op = "postgres.OneTimeToken"
	err = s.read(ctx, op, func(q queryer) error {
		ot, err = authGet(ctx, q, op, "one-time token not found", scanOneTimeToken,
			`SELECT `+oneTimeTokenColumns+` FROM one_time_tokens WHERE hash = $1 AND purpose = $2`, nonNilBytes(hash), purpose)
		return err
	})
	return ot, err
}

// ListAPIKeys returns every API key, by ID.
func (s *Store) ListAPIKeys(ctx context.Context) (out []accounts.APIKey, err error) {
	const op = "postgres.ListAPIKeys"
	err = s.read(ctx, op, func(q queryer) error {
		out, err = authList(ctx, q, op, scanAPIKey, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY id`)
		return err
	})
	return out, err
}

// Signing keys and revocations.

const signingKeyColumns = "id, private_key, created_at, not_after"

func scanSigningKey(r rowScanner) (accounts.SigningKey, error) {
	var k accounts.SigningKey
	var created, notAfter pgtype.Timestamptz
	if err := r.Scan(&k.ID, &k.Private, &created, &notAfter); err != nil {
		return k, err
	}
	k.CreatedAt, k.NotAfter = utcTime(created), utcTime(notAfter)
	return k, nil
}

func signingKeys(ctx context.Context, q queryer, op string) ([]accounts.SigningKey, error) {
	return authList(ctx, q, op, scanSigningKey, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created_at, id`)
}

// SigningKeys returns every signing key, oldest first.
func (s *Store) SigningKeys(ctx context.Context) (out []accounts.SigningKey, err error) {
	const op = "postgres.SigningKeys"
	err = s.read(ctx, op, func(q queryer) error {
		out, err = signingKeys(ctx, q, op)
		return err
	})
	return out, err
}

func scanRevocation(r rowScanner) (accounts.Revocation, error) {
	var v accounts.Revocation
	var at pgtype.Timestamptz
	if err := r.Scan(&v.ID, &at); err != nil {
		return v, err
	}
	v.RevokedAt = utcTime(at)
	return v, nil
}

// RevocationsSince returns the revocations with RevokedAt >= since,
// oldest first (in recording order among equal times).
func (s *Store) RevocationsSince(ctx context.Context, since time.Time) (out []accounts.Revocation, err error) {
	const op = "postgres.RevocationsSince"
	err = s.read(ctx, op, func(q queryer) error {
		out, err = authList(ctx, q, op, scanRevocation,
			`SELECT id, revoked_at FROM revocations WHERE revoked_at >= $1 ORDER BY revoked_at, seq`, since)
		return err
	})
	return out, err
}

// AuthWrite runs fn in one read-write transaction through Write: it
// commits when fn returns nil, rolls back when fn fails or panics, and
// calls fn again after a serialization failure or a deadlock.
func (s *Store) AuthWrite(ctx context.Context, fn func(accounts.Tx) error) error {
	const op = "postgres.AuthWrite"
	if fn == nil {
		return fault.New(fault.Invalid, op, "no transaction function")
	}
	return s.Write(ctx, func(dtx docstore.Tx) error {
		t, ok := dtx.(*tx)
		if !ok {
			return fault.Internalf(op, errors.New("Write passed an unexpected transaction type"))
		}
		return fn(&authTx{q: t.q})
	})
}

// purgeStatements are PurgeAuth's deletions. Each deletes at most $2 rows
// that can no longer matter at $1, skipping rows other transactions hold,
// and returns how many rows of its table it deleted (which decides
// whether another batch is needed) and how many rows it deleted in all.
// Refresh tokens go with their sessions; they are deleted explicitly, not
// left to ON DELETE CASCADE, so that they are counted.
var purgeStatements = [...]string{
	`WITH s AS (SELECT id FROM sessions WHERE expires_at < $1 OR revoked_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED),
	      r AS (DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM s) RETURNING 1),
	      d AS (DELETE FROM sessions WHERE id IN (SELECT id FROM s) RETURNING 1)
	 SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM d) + (SELECT count(*) FROM r)`,
	`WITH d AS (DELETE FROM one_time_tokens WHERE hash IN
	      (SELECT hash FROM one_time_tokens WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING 1)
	 SELECT count(*), count(*) FROM d`,
	`WITH d AS (DELETE FROM revocations WHERE seq IN
	      (SELECT seq FROM revocations WHERE revoked_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING 1)
	 SELECT count(*), count(*) FROM d`,
	`WITH d AS (DELETE FROM signing_keys WHERE id IN
	      (SELECT id FROM signing_keys WHERE not_after < $1 LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING 1)
	 SELECT count(*), count(*) FROM d`,
}

// PurgeAuth deletes what can no longer matter at before: sessions that
// expired or were revoked before it, with their refresh tokens; one-time
// tokens that expired before it; revocations recorded before it; signing
// keys whose NotAfter is before it. It deletes in batches, each its own
// transaction, and returns how many rows it deleted.
func (s *Store) PurgeAuth(ctx context.Context, before time.Time) (int64, error) {
	const op = "postgres.PurgeAuth"
	var total int64
	for _, stmt := range purgeStatements {
		for {
			var batch, all int64
			err := s.read(ctx, op, func(q queryer) error {
				return authErr(op, q.QueryRow(ctx, stmt, before, purgeBatch).Scan(&batch, &all))
			})
			if err != nil {
				return total, err
			}
			total += all
			if batch < purgeBatch {
				break
			}
		}
	}
	return total, nil
}

// authTx is an accounts.Tx over the PostgreSQL transaction of a Write.
type authTx struct {
	q pgx.Tx
}

var _ accounts.Tx = (*authTx)(nil)

// forUpdate locks the rows a Tx read returns until the transaction ends;
// see the comment at the top of this file.
const forUpdate = " FOR NO KEY UPDATE"

func (t *authTx) GetAccount(ctx context.Context, id string) (accounts.Account, error) {
	return accountByID(ctx, t.q, "postgres.GetAccount", id, forUpdate)
}

func (t *authTx) GetAccountByEmail(ctx context.Context, email string) (accounts.Account, error) {
	return accountByEmail(ctx, t.q, "postgres.GetAccountByEmail", email, forUpdate)
}

func (t *authTx) InsertAccount(ctx context.Context, a accounts.Account) error {
	return authInsert(ctx, t.q, "postgres.InsertAccount", "an account with this ID or email address already exists",
		`INSERT INTO accounts (`+accountColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		a.ID, a.Email, a.PasswordHash, nonNilStrings(a.Roles), nullTime(a.VerifiedAt), nullTime(a.DisabledAt),
		a.CreatedAt, a.UpdatedAt)
}

// UpdateAccount overwrites every field of the account with a.ID. When
// a.Email belongs to another account it changes nothing and fails with
// Conflict, without aborting the transaction.
func (t *authTx) UpdateAccount(ctx context.Context, a accounts.Account) error {
	const op = "postgres.UpdateAccount"
	tag, err := t.q.Exec(ctx, `UPDATE accounts SET email = $2, password_hash = $3, roles = $4, verified_at = $5,
		disabled_at = $6, created_at = $7, updated_at = $8
		WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM accounts WHERE email = $2 AND id <> $1)`,
		a.ID, a.Email, a.PasswordHash, nonNilStrings(a.Roles), nullTime(a.VerifiedAt), nullTime(a.DisabledAt),
		a.CreatedAt, a.UpdatedAt)
	if err != nil {
		return authErr(op, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if _, err := accountByID(ctx, t.q, op, a.ID, ""); err != nil {
		return err
	}
	return fault.New(fault.Conflict, op, "another account has this email address")
}

func (t *authTx) DeleteAccount(ctx context.Context, id string) error {
	return authExec(ctx, t.q, "postgres.DeleteAccount", "account not found", `DELETE FROM accounts WHERE id = $1`, id)
}

// GetSession reads a session and locks it until the transaction ends, so
// that concurrent refreshes of one session run one after another, each
// seeing what the previous one committed.
func (t *authTx) GetSession(ctx context.Context, id string) (accounts.Session, error) {
	return sessionByID(ctx, t.q, "postgres.GetSession", id, forUpdate)
}

func (t *authTx) InsertSession(ctx context.Context, s accounts.Session) error {
	return authInsert(ctx, t.q, "postgres.InsertSession", "a session with this ID already exists",
		`INSERT INTO sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		s.ID, s.AccountID, s.Device, s.UserAgent, s.IP, s.CreatedAt, nullTime(s.LastUsedAt), s.ExpiresAt,
		nullTime(s.RevokedAt), s.RevokeReason)
}

func (t *authTx) UpdateSession(ctx context.Context, s accounts.Session) error {
	return authExec(ctx, t.q, "postgres.UpdateSession", "session not found",
		`UPDATE sessions SET account_id = $2, device = $3, user_agent = $4, ip = $5, created_at = $6, last_used_at = $7,
		expires_at = $8, revoked_at = $9, revoke_reason = $10 WHERE id = $1`,
		s.ID, s.AccountID, s.Device, s.UserAgent, s.IP, s.CreatedAt, nullTime(s.LastUsedAt), s.ExpiresAt,
		nullTime(s.RevokedAt), s.RevokeReason)
}

func (t *authTx) ListSessions(ctx context.Context, accountID string) ([]accounts.Session, error) {
	return listSessions(ctx, t.q, "postgres.ListSessions", accountID)
}

// GetRefreshToken reads a refresh token and locks it until the
// transaction ends, so that a transaction exchanging it sees whether a
// concurrent one already did.
func (t *authTx) GetRefreshToken(ctx context.Context, hash []byte) (accounts.RefreshToken, error) {
	return authGet(ctx, t.q, "postgres.GetRefreshToken", "refresh token not found", scanRefreshToken,
		`SELECT `+refreshTokenColumns+` FROM refresh_tokens WHERE hash = $1`+forUpdate, nonNilBytes(hash))
}

func (t *authTx) InsertRefreshToken(ctx context.Context, r accounts.RefreshToken) error {
	return authInsert(ctx, t.q, "postgres.InsertRefreshToken", "this refresh token already exists",
		`INSERT INTO refresh_tokens (`+refreshTokenColumns+`) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		nonNilBytes(r.Hash), r.SessionID, r.Generation, r.CreatedAt, nullTime(r.UsedAt))
}

func (t *authTx) MarkRefreshTokenUsed(ctx context.Context, hash []byte, usedAt time.Time) error {
	return authExec(ctx, t.q, "postgres.MarkRefreshTokenUsed", "refresh token not found",
		`UPDATE refresh_tokens SET used_at = $2 WHERE hash = $1`, nonNilBytes(hash), nullTime(usedAt))
}

func (t *authTx) LatestRefreshToken(ctx context.Context, sessionID string) (accounts.RefreshToken, error) {
	return authGet(ctx, t.q, "postgres.LatestRefreshToken", "the session has no refresh token", scanRefreshToken,
		`SELECT `+refreshTokenColumns+` FROM refresh_tokens WHERE session_id = $1
		ORDER BY generation DESC, created_at DESC LIMIT 1`, sessionID)
}

func (t *authTx) InsertOneTimeToken(ctx context.Context, o accounts.OneTimeToken) error {
	return authInsert(ctx, t.q, "postgres.InsertOneTimeToken", "this one-time token already exists",
		`INSERT INTO one_time_tokens (`+oneTimeTokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		nonNilBytes(o.Hash), o.Purpose, pgtype.Text{String: o.AccountID, Valid: o.AccountID != ""}, o.Email,
		nonNilStrings(o.Roles), o.CreatedAt, o.ExpiresAt)
}

// TakeOneTimeToken deletes and returns the token whose hash and purpose
// match, whether it has expired or not: the service checks ExpiresAt.
func (t *authTx) TakeOneTimeToken(ctx context.Context, hash []byte, purpose string) (accounts.OneTimeToken, error) {
	return authGet(ctx, t.q, "postgres.TakeOneTimeToken", "one-time token not found", scanOneTimeToken,
		`DELETE FROM one_time_tokens WHERE hash = $1 AND purpose = $2 RETURNING `+oneTimeTokenColumns,
		nonNilBytes(hash), purpose)
}

func (t *authTx) DeleteOneTimeTokens(ctx context.Context, accountID, purpose string) error {
	const op = "postgres.DeleteOneTimeTokens"
	_, err := t.q.Exec(ctx, `DELETE FROM one_time_tokens WHERE account_id = $1 AND purpose = $2`, accountID, purpose)
	return authErr(op, err)
}

func (t *authTx) GetAPIKey(ctx context.Context, id string) (accounts.APIKey, error) {
	return authGet(ctx, t.q, "postgres.GetAPIKey", "API key not found", scanAPIKey,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE id = $1`+forUpdate, id)
}

func (t *authTx) InsertAPIKey(ctx context.Context, k accounts.APIKey) error {
	return authInsert(ctx, t.q, "postgres.InsertAPIKey", "an API key with this ID or hash already exists",
		`INSERT INTO api_keys (`+apiKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT DO NOTHING`,
		k.ID, k.Name, k.Prefix, nonNilBytes(k.Hash), nonNilStrings(k.Roles), nonNilStrings(k.Scopes), k.CreatedBy, k.CreatedByKey,
		k.CreatedAt, nullTime(k.ExpiresAt), nullTime(k.LastUsedAt), nullTime(k.RevokedAt))
}

// UpdateAPIKey overwrites every field of the API key with k.ID. When
// k.Hash belongs to another key it changes nothing and fails with
// Conflict, without aborting the transaction.
func (t *authTx) UpdateAPIKey(ctx context.Context, k accounts.APIKey) error {
	const op = "postgres.UpdateAPIKey"
	tag, err := t.q.Exec(ctx, `UPDATE api_keys SET name = $2, prefix = $3, hash = $4, roles = $5, scopes = $6,
		created_by = $7, created_by_key = $12, created_at = $8, expires_at = $9, last_used_at = $10, revoked_at = $11
		WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM api_keys WHERE hash = $4 AND id <> $1)`,
		k.ID, k.Name, k.Prefix, nonNilBytes(k.Hash), nonNilStrings(k.Roles), nonNilStrings(k.Scopes), k.CreatedBy,
		k.CreatedAt, nullTime(k.ExpiresAt), nullTime(k.LastUsedAt), nullTime(k.RevokedAt), k.CreatedByKey)
	if err != nil {
		return authErr(op, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var one int
	err = t.q.QueryRow(ctx, `SELECT 1 FROM api_keys WHERE id = $1`, k.ID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fault.New(fault.NotFound, op, "API key not found")
	}
	if err != nil {
		return authErr(op, err)
	}
	return fault.New(fault.Conflict, op, "another API key has this hash")
}

func (t *authTx) InsertSigningKey(ctx context.Context, k accounts.SigningKey) error {
	return authInsert(ctx, t.q, "postgres.InsertSigningKey", "a signing key with this ID already exists",
		`INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		k.ID, nonNilBytes(k.Private), k.CreatedAt, nullTime(k.NotAfter))
}

func (t *authTx) UpdateSigningKey(ctx context.Context, k accounts.SigningKey) error {
	return authExec(ctx, t.q, "postgres.UpdateSigningKey", "signing key not found",
		`UPDATE signing_keys SET not_after = $2 WHERE id = $1`, k.ID, nullTime(k.NotAfter))
}

// SigningKeys returns every signing key, oldest first, and keeps other
// transactions from changing the keys until this one ends (readers
// outside transactions are not held up), so that processes rotating keys
// at the same moment do it one after another, each seeing the keys the
// previous one wrote.
func (t *authTx) SigningKeys(ctx context.Context) ([]accounts.SigningKey, error) {
	const op = "postgres.SigningKeys"
	// Its own statement, before the read: the read's snapshot is then
	// taken after the lock is granted.
	if _, err := t.q.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return nil, authErr(op, err)
	}
	return signingKeys(ctx, t.q, op)
}

func (t *authTx) AppendRevocation(ctx context.Context, r accounts.Revocation) error {
	const op = "postgres.AppendRevocation"
	_, err := t.q.Exec(ctx, `INSERT INTO revocations (id, revoked_at) VALUES ($1, $2)`, r.ID, r.RevokedAt)
	return authErr(op, err)
}
