package search

import (
	"cmp"
	"slices"

	"github.com/basaltdev/basalt/internal/search/vector"
)

// rrfK is the constant of reciprocal rank fusion (Cormack, Clarke and
// Büttcher, 2009): a document at rank r of one side adds weight/(rrfK+r).
const rrfK = 60

// fused is one document of a hybrid search before its page is cut: its
// fused score and each side's 1-based rank (0: that side did not find it).
type fused struct {
	id                   string
	score                float64
	textRank, vectorRank int
}

// fuse combines a text ranking and a vector ranking (ids, best first) by
// weighted reciprocal rank fusion: score = w/(60+rank_text) +
// (1−w)/(60+rank_vector), a side that did not return the document adding
// nothing. It returns every document of either side, ordered by score
// descending, then id ascending, so that the order is total and a keyset
// cursor on (score, id) continues it exactly.
func fuse(text, vec []string, w float64) []fused {
	at := make(map[string]int, len(text)+len(vec))
	out := make([]fused, 0, len(text)+len(vec))
	add := func(ids []string, weight float64, text bool) {
		for i, id := range ids {
			j, ok := at[id]
			if !ok {
				j = len(out)
				at[id] = j
				out = append(out, fused{id: id})
			}
			f := &out[j]
			rank := i + 1
			if text {
				if f.textRank != 0 {
					continue // a side names a document once; keep its best rank
				}
				f.textRank = rank
			} else {
				if f.vectorRank != 0 {
					continue
				}
				f.vectorRank = rank
			}
			f.score += weight / float64(rrfK+rank)
		}
	}
	add(text, w, true)
	add(vec, 1-w, false)
	slices.SortFunc(out, func(a, b fused) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return out
}

// similarity turns a vector index's distance into the score of a vector
// hit, higher is nearer: cosine 1−distance (the cosine), dot the dot
// product, l2 1/(1+distance).
func similarity(m vector.Metric, distance float32) float64 {
	d := float64(distance)
	switch m {
	case vector.Dot:
		return -d
	case vector.L2:
		return 1 / (1 + d)
	default:
		return 1 - d
	}
}

// after reports whether a hit (score, id) comes after the keyset position
// (score, id) in the order score descending, id ascending.
func after(score float64, id string, atScore float64, atID string) bool {
	if score != atScore {
		return score < atScore
	}
	return id > atID
}
