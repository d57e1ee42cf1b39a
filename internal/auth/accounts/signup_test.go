package accounts_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/ratelimit"
)

// wantProblem wants err to be Forbidden of the problem type typ.
func wantProblem(t *testing.T, what string, err error, typ string) {
	t.Helper()
	if !fault.Is(err, fault.Forbidden) || fault.TypeOf(err) != typ {
		t.Fatalf("%s: got %v (kind %q, type %q), want forbidden %q", what, err, fault.KindOf(err), fault.TypeOf(err), typ)
	}
}

// wantNoAccount wants no account for email.
func wantNoAccount(t *testing.T, f *fixture, email string) {
	t.Helper()
	if _, err := f.store.AccountByEmail(bg, email); !fault.Is(err, fault.NotFound) {
		t.Fatalf("account %s: %v, want none", email, err)
	}
}

func TestSignupClosed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		f.user(t, "ada@example.com") // signed up while sign-up was open
		closed := f.service(t, func(o *accounts.Options) { o.Signup = accounts.SignupClosed })
		mails := f.mail.Count()
		for _, r := range []accounts.SignUpRequest{
			{Email: "new@example.com", Password: "correct horse"},
			{Email: "ada@example.com", Password: "correct horse"}, // has an account: the same answer
			{Email: "not an address", Password: "x"},              // closed before anything is read
		} {
			wantProblem(t, "closed sign-up of "+r.Email, closed.SignUp(bg, r), fault.TypeSignupClosed)
		}
		wantNoAccount(t, f, "new@example.com")
		if f.mail.Count() != mails {
			t.Errorf("closed sign-ups sent %d mails", f.mail.Count()-mails)
		}
		// Admins still create accounts.
		if _, err := closed.CreateAccount(admin, accounts.NewAccount{Email: "new@example.com", Password: "correct horse"}); err != nil {
			t.Fatalf("CreateAccount while closed: %v", err)
		}
		f.login(t, "new@example.com", "correct horse")
		// An invitation does not open a closed server.
		if _, err := closed.Invite(admin, accounts.InviteRequest{Email: "guest@example.com"}); err != nil {
			t.Fatalf("Invite: %v", err)
		}
		tok := f.mail.Token(t, "guest@example.com", "You are invited")
		err := closed.SignUp(bg, accounts.SignUpRequest{Email: "guest@example.com", Password: "correct horse", Invite: tok})
		wantProblem(t, "closed sign-up with an invitation", err, fault.TypeSignupClosed)
		wantNoAccount(t, f, "guest@example.com")
	})
}

func TestSignupByInvitation(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open, func(o *accounts.Options) { o.Signup = accounts.SignupInvite })
		svc := f.svc

		// Without an invitation: 403 invite_required, for every address.
		err := svc.SignUp(bg, accounts.SignUpRequest{Email: "eve@example.com", Password: "correct horse"})
		wantProblem(t, "sign-up without an invitation", err, fault.TypeInviteRequired)
		wantNoAccount(t, f, "eve@example.com")

		inv, err := svc.Invite(admin, accounts.InviteRequest{Email: " Bob@Example.com ", Roles: []string{"editor", "editor", "reader"}})
		if err != nil {
			t.Fatal(err)
		}
		if inv.Email != "bob@example.com" || !slices.Equal(inv.Roles, []string{"editor", "reader"}) ||
			!inv.ExpiresAt.Equal(f.clock.Now().Add(accounts.DefaultInviteTTL).Truncate(time.Microsecond)) {
			t.Fatalf("invitation = %+v", inv)
		}
		tok := f.mail.Token(t, "bob@example.com", "You are invited")

		// A made-up token, a token for another address, a malformed one.
		for _, r := range []accounts.SignUpRequest{
			{Email: "bob@example.com", Password: "correct horse", Invite: "bse_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
			{Email: "eve@example.com", Password: "correct horse", Invite: tok},
			{Email: "bob@example.com", Password: "correct horse", Invite: "not a token"},
		} {
			wantProblem(t, "sign-up of "+r.Email+" with invite "+r.Invite, svc.SignUp(bg, r), fault.TypeInviteInvalid)
		}
		wantNoAccount(t, f, "eve@example.com")
		wantNoAccount(t, f, "bob@example.com")

		// The invitation: the account has the roles and a verified address,
		// and no verification mail is sent.
		if err := svc.SignUp(bg, accounts.SignUpRequest{Email: "BOB@example.com", Password: "correct horse", Invite: tok}); err != nil {
			t.Fatalf("invited sign-up: %v", err)
		}
		acct, err := f.store.AccountByEmail(bg, "bob@example.com")
		if err != nil || !slices.Equal(acct.Roles, []string{"editor", "reader"}) || acct.VerifiedAt.IsZero() {
			t.Fatalf("invited account = %+v, %v", acct, err)
		}
		for _, m := range f.mail.All() {
			if m.To == "bob@example.com" && m.Subject == "Verify your email address" {
				t.Error("an invited sign-up was sent a verification mail")
			}
		}
		f.login(t, "bob@example.com", "correct horse")

		// Used up.
		err = svc.SignUp(bg, accounts.SignUpRequest{Email: "bob@example.com", Password: "another horse", Invite: tok})
		wantProblem(t, "second sign-up with the invitation", err, fault.TypeInviteInvalid)

		// Expired.
		if _, err := svc.Invite(admin, accounts.InviteRequest{Email: "late@example.com"}); err != nil {
			t.Fatal(err)
		}
		late := f.mail.Token(t, "late@example.com", "You are invited")
		f.clock.Advance(accounts.DefaultInviteTTL)
		err = svc.SignUp(bg, accounts.SignUpRequest{Email: "late@example.com", Password: "correct horse", Invite: late})
		wantProblem(t, "expired invitation", err, fault.TypeInviteInvalid)
		wantNoAccount(t, f, "late@example.com")

		// An address that has an account cannot be invited (admins may
		// list accounts anyway).
		_, err = svc.Invite(admin, accounts.InviteRequest{Email: "bob@example.com"})
		wantKind(t, "inviting an address with an account", err, fault.Conflict)
	})
}

