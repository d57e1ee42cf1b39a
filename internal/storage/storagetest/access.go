package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// accessCases are the cases of the docstore contract about access rules:
// collections keep their rules and hidden fields, and reads and
// transactions can be narrowed by a filter.
func accessCases() []testCase {
	return []testCase{
		{"AccessDefinitionRoundTrip", testAccessDefinitionRoundTrip},
		{"GetDocumentWhere", testGetDocumentWhere},
		{"GetDocumentWhereMatchesLists", testGetDocumentWhereMatchesLists},
		{"MatchDocument", testMatchDocument},
		{"MatchDocumentSeesOwnWrites", testMatchDocumentSeesOwnWrites},
	}
}

func ptr(s string) *string { return &s }

// sameAccess fails unless got has the rules and hidden fields of want. A
// null rule and "" are different; no hidden fields may be nil or empty.
func sameAccess(t *testing.T, what string, got, want docstore.Collection) {
	t.Helper()
	if !got.Rules.Equal(want.Rules) {
		t.Fatalf("%s: rules = %s, want %s", what, describeRules(got.Rules), describeRules(want.Rules))
	}
	if !slices.Equal(got.HiddenFields, want.HiddenFields) {
		t.Fatalf("%s: hidden fields = %q, want %q", what, got.HiddenFields, want.HiddenFields)
	}
}

func describeRules(r docstore.Rules) string {
	s := func(p *string) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprintf("%q", *p)
	}
	return fmt.Sprintf("{list:%s get:%s create:%s update:%s delete:%s}", s(r.List), s(r.Get), s(r.Create), s(r.Update), s(r.Delete))
}

func testAccessDefinitionRoundTrip(t *testing.T, s docstore.Store) {
	ctx := context.Background()
	plain := collection("plain")
	createCollection(t, s, plain)
	got, err := s.GetCollection(ctx, "plain")
	wantOK(t, "GetCollection", err)
	sameAccess(t, "a collection created without rules", got, plain)
	if got.Rules.List != nil || len(got.HiddenFields) != 0 {
		t.Fatalf("a collection created without rules has rules %s and hidden fields %q", describeRules(got.Rules), got.HiddenFields)
	}

	posts := collection("posts")
	posts.Rules = docstore.Rules{
		List:   ptr(`owner = @auth.id`),
		Get:    ptr(""),
		Update: ptr(`@auth.roles ?= "editor" && title != "it's \"quoted\" ✓"`),
	}
	posts.HiddenFields = []string{"secret", "author.email"}
	createCollection(t, s, posts)
	got, err = s.GetCollection(ctx, "posts")
	wantOK(t, "GetCollection", err)
	sameAccess(t, "GetCollection", got, posts)
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		got, err := tx.GetCollection(ctx, "posts")
		if err != nil {
			return err
		}
		sameAccess(t, "Tx.GetCollection", got, posts)
		return nil
	})
	all, err := s.ListCollections(ctx)
	wantOK(t, "ListCollections", err)
	if len(all) != 2 || all[0].Name != "plain" || all[1].Name != "posts" {
		t.Fatalf("ListCollections = %v", all)
	}
	sameAccess(t, "ListCollections plain", all[0], plain)
	sameAccess(t, "ListCollections posts", all[1], posts)

	// An update replaces rules and hidden fields: "" stays "", a rule
	// becomes null, hidden fields go.
	next := posts
	next.Version, next.UpdatedAt = 2, at(5)
	next.Rules = docstore.Rules{List: ptr(""), Delete: ptr(`owner = @auth.id`)}
	next.HiddenFields = nil
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateCollection(ctx, next, 1) })
	got, err = s.GetCollection(ctx, "posts")
	wantOK(t, "GetCollection after update", err)
	sameAccess(t, "GetCollection after update", got, next)
	if got.Rules.Get != nil {
		t.Fatalf("the get rule survived its removal: %s", describeRules(got.Rules))
	}

	// A failed update changes nothing.
	bad := next
	bad.Version, bad.Rules, bad.HiddenFields = 3, docstore.Rules{}, []string{"x"}
	err = write(t, s, func(ctx context.Context, tx docstore.Tx) error {
		if err := tx.UpdateCollection(ctx, bad, 2); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("rolled-back update: %v", err)
	}
	got, err = s.GetCollection(ctx, "posts")
	wantOK(t, "GetCollection after a rolled-back update", err)
	sameAccess(t, "after a rolled-back update", got, next)
}

