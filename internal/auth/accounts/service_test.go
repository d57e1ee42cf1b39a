package accounts_test

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/auth/accounts/accountstest"
	"github.com/basaltdev/basalt/internal/auth/password"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/ratelimit"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/storage/postgres"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fixture is one account service over a fresh database.
type fixture struct {
	svc   *accounts.Service
	store accounts.Store
	clock *accountstest.Clock
	mail  *accountstest.Mailbox
}

type openFunc func(t *testing.T) accounts.Store

// engines are the storage engines every flow runs on.
func engines() map[string]openFunc {
	return map[string]openFunc{
		"sqlite": func(t *testing.T) accounts.Store {
			s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db"), Synchronous: "normal"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		"postgres": func(t *testing.T) accounts.Store {
			s, err := postgres.Open(context.Background(), postgres.Options{URL: pgtest.URL(t), MaxConns: 8})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
}

// forEachEngine runs fn as a subtest per engine.
func forEachEngine(t *testing.T, fn func(t *testing.T, open openFunc)) {
	for name, open := range engines() {
		t.Run("engine="+name, func(t *testing.T) {
			t.Parallel()
			fn(t, open)
		})
	}
}

func fastHasher(t *testing.T) *password.Hasher {
	t.Helper()
	h, err := password.New(password.Params{Memory: password.MinMemoryKiB, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 4)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newFixture(t *testing.T, open openFunc, tune ...func(*accounts.Options)) *fixture {
	t.Helper()
	f := &fixture{store: open(t), clock: accountstest.NewClock(), mail: &accountstest.Mailbox{}}
	f.svc = f.service(t, tune...)
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- f.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return f
}

// service starts another service (another process, in effect) on f's
// database.
func (f *fixture) service(t *testing.T, tune ...func(*accounts.Options)) *accounts.Service {
	t.Helper()
	opts := accounts.Options{
		Now:           f.clock.Now,
		Hasher:        fastHasher(t),
		Mail:          f.mail,
		DerivationKey: []byte("0123456789abcdef0123456789abcdef"),
		Limiter:       memory.New(f.clock.Now, 1000),
	}
	for _, fn := range tune {
		fn(&opts)
	}
	svc, err := accounts.NewService(f.store, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return svc
}

var (
	bg    = context.Background()
	admin = auth.WithPrincipal(context.Background(), auth.System())
)

// user signs up and logs in, returning the login answer.
func (f *fixture) user(t *testing.T, email string) accounts.Tokens {
	t.Helper()
	if err := f.svc.SignUp(bg, accounts.SignUpRequest{Email: email, Password: "correct horse"}); err != nil {
		t.Fatalf("SignUp(%s): %v", email, err)
	}
	return f.login(t, email, "correct horse")
}

func (f *fixture) login(t *testing.T, email, pw string) accounts.Tokens {
	t.Helper()
	tok, err := f.svc.Login(bg, accounts.LoginRequest{Email: email, Password: pw, Device: "test", UserAgent: "go-test", IP: "127.0.0.1"})
	if err != nil {
		t.Fatalf("Login(%s): %v", email, err)
	}
	return tok
}

// as returns a context acting with an access token.
func (f *fixture) as(t *testing.T, svc *accounts.Service, access string) context.Context {
	t.Helper()
	p, err := svc.Authenticate(bg, access)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return auth.WithPrincipal(bg, p)
}

func wantKind(t *testing.T, what string, err error, kind fault.Kind) {
	t.Helper()
	if !fault.Is(err, kind) {
		t.Fatalf("%s: got %v (kind %q), want kind %q", what, err, fault.KindOf(err), kind)
	}
}

func TestSignUpLoginRefreshLogout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		tok := f.user(t, " Ada@Example.COM ")
		if tok.TokenType != "Bearer" || tok.ExpiresIn != 600 || tok.RefreshToken == "" || tok.AccessToken == "" {
			t.Fatalf("tokens = %+v", tok)
		}
		ctx := f.as(t, f.svc, tok.AccessToken)
		me, err := f.svc.Me(ctx)
		if err != nil || me.Email != "ada@example.com" || !me.VerifiedAt.IsZero() {
			t.Fatalf("Me = %+v, %v", me, err)
		}
		p := auth.FromContext(ctx)
		if p.Kind != auth.KindUser || p.ID != me.ID || p.SessionID != tok.Session.ID || p.IsAdmin() {
			t.Fatalf("principal = %+v", p)
		}

		// Verify the address with the mailed token; it works once.
		vt := f.mail.Token(t, "ada@example.com", "Verify your email address")
		if err := f.svc.VerifyEmail(bg, vt); err != nil {
			t.Fatal(err)
		}
		wantKind(t, "verify twice", f.svc.VerifyEmail(bg, vt), fault.Validation)
		if me, _ = f.svc.Me(ctx); me.VerifiedAt.IsZero() {
			t.Fatal("address not verified")
		}

		// Refresh rotates; the new pair works.
		f.clock.Advance(time.Minute)
		next, err := f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: tok.RefreshToken})
		if err != nil {
			t.Fatal(err)
		}
		if next.RefreshToken == tok.RefreshToken || next.Session.ID != tok.Session.ID {
			t.Fatalf("refresh did not rotate: %+v", next)
		}
		ctx2 := f.as(t, f.svc, next.AccessToken)

		sessions, err := f.svc.Sessions(ctx2)
		if err != nil || len(sessions) != 1 || sessions[0].Device != "test" || sessions[0].IP != "127.0.0.1" ||
			!sessions[0].LastUsedAt.Equal(f.clock.Now()) {
			t.Fatalf("Sessions = %+v, %v", sessions, err)
		}

		// Logout: refresh and access tokens of the session stop working.
		if err := f.svc.Logout(ctx2); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: next.RefreshToken})
		wantKind(t, "refresh after logout", err, fault.Unauthenticated)
		_, err = f.svc.Authenticate(bg, next.AccessToken)
		wantKind(t, "access after logout", err, fault.Unauthenticated)
	})
}

