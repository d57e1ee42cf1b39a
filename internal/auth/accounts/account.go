package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/basaltdev/basalt/internal/auth/mail"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/ratelimit"
)

const badEmailTokenMsg = "invalid or expired token"

// SignUp creates an account and emails a verification token. Its answer
// never says whether the address already had an account: the owner of an
// existing address gets an email saying someone tried to sign up instead,
// and both paths hash the password, so they take the same time. Attempts
// are throttled per IP and per address (which bounds the mail an address
// can be sent) before any hashing, whether or not the address has an
// account.
//
// The sign-up mode (Options.Signup) decides who may sign up: in
// SignupClosed nobody (Forbidden, type signup_closed), in SignupInvite
// only with an invitation (Forbidden, type invite_required). With an
// invitation (r.Invite, in open mode too), the account gets the invited
// roles and a verified address, and the invitation is used up; one that is
// unknown, used, expired or for another address is Forbidden, type
// invite_invalid, checked before the password is hashed.
func (s *Service) SignUp(ctx context.Context, r SignUpRequest) error {
	const op = "accounts.SignUp"
	if err := s.checkSignupMode(op, r); err != nil {
		return err
	}
	email, err := normalizeEmail(op, r.Email)
	if err != nil {
		return err
	}
	if err := checkNewPassword(op, "/password", r.Password); err != nil {
		return err
	}
	if err := s.throttle(ctx, op, r.IP, "signup:"+email); err != nil {
		return err
	}
	now := s.timestamp()
	if r.Invite != "" {
		if err := s.checkInvite(ctx, op, r.Invite, email, now); err != nil {
			return err
		}
	}
	if err := s.spendHash(ctx, op, r.IP); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, r.Password)
	if err != nil {
		return err
	}
	if r.Invite != "" {
		return s.signUpInvited(ctx, op, r.Invite, email, hash, now)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return fault.Internalf(op, err)
	}
	verify, err := newSecret(emailPrefix)
	if err != nil {
		return err
	}
	acct := Account{ID: id.String(), Email: email, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	err = s.store.AuthWrite(ctx, func(tx Tx) error {
		if err := tx.InsertAccount(ctx, acct); err != nil {
			return err
		}
		return tx.InsertOneTimeToken(ctx, OneTimeToken{Hash: hashSecret(verify), Purpose: PurposeVerifyEmail,
			AccountID: acct.ID, CreatedAt: now, ExpiresAt: now.Add(s.opts.VerifyTTL)})
	})
	switch {
	case fault.Is(err, fault.Conflict):
		s.send(existingAccountMail(email))
		return nil
	case err != nil:
		return err
	}
	s.send(verificationMail(email, verify, s.opts.VerifyTTL))
	return nil
}

// existingAccountMail tells the owner of an address that has an account
// that someone tried to sign up with it.
func existingAccountMail(to string) mail.Message {
	return mail.Message{To: to, Subject: "Sign-up attempt for your account",
		Text: "Someone tried to create an account with this email address, which already has one.\n" +
			"If it was you, sign in instead, or reset your password if you forgot it.\n" +
			"If it was not you, you can ignore this message.\n"}
}

func verificationMail(to, tok string, ttl time.Duration) mail.Message {
	return mail.Message{To: to, Subject: "Verify your email address",
		Text: fmt.Sprintf("Your verification token is:\n\n  %s\n\nSend it as {\"token\": \"…\"} to POST /v1/auth/verify within %s.\n", tok, ttl)}
}

// send queues mail; a full queue is logged, never shown to the client, so
// answers do not depend on it.
func (s *Service) send(m mail.Message) {
	if err := s.opts.Mail.Enqueue(m); err != nil {
		s.log.Error("accounts: mail not queued", "subject", m.Subject, "err", err)
	}
}

// throttle spends one attempt of the per-IP and the per-address budget.
func (s *Service) throttle(ctx context.Context, op, ip, email string) error {
	if ip != "" {
		if err := s.allow(ctx, op, "auth:ip:"+ip, s.opts.LoginPerIP); err != nil {
			return err
		}
	}
	if email != "" {
		return s.allow(ctx, op, "auth:email:"+email, s.opts.LoginPerEmail)
	}
	return nil
}

