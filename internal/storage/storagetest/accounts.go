package storagetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/docstore"
)

// accountsCases are the cases of the accounts.Store contract. Each gets a
// docstore.Store from the engine and checks that it is an accounts.Store.
//
// Orders the suite expects: ListAccounts and ListAPIKeys by ID ascending;
// ListSessions by CreatedAt descending; SigningKeys by CreatedAt ascending;
// RevocationsSince by RevokedAt ascending. The fixtures never tie on those
// times, so the order of ties is left to the engine.
//
// Times are compared as instants that must come back in UTC at
// microsecond precision; a zero time must come back zero. Roles and
// Scopes compare by their elements in order, so nil and empty are alike.
func accountsCases() []testCase {
	return []testCase{
		{"AccountRoundTrip", testAccountRoundTrip},
		{"AccountNotFound", testAccountNotFound},
		{"AccountDuplicates", testAccountDuplicates},
		{"UpdateAccount", testUpdateAccount},
		{"ListAccounts", testListAccounts},
		{"DeleteAccount", testDeleteAccount},
		{"SessionRoundTrip", testSessionRoundTrip},
		{"ListSessions", testListSessions},
		{"GetSessionSerializesRefreshes", testGetSessionSerializesRefreshes},
		{"RefreshTokens", testRefreshTokens},
		{"OneTimeTokens", testOneTimeTokens},
		{"DeleteOneTimeTokens", testDeleteOneTimeTokens},
		{"APIKeys", testAPIKeys},
		{"UpdateAPIKey", testUpdateAPIKey},
		{"SigningKeys", testSigningKeys},
		{"Revocations", testRevocations},
		{"AuthWriteRollbackOnError", testAuthWriteRollbackOnError},
		{"AuthWriteRollbackOnPanic", testAuthWriteRollbackOnPanic},
		{"AuthTxSeesOwnWrites", testAuthTxSeesOwnWrites},
		{"PurgeAuth", testPurgeAuth},
		{"PurgeAuthMany", testPurgeAuthMany},
		{"ConcurrentInsertsOfOneEmail", testConcurrentInsertsOfOneEmail},
	}
}

// authStore returns s as an accounts.Store: every engine must be one.
func authStore(t *testing.T, s docstore.Store) accounts.Store {
	t.Helper()
	a, ok := s.(accounts.Store)
	if !ok {
		t.Fatalf("%T does not implement accounts.Store: every engine must store accounts", s)
	}
	return a
}

// authWrite runs fn in one AuthWrite transaction. fn must not call
// t.Fatal: it reports through its error (or t.Errorf).
func authWrite(a accounts.Store, fn func(ctx context.Context, tx accounts.Tx) error) error {
	ctx := context.Background()
	return a.AuthWrite(ctx, func(tx accounts.Tx) error { return fn(ctx, tx) })
}

func mustAuthWrite(t *testing.T, a accounts.Store, fn func(ctx context.Context, tx accounts.Tx) error) {
	t.Helper()
	if err := authWrite(a, fn); err != nil {
		t.Fatalf("AuthWrite: %v", err)
	}
}

// inTx returns what fn reads in a transaction of its own.
func inTx[T any](a accounts.Store, fn func(ctx context.Context, tx accounts.Tx) (T, error)) (T, error) {
	var out T
	err := authWrite(a, func(ctx context.Context, tx accounts.Tx) error {
		v, err := fn(ctx, tx)
		out = v
		return err
	})
	return out, err
}

// takeInTx takes a one-time token in a transaction that commits whatever
// the take answers, so that a failed take cannot hide behind a rollback.
func takeInTx(t *testing.T, a accounts.Store, hash []byte, purpose string) (accounts.OneTimeToken, error) {
	t.Helper()
	var got accounts.OneTimeToken
	var takeErr error
	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		got, takeErr = tx.TakeOneTimeToken(ctx, hash, purpose)
		return nil
	})
	return got, takeErr
}