func TestLoginAnswersAlikeForUnknownAndWrong(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		f.user(t, "ada@example.com")
		_, wrong := f.svc.Login(bg, accounts.LoginRequest{Email: "ada@example.com", Password: "wrong password"})
		_, unknown := f.svc.Login(bg, accounts.LoginRequest{Email: "bob@example.com", Password: "wrong password"})
		wantKind(t, "wrong password", wrong, fault.Unauthenticated)
		wantKind(t, "unknown account", unknown, fault.Unauthenticated)
		if fault.Message(wrong) != fault.Message(unknown) {
			t.Fatalf("answers differ: %q vs %q", fault.Message(wrong), fault.Message(unknown))
		}
		// Sign-up answers alike whether the address exists or not.
		if err := f.svc.SignUp(bg, accounts.SignUpRequest{Email: "ada@example.com", Password: "another one"}); err != nil {
			t.Fatalf("SignUp of an existing address: %v", err)
		}
		if err := f.svc.RequestPasswordReset(bg, "nobody@example.com"); err != nil {
			t.Fatalf("reset of an unknown address: %v", err)
		}
		// Background work runs in order: once a later reset's mail is out,
		// the unknown address's turn has passed.
		if err := f.svc.RequestPasswordReset(bg, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		f.mail.Token(t, "ada@example.com", "Reset your password")
		for _, m := range f.mail.All() {
			if m.To == "nobody@example.com" {
				t.Fatalf("mail sent to an unknown address: %+v", m)
			}
		}
		// The existing account's password did not change.
		f.login(t, "ada@example.com", "correct horse")
	})
}

func TestLoginThrottled(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open, func(o *accounts.Options) {
			o.LoginPerEmail = ratelimit.Limit{Rate: 1.0 / 60, Burst: 3}
		})
		f.user(t, "ada@example.com") // one attempt spent
		for range 2 {
			_, err := f.svc.Login(bg, accounts.LoginRequest{Email: "ada@example.com", Password: "guess guess", IP: "10.0.0.1"})
			wantKind(t, "guess", err, fault.Unauthenticated)
		}
		_, err := f.svc.Login(bg, accounts.LoginRequest{Email: "ada@example.com", Password: "correct horse", IP: "10.0.0.2"})
		wantKind(t, "throttled", err, fault.TooManyRequests)
		if ra := fault.RetryAfterOf(err); ra < time.Second {
			t.Fatalf("RetryAfter = %v", ra)
		}
		f.clock.Advance(time.Minute)
		f.login(t, "ada@example.com", "correct horse")
	})
}

func TestRefreshGraceAndReuse(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		tok := f.user(t, "ada@example.com")
		first, err := f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: tok.RefreshToken})
		if err != nil {
			t.Fatal(err)
		}
		// A retry within the grace window gets the same successor.
		f.clock.Advance(accounts.DefaultRefreshGrace / 2)
		retry, err := f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: tok.RefreshToken})
		if err != nil || retry.RefreshToken != first.RefreshToken {
			t.Fatalf("retry in grace = %v, %v; want the same successor", retry.RefreshToken, err)
		}
		// Outside it, the spent token kills the session.
		f.clock.Advance(accounts.DefaultRefreshGrace)
		_, err = f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: tok.RefreshToken})
		wantKind(t, "reuse", err, fault.Unauthenticated)
		_, err = f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: first.RefreshToken})
		wantKind(t, "live token after reuse", err, fault.Unauthenticated)
		for _, at := range []string{tok.AccessToken, first.AccessToken} {
			_, err = f.svc.Authenticate(bg, at)
			wantKind(t, "access token after reuse", err, fault.Unauthenticated)
		}
		s, err := f.store.SessionByID(bg, tok.Session.ID)
		if err != nil || s.RevokedAt.IsZero() || s.RevokeReason != "reuse" {
			t.Fatalf("session = %+v, %v", s, err)
		}
	})
}

