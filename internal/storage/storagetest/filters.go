package storagetest

import (
	"context"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

type filterCase struct {
	name string
	expr query.Expr
	want []string // ids, ascending
}

const injection = "'; DROP TABLE docs_x; --"

// filterCases are filters over the fixture with the exact ids each
// matches. See fixture for the data and query.Compare for the semantics.
func filterCases() []filterCase {
	var (
		name    = field(query.TypeString, "name")
		score   = field(query.TypeNumber, "score")
		count   = field(query.TypeInteger, "count")
		active  = field(query.TypeBoolean, "active")
		author  = field(query.TypeObject, "author")
		aName   = field(query.TypeString, "author", "name")
		aAge    = field(query.TypeInteger, "author", "age")
		tags    = array(query.TypeString, "tags")
		nums    = array(query.TypeNumber, "nums")
		mixed   = field(query.TypeAny, "mixed")
		id      = sys(query.SystemID)
		version = sys(query.SystemVersion)
		created = sys(query.SystemCreatedAt)
		updated = sys(query.SystemUpdatedAt)
	)
	all := func(except ...string) []string {
		var out []string
	next:
		for i := 1; i <= 12; i++ {
			id := "d" + string(rune('0'+i/10)) + string(rune('0'+i%10))
			for _, e := range except {
				if e == id {
					continue next
				}
			}
			out = append(out, id)
		}
		return out
	}
	ids := func(s string) []string { return strings.Fields(s) }
	return []filterCase{
		// Strings, null and missing.
		{"name = null", cmp(name, query.OpEq, null()), ids("d08 d09")},
		{"name != null", cmp(name, query.OpNe, null()), all("d08", "d09")},
		{"name = Alpha", cmp(name, query.OpEq, str("Alpha")), ids("d01")},
		{"name = alpha (case-sensitive)", cmp(name, query.OpEq, str("alpha")), ids("d02")},
		{"name != Alpha (includes null and missing)", cmp(name, query.OpNe, str("Alpha")), all("d01")},
		{"name = empty string", cmp(name, query.OpEq, str("")), ids("d07")},
		{"name = injection", cmp(name, query.OpEq, str(injection)), ids("d04")},
		{"name = quoted", cmp(name, query.OpEq, str(`O'Brien "quoted"`)), ids("d11")},
		{"name = or-injection", cmp(name, query.OpEq, str(`x' OR '1'='1`)), nil},
		{"name = japanese", cmp(name, query.OpEq, str("日本語")), ids("d06")},
		{"name = unicode", cmp(name, query.OpEq, str("Ünïcødé ✓")), ids("d05")},
		{"name ~ alp", cmp(name, query.OpContains, str("alp")), ids("d01 d02")},
		{"name ~ ALPHA", cmp(name, query.OpContains, str("ALPHA")), ids("d01 d02")},
		{"name ~ % (no wildcard)", cmp(name, query.OpContains, str("%")), ids("d10")},
		{"name ~ _ (no wildcard)", cmp(name, query.OpContains, str("_")), ids("d04 d10")},
		{"name ~ drop table", cmp(name, query.OpContains, str("drop table")), ids("d04")},
		{"name ~ ünï (ASCII-only folding)", cmp(name, query.OpContains, str("ünï")), nil},
		{"name ~ Ünï", cmp(name, query.OpContains, str("Ünï")), ids("d05")},
		{"name ~ quote", cmp(name, query.OpContains, str(`'b`)), ids("d11")},
		{"name !~ a", cmp(name, query.OpNotContains, str("a")), ids("d05 d06 d07 d08 d09 d11")},
		{"name ~ empty", cmp(name, query.OpContains, str("")), all("d08", "d09")},
		{"name in [Alpha Beta nope]", in(name, str("Alpha"), str("Beta"), str("nope")), ids("d01 d03")},
		{"name not in [Alpha Beta]", notIn(name, str("Alpha"), str("Beta")), all("d01", "d03")},
		{"name in [null zeta]", in(name, null(), str("zeta")), ids("d08 d09 d12")},
		{"name not in [null zeta]", notIn(name, null(), str("zeta")), all("d08", "d09", "d12")},
		{"name > a (bytewise)", cmp(name, query.OpGt, str("a")), ids("d02 d05 d06 d10 d12")},
		{"name < B", cmp(name, query.OpLt, str("B")), ids("d01 d04 d07")},
		{"name <= empty", cmp(name, query.OpLe, str("")), ids("d07")},
		{"!(name < B)", not(cmp(name, query.OpLt, str("B"))), all("d01", "d04", "d07")},

		// Numbers: integral and not, written in several ways.
		{"score > 10", cmp(score, query.OpGt, num(10)), ids("d05 d10")},
		{"score >= 10", cmp(score, query.OpGe, num(10)), ids("d01 d05 d07 d10")},
		{"score = 10", cmp(score, query.OpEq, num(10)), ids("d01 d07")},
		{"score = 100", cmp(score, query.OpEq, num(100)), ids("d05 d10")},
		{"score < 0", cmp(score, query.OpLt, num(0)), ids("d03 d11")},
		{"score <= 0", cmp(score, query.OpLe, num(0)), ids("d03 d04 d11")},
		{"score != 10", cmp(score, query.OpNe, num(10)), all("d01", "d07")},
		{"score = 1.5", cmp(score, query.OpEq, num(1.5)), ids("d02")},
		{"score > 9.98", cmp(score, query.OpGt, num(9.98)), ids("d01 d05 d07 d10 d12")},
		{"score in [0 2.5 9.99]", in(score, num(0), num(2.5), num(9.99)), ids("d04 d09 d12")},
		{"score = null", cmp(score, query.OpEq, null()), ids("d06 d08")},
		{"!(score > 1)", not(cmp(score, query.OpGt, num(1))), ids("d03 d04 d06 d08 d11")},
		{"count = 0", cmp(count, query.OpEq, num(0)), ids("d03")},
		{"count < 0", cmp(count, query.OpLt, num(0)), ids("d02 d11")},
		{"count >= 5 and count <= 10", and(cmp(count, query.OpGe, num(5)), cmp(count, query.OpLe, num(10))), ids("d04 d07 d10 d12")},
		{"count not in [1 3 100]", notIn(count, num(1), num(3), num(100)), all("d01", "d05", "d09")},
		{"count > 4.5", cmp(count, query.OpGt, num(4.5)), ids("d04 d05 d07 d10 d12")},

		// Booleans.
		{"active = true", cmp(active, query.OpEq, boolean(true)), ids("d01 d03 d07 d10 d11")},
		{"active = false", cmp(active, query.OpEq, boolean(false)), ids("d02 d05 d09 d12")},
		{"active != true", cmp(active, query.OpNe, boolean(true)), ids("d02 d04 d05 d06 d08 d09 d12")},
		{"active = null", cmp(active, query.OpEq, null()), ids("d04 d06 d08")},
		{"active != false", cmp(active, query.OpNe, boolean(false)), all("d02", "d05", "d09", "d12")},
		{"active in [false null]", in(active, boolean(false), null()), ids("d02 d04 d05 d06 d08 d09 d12")},

		// Nested objects.
		{"author.name = Ann", cmp(aName, query.OpEq, str("Ann")), ids("d01 d03 d12")},
		{"author.name ~ ann", cmp(aName, query.OpContains, str("ann")), ids("d01 d03 d10 d12")},
		{"author.name = null", cmp(aName, query.OpEq, null()), ids("d04 d06 d07 d08 d09 d11")},
		{"author.age >= 30", cmp(aAge, query.OpGe, num(30)), ids("d01 d05 d10")},
		{"author.age != 30", cmp(aAge, query.OpNe, num(30)), all("d01", "d10")},
		{"author = null", cmp(author, query.OpEq, null()), ids("d04 d06 d07 d08 d11")},
		{"author != null", cmp(author, query.OpNe, null()), ids("d01 d02 d03 d05 d09 d10 d12")},

		// Arrays.
		{"tags ?= red", anyOf(tags, query.OpEq, str("red")), ids("d01 d04 d05")},
		{"tags ?~ red", anyOf(tags, query.OpContains, str("red")), ids("d01 d04 d05 d07")},
		{"!(tags ?= blue)", not(anyOf(tags, query.OpEq, str("blue"))), all("d01", "d02", "d10")},
		{"tags ?in [green x_y]", &query.Compare{Field: tags, Op: query.OpIn, Any: true,
			Values: []query.Value{str("green"), str("x_y")}}, ids("d05 d09 d10")},
		{"tags ?~ %", anyOf(tags, query.OpContains, str("%")), ids("d09")},
		{"tags ?= it's", anyOf(tags, query.OpEq, str("it's")), ids("d11")},
		{"tags ?!= red", anyOf(tags, query.OpNe, str("red")), ids("d01 d02 d05 d07 d09 d10 d11")},
		{"tags = null", cmp(tags, query.OpEq, null()), ids("d06 d08 d12")},
		{"nums ?> 2", anyOf(nums, query.OpGt, num(2)), ids("d02 d05")},
		{"nums ?= 1.5", anyOf(nums, query.OpEq, num(1.5)), ids("d07")},
		{"nums ?< 0", anyOf(nums, query.OpLt, num(0)), ids("d07")},
		{"nums ?= 2 (duplicates count once)", anyOf(nums, query.OpEq, num(2)), ids("d01 d10")},

		// A field of several types: no cross-type equality.
		{"mixed = '1'", cmp(mixed, query.OpEq, str("1")), ids("d01")},
		{"mixed = 1", cmp(mixed, query.OpEq, num(1)), ids("d02")},
		{"mixed = true", cmp(mixed, query.OpEq, boolean(true)), ids("d03")},
		{"mixed = false", cmp(mixed, query.OpEq, boolean(false)), ids("d12")},
		{"mixed = 0", cmp(mixed, query.OpEq, num(0)), ids("d09")},
		{"mixed = 'true'", cmp(mixed, query.OpEq, str("true")), ids("d07")},
		{"mixed = O'Brien", cmp(mixed, query.OpEq, str("O'Brien")), ids("d11")},
		{"mixed = null", cmp(mixed, query.OpEq, null()), ids("d04 d08 d10")},
		{"mixed != null", cmp(mixed, query.OpNe, null()), all("d04", "d08", "d10")},
		{"mixed != 1", cmp(mixed, query.OpNe, num(1)), all("d02")},
		{"mixed in ['1' 1 true]", in(mixed, str("1"), num(1), boolean(true)), ids("d01 d02 d03")},
		{"mixed not in [0 false]", notIn(mixed, num(0), boolean(false)), all("d09", "d12")},

		// Logic.
		{"name = Alpha or score = 100", or(cmp(name, query.OpEq, str("Alpha")), cmp(score, query.OpEq, num(100))), ids("d01 d05 d10")},
		{"active and score >= 10", and(cmp(active, query.OpEq, boolean(true)), cmp(score, query.OpGe, num(10))), ids("d01 d07 d10")},
		{"!(active and score >= 10)", not(and(cmp(active, query.OpEq, boolean(true)), cmp(score, query.OpGe, num(10)))),
			all("d01", "d07", "d10")},
		{"!!(name = null)", not(not(cmp(name, query.OpEq, null()))), ids("d08 d09")},
		{"!(name = Alpha or active = null)", not(or(cmp(name, query.OpEq, str("Alpha")), cmp(active, query.OpEq, null()))),
			ids("d02 d03 d05 d07 d09 d10 d11 d12")},
		{"!(score < 5)", not(cmp(score, query.OpLt, num(5))), ids("d01 d05 d06 d07 d08 d10 d12")},
		{"!(score < 5 or !(count > 5))", not(or(cmp(score, query.OpLt, num(5)), not(cmp(count, query.OpGt, num(5))))),
			ids("d05 d07 d12")},
		{"empty and", and(), all()},
		{"empty or", or(), nil},
		{"!(empty or)", not(or()), all()},

		// System fields.
		{"id = d03", cmp(id, query.OpEq, str("d03")), ids("d03")},
		{"id > d10", cmp(id, query.OpGt, str("d10")), ids("d11 d12")},
		{"id in [d01 d12 zz]", in(id, str("d01"), str("d12"), str("zz")), ids("d01 d12")},
		{"id ~ 1", cmp(id, query.OpContains, str("1")), ids("d01 d10 d11 d12")},
		{"version >= 2", cmp(version, query.OpGe, num(2)), ids("d05 d09")},
		{"version != 1", cmp(version, query.OpNe, num(1)), ids("d05 d09")},
		{"createdAt >= minute 11", cmp(created, query.OpGe, timeValue(at(11))), ids("d11 d12")},
		{"createdAt < minute 2", cmp(created, query.OpLt, timeValue(at(2).In(fixedZone()))), ids("d01")},
		{"updatedAt > minute 30", cmp(updated, query.OpGt, timeValue(at(30))), ids("d05")},
		{"updatedAt = minute 3", cmp(updated, query.OpEq, timeValue(at(3))), ids("d03")},
	}
}

func testFilter(t *testing.T, s docstore.Store) {
	loadFixture(t, s)
	for _, c := range filterCases() {
		got := list(t, s, c.expr, nil)
		if !sameIDs(got, c.want) {
			t.Errorf("filter %s: got %v, want %v", c.name, got, c.want)
		}
	}
	// The injection-looking data and literals changed nothing.
	if got := list(t, s, nil, nil); len(got) != len(fixture()) {
		t.Fatalf("after the filters the collection has %d documents, want %d", len(got), len(fixture()))
	}
}

func testFilterRejectsUnsafeFields(t *testing.T, s docstore.Store) {
	loadFixture(t, s)
	ctx := context.Background()
	for _, path := range [][]string{{"a'b"}, {"a", "b') OR 1=1 --"}, {""}, {"a.b"}, {}} {
		f := field(query.TypeString, path...)
		_, err := s.ListDocuments(ctx, docstore.ListParams{Collection: "fx", Limit: 5,
			Filter: cmp(f, query.OpEq, str("x")), Sort: []query.SortKey{{Field: sys(query.SystemID)}}})
		wantKind(t, "filter on "+describe(path), err, fault.Invalid)
		_, err = s.ListDocuments(ctx, docstore.ListParams{Collection: "fx", Limit: 5,
			Sort: []query.SortKey{{Field: f}, {Field: sys(query.SystemID)}}})
		wantKind(t, "sort on "+describe(path), err, fault.Invalid)
		_, err = s.CountDocuments(ctx, docstore.CountParams{Collection: "fx", Filter: cmp(f, query.OpEq, null())})
		wantKind(t, "count on "+describe(path), err, fault.Invalid)
	}
	_, err := s.ListDocuments(ctx, docstore.ListParams{Collection: "fx; DROP TABLE collections", Limit: 5,
		Sort: []query.SortKey{{Field: sys(query.SystemID)}}})
	if !fault.Is(err, fault.Invalid) && !fault.Is(err, fault.NotFound) {
		t.Fatalf("ListDocuments of an invalid collection name: %v", err)
	}
	if got := list(t, s, nil, nil); len(got) != len(fixture()) {
		t.Fatalf("the collection has %d documents, want %d", len(got), len(fixture()))
	}
}