// Fixture builders. IDs are UUID-shaped (the contract's IDs are UUIDv7) and
// their string order is their number's order; the second group tells the
// kinds apart.

func accountID(n int) string    { return fmt.Sprintf("01930000-0000-7000-8000-%012d", n) }
func sessionID(n int) string    { return fmt.Sprintf("01930000-0001-7000-8000-%012d", n) }
func apiKeyID(n int) string     { return fmt.Sprintf("01930000-0002-7000-8000-%012d", n) }
func signingKeyID(n int) string { return fmt.Sprintf("01930000-0003-7000-8000-%012d", n) }

// hashOf is a deterministic SHA-256 of a fixture name.
func hashOf(parts ...string) []byte {
	h := sha256.Sum256([]byte(strings.Join(parts, "/")))
	return h[:]
}

// awkwardHash is a SHA-256-sized value with NUL, high and ASCII bytes.
func awkwardHash(b byte) []byte {
	h := bytes.Repeat([]byte{0x00, 0xff, 0x80, 0x7f, '\'', '\\', 0x01, b}, 4)
	return h
}

// westZone is a location behind UTC; fixedZone (documents.go) is ahead.
func westZone() *time.Location { return time.FixedZone("UTC-8", -8*3600) }

const fixturePasswordHash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo"

func newAccount(n int) accounts.Account {
	return accounts.Account{
		ID: accountID(n), Email: fmt.Sprintf("user%d@example.com", n), PasswordHash: fixturePasswordHash,
		Roles: []string{"member"}, CreatedAt: at(n), UpdatedAt: at(n),
	}
}

// newSession returns session n of account accountN, created at minute
// created and expiring thirty days later.
func newSession(n, accountN, created int) accounts.Session {
	return accounts.Session{
		ID: sessionID(n), AccountID: accountID(accountN), Device: fmt.Sprintf("device %d", n),
		UserAgent: "Basalt-Test/1.0 (Linux; x86_64)", IP: "203.0.113.7",
		CreatedAt: at(created), LastUsedAt: at(created), ExpiresAt: at(created).Add(30 * 24 * time.Hour),
	}
}

// newRefreshToken returns generation gen of session n's chain.
func newRefreshToken(n int, gen int64, created int) accounts.RefreshToken {
	return accounts.RefreshToken{Hash: hashOf("refresh", sessionID(n), fmt.Sprint(gen)), SessionID: sessionID(n),
		Generation: gen, CreatedAt: at(created)}
}

func newOneTimeToken(name, purpose string, accountN, created, expires int) accounts.OneTimeToken {
	return accounts.OneTimeToken{Hash: hashOf("one-time", name), Purpose: purpose, AccountID: accountID(accountN),
		CreatedAt: at(created), ExpiresAt: at(expires)}
}

func newAPIKey(n int) accounts.APIKey {
	return accounts.APIKey{
		ID: apiKeyID(n), Name: fmt.Sprintf("service %d", n), Prefix: fmt.Sprintf("bsk_%04d", n),
		Hash: hashOf("api-key", fmt.Sprint(n)), Roles: []string{"service"}, Scopes: []string{"documents:read"},
		CreatedAt: at(n),
	}
}

func newSigningKey(n, created int) accounts.SigningKey {
	seed := sha256.Sum256(fmt.Appendf(nil, "signing key %d", n))
	return accounts.SigningKey{ID: signingKeyID(n), Private: ed25519.NewKeyFromSeed(seed[:]), CreatedAt: at(created)}
}

func insertAccounts(t *testing.T, a accounts.Store, as ...accounts.Account) {
	t.Helper()
	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		for _, acc := range as {
			if err := tx.InsertAccount(ctx, acc); err != nil {
				return fmt.Errorf("InsertAccount %s: %w", acc.ID, err)
			}
		}
		return nil
	})
}

