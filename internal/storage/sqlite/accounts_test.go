package sqlite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/fault"
)

// authAt is a fixture time with microseconds, in a zone other than UTC,
// so that round trips show both precision and normalization.
func authAt(minutes int) time.Time {
	return time.Date(2026, 11, 26, 12, minutes, 0, 123456000, time.FixedZone("X", 3600))
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func authWrite(t *testing.T, s *Store, fn func(ctx context.Context, tx accounts.Tx) error) error {
	t.Helper()
	ctx := context.Background()
	return s.AuthWrite(ctx, func(tx accounts.Tx) error { return fn(ctx, tx) })
}

func mustAuthWrite(t *testing.T, s *Store, fn func(ctx context.Context, tx accounts.Tx) error) {
	t.Helper()
	if err := authWrite(t, s, fn); err != nil {
		t.Fatalf("AuthWrite: %v", err)
	}
}

func wantFault(t *testing.T, what string, err error, kind fault.Kind) {
	t.Helper()
	if !fault.Is(err, kind) {
		t.Fatalf("%s: %v (kind %q), want %q", what, err, fault.KindOf(err), kind)
	}
}

// utc is v with every time.Time field in UTC, as the store returns them.
func utc[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	for i := range rv.NumField() {
		if f, ok := rv.Field(i).Interface().(time.Time); ok && !f.IsZero() {
			rv.Field(i).Set(reflect.ValueOf(f.UTC()))
		}
	}
	return v
}

func sameValue[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	want = utc(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
	rv := reflect.ValueOf(got)
	for i := range rv.NumField() {
		if f, ok := rv.Field(i).Interface().(time.Time); ok && f.Location() != time.UTC {
			t.Fatalf("%s: %s is not in UTC", what, rv.Type().Field(i).Name)
		}
	}
}

func account(id, email string) accounts.Account {
	return accounts.Account{ID: id, Email: email, PasswordHash: "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA",
		Roles: []string{"admin", "editor"}, VerifiedAt: authAt(1), CreatedAt: authAt(0), UpdatedAt: authAt(2)}
}

func session(id, accountID string, created int) accounts.Session {
	return accounts.Session{ID: id, AccountID: accountID, Device: "phone", UserAgent: "ua/1", IP: "192.0.2.1",
		CreatedAt: authAt(created), LastUsedAt: authAt(created), ExpiresAt: authAt(created + 30)}
}

func TestAuthRoundTripAndZeroTimes(t *testing.T) {
	s := open(t, Options{})
	ctx := context.Background()
	full := account("a1", "ann@example.com")
	full.DisabledAt = authAt(3)
	bare := accounts.Account{ID: "a2", Email: "bob@example.com", PasswordHash: "x", CreatedAt: authAt(0), UpdatedAt: authAt(0)}
	sess := session("s1", "a1", 0)
	key := accounts.APIKey{ID: "k1", Name: "ci", Prefix: "bsk_ab", Hash: hashOf("key"), Roles: []string{"service"},
		Scopes: []string{"documents:read"}, CreatedBy: "a1", CreatedAt: authAt(0), ExpiresAt: authAt(50)}
	bareKey := accounts.APIKey{ID: "k2", Name: "cli", Prefix: "bsk_cd", Hash: hashOf("key2"), CreatedAt: authAt(0)}
	sk := accounts.SigningKey{ID: "kid1", Private: bytes.Repeat([]byte{7}, 64), CreatedAt: authAt(0)}
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		return errors.Join(tx.InsertAccount(ctx, full), tx.InsertAccount(ctx, bare), tx.InsertSession(ctx, sess),
			tx.InsertAPIKey(ctx, key), tx.InsertAPIKey(ctx, bareKey), tx.InsertSigningKey(ctx, sk))
	})

	got, err := s.AccountByID(ctx, "a1")
	wantOK(t, "AccountByID", err)
	sameValue(t, "account", got, full)
	got, err = s.AccountByEmail(ctx, "bob@example.com")
	wantOK(t, "AccountByEmail", err)
	sameValue(t, "bare account", got, bare)
	if !got.VerifiedAt.IsZero() || !got.DisabledAt.IsZero() || got.Roles != nil {
		t.Fatalf("bare account came back with %+v", got)
	}
	var null int
	wantOK(t, "count NULLs", s.read.QueryRow(`SELECT count(*) FROM accounts WHERE verified_at IS NULL AND disabled_at IS NULL`).Scan(&null))
	if null != 1 {
		t.Fatalf("%d accounts with NULL times, want 1 (zero time is NULL)", null)
	}

	gotS, err := s.SessionByID(ctx, "s1")
	wantOK(t, "SessionByID", err)
	sameValue(t, "session", gotS, sess)
	gotK, err := s.APIKeyByHash(ctx, hashOf("key"))
	wantOK(t, "APIKeyByHash", err)
	sameValue(t, "api key", gotK, key)
	keys, err := s.ListAPIKeys(ctx)
	wantOK(t, "ListAPIKeys", err)
	if len(keys) != 2 || keys[0].ID != "k1" || keys[1].ID != "k2" {
		t.Fatalf("ListAPIKeys = %+v", keys)
	}
	sameValue(t, "bare api key", keys[1], bareKey)
	sks, err := s.SigningKeys(ctx)
	wantOK(t, "SigningKeys", err)
	if len(sks) != 1 {
		t.Fatalf("SigningKeys = %+v", sks)
	}
	sameValue(t, "signing key", sks[0], sk)
}

