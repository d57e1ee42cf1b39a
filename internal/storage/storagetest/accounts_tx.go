package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// authFixture is what the atomicity cases write: one record of every kind,
// plus an update of the committed account 2.
type authFixture struct {
	account    accounts.Account
	session    accounts.Session
	token      accounts.RefreshToken
	oneTime    accounts.OneTimeToken
	apiKey     accounts.APIKey
	signingKey accounts.SigningKey
	revocation accounts.Revocation
	before     accounts.Account // account 2 as committed
	after      accounts.Account // account 2 as the transaction updates it
	prior      accounts.OneTimeToken
	priorToken accounts.RefreshToken // committed, unused
}

func newAuthFixture() authFixture {
	f := authFixture{
		account: newAccount(1), session: newSession(1, 1, 1), token: newRefreshToken(1, 1, 1),
		oneTime: newOneTimeToken("tx", accounts.PurposeVerifyEmail, 1, 1, 60), apiKey: newAPIKey(1),
		signingKey: newSigningKey(1, 1), revocation: accounts.Revocation{ID: sessionID(1), RevokedAt: at(1)},
		before: newAccount(2), prior: newOneTimeToken("prior", accounts.PurposeResetPassword, 2, 1, 60),
		priorToken: newRefreshToken(2, 1, 1),
	}
	f.after = f.before
	f.after.Email, f.after.Roles, f.after.VerifiedAt = "changed@example.com", []string{"admin"}, at(2)
	return f
}

// commitPrior commits what the failed transactions then change.
func (f authFixture) commitPrior(t *testing.T, a accounts.Store) {
	t.Helper()
	insertAccounts(t, a, f.before)
	insertSessions(t, a, newSession(2, 2, 1))
	insertRefreshTokens(t, a, f.priorToken)
	insertOneTimeTokens(t, a, f.prior)
}

