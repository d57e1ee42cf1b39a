package search

import (
	"math"
	"testing"

	"github.com/basaltdev/basalt/internal/search/vector"
)

func TestFuseIsWeightedReciprocalRankFusion(t *testing.T) {
	const w = 0.7
	got := fuse([]string{"a", "b", "c"}, []string{"c", "d", "a"}, w)
	want := map[string]float64{
		"a": w/61 + (1-w)/63,
		"b": w / 62,
		"c": w/63 + (1-w)/61,
		"d": (1 - w) / 62,
	}
	if len(got) != len(want) {
		t.Fatalf("fused %d documents, want %d", len(got), len(want))
	}
	for i, f := range got {
		if math.Abs(f.score-want[f.id]) > 1e-15 {
			t.Errorf("%s: score %v, want %v", f.id, f.score, want[f.id])
		}
		if i > 0 && !after(f.score, f.id, got[i-1].score, got[i-1].id) {
			t.Errorf("%s is not after %s", f.id, got[i-1].id)
		}
	}
	ranks := map[string][2]int{"a": {1, 3}, "b": {2, 0}, "c": {3, 1}, "d": {0, 2}}
	for _, f := range got {
		if r := ranks[f.id]; f.textRank != r[0] || f.vectorRank != r[1] {
			t.Errorf("%s: ranks %d/%d, want %v", f.id, f.textRank, f.vectorRank, r)
		}
	}
	// Equal scores fall back to id order; weight 1 ignores the vector side.
	tie := fuse([]string{"y"}, []string{"x"}, 0.5)
	if tie[0].id != "x" || tie[1].id != "y" {
		t.Errorf("tie order %v", tie)
	}
	if only := fuse([]string{"t"}, []string{"v"}, 1); only[0].id != "t" || only[1].score != 0 {
		t.Errorf("weight 1: %v", only)
	}
	// A side that names a document twice keeps its best rank.
	if dup := fuse([]string{"a", "a"}, nil, 1); len(dup) != 1 || dup[0].score != 1.0/61 {
		t.Errorf("duplicate: %v", dup)
	}
}

func TestSimilarity(t *testing.T) {
	for _, c := range []struct {
		m    vector.Metric
		d    float32
		want float64
	}{
		{vector.Cosine, 0.25, 0.75}, {vector.Cosine, 2, -1},
		{vector.Dot, -3.5, 3.5}, {vector.Dot, 2, -2},
		{vector.L2, 0, 1}, {vector.L2, 3, 0.25},
	} {
		if got := similarity(c.m, c.d); got != c.want {
			t.Errorf("%s(%v) = %v, want %v", c.m, c.d, got, c.want)
		}
	}
	if finite(math.Inf(1)) != math.MaxFloat64 || finite(math.NaN()) != -math.MaxFloat64 || finite(2) != 2 {
		t.Error("finite")
	}
}
