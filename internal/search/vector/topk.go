package vector

import (
	"cmp"
	"slices"
)

// topK keeps the k best (distance, id) pairs seen so far: a bounded
// max-heap whose root is the worst kept, so that a candidate costs one
// comparison unless it enters. Ties of distance are broken by id, which
// makes an exact search's answer a function of the data alone.
type topK struct {
	k     int
	items []scored
}

// scored is a candidate: an internal distance and an id.
type scored struct {
	d  float32
	id string
}

// worse reports whether a ranks after b.
func worse(a, b scored) bool {
	if a.d != b.d {
		return a.d > b.d
	}
	return a.id > b.id
}

func newTopK(k int) *topK { return &topK{k: k, items: make([]scored, 0, min(k, 1024))} }

// full reports whether k candidates are kept.
func (t *topK) full() bool { return len(t.items) >= t.k }

// bound is the worst kept distance (valid when full).
func (t *topK) bound() float32 { return t.items[0].d }

// push offers a candidate.
func (t *topK) push(d float32, id string) {
	c := scored{d, id}
	if len(t.items) < t.k {
		t.items = append(t.items, c)
		t.up(len(t.items) - 1)
		return
	}
	if !worse(t.items[0], c) {
		return
	}
	t.items[0] = c
	t.down(0)
}

func (t *topK) up(i int) {
	h := t.items
	for i > 0 {
		p := (i - 1) / 2
		if !worse(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (t *topK) down(i int) {
	h := t.items
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		w := l
		if r := l + 1; r < n && worse(h[r], h[l]) {
			w = r
		}
		if !worse(h[w], h[i]) {
			return
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}

// hits returns the kept candidates nearest first, ties in id order, with
// the contract's distances.
func (t *topK) hits(m Metric) []Hit {
	out := make([]Hit, len(t.items))
	for i, c := range t.items {
		out[i] = Hit{ID: c.id, Distance: publicDist(m, c.d)}
	}
	sortHits(out)
	return out
}

// sortHits orders hits nearest first, ties in id order.
func sortHits(h []Hit) {
	slices.SortFunc(h, func(a, b Hit) int {
		if c := cmp.Compare(a.Distance, b.Distance); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