func TestReuseAfterSuccessorUsed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		tok := f.user(t, "ada@example.com")
		second, err := f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: tok.RefreshToken})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: second.RefreshToken}); err != nil {
			t.Fatal(err)
		}
		// Within the grace window, but the successor is spent too: a thief.
		_, err = f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: tok.RefreshToken})
		wantKind(t, "reuse of a grandparent", err, fault.Unauthenticated)
		if s, _ := f.store.SessionByID(bg, tok.Session.ID); s.RevokedAt.IsZero() {
			t.Fatal("session survived reuse")
		}
	})
}

func TestParallelRefreshesOneChain(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		tok := f.user(t, "ada@example.com")
		const n = 20
		got := make([]accounts.Tokens, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { got[i], errs[i] = f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: tok.RefreshToken}) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("refresh %d: %v", i, errs[i])
			}
			if got[i].RefreshToken != got[0].RefreshToken {
				t.Fatalf("refresh %d got another successor: two live chains", i)
			}
		}
		// One chain: the session is live and its successor continues it.
		if _, err := f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: got[0].RefreshToken}); err != nil {
			t.Fatalf("continuing the chain: %v", err)
		}
		var latest accounts.RefreshToken
		err := f.store.AuthWrite(bg, func(tx accounts.Tx) error {
			var err error
			latest, err = tx.LatestRefreshToken(bg, tok.Session.ID)
			return err
		})
		if err != nil || latest.Generation != 3 {
			t.Fatalf("latest generation = %d, %v; want 3 (login, one rotation, one more)", latest.Generation, err)
		}
	})
}

func TestSessionLifetimes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open, func(o *accounts.Options) {
			o.SessionIdle = time.Hour
			o.SessionLifetime = 3 * time.Hour
		})
		tok := f.user(t, "ada@example.com")
		// The access token expires after its TTL (plus leeway).
		f.clock.Advance(accounts.DefaultAccessTTL + time.Minute)
		_, err := f.svc.Authenticate(bg, tok.AccessToken)
		wantKind(t, "expired access token", err, fault.Unauthenticated)
		// Refreshing every 50 minutes keeps the session past its idle limit…
		for range 3 {
			f.clock.Advance(50*time.Minute - accounts.DefaultAccessTTL - time.Minute)
			if tok, err = f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: tok.RefreshToken}); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(accounts.DefaultAccessTTL + time.Minute)
		}
		// …but not past its absolute lifetime.
		f.clock.Advance(40 * time.Minute)
		_, err = f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: tok.RefreshToken})
		wantKind(t, "past the absolute lifetime", err, fault.Unauthenticated)

		// An idle session ends.
		tok = f.login(t, "ada@example.com", "correct horse")
		f.clock.Advance(time.Hour + time.Second)
		_, err = f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: tok.RefreshToken})
		wantKind(t, "idle session", err, fault.Unauthenticated)
	})
}

func TestChangePasswordEndsOtherSessions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		phone := f.user(t, "ada@example.com")
		laptop := f.login(t, "ada@example.com", "correct horse")
		ctx := f.as(t, f.svc, laptop.AccessToken)
		err := f.svc.ChangePassword(ctx, accounts.ChangePasswordRequest{CurrentPassword: "wrong one!", NewPassword: "new password"})
		wantKind(t, "wrong current password", err, fault.Forbidden)
		if err := f.svc.ChangePassword(ctx, accounts.ChangePasswordRequest{CurrentPassword: "correct horse", NewPassword: "new password"}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Authenticate(bg, phone.AccessToken)
		wantKind(t, "other session's access token", err, fault.Unauthenticated)
		_, err = f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: phone.RefreshToken})
		wantKind(t, "other session's refresh token", err, fault.Unauthenticated)
		f.as(t, f.svc, laptop.AccessToken) // this session lives on
		_, err = f.svc.Login(bg, accounts.LoginRequest{Email: "ada@example.com", Password: "correct horse"})
		wantKind(t, "old password", err, fault.Unauthenticated)
		f.login(t, "ada@example.com", "new password")
	})
}