// spendHash counts a hash about to start for a client IP against the share
// of the hashing budget one IP may use (Options.HashSharePerIP). Callers
// spend it before anything that depends on the account, so that it answers
// alike for every address.
func (s *Service) spendHash(ctx context.Context, op, ip string) error {
	if ip == "" || s.hashPerIP == (ratelimit.Limit{}) {
		return nil
	}
	lim := s.opts.HashLimiter
	if lim == nil {
		lim = s.opts.Limiter
	}
	return allowOn(ctx, lim, op, "hash:ip:"+ip, s.hashPerIP)
}

// allow spends one event of key under l: TooManyRequests, with a
// Retry-After of at least a second, when there is none left.
func (s *Service) allow(ctx context.Context, op, key string, l ratelimit.Limit) error {
	return allowOn(ctx, s.opts.Limiter, op, key, l)
}

// allowOn is allow on the limiter lim (nil: unlimited).
func allowOn(ctx context.Context, lim ratelimit.Limiter, op, key string, l ratelimit.Limit) error {
	if lim == nil {
		return nil
	}
	d, err := lim.Allow(ctx, key, l, 1)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return &fault.Error{Kind: fault.TooManyRequests, Op: op, Msg: "too many attempts; try again later",
			RetryAfter: max(d.RetryAfter, time.Second)}
	}
	return nil
}

// Me returns the caller's account.
func (s *Service) Me(ctx context.Context) (Account, error) {
	p, err := requireUser(ctx, "accounts.Me")
	if err != nil {
		return Account{}, err
	}
	a, err := s.store.AccountByID(ctx, p.ID)
	if fault.Is(err, fault.NotFound) {
		return Account{}, fault.New(fault.Unauthenticated, "accounts.Me", "the account no longer exists")
	}
	return a, err
}

// DeleteMe deletes the caller's account after checking its password, and
// ends all its sessions.
func (s *Service) DeleteMe(ctx context.Context, password string) error {
	const op = "accounts.DeleteMe"
	acct, err := s.Me(ctx)
	if err != nil {
		return err
	}
	if err := s.checkPassword(ctx, op, "/password", password, acct); err != nil {
		return err
	}
	return s.deleteAccount(ctx, acct.ID)
}

// checkPassword verifies the current password of an account; a wrong one
// is Forbidden. Each check spends an attempt of the account's login limit
// before hashing, so a stolen access token cannot guess the password any
// faster than a login can.
func (s *Service) checkPassword(ctx context.Context, op, pointer, pw string, acct Account) error {
	if pw == "" {
		return fieldErr(op, pointer, "is required")
	}
	if err := s.throttle(ctx, op, "", acct.Email); err != nil {
		return err
	}
	ok, _, err := s.hasher.Verify(ctx, pw, acct.PasswordHash)
	if err != nil && !fault.Is(err, fault.Invalid) {
		return err
	}
	if !ok {
		return &fault.Error{Kind: fault.Forbidden, Op: op, Msg: "the password is not correct",
			Fields: []fault.FieldError{{Pointer: pointer, Message: "is not correct"}}}
	}
	return nil
}

func (s *Service) deleteAccount(ctx context.Context, id string) error {
	now := s.timestamp()
	var revoked []string
	err := s.store.AuthWrite(ctx, func(tx Tx) error {
		var err error
		if revoked, err = s.revokeAccountSessions(ctx, tx, id, "", "deleted", now); err != nil {
			return err
		}
		return tx.DeleteAccount(ctx, id)
	})
	if err == nil {
		s.addRevoked(revoked, now)
	}
	return err
}

