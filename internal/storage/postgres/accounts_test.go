package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/fault"
)

// authAt is a fixture time plus minutes, with nanoseconds and outside UTC,
// to check that timestamps come back truncated to microseconds, in UTC.
func authAt(minutes int) time.Time {
	return time.Date(2026, 11, 26, 12, minutes, 0, 123456789, time.FixedZone("X", 5*3600+1800))
}

func sha(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func mustAuthWrite(t *testing.T, s *Store, fn func(ctx context.Context, tx accounts.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := s.AuthWrite(ctx, func(tx accounts.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("AuthWrite: %v", err)
	}
}

func authWrite(s *Store, fn func(ctx context.Context, tx accounts.Tx) error) error {
	ctx := context.Background()
	return s.AuthWrite(ctx, func(tx accounts.Tx) error { return fn(ctx, tx) })
}

func testAccount(id string) accounts.Account {
	return accounts.Account{ID: id, Email: id + "@example.com", PasswordHash: "$argon2id$x", Roles: []string{"user"},
		CreatedAt: authAt(0), UpdatedAt: authAt(0)}
}

func testSession(id, accountID string) accounts.Session {
	return accounts.Session{ID: id, AccountID: accountID, Device: "0", UserAgent: "ua", IP: "192.0.2.1",
		CreatedAt: authAt(0), LastUsedAt: authAt(0), ExpiresAt: authAt(60)}
}

func wantAuthKind(t *testing.T, what string, err error, kind fault.Kind) {
	t.Helper()
	if !fault.Is(err, kind) {
		t.Errorf("%s: %v (kind %q), want kind %q", what, err, fault.KindOf(err), kind)
	}
}

func sameUTC(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	want = want.Truncate(time.Microsecond)
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("%s = %v, want %v in UTC", what, got, want.UTC())
	}
}

// TestAuthRoundTrip writes every kind of row with every field set, reads
// it back, and checks that zero times are stored as NULL and come back
// zero.
func TestAuthRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	a := testAccount("a1")
	a.Roles, a.VerifiedAt, a.DisabledAt, a.UpdatedAt = []string{"admin", "user"}, authAt(1), authAt(2), authAt(3)
	bare := testAccount("a2")
	bare.Roles = nil
	sess := testSession("s1", "a1")
	sess.RevokedAt, sess.RevokeReason = authAt(4), "logout"
	rt := accounts.RefreshToken{Hash: sha("r1"), SessionID: "s1", Generation: 3, CreatedAt: authAt(5), UsedAt: authAt(6)}
	key := accounts.APIKey{ID: "k1", Name: "ci", Prefix: "bsk_ab", Hash: sha("k1"), Roles: []string{"svc"},
		Scopes: []string{"docs:read", "docs:write"}, CreatedBy: "a1", CreatedAt: authAt(7), ExpiresAt: authAt(8),
		LastUsedAt: authAt(9), RevokedAt: authAt(10)}
	sk := accounts.SigningKey{ID: "kid1", Private: bytes.Repeat([]byte{7}, 64), CreatedAt: authAt(11), NotAfter: authAt(12)}
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		return errors.Join(tx.InsertAccount(ctx, a), tx.InsertAccount(ctx, bare), tx.InsertSession(ctx, sess),
			tx.InsertRefreshToken(ctx, rt), tx.InsertAPIKey(ctx, key), tx.InsertSigningKey(ctx, sk),
			tx.InsertOneTimeToken(ctx, accounts.OneTimeToken{Hash: sha("o1"), Purpose: accounts.PurposeVerifyEmail,
				AccountID: "a1", CreatedAt: authAt(13), ExpiresAt: authAt(14)}),
			tx.AppendRevocation(ctx, accounts.Revocation{ID: "s1", RevokedAt: authAt(4)}))
	})

	got, err := s.AccountByEmail(ctx, "a1@example.com")
	if err != nil || got.ID != "a1" || got.PasswordHash != a.PasswordHash || fmt.Sprint(got.Roles) != "[admin user]" {
		t.Fatalf("AccountByEmail = %+v, %v", got, err)
	}
	sameUTC(t, "VerifiedAt", got.VerifiedAt, a.VerifiedAt)
	sameUTC(t, "DisabledAt", got.DisabledAt, a.DisabledAt)
	sameUTC(t, "CreatedAt", got.CreatedAt, a.CreatedAt)
	sameUTC(t, "UpdatedAt", got.UpdatedAt, a.UpdatedAt)
	got, err = s.AccountByID(ctx, "a2")
	if err != nil || len(got.Roles) != 0 || !got.VerifiedAt.IsZero() || !got.DisabledAt.IsZero() {
		t.Fatalf("AccountByID(a2) = %+v, %v", got, err)
	}

	gs, err := s.SessionByID(ctx, "s1")
	if err != nil || gs.AccountID != "a1" || gs.Device != "0" || gs.UserAgent != "ua" || gs.IP != "192.0.2.1" ||
		gs.RevokeReason != "logout" {
		t.Fatalf("SessionByID = %+v, %v", gs, err)
	}
	sameUTC(t, "Session.LastUsedAt", gs.LastUsedAt, sess.LastUsedAt)
	sameUTC(t, "Session.ExpiresAt", gs.ExpiresAt, sess.ExpiresAt)
	sameUTC(t, "Session.RevokedAt", gs.RevokedAt, sess.RevokedAt)

	gk, err := s.APIKeyByHash(ctx, sha("k1"))
	if err != nil || gk.ID != "k1" || gk.Name != "ci" || gk.Prefix != "bsk_ab" || !bytes.Equal(gk.Hash, key.Hash) ||
		fmt.Sprint(gk.Roles, gk.Scopes) != "[svc] [docs:read docs:write]" || gk.CreatedBy != "a1" {
		t.Fatalf("APIKeyByHash = %+v, %v", gk, err)
	}
	sameUTC(t, "APIKey.ExpiresAt", gk.ExpiresAt, key.ExpiresAt)
	sameUTC(t, "APIKey.LastUsedAt", gk.LastUsedAt, key.LastUsedAt)
	sameUTC(t, "APIKey.RevokedAt", gk.RevokedAt, key.RevokedAt)

	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 1 || !bytes.Equal(keys[0].Private, sk.Private) {
		t.Fatalf("SigningKeys = %+v, %v", keys, err)
	}
	sameUTC(t, "SigningKey.NotAfter", keys[0].NotAfter, sk.NotAfter)

	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		r, err := tx.LatestRefreshToken(ctx, "s1")
		if err != nil {
			return err
		}
		if !bytes.Equal(r.Hash, rt.Hash) || r.Generation != 3 || r.SessionID != "s1" {
			t.Errorf("LatestRefreshToken = %+v", r)
		}
		sameUTC(t, "RefreshToken.UsedAt", r.UsedAt, rt.UsedAt)
		o, err := tx.TakeOneTimeToken(ctx, sha("o1"), accounts.PurposeVerifyEmail)
		if err != nil {
			return err
		}
		sameUTC(t, "OneTimeToken.ExpiresAt", o.ExpiresAt, authAt(14))
		return nil
	})

	// Zero times are NULL in the database and zero when read.
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		a.VerifiedAt, a.DisabledAt = time.Time{}, time.Time{}
		sess.RevokedAt, sess.LastUsedAt = time.Time{}, time.Time{}
		key.ExpiresAt, key.LastUsedAt, key.RevokedAt = time.Time{}, time.Time{}, time.Time{}
		sk.NotAfter = time.Time{}
		return errors.Join(tx.UpdateAccount(ctx, a), tx.UpdateSession(ctx, sess), tx.UpdateAPIKey(ctx, key),
			tx.UpdateSigningKey(ctx, sk), tx.MarkRefreshTokenUsed(ctx, rt.Hash, time.Time{}))
	})
	var nonNull int
	err = s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM accounts WHERE verified_at IS NOT NULL OR disabled_at IS NOT NULL) +
		(SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL OR last_used_at IS NOT NULL) +
		(SELECT count(*) FROM api_keys WHERE expires_at IS NOT NULL OR last_used_at IS NOT NULL OR revoked_at IS NOT NULL) +
		(SELECT count(*) FROM signing_keys WHERE not_after IS NOT NULL) +
		(SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL)`).Scan(&nonNull)
	if err != nil || nonNull != 0 {
		t.Fatalf("rows with a zero time stored as non-NULL: %d, %v", nonNull, err)
	}
	got, err = s.AccountByID(ctx, "a1")
	if err != nil || !got.VerifiedAt.IsZero() || !got.DisabledAt.IsZero() {
		t.Fatalf("AccountByID after clearing times = %+v, %v", got, err)
	}
	gs, err = s.SessionByID(ctx, "s1")
	if err != nil || !gs.RevokedAt.IsZero() || !gs.LastUsedAt.IsZero() {
		t.Fatalf("SessionByID after clearing times = %+v, %v", gs, err)
	}
}

// TestAuthConflictKeepsTransaction checks that expected conflicts fail
// the call without aborting the PostgreSQL transaction: the transaction
// goes on and commits.
func TestAuthConflictKeepsTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	key := func(id string) accounts.APIKey {
		return accounts.APIKey{ID: id, Name: id, Hash: sha(id), CreatedAt: authAt(0)}
	}
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		return errors.Join(tx.InsertAccount(ctx, testAccount("a1")), tx.InsertAccount(ctx, testAccount("a2")),
			tx.InsertAPIKey(ctx, key("k1")), tx.InsertAPIKey(ctx, key("k2")))
	})
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		dupEmail := testAccount("a3")
		dupEmail.Email = "a1@example.com"
		wantAuthKind(t, "InsertAccount with a taken email", tx.InsertAccount(ctx, dupEmail), fault.Conflict)
		wantAuthKind(t, "InsertAccount with a taken ID", tx.InsertAccount(ctx, testAccount("a1")), fault.Conflict)
		moved := testAccount("a2")
		moved.Email = "a1@example.com"
		wantAuthKind(t, "UpdateAccount to a taken email", tx.UpdateAccount(ctx, moved), fault.Conflict)
		wantAuthKind(t, "UpdateAccount of a missing account", tx.UpdateAccount(ctx, testAccount("zz")), fault.NotFound)
		k2 := key("k2")
		k2.Hash = sha("k1")
		wantAuthKind(t, "UpdateAPIKey to a taken hash", tx.UpdateAPIKey(ctx, k2), fault.Conflict)
		wantAuthKind(t, "UpdateAPIKey of a missing key", tx.UpdateAPIKey(ctx, key("zz")), fault.NotFound)
		wantAuthKind(t, "InsertAPIKey with a taken hash", tx.InsertAPIKey(ctx, accounts.APIKey{ID: "k3", Hash: sha("k1")}),
			fault.Conflict)
		return tx.InsertAccount(ctx, testAccount("a4"))
	})
	if _, err := s.AccountByID(ctx, "a4"); err != nil {
		t.Fatalf("the transaction did not commit after conflicts: %v", err)
	}
	if a, err := s.AccountByID(ctx, "a2"); err != nil || a.Email != "a2@example.com" {
		t.Fatalf("a refused UpdateAccount changed the row: %+v, %v", a, err)
	}
}

// TestAuthErrors checks the kinds of errors that come from PostgreSQL:
// references to missing rows, values it cannot store, bad limits, a closed
// store.
func TestAuthErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		return tx.InsertAccount(ctx, testAccount("a1"))
	})
	for name, fn := range map[string]func(ctx context.Context, tx accounts.Tx) error{
		"InsertSession of a missing account": func(ctx context.Context, tx accounts.Tx) error {
			return tx.InsertSession(ctx, testSession("s1", "nobody"))
		},
		"InsertRefreshToken of a missing session": func(ctx context.Context, tx accounts.Tx) error {
			return tx.InsertRefreshToken(ctx, accounts.RefreshToken{Hash: sha("r"), SessionID: "none", Generation: 1})
		},
		"InsertOneTimeToken of a missing account": func(ctx context.Context, tx accounts.Tx) error {
			return tx.InsertOneTimeToken(ctx, accounts.OneTimeToken{Hash: sha("o"), Purpose: "p", AccountID: "nobody"})
		},
	} {
		wantAuthKind(t, name, authWrite(s, fn), fault.NotFound)
	}
	nul := testSession("s1", "a1")
	nul.Device = "x\x00y"
	err := authWrite(s, func(ctx context.Context, tx accounts.Tx) error { return tx.InsertSession(ctx, nul) })
	wantAuthKind(t, "InsertSession with a NUL character", err, fault.Invalid)
	bad := testAccount("a9")
	bad.Email = "\xff@example.com"
	err = authWrite(s, func(ctx context.Context, tx accounts.Tx) error { return tx.InsertAccount(ctx, bad) })
	wantAuthKind(t, "InsertAccount with invalid UTF-8", err, fault.Invalid)

	if list, err := s.ListAccounts(ctx, accounts.AccountQuery{After: "", Limit: 0}); err != nil || len(list) != 0 {
		t.Errorf("ListAccounts with limit 0 = %v, %v; want none", list, err)
	}
	_, err = s.ListAccounts(ctx, accounts.AccountQuery{After: "", Limit: -1})
	wantAuthKind(t, "ListAccounts with a negative limit", err, fault.Invalid)

	_ = s.Close()
	_, err = s.AccountByID(ctx, "a1")
	wantAuthKind(t, "AccountByID on a closed store", err, fault.Unavailable)
	err = authWrite(s, func(context.Context, accounts.Tx) error { return nil })
	wantAuthKind(t, "AuthWrite on a closed store", err, fault.Unavailable)
	_, err = s.PurgeAuth(ctx, authAt(0))
	wantAuthKind(t, "PurgeAuth on a closed store", err, fault.Unavailable)
}

// TestAuthWriteTransactions checks that AuthWrite has Write's
// transaction handling: rollback on error and on panic, retry after a
// serialization failure.
func TestAuthWriteTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	errBoom := errors.New("boom")
	err := authWrite(s, func(ctx context.Context, tx accounts.Tx) error {
		if err := tx.InsertAccount(ctx, testAccount("a1")); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("AuthWrite = %v, want the function's error", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not reach the caller")
			}
		}()
		_ = authWrite(s, func(ctx context.Context, tx accounts.Tx) error {
			if err := tx.InsertAccount(ctx, testAccount("a2")); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	for _, id := range []string{"a1", "a2"} {
		_, err := s.AccountByID(ctx, id)
		wantAuthKind(t, "AccountByID of a rolled back insert "+id, err, fault.NotFound)
	}

	calls := 0
	err = authWrite(s, func(ctx context.Context, tx accounts.Tx) error {
		calls++
		if err := tx.InsertAccount(ctx, testAccount("a3")); err != nil {
			return err
		}
		if calls == 1 {
			return mapErr("test", &pgconn.PgError{Code: codeSerializationFailure})
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("AuthWrite = %v after %d calls, want success after 2", err, calls)
	}
	if _, err := s.AccountByID(ctx, "a3"); err != nil {
		t.Fatalf("AccountByID after a retried write: %v", err)
	}
	wantAuthKind(t, "AuthWrite(nil)", s.AuthWrite(ctx, nil), fault.Invalid)
}

// waitsForLock runs first in one transaction and, while that one is
// open, second in another, and checks that second does not return before
// the first transaction ends: it must wait for a lock (seen in
// pg_stat_activity), after which the first transaction commits. It
// returns what second returned.
func waitsForLock[T any](t *testing.T, s *Store, first func(context.Context, accounts.Tx) error,
	second func(context.Context, accounts.Tx) (T, error)) T {
	t.Helper()
	ctx := context.Background()
	locked, release, secondDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	closeLocked, closeSecondDone := sync.OnceFunc(func() { close(locked) }), sync.OnceFunc(func() { close(secondDone) })
	firstErr, secondErr := make(chan error, 1), make(chan error, 1)
	var got T
	go func() {
		firstErr <- authWrite(s, func(ctx context.Context, tx accounts.Tx) error {
			if err := first(ctx, tx); err != nil {
				return err
			}
			closeLocked()
			<-release
			return nil
		})
	}()
	select {
	case <-locked:
	case err := <-firstErr:
		t.Fatalf("first transaction: %v", err)
	}
	go func() {
		secondErr <- authWrite(s, func(ctx context.Context, tx accounts.Tx) error {
			v, err := second(ctx, tx)
			got = v
			closeSecondDone()
			return err
		})
	}()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
wait:
	for {
		var waiting int
		err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND backend_type = 'client backend' AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			close(release)
			t.Fatal(err)
		}
		select {
		case <-secondDone:
			t.Error("the second transaction did not wait for the first one's lock")
			break wait
		default:
		}
		if waiting > 0 {
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Error("the second transaction never waited for a lock")
			break wait
		}
	}
	close(release)
	if err := <-firstErr; err != nil {
		t.Fatalf("first transaction: %v", err)
	}
	if err := <-secondErr; err != nil {
		t.Fatalf("second transaction: %v", err)
	}
	return got
}

// TestAuthTxReadsLock checks that the single-row reads of a Tx lock their
// row, so that a second transaction reading it waits, then sees what the
// first one committed; and that Tx.SigningKeys serializes rotations
// without holding up Store.SigningKeys.
func TestAuthTxReadsLock(t *testing.T) {
	t.Parallel()
	s := open(t, Options{})
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		return errors.Join(tx.InsertAccount(ctx, testAccount("a1")), tx.InsertSession(ctx, testSession("s1", "a1")),
			tx.InsertRefreshToken(ctx, accounts.RefreshToken{Hash: sha("r1"), SessionID: "s1", Generation: 1}),
			tx.InsertAPIKey(ctx, accounts.APIKey{ID: "k1", Hash: sha("k1")}),
			tx.InsertSigningKey(ctx, accounts.SigningKey{ID: "kid1", CreatedAt: authAt(0)}))
	})

	t.Run("GetSession", func(t *testing.T) {
		got := waitsForLock(t, s, func(ctx context.Context, tx accounts.Tx) error {
			ss, err := tx.GetSession(ctx, "s1")
			if err != nil {
				return err
			}
			ss.Device = "first"
			return tx.UpdateSession(ctx, ss)
		}, func(ctx context.Context, tx accounts.Tx) (string, error) {
			ss, err := tx.GetSession(ctx, "s1")
			return ss.Device, err
		})
		if got != "first" {
			t.Errorf("the second GetSession read Device %q, want what the first transaction committed", got)
		}
	})
	t.Run("GetRefreshToken", func(t *testing.T) {
		got := waitsForLock(t, s, func(ctx context.Context, tx accounts.Tx) error {
			if _, err := tx.GetRefreshToken(ctx, sha("r1")); err != nil {
				return err
			}
			return tx.MarkRefreshTokenUsed(ctx, sha("r1"), authAt(1))
		}, func(ctx context.Context, tx accounts.Tx) (time.Time, error) {
			r, err := tx.GetRefreshToken(ctx, sha("r1"))
			return r.UsedAt, err
		})
		sameUTC(t, "UsedAt seen by the second transaction", got, authAt(1))
	})
	t.Run("GetAccount", func(t *testing.T) {
		got := waitsForLock(t, s, func(ctx context.Context, tx accounts.Tx) error {
			a, err := tx.GetAccountByEmail(ctx, "a1@example.com")
			if err != nil {
				return err
			}
			a.PasswordHash = "first"
			return tx.UpdateAccount(ctx, a)
		}, func(ctx context.Context, tx accounts.Tx) (string, error) {
			a, err := tx.GetAccount(ctx, "a1")
			return a.PasswordHash, err
		})
		if got != "first" {
			t.Errorf("the second GetAccount read %q, want what the first transaction committed", got)
		}
	})
	t.Run("GetAPIKey", func(t *testing.T) {
		got := waitsForLock(t, s, func(ctx context.Context, tx accounts.Tx) error {
			k, err := tx.GetAPIKey(ctx, "k1")
			if err != nil {
				return err
			}
			k.LastUsedAt = authAt(2)
			return tx.UpdateAPIKey(ctx, k)
		}, func(ctx context.Context, tx accounts.Tx) (time.Time, error) {
			k, err := tx.GetAPIKey(ctx, "k1")
			return k.LastUsedAt, err
		})
		sameUTC(t, "LastUsedAt seen by the second transaction", got, authAt(2))
	})
	t.Run("SigningKeys", func(t *testing.T) {
		got := waitsForLock(t, s, func(ctx context.Context, tx accounts.Tx) error {
			if _, err := tx.SigningKeys(ctx); err != nil {
				return err
			}
			if err := tx.InsertSigningKey(ctx, accounts.SigningKey{ID: "kid2", CreatedAt: authAt(1)}); err != nil {
				return err
			}
			// Readers outside transactions are not held up.
			keys, err := s.SigningKeys(ctx)
			if err != nil || len(keys) != 1 {
				return fmt.Errorf("Store.SigningKeys during a rotation = %v, %w", keys, err)
			}
			return nil
		}, func(ctx context.Context, tx accounts.Tx) (int, error) {
			keys, err := tx.SigningKeys(ctx)
			return len(keys), err
		})
		if got != 2 {
			t.Errorf("the second Tx.SigningKeys read %d keys, want 2", got)
		}
	})
}

// TestAuthConcurrentSessionUpdates runs many transactions that each read
// a session and write back a counter kept in Device: with GetSession
// locking the row, no increment is lost.
func TestAuthConcurrentSessionUpdates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{MaxConns: 8})
	mustAuthWrite(t, s, func(ctx context.Context, tx accounts.Tx) error {
		return errors.Join(tx.InsertAccount(ctx, testAccount("a1")), tx.InsertSession(ctx, testSession("s1", "a1")))
	})
	const workers, rounds = 8, 10
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for range rounds {
				err := authWrite(s, func(ctx context.Context, tx accounts.Tx) error {
					ss, err := tx.GetSession(ctx, "s1")
					if err != nil {
						return err
					}
					n, err := strconv.Atoi(ss.Device)
					if err != nil {
						return err
					}
					ss.Device = strconv.Itoa(n + 1)
					return tx.UpdateSession(ctx, ss)
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatalf("AuthWrite: %v", err)
		}
	}
	ss, err := s.SessionByID(ctx, "s1")
	if err != nil || ss.Device != strconv.Itoa(workers*rounds) {
		t.Fatalf("counter = %q, %v; want %d", ss.Device, err, workers*rounds)
	}
}

// TestPurgeAuthBatches purges more rows than one batch holds and checks
// what is left and the count, which includes the refresh tokens deleted
// with their sessions. Rows whose time equals the cut-off stay.
func TestPurgeAuthBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Options{})
	cut := authAt(30)
	n := purgeBatch + purgeBatch/2
	// Sessions: i%3 != 0 expired; i%6 == 0 live but revoked before cut;
	// i%3 == 0 and i%5 == 0 (odd) revoked after cut. Two refresh tokens
	// each. One-time tokens and revocations: time cut + (i - n/2) units.
	for _, stmt := range []string{
		`INSERT INTO accounts (id, email, password_hash, roles, created_at, updated_at)
		VALUES ('a1', 'a1@example.com', '', '{}', $1, $1)`,
		`INSERT INTO sessions (id, account_id, device, user_agent, ip, created_at, expires_at, revoked_at, revoke_reason)
		SELECT 's' || i, 'a1', '', '', '', $1::timestamptz,
		       CASE WHEN i % 3 = 0 THEN $1::timestamptz + interval '1 hour' ELSE $1::timestamptz - interval '1 minute' END,
		       CASE WHEN i % 6 = 0 THEN $1::timestamptz - interval '1 microsecond'
		            WHEN i % 3 = 0 AND i % 5 = 0 THEN $1::timestamptz + interval '1 second' END, ''
		FROM generate_series(1, $2::int) AS i`,
		`INSERT INTO refresh_tokens (hash, session_id, generation, created_at)
		SELECT sha256(('r' || i || '.' || g)::bytea), 's' || i, g, $1::timestamptz
		FROM generate_series(1, $2::int) AS i, generate_series(1, 2) AS g`,
		`INSERT INTO one_time_tokens (hash, purpose, account_id, created_at, expires_at)
		SELECT sha256(('o' || i)::bytea), 'p', 'a1', $1::timestamptz, $1::timestamptz + (i - $2::int / 2) * interval '1 second'
		FROM generate_series(1, $2::int) AS i`,
		`INSERT INTO revocations (id, revoked_at)
		SELECT 's' || i, $1::timestamptz + (i - $2::int / 2) * interval '1 microsecond' FROM generate_series(1, $2::int) AS i`,
		`INSERT INTO signing_keys (id, private_key, created_at, not_after) VALUES
		('old', '', $1::timestamptz, $1::timestamptz - interval '1 microsecond'), ('edge', '', $1::timestamptz, $1::timestamptz), ('current', '', $1::timestamptz, NULL)`,
	} {
		args := []any{cut}
		if strings.Contains(stmt, "$2") {
			args = append(args, n)
		}
		if _, err := s.pool.Exec(ctx, stmt, args...); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	sessions := 0
	for i := 1; i <= n; i++ {
		if i%3 != 0 || i%6 == 0 {
			sessions++
		}
	}
	timed := n/2 - 1 // one-time tokens and revocations with i < n/2
	want := sessions + 2*sessions + timed + timed + 1
	got, err := s.PurgeAuth(ctx, cut)
	if err != nil || got != int64(want) {
		t.Fatalf("PurgeAuth = %d, %v; want %d", got, err, want)
	}
	var left [5]int
	err = s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM refresh_tokens),
		(SELECT count(*) FROM one_time_tokens), (SELECT count(*) FROM revocations),
		(SELECT count(*) FROM signing_keys WHERE id IN ('edge', 'current'))`).
		Scan(&left[0], &left[1], &left[2], &left[3], &left[4])
	if err != nil {
		t.Fatal(err)
	}
	if wantLeft := [5]int{n - sessions, 2 * (n - sessions), n - timed, n - timed, 2}; left != wantLeft {
		t.Fatalf("rows left (sessions, refresh tokens, one-time tokens, revocations, signing keys) = %v, want %v",
			left, wantLeft)
	}
	var purgeable int
	err = s.pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE expires_at < $1 OR revoked_at < $1`, cut).
		Scan(&purgeable)
	if err != nil || purgeable != 0 {
		t.Fatalf("%d purgeable sessions left, %v", purgeable, err)
	}
	if got, err := s.PurgeAuth(ctx, cut); err != nil || got != 0 {
		t.Fatalf("second PurgeAuth = %d, %v; want 0", got, err)
	}
}
