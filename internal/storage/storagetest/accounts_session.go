package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// checkSessionReads wants want back from Store.SessionByID and from
// Tx.GetSession.
func checkSessionReads(t *testing.T, a accounts.Store, want accounts.Session) {
	t.Helper()
	got, err := a.SessionByID(context.Background(), want.ID)
	wantOK(t, "SessionByID "+want.ID, err)
	same(t, "SessionByID "+want.ID, diffSession(got, want))
	got, err = inTx(a, func(ctx context.Context, tx accounts.Tx) (accounts.Session, error) {
		return tx.GetSession(ctx, want.ID)
	})
	wantOK(t, "Tx.GetSession "+want.ID, err)
	same(t, "Tx.GetSession "+want.ID, diffSession(got, want))
}

// checkListSessions wants the sessions of account from Store.ListSessions
// and Tx.ListSessions.
func checkListSessions(t *testing.T, a accounts.Store, account string, want []accounts.Session) {
	t.Helper()
	got, err := a.ListSessions(context.Background(), account)
	wantOK(t, "ListSessions "+account, err)
	sameList(t, "ListSessions "+account, got, want, diffSession)
	got, err = inTx(a, func(ctx context.Context, tx accounts.Tx) ([]accounts.Session, error) {
		return tx.ListSessions(ctx, account)
	})
	wantOK(t, "Tx.ListSessions "+account, err)
	sameList(t, "Tx.ListSessions "+account, got, want, diffSession)
}

func getRefreshToken(a accounts.Store, hash []byte) (accounts.RefreshToken, error) {
	return inTx(a, func(ctx context.Context, tx accounts.Tx) (accounts.RefreshToken, error) {
		return tx.GetRefreshToken(ctx, hash)
	})
}

func latestRefreshToken(a accounts.Store, sessionID string) (accounts.RefreshToken, error) {
	return inTx(a, func(ctx context.Context, tx accounts.Tx) (accounts.RefreshToken, error) {
		return tx.LatestRefreshToken(ctx, sessionID)
	})
}

func testSessionRoundTrip(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	insertAccounts(t, a, newAccount(1))
	// Limits of the labels, multi-byte text, IPv6, times in other zones.
	live := accounts.Session{
		ID: sessionID(1), AccountID: accountID(1), Device: strings.Repeat("é", 64),
		UserAgent: strings.Repeat("Mozilla/5.0 (X11; Linux x86_64) \"quoted\" 'single' ", 11)[:512],
		IP:        "2001:db8::1", CreatedAt: at(1).In(fixedZone()), LastUsedAt: at(2).In(westZone()),
		ExpiresAt: at(1).Add(30 * 24 * time.Hour).In(fixedZone()),
	}
	revoked := newSession(2, 1, 3)
	revoked.RevokedAt, revoked.RevokeReason = at(4).In(westZone()), "logout"
	insertSessions(t, a, live, revoked)
	checkSessionReads(t, a, live)
	checkSessionReads(t, a, revoked)

	// Every field but ID and AccountID changes; the revoked session is
	// live again and the live one revoked.
	live2 := accounts.Session{ID: live.ID, AccountID: live.AccountID, Device: "Pixel 9", UserAgent: "Basalt-Android/2.0",
		IP: "198.51.100.23", CreatedAt: at(10), LastUsedAt: at(11).In(fixedZone()), ExpiresAt: at(12),
		RevokedAt: at(13).In(westZone()), RevokeReason: "reuse"}
	revoked2 := accounts.Session{ID: revoked.ID, AccountID: revoked.AccountID, Device: "", UserAgent: "",
		IP: "192.0.2.1", CreatedAt: at(20), LastUsedAt: at(21), ExpiresAt: at(22)}
	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		if err := tx.UpdateSession(ctx, live2); err != nil {
			return fmt.Errorf("UpdateSession live: %w", err)
		}
		return tx.UpdateSession(ctx, revoked2)
	})
	checkSessionReads(t, a, live2)
	checkSessionReads(t, a, revoked2)

	ctx := context.Background()
	_, err := a.SessionByID(ctx, sessionID(9))
	wantKind(t, "SessionByID of a missing session", err, fault.NotFound)
	_, err = inTx(a, func(ctx context.Context, tx accounts.Tx) (accounts.Session, error) {
		return tx.GetSession(ctx, sessionID(9))
	})
	wantKind(t, "Tx.GetSession of a missing session", err, fault.NotFound)
	missing := newSession(9, 1, 5)
	err = authWrite(a, func(ctx context.Context, tx accounts.Tx) error { return tx.UpdateSession(ctx, missing) })
	wantKind(t, "UpdateSession of a missing session", err, fault.NotFound)
	_, err = a.SessionByID(ctx, missing.ID)
	wantKind(t, "SessionByID after UpdateSession of a missing session", err, fault.NotFound)
	err = authWrite(a, func(ctx context.Context, tx accounts.Tx) error { return tx.InsertSession(ctx, newSession(1, 1, 30)) })
	wantKind(t, "InsertSession with an existing ID", err, fault.Conflict)
	checkSessionReads(t, a, live2)
}