// ChangePassword sets a new password for the caller after checking the
// current one, and ends every other session of the account.
func (s *Service) ChangePassword(ctx context.Context, r ChangePasswordRequest) error {
	const op = "accounts.ChangePassword"
	p, err := requireUser(ctx, op)
	if err != nil {
		return err
	}
	if err := checkNewPassword(op, "/newPassword", r.NewPassword); err != nil {
		return err
	}
	acct, err := s.Me(ctx)
	if err != nil {
		return err
	}
	if err := s.checkPassword(ctx, op, "/currentPassword", r.CurrentPassword, acct); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, r.NewPassword)
	if err != nil {
		return err
	}
	now := s.timestamp()
	var revoked []string
	err = s.store.AuthWrite(ctx, func(tx Tx) error {
		a, err := tx.GetAccount(ctx, acct.ID)
		if err != nil {
			return err
		}
		a.PasswordHash, a.UpdatedAt = hash, now
		if err := tx.UpdateAccount(ctx, a); err != nil {
			return err
		}
		if err := tx.DeleteOneTimeTokens(ctx, a.ID, PurposeResetPassword); err != nil {
			return err
		}
		revoked, err = s.revokeAccountSessions(ctx, tx, a.ID, p.SessionID, "password", now)
		return err
	})
	if err == nil {
		s.addRevoked(revoked, now)
	}
	return err
}

// RequestPasswordReset emails a reset token if the address has an account.
// The answer is the same either way, and so is the time it takes: the
// token is stored and mailed after answering, by Run.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	const op = "accounts.RequestPasswordReset"
	email, err := lookupEmail(op, email)
	if err != nil {
		return err
	}
	if err := s.throttle(ctx, op, "", "reset:"+email); err != nil {
		return err
	}
	acct, err := s.store.AccountByEmail(ctx, email)
	if fault.Is(err, fault.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !acct.DisabledAt.IsZero() {
		return nil
	}
	s.later("password reset mail", func(ctx context.Context) error { return s.sendReset(ctx, acct) })
	return nil
}

// sendReset stores a new reset token for acct and mails it.
func (s *Service) sendReset(ctx context.Context, acct Account) error {
	tok, err := newSecret(emailPrefix)
	if err != nil {
		return err
	}
	now := s.timestamp()
	err = s.store.AuthWrite(ctx, func(tx Tx) error {
		if err := tx.DeleteOneTimeTokens(ctx, acct.ID, PurposeResetPassword); err != nil {
			return err
		}
		return tx.InsertOneTimeToken(ctx, OneTimeToken{Hash: hashSecret(tok), Purpose: PurposeResetPassword,
			AccountID: acct.ID, CreatedAt: now, ExpiresAt: now.Add(s.opts.ResetTTL)})
	})
	if err != nil {
		return err
	}
	s.send(mail.Message{To: acct.Email, Subject: "Reset your password",
		Text: fmt.Sprintf("Your password reset token is:\n\n  %s\n\nSend it with your new password as "+
			"{\"token\": \"…\", \"newPassword\": \"…\"} to POST /v1/auth/password/reset/confirm within %s.\n"+
			"If you did not ask for this, ignore this message.\n", tok, s.opts.ResetTTL)})
	return nil
}

// ResetPassword sets a new password with an emailed reset token, marks the
// address verified (the token proves it) and ends every session.
//
// Attempts are throttled per IP like logins, and the token is checked
// before the new password is hashed, so made-up tokens cost no hash.
func (s *Service) ResetPassword(ctx context.Context, r ResetPasswordRequest) error {
	const op = "accounts.ResetPassword"
	if err := checkNewPassword(op, "/newPassword", r.NewPassword); err != nil {
		return err
	}
	if !wellFormed(r.Token, emailPrefix) {
		return fieldErr(op, "/token", badEmailTokenMsg)
	}
	if err := s.throttle(ctx, op, r.IP, ""); err != nil {
		return err
	}
	now := s.timestamp()
	// Read the token first, so a made-up one costs no hash; it is taken
	// (and checked again) in the transaction that sets the password.
	if err := s.checkEmailToken(ctx, r.Token, PurposeResetPassword, now); err != nil {
		return err
	}
	if err := s.spendHash(ctx, op, r.IP); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, r.NewPassword)
	if err != nil {
		return err
	}
	var revoked []string
	err = s.useEmailToken(ctx, r.Token, PurposeResetPassword, now, func(tx Tx, a *Account) error {
		a.PasswordHash = hash
		if a.VerifiedAt.IsZero() {
			a.VerifiedAt = now
		}
		var err error
		revoked, err = s.revokeAccountSessions(ctx, tx, a.ID, "", "password-reset", now)
		return err
	})
	if err == nil {
		s.addRevoked(revoked, now)
	}
	return err
}

