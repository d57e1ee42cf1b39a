package storagetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// checkAccountReads reads want by ID and by email, through the store and
// through a transaction, and wants it back field by field.
func checkAccountReads(t *testing.T, a accounts.Store, want accounts.Account) {
	t.Helper()
	ctx := context.Background()
	got, err := a.AccountByID(ctx, want.ID)
	wantOK(t, "AccountByID "+want.ID, err)
	same(t, "AccountByID "+want.ID, diffAccount(got, want))
	got, err = a.AccountByEmail(ctx, want.Email)
	wantOK(t, "AccountByEmail "+want.Email, err)
	same(t, "AccountByEmail "+want.Email, diffAccount(got, want))
	got, err = inTx(a, func(ctx context.Context, tx accounts.Tx) (accounts.Account, error) {
		return tx.GetAccount(ctx, want.ID)
	})
	wantOK(t, "Tx.GetAccount "+want.ID, err)
	same(t, "Tx.GetAccount "+want.ID, diffAccount(got, want))
	got, err = inTx(a, func(ctx context.Context, tx accounts.Tx) (accounts.Account, error) {
		return tx.GetAccountByEmail(ctx, want.Email)
	})
	wantOK(t, "Tx.GetAccountByEmail "+want.Email, err)
	same(t, "Tx.GetAccountByEmail "+want.Email, diffAccount(got, want))
}

// checkAccountMissing wants NotFound for id and email everywhere.
func checkAccountMissing(t *testing.T, a accounts.Store, id, email string) {
	t.Helper()
	ctx := context.Background()
	_, err := a.AccountByID(ctx, id)
	wantKind(t, "AccountByID "+id, err, fault.NotFound)
	_, err = a.AccountByEmail(ctx, email)
	wantKind(t, "AccountByEmail "+email, err, fault.NotFound)
	_, err = inTx(a, func(ctx context.Context, tx accounts.Tx) (accounts.Account, error) { return tx.GetAccount(ctx, id) })
	wantKind(t, "Tx.GetAccount "+id, err, fault.NotFound)
	_, err = inTx(a, func(ctx context.Context, tx accounts.Tx) (accounts.Account, error) {
		return tx.GetAccountByEmail(ctx, email)
	})
	wantKind(t, "Tx.GetAccountByEmail "+email, err, fault.NotFound)
}

func testAccountRoundTrip(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	// Every field set; times given in zones other than UTC.
	full := accounts.Account{
		ID: accountID(1), Email: "O'Brien.Mixed+tag@Example.COM", PasswordHash: fixturePasswordHash,
		Roles:      []string{"viewer", "admin", "billing manager:eu"},
		VerifiedAt: at(2).In(fixedZone()), DisabledAt: at(3).In(westZone()),
		CreatedAt: at(1).In(fixedZone()), UpdatedAt: at(4).In(westZone()),
	}
	// No roles (nil and empty), never verified, never disabled.
	bare := accounts.Account{ID: accountID(2), Email: "user2@example.com", PasswordHash: fixturePasswordHash,
		CreatedAt: at(5), UpdatedAt: at(5)}
	empty := bare
	empty.ID, empty.Email, empty.Roles = accountID(3), "user3@example.com", []string{}
	// Verified but not disabled.
	verified := newAccount(4)
	verified.VerifiedAt = at(6)
	insertAccounts(t, a, full, bare)
	insertAccounts(t, a, empty, verified)
	for _, want := range []accounts.Account{full, bare, empty, verified} {
		checkAccountReads(t, a, want)
	}
}

func testAccountNotFound(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	checkAccountMissing(t, a, accountID(1), "user1@example.com")
	insertAccounts(t, a, newAccount(1))
	checkAccountMissing(t, a, accountID(2), "user2@example.com")
	// Lookups match whole values, not prefixes.
	_, err := a.AccountByEmail(context.Background(), "user1@example.co")
	wantKind(t, "AccountByEmail of a prefix", err, fault.NotFound)
	_, err = a.AccountByEmail(context.Background(), "")
	wantKind(t, "AccountByEmail of the empty string", err, fault.NotFound)
}