// write inserts one record of every kind and changes the committed ones.
func (f authFixture) write(ctx context.Context, tx accounts.Tx) error {
	steps := []struct {
		name string
		do   func() error
	}{
		{"InsertAccount", func() error { return tx.InsertAccount(ctx, f.account) }},
		{"InsertSession", func() error { return tx.InsertSession(ctx, f.session) }},
		{"InsertRefreshToken", func() error { return tx.InsertRefreshToken(ctx, f.token) }},
		{"InsertOneTimeToken", func() error { return tx.InsertOneTimeToken(ctx, f.oneTime) }},
		{"InsertAPIKey", func() error { return tx.InsertAPIKey(ctx, f.apiKey) }},
		{"InsertSigningKey", func() error { return tx.InsertSigningKey(ctx, f.signingKey) }},
		{"AppendRevocation", func() error { return tx.AppendRevocation(ctx, f.revocation) }},
		{"UpdateAccount", func() error { return tx.UpdateAccount(ctx, f.after) }},
		{"MarkRefreshTokenUsed", func() error { return tx.MarkRefreshTokenUsed(ctx, f.priorToken.Hash, at(3)) }},
		{"TakeOneTimeToken", func() error {
			_, err := tx.TakeOneTimeToken(ctx, f.prior.Hash, f.prior.Purpose)
			return err
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// assertRolledBack checks that nothing f.write did survived, and that the
// store still works and the keys are free.
func (f authFixture) assertRolledBack(t *testing.T, a accounts.Store) {
	t.Helper()
	ctx := context.Background()
	checkAccountMissing(t, a, f.account.ID, f.account.Email)
	checkAccountReads(t, a, f.before)
	_, err := a.AccountByEmail(ctx, f.after.Email)
	wantKind(t, "AccountByEmail of the rolled-back email", err, fault.NotFound)
	_, err = a.SessionByID(ctx, f.session.ID)
	wantKind(t, "SessionByID of a rolled-back session", err, fault.NotFound)
	_, err = getRefreshToken(a, f.token.Hash)
	wantKind(t, "GetRefreshToken of a rolled-back token", err, fault.NotFound)
	got, err := getRefreshToken(a, f.priorToken.Hash)
	wantOK(t, "GetRefreshToken of the committed token", err)
	same(t, "GetRefreshToken of a token marked used in a rolled-back transaction", diffRefreshToken(got, f.priorToken))
	_, err = a.APIKeyByHash(ctx, f.apiKey.Hash)
	wantKind(t, "APIKeyByHash of a rolled-back key", err, fault.NotFound)
	keys, err := a.ListAPIKeys(ctx)
	wantOK(t, "ListAPIKeys", err)
	sameList(t, "ListAPIKeys after a rollback", keys, nil, diffAPIKey)
	checkSigningKeys(t, a, "after a rollback", nil)
	revs, err := a.RevocationsSince(ctx, at(0))
	wantOK(t, "RevocationsSince", err)
	sameList(t, "RevocationsSince after a rollback", revs, nil, diffRevocation)
	wantNoTake(t, a, "TakeOneTimeToken of a rolled-back token", f.oneTime.Hash, f.oneTime.Purpose)
	wantTake(t, a, "TakeOneTimeToken of a token taken in a rolled-back transaction", f.prior)

	// The store still works, and the rolled-back keys are free.
	insertOneTimeTokens(t, a, f.prior)
	mustAuthWrite(t, a, f.write)
	checkAccountReads(t, a, f.account)
	checkAccountReads(t, a, f.after)
	checkSessionReads(t, a, f.session)
}

func testAuthWriteRollbackOnError(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	f := newAuthFixture()
	f.commitPrior(t, a)
	err := authWrite(a, func(ctx context.Context, tx accounts.Tx) error {
		if err := f.write(ctx, tx); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("AuthWrite returned %v, want fn's error", err)
	}
	f.assertRolledBack(t, a)
}

func testAuthWriteRollbackOnPanic(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	f := newAuthFixture()
	f.commitPrior(t, a)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the panic of fn", r)
			}
		}()
		_ = authWrite(a, func(ctx context.Context, tx accounts.Tx) error {
			if err := f.write(ctx, tx); err != nil {
				return err
			}
			panic("boom")
		})
		t.Fatalf("AuthWrite returned after fn panicked")
	}()
	f.assertRolledBack(t, a)
}

// testAuthTxSeesOwnWrites reads, inside one transaction, what that
// transaction wrote; the reads are checked after it commits.
func testAuthTxSeesOwnWrites(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	acc, doomed := newAccount(1), newAccount(2)
	updated := acc
	updated.Email, updated.VerifiedAt = "verified@example.com", at(5)
	sess := newSession(1, 1, 1)
	revoked := sess
	revoked.RevokedAt, revoked.RevokeReason = at(6), "logout"
	gen1, gen2 := newRefreshToken(1, 1, 1), newRefreshToken(1, 2, 2)
	usedGen1 := gen1
	usedGen1.UsedAt = at(2)
	ott := newOneTimeToken("own", accounts.PurposeVerifyEmail, 1, 1, 60)
	key := newAPIKey(1)
	usedKey := key
	usedKey.LastUsedAt = at(7)
	signing := newSigningKey(1, 1)
	retired := signing
	retired.NotAfter = at(8)

	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		check := func(what string, diff string, err error) error {
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			return mismatch(what, diff)
		}
		if err := tx.InsertAccount(ctx, acc); err != nil {
			return err
		}
		got, err := tx.GetAccount(ctx, acc.ID)
		if err := check("GetAccount of an inserted account", diffAccount(got, acc), err); err != nil {
			return err
		}
		if err := tx.UpdateAccount(ctx, updated); err != nil {
			return err
		}
		got, err = tx.GetAccountByEmail(ctx, updated.Email)
		if err := check("GetAccountByEmail of an updated account", diffAccount(got, updated), err); err != nil {
			return err
		}
		if err := tx.InsertAccount(ctx, doomed); err != nil {
			return err
		}
		if err := tx.DeleteAccount(ctx, doomed.ID); err != nil {
			return err
		}
		if _, err := tx.GetAccount(ctx, doomed.ID); !fault.Is(err, fault.NotFound) {
			return notNotFound("GetAccount of a deleted account", err)
		}

		if err := tx.InsertSession(ctx, sess); err != nil {
			return err
		}
		gotSess, err := tx.GetSession(ctx, sess.ID)
		if err := check("GetSession of an inserted session", diffSession(gotSess, sess), err); err != nil {
			return err
		}
		if err := tx.UpdateSession(ctx, revoked); err != nil {
			return err
		}
		list, err := tx.ListSessions(ctx, acc.ID)
		if err != nil {
			return err
		}
		if err := listMismatch("ListSessions", list, []accounts.Session{revoked}, diffSession); err != nil {
			return err
		}

		if err := tx.InsertRefreshToken(ctx, gen1); err != nil {
			return err
		}
		if err := tx.MarkRefreshTokenUsed(ctx, gen1.Hash, usedGen1.UsedAt); err != nil {
			return err
		}
		gotToken, err := tx.GetRefreshToken(ctx, gen1.Hash)
		if err := check("GetRefreshToken of a token marked used", diffRefreshToken(gotToken, usedGen1), err); err != nil {
			return err
		}
		if err := tx.InsertRefreshToken(ctx, gen2); err != nil {
			return err
		}
		gotToken, err = tx.LatestRefreshToken(ctx, sess.ID)
		if err := check("LatestRefreshToken", diffRefreshToken(gotToken, gen2), err); err != nil {
			return err
		}

		if err := tx.InsertOneTimeToken(ctx, ott); err != nil {
			return err
		}
		gotOTT, err := tx.TakeOneTimeToken(ctx, ott.Hash, ott.Purpose)
		if err := check("TakeOneTimeToken of an inserted token", diffOneTimeToken(gotOTT, ott), err); err != nil {
			return err
		}
		if _, err := tx.TakeOneTimeToken(ctx, ott.Hash, ott.Purpose); !fault.Is(err, fault.NotFound) {
			return notNotFound("TakeOneTimeToken of a taken token", err)
		}

		if err := tx.InsertAPIKey(ctx, key); err != nil {
			return err
		}
		if err := tx.UpdateAPIKey(ctx, usedKey); err != nil {
			return err
		}
		gotKey, err := tx.GetAPIKey(ctx, key.ID)
		if err := check("GetAPIKey of an updated key", diffAPIKey(gotKey, usedKey), err); err != nil {
			return err
		}

		if err := tx.InsertSigningKey(ctx, signing); err != nil {
			return err
		}
		if err := tx.UpdateSigningKey(ctx, retired); err != nil {
			return err
		}
		keys, err := tx.SigningKeys(ctx)
		if err != nil {
			return err
		}
		return listMismatch("SigningKeys", keys, []accounts.SigningKey{retired}, diffSigningKey)
	})

	// And all of it committed.
	checkAccountReads(t, a, updated)
	checkAccountMissing(t, a, doomed.ID, doomed.Email)
	checkListSessions(t, a, acc.ID, []accounts.Session{revoked})
	got, err := latestRefreshToken(a, sess.ID)
	wantOK(t, "LatestRefreshToken after commit", err)
	same(t, "LatestRefreshToken after commit", diffRefreshToken(got, gen2))
	wantNoTake(t, a, "TakeOneTimeToken of a token taken before commit", ott.Hash, ott.Purpose)
	checkAPIKey(t, a, "after commit", usedKey)
	checkSigningKeys(t, a, "after commit", []accounts.SigningKey{retired})
}

