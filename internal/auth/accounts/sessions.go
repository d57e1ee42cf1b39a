package accounts

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/token"
	"github.com/basaltdev/basalt/internal/fault"
)

// Limits on what clients label sessions with.
const (
	maxDeviceBytes    = 128
	maxUserAgentBytes = 512
)

const (
	badCredentialsMsg = "invalid email or password"
	badRefreshMsg     = "invalid or expired refresh token"
)

// Login checks an email address and password and starts a session.
//
// Unknown addresses and wrong passwords get the same answer after the same
// work (an unknown address is verified against a dummy hash), in every
// state: the throttles are keyed by the address as given, and the hasher's
// refusals (budget spent, hasher unavailable) are answered alike. Attempts
// are throttled per IP and per address before any hashing.
func (s *Service) Login(ctx context.Context, r LoginRequest) (Tokens, error) {
	t, err := s.login(ctx, r)
	s.metrics.logins.WithLabelValues(loginOutcome(err)).Inc()
	return t, err
}

func (s *Service) login(ctx context.Context, r LoginRequest) (Tokens, error) {
	const op = "accounts.Login"
	email, err := lookupEmail(op, r.Email)
	if err != nil {
		return Tokens{}, err
	}
	if r.Password == "" {
		return Tokens{}, fieldErr(op, "/password", "is required")
	}
	if len(r.Device) > maxDeviceBytes {
		return Tokens{}, fieldErr(op, "/device", "must be at most 128 bytes long")
	}
	if err := s.throttle(ctx, op, r.IP, email); err != nil {
		return Tokens{}, err
	}
	if err := s.spendHash(ctx, op, r.IP); err != nil {
		return Tokens{}, err
	}
	acct, err := s.store.AccountByEmail(ctx, email)
	known := err == nil
	if err != nil && !fault.Is(err, fault.NotFound) {
		return Tokens{}, err
	}
	var ok, rehash bool
	if known {
		ok, rehash, err = s.hasher.Verify(ctx, r.Password, acct.PasswordHash)
	} else {
		err = s.hasher.DummyVerify(ctx, r.Password)
	}
	if err != nil {
		if fault.Is(err, fault.Invalid) { // the password itself is out of bounds
			return Tokens{}, fault.New(fault.Unauthenticated, op, badCredentialsMsg)
		}
		return Tokens{}, err
	}
	if !ok {
		return Tokens{}, fault.New(fault.Unauthenticated, op, badCredentialsMsg)
	}
	if !acct.DisabledAt.IsZero() {
		return Tokens{}, fault.New(fault.Forbidden, op, "this account is disabled")
	}
	if s.opts.RequireVerified && acct.VerifiedAt.IsZero() {
		return Tokens{}, fault.New(fault.Forbidden, op, "verify your email address before signing in")
	}
	newHash := ""
	if rehash {
		if newHash, err = s.hasher.Hash(ctx, r.Password); err != nil {
			s.log.Warn("accounts: rehashing a password on login", "account", acct.ID, "err", err)
			newHash = ""
		}
	}

	now := s.timestamp()
	refresh, err := newSecret(refreshPrefix)
	if err != nil {
		return Tokens{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Tokens{}, fault.Internalf(op, err)
	}
	sess := Session{
		ID: id.String(), AccountID: acct.ID, Device: r.Device, UserAgent: truncate(r.UserAgent, maxUserAgentBytes),
		IP: r.IP, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.opts.SessionLifetime),
	}
	err = s.store.AuthWrite(ctx, func(tx Tx) error {
		if newHash != "" {
			a, err := tx.GetAccount(ctx, acct.ID)
			if err != nil {
				return err
			}
			a.PasswordHash, a.UpdatedAt = newHash, now
			if err := tx.UpdateAccount(ctx, a); err != nil {
				return err
			}
		}
		if err := tx.InsertSession(ctx, sess); err != nil {
			return err
		}
		return tx.InsertRefreshToken(ctx, RefreshToken{Hash: hashSecret(refresh), SessionID: sess.ID, Generation: 1, CreatedAt: now})
	})
	if err != nil {
		return Tokens{}, err
	}
	return s.tokens(acct, sess, refresh, now)
}

// errRefreshRejected is returned inside a refresh transaction to roll it
// back; Refresh answers it with one Unauthenticated message.
var errRefreshRejected = errors.New("refresh token rejected")