// otherLast returns secret with its last character changed: a well-formed
// secret that is not the one issued. (Setting a fixed character would
// return the secret itself when it already ends in it, one time in 64.)
func otherLast(secret string) string {
	last := "A"
	if strings.HasSuffix(secret, last) {
		last = "B"
	}
	return secret[:len(secret)-1] + last
}

func TestPasswordReset(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		tok := f.user(t, "ada@example.com")
		if err := f.svc.RequestPasswordReset(bg, "ADA@example.com"); err != nil {
			t.Fatal(err)
		}
		rt := f.mail.Token(t, "ada@example.com", "Reset your password")
		err := f.svc.ResetPassword(bg, accounts.ResetPasswordRequest{Token: rt, NewPassword: "short"})
		wantKind(t, "short password", err, fault.Validation)
		err = f.svc.ResetPassword(bg, accounts.ResetPasswordRequest{Token: otherLast(rt), NewPassword: "brand new password"})
		wantKind(t, "wrong token", err, fault.Validation)
		if err := f.svc.ResetPassword(bg, accounts.ResetPasswordRequest{Token: rt, NewPassword: "brand new password"}); err != nil {
			t.Fatal(err)
		}
		err = f.svc.ResetPassword(bg, accounts.ResetPasswordRequest{Token: rt, NewPassword: "another password"})
		wantKind(t, "token used twice", err, fault.Validation)
		_, err = f.svc.Authenticate(bg, tok.AccessToken)
		wantKind(t, "session after reset", err, fault.Unauthenticated)
		f.login(t, "ada@example.com", "brand new password")

		// An expired reset token does not work.
		if err := f.svc.RequestPasswordReset(bg, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		rt = f.mail.Token(t, "ada@example.com", "Reset your password")
		f.clock.Advance(accounts.DefaultResetTTL + time.Second)
		err = f.svc.ResetPassword(bg, accounts.ResetPasswordRequest{Token: rt, NewPassword: "late password"})
		wantKind(t, "expired token", err, fault.Validation)
	})
}

func TestDisabledAndDeletedAccounts(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		tok := f.user(t, "ada@example.com")
		ctx := f.as(t, f.svc, tok.AccessToken)
		me, _ := f.svc.Me(ctx)
		_, err := f.svc.UpdateAccount(ctx, me.ID, accounts.AccountUpdate{Disabled: new(true)})
		wantKind(t, "user disabling itself", err, fault.Forbidden)
		_, err = f.svc.UpdateAccount(bg, me.ID, accounts.AccountUpdate{Disabled: new(true)})
		wantKind(t, "anonymous disabling", err, fault.Unauthenticated)
		if _, err := f.svc.UpdateAccount(admin, me.ID, accounts.AccountUpdate{Disabled: new(true)}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Authenticate(bg, tok.AccessToken)
		wantKind(t, "disabled user's token", err, fault.Unauthenticated)
		_, err = f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: tok.RefreshToken})
		wantKind(t, "disabled user's refresh", err, fault.Unauthenticated)
		_, err = f.svc.Login(bg, accounts.LoginRequest{Email: "ada@example.com", Password: "correct horse"})
		wantKind(t, "disabled user's login", err, fault.Forbidden)
		if _, err := f.svc.UpdateAccount(admin, me.ID, accounts.AccountUpdate{Disabled: new(false)}); err != nil {
			t.Fatal(err)
		}
		tok = f.login(t, "ada@example.com", "correct horse")

		ctx = f.as(t, f.svc, tok.AccessToken)
		wantKind(t, "delete with a wrong password", f.svc.DeleteMe(ctx, "not my password"), fault.Forbidden)
		if err := f.svc.DeleteMe(ctx, "correct horse"); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Authenticate(bg, tok.AccessToken)
		wantKind(t, "deleted user's token", err, fault.Unauthenticated)
		_, err = f.store.AccountByEmail(bg, "ada@example.com")
		wantKind(t, "deleted account", err, fault.NotFound)
	})
}

func TestRevokeSessions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		ada := f.user(t, "ada@example.com")
		bob := f.user(t, "bob@example.com")
		adaCtx := f.as(t, f.svc, ada.AccessToken)
		// A user cannot see or revoke another user's session.
		wantKind(t, "revoking another's session", f.svc.RevokeSession(adaCtx, bob.Session.ID), fault.NotFound)
		f.as(t, f.svc, bob.AccessToken)
		// An admin can, as admin (the user route revokes only one's own).
		wantKind(t, "revoking another's session on the user route", f.svc.RevokeAnySession(adaCtx, bob.Session.ID), fault.Forbidden)
		if err := f.svc.RevokeAnySession(admin, bob.Session.ID); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.Authenticate(bg, bob.AccessToken)
		wantKind(t, "revoked by admin", err, fault.Unauthenticated)
		// A user revokes their own other session.
		second := f.login(t, "ada@example.com", "correct horse")
		if err := f.svc.RevokeSession(adaCtx, second.Session.ID); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Authenticate(bg, second.AccessToken)
		wantKind(t, "own session revoked", err, fault.Unauthenticated)
		f.as(t, f.svc, ada.AccessToken)
	})
}