func testAccountDuplicates(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	first := newAccount(1)
	insertAccounts(t, a, first)

	sameID := newAccount(2)
	sameID.ID = first.ID
	err := authWrite(a, func(ctx context.Context, tx accounts.Tx) error { return tx.InsertAccount(ctx, sameID) })
	wantKind(t, "InsertAccount with an existing ID", err, fault.Conflict)

	sameEmail := newAccount(3)
	sameEmail.Email = first.Email
	err = authWrite(a, func(ctx context.Context, tx accounts.Tx) error { return tx.InsertAccount(ctx, sameEmail) })
	wantKind(t, "InsertAccount with an existing email", err, fault.Conflict)

	// Two new accounts with one email in one transaction.
	twin1, twin2 := newAccount(4), newAccount(5)
	twin2.Email = twin1.Email
	err = authWrite(a, func(ctx context.Context, tx accounts.Tx) error {
		if err := tx.InsertAccount(ctx, twin1); err != nil {
			return fmt.Errorf("first insert: %w", err)
		}
		return tx.InsertAccount(ctx, twin2)
	})
	wantKind(t, "InsertAccount of one email twice in one transaction", err, fault.Conflict)

	checkAccountReads(t, a, first)
	checkAccountMissing(t, a, sameEmail.ID, sameID.Email)
	checkAccountMissing(t, a, twin1.ID, twin1.Email)
	_, err = a.AccountByID(context.Background(), twin2.ID)
	wantKind(t, "AccountByID of the second twin", err, fault.NotFound)
}

func testUpdateAccount(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	one := newAccount(1)
	one.Roles = []string{"admin", "editor"}
	one.VerifiedAt, one.DisabledAt = at(2), at(3)
	two := newAccount(2)
	two.Roles = nil
	bystander := newAccount(3)
	insertAccounts(t, a, one, two, bystander)

	// Every field changes; set times become zero and zero times are set.
	one2 := accounts.Account{ID: one.ID, Email: "renamed@example.com", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$bmV3c2FsdA$bmV3aGFzaA",
		Roles: nil, CreatedAt: at(20).In(westZone()), UpdatedAt: at(21).In(fixedZone())}
	two2 := accounts.Account{ID: two.ID, Email: "user2+new@example.com", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$dHdv$dHdv",
		Roles: []string{"support", "admin"}, VerifiedAt: at(22).In(fixedZone()), DisabledAt: at(23), CreatedAt: at(24),
		UpdatedAt: at(25)}
	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error {
		if err := tx.UpdateAccount(ctx, one2); err != nil {
			return fmt.Errorf("UpdateAccount one: %w", err)
		}
		return tx.UpdateAccount(ctx, two2)
	})
	checkAccountReads(t, a, one2)
	checkAccountReads(t, a, two2)
	checkAccountReads(t, a, bystander)
	_, err := a.AccountByEmail(context.Background(), one.Email)
	wantKind(t, "AccountByEmail of the email before the update", err, fault.NotFound)

	// The old email is free again; another account's email is not.
	free := newAccount(4)
	free.Email = one.Email
	insertAccounts(t, a, free)
	taken := two2
	taken.Email = one2.Email
	err = authWrite(a, func(ctx context.Context, tx accounts.Tx) error { return tx.UpdateAccount(ctx, taken) })
	wantKind(t, "UpdateAccount to another account's email", err, fault.Conflict)
	checkAccountReads(t, a, two2)
	checkAccountReads(t, a, one2)

	missing := newAccount(9)
	err = authWrite(a, func(ctx context.Context, tx accounts.Tx) error { return tx.UpdateAccount(ctx, missing) })
	wantKind(t, "UpdateAccount of a missing account", err, fault.NotFound)
	checkAccountMissing(t, a, missing.ID, missing.Email)
}

