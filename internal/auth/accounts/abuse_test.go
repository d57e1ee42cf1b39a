package accounts_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/auth/password"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/ratelimit"
)

// TestNewAddressesRefuseLookalikes: an address that displays as another
// (bidirectional controls, zero-width and other invisible characters, line
// and paragraph separators) or that names a host by IP address is refused
// at sign-up and by admins, with a message that says why.
func TestNewAddressesRefuseLookalikes(t *testing.T) {
	f := newFixture(t, engines()["sqlite"])
	for _, tc := range []struct{ name, email, msg string }{
		{"right-to-left override", "ada\u202e@example.com", "invisible or bidirectional"},
		{"left-to-right mark", "ada@example.com\u200e", "invisible or bidirectional"},
		{"bidi isolate", "\u2067ada@example.com", "invisible or bidirectional"},
		{"arabic letter mark", "ada\u061c@example.com", "invisible or bidirectional"},
		{"zero-width space", "ad\u200ba@example.com", "invisible or bidirectional"},
		{"zero-width joiner", "ada@exa\u200dmple.com", "invisible or bidirectional"},
		{"word joiner", "ada@example\u2060.com", "invisible or bidirectional"},
		{"byte order mark", "\ufeffada@example.com", "invisible or bidirectional"},
		{"soft hyphen", "ada@ex\u00adample.com", "invisible or bidirectional"},
		{"line separator", "ada@exa\u2028mple.com", "invisible or bidirectional"},
		{"paragraph separator", "ada\u2029x@example.com", "invisible or bidirectional"},
		{"IPv4 literal", "ada@[127.0.0.1]", "IP address"},
		{"bare IPv4", "ada@10.0.0.1", "IP address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for what, err := range map[string]error{
				"sign-up": f.svc.SignUp(bg, accounts.SignUpRequest{Email: tc.email, Password: "correct horse", IP: "192.0.2.1"}),
				"admin create": func() error {
					_, err := f.svc.CreateAccount(admin, accounts.NewAccount{Email: tc.email, Password: "correct horse"})
					return err
				}(),
			} {
				wantKind(t, what, err, fault.Validation)
				if fs := fault.FieldsOf(err); len(fs) != 1 || fs[0].Pointer != "/email" || !strings.Contains(fs[0].Message, tc.msg) {
					t.Fatalf("%s: %v, want a message about %q at /email", what, err, tc.msg)
				}
			}
		})
	}
	if n := f.mail.Count(); n != 0 {
		t.Fatalf("%d messages sent to refused addresses", n)
	}
	// Looking an address up stays lax, so that accounts made before these
	// checks can still sign in and reset their passwords.
	_, err := f.svc.Login(bg, accounts.LoginRequest{Email: "ada@[127.0.0.1]", Password: "correct horse"})
	wantKind(t, "login with an IP-literal address", err, fault.Unauthenticated)
	if err := f.svc.RequestPasswordReset(bg, "ada\u200b@example.com"); err != nil {
		t.Fatalf("reset of an address with a zero-width space: %v", err)
	}
	// Plain international addresses stay welcome.
	if err := f.svc.SignUp(bg, accounts.SignUpRequest{Email: "zoë@exämple.com", Password: "correct horse"}); err != nil {
		t.Fatalf("an address with accents: %v", err)
	}
}