// Refresh exchanges a refresh token for a new access token and the next
// refresh token of its session's chain.
//
// Each token is good once. A retry with the same token within RefreshGrace
// of its first use, while its successor is still unused, gets that same
// successor again (clients retrying a refresh whose answer was lost, or
// racing tabs, end up on one chain). Any other use of a spent token means
// it leaked: the whole session is revoked.
func (s *Service) Refresh(ctx context.Context, r RefreshRequest) (Tokens, error) {
	const op = "accounts.Refresh"
	rejected := fault.New(fault.Unauthenticated, op, badRefreshMsg)
	if !wellFormed(r.RefreshToken, refreshPrefix) {
		s.metrics.refreshes.WithLabelValues("rejected").Inc()
		return Tokens{}, rejected
	}
	hash := hashSecret(r.RefreshToken)
	next := successor(s.opts.DerivationKey, r.RefreshToken)
	now := s.timestamp()
	var (
		acct          Account
		sess          Session
		reused, retry bool
	)
	err := s.store.AuthWrite(ctx, func(tx Tx) error {
		reused, retry = false, false
		rt, err := tx.GetRefreshToken(ctx, hash)
		if err != nil {
			return notFoundAs(err, errRefreshRejected)
		}
		if sess, err = tx.GetSession(ctx, rt.SessionID); err != nil { // locks the session
			return notFoundAs(err, errRefreshRejected)
		}
		if rt, err = tx.GetRefreshToken(ctx, hash); err != nil { // as of the lock
			return notFoundAs(err, errRefreshRejected)
		}
		if !sess.RevokedAt.IsZero() || !now.Before(sess.ExpiresAt) || !now.Before(sess.LastUsedAt.Add(s.opts.SessionIdle)) {
			return errRefreshRejected
		}
		if acct, err = tx.GetAccount(ctx, sess.AccountID); err != nil {
			return notFoundAs(err, errRefreshRejected)
		}
		if !acct.DisabledAt.IsZero() {
			return errRefreshRejected
		}
		if rt.UsedAt.IsZero() {
			if err := tx.MarkRefreshTokenUsed(ctx, hash, now); err != nil {
				return err
			}
			succ := RefreshToken{Hash: hashSecret(next), SessionID: sess.ID, Generation: rt.Generation + 1, CreatedAt: now}
			if err := tx.InsertRefreshToken(ctx, succ); err != nil {
				return err
			}
			sess.LastUsedAt = now
			if r.IP != "" {
				sess.IP = r.IP
			}
			if r.UserAgent != "" {
				sess.UserAgent = truncate(r.UserAgent, maxUserAgentBytes)
			}
			return tx.UpdateSession(ctx, sess)
		}
		succ, err := tx.GetRefreshToken(ctx, hashSecret(next))
		if err != nil && !fault.Is(err, fault.NotFound) {
			return err
		}
		if err == nil && succ.UsedAt.IsZero() && !now.After(rt.UsedAt.Add(s.opts.RefreshGrace)) {
			retry = true // the same successor again
			return nil
		}
		reused = true
		return s.revokeInTx(ctx, tx, &sess, "reuse", now)
	})
	outcome := "ok"
	defer func() { s.metrics.refreshes.WithLabelValues(outcome).Inc() }()
	switch {
	case errors.Is(err, errRefreshRejected):
		outcome = "rejected"
		return Tokens{}, rejected
	case err != nil:
		outcome = "error"
		return Tokens{}, err
	case reused:
		outcome = "reuse"
		s.revoked.Add(sess.ID, now)
		s.log.Warn("accounts: a spent refresh token was presented again; session revoked",
			"session", sess.ID, "account", sess.AccountID, "ip", r.IP)
		return Tokens{}, rejected
	case retry:
		outcome = "retry"
	}
	return s.tokens(acct, sess, next, now)
}

// tokens issues an access token for a session and packs the answer.
func (s *Service) tokens(acct Account, sess Session, refresh string, now time.Time) (Tokens, error) {
	key, err := s.keys.signing()
	if err != nil {
		return Tokens{}, err
	}
	at, c, err := s.issuer.Issue(key, token.Claims{Subject: acct.ID, SessionID: sess.ID, Roles: acct.Roles})
	if err != nil {
		return Tokens{}, err
	}
	refreshEnd := sess.LastUsedAt.Add(s.opts.SessionIdle)
	if sess.ExpiresAt.Before(refreshEnd) {
		refreshEnd = sess.ExpiresAt
	}
	return Tokens{
		AccessToken: at, TokenType: "Bearer",
		ExpiresIn:       int64(c.Expiry.Sub(now).Round(time.Second) / time.Second),
		AccessExpiresAt: c.Expiry.UTC(), RefreshToken: refresh, RefreshExpiresAt: refreshEnd, Session: sess,
	}, nil
}