// TestRevocationReachesOtherProcess runs two services on one database (two
// Basalt processes, in effect): a session revoked through one is refused by
// the other within the revocation bound.
func TestRevocationReachesOtherProcess(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open, func(o *accounts.Options) { o.Now = time.Now })
		other := f.service(t, func(o *accounts.Options) { o.Now = time.Now })
		ctx, cancel := context.WithCancel(bg)
		var wg sync.WaitGroup
		wg.Go(func() { _ = other.Run(ctx) })
		t.Cleanup(func() { cancel(); wg.Wait() })

		tok := f.user(t, "ada@example.com")
		f.as(t, other, tok.AccessToken) // verified and cached on the other process
		start := time.Now()
		if err := f.svc.Logout(f.as(t, f.svc, tok.AccessToken)); err != nil {
			t.Fatal(err)
		}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for ; ; <-tick.C {
			_, err := other.Authenticate(bg, tok.AccessToken)
			if fault.Is(err, fault.Unauthenticated) {
				break
			}
			if time.Since(start) > time.Second {
				t.Fatalf("the other process still accepts the token %v after revocation (err %v)", time.Since(start), err)
			}
		}
		t.Logf("revocation reached the other process in %v", time.Since(start))
	})
}

func TestAPIKeys(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		_, _, err := f.svc.CreateAPIKey(bg, accounts.APIKeySpec{Name: "x", Scopes: []string{"*:*"}})
		wantKind(t, "anonymous", err, fault.Unauthenticated)
		for _, bad := range []accounts.APIKeySpec{
			{Name: "", Scopes: []string{"*:*"}},
			{Name: "no scopes"},
			{Name: "bad scope", Scopes: []string{"posts"}},
			{Name: "bad action", Scopes: []string{"posts:drop"}},
			{Name: "bad role", Scopes: []string{"*:*"}, Roles: []string{"Admin!"}},
			{Name: "past", Scopes: []string{"*:*"}, ExpiresAt: f.clock.Now().Add(-time.Second)},
		} {
			_, _, err := f.svc.CreateAPIKey(admin, bad)
			wantKind(t, "spec "+bad.Name, err, fault.Validation)
		}
		k, secret, err := f.svc.CreateAPIKey(admin, accounts.APIKeySpec{
			Name: "indexer", Scopes: []string{"posts:read"}, Roles: []string{"service"}, ExpiresAt: f.clock.Now().Add(time.Hour),
		})
		if err != nil {
			t.Fatal(err)
		}
		if k.Hash != nil || len(secret) != 47 || secret[:len(k.Prefix)] != k.Prefix {
			t.Fatalf("key = %+v, secret %q", k, secret)
		}
		p, err := f.svc.Authenticate(bg, secret)
		if err != nil {
			t.Fatal(err)
		}
		if p.Kind != auth.KindAPIKey || p.ID != k.ID || !p.Allows("posts", auth.ActionGet) || p.Allows("posts", auth.ActionCreate) ||
			p.Allows("users", auth.ActionGet) || !slices.Equal(p.Roles, []string{"service"}) {
			t.Fatalf("principal = %+v", p)
		}
		// Last use is stored.
		if err := f.svc.FlushAPIKeyUse(bg); err != nil {
			t.Fatal(err)
		}
		keys, err := f.svc.ListAPIKeys(admin)
		if err != nil || len(keys) != 1 || keys[0].LastUsedAt.IsZero() || keys[0].Hash != nil {
			t.Fatalf("keys = %+v, %v", keys, err)
		}
		// Wrong, malformed and expired keys fail.
		for _, bad := range []string{otherLast(secret), "bsk_", "bsk_" + secret, secret + "="} {
			_, err := f.svc.Authenticate(bg, bad)
			wantKind(t, "bad key", err, fault.Unauthenticated)
		}
		f.clock.Advance(time.Hour)
		_, err = f.svc.Authenticate(bg, secret)
		wantKind(t, "expired key", err, fault.Unauthenticated)

		// Revocation is immediate, though the key was cached.
		_, secret2, err := f.svc.CreateAPIKey(admin, accounts.APIKeySpec{Name: "etl", Scopes: []string{"*:*"}})
		if err != nil {
			t.Fatal(err)
		}
		p, err = f.svc.Authenticate(bg, secret2)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RevokeAPIKey(admin, p.ID); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Authenticate(bg, secret2)
		wantKind(t, "revoked key", err, fault.Unauthenticated)
	})
}