func testListAccounts(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	ctx := context.Background()
	// Inserted out of ID order, created in reverse ID order.
	byID := make([]accounts.Account, 5)
	for i := range byID {
		byID[i] = newAccount((i + 1) * 10)
		byID[i].CreatedAt = at(50 - i)
	}
	byID[2].Roles = []string{"admin", "auditor"}
	byID[3].VerifiedAt = at(60).In(fixedZone())
	insertAccounts(t, a, byID[3], byID[0], byID[4])
	insertAccounts(t, a, byID[2], byID[1])

	got, err := a.ListAccounts(ctx, accounts.AccountQuery{After: "", Limit: 100})
	wantOK(t, "ListAccounts", err)
	sameList(t, "ListAccounts(\"\", 100)", got, byID, diffAccount)

	var walked []accounts.Account
	after := ""
	for page := 0; ; page++ {
		if page > len(byID) {
			t.Fatalf("ListAccounts by pages of 2 does not end: %d pages", page)
		}
		got, err := a.ListAccounts(ctx, accounts.AccountQuery{After: after, Limit: 2})
		wantOK(t, "ListAccounts after "+after, err)
		if len(got) > 2 {
			t.Fatalf("ListAccounts(%q, 2) returned %d accounts", after, len(got))
		}
		if len(got) == 0 {
			break
		}
		walked = append(walked, got...)
		after = got[len(got)-1].ID
	}
	sameList(t, "ListAccounts by pages of 2", walked, byID, diffAccount)

	// after need not be an existing ID.
	got, err = a.ListAccounts(ctx, accounts.AccountQuery{After: accountID(25), Limit: 2})
	wantOK(t, "ListAccounts after a missing ID", err)
	sameList(t, "ListAccounts(accountID(25), 2)", got, byID[2:4], diffAccount)
	got, err = a.ListAccounts(ctx, accounts.AccountQuery{After: accountID(20), Limit: 1})
	wantOK(t, "ListAccounts with limit 1", err)
	sameList(t, "ListAccounts(accountID(20), 1)", got, byID[2:3], diffAccount)
	got, err = a.ListAccounts(ctx, accounts.AccountQuery{After: accountID(50), Limit: 10})
	wantOK(t, "ListAccounts after the last", err)
	sameList(t, "ListAccounts after the last", got, nil, diffAccount)

	// An email search: the addresses that contain it, by ID, in pages.
	// The addresses are user10@… to user50@…; "0@" is in all of them,
	// "r30" in one, "user3" in one; "%" and "_" are plain characters.
	got, err = a.ListAccounts(ctx, accounts.AccountQuery{Limit: 100, Email: "r30"})
	wantOK(t, "ListAccounts with an email search", err)
	sameList(t, "ListAccounts(email r30)", got, byID[2:3], diffAccount)
	got, err = a.ListAccounts(ctx, accounts.AccountQuery{Limit: 2, Email: "0@example"})
	wantOK(t, "ListAccounts with an email search, first page", err)
	sameList(t, "ListAccounts(email 0@example, 2)", got, byID[:2], diffAccount)
	got, err = a.ListAccounts(ctx, accounts.AccountQuery{After: byID[1].ID, Limit: 2, Email: "0@example"})
	wantOK(t, "ListAccounts with an email search, second page", err)
	sameList(t, "ListAccounts(email 0@example, after the second, 2)", got, byID[2:4], diffAccount)
	for _, none := range []string{"user%", "user_0", "nobody"} {
		got, err = a.ListAccounts(ctx, accounts.AccountQuery{Limit: 100, Email: none})
		wantOK(t, "ListAccounts with an email search that matches nothing", err)
		sameList(t, "ListAccounts(email "+none+")", got, nil, diffAccount)
	}
}