func insertSessions(t *testing.T, a accounts.Store, ss ...accounts.Session) {
	t.Helper()
	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		for _, s := range ss {
			if err := tx.InsertSession(ctx, s); err != nil {
				return fmt.Errorf("InsertSession %s: %w", s.ID, err)
			}
		}
		return nil
	})
}

func insertRefreshTokens(t *testing.T, a accounts.Store, rs ...accounts.RefreshToken) {
	t.Helper()
	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		for _, r := range rs {
			if err := tx.InsertRefreshToken(ctx, r); err != nil {
				return fmt.Errorf("InsertRefreshToken %s/%d: %w", r.SessionID, r.Generation, err)
			}
		}
		return nil
	})
}

func insertOneTimeTokens(t *testing.T, a accounts.Store, ts ...accounts.OneTimeToken) {
	t.Helper()
	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		for _, o := range ts {
			if err := tx.InsertOneTimeToken(ctx, o); err != nil {
				return fmt.Errorf("InsertOneTimeToken %x: %w", o.Hash, err)
			}
		}
		return nil
	})
}

func insertAPIKeys(t *testing.T, a accounts.Store, ks ...accounts.APIKey) {
	t.Helper()
	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		for _, k := range ks {
			if err := tx.InsertAPIKey(ctx, k); err != nil {
				return fmt.Errorf("InsertAPIKey %s: %w", k.ID, err)
			}
		}
		return nil
	})
}

func insertSigningKeys(t *testing.T, a accounts.Store, ks ...accounts.SigningKey) {
	t.Helper()
	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		for _, k := range ks {
			if err := tx.InsertSigningKey(ctx, k); err != nil {
				return fmt.Errorf("InsertSigningKey %s: %w", k.ID, err)
			}
		}
		return nil
	})
}

func appendRevocations(t *testing.T, a accounts.Store, rs ...accounts.Revocation) {
	t.Helper()
	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		for _, r := range rs {
			if err := tx.AppendRevocation(ctx, r); err != nil {
				return fmt.Errorf("AppendRevocation %s: %w", r.ID, err)
			}
		}
		return nil
	})
}

// differ collects the fields in which a record differs from the expected
// one.
type differ struct{ diffs []string }

func (d *differ) str(name, got, want string) {
	if got != want {
		d.diffs = append(d.diffs, fmt.Sprintf("%s = %q, want %q", name, got, want))
	}
}

func (d *differ) num(name string, got, want int64) {
	if got != want {
		d.diffs = append(d.diffs, fmt.Sprintf("%s = %d, want %d", name, got, want))
	}
}

func (d *differ) blob(name string, got, want []byte) {
	if !bytes.Equal(got, want) {
		d.diffs = append(d.diffs, fmt.Sprintf("%s = %x, want %x", name, got, want))
	}
}

func (d *differ) list(name string, got, want []string) {
	if !slices.Equal(got, want) {
		d.diffs = append(d.diffs, fmt.Sprintf("%s = %q, want %q", name, got, want))
	}
}

// when wants the same instant in UTC, or a zero time when want is zero.
func (d *differ) when(name string, got, want time.Time) {
	switch {
	case want.IsZero() && !got.IsZero():
		d.diffs = append(d.diffs, fmt.Sprintf("%s = %v, want the zero time", name, got))
	case !want.IsZero() && (!got.Equal(want) || got.Location() != time.UTC):
		d.diffs = append(d.diffs, fmt.Sprintf("%s = %v, want %v in UTC", name, got, want.UTC()))
	}
}

func (d *differ) String() string { return strings.Join(d.diffs, "; ") }