func TestKeyRotation(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		before := f.user(t, "ada@example.com")
		_, err := f.svc.RotateKeys(f.as(t, f.svc, before.AccessToken))
		wantKind(t, "user rotating keys", err, fault.Forbidden)
		f.clock.Advance(time.Minute)
		nk, err := f.svc.RotateKeys(admin)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := f.svc.ListSigningKeys(admin)
		if err != nil || len(keys) != 2 || keys[0].NotAfter.IsZero() || !keys[1].NotAfter.IsZero() || keys[1].ID != nk.ID || keys[0].Private != nil {
			t.Fatalf("keys = %+v, %v", keys, err)
		}
		jwks, err := f.svc.JWKS(bg)
		if err != nil || !regexp.MustCompile(nk.ID).Match(jwks) || !regexp.MustCompile(keys[0].ID).Match(jwks) {
			t.Fatalf("JWKS = %s, %v", jwks, err)
		}
		// Until the new key has propagated, the old one signs; after, the new.
		during := f.login(t, "ada@example.com", "correct horse")
		f.clock.Advance(accounts.DefaultKeyPropagation)
		after := f.login(t, "ada@example.com", "correct horse")
		for _, tok := range []accounts.Tokens{before, during, after} {
			f.as(t, f.svc, tok.AccessToken)
		}
		if kid(t, during.AccessToken) != keys[0].ID || kid(t, after.AccessToken) != nk.ID {
			t.Fatalf("kids: during %s, after %s; old %s new %s", kid(t, during.AccessToken), kid(t, after.AccessToken), keys[0].ID, nk.ID)
		}
		// Another process started now verifies both and signs with the new.
		other := f.service(t)
		f.as(t, other, during.AccessToken)
		f.as(t, other, after.AccessToken)
	})
}

func kid(t *testing.T, jwt string) string {
	t.Helper()
	m := regexp.MustCompile(`^([^.]+)\.`).FindStringSubmatch(jwt)
	if m == nil {
		t.Fatalf("not a JWT: %q", jwt)
	}
	h, err := decodeSegment(m[1])
	if err != nil {
		t.Fatal(err)
	}
	k := regexp.MustCompile(`"kid":"([^"]+)"`).FindStringSubmatch(string(h))
	if k == nil {
		t.Fatalf("no kid in %s", h)
	}
	return k[1]
}

func TestRehashOnLogin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		f.user(t, "ada@example.com")
		old, _ := f.store.AccountByEmail(bg, "ada@example.com")
		stronger, err := password.New(password.Params{Memory: password.MinMemoryKiB, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 2)
		if err != nil {
			t.Fatal(err)
		}
		svc := f.service(t, func(o *accounts.Options) { o.Hasher = stronger })
		if _, err := svc.Login(bg, accounts.LoginRequest{Email: "ada@example.com", Password: "correct horse"}); err != nil {
			t.Fatal(err)
		}
		now, _ := f.store.AccountByEmail(bg, "ada@example.com")
		if now.PasswordHash == old.PasswordHash || !regexp.MustCompile(`t=2`).MatchString(now.PasswordHash) {
			t.Fatalf("hash not upgraded: %s → %s", old.PasswordHash, now.PasswordHash)
		}
		if _, err := svc.Login(bg, accounts.LoginRequest{Email: "ada@example.com", Password: "correct horse"}); err != nil {
			t.Fatalf("login after rehash: %v", err)
		}
	})
}

func TestRequireVerified(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open, func(o *accounts.Options) { o.RequireVerified = true })
		if err := f.svc.SignUp(bg, accounts.SignUpRequest{Email: "ada@example.com", Password: "correct horse"}); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.Login(bg, accounts.LoginRequest{Email: "ada@example.com", Password: "correct horse"})
		wantKind(t, "unverified login", err, fault.Forbidden)
		if err := f.svc.VerifyEmail(bg, f.mail.Token(t, "ada@example.com", "Verify your email address")); err != nil {
			t.Fatal(err)
		}
		f.login(t, "ada@example.com", "correct horse")
	})
}