func TestAuthErrors(t *testing.T) {
	s := open(t, Options{})
	ctx := context.Background()
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		return errors.Join(tx.InsertAccount(ctx, account("a1", "ann@example.com")),
			tx.InsertAccount(ctx, account("a2", "bob@example.com")),
			tx.InsertAPIKey(ctx, accounts.APIKey{ID: "k1", Hash: hashOf("k1")}),
			tx.InsertAPIKey(ctx, accounts.APIKey{ID: "k2", Hash: hashOf("k2")}))
	})
	_, err := s.AccountByID(ctx, "nope")
	wantFault(t, "AccountByID missing", err, fault.NotFound)
	_, err = s.AccountByEmail(ctx, "nope@example.com")
	wantFault(t, "AccountByEmail missing", err, fault.NotFound)
	_, err = s.SessionByID(ctx, "nope")
	wantFault(t, "SessionByID missing", err, fault.NotFound)
	_, err = s.APIKeyByHash(ctx, hashOf("nope"))
	wantFault(t, "APIKeyByHash missing", err, fault.NotFound)
	_, err = s.APIKeyByHash(ctx, nil)
	wantFault(t, "APIKeyByHash nil", err, fault.NotFound)
	_, err = s.ListAccounts(ctx, accounts.AccountQuery{After: "", Limit: -1})
	wantFault(t, "ListAccounts negative limit", err, fault.Invalid)

	cases := []struct {
		name string
		kind fault.Kind
		fn   func(ctx context.Context, tx accounts.Tx) error
	}{
		{"InsertAccount same id", fault.Conflict, func(ctx context.Context, tx accounts.Tx) error {
			return tx.InsertAccount(ctx, account("a1", "other@example.com"))
		}},
		{"InsertAccount same email", fault.Conflict, func(ctx context.Context, tx accounts.Tx) error {
			return tx.InsertAccount(ctx, account("a3", "ann@example.com"))
		}},
		{"UpdateAccount to a taken email", fault.Conflict, func(ctx context.Context, tx accounts.Tx) error {
			return tx.UpdateAccount(ctx, account("a2", "ann@example.com"))
		}},
		{"UpdateAccount missing", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			return tx.UpdateAccount(ctx, account("a9", "new@example.com"))
		}},
		{"DeleteAccount missing", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			return tx.DeleteAccount(ctx, "a9")
		}},
		{"GetAccount missing", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			_, err := tx.GetAccount(ctx, "a9")
			return err
		}},
		{"GetAccountByEmail missing", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			_, err := tx.GetAccountByEmail(ctx, "x@example.com")
			return err
		}},
		{"InsertSession for a missing account", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			return tx.InsertSession(ctx, session("s1", "a9", 0))
		}},
		{"InsertSession twice", fault.Conflict, func(ctx context.Context, tx accounts.Tx) error {
			if err := tx.InsertSession(ctx, session("s1", "a1", 0)); err != nil {
				return err
			}
			return tx.InsertSession(ctx, session("s1", "a1", 0))
		}},
		{"UpdateSession missing", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			return tx.UpdateSession(ctx, session("s9", "a1", 0))
		}},
		{"GetSession missing", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			_, err := tx.GetSession(ctx, "s9")
			return err
		}},
		{"InsertRefreshToken for a missing session", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			return tx.InsertRefreshToken(ctx, accounts.RefreshToken{Hash: hashOf("r"), SessionID: "s9", Generation: 1})
		}},
		{"InsertRefreshToken twice", fault.Conflict, func(ctx context.Context, tx accounts.Tx) error {
			r := accounts.RefreshToken{Hash: hashOf("r"), SessionID: "s1", Generation: 1}
			return errors.Join(tx.InsertSession(ctx, session("s1", "a1", 0)), tx.InsertRefreshToken(ctx, r),
				tx.InsertRefreshToken(ctx, r))
		}},
		{"GetRefreshToken missing", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			_, err := tx.GetRefreshToken(ctx, hashOf("r"))
			return err
		}},
		{"MarkRefreshTokenUsed missing", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			return tx.MarkRefreshTokenUsed(ctx, hashOf("r"), authAt(1))
		}},
		{"LatestRefreshToken none", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			_, err := tx.LatestRefreshToken(ctx, "s1")
			return err
		}},
		{"InsertOneTimeToken for a missing account", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			return tx.InsertOneTimeToken(ctx, accounts.OneTimeToken{Hash: hashOf("o"), AccountID: "a9"})
		}},
		{"InsertOneTimeToken twice", fault.Conflict, func(ctx context.Context, tx accounts.Tx) error {
			o := accounts.OneTimeToken{Hash: hashOf("o"), Purpose: accounts.PurposeVerifyEmail, AccountID: "a1"}
			return errors.Join(tx.InsertOneTimeToken(ctx, o), tx.InsertOneTimeToken(ctx, o))
		}},
		{"TakeOneTimeToken missing", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			_, err := tx.TakeOneTimeToken(ctx, hashOf("o"), accounts.PurposeVerifyEmail)
			return err
		}},
		{"GetAPIKey missing", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			_, err := tx.GetAPIKey(ctx, "k9")
			return err
		}},
		{"InsertAPIKey same id", fault.Conflict, func(ctx context.Context, tx accounts.Tx) error {
			return tx.InsertAPIKey(ctx, accounts.APIKey{ID: "k1", Hash: hashOf("other")})
		}},
		{"InsertAPIKey same hash", fault.Conflict, func(ctx context.Context, tx accounts.Tx) error {
			return tx.InsertAPIKey(ctx, accounts.APIKey{ID: "k3", Hash: hashOf("k1")})
		}},
		{"UpdateAPIKey to a taken hash", fault.Conflict, func(ctx context.Context, tx accounts.Tx) error {
			return tx.UpdateAPIKey(ctx, accounts.APIKey{ID: "k2", Hash: hashOf("k1")})
		}},
		{"UpdateAPIKey missing", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			return tx.UpdateAPIKey(ctx, accounts.APIKey{ID: "k9", Hash: hashOf("k9")})
		}},
		{"InsertSigningKey twice", fault.Conflict, func(ctx context.Context, tx accounts.Tx) error {
			k := accounts.SigningKey{ID: "kid", Private: []byte{1}}
			return errors.Join(tx.InsertSigningKey(ctx, k), tx.InsertSigningKey(ctx, k))
		}},
		{"UpdateSigningKey missing", fault.NotFound, func(ctx context.Context, tx accounts.Tx) error {
			return tx.UpdateSigningKey(ctx, accounts.SigningKey{ID: "kid9", NotAfter: authAt(1)})
		}},
	}
	for _, c := range cases {
		err := authWrite(t, s, c.fn)
		wantFault(t, c.name, err, c.kind)
		if strings.Contains(fault.Message(err), "constraint") {
			t.Errorf("%s: message %q leaks driver detail", c.name, fault.Message(err))
		}
	}
	// Every failed transaction was rolled back.
	got, err := s.AccountByID(ctx, "a2")
	wantOK(t, "AccountByID", err)
	if got.Email != "bob@example.com" {
		t.Fatalf("a failed update changed the account: %+v", got)
	}
	sessions, err := s.ListSessions(ctx, "a1")
	wantOK(t, "ListSessions", err)
	if len(sessions) != 0 {
		t.Fatalf("failed transactions left sessions: %+v", sessions)
	}
}

