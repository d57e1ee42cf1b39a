package storagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// wantTake takes want's token and wants every field back.
func wantTake(t *testing.T, a accounts.Store, what string, want accounts.OneTimeToken) {
	t.Helper()
	// Reading it (twice) leaves it in place, for the take below.
	for range 2 {
		got, err := a.OneTimeToken(context.Background(), want.Hash, want.Purpose)
		wantOK(t, what+": OneTimeToken", err)
		same(t, what+": OneTimeToken", diffOneTimeToken(got, want))
	}
	got, err := takeInTx(t, a, want.Hash, want.Purpose)
	wantOK(t, what, err)
	same(t, what, diffOneTimeToken(got, want))
}

// wantNoTake wants NotFound when taking hash for purpose.
func wantNoTake(t *testing.T, a accounts.Store, what string, hash []byte, purpose string) {
	t.Helper()
	_, err := a.OneTimeToken(context.Background(), hash, purpose)
	wantKind(t, what+": OneTimeToken", err, fault.NotFound)
	_, err = takeInTx(t, a, hash, purpose)
	wantKind(t, what, err, fault.NotFound)
}

func testOneTimeTokens(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	insertAccounts(t, a, newAccount(1), newAccount(2))
	verify := newOneTimeToken("verify", accounts.PurposeVerifyEmail, 1, 1, 61)
	verify.CreatedAt = verify.CreatedAt.In(fixedZone())
	reset := newOneTimeToken("reset", accounts.PurposeResetPassword, 1, 2, 32)
	reset.ExpiresAt = reset.ExpiresAt.In(westZone())
	// Expired long ago by any clock: the store returns it all the same.
	expired := newOneTimeToken("expired", accounts.PurposeVerifyEmail, 1, 0, 0)
	expired.CreatedAt, expired.ExpiresAt = at(0).AddDate(-30, 0, 0), at(0).AddDate(-30, 0, 1)
	awkward := newOneTimeToken("awkward", accounts.PurposeResetPassword, 2, 3, 63)
	awkward.Hash = awkwardHash(1)
	insertOneTimeTokens(t, a, verify, reset)
	insertOneTimeTokens(t, a, expired, awkward)

	wantTake(t, a, "TakeOneTimeToken", verify)
	wantNoTake(t, a, "TakeOneTimeToken a second time", verify.Hash, verify.Purpose)

	wantNoTake(t, a, "TakeOneTimeToken with the wrong purpose", reset.Hash, accounts.PurposeVerifyEmail)
	wantTake(t, a, "TakeOneTimeToken with the right purpose after a wrong one", reset)

	wantTake(t, a, "TakeOneTimeToken of an expired token", expired)

	// An invitation belongs to no account: it names an address and roles.
	invite := accounts.OneTimeToken{Hash: hashOf("one-time", "invite"), Purpose: accounts.PurposeInvite,
		Email: "ïnvited+1@example.com", Roles: []string{"editor", "reader"}, CreatedAt: at(5), ExpiresAt: at(5).AddDate(0, 0, 7)}
	bare := accounts.OneTimeToken{Hash: hashOf("one-time", "bare invite"), Purpose: accounts.PurposeInvite,
		Email: "bare@example.com", CreatedAt: at(6).In(westZone()), ExpiresAt: at(66)}
	insertOneTimeTokens(t, a, invite, bare)
	// Deleting an account's tokens, of any purpose, leaves invitations.
	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		return tx.DeleteOneTimeTokens(ctx, accountID(1), accounts.PurposeInvite)
	})
	wantNoTake(t, a, "TakeOneTimeToken of an invitation with another purpose", invite.Hash, accounts.PurposeVerifyEmail)
	wantTake(t, a, "TakeOneTimeToken of an invitation", invite)
	wantTake(t, a, "TakeOneTimeToken of an invitation without roles", bare)
	wantTake(t, a, "TakeOneTimeToken of a hash with NUL and high bytes", awkward)
	wantNoTake(t, a, "TakeOneTimeToken of an unknown hash", hashOf("one-time", "unknown"), accounts.PurposeVerifyEmail)

	// An existing hash is a Conflict and leaves the first token as it was.
	first := newOneTimeToken("dup", accounts.PurposeVerifyEmail, 1, 4, 64)
	insertOneTimeTokens(t, a, first)
	dup := newOneTimeToken("dup", accounts.PurposeVerifyEmail, 2, 5, 65)
	err := authWrite(a, func(ctx context.Context, tx accounts.Tx) error { return tx.InsertOneTimeToken(ctx, dup) })
	wantKind(t, "InsertOneTimeToken with an existing hash", err, fault.Conflict)

	// A take in a transaction that fails is undone.
	err = authWrite(a, func(ctx context.Context, tx accounts.Tx) error {
		got, err := tx.TakeOneTimeToken(ctx, first.Hash, first.Purpose)
		if err != nil {
			return err
		}
		if err := mismatch("TakeOneTimeToken", diffOneTimeToken(got, first)); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("AuthWrite returned %v, want fn's error", err)
	}
	wantTake(t, a, "TakeOneTimeToken after a rolled-back take", first)
	wantNoTake(t, a, "TakeOneTimeToken after the take", first.Hash, first.Purpose)
}

