package query

import "testing"

func TestOpPositive(t *testing.T) {
	cases := []struct {
		op   Op
		want Op
		neg  bool
	}{
		{OpEq, OpEq, false}, {OpNe, OpEq, true},
		{OpContains, OpContains, false}, {OpNotContains, OpContains, true},
		{OpIn, OpIn, false}, {OpNotIn, OpIn, true},
		{OpLt, OpLt, false}, {OpLe, OpLe, false}, {OpGt, OpGt, false}, {OpGe, OpGe, false},
	}
	for _, c := range cases {
		if got, neg := c.op.Positive(); got != c.want || neg != c.neg {
			t.Errorf("%v.Positive() = %v, %v; want %v, %v", c.op, got, neg, c.want, c.neg)
		}
	}
}