func TestAuthAccountsUpdateListDelete(t *testing.T) {
	s := open(t, Options{})
	ctx := context.Background()
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		for i := range 5 {
			id := fmt.Sprintf("a%d", i)
			if err := tx.InsertAccount(ctx, account(id, id+"@example.com")); err != nil {
				return err
			}
		}
		for i, id := range []string{"s-old", "s-new", "s-mid"} {
			if err := tx.InsertSession(ctx, session(id, "a1", []int{0, 20, 10}[i])); err != nil {
				return err
			}
			r := accounts.RefreshToken{Hash: hashOf(id), SessionID: id, Generation: 1, CreatedAt: authAt(0)}
			if err := tx.InsertRefreshToken(ctx, r); err != nil {
				return err
			}
		}
		return errors.Join(tx.InsertSession(ctx, session("s-other", "a2", 0)),
			tx.InsertOneTimeToken(ctx, accounts.OneTimeToken{Hash: hashOf("o1"), Purpose: accounts.PurposeVerifyEmail,
				AccountID: "a1", CreatedAt: authAt(0), ExpiresAt: authAt(10)}))
	})

	page, err := s.ListAccounts(ctx, accounts.AccountQuery{After: "a1", Limit: 2})
	wantOK(t, "ListAccounts", err)
	if len(page) != 2 || page[0].ID != "a2" || page[1].ID != "a3" {
		t.Fatalf("ListAccounts(a1, 2) = %+v", page)
	}
	page, err = s.ListAccounts(ctx, accounts.AccountQuery{After: "", Limit: 0})
	wantOK(t, "ListAccounts limit 0", err)
	if len(page) != 0 {
		t.Fatalf("ListAccounts limit 0 = %+v", page)
	}

	sessions, err := s.ListSessions(ctx, "a1")
	wantOK(t, "ListSessions", err)
	var order []string
	for _, x := range sessions {
		order = append(order, x.ID)
	}
	if strings.Join(order, ",") != "s-new,s-mid,s-old" {
		t.Fatalf("ListSessions order %v, want newest first", order)
	}

	changed := account("a1", "ann@example.com")
	changed.Roles = nil
	changed.VerifiedAt = time.Time{}
	changed.DisabledAt = authAt(9)
	revoked := session("s-mid", "a1", 10)
	revoked.RevokedAt, revoked.RevokeReason = authAt(12), "logout"
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		if err := tx.UpdateAccount(ctx, changed); err != nil {
			return err
		}
		got, err := tx.GetAccountByEmail(ctx, "ann@example.com")
		if err != nil {
			return err
		}
		sameValue(t, "account in its transaction", got, changed)
		if err := tx.UpdateSession(ctx, revoked); err != nil {
			return err
		}
		in, err := tx.ListSessions(ctx, "a1")
		if err != nil {
			return err
		}
		if len(in) != 3 || in[1].RevokeReason != "logout" {
			t.Errorf("Tx.ListSessions = %+v", in)
		}
		return nil
	})
	got, err := s.AccountByID(ctx, "a1")
	wantOK(t, "AccountByID", err)
	sameValue(t, "updated account", got, changed)
	gotS, err := s.SessionByID(ctx, "s-mid")
	wantOK(t, "SessionByID", err)
	sameValue(t, "revoked session", gotS, revoked)

	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error { return tx.DeleteAccount(ctx, "a1") })
	var left int
	wantOK(t, "count", s.read.QueryRow(`SELECT
		(SELECT count(*) FROM sessions WHERE account_id = 'a1') +
		(SELECT count(*) FROM refresh_tokens WHERE session_id LIKE 's-%' AND session_id <> 's-other') +
		(SELECT count(*) FROM one_time_tokens WHERE account_id = 'a1')`).Scan(&left))
	if left != 0 {
		t.Fatalf("deleting the account left %d dependent rows", left)
	}
	if _, err := s.SessionByID(ctx, "s-other"); err != nil {
		t.Fatalf("another account's session: %v", err)
	}
}