// Logout ends the caller's session: its refresh tokens stop working at
// once and its access tokens within the revocation bound.
func (s *Service) Logout(ctx context.Context) error {
	p, err := requireUser(ctx, "accounts.Logout")
	if err != nil {
		return err
	}
	return s.revokeSession(ctx, p.SessionID, "logout", func(Session) bool { return true })
}

// Sessions returns the caller's sessions, newest first.
func (s *Service) Sessions(ctx context.Context) ([]Session, error) {
	p, err := requireUser(ctx, "accounts.Sessions")
	if err != nil {
		return nil, err
	}
	return s.store.ListSessions(ctx, p.ID)
}

// AccountSessions returns an account's sessions, newest first. Admins
// only.
func (s *Service) AccountSessions(ctx context.Context, accountID string) ([]Session, error) {
	if err := requireAdmin(ctx, "accounts.AccountSessions", auth.ScopeAdminSessions); err != nil {
		return nil, err
	}
	return s.store.ListSessions(ctx, accountID)
}

// RevokeSession ends one of the caller's own sessions. Any other session,
// whoever the caller, is NotFound (admins revoke other accounts' sessions
// with RevokeAnySession).
func (s *Service) RevokeSession(ctx context.Context, id string) error {
	const op = "accounts.RevokeSession"
	p, err := requireUser(ctx, op)
	if err != nil {
		return err
	}
	err = s.revokeSession(ctx, id, "user", func(sess Session) bool { return sess.AccountID == p.ID })
	if errors.Is(err, errRefreshRejected) || fault.Is(err, fault.NotFound) {
		return fault.New(fault.NotFound, op, "no such session")
	}
	return err
}

// RevokeAnySession ends any account's session. Admins only.
func (s *Service) RevokeAnySession(ctx context.Context, id string) error {
	const op = "accounts.RevokeAnySession"
	if err := requireAdmin(ctx, op, auth.ScopeAdminSessions); err != nil {
		return err
	}
	err := s.revokeSession(ctx, id, "admin", func(Session) bool { return true })
	if fault.Is(err, fault.NotFound) {
		return fault.New(fault.NotFound, op, "no such session")
	}
	return err
}

// revokeSession revokes one session if allowed says the caller may.
func (s *Service) revokeSession(ctx context.Context, id, reason string, allowed func(Session) bool) error {
	if id == "" || len(id) > 64 {
		return fault.New(fault.NotFound, "accounts.RevokeSession", "no such session")
	}
	now := s.timestamp()
	err := s.store.AuthWrite(ctx, func(tx Tx) error {
		sess, err := tx.GetSession(ctx, id)
		if err != nil {
			return err
		}
		if !allowed(sess) {
			return errRefreshRejected
		}
		return s.revokeInTx(ctx, tx, &sess, reason, now)
	})
	if err == nil {
		s.revoked.Add(id, now)
	}
	return err
}

// revokeAccountSessions revokes every live session of an account except
// keep, inside tx, and returns the IDs it revoked.
func (s *Service) revokeAccountSessions(ctx context.Context, tx Tx, accountID, keep, reason string, now time.Time) ([]string, error) {
	sessions, err := tx.ListSessions(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for i := range sessions {
		sess := &sessions[i]
		if sess.ID == keep || !sess.RevokedAt.IsZero() {
			continue
		}
		if err := s.revokeInTx(ctx, tx, sess, reason, now); err != nil {
			return nil, err
		}
		ids = append(ids, sess.ID)
	}
	return ids, nil
}

// revokeInTx marks a session revoked and records the revocation for every
// process's feed. The caller adds it to the local set after commit.
func (s *Service) revokeInTx(ctx context.Context, tx Tx, sess *Session, reason string, now time.Time) error {
	if !sess.RevokedAt.IsZero() {
		return nil
	}
	sess.RevokedAt, sess.RevokeReason = now, reason
	if err := tx.UpdateSession(ctx, *sess); err != nil {
		return err
	}
	return tx.AppendRevocation(ctx, Revocation{ID: sess.ID, RevokedAt: now})
}

// addRevoked tells the local revocation set about sessions this process
// revoked.
func (s *Service) addRevoked(ids []string, at time.Time) {
	for _, id := range ids {
		s.revoked.Add(id, at)
	}
}

// notFoundAs turns a NotFound error into repl.
func notFoundAs(err, repl error) error {
	if fault.Is(err, fault.NotFound) {
		return repl
	}
	return err
}

func fieldErr(op, pointer, msg string) error {
	return &fault.Error{Kind: fault.Validation, Op: op, Msg: "invalid request",
		Fields: []fault.FieldError{{Pointer: pointer, Message: msg}}}
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