// notNotFound describes the answer of a read that should have been
// NotFound.
func notNotFound(what string, err error) error {
	if err == nil {
		return fmt.Errorf("%s succeeded, want NotFound", what)
	}
	return fmt.Errorf("%s: %w, want NotFound", what, err)
}

// testPurgeAuth purges at minute 100 a fixture with records on each side
// of that instant. Records exactly at it stay: the contract deletes what
// is before it.
func testPurgeAuth(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	ctx := context.Background()
	before := at(100)
	alice, bob := newAccount(1), newAccount(2)
	bob.DisabledAt = at(10)
	insertAccounts(t, a, alice, bob)

	// Session n is created at minute n.
	session := func(n, account int, expires, revoked time.Time) accounts.Session {
		s := newSession(n, account, n)
		s.ExpiresAt, s.RevokedAt = expires, revoked
		if !revoked.IsZero() {
			s.RevokeReason = "logout"
		}
		return s
	}
	var none time.Time
	expired := session(1, 1, at(50), none)                                  // purged
	revoked := session(2, 1, at(500), at(60))                               // purged
	live := session(3, 1, at(500), none)                                    // kept
	revokedAtCut := session(4, 1, at(500), before)                          // kept
	expiresAtCut := session(5, 1, before, none)                             // kept
	revokedLater := session(6, 2, at(150), at(120))                         // kept
	expiredJustBefore := session(7, 1, before.Add(-time.Microsecond), none) // purged
	insertSessions(t, a, expired, revoked, live, revokedAtCut, expiresAtCut, revokedLater, expiredJustBefore)
	purgedTokens := []accounts.RefreshToken{newRefreshToken(1, 1, 1), newRefreshToken(1, 2, 2),
		newRefreshToken(2, 1, 2), newRefreshToken(7, 1, 7)}
	keptTokens := []accounts.RefreshToken{newRefreshToken(3, 1, 3), newRefreshToken(4, 1, 4), newRefreshToken(6, 1, 6)}
	insertRefreshTokens(t, a, append(purgedTokens, keptTokens...)...)

	oldOTT := newOneTimeToken("old", accounts.PurposeVerifyEmail, 1, 30, 90)      // purged
	cutOTT := newOneTimeToken("cut", accounts.PurposeResetPassword, 1, 40, 100)   // kept
	freshOTT := newOneTimeToken("fresh", accounts.PurposeVerifyEmail, 2, 95, 200) // kept
	// Invitations belong to no account; they expire like the others.
	oldInvite := accounts.OneTimeToken{Hash: hashOf("one-time", "old invite"), Purpose: accounts.PurposeInvite,
		Email: "old@example.com", CreatedAt: at(20), ExpiresAt: at(80)} // purged
	liveInvite := accounts.OneTimeToken{Hash: hashOf("one-time", "live invite"), Purpose: accounts.PurposeInvite,
		Email: "live@example.com", Roles: []string{"editor"}, CreatedAt: at(20), ExpiresAt: at(300)} // kept
	insertOneTimeTokens(t, a, oldOTT, cutOTT, freshOTT, oldInvite, liveInvite)

	oldRev := accounts.Revocation{ID: revoked.ID, RevokedAt: at(60)}   // purged
	lateRev := accounts.Revocation{ID: apiKeyID(1), RevokedAt: at(99)} // purged
	cutRev := accounts.Revocation{ID: revokedAtCut.ID, RevokedAt: before}
	newRev := accounts.Revocation{ID: revokedLater.ID, RevokedAt: at(120)}
	appendRevocations(t, a, oldRev, lateRev, cutRev, newRev)

	retiredKey := newSigningKey(1, 0) // purged
	retiredKey.NotAfter = at(80)
	cutKey := newSigningKey(2, 10)
	cutKey.NotAfter = before
	verifyingKey := newSigningKey(3, 20)
	verifyingKey.NotAfter = at(300)
	currentKey := newSigningKey(4, 30) // NotAfter zero: never retired
	insertSigningKeys(t, a, retiredKey, cutKey, verifyingKey, currentKey)

	// API keys are not purged, expired or revoked.
	expiredKey := newAPIKey(1)
	expiredKey.ExpiresAt = at(10)
	revokedKey := newAPIKey(2)
	revokedKey.RevokedAt = at(20)
	insertAPIKeys(t, a, expiredKey, revokedKey)

	const wantDeleted = 3 + 4 + 2 + 2 + 1 // sessions, their refresh tokens, one-time tokens, revocations, signing keys
	n, err := a.PurgeAuth(ctx, before.In(fixedZone()))
	wantOK(t, "PurgeAuth", err)
	if n != wantDeleted {
		t.Errorf("PurgeAuth deleted %d rows, want %d: 3 sessions, their 4 refresh tokens, 2 one-time tokens, "+
			"2 revocations, 1 signing key", n, wantDeleted)
	}

	for _, gone := range []accounts.Session{expired, revoked, expiredJustBefore} {
		_, err := a.SessionByID(ctx, gone.ID)
		wantKind(t, "SessionByID of a purged session", err, fault.NotFound)
	}
	checkListSessions(t, a, alice.ID, []accounts.Session{expiresAtCut, revokedAtCut, live})
	checkListSessions(t, a, bob.ID, []accounts.Session{revokedLater})
	for _, r := range purgedTokens {
		_, err := getRefreshToken(a, r.Hash)
		wantKind(t, "GetRefreshToken of a purged session's token", err, fault.NotFound)
	}
	for _, r := range keptTokens {
		got, err := getRefreshToken(a, r.Hash)
		wantOK(t, "GetRefreshToken of a kept session's token", err)
		same(t, "GetRefreshToken of a kept session's token", diffRefreshToken(got, r))
	}
	revs, err := a.RevocationsSince(ctx, at(0))
	wantOK(t, "RevocationsSince", err)
	sameList(t, "RevocationsSince after PurgeAuth", revs, []accounts.Revocation{cutRev, newRev}, diffRevocation)
	checkSigningKeys(t, a, "after PurgeAuth", []accounts.SigningKey{cutKey, verifyingKey, currentKey})
	keys, err := a.ListAPIKeys(ctx)
	wantOK(t, "ListAPIKeys", err)
	sameList(t, "ListAPIKeys after PurgeAuth", keys, []accounts.APIKey{expiredKey, revokedKey}, diffAPIKey)
	checkAccountReads(t, a, alice)
	checkAccountReads(t, a, bob)

	// Nothing is left to purge at the same instant; the one-time tokens
	// are checked last because taking them deletes them.
	n, err = a.PurgeAuth(ctx, before)
	wantOK(t, "PurgeAuth again", err)
	if n != 0 {
		t.Errorf("second PurgeAuth deleted %d rows, want 0", n)
	}
	wantNoTake(t, a, "TakeOneTimeToken of a purged token", oldOTT.Hash, oldOTT.Purpose)
	wantNoTake(t, a, "TakeOneTimeToken of a purged invitation", oldInvite.Hash, oldInvite.Purpose)
	wantTake(t, a, "TakeOneTimeToken of a kept invitation", liveInvite)
	wantTake(t, a, "TakeOneTimeToken of a token expiring at the cut", cutOTT)
	wantTake(t, a, "TakeOneTimeToken of a fresh token", freshOTT)
}