func TestAuthTokens(t *testing.T) {
	s := open(t, Options{})
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		if err := tx.InsertAccount(ctx, account("a1", "ann@example.com")); err != nil {
			return err
		}
		if err := tx.InsertSession(ctx, session("s1", "a1", 0)); err != nil {
			return err
		}
		for g := 1; g <= 3; g++ {
			r := accounts.RefreshToken{Hash: hashOf(fmt.Sprint(g)), SessionID: "s1", Generation: int64(g), CreatedAt: authAt(g)}
			if err := tx.InsertRefreshToken(ctx, r); err != nil {
				return err
			}
		}
		for _, o := range []accounts.OneTimeToken{
			{Hash: hashOf("v1"), Purpose: accounts.PurposeVerifyEmail, AccountID: "a1", CreatedAt: authAt(0), ExpiresAt: authAt(1)},
			{Hash: hashOf("v2"), Purpose: accounts.PurposeVerifyEmail, AccountID: "a1", CreatedAt: authAt(0), ExpiresAt: authAt(1)},
			{Hash: hashOf("p1"), Purpose: accounts.PurposeResetPassword, AccountID: "a1", CreatedAt: authAt(0), ExpiresAt: authAt(1)},
		} {
			if err := tx.InsertOneTimeToken(ctx, o); err != nil {
				return err
			}
		}
		return nil
	})
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		latest, err := tx.LatestRefreshToken(ctx, "s1")
		if err != nil {
			return err
		}
		if latest.Generation != 3 || !bytes.Equal(latest.Hash, hashOf("3")) || !latest.UsedAt.IsZero() {
			t.Errorf("LatestRefreshToken = %+v", latest)
		}
		if err := tx.MarkRefreshTokenUsed(ctx, hashOf("2"), authAt(7)); err != nil {
			return err
		}
		r, err := tx.GetRefreshToken(ctx, hashOf("2"))
		if err != nil {
			return err
		}
		sameValue(t, "used refresh token", r, accounts.RefreshToken{Hash: hashOf("2"), SessionID: "s1", Generation: 2,
			CreatedAt: authAt(2), UsedAt: authAt(7)})

		// The token is long expired (ExpiresAt is authAt(1)): the store
		// still hands it over; judging expiry is the service's business.
		o, err := tx.TakeOneTimeToken(ctx, hashOf("v1"), accounts.PurposeVerifyEmail)
		if err != nil {
			return err
		}
		sameValue(t, "taken token", o, accounts.OneTimeToken{Hash: hashOf("v1"), Purpose: accounts.PurposeVerifyEmail,
			AccountID: "a1", CreatedAt: authAt(0), ExpiresAt: authAt(1)})
		if _, err := tx.TakeOneTimeToken(ctx, hashOf("v1"), accounts.PurposeVerifyEmail); !fault.Is(err, fault.NotFound) {
			t.Errorf("second take: %v, want not found", err)
		}
		if _, err := tx.TakeOneTimeToken(ctx, hashOf("p1"), accounts.PurposeVerifyEmail); !fault.Is(err, fault.NotFound) {
			t.Errorf("take with the wrong purpose: %v, want not found", err)
		}
		return tx.DeleteOneTimeTokens(ctx, "a1", accounts.PurposeVerifyEmail)
	})
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		if _, err := tx.TakeOneTimeToken(ctx, hashOf("v2"), accounts.PurposeVerifyEmail); !fault.Is(err, fault.NotFound) {
			t.Errorf("take after DeleteOneTimeTokens: %v, want not found", err)
		}
		_, err := tx.TakeOneTimeToken(ctx, hashOf("p1"), accounts.PurposeResetPassword)
		return err // DeleteOneTimeTokens kept the other purpose
	})
}

