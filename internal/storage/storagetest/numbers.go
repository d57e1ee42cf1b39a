package storagetest

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// numberFixture returns the data of collection "nx" (id, data): numbers
// written with more digits than a float64 keeps, beyond 2^53 and int64,
// with exponents, as -0, and beyond the float64 range (which the service
// refuses, but engines must still compare alike). Every value of n is a
// number or null, as a schema typing n would require. The comments give
// the float64 each number reads as (query.ReadNumber); 2^53 is
// 9007199254740992.
func numberFixture() [][2]string {
	return [][2]string{
		{"v01", `{"m":3,"n":3,"ns":[3.0000000000000000001]}`},                      // 3
		{"v02", `{"m":3.0000000000000000001,"n":3.0000000000000000001}`},           // 3
		{"v03", `{"m":"3","n":2.9999999999999999999}`},                             // 3
		{"v04", `{"m":true,"n":3e0}`},                                              // 3
		{"v05", `{"n":0.3E+1}`},                                                    // 3
		{"v06", `{"n":3.0000000000000004,"ns":[1,9007199254740993]}`},              // the float after 3
		{"v07", `{"n":-0}`},                                                        // 0
		{"v08", `{"n":0,"ns":[-0]}`},                                               // 0
		{"v09", `{"n":-0.0}`},                                                      // 0
		{"v10", `{"n":1e-16383}`},                                                  // 0, the smallest both engines store
		{"v11", `{"m":9007199254740993,"n":9007199254740993}`},                     // 2^53
		{"v12", `{"n":9007199254740993.0000000001}`},                               // 2^53 (19 digits read)
		{"v13", `{"n":9007199254740994,"ns":[0.1,1e400]}`},                         // 2^53+2
		{"v14", `{"n":9007199254740992}`},                                          // 2^53
		{"v15", `{"n":1.7976931348623157e308}`},                                    // the largest float64
		{"v16", `{"n":1e400}`},                                                     // +Inf
		{"v17", `{"n":5e-324}`},                                                    // the smallest float64 above 0
		{"v18", `{"n":2.4703282292062327e-324}`},                                   // 0 (just below half of 5e-324)
		{"v19", `{"n":2.4703282292062328e-324}`},                                   // 5e-324
		{"v20", `{"n":-3.0000000000000000001}`},                                    // -3
		{"v21", `{"n":9223372036854775807}`},                                       // 2^63
		{"v22", `{"n":1.00000000000000011102230246251565404236316680908203126}`},   // 1 (20 digits read)
		{"v23", `{"n":0.1}`},                                                       // 0.1
		{"v24", `{"n":0.1000000000000000055511151231257827021181583404541015625}`}, // 0.1
		{"v26", `{"n":null}`},                                                      // null
		{"v27", `{}`},                                                              // null (missing)
		{"v28", `{"n":1e308}`},                                                     // 1e308
		{"v29", `{"n":-1e400}`},                                                    // -Inf
	}
}

