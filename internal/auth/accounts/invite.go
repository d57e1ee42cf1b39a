package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/mail"
	"github.com/basaltdev/basalt/internal/fault"
)

// SignupMode says who may create an account with SignUp.
type SignupMode string

// The sign-up modes.
const (
	// SignupOpen lets anyone sign up (an invitation is taken too).
	SignupOpen SignupMode = "open"
	// SignupClosed refuses every sign-up: only admins create accounts
	// (CreateAccount).
	SignupClosed SignupMode = "closed"
	// SignupInvite lets only invited addresses sign up (Invite).
	SignupInvite SignupMode = "invite"
)

// Errors of sign-ups that the mode or the invitation refuses. They depend
// only on the mode and on the invitation, never on whether the address has
// an account.
func signupClosed(op string) error {
	return &fault.Error{Kind: fault.Forbidden, Type: fault.TypeSignupClosed, Op: op,
		Msg: "sign-up is closed: ask an administrator for an account"}
}

func inviteRequired(op string) error {
	return &fault.Error{Kind: fault.Forbidden, Type: fault.TypeInviteRequired, Op: op,
		Msg:    "sign-up needs an invitation: send the token of the invitation mailed to this address as \"invite\"",
		Fields: []fault.FieldError{{Pointer: "/invite", Message: "is required"}}}
}

func inviteInvalid(op string) error {
	return &fault.Error{Kind: fault.Forbidden, Type: fault.TypeInviteInvalid, Op: op,
		Msg:    "the invitation is unknown, used, expired or for another address",
		Fields: []fault.FieldError{{Pointer: "/invite", Message: "is not a valid invitation for this address"}}}
}

// errInvite rolls back a transaction that met an unusable invitation.
var errInvite = errors.New("invitation rejected")

// Invite mails an address a one-time invitation to sign up, valid for
// Options.InviteTTL, with which the account gets roles (bounded like
// CreateAccount's: see auth.Principal.MayGrantRoles) and a verified
// address. It needs the admin:accounts scope. An address that has an
// account already is a Conflict (admins may list accounts anyway).
// Invitations are throttled per address, like reset and verification mail,
// and per inviter.
func (s *Service) Invite(ctx context.Context, r InviteRequest) (Invitation, error) {
	const op = "accounts.Invite"
	if err := requireAdmin(ctx, op, auth.ScopeAdminAccounts); err != nil {
		return Invitation{}, err
	}
	email, err := normalizeEmail(op, r.Email)
	if err != nil {
		return Invitation{}, err
	}
	roles, err := checkRoles(op, "/roles", r.Roles)
	if err != nil {
		return Invitation{}, err
	}
	if err := mayGrant(ctx, op, roles, true); err != nil {
		return Invitation{}, err
	}
	if p := auth.FromContext(ctx); p.ID != "" {
		if err := s.allow(ctx, op, "invite:by:"+p.Kind.String()+":"+p.ID, s.opts.LoginPerIP); err != nil {
			return Invitation{}, err
		}
	}
	if err := s.throttle(ctx, op, "", "invite:"+email); err != nil {
		return Invitation{}, err
	}
	switch _, err := s.store.AccountByEmail(ctx, email); {
	case err == nil:
		return Invitation{}, &fault.Error{Kind: fault.Conflict, Op: op, Msg: "an account with this email address exists",
			Fields: []fault.FieldError{{Pointer: "/email", Message: "has an account"}}}
	case !fault.Is(err, fault.NotFound):
		return Invitation{}, err
	}
	tok, err := newSecret(emailPrefix)
	if err != nil {
		return Invitation{}, err
	}
	now := s.timestamp()
	inv := Invitation{Email: email, Roles: roles, ExpiresAt: now.Add(s.opts.InviteTTL)}
	if inv.Roles == nil {
		inv.Roles = []string{}
	}
	err = s.store.AuthWrite(ctx, func(tx Tx) error {
		return tx.InsertOneTimeToken(ctx, OneTimeToken{Hash: hashSecret(tok), Purpose: PurposeInvite,
			Email: email, Roles: roles, CreatedAt: now, ExpiresAt: inv.ExpiresAt})
	})
	if err != nil {
		return Invitation{}, err
	}
	s.send(inviteMail(email, tok, s.opts.InviteTTL))
	return inv, nil
}

func inviteMail(to, tok string, ttl time.Duration) mail.Message {
	return mail.Message{To: to, Subject: "You are invited",
		Text: fmt.Sprintf("You are invited to create an account with this email address. Your invitation token is:\n\n  %s\n\n"+
			"Send it with this address and the password you choose as "+
			"{\"email\": \"…\", \"password\": \"…\", \"invite\": \"…\"} to POST /v1/auth/signup within %s.\n"+
			"If you do not want an account, ignore this message.\n", tok, ttl)}
}

// checkSignupMode refuses the sign-ups the mode does not allow: every one
// when closed, those without an invitation in invite mode.
func (s *Service) checkSignupMode(op string, r SignUpRequest) error {
	switch {
	case s.opts.Signup == SignupClosed:
		return signupClosed(op)
	case s.opts.Signup == SignupInvite && r.Invite == "":
		return inviteRequired(op)
	}
	return nil
}

// checkInvite reports, reading only, whether signUpInvited would take the
// invitation tok for email now.
func (s *Service) checkInvite(ctx context.Context, op, tok, email string, now time.Time) error {
	if !wellFormed(tok, emailPrefix) {
		return inviteInvalid(op)
	}
	ot, err := s.store.OneTimeToken(ctx, hashSecret(tok), PurposeInvite)
	if err != nil {
		return notFoundAs(err, inviteInvalid(op))
	}
	if !usableInvite(ot, email, now) {
		return inviteInvalid(op)
	}
	return nil
}

func usableInvite(ot OneTimeToken, email string, now time.Time) bool {
	return ot.Email == email && now.Before(ot.ExpiresAt)
}

// signUpInvited creates the account an invitation was for, with its roles
// and a verified address, and takes the invitation, in one transaction.
// hash is the password's hash. An address that has an account by now is
// answered like an open sign-up to such an address.
func (s *Service) signUpInvited(ctx context.Context, op, tok, email, hash string, now time.Time) error {
	id, err := uuid.NewV7()
	if err != nil {
		return fault.Internalf(op, err)
	}
	err = s.store.AuthWrite(ctx, func(tx Tx) error {
		ot, err := tx.TakeOneTimeToken(ctx, hashSecret(tok), PurposeInvite)
		if err != nil {
			return notFoundAs(err, errInvite)
		}
		if !usableInvite(ot, email, now) {
			return errInvite
		}
		return tx.InsertAccount(ctx, Account{ID: id.String(), Email: email, PasswordHash: hash, Roles: ot.Roles,
			VerifiedAt: now, CreatedAt: now, UpdatedAt: now})
	})
	switch {
	case errors.Is(err, errInvite):
		return inviteInvalid(op)
	case fault.Is(err, fault.Conflict):
		s.send(existingAccountMail(email))
		return nil
	}
	return err
}