// testConcurrentInsertsOfOneEmail races sign-ups of one email address:
// exactly one wins, the others are Conflict.
func testConcurrentInsertsOfOneEmail(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	const workers = 8
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i := range errs {
		wg.Go(func() {
			acc := newAccount(i + 1)
			acc.Email = "race@example.com"
			errs[i] = authWrite(a, func(ctx context.Context, tx accounts.Tx) error { return tx.InsertAccount(ctx, acc) })
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("inserts %d and %d of one email both succeeded", winner+1, i+1)
		case err == nil:
			winner = i
		case !fault.Is(err, fault.Conflict):
			t.Fatalf("insert %d: got error %v (kind %q), want success or %q", i+1, err, fault.KindOf(err), fault.Conflict)
		}
	}
	if winner < 0 {
		t.Fatalf("no insert of the email succeeded: %v", errors.Join(errs...))
	}
	want := newAccount(winner + 1)
	want.Email = "race@example.com"
	checkAccountReads(t, a, want)
	all, err := a.ListAccounts(context.Background(), accounts.AccountQuery{After: "", Limit: 100})
	wantOK(t, "ListAccounts", err)
	sameList(t, "ListAccounts after the race", all, []accounts.Account{want}, diffAccount)
}

// testPurgeAuthMany purges more rows of each kind than an engine would
// delete in one statement, and wants them all gone and counted.
func testPurgeAuthMany(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	ctx := context.Background()
	const many = 1500
	insertAccounts(t, a, newAccount(1))
	live := newSession(many+1, 1, 0)
	liveToken := newRefreshToken(many+1, 1, 0)
	liveOTT := newOneTimeToken("live", accounts.PurposeVerifyEmail, 1, 0, 200)
	liveRev := accounts.Revocation{ID: sessionID(many + 2), RevokedAt: at(100)}
	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		for i := 1; i <= many; i++ {
			sess := newSession(i, 1, 0)
			sess.ExpiresAt = at(50)
			if err := tx.InsertSession(ctx, sess); err != nil {
				return err
			}
			if err := tx.InsertRefreshToken(ctx, newRefreshToken(i, 1, 0)); err != nil {
				return err
			}
			ott := newOneTimeToken(fmt.Sprintf("bulk-%d", i), accounts.PurposeResetPassword, 1, 0, 50)
			if err := tx.InsertOneTimeToken(ctx, ott); err != nil {
				return err
			}
			if err := tx.AppendRevocation(ctx, accounts.Revocation{ID: sessionID(i), RevokedAt: at(50)}); err != nil {
				return err
			}
		}
		if err := tx.InsertSession(ctx, live); err != nil {
			return err
		}
		if err := tx.InsertRefreshToken(ctx, liveToken); err != nil {
			return err
		}
		if err := tx.InsertOneTimeToken(ctx, liveOTT); err != nil {
			return err
		}
		return tx.AppendRevocation(ctx, liveRev)
	})

	n, err := a.PurgeAuth(ctx, at(100))
	wantOK(t, "PurgeAuth", err)
	if n != 4*many {
		t.Errorf("PurgeAuth deleted %d rows, want %d (%d each of sessions, refresh tokens, one-time tokens, revocations)",
			n, 4*many, many)
	}
	checkListSessions(t, a, accountID(1), []accounts.Session{live})
	revs, err := a.RevocationsSince(ctx, at(0))
	wantOK(t, "RevocationsSince", err)
	sameList(t, "RevocationsSince after PurgeAuth", revs, []accounts.Revocation{liveRev}, diffRevocation)
	for _, i := range []int{1, many / 2, many} {
		_, err := getRefreshToken(a, newRefreshToken(i, 1, 0).Hash)
		wantKind(t, fmt.Sprintf("GetRefreshToken of purged session %d", i), err, fault.NotFound)
		wantNoTake(t, a, fmt.Sprintf("TakeOneTimeToken of purged token %d", i),
			hashOf("one-time", fmt.Sprintf("bulk-%d", i)), accounts.PurposeResetPassword)
	}
	got, err := latestRefreshToken(a, live.ID)
	wantOK(t, "LatestRefreshToken of the live session", err)
	same(t, "LatestRefreshToken of the live session", diffRefreshToken(got, liveToken))
	n, err = a.PurgeAuth(ctx, at(100))
	wantOK(t, "PurgeAuth again", err)
	if n != 0 {
		t.Errorf("second PurgeAuth deleted %d rows, want 0", n)
	}
	wantTake(t, a, "TakeOneTimeToken of the live token", liveOTT)
}