func testDeleteAccount(t *testing.T, s docstore.Store) {
	a := authStore(t, s)
	ctx := context.Background()
	gone, kept := newAccount(1), newAccount(2)
	insertAccounts(t, a, gone, kept)
	s1, s2, s3 := newSession(1, 1, 1), newSession(2, 1, 2), newSession(3, 2, 3)
	s2.RevokedAt, s2.RevokeReason = at(4), "logout"
	insertSessions(t, a, s1, s2, s3)
	goneTokens := []accounts.RefreshToken{newRefreshToken(1, 1, 1), newRefreshToken(1, 2, 2), newRefreshToken(2, 1, 2)}
	keptToken := newRefreshToken(3, 1, 3)
	insertRefreshTokens(t, a, append(goneTokens, keptToken)...)
	goneVerify := newOneTimeToken("gone-verify", accounts.PurposeVerifyEmail, 1, 1, 100)
	goneReset := newOneTimeToken("gone-reset", accounts.PurposeResetPassword, 1, 1, 100)
	keptVerify := newOneTimeToken("kept-verify", accounts.PurposeVerifyEmail, 2, 1, 100)
	keptReset := newOneTimeToken("kept-reset", accounts.PurposeResetPassword, 2, 1, 100)
	insertOneTimeTokens(t, a, goneVerify, goneReset, keptVerify, keptReset)

	mustAuthWrite(t, a, func(ctx context.Context, tx accounts.Tx) error { return tx.DeleteAccount(ctx, gone.ID) })

	checkAccountMissing(t, a, gone.ID, gone.Email)
	for _, id := range []string{s1.ID, s2.ID} {
		_, err := a.SessionByID(ctx, id)
		wantKind(t, "SessionByID of a deleted account's session", err, fault.NotFound)
	}
	list, err := a.ListSessions(ctx, gone.ID)
	wantOK(t, "ListSessions of a deleted account", err)
	sameList(t, "ListSessions of a deleted account", list, nil, diffSession)
	for _, r := range goneTokens {
		_, err := inTx(a, func(ctx context.Context, tx accounts.Tx) (accounts.RefreshToken, error) {
			return tx.GetRefreshToken(ctx, r.Hash)
		})
		wantKind(t, fmt.Sprintf("GetRefreshToken of deleted session %s generation %d", r.SessionID, r.Generation), err, fault.NotFound)
	}
	_, err = inTx(a, func(ctx context.Context, tx accounts.Tx) (accounts.RefreshToken, error) {
		return tx.LatestRefreshToken(ctx, s1.ID)
	})
	wantKind(t, "LatestRefreshToken of a deleted session", err, fault.NotFound)
	for _, o := range []accounts.OneTimeToken{goneVerify, goneReset} {
		_, err := takeInTx(t, a, o.Hash, o.Purpose)
		wantKind(t, "TakeOneTimeToken of a deleted account's "+o.Purpose+" token", err, fault.NotFound)
	}

	// The other account keeps everything.
	checkAccountReads(t, a, kept)
	list, err = a.ListSessions(ctx, kept.ID)
	wantOK(t, "ListSessions of the kept account", err)
	sameList(t, "ListSessions of the kept account", list, []accounts.Session{s3}, diffSession)
	got, err := inTx(a, func(ctx context.Context, tx accounts.Tx) (accounts.RefreshToken, error) {
		return tx.GetRefreshToken(ctx, keptToken.Hash)
	})
	wantOK(t, "GetRefreshToken of the kept account", err)
	same(t, "GetRefreshToken of the kept account", diffRefreshToken(got, keptToken))
	for _, o := range []accounts.OneTimeToken{keptVerify, keptReset} {
		got, err := takeInTx(t, a, o.Hash, o.Purpose)
		wantOK(t, "TakeOneTimeToken of the kept account's "+o.Purpose+" token", err)
		same(t, "TakeOneTimeToken of the kept account's "+o.Purpose+" token", diffOneTimeToken(got, o))
	}

	// A missing account is NotFound; the deleted email and IDs are free.
	err = authWrite(a, func(ctx context.Context, tx accounts.Tx) error { return tx.DeleteAccount(ctx, gone.ID) })
	wantKind(t, "DeleteAccount of a deleted account", err, fault.NotFound)
	insertAccounts(t, a, gone)
	insertSessions(t, a, s1)
	insertRefreshTokens(t, a, goneTokens[0])
	checkAccountReads(t, a, gone)
}
