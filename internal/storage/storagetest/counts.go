package storagetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/query"
)

// countCases are the cases of limited counts: a count with a positive
// Limit stops there, so it answers min(matches, Limit), below, at and
// above the limit, whatever the filter, with or without the collection's
// indexes named.
func countCases() []testCase {
	return []testCase{
		{"CountLimitedFilters", testCountLimitedFilters},
		{"CountLimitedWithRule", testCountLimitedWithRule},
		{"CountLimitedIndexed", testCountLimitedIndexed},
	}
}

// limitsAround returns the limits around want: 1, want-1, want, want+1
// (those that are positive).
func limitsAround(want int) []int64 {
	var out []int64
	for _, l := range []int{1, want - 1, want, want + 1} {
		if l > 0 && !slices.Contains(out, int64(l)) {
			out = append(out, int64(l))
		}
	}
	return out
}

// wantCount checks one count of p at each limit around want, and without
// a limit.
func wantCount(t *testing.T, s docstore.Store, what string, p docstore.CountParams, want int) {
	t.Helper()
	for _, limit := range append(limitsAround(want), 0) {
		p.Limit = limit
		n, err := s.CountDocuments(context.Background(), p)
		wantOK(t, fmt.Sprintf("CountDocuments(%s, limit %d)", what, limit), err)
		w := int64(want)
		if limit > 0 {
			w = min(w, limit)
		}
		if n != w {
			t.Errorf("CountDocuments(%s, limit %d) = %d, want %d (%d match)", what, limit, n, w, want)
		}
	}
}

func fixtureIndexes() []docstore.Index {
	return []docstore.Index{{Fields: []string{"score"}}, {Fields: []string{"author.name", "author.age"}}}
}

// testCountLimitedFilters counts every filter case of the fixture at limits
// around its number of matches, naming the fixture's indexes or not.
func testCountLimitedFilters(t *testing.T, s docstore.Store) {
	loadFixture(t, s)
	for _, c := range filterCases() {
		for _, ix := range [][]docstore.Index{nil, fixtureIndexes()} {
			wantCount(t, s, c.name, docstore.CountParams{Collection: "fx", Filter: c.expr, Indexes: ix}, len(c.want))
		}
	}
}

// testCountLimitedWithRule counts as the service does for a caller with a
// list rule: the rule and the filter in one conjunction.
func testCountLimitedWithRule(t *testing.T, s docstore.Store) {
	loadFixture(t, s)
	rule := cmp(field(query.TypeString, "author", "name"), query.OpEq, str("Ann")) // d01 d03 d12
	ruled := []string{"d01", "d03", "d12"}
	for _, c := range filterCases() {
		want := 0
		for _, id := range c.want {
			if slices.Contains(ruled, id) {
				want++
			}
		}
		for _, ix := range [][]docstore.Index{nil, fixtureIndexes()} {
			wantCount(t, s, "author.name = Ann and "+c.name,
				docstore.CountParams{Collection: "fx", Filter: and(rule, c.expr), Indexes: ix}, want)
		}
	}
}

// testCountLimitedIndexed counts range and equality filters on a typed,
// indexed field (the form in which an engine may read the matches from
// the index), alone, with other conditions, and on the id.
func testCountLimitedIndexed(t *testing.T, s docstore.Store) {
	c := collection("nums", docstore.Index{Fields: []string{"score"}}, docstore.Index{Fields: []string{"version"}})
	c.Schema = json.RawMessage(`{"type":"object","properties":{"score":{"type":"integer"},"tag":{"type":"string"}}}`)
	createCollection(t, s, c)
	var docs []docstore.Document
	for i := range 300 {
		d := doc("nums", fmt.Sprintf("n%03d", i), fmt.Sprintf(`{"score":%d,"tag":"t%d"}`, i%100, i%3))
		if i%50 == 7 {
			d.Data = json.RawMessage(fmt.Sprintf(`{"tag":"t%d"}`, i%3)) // no score: 6 documents
		}
		d.Version = int64(1 + i%2)
		docs = append(docs, d)
	}
	insert(t, s, docs...)
	score := field(query.TypeInteger, "score")
	tag := field(query.TypeString, "tag")
	// countScores counts the documents with a score (all but n007, n057,
	// n107, n157, n207 and n257) for which keep holds.
	countScores := func(keep func(i int) bool) int {
		n := 0
		for i := range 300 {
			if i%50 != 7 && keep(i) {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		name string
		expr query.Expr
		want int
	}{
		{"score >= 50", cmp(score, query.OpGe, num(50)), countScores(func(i int) bool { return i%100 >= 50 })},
		{"score > 98", cmp(score, query.OpGt, num(98)), 3},
		{"score < 10", cmp(score, query.OpLt, num(10)), countScores(func(i int) bool { return i%100 < 10 })},
		{"score <= 0", cmp(score, query.OpLe, num(0)), 3},
		{"score = 42", cmp(score, query.OpEq, num(42)), 3},
		{"score = 7", cmp(score, query.OpEq, num(7)), countScores(func(i int) bool { return i%100 == 7 })},
		{"score = 1000", cmp(score, query.OpEq, num(1000)), 0},
		{"score = null", cmp(score, query.OpEq, null()), 6},
		{"score != 42", cmp(score, query.OpNe, num(42)), 297},
		{"score = 1.5", cmp(score, query.OpEq, num(1.5)), 0},
		{"score = \"42\"", cmp(score, query.OpEq, str("42")), 0},
		{"score >= 50 and tag = t1", and(cmp(score, query.OpGe, num(50)), cmp(tag, query.OpEq, str("t1"))),
			countScores(func(i int) bool { return i%100 >= 50 && i%3 == 1 })},
		{"tag = t1 and score < 10", and(cmp(tag, query.OpEq, str("t1")), cmp(score, query.OpLt, num(10))),
			countScores(func(i int) bool { return i%100 < 10 && i%3 == 1 })},
		{"score in 1 2 3", in(score, num(1), num(2), num(3)), 9},
		{"not score < 50", not(cmp(score, query.OpLt, num(50))), 300 - countScores(func(i int) bool { return i%100 < 50 })},
		{"id >= n250", cmp(sys(query.SystemID), query.OpGe, str("n250")), 50},
		{"version = 2", cmp(sys(query.SystemVersion), query.OpEq, num(2)), 150},
		{"version > 1 and score >= 90", and(cmp(sys(query.SystemVersion), query.OpGt, num(1)), cmp(score, query.OpGe, num(90))),
			countScores(func(i int) bool { return i%2 == 1 && i%100 >= 90 })},
		{"every document", nil, 300},
	} {
		for _, ix := range [][]docstore.Index{nil, c.Indexes} {
			wantCount(t, s, tc.name, docstore.CountParams{Collection: "nums", Filter: tc.expr, Indexes: ix}, tc.want)
		}
	}
}