// numberCases are filters over numberFixture with the exact ids each
// matches: numbers compare as the float64 query.ReadNumber reads.
func numberCases() []filterCase {
	var (
		n  = field(query.TypeNumber, "n")
		m  = field(query.TypeAny, "m")
		ns = array(query.TypeNumber, "ns")
	)
	ids := func(s string) []string { return strings.Fields(s) }
	all := func(except string) []string {
		skip := map[string]bool{}
		for _, id := range ids(except) {
			skip[id] = true
		}
		var out []string
		for _, d := range numberFixture() {
			if !skip[d[0]] {
				out = append(out, d[0])
			}
		}
		return out
	}
	const (
		two53  = 1 << 53
		two63  = 1 << 63
		after3 = 3.0000000000000004
		after1 = 1.0000000000000002
	)
	return []filterCase{
		{"n <= 3", cmp(n, query.OpLe, num(3)),
			ids("v01 v02 v03 v04 v05 v07 v08 v09 v10 v17 v18 v19 v20 v22 v23 v24 v29")},
		{"!(n <= 3)", not(cmp(n, query.OpLe, num(3))),
			all("v01 v02 v03 v04 v05 v07 v08 v09 v10 v17 v18 v19 v20 v22 v23 v24 v29")},
		{"n = 3", cmp(n, query.OpEq, num(3)), ids("v01 v02 v03 v04 v05")},
		{"n != 3", cmp(n, query.OpNe, num(3)), all("v01 v02 v03 v04 v05")},
		{"n > 3", cmp(n, query.OpGt, num(3)), ids("v06 v11 v12 v13 v14 v15 v16 v21 v28")},
		{"n < 3", cmp(n, query.OpLt, num(3)), ids("v07 v08 v09 v10 v17 v18 v19 v20 v22 v23 v24 v29")},
		{"n >= 3", cmp(n, query.OpGe, num(3)), ids("v01 v02 v03 v04 v05 v06 v11 v12 v13 v14 v15 v16 v21 v28")},
		{"n = -3", cmp(n, query.OpEq, num(-3)), ids("v20")},
		{"n = float after 3", cmp(n, query.OpEq, num(after3)), ids("v06")},
		{"n = 0", cmp(n, query.OpEq, num(0)), ids("v07 v08 v09 v10 v18")},
		{"n = -0", cmp(n, query.OpEq, num(math.Copysign(0, -1))), ids("v07 v08 v09 v10 v18")},
		{"n < 0", cmp(n, query.OpLt, num(0)), ids("v20 v29")},
		{"n <= -0", cmp(n, query.OpLe, num(math.Copysign(0, -1))), ids("v07 v08 v09 v10 v18 v20 v29")},
		{"n > 0", cmp(n, query.OpGt, num(0)),
			ids("v01 v02 v03 v04 v05 v06 v11 v12 v13 v14 v15 v16 v17 v19 v21 v22 v23 v24 v28")},
		{"n = 5e-324", cmp(n, query.OpEq, num(5e-324)), ids("v17 v19")},
		{"n = 1", cmp(n, query.OpEq, num(1)), ids("v22")},
		{"n = float after 1", cmp(n, query.OpEq, num(after1)), nil},
		{"n = 0.1", cmp(n, query.OpEq, num(0.1)), ids("v23 v24")},
		{"n = 2^53", cmp(n, query.OpEq, num(two53)), ids("v11 v12 v14")},
		{"n = 2^53+2", cmp(n, query.OpEq, num(two53+2)), ids("v13")},
		{"n > 2^53", cmp(n, query.OpGt, num(two53)), ids("v13 v15 v16 v21 v28")},
		{"n <= 2^53", cmp(n, query.OpLe, num(two53)),
			ids("v01 v02 v03 v04 v05 v06 v07 v08 v09 v10 v11 v12 v14 v17 v18 v19 v20 v22 v23 v24 v29")},
		{"n < 2^53+2", cmp(n, query.OpLt, num(two53+2)),
			ids("v01 v02 v03 v04 v05 v06 v07 v08 v09 v10 v11 v12 v14 v17 v18 v19 v20 v22 v23 v24 v29")},
		{"n >= 2^53+2", cmp(n, query.OpGe, num(two53+2)), ids("v13 v15 v16 v21 v28")},
		{"n = 2^63", cmp(n, query.OpEq, num(two63)), ids("v21")},
		{"n >= 2^63", cmp(n, query.OpGe, num(two63)), ids("v15 v16 v21 v28")},
		{"n < 2^63", cmp(n, query.OpLt, num(two63)),
			all("v15 v16 v21 v26 v27 v28")},
		{"n = max float64", cmp(n, query.OpEq, num(math.MaxFloat64)), ids("v15")},
		{"n >= max float64", cmp(n, query.OpGe, num(math.MaxFloat64)), ids("v15 v16")},
		{"n > 1e308", cmp(n, query.OpGt, num(1e308)), ids("v15 v16")},
		{"n < -max float64", cmp(n, query.OpLt, num(-math.MaxFloat64)), ids("v29")},
		{"n in [3 0 2^53]", in(n, num(3), num(0), num(two53)),
			ids("v01 v02 v03 v04 v05 v07 v08 v09 v10 v11 v12 v14 v18")},
		{"n not in [3 0]", notIn(n, num(3), num(0)), all("v01 v02 v03 v04 v05 v07 v08 v09 v10 v18")},
		{"n in [2^63 5e-324 null]", in(n, num(two63), num(5e-324), null()), ids("v17 v19 v21 v26 v27")},
		{"n = null", cmp(n, query.OpEq, null()), ids("v26 v27")},

		// A field of several types: numbers compare alike.
		{"m = 3", cmp(m, query.OpEq, num(3)), ids("v01 v02")},
		{"m != 3", cmp(m, query.OpNe, num(3)), all("v01 v02")},
		{"m in [3 '3']", in(m, num(3), str("3")), ids("v01 v02 v03")},
		{"m = 2^53", cmp(m, query.OpEq, num(two53)), ids("v11")},
		{"m in [2^53 true]", in(m, num(two53), boolean(true)), ids("v04 v11")},

		// Array elements.
		{"ns ?= 3", anyOf(ns, query.OpEq, num(3)), ids("v01")},
		{"ns ?= 2^53", anyOf(ns, query.OpEq, num(two53)), ids("v06")},
		{"ns ?= 0", anyOf(ns, query.OpEq, num(0)), ids("v08")},
		{"ns ?> 1e308", anyOf(ns, query.OpGt, num(1e308)), ids("v13")},
		{"ns ?< 3", anyOf(ns, query.OpLt, num(3)), ids("v06 v08 v13")},
		{"ns ?<= 3", anyOf(ns, query.OpLe, num(3)), ids("v01 v06 v08 v13")},
		{"ns ?in [0.1 3]", &query.Compare{Field: ns, Op: query.OpIn, Any: true,
			Values: []query.Value{num(0.1), num(3)}}, ids("v01 v13")},
	}
}