func testDeleteOneTimeTokens(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	insertAccounts(t, a, newAccount(1), newAccount(2))
	aVerify1 := newOneTimeToken("a-verify-1", accounts.PurposeVerifyEmail, 1, 1, 61)
	aVerify2 := newOneTimeToken("a-verify-2", accounts.PurposeVerifyEmail, 1, 2, 62)
	aReset := newOneTimeToken("a-reset", accounts.PurposeResetPassword, 1, 3, 63)
	bVerify := newOneTimeToken("b-verify", accounts.PurposeVerifyEmail, 2, 4, 64)
	bReset := newOneTimeToken("b-reset", accounts.PurposeResetPassword, 2, 5, 65)
	insertOneTimeTokens(t, a, aVerify1, aReset, bVerify, aVerify2, bReset)

	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		return tx.DeleteOneTimeTokens(ctx, accountID(1), accounts.PurposeVerifyEmail)
	})
	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		return tx.DeleteOneTimeTokens(ctx, accountID(2), accounts.PurposeResetPassword)
	})
	wantNoTake(t, a, "TakeOneTimeToken of a deleted token", aVerify1.Hash, aVerify1.Purpose)
	wantNoTake(t, a, "TakeOneTimeToken of a deleted token", aVerify2.Hash, aVerify2.Purpose)
	wantNoTake(t, a, "TakeOneTimeToken of a deleted token", bReset.Hash, bReset.Purpose)
	wantTake(t, a, "TakeOneTimeToken of the account's token of another purpose", aReset)
	wantTake(t, a, "TakeOneTimeToken of another account's token of the purpose", bVerify)
}

func testAPIKeys(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	ctx := context.Background()
	insertAccounts(t, a, newAccount(1))
	full := accounts.APIKey{
		ID: apiKeyID(3), Name: "CI deploy — ünïcode", Prefix: "bsk_live_3f9a", Hash: awkwardHash(9),
		Roles: []string{"deployer", "reader"}, Scopes: []string{"documents:write", "collections:posts:read"},
		CreatedBy: accountID(1), CreatedByKey: apiKeyID(2), CreatedAt: at(3).In(fixedZone()), ExpiresAt: at(1000).In(westZone()),
	}
	// Creation order is the reverse of ID order.
	cli := newAPIKey(1) // created from the command line: no creator
	cli.Roles, cli.Scopes, cli.CreatedAt = nil, []string{}, at(30)
	used := newAPIKey(2)
	used.CreatedAt, used.LastUsedAt, used.RevokedAt = at(20), at(24).In(westZone()), at(25)
	insertAPIKeys(t, a, full, cli)
	insertAPIKeys(t, a, used)

	for _, want := range []accounts.APIKey{full, cli, used} {
		got, err := a.APIKeyByHash(ctx, want.Hash)
		wantOK(t, "APIKeyByHash "+want.ID, err)
		same(t, "APIKeyByHash "+want.ID, diffAPIKey(got, want))
		got, err = a.APIKeyByID(ctx, want.ID)
		wantOK(t, "APIKeyByID "+want.ID, err)
		same(t, "APIKeyByID "+want.ID, diffAPIKey(got, want))
		got, err = inTx(a, func(ctx context.Context, tx accounts.Tx) (accounts.APIKey, error) { return tx.GetAPIKey(ctx, want.ID) })
		wantOK(t, "Tx.GetAPIKey "+want.ID, err)
		same(t, "Tx.GetAPIKey "+want.ID, diffAPIKey(got, want))
	}
	all := []accounts.APIKey{cli, used, full}
	list, err := a.ListAPIKeys(ctx)
	wantOK(t, "ListAPIKeys", err)
	sameList(t, "ListAPIKeys", list, all, diffAPIKey)

	_, err = a.APIKeyByHash(ctx, hashOf("api-key", "unknown"))
	wantKind(t, "APIKeyByHash of an unknown hash", err, fault.NotFound)
	_, err = a.APIKeyByID(ctx, apiKeyID(9))
	wantKind(t, "APIKeyByID of a missing key", err, fault.NotFound)
	_, err = a.APIKeyByHash(ctx, full.Hash[:16])
	wantKind(t, "APIKeyByHash of a hash prefix", err, fault.NotFound)
	_, err = inTx(a, func(ctx context.Context, tx accounts.Tx) (accounts.APIKey, error) {
		return tx.GetAPIKey(ctx, apiKeyID(9))
	})
	wantKind(t, "Tx.GetAPIKey of a missing key", err, fault.NotFound)

	sameHash := newAPIKey(4)
	sameHash.Hash = cli.Hash
	err = authWrite(a, func(ctx context.Context, tx accounts.Tx) error { return tx.InsertAPIKey(ctx, sameHash) })
	wantKind(t, "InsertAPIKey with an existing hash", err, fault.Conflict)
	sameID := newAPIKey(5)
	sameID.ID = used.ID
	err = authWrite(a, func(ctx context.Context, tx accounts.Tx) error { return tx.InsertAPIKey(ctx, sameID) })
	wantKind(t, "InsertAPIKey with an existing ID", err, fault.Conflict)
	_, err = a.APIKeyByHash(ctx, sameID.Hash)
	wantKind(t, "APIKeyByHash of a key whose insert conflicted", err, fault.NotFound)
	list, err = a.ListAPIKeys(ctx)
	wantOK(t, "ListAPIKeys after conflicting inserts", err)
	sameList(t, "ListAPIKeys after conflicting inserts", list, all, diffAPIKey)
}

