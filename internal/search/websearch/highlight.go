package websearch

import (
	"strings"
	"unicode/utf8"
)

// Typo tolerance, the same on both engines: a query word shorter than
// FuzzyMinRunes takes no part in a fuzzy match; one shorter than
// FuzzyExactRunes must be found as it is (word_similarity 1: no typo in
// short words); a longer one must be similar, word_similarity at least
// FuzzyThreshold.
const (
	FuzzyMinRunes   = 3
	FuzzyExactRunes = 5
	FuzzyThreshold  = 0.5
)

// FuzzyEnough reports whether sim, the word_similarity of the query word
// word with a text, is enough for the typo-tolerant match.
func FuzzyEnough(word string, sim float64) bool {
	if utf8.RuneCountInString(word) < FuzzyExactRunes {
		return sim >= 1
	}
	return sim >= FuzzyThreshold
}

// MarkSimilar returns a snippet of text around its first word similar to
// one of words (FuzzyEnough with the WordSimilarity of the query word with
// the text word), with every such word of the snippet between start and
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
			if FuzzyEnough(q, WordSimilarity(q, w)) {
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