// TestSignUpThrottledPerAddress: sign-ups are limited per address like
// reset requests, so an address that has an account cannot be flooded with
// "someone tried to sign up" mail; an address without one is throttled
// after the same number of attempts, so the limit reveals nothing.
func TestSignUpThrottledPerAddress(t *testing.T) {
	f := newFixture(t, engines()["sqlite"], func(o *accounts.Options) {
		o.LoginPerEmail = ratelimit.Limit{Rate: 1.0 / 60, Burst: 3}
	})
	attempts := func(email string) []error {
		var errs []error
		for range 4 {
			errs = append(errs, f.svc.SignUp(bg, accounts.SignUpRequest{Email: email, Password: "correct horse"}))
		}
		return errs
	}
	f.user(t, "ada@example.com")
	f.clock.Advance(time.Minute) // the sign-up's attempt is refilled
	known, unknown := attempts("ada@example.com"), attempts("new@example.com")
	for i := range known {
		want := fault.Kind("")
		if i == 3 {
			want = fault.TooManyRequests
		}
		if fault.KindOf(known[i]) != want || fault.KindOf(unknown[i]) != want {
			t.Fatalf("sign-up %d: known address %v, new address %v; want kind %q for both", i+1, known[i], unknown[i], want)
		}
	}
	if fault.RetryAfterOf(known[3]) != fault.RetryAfterOf(unknown[3]) {
		t.Errorf("Retry-After differs: %v vs %v", fault.RetryAfterOf(known[3]), fault.RetryAfterOf(unknown[3]))
	}
	tried := 0
	for _, m := range f.mail.All() {
		if m.To == "ada@example.com" && strings.Contains(m.Subject, "Sign-up attempt") {
			tried++
		}
	}
	if tried != 3 {
		t.Fatalf("%d sign-up attempt mails, want 3", tried)
	}
	// The limit refills.
	f.clock.Advance(time.Minute)
	if err := f.svc.SignUp(bg, accounts.SignUpRequest{Email: "ada@example.com", Password: "correct horse"}); err != nil {
		t.Fatalf("after a minute: %v", err)
	}
}

// TestCurrentPasswordGuessesThrottled: changing the password and deleting
// the account check the current password under the account's login limit,
// so a stolen access token does not open an unthrottled way to guess it.
func TestCurrentPasswordGuessesThrottled(t *testing.T) {
	f := newFixture(t, engines()["sqlite"], func(o *accounts.Options) {
		o.LoginPerEmail = ratelimit.Limit{Rate: 1.0 / 60, Burst: 3}
	})
	tok := f.user(t, "ada@example.com")
	f.clock.Advance(time.Minute) // the login's attempt is refilled
	ctx := f.as(t, f.svc, tok.AccessToken)
	wrong := accounts.ChangePasswordRequest{CurrentPassword: "guess guess", NewPassword: "new password"}
	wantKind(t, "guess 1", f.svc.ChangePassword(ctx, wrong), fault.Forbidden)
	wantKind(t, "guess 2", f.svc.DeleteMe(ctx, "guess guess"), fault.Forbidden)
	wantKind(t, "guess 3", f.svc.ChangePassword(ctx, wrong), fault.Forbidden)
	right := accounts.ChangePasswordRequest{CurrentPassword: "correct horse", NewPassword: "new password"}
	err := f.svc.ChangePassword(ctx, right)
	wantKind(t, "change after three guesses", err, fault.TooManyRequests)
	if fault.RetryAfterOf(err) < time.Second {
		t.Errorf("RetryAfter = %v", fault.RetryAfterOf(err))
	}
	wantKind(t, "delete after three guesses", f.svc.DeleteMe(ctx, "correct horse"), fault.TooManyRequests)
	// The guesses count against logins of the account too.
	_, err = f.svc.Login(bg, accounts.LoginRequest{Email: "ada@example.com", Password: "correct horse", IP: "192.0.2.7"})
	wantKind(t, "login after three guesses", err, fault.TooManyRequests)
	f.clock.Advance(time.Minute)
	if err := f.svc.ChangePassword(ctx, right); err != nil {
		t.Fatalf("a minute later: %v", err)
	}
}