// checkAPIKey wants k back by hash and by ID.
func checkAPIKey(t *testing.T, a accounts.Store, what string, want accounts.APIKey) {
	t.Helper()
	got, err := a.APIKeyByHash(context.Background(), want.Hash)
	wantOK(t, what+": APIKeyByHash", err)
	same(t, what+": APIKeyByHash", diffAPIKey(got, want))
	got, err = inTx(a, func(ctx context.Context, tx accounts.Tx) (accounts.APIKey, error) { return tx.GetAPIKey(ctx, want.ID) })
	wantOK(t, what+": Tx.GetAPIKey", err)
	same(t, what+": Tx.GetAPIKey", diffAPIKey(got, want))
}

func testUpdateAPIKey(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	ctx := context.Background()
	insertAccounts(t, a, newAccount(1))
	one, two := newAPIKey(1), newAPIKey(2)
	one.CreatedBy, one.ExpiresAt = accountID(1), at(500)
	insertAPIKeys(t, a, one, two)
	update := func(k accounts.APIKey) {
		t.Helper()
		mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error { return tx.UpdateAPIKey(ctx, k) })
	}

	// What authentication and revocation change.
	one.LastUsedAt = at(10).In(fixedZone())
	update(one)
	checkAPIKey(t, a, "after setting LastUsedAt", one)
	checkAPIKey(t, a, "the other key", two)
	one.RevokedAt = at(11).In(westZone())
	update(one)
	checkAPIKey(t, a, "after setting RevokedAt", one)

	// Every other field too: set times become zero, zero times are set,
	// and the hash moves.
	one = accounts.APIKey{ID: one.ID, Name: "renamed", Prefix: "bsk_renamed", Hash: hashOf("api-key", "one, rotated"),
		CreatedAt: at(20)}
	update(one)
	oldHash := two.Hash
	two = accounts.APIKey{ID: two.ID, Name: "service two, v2", Prefix: "bsk_two2", Hash: awkwardHash(2),
		Roles: []string{"writer", "reader"}, Scopes: []string{"documents:read", "search"}, CreatedBy: accountID(1),
		CreatedByKey: apiKeyID(1), CreatedAt: at(21).In(fixedZone()), ExpiresAt: at(22), LastUsedAt: at(23).In(westZone()), RevokedAt: at(24)}
	update(two)
	checkAPIKey(t, a, "after overwriting every field", one)
	checkAPIKey(t, a, "after overwriting every field", two)
	_, err := a.APIKeyByHash(ctx, oldHash)
	wantKind(t, "APIKeyByHash of the hash before the update", err, fault.NotFound)
	list, err := a.ListAPIKeys(ctx)
	wantOK(t, "ListAPIKeys", err)
	sameList(t, "ListAPIKeys after updates", list, []accounts.APIKey{one, two}, diffAPIKey)

	missing := newAPIKey(9)
	err = authWrite(a, func(ctx context.Context, tx accounts.Tx) error { return tx.UpdateAPIKey(ctx, missing) })
	wantKind(t, "UpdateAPIKey of a missing key", err, fault.NotFound)
	_, err = a.APIKeyByHash(ctx, missing.Hash)
	wantKind(t, "APIKeyByHash after UpdateAPIKey of a missing key", err, fault.NotFound)
}