func TestBadCredentials(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		tok := f.user(t, "ada@example.com")
		for name, cred := range map[string]string{
			"refresh token as access token": tok.RefreshToken,
			"empty":                         "",
			"garbage":                       "not a token",
			"truncated":                     tok.AccessToken[:len(tok.AccessToken)-2],
			"huge":                          string(make([]byte, 1<<20)),
			"api key shaped":                "bsk_xxxxxxxx",
		} {
			_, err := f.svc.Authenticate(bg, cred)
			wantKind(t, name, err, fault.Unauthenticated)
		}
		_, err := f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: tok.AccessToken})
		wantKind(t, "access token as refresh token", err, fault.Unauthenticated)
		for _, bad := range []accounts.SignUpRequest{
			{Email: "", Password: "correct horse"},
			{Email: "Ada <ada@example.com>", Password: "correct horse"},
			{Email: "not-an-address", Password: "correct horse"},
			{Email: "ada@example.com", Password: "short"},
		} {
			wantKind(t, "sign-up "+bad.Email, f.svc.SignUp(bg, bad), fault.Validation)
		}
	})
}

func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFixture(t, engines()["sqlite"], func(o *accounts.Options) { o.Registerer = reg })
	tok := f.user(t, "ada@example.com")
	_, _ = f.svc.Login(bg, accounts.LoginRequest{Email: "ada@example.com", Password: "wrong password"})
	if _, err := f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: tok.RefreshToken}); err != nil {
		t.Fatal(err)
	}
	_, _ = f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: tok.RefreshToken}) // retry in grace
	_, _ = f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: "bsr_nope"})
	f.clock.Advance(time.Minute)
	_, _ = f.svc.Refresh(bg, accounts.RefreshRequest{RefreshToken: tok.RefreshToken}) // reuse
	want := `
# HELP basalt_auth_logins_total Login attempts by outcome: ok, bad_credentials, throttled, refused (disabled or unverified), invalid, error.
# TYPE basalt_auth_logins_total counter
basalt_auth_logins_total{outcome="bad_credentials"} 1
basalt_auth_logins_total{outcome="error"} 0
basalt_auth_logins_total{outcome="invalid"} 0
basalt_auth_logins_total{outcome="ok"} 1
basalt_auth_logins_total{outcome="refused"} 0
basalt_auth_logins_total{outcome="throttled"} 0
# HELP basalt_auth_refreshes_total Refresh-token exchanges by outcome: ok, retry (same successor within the grace window), reuse (session revoked), rejected, error.
# TYPE basalt_auth_refreshes_total counter
basalt_auth_refreshes_total{outcome="error"} 0
basalt_auth_refreshes_total{outcome="ok"} 1
basalt_auth_refreshes_total{outcome="rejected"} 1
basalt_auth_refreshes_total{outcome="retry"} 1
basalt_auth_refreshes_total{outcome="reuse"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "basalt_auth_logins_total", "basalt_auth_refreshes_total"); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsStartAtZero: every outcome has its series from the start, so
// an alert on the rate of reuse or bad_credentials works from the first
// event, not only from the second scrape after it.
func TestMetricsStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	newFixture(t, engines()["sqlite"], func(o *accounts.Options) { o.Registerer = reg })
	want := `
# HELP basalt_auth_logins_total Login attempts by outcome: ok, bad_credentials, throttled, refused (disabled or unverified), invalid, error.
# TYPE basalt_auth_logins_total counter
basalt_auth_logins_total{outcome="bad_credentials"} 0
basalt_auth_logins_total{outcome="error"} 0
basalt_auth_logins_total{outcome="invalid"} 0
basalt_auth_logins_total{outcome="ok"} 0
basalt_auth_logins_total{outcome="refused"} 0
basalt_auth_logins_total{outcome="throttled"} 0
# HELP basalt_auth_refreshes_total Refresh-token exchanges by outcome: ok, retry (same successor within the grace window), reuse (session revoked), rejected, error.
# TYPE basalt_auth_refreshes_total counter
basalt_auth_refreshes_total{outcome="error"} 0
basalt_auth_refreshes_total{outcome="ok"} 0
basalt_auth_refreshes_total{outcome="rejected"} 0
basalt_auth_refreshes_total{outcome="retry"} 0
basalt_auth_refreshes_total{outcome="reuse"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "basalt_auth_logins_total", "basalt_auth_refreshes_total"); err != nil {
		t.Fatal(err)
	}
}

// TestStaleFeedAsksTheDatabase: a process whose revocation feed is stale
// (its Run is not running) answers every check from the database, for
// sessions and API keys alike.
func TestStaleFeedAsksTheDatabase(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		stale := f.service(t) // never runs: once the read of Start is old, every check falls back
		f.clock.Advance(time.Second)
		tok := f.user(t, "ada@example.com")
		_, secret, err := f.svc.CreateAPIKey(admin, accounts.APIKeySpec{Name: "etl", Scopes: []string{"*:*"}})
		if err != nil {
			t.Fatal(err)
		}
		f.as(t, stale, tok.AccessToken)
		p, err := stale.Authenticate(bg, secret) // cached by the stale process from here on
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Logout(f.as(t, f.svc, tok.AccessToken)); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RevokeAPIKey(admin, p.ID); err != nil {
			t.Fatal(err)
		}
		_, err = stale.Authenticate(bg, tok.AccessToken)
		wantKind(t, "revoked session on a stale process", err, fault.Unauthenticated)
		_, err = stale.Authenticate(bg, secret)
		wantKind(t, "revoked API key on a stale process", err, fault.Unauthenticated)
	})
}