func TestAuthSigningKeysAndRevocations(t *testing.T) {
	s := open(t, Options{})
	ctx := context.Background()
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		return errors.Join(
			tx.InsertSigningKey(ctx, accounts.SigningKey{ID: "new", Private: []byte{2}, CreatedAt: authAt(5)}),
			tx.InsertSigningKey(ctx, accounts.SigningKey{ID: "old", Private: []byte{1}, CreatedAt: authAt(1)}),
			tx.AppendRevocation(ctx, accounts.Revocation{ID: "s3", RevokedAt: authAt(3)}),
			tx.AppendRevocation(ctx, accounts.Revocation{ID: "s1", RevokedAt: authAt(1)}),
			tx.AppendRevocation(ctx, accounts.Revocation{ID: "s2", RevokedAt: authAt(2)}),
			tx.AppendRevocation(ctx, accounts.Revocation{ID: "s2", RevokedAt: authAt(2)}))
	})
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		// UpdateSigningKey changes NotAfter only.
		if err := tx.UpdateSigningKey(ctx, accounts.SigningKey{ID: "old", Private: []byte{9}, CreatedAt: authAt(9),
			NotAfter: authAt(20)}); err != nil {
			return err
		}
		keys, err := tx.SigningKeys(ctx)
		if err != nil {
			return err
		}
		if len(keys) != 2 || keys[0].ID != "old" || keys[1].ID != "new" {
			t.Errorf("Tx.SigningKeys = %+v, want oldest first", keys)
		}
		return nil
	})
	keys, err := s.SigningKeys(ctx)
	wantOK(t, "SigningKeys", err)
	sameValue(t, "updated signing key", keys[0], accounts.SigningKey{ID: "old", Private: []byte{1}, CreatedAt: authAt(1),
		NotAfter: authAt(20)})

	revs, err := s.RevocationsSince(ctx, authAt(2))
	wantOK(t, "RevocationsSince", err)
	var got []string
	for _, r := range revs {
		got = append(got, r.ID+"@"+r.RevokedAt.Format("04"))
		if r.RevokedAt.Location() != time.UTC {
			t.Fatalf("revocation time %v not in UTC", r.RevokedAt)
		}
	}
	if strings.Join(got, ",") != "s2@02,s2@02,s3@03" {
		t.Fatalf("RevocationsSince = %v", got)
	}
}