func diffAccount(got, want accounts.Account) string {
	var d differ
	d.str("ID", got.ID, want.ID)
	d.str("Email", got.Email, want.Email)
	d.str("PasswordHash", got.PasswordHash, want.PasswordHash)
	d.list("Roles", got.Roles, want.Roles)
	d.when("VerifiedAt", got.VerifiedAt, want.VerifiedAt)
	d.when("DisabledAt", got.DisabledAt, want.DisabledAt)
	d.when("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.when("UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	return d.String()
}

func diffSession(got, want accounts.Session) string {
	var d differ
	d.str("ID", got.ID, want.ID)
	d.str("AccountID", got.AccountID, want.AccountID)
	d.str("Device", got.Device, want.Device)
	d.str("UserAgent", got.UserAgent, want.UserAgent)
	d.str("IP", got.IP, want.IP)
	d.when("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.when("LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	d.when("ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	d.when("RevokedAt", got.RevokedAt, want.RevokedAt)
	d.str("RevokeReason", got.RevokeReason, want.RevokeReason)
	return d.String()
}

func diffRefreshToken(got, want accounts.RefreshToken) string {
	var d differ
	d.blob("Hash", got.Hash, want.Hash)
	d.str("SessionID", got.SessionID, want.SessionID)
	d.num("Generation", got.Generation, want.Generation)
	d.when("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.when("UsedAt", got.UsedAt, want.UsedAt)
	return d.String()
}

func diffOneTimeToken(got, want accounts.OneTimeToken) string {
	var d differ
	d.blob("Hash", got.Hash, want.Hash)
	d.str("Purpose", got.Purpose, want.Purpose)
	d.str("AccountID", got.AccountID, want.AccountID)
	d.str("Email", got.Email, want.Email)
	d.list("Roles", got.Roles, want.Roles)
	d.when("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.when("ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	return d.String()
}

func diffAPIKey(got, want accounts.APIKey) string {
	var d differ
	d.str("ID", got.ID, want.ID)
	d.str("Name", got.Name, want.Name)
	d.str("Prefix", got.Prefix, want.Prefix)
	d.blob("Hash", got.Hash, want.Hash)
	d.list("Roles", got.Roles, want.Roles)
	d.list("Scopes", got.Scopes, want.Scopes)
	d.str("CreatedBy", got.CreatedBy, want.CreatedBy)
	d.str("CreatedByKey", got.CreatedByKey, want.CreatedByKey)
	d.when("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.when("ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	d.when("LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	d.when("RevokedAt", got.RevokedAt, want.RevokedAt)
	return d.String()
}

func diffSigningKey(got, want accounts.SigningKey) string {
	var d differ
	d.str("ID", got.ID, want.ID)
	d.blob("Private", got.Private, want.Private)
	d.when("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.when("NotAfter", got.NotAfter, want.NotAfter)
	return d.String()
}

func diffRevocation(got, want accounts.Revocation) string {
	var d differ
	d.str("ID", got.ID, want.ID)
	d.when("RevokedAt", got.RevokedAt, want.RevokedAt)
	return d.String()
}

// same fails the test when diff reports a difference.
func same(t *testing.T, what, diff string) {
	t.Helper()
	if diff != "" {
		t.Fatalf("%s: %s", what, diff)
	}
}

// mismatch is same for code inside a transaction, which must not call
// t.Fatal: it returns the difference as an error.
func mismatch(what, diff string) error {
	if diff != "" {
		return fmt.Errorf("%s: %s", what, diff)
	}
	return nil
}

// sameList fails the test unless got has the records of want, in order.
func sameList[T any](t *testing.T, what string, got, want []T, diff func(got, want T) string) {
	t.Helper()
	if err := listMismatch(what, got, want, diff); err != nil {
		t.Fatal(err)
	}
}

func listMismatch[T any](what string, got, want []T, diff func(got, want T) string) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s returned %d records, want %d:\n got %+v\nwant %+v", what, len(got), len(want), got, want)
	}
	for i := range want {
		if d := diff(got[i], want[i]); d != "" {
			return fmt.Errorf("%s[%d]: %s\n got %+v\nwant %+v", what, i, d, got, want)
		}
	}
	return nil
}