// TestReadyAfterStart: a service is not ready before Start has loaded its
// signing keys and read the revocation feed, and says what is missing; it
// is ready after.
func TestReadyAfterStart(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		svc, err := accounts.NewService(open(t), accounts.Options{
			Hasher: fastHasher(t), Mail: &accountstest.Mailbox{},
			DerivationKey: []byte("0123456789abcdef0123456789abcdef"),
		})
		if err != nil {
			t.Fatal(err)
		}
		err = svc.Ready()
		wantKind(t, "Ready before Start", err, fault.Unavailable)
		for _, want := range []string{"signing keys", "revocation feed"} {
			if !strings.Contains(fault.Message(err), want) {
				t.Errorf("Ready before Start = %q, want it to name the %s", fault.Message(err), want)
			}
		}
		if err := svc.Start(bg); err != nil {
			t.Fatal(err)
		}
		if err := svc.Ready(); err != nil {
			t.Fatalf("Ready after Start = %v", err)
		}
	})
}

// TestRunFinishesQueuedWorkWhenStopped: work a request left for Run (a
// password reset mail) is done when Run's context ends before Run got to
// it, so a server that stops right after answering still sends the mail.
func TestRunFinishesQueuedWorkWhenStopped(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		f.user(t, "ada@example.com")
		other := f.service(t) // not running
		if err := other.RequestPasswordReset(bg, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(bg)
		cancel()
		if err := other.Run(ctx); err != nil {
			t.Fatalf("Run = %v", err)
		}
		// Run has returned: the mail is there now or never.
		n := 0
		for _, m := range f.mail.All() {
			if m.To == "ada@example.com" && m.Subject == "Reset your password" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d reset mails after Run returned, want 1: %+v", n, f.mail.All())
		}
	})
}

// TestRecognize: Recognize names the caller of a credential Authenticate
// accepted recently, without any I/O, and of no other.
func TestRecognize(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open openFunc) {
		f := newFixture(t, open)
		tok := f.user(t, "ada@example.com")
		if _, ok := f.svc.Recognize(tok.AccessToken); ok {
			// Login does not verify its own token: the first request does.
			t.Fatal("a token never verified was recognized")
		}
		p, err := f.svc.Authenticate(bg, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := f.svc.Recognize(tok.AccessToken)
		if !ok || got.Kind != auth.KindUser || got.ID != p.ID || got.SessionID != p.SessionID {
			t.Fatalf("Recognize(token) = %+v, %v; want %+v", got, ok, p)
		}
		for _, bad := range []string{"", "x", otherLast(tok.AccessToken), "bsk_", "bsk_nope"} {
			if got, ok := f.svc.Recognize(bad); ok {
				t.Errorf("Recognize(%q) = %+v", bad, got)
			}
		}

		k, secret, err := f.svc.CreateAPIKey(admin, accounts.APIKeySpec{Name: "indexer", Scopes: []string{"posts:read"},
			ExpiresAt: f.clock.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := f.svc.Recognize(secret); ok {
			t.Fatal("a key never read was recognized")
		}
		if _, err := f.svc.Authenticate(bg, secret); err != nil {
			t.Fatal(err)
		}
		got, ok = f.svc.Recognize(secret)
		if !ok || got.Kind != auth.KindAPIKey || got.ID != k.ID {
			t.Fatalf("Recognize(key) = %+v, %v", got, ok)
		}
		// Revoked, neither is recognized any more.
		if err := f.svc.Logout(f.as(t, f.svc, tok.AccessToken)); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.svc.Recognize(tok.AccessToken); ok {
			t.Error("the token of a revoked session was recognized")
		}
		_, secret2, err := f.svc.CreateAPIKey(admin, accounts.APIKeySpec{Name: "etl", Scopes: []string{"*:*"}})
		if err != nil {
			t.Fatal(err)
		}
		p2, err := f.svc.Authenticate(bg, secret2)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RevokeAPIKey(admin, p2.ID); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.svc.Recognize(secret2); ok {
			t.Error("a revoked key was recognized")
		}
		f.clock.Advance(time.Hour)
		if _, ok := f.svc.Recognize(secret); ok {
			t.Error("an expired key was recognized")
		}
		if _, ok := f.svc.Recognize(tok.AccessToken); ok {
			t.Error("an expired access token was recognized")
		}
	})
}