func TestAuthWriteRollsBack(t *testing.T) {
	s := open(t, Options{})
	ctx := context.Background()
	err := authWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		if err := tx.InsertAccount(ctx, account("a1", "ann@example.com")); err != nil {
			return err
		}
		return errBoomAuth
	})
	if !errors.Is(err, errBoomAuth) {
		t.Fatalf("AuthWrite = %v, want the error of fn", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatalf("the panic in fn did not reach the caller")
			}
		}()
		_ = authWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
			if err := tx.InsertAccount(ctx, account("a2", "bob@example.com")); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	for _, id := range []string{"a1", "a2"} {
		if _, err := s.AccountByID(ctx, id); !fault.Is(err, fault.NotFound) {
			t.Fatalf("account %s after a failed transaction: %v, want not found", id, err)
		}
	}
}

var errBoomAuth = errors.New("boom")

// TestPurgeAuth purges more rows than one batch holds, and checks what
// stays and the count.
func TestPurgeAuth(t *testing.T) {
	s := open(t, Options{})
	ctx := context.Background()
	cut := authAt(30)
	const longChain = 2*purgeBatch + 10
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		if err := tx.InsertAccount(ctx, account("a1", "ann@example.com")); err != nil {
			return err
		}
		sessions := []accounts.Session{
			session("expired", "a1", -40),          // expires at -10
			session("live", "a1", 0),               // expires at 30: not before the cut
			session("revoked-early", "a1", 10),     // revoked at 20
			session("revoked-late", "a1", 10),      // revoked at 31
			session("expired-no-tokens", "a1", -5), // expires at 25
		}
		sessions[2].RevokedAt = authAt(20)
		sessions[3].RevokedAt = authAt(31)
		for _, x := range sessions {
			if err := tx.InsertSession(ctx, x); err != nil {
				return err
			}
		}
		for i := range longChain {
			r := accounts.RefreshToken{Hash: hashOf(fmt.Sprint("e", i)), SessionID: "expired", Generation: int64(i + 1)}
			if err := tx.InsertRefreshToken(ctx, r); err != nil {
				return err
			}
		}
		for _, id := range []string{"live", "revoked-early", "revoked-late"} {
			if err := tx.InsertRefreshToken(ctx, accounts.RefreshToken{Hash: hashOf(id), SessionID: id, Generation: 1}); err != nil {
				return err
			}
		}
		for i, exp := range []int{29, 30, 31} {
			o := accounts.OneTimeToken{Hash: hashOf(fmt.Sprint("o", i)), Purpose: accounts.PurposeResetPassword,
				AccountID: "a1", ExpiresAt: authAt(exp)}
			if err := tx.InsertOneTimeToken(ctx, o); err != nil {
				return err
			}
		}
		for i := range purgeBatch + 5 {
			if err := tx.AppendRevocation(ctx, accounts.Revocation{ID: fmt.Sprint("r", i), RevokedAt: authAt(1)}); err != nil {
				return err
			}
		}
		return errors.Join(
			tx.AppendRevocation(ctx, accounts.Revocation{ID: "keep", RevokedAt: cut}),
			tx.InsertSigningKey(ctx, accounts.SigningKey{ID: "current", Private: []byte{1}, CreatedAt: authAt(0)}),
			tx.InsertSigningKey(ctx, accounts.SigningKey{ID: "retired", Private: []byte{1}, CreatedAt: authAt(0), NotAfter: authAt(29)}),
			tx.InsertSigningKey(ctx, accounts.SigningKey{ID: "verifying", Private: []byte{1}, CreatedAt: authAt(0), NotAfter: cut}))
	})

	n, err := s.PurgeAuth(ctx, cut)
	wantOK(t, "PurgeAuth", err)
	// sessions 3 + their refresh tokens (longChain + 1) + one-time 1 +
	// revocations purgeBatch+5 + signing keys 1
	if want := int64(3 + longChain + 1 + 1 + purgeBatch + 5 + 1); n != want {
		t.Fatalf("PurgeAuth deleted %d rows, want %d", n, want)
	}
	var left []string
	rows, err := s.read.Query(`SELECT 'session ' || id FROM sessions UNION ALL
		SELECT 'refresh ' || session_id FROM refresh_tokens UNION ALL
		SELECT 'one-time ' || expires_at FROM one_time_tokens UNION ALL
		SELECT 'revocation ' || id FROM revocations UNION ALL
		SELECT 'signing ' || id FROM signing_keys ORDER BY 1`)
	wantOK(t, "query", err)
	defer rows.Close()
	for rows.Next() {
		var x string
		wantOK(t, "scan", rows.Scan(&x))
		left = append(left, x)
	}
	wantOK(t, "rows", rows.Err())
	want := []string{
		fmt.Sprint("one-time ", toMicros(authAt(30))), fmt.Sprint("one-time ", toMicros(authAt(31))),
		"refresh live", "refresh revoked-late", "revocation keep",
		"session live", "session revoked-late", "signing current", "signing verifying",
	}
	if strings.Join(left, "|") != strings.Join(want, "|") {
		t.Fatalf("left after purge:\n%s\nwant:\n%s", strings.Join(left, "\n"), strings.Join(want, "\n"))
	}
	if n, err := s.PurgeAuth(ctx, cut); err != nil || n != 0 {
		t.Fatalf("second PurgeAuth = %d, %v; want 0", n, err)
	}
}