// TestUnknownAddressesAnswerLikeKnownOnes: a login with a wrong password
// gets the same answer — kind, message, fields, Retry-After — for an
// address that has an account and for one that has none, in every state
// the service can be in: normal, throttled per IP, throttled per account,
// hashing budget spent, hasher unavailable.
func TestUnknownAddressesAnswerLikeKnownOnes(t *testing.T) {
	f := newFixture(t, engines()["sqlite"])
	f.user(t, "ada@example.com")
	params := password.Params{Memory: password.MinMemoryKiB, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	tight := func(o *accounts.Options) {
		o.LoginPerIP = ratelimit.Limit{Rate: 1.0 / 600, Burst: 2}
		o.LoginPerEmail = ratelimit.Limit{Rate: 1.0 / 600, Burst: 2}
	}
	login := func(svc *accounts.Service, email, ip string) error {
		_, err := svc.Login(bg, accounts.LoginRequest{Email: email, Password: "wrong password", IP: ip})
		return err
	}
	for _, tc := range []struct {
		name    string
		svc     func(t *testing.T) *accounts.Service
		prepare func(svc *accounts.Service, email, ip string) // brings the state about for one attempt
		want    fault.Kind
	}{
		{name: "normal", svc: func(t *testing.T) *accounts.Service { return f.service(t, tight) },
			want: fault.Unauthenticated},
		{name: "throttled per IP", svc: func(t *testing.T) *accounts.Service { return f.service(t, tight) },
			prepare: func(svc *accounts.Service, _, ip string) {
				for range 2 {
					_ = login(svc, "someone@example.net", ip)
				}
			},
			want: fault.TooManyRequests},
		{name: "throttled per account", svc: func(t *testing.T) *accounts.Service { return f.service(t, tight) },
			prepare: func(svc *accounts.Service, email, ip string) {
				for i := range 2 {
					_ = login(svc, email, ip+"0"+strconv.Itoa(i))
				}
			},
			want: fault.TooManyRequests},
		{name: "hashing share of the IP spent", svc: func(t *testing.T) *accounts.Service {
			return f.service(t, func(o *accounts.Options) { o.Hasher = hasherWithBudget(t, 100) })
		},
			prepare: func(svc *accounts.Service, _, ip string) {
				for i := range 50 {
					_ = login(svc, "someone"+strconv.Itoa(i)+"@example.net", ip)
				}
			},
			want: fault.TooManyRequests},
		{name: "hashing budget spent", svc: func(t *testing.T) *accounts.Service {
			h, err := password.New(params, 2, password.MaxRate(0.001, 1)) // one hash, then one per 1000 s
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.Hash(bg, "spends the budget"); err != nil {
				t.Fatal(err)
			}
			return f.service(t, func(o *accounts.Options) { o.Hasher = h })
		}, want: fault.TooManyRequests},
		{name: "hasher unavailable", svc: func(t *testing.T) *accounts.Service {
			h, err := password.New(params, 2, password.InWorker(password.Command{Path: "cat", Args: []string{}}))
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			return f.service(t, func(o *accounts.Options) { o.Hasher = h })
		}, want: fault.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := tc.svc(t)
			var errs [2]error
			for i, email := range []string{"ada@example.com", "nobody@example.com"} {
				ip := "192.0.2." + strconv.Itoa(10+i)
				if tc.prepare != nil {
					tc.prepare(svc, email, ip)
				}
				errs[i] = login(svc, email, ip)
			}
			known, unknown := errs[0], errs[1]
			wantKind(t, "known address", known, tc.want)
			wantKind(t, "unknown address", unknown, tc.want)
			seconds := func(d time.Duration) time.Duration { return (d + time.Second - 1) / time.Second }
			if fault.Message(known) != fault.Message(unknown) ||
				!slices.Equal(fault.FieldsOf(known), fault.FieldsOf(unknown)) ||
				seconds(fault.RetryAfterOf(known)) != seconds(fault.RetryAfterOf(unknown)) {
				t.Fatalf("answers differ:\nknown   %v (retry after %v)\nunknown %v (retry after %v)",
					known, fault.RetryAfterOf(known), unknown, fault.RetryAfterOf(unknown))
			}
		})
	}
}