func testGetDocumentWhere(t *testing.T, s docstore.Store) {
	loadFixture(t, s)
	ctx := context.Background()
	aName := field(query.TypeString, "author", "name")
	ann := cmp(aName, query.OpEq, str("Ann"))

	got, err := s.GetDocumentWhere(ctx, "fx", "d01", ann)
	wantOK(t, "GetDocumentWhere of a matching document", err)
	want, err := s.GetDocument(ctx, "fx", "d01")
	wantOK(t, "GetDocument", err)
	sameDocument(t, got, want)

	_, err = s.GetDocumentWhere(ctx, "fx", "d02", ann)
	wantKind(t, "GetDocumentWhere of a document that does not match", err, fault.NotFound)
	_, err = s.GetDocumentWhere(ctx, "fx", "nope", ann)
	wantKind(t, "GetDocumentWhere of a missing document", err, fault.NotFound)
	_, err = s.GetDocumentWhere(ctx, "missing", "d01", ann)
	wantKind(t, "GetDocumentWhere in a missing collection", err, fault.NotFound)

	got, err = s.GetDocumentWhere(ctx, "fx", "d05", nil)
	wantOK(t, "GetDocumentWhere without a filter", err)
	if got.ID != "d05" || got.Version != 2 {
		t.Fatalf("GetDocumentWhere without a filter = %+v", got)
	}

	// The filter narrows the one document only: the id is never a
	// wildcard, and a filter naming another id matches nothing.
	_, err = s.GetDocumentWhere(ctx, "fx", "d01", cmp(sys(query.SystemID), query.OpEq, str("d03")))
	wantKind(t, "GetDocumentWhere with a filter on another id", err, fault.NotFound)
	_, err = s.GetDocumentWhere(ctx, "fx", "d%", nil)
	wantKind(t, "GetDocumentWhere of a pattern-like id", err, fault.NotFound)

	// Unsafe field names are refused, as in lists.
	_, err = s.GetDocumentWhere(ctx, "fx", "d01", cmp(field(query.TypeString, "a'b"), query.OpEq, str("x")))
	wantKind(t, "GetDocumentWhere with an unsafe field", err, fault.Invalid)
}

// testGetDocumentWhereMatchesLists checks GetDocumentWhere and
// MatchDocument against every filter case: a document is found exactly
// when a list with the same filter returns it.
func testGetDocumentWhereMatchesLists(t *testing.T, s docstore.Store) {
	loadFixture(t, s)
	ctx := context.Background()
	fx := fixture()
	for _, c := range filterCases() {
		var got []string
		for _, f := range fx {
			_, err := s.GetDocumentWhere(ctx, "fx", f[0], c.expr)
			switch {
			case err == nil:
				got = append(got, f[0])
			case !fault.Is(err, fault.NotFound):
				t.Fatalf("filter %s: GetDocumentWhere(%s): %v", c.name, f[0], err)
			}
		}
		if !sameIDs(got, c.want) {
			t.Errorf("filter %s: GetDocumentWhere found %v, want %v", c.name, got, c.want)
		}
	}
	// The same inside a transaction, with MatchDocument.
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		for _, c := range filterCases() {
			var got []string
			for _, f := range fx {
				ok, err := tx.MatchDocument(ctx, "fx", f[0], c.expr)
				if err != nil {
					return fmt.Errorf("filter %s: MatchDocument(%s): %w", c.name, f[0], err)
				}
				if ok {
					got = append(got, f[0])
				}
			}
			if !sameIDs(got, c.want) {
				t.Errorf("filter %s: MatchDocument matched %v, want %v", c.name, got, c.want)
			}
		}
		return nil
	})
}