func TestInvitationInOpenMode(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		if _, err := f.svc.Invite(admin, accounts.InviteRequest{Email: "cy@example.com", Roles: []string{"editor"}}); err != nil {
			t.Fatal(err)
		}
		tok := f.mail.Token(t, "cy@example.com", "You are invited")
		// A bad invitation is refused even though sign-up is open.
		err := f.svc.SignUp(bg, accounts.SignUpRequest{Email: "dee@example.com", Password: "correct horse", Invite: tok})
		wantProblem(t, "open sign-up with another address's invitation", err, fault.TypeInviteInvalid)
		if err := f.svc.SignUp(bg, accounts.SignUpRequest{Email: "cy@example.com", Password: "correct horse", Invite: tok}); err != nil {
			t.Fatal(err)
		}
		acct, err := f.store.AccountByEmail(bg, "cy@example.com")
		if err != nil || !slices.Equal(acct.Roles, []string{"editor"}) || acct.VerifiedAt.IsZero() {
			t.Fatalf("invited account = %+v, %v", acct, err)
		}
		// Without an invitation, open sign-up works as it always did.
		f.user(t, "dee@example.com")
	})
}

func TestInviteAuthorization(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		user := f.as(t, f.svc, f.user(t, "ann@example.com").AccessToken)
		_, err := f.svc.Invite(bg, accounts.InviteRequest{Email: "x@example.com"})
		wantKind(t, "anonymous invite", err, fault.Unauthenticated)
		_, err = f.svc.Invite(user, accounts.InviteRequest{Email: "x@example.com"})
		wantKind(t, "user invite", err, fault.Forbidden)
		// An API key with admin:accounts but bounded scopes may not give
		// roles, as it may not create accounts with them.
		key := auth.WithPrincipal(bg, auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Roles: []string{auth.RoleAdmin},
			Scopes: []string{auth.ScopeAdminAccounts}})
		_, err = f.svc.Invite(key, accounts.InviteRequest{Email: "x@example.com", Roles: []string{"editor"}})
		wantKind(t, "bounded key giving roles", err, fault.Forbidden)
		_, err = f.svc.CreateAccount(key, accounts.NewAccount{Email: "x@example.com", Password: "correct horse", Roles: []string{"editor"}})
		wantKind(t, "bounded key creating an account with roles", err, fault.Forbidden)
		if _, err := f.svc.Invite(key, accounts.InviteRequest{Email: "x@example.com"}); err != nil {
			t.Fatalf("invite without roles by a key with admin:accounts: %v", err)
		}
		_, err = f.svc.Invite(admin, accounts.InviteRequest{Email: "y@example.com", Roles: []string{"Not A Role"}})
		wantKind(t, "invalid role", err, fault.Validation)
		if n := len(f.mail.All()); n == 0 {
			t.Fatal("no mail")
		}
		f.mail.Token(t, "x@example.com", "You are invited")
	})
}

// TestInviteThrottles: invitations are throttled per invited address (on
// the per-address limit of reset and verification mail) and per inviter
// (on the per-IP limit), so neither one address nor one admin's credential
// can be used to flood mailboxes.
func TestInviteThrottles(t *testing.T) {
	f := newFixture(t, engines()["sqlite"], func(o *accounts.Options) {
		o.LoginPerIP = ratelimit.Limit{Rate: 1.0 / 3600, Burst: 3}
		o.LoginPerEmail = ratelimit.Limit{Rate: 1.0 / 3600, Burst: 2}
	})
	ann := auth.WithPrincipal(bg, auth.Principal{Kind: auth.KindUser, ID: "ann", Roles: []string{auth.RoleAdmin}})
	bob := auth.WithPrincipal(bg, auth.Principal{Kind: auth.KindUser, ID: "bob", Roles: []string{auth.RoleAdmin}})
	invite := func(ctx context.Context, email string) error {
		_, err := f.svc.Invite(ctx, accounts.InviteRequest{Email: email})
		return err
	}
	// Per address: the third invitation to one address is refused,
	// whoever sends it.
	for i, ctx := range []context.Context{ann, bob} {
		if err := invite(ctx, "x@example.com"); err != nil {
			t.Fatalf("invitation %d to x: %v", i+1, err)
		}
	}
	wantKind(t, "third invitation to one address", invite(bob, "x@example.com"), fault.TooManyRequests)
	// Per inviter: ann has two of her three invitations left (the refused
	// attempt was bob's and spent one of his).
	if err := invite(ann, "y@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := invite(ann, "z@example.com"); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "ann's fourth invitation", invite(ann, "w@example.com"), fault.TooManyRequests)
	if err := invite(bob, "w@example.com"); err != nil {
		t.Fatalf("bob's invitation after ann's were spent: %v", err)
	}
}