// hasherWithBudget returns a fast hasher that starts burst hashes and then
// one per 1000 s: a budget that does not refill during a test.
func hasherWithBudget(t *testing.T, burst int) *password.Hasher {
	t.Helper()
	h, err := password.New(password.Params{Memory: password.MinMemoryKiB, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		2, password.MaxRate(0.001, burst))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestResetConfirmChecksTheTokenFirst: made-up reset tokens are refused
// before any hashing, and throttled per IP, so a loop of them from one IP
// neither spends the hashing budget nor keeps others from logging in.
func TestResetConfirmChecksTheTokenFirst(t *testing.T) {
	f := newFixture(t, engines()["sqlite"], func(o *accounts.Options) {
		o.Hasher = hasherWithBudget(t, 4)
		o.LoginPerIP = ratelimit.Limit{Rate: 1.0 / 600, Burst: 5}
	})
	if err := f.svc.SignUp(bg, accounts.SignUpRequest{Email: "ada@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err) // the first hash
	}
	made := "bse_" + strings.Repeat("A", 43)
	for i := range 5 {
		err := f.svc.ResetPassword(bg, accounts.ResetPasswordRequest{Token: made, NewPassword: "brand new password", IP: "198.51.100.1"})
		wantKind(t, "made-up token "+strconv.Itoa(i+1), err, fault.Validation)
	}
	err := f.svc.ResetPassword(bg, accounts.ResetPasswordRequest{Token: made, NewPassword: "brand new password", IP: "198.51.100.1"})
	wantKind(t, "the sixth from one IP", err, fault.TooManyRequests)
	// Nothing was hashed: the budget still has three hashes.
	if _, err := f.svc.Login(bg, accounts.LoginRequest{Email: "ada@example.com", Password: "correct horse", IP: "203.0.113.5"}); err != nil {
		t.Fatalf("login after the flood: %v", err)
	}
	// A real token still works, from a fresh IP.
	if err := f.svc.RequestPasswordReset(bg, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	tok := f.mail.Token(t, "ada@example.com", "Reset your password")
	if err := f.svc.ResetPassword(bg, accounts.ResetPasswordRequest{Token: tok, NewPassword: "brand new password", IP: "203.0.113.6"}); err != nil {
		t.Fatalf("reset with the mailed token: %v", err)
	}
	_, err = f.svc.Login(bg, accounts.LoginRequest{Email: "ada@example.com", Password: "brand new password", IP: "203.0.113.5"})
	if err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
}

// TestOneIPCannotTakeTheWholeHashBudget: with the per-IP throttle loosened,
// one IP flooding logins with made-up addresses gets at most its share of
// the hashing budget (half by default), and a login from another IP still
// gets its hash.
func TestOneIPCannotTakeTheWholeHashBudget(t *testing.T) {
	f := newFixture(t, engines()["sqlite"], func(o *accounts.Options) {
		o.Hasher = hasherWithBudget(t, 4)
		o.LoginPerIP = ratelimit.Limit{Rate: 1000, Burst: 1000}
		o.LoginPerEmail = ratelimit.Limit{Rate: 1000, Burst: 1000}
	})
	if err := f.svc.SignUp(bg, accounts.SignUpRequest{Email: "ada@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err) // the first hash
	}
	hashed, refused := 0, 0
	for i := range 20 {
		_, err := f.svc.Login(bg, accounts.LoginRequest{Email: "x" + strconv.Itoa(i) + "@example.com", Password: "guess guess", IP: "198.51.100.1"})
		switch fault.KindOf(err) {
		case fault.Unauthenticated:
			hashed++
		case fault.TooManyRequests:
			refused++
		default:
			t.Fatalf("flood login %d: %v", i, err)
		}
	}
	if hashed != 2 || refused != 18 {
		t.Fatalf("the flooding IP got %d hashes and %d refusals; want 2 (half the budget) and 18", hashed, refused)
	}
	if _, err := f.svc.Login(bg, accounts.LoginRequest{Email: "ada@example.com", Password: "correct horse", IP: "203.0.113.5"}); err != nil {
		t.Fatalf("login from another IP during the flood: %v", err)
	}
}