// loadNumbers creates collection "nx", with an index on n, and the
// documents of numberFixture.
func loadNumbers(t *testing.T, s docstore.Store) {
	t.Helper()
	createCollection(t, s, collection("nx", docstore.Index{Fields: []string{"n"}}))
	var docs []docstore.Document
	for _, f := range numberFixture() {
		docs = append(docs, doc("nx", f[0], f[1]))
	}
	insert(t, s, docs...)
}

// testNumbers checks that every number case selects the same documents in
// a list, in a count, in MatchDocument, and with query.Match over the
// document GetDocument returns (which is how a read by id applies a
// rule): a document is never visible one way and hidden another.
func testNumbers(t *testing.T, s docstore.Store) {
	loadNumbers(t, s)
	ctx := context.Background()
	n := field(query.TypeNumber, "n")
	for _, f := range []float64{math.Inf(1), math.Inf(-1), math.NaN()} {
		for _, e := range []query.Expr{cmp(n, query.OpLe, num(f)), in(n, num(1), num(f))} {
			_, err := s.ListDocuments(ctx, docstore.ListParams{Collection: "nx", Filter: e,
				Sort: []query.SortKey{{Field: sys(query.SystemID)}}, Limit: 10})
			wantKind(t, "a list filtered by "+query.Format(e), err, fault.Invalid)
			_, err = query.Match(e, query.Document{ID: "v01", Data: []byte(`{"n":1}`)})
			wantKind(t, "query.Match of "+query.Format(e), err, fault.Invalid)
		}
	}
	for _, c := range numberCases() {
		docs, err := s.ListDocuments(ctx, docstore.ListParams{Collection: "nx", Filter: c.expr,
			Sort: []query.SortKey{{Field: sys(query.SystemID)}}, Limit: 1000})
		wantOK(t, "ListDocuments", err)
		if got := ids(docs); !sameIDs(got, c.want) {
			t.Errorf("filter %s: listed %v, want %v", c.name, got, c.want)
		}
		count, err := s.CountDocuments(ctx, docstore.CountParams{Collection: "nx", Filter: c.expr})
		wantOK(t, "CountDocuments", err)
		if count != int64(len(c.want)) {
			t.Errorf("filter %s: counted %d, want %d", c.name, count, len(c.want))
		}
		want := map[string]bool{}
		for _, id := range c.want {
			want[id] = true
		}
		for _, f := range numberFixture() {
			id := f[0]
			var matched bool
			err := s.Write(ctx, func(tx docstore.Tx) error {
				var err error
				matched, err = tx.MatchDocument(ctx, "nx", id, c.expr)
				return err
			})
			wantOK(t, "MatchDocument", err)
			if matched != want[id] {
				t.Errorf("filter %s: MatchDocument(%s) = %v, want %v", c.name, id, matched, want[id])
			}
			d, err := s.GetDocument(ctx, "nx", id)
			wantOK(t, "GetDocument", err)
			ok, err := query.Match(c.expr, query.Document{ID: d.ID, Version: d.Version, CreatedAt: d.CreatedAt,
				UpdatedAt: d.UpdatedAt, Data: d.Data})
			wantOK(t, "query.Match", err)
			if ok != want[id] {
				t.Errorf("filter %s: query.Match on the stored %s = %v, want %v", c.name, id, ok, want[id])
			}
		}
	}
}