func testMatchDocument(t *testing.T, s docstore.Store) {
	loadFixture(t, s)
	score := field(query.TypeNumber, "score")
	err := write(t, s, func(ctx context.Context, tx docstore.Tx) error {
		cases := []struct {
			id     string
			filter query.Expr
			want   bool
		}{
			{"d01", nil, true},
			{"d01", cmp(score, query.OpEq, num(10)), true},
			{"d01", cmp(score, query.OpGt, num(10)), false},
			{"d01", not(cmp(score, query.OpGt, num(10))), true},
			{"d06", cmp(score, query.OpNe, num(1)), true}, // null score: != holds
			{"nope", nil, false},
			{"nope", cmp(score, query.OpEq, null()), false},
		}
		for _, c := range cases {
			got, err := tx.MatchDocument(ctx, "fx", c.id, c.filter)
			if err != nil {
				return fmt.Errorf("MatchDocument(%s, %s): %w", c.id, describe(c.filter), err)
			}
			if got != c.want {
				t.Errorf("MatchDocument(%s, %s) = %v, want %v", c.id, describe(c.filter), got, c.want)
			}
		}
		return nil
	})
	wantOK(t, "MatchDocument cases", err)
	err = write(t, s, func(ctx context.Context, tx docstore.Tx) error {
		_, err := tx.MatchDocument(ctx, "missing", "d01", nil)
		return err
	})
	wantKind(t, "MatchDocument in a missing collection", err, fault.NotFound)
	err = write(t, s, func(ctx context.Context, tx docstore.Tx) error {
		_, err := tx.MatchDocument(ctx, "fx", "d01", cmp(field(query.TypeString, "a'b"), query.OpEq, str("x")))
		return err
	})
	wantKind(t, "MatchDocument with an unsafe field", err, fault.Invalid)
}

func testMatchDocumentSeesOwnWrites(t *testing.T, s docstore.Store) {
	ctx := context.Background()
	createCollection(t, s, collection("posts"))
	owner := field(query.TypeString, "owner")
	mine := cmp(owner, query.OpEq, str("u1"))
	err := write(t, s, func(ctx context.Context, tx docstore.Tx) error {
		if err := tx.InsertDocument(ctx, doc("posts", "p1", `{"owner":"u1"}`)); err != nil {
			return err
		}
		if err := wantMatch(ctx, tx, "posts", "p1", mine, true); err != nil {
			return fmt.Errorf("after its own insert: %w", err)
		}
		moved := doc("posts", "p1", `{"owner":"u2"}`)
		moved.Version = 2
		if err := tx.UpdateDocument(ctx, moved, 1); err != nil {
			return err
		}
		if err := wantMatch(ctx, tx, "posts", "p1", mine, false); err != nil {
			return fmt.Errorf("after its own update: %w", err)
		}
		if err := tx.DeleteDocument(ctx, "posts", "p1", 2); err != nil {
			return err
		}
		if err := wantMatch(ctx, tx, "posts", "p1", nil, false); err != nil {
			return fmt.Errorf("after its own delete: %w", err)
		}
		if err := tx.InsertDocument(ctx, doc("posts", "p2", `{"owner":"u1"}`)); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Write: %v", err)
	}
	// Nothing of the rolled-back transaction is visible, to reads or to
	// the next transaction.
	_, err = s.GetDocumentWhere(ctx, "posts", "p2", mine)
	wantKind(t, "GetDocumentWhere after rollback", err, fault.NotFound)
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		for _, id := range []string{"p1", "p2"} {
			if err := wantMatch(ctx, tx, "posts", id, nil, false); err != nil {
				return fmt.Errorf("after rollback: %w", err)
			}
		}
		return nil
	})
	// A collection created in the same transaction is visible too.
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		if err := tx.CreateCollection(ctx, collection("fresh")); err != nil {
			return err
		}
		if err := tx.InsertDocument(ctx, doc("fresh", "f1", `{"owner":"u1"}`)); err != nil {
			return err
		}
		if err := wantMatch(ctx, tx, "fresh", "f1", mine, true); err != nil {
			return fmt.Errorf("in a collection created by the transaction: %w", err)
		}
		return nil
	})
	if _, err := s.GetDocumentWhere(ctx, "fresh", "f1", mine); err != nil {
		t.Fatalf("GetDocumentWhere after commit: %v", err)
	}
}

// wantMatch fails unless tx.MatchDocument answers want.
func wantMatch(ctx context.Context, tx docstore.Tx, collection, id string, filter query.Expr, want bool) error {
	got, err := tx.MatchDocument(ctx, collection, id, filter)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("MatchDocument(%s, %s) = %v, want %v", id, describe(filter), got, want)
	}
	return nil
}