func testListSessions(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	insertAccounts(t, a, newAccount(1), newAccount(2), newAccount(3))
	// Creation order is neither ID order nor insertion order; times come
	// in several zones.
	s1 := newSession(1, 1, 40)
	s1.CreatedAt = s1.CreatedAt.In(westZone())
	s2 := newSession(2, 1, 10)
	s3 := newSession(3, 1, 30)
	s3.RevokedAt, s3.RevokeReason = at(35), "admin"
	s3.CreatedAt = s3.CreatedAt.In(fixedZone())
	s4 := newSession(4, 1, 20)
	s5 := newSession(5, 2, 35) // another account's, created between
	s6 := newSession(6, 1, 20)
	s6.CreatedAt = s6.CreatedAt.Add(time.Microsecond) // newer than s4 by 1µs
	insertSessions(t, a, s2, s5, s4)
	insertSessions(t, a, s1)
	insertSessions(t, a, s6, s3)

	checkListSessions(t, a, accountID(1), []accounts.Session{s1, s3, s6, s4, s2})
	checkListSessions(t, a, accountID(2), []accounts.Session{s5})
	checkListSessions(t, a, accountID(3), nil)
}

// testGetSessionSerializesRefreshes runs concurrent refreshes of one
// session, each reading the session with GetSession, rotating its refresh
// token and moving LastUsedAt by a minute: none may see a state another
// one is about to change.
func testGetSessionSerializesRefreshes(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	insertAccounts(t, a, newAccount(1))
	sess := newSession(1, 1, 0)
	insertSessions(t, a, sess)
	insertRefreshTokens(t, a, newRefreshToken(1, 1, 0))

	const workers = 8
	refresh := func(ctx context.Context, tx accounts.Tx) error {
		cur, err := tx.GetSession(ctx, sess.ID)
		if err != nil {
			return fmt.Errorf("GetSession: %w", err)
		}
		latest, err := tx.LatestRefreshToken(ctx, sess.ID)
		if err != nil {
			return fmt.Errorf("LatestRefreshToken: %w", err)
		}
		if !latest.UsedAt.IsZero() {
			return fmt.Errorf("the latest token (generation %d) is already used: two refreshes overlapped", latest.Generation)
		}
		now := cur.LastUsedAt.Add(time.Minute)
		if err := tx.MarkRefreshTokenUsed(ctx, latest.Hash, now); err != nil {
			return fmt.Errorf("MarkRefreshTokenUsed: %w", err)
		}
		next := newRefreshToken(1, latest.Generation+1, 0)
		next.CreatedAt = now
		if err := tx.InsertRefreshToken(ctx, next); err != nil {
			return fmt.Errorf("InsertRefreshToken generation %d: %w", next.Generation, err)
		}
		cur.LastUsedAt = now
		return tx.UpdateSession(ctx, cur)
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i := range errs {
		wg.Go(func() { errs[i] = authWrite(a, refresh) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent refreshes of one session: %v", err)
	}

	want := sess
	want.LastUsedAt = at(workers)
	checkSessionReads(t, a, want)
	latest, err := latestRefreshToken(a, sess.ID)
	wantOK(t, "LatestRefreshToken", err)
	wantLatest := newRefreshToken(1, workers+1, workers)
	same(t, "LatestRefreshToken after the refreshes", diffRefreshToken(latest, wantLatest))
	for gen := 1; gen <= workers; gen++ {
		r, err := getRefreshToken(a, newRefreshToken(1, int64(gen), 0).Hash)
		wantOK(t, fmt.Sprintf("GetRefreshToken generation %d", gen), err)
		if !r.UsedAt.Equal(at(gen)) {
			t.Fatalf("generation %d: UsedAt = %v, want %v", gen, r.UsedAt, at(gen))
		}
	}
}

func testRefreshTokens(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	insertAccounts(t, a, newAccount(1))
	insertSessions(t, a, newSession(1, 1, 0), newSession(2, 1, 0), newSession(3, 1, 0))
	gen1, gen2, gen3 := newRefreshToken(1, 1, 1), newRefreshToken(1, 2, 2), newRefreshToken(1, 3, 3)
	gen1.CreatedAt = gen1.CreatedAt.In(fixedZone())
	gen3.Hash = awkwardHash(3)
	other := newRefreshToken(2, 5, 4) // another session's chain, further along
	insertRefreshTokens(t, a, gen2, other)
	insertRefreshTokens(t, a, gen1, gen3)
	for _, want := range []accounts.RefreshToken{gen1, gen2, gen3, other} {
		got, err := getRefreshToken(a, want.Hash)
		wantOK(t, "GetRefreshToken", err)
		same(t, fmt.Sprintf("GetRefreshToken %s/%d", want.SessionID, want.Generation), diffRefreshToken(got, want))
	}
	latest, err := latestRefreshToken(a, sessionID(1))
	wantOK(t, "LatestRefreshToken", err)
	same(t, "LatestRefreshToken of session 1", diffRefreshToken(latest, gen3))
	latest, err = latestRefreshToken(a, sessionID(2))
	wantOK(t, "LatestRefreshToken", err)
	same(t, "LatestRefreshToken of session 2", diffRefreshToken(latest, other))
	_, err = latestRefreshToken(a, sessionID(3))
	wantKind(t, "LatestRefreshToken of a session without tokens", err, fault.NotFound)
	_, err = getRefreshToken(a, hashOf("refresh", "unknown"))
	wantKind(t, "GetRefreshToken of an unknown hash", err, fault.NotFound)
	_, err = getRefreshToken(a, gen3.Hash[:16])
	wantKind(t, "GetRefreshToken of a hash prefix", err, fault.NotFound)

	// MarkRefreshTokenUsed sets UsedAt and nothing else.
	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		if err := tx.MarkRefreshTokenUsed(ctx, gen1.Hash, at(10).In(westZone())); err != nil {
			return err
		}
		return tx.MarkRefreshTokenUsed(ctx, gen3.Hash, at(11))
	})
	gen1.UsedAt, gen3.UsedAt = at(10), at(11)
	for _, want := range []accounts.RefreshToken{gen1, gen2, gen3, other} {
		got, err := getRefreshToken(a, want.Hash)
		wantOK(t, "GetRefreshToken after MarkRefreshTokenUsed", err)
		same(t, fmt.Sprintf("GetRefreshToken %s/%d after MarkRefreshTokenUsed", want.SessionID, want.Generation),
			diffRefreshToken(got, want))
	}
	latest, err = latestRefreshToken(a, sessionID(1))
	wantOK(t, "LatestRefreshToken", err)
	same(t, "LatestRefreshToken of session 1 once used", diffRefreshToken(latest, gen3))
	err = authWrite(a, func(ctx context.Context, tx accounts.Tx) error {
		return tx.MarkRefreshTokenUsed(ctx, hashOf("refresh", "unknown"), at(12))
	})
	wantKind(t, "MarkRefreshTokenUsed of an unknown hash", err, fault.NotFound)

	dup := newRefreshToken(3, 1, 5)
	dup.Hash = gen2.Hash
	err = authWrite(a, func(ctx context.Context, tx accounts.Tx) error { return tx.InsertRefreshToken(ctx, dup) })
	wantKind(t, "InsertRefreshToken with an existing hash", err, fault.Conflict)
	got, err := getRefreshToken(a, gen2.Hash)
	wantOK(t, "GetRefreshToken after a conflicting insert", err)
	same(t, "GetRefreshToken after a conflicting insert", diffRefreshToken(got, gen2))
	_, err = latestRefreshToken(a, sessionID(3))
	wantKind(t, "LatestRefreshToken after a conflicting insert", err, fault.NotFound)
}