// testNumbersRandom stores numbers that are hard to read (the midpoints
// between adjacent float64s, written whole and cut after 17 to 25 digits,
// and in exponent form) and compares them with the float64s around them:
// every list and count selects what query.Match selects.
func testNumbersRandom(t *testing.T, s docstore.Store) {
	rng := rand.New(rand.NewPCG(13, 21))
	var floats []float64
	for i := range 40 {
		var f float64
		switch i % 4 {
		case 0:
			f = math.Float64frombits(rng.Uint64() &^ (1 << 63))
		case 1:
			f = float64(1<<53 + rng.Int64N(1<<12))
		case 2:
			f = rng.Float64() * 1e-310
		default:
			f = rng.Float64() * math.Pow(10, float64(rng.IntN(40)-20))
		}
		if math.IsInf(f, 0) || math.IsNaN(f) || f == math.MaxFloat64 {
			continue
		}
		if i%3 == 0 {
			f = -f
		}
		floats = append(floats, f)
	}
	var texts []string
	for _, f := range floats {
		mid := midpointText(f)
		texts = append(texts, mid, mid+"1", new(big.Float).SetPrec(4000).SetFloat64(f).Text('e', 25))
		digits := strings.IndexByte(mid, '.')
		for _, k := range []int{17, 19, 20, 25} {
			if n := k + 2 + max(digits, 0); len(mid) > n {
				texts = append(texts, mid[:n]+"1", mid[:n]+"9")
			}
		}
		if m, ok := new(big.Float).SetPrec(4000).SetString(mid); ok {
			texts = append(texts, m.Text('e', 19))
		}
	}
	createCollection(t, s, collection("nr", docstore.Index{Fields: []string{"n"}}))
	docs := make([]docstore.Document, len(texts))
	for i, x := range texts {
		docs[i] = doc("nr", fmt.Sprintf("r%04d", i), `{"n":`+x+`}`)
	}
	insert(t, s, docs...)

	ctx := context.Background()
	n := field(query.TypeNumber, "n")
	for _, f := range floats {
		for _, lit := range []float64{f, math.Nextafter(f, math.Inf(1)), math.Nextafter(f, math.Inf(-1))} {
			for _, op := range []query.Op{query.OpEq, query.OpLt, query.OpLe, query.OpGt, query.OpGe} {
				e := cmp(n, op, num(lit))
				var want []string
				for _, d := range docs {
					ok, err := query.Match(e, query.Document{ID: d.ID, Version: d.Version, Data: d.Data})
					wantOK(t, "query.Match", err)
					if ok {
						want = append(want, d.ID)
					}
				}
				got, err := s.ListDocuments(ctx, docstore.ListParams{Collection: "nr", Filter: e,
					Sort: []query.SortKey{{Field: sys(query.SystemID)}}, Limit: 10000})
				wantOK(t, "ListDocuments", err)
				if !sameIDs(ids(got), want) {
					t.Fatalf("filter %s: listed %v, query.Match selects %v", query.Format(e), ids(got), want)
				}
				count, err := s.CountDocuments(ctx, docstore.CountParams{Collection: "nr", Filter: e})
				wantOK(t, "CountDocuments", err)
				if count != int64(len(want)) {
					t.Fatalf("filter %s: counted %d, query.Match selects %d", query.Format(e), count, len(want))
				}
			}
		}
	}
}

// midpointText returns, in decimal and exactly, the midpoint between f and
// the next float64 away from zero.
func midpointText(f float64) string {
	m := new(big.Rat).Add(new(big.Rat).SetFloat64(f), new(big.Rat).SetFloat64(math.Nextafter(f, math.Copysign(math.Inf(1), f))))
	m.Quo(m, big.NewRat(2, 1))
	text := strings.TrimRight(m.FloatString(1100), "0")
	return strings.TrimSuffix(text, ".")
}