// tableScan matches a plan line that reads a whole table (not a subquery).
var tableScan = regexp.MustCompile(`SCAN [a-z]`)

// TestAuthQueriesUseIndexes checks that the lookups and purges do not scan
// whole tables.
func TestAuthQueriesUseIndexes(t *testing.T) {
	s := open(t, Options{})
	for _, q := range []struct {
		sql  string
		args []any
		want []string // index names the plan must use; nil: a scan is fine
	}{
		{selectAccountByEmail, []any{"x"}, []string{"INDEX sqlite_autoindex_accounts_2"}},
		{selectSessionsOfAccount, []any{"x"}, []string{"INDEX sessions_account"}},
		{selectLatestRefreshToken, []any{"x"}, []string{"INDEX refresh_tokens_session"}},
		{selectAPIKeyByHash, []any{[]byte{1}}, []string{"INDEX sqlite_autoindex_api_keys_2"}},
		{selectRevocationsSince, []any{1}, []string{"INDEX revocations_revoked_at"}},
		{deleteOneTimeTokens, []any{"a", "b"}, []string{"INDEX one_time_tokens_account"}},
		{purgeRefreshTokens, []any{1, 10}, []string{"INDEX sessions_expires_at", "INDEX sessions_revoked_at", "INDEX refresh_tokens_session"}},
		{purgeOneTimeTokens, []any{1, 10}, []string{"INDEX one_time_tokens_expires_at"}},
		{purgeRevocations, []any{1, 10}, []string{"INDEX revocations_revoked_at"}},
		{purgeSigningKeys, []any{1, 10}, nil}, // a handful of rows: no index
		{selectPurgedSessions, []any{1, 10}, []string{"INDEX sessions_expires_at", "INDEX sessions_revoked_at"}},
	} {
		rows, err := s.read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q.sql, q.args...)
		wantOK(t, "explain", err)
		var plan []string
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			wantOK(t, "scan", rows.Scan(&id, &parent, &notUsed, &detail))
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "\n")
		t.Logf("%s\n%s", q.sql, p)
		for _, w := range q.want {
			if !strings.Contains(p, w+" ") {
				t.Errorf("%s:\nplan\n%s\nwant %q", q.sql, p, w)
			}
		}
		if (q.want != nil && tableScan.MatchString(p)) || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s:\nplan\n%s\nscans or sorts", q.sql, p)
		}
	}
}

func wantOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