// checkSigningKeys wants want from Store.SigningKeys and Tx.SigningKeys.
func checkSigningKeys(t *testing.T, a accounts.Store, what string, want []accounts.SigningKey) {
	t.Helper()
	got, err := a.SigningKeys(context.Background())
	wantOK(t, what+": SigningKeys", err)
	sameList(t, what+": SigningKeys", got, want, diffSigningKey)
	got, err = inTx(a, func(ctx context.Context, tx accounts.Tx) ([]accounts.SigningKey, error) { return tx.SigningKeys(ctx) })
	wantOK(t, what+": Tx.SigningKeys", err)
	sameList(t, what+": Tx.SigningKeys", got, want, diffSigningKey)
}

func testSigningKeys(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	checkSigningKeys(t, a, "empty store", nil)
	// Creation order is neither ID order nor insertion order.
	newest := newSigningKey(1, 30)
	oldest := newSigningKey(2, 10)
	oldest.NotAfter = at(100).In(fixedZone())
	middle := newSigningKey(3, 20)
	middle.CreatedAt = middle.CreatedAt.In(westZone())
	insertSigningKeys(t, a, newest, oldest)
	insertSigningKeys(t, a, middle)
	for _, k := range []accounts.SigningKey{newest, oldest, middle} {
		if len(k.Private) != 64 {
			t.Fatalf("fixture key %s has %d bytes", k.ID, len(k.Private))
		}
	}
	checkSigningKeys(t, a, "after inserts", []accounts.SigningKey{oldest, middle, newest})

	// UpdateSigningKey overwrites NotAfter only, to a time or to zero.
	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		if err := tx.UpdateSigningKey(ctx, accounts.SigningKey{ID: newest.ID, Private: make([]byte, 64), CreatedAt: at(0),
			NotAfter: at(90).In(westZone())}); err != nil {
			return err
		}
		return tx.UpdateSigningKey(ctx, accounts.SigningKey{ID: oldest.ID})
	})
	newest.NotAfter, oldest.NotAfter = at(90), time.Time{}
	checkSigningKeys(t, a, "after UpdateSigningKey", []accounts.SigningKey{oldest, middle, newest})

	err := authWrite(a, func(ctx context.Context, tx accounts.Tx) error {
		return tx.UpdateSigningKey(ctx, accounts.SigningKey{ID: signingKeyID(9), NotAfter: at(1)})
	})
	wantKind(t, "UpdateSigningKey of a missing key", err, fault.NotFound)
	dup := newSigningKey(4, 40)
	dup.ID = middle.ID
	err = authWrite(a, func(ctx context.Context, tx accounts.Tx) error { return tx.InsertSigningKey(ctx, dup) })
	wantKind(t, "InsertSigningKey with an existing ID", err, fault.Conflict)
	checkSigningKeys(t, a, "after a conflicting insert", []accounts.SigningKey{oldest, middle, newest})
}

func testRevocations(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	ctx := context.Background()
	since := func(what string, from time.Time, want ...accounts.Revocation) {
		t.Helper()
		got, err := a.RevocationsSince(ctx, from)
		wantOK(t, what, err)
		sameList(t, what, got, want, diffRevocation)
	}
	since("RevocationsSince on an empty store", at(0))

	r1 := accounts.Revocation{ID: sessionID(1), RevokedAt: at(5)}
	r2 := accounts.Revocation{ID: apiKeyID(1), RevokedAt: at(1)}
	r3 := accounts.Revocation{ID: sessionID(2), RevokedAt: at(3).In(westZone())}
	r4 := accounts.Revocation{ID: sessionID(3), RevokedAt: at(7).In(fixedZone())}
	r5 := accounts.Revocation{ID: sessionID(4), RevokedAt: at(3).Add(time.Microsecond)}
	appendRevocations(t, a, r1, r2)
	appendRevocations(t, a, r3)
	appendRevocations(t, a, r4, r5)

	since("RevocationsSince(at(0))", at(0), r2, r3, r5, r1, r4)
	since("RevocationsSince(at(3)) includes at(3)", at(3), r3, r5, r1, r4)
	since("RevocationsSince(at(3)) given in another zone", at(3).In(fixedZone()), r3, r5, r1, r4)
	since("RevocationsSince(at(3) + 1µs)", at(3).Add(time.Microsecond), r5, r1, r4)
	since("RevocationsSince(at(7))", at(7), r4)
	since("RevocationsSince(at(8))", at(8))

	// A revocation of a failed transaction is not recorded.
	err := authWrite(a, func(ctx context.Context, tx accounts.Tx) error {
		if err := tx.AppendRevocation(ctx, accounts.Revocation{ID: sessionID(9), RevokedAt: at(9)}); err != nil {
			return fmt.Errorf("AppendRevocation: %w", err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("AuthWrite returned %v, want fn's error", err)
	}
	since("RevocationsSince(at(8)) after a rolled-back append", at(8))
}
