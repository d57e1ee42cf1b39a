package websearch

import (
	"strings"
	"unicode/utf8"
)

// Typo tolerance, the same on both engines: a query word shorter than
// FuzzyMinRunes takes no part in a fuzzy match; one shorter than
// FuzzyExactRunes must be found as it is (no typo in short words); a
// longer one matches a word of the text that is similar to it (Similar):
// a word_similarity of at least FuzzyThreshold, or at most MaxTypos(word)
// typos away.
const (
	FuzzyMinRunes   = 3
	FuzzyExactRunes = 5
	FuzzyThreshold  = 0.5
	// TwoTypoRunes is the length from which a word takes two typos.
	TwoTypoRunes = 9
)

// MaxTypos returns the typos a query word of FuzzyExactRunes or more
// letters may have: one up to eight letters, two from TwoTypoRunes on.
func MaxTypos(word string) int {
	switch n := utf8.RuneCountInString(word); {
	case n < FuzzyExactRunes:
		return 0
	case n < TwoTypoRunes:
		return 1
	}
	return 2
}

// Similar reports whether the text word w matches the query word q in the
// typo-tolerant match: equal (ignoring case) when q is shorter than
// FuzzyExactRunes, otherwise a WordSimilarity(q, w) of at least
// FuzzyThreshold (which also admits w holding q, as "postgresql" holds
// "postgre") or at most MaxTypos(q) typos apart (Typos). Trigram
// similarity alone forgives little in short words: one letter changed in
// the middle of a word of seven letters leaves 0.45, of five 0.33.
func Similar(q, w string) bool {
	q, w = strings.ToLower(q), strings.ToLower(w)
	n := utf8.RuneCountInString(q)
	switch {
	case n < FuzzyMinRunes:
		return false
	case n < FuzzyExactRunes:
		return q == w
	}
	return WordSimilarity(q, w) >= FuzzyThreshold || Typos(q, w, MaxTypos(q)) <= MaxTypos(q)
}

// Typos returns the number of typos between a and b — letters inserted,
// deleted, changed, or two adjacent letters swapped (the optimal string
// alignment distance, over runes) — or max+1 when there are more than max.
func Typos(a, b string, max int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > max || -d > max {
		return max + 1
	}
	// Three rows of the distance matrix: two back (for swaps), one back,
	// and the current one.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = d
			rowMin = min(rowMin, d)
		}
		if rowMin > max {
			return max + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(rb)], max+1)
}

// MarkSimilar returns a snippet of text around its first word similar to
// one of words (Similar), with every such word of the snippet between start and
// end, and whether there was one. The snippet holds at most maxWords
// words, begins up to a quarter of them before the first similar word,
// and has "…" where the text was cut. It is the highlight of a
// typo-tolerant hit, whose words FTS5's highlight() cannot mark.
func MarkSimilar(text string, words []string, maxWords int, start, end string) (string, bool) {
	type span struct{ from, to int }
	var spans []span
	in := -1
	for i, r := range text {
		switch {
		case isWordRune(r) && in < 0:
			in = i
		case !isWordRune(r) && in >= 0:
			spans = append(spans, span{in, i})
			in = -1
		}
	}
	if in >= 0 {
		spans = append(spans, span{in, len(text)})
	}
	similar := make([]bool, len(spans))
	first := -1
	for i, sp := range spans {
		w := text[sp.from:sp.to]
		for _, q := range words {
			if Similar(q, w) {
				similar[i] = true
				break
			}
		}
		if similar[i] && first < 0 {
			first = i
		}
	}
	if first < 0 {
		return "", false
	}
	if maxWords < 1 {
		maxWords = 1
	}
	lo := max(0, first-maxWords/4)
	hi := min(len(spans), lo+maxWords)
	lo = max(0, min(lo, hi-maxWords))
	var b strings.Builder
	from := 0
	if lo > 0 {
		b.WriteString("…")
		from = spans[lo].from
	}
	for i := lo; i < hi; i++ {
		sp := spans[i]
		b.WriteString(text[from:sp.from])
		if similar[i] {
			b.WriteString(start)
			b.WriteString(text[sp.from:sp.to])
			b.WriteString(end)
		} else {
			b.WriteString(text[sp.from:sp.to])
		}
		from = sp.to
	}
	if hi < len(spans) {
		b.WriteString("…")
	} else {
		b.WriteString(text[from:])
	}
	return b.String(), true
}