// RequestVerification emails the caller a new verification token, unless
// the address is verified already.
func (s *Service) RequestVerification(ctx context.Context) error {
	const op = "accounts.RequestVerification"
	acct, err := s.Me(ctx)
	if err != nil {
		return err
	}
	if !acct.VerifiedAt.IsZero() {
		return nil
	}
	if err := s.throttle(ctx, op, "", "verify:"+acct.Email); err != nil {
		return err
	}
	tok, err := newSecret(emailPrefix)
	if err != nil {
		return err
	}
	now := s.timestamp()
	err = s.store.AuthWrite(ctx, func(tx Tx) error {
		if err := tx.DeleteOneTimeTokens(ctx, acct.ID, PurposeVerifyEmail); err != nil {
			return err
		}
		return tx.InsertOneTimeToken(ctx, OneTimeToken{Hash: hashSecret(tok), Purpose: PurposeVerifyEmail,
			AccountID: acct.ID, CreatedAt: now, ExpiresAt: now.Add(s.opts.VerifyTTL)})
	})
	if err != nil {
		return err
	}
	s.send(verificationMail(acct.Email, tok, s.opts.VerifyTTL))
	return nil
}

// VerifyEmail marks an account's address verified with an emailed token.
func (s *Service) VerifyEmail(ctx context.Context, tok string) error {
	const op = "accounts.VerifyEmail"
	if !wellFormed(tok, emailPrefix) {
		return fieldErr(op, "/token", badEmailTokenMsg)
	}
	now := s.timestamp()
	return s.useEmailToken(ctx, tok, PurposeVerifyEmail, now, func(_ Tx, a *Account) error {
		if a.VerifiedAt.IsZero() {
			a.VerifiedAt = now
		}
		return nil
	})
}

// errEmailToken rolls back a transaction that met an unusable token.
var errEmailToken = errors.New("email token rejected")

// checkEmailToken reports, reading only, whether useEmailToken would take
// tok now: a one-time token of purpose that has not expired, of an account
// that is not disabled. It answers like useEmailToken when it would not.
func (s *Service) checkEmailToken(ctx context.Context, tok, purpose string, now time.Time) error {
	err := func() error {
		ot, err := s.store.OneTimeToken(ctx, hashSecret(tok), purpose)
		if err != nil {
			return notFoundAs(err, errEmailToken)
		}
		if !now.Before(ot.ExpiresAt) {
			return errEmailToken
		}
		a, err := s.store.AccountByID(ctx, ot.AccountID)
		if err != nil {
			return notFoundAs(err, errEmailToken)
		}
		if !a.DisabledAt.IsZero() {
			return errEmailToken
		}
		return nil
	}()
	if errors.Is(err, errEmailToken) {
		return fieldErr("accounts.checkEmailToken", "/token", badEmailTokenMsg)
	}
	return err
}

// useEmailToken consumes a one-time token and applies change to its
// account, in one transaction.
func (s *Service) useEmailToken(ctx context.Context, tok, purpose string, now time.Time, change func(Tx, *Account) error) error {
	err := s.store.AuthWrite(ctx, func(tx Tx) error {
		ot, err := tx.TakeOneTimeToken(ctx, hashSecret(tok), purpose)
		if err != nil {
			return notFoundAs(err, errEmailToken)
		}
		if !now.Before(ot.ExpiresAt) {
			return errEmailToken
		}
		a, err := tx.GetAccount(ctx, ot.AccountID)
		if err != nil {
			return notFoundAs(err, errEmailToken)
		}
		if !a.DisabledAt.IsZero() {
			return errEmailToken
		}
		if err := change(tx, &a); err != nil {
			return err
		}
		a.UpdatedAt = now
		return tx.UpdateAccount(ctx, a)
	})
	if errors.Is(err, errEmailToken) {
		return fieldErr("accounts.useEmailToken", "/token", badEmailTokenMsg)
	}
	return err
}
