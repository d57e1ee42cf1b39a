package websearch

import (
	"slices"
	"strings"
	"unicode"
)

// WordSimilarity returns what PostgreSQL's pg_trgm word_similarity(word,
// text) returns: the similarity of the trigrams of word with those of the
// extent of text that resembles it most, from 0 to 1.
//
// As pg_trgm (trgm_op.c, calc_word_similarity and
// iterate_word_similarity) does: each string is lower-cased and cut into
// words of letters and digits; each word, padded with two spaces before
// and one after, gives its trigrams (three consecutive characters). The
// word's trigrams form a set of u1 members. The text's trigrams, in order,
// are scanned once: an extent ends at each trigram present in the word's
// set, its lower bound moves right while that raises the similarity
// count/(u1 + u2 − count), where u2 counts the distinct trigrams of the
// extent and count those also in the word; the greatest value wins. The
// arithmetic is float32, as pg_trgm's float4, so that the result equals
// PostgreSQL's real value exactly (non-ASCII letters follow Unicode, as a
// UTF-8 database's ctype does).
func WordSimilarity(word, text string) float64 {
	return NewText(text).WordSimilarity(word)
}

// Text is a text prepared for WordSimilarity with many words: its
// trigrams, numbered, computed once, on first use.
type Text struct {
	text string
	idx  []int32           // the number of each trigram, in order
	ids  map[trigram]int32 // trigram → number; nil until computed
	// words are the text's distinct words, lower-cased, for HasSimilar;
	// nil until computed.
	words []string
}

// NewText prepares text.
func NewText(text string) *Text { return &Text{text: text} }

func (t *Text) prepare() {
	if t.ids != nil {
		return
	}
	tgs := trigrams(t.text, nil)
	t.idx, t.ids = make([]int32, len(tgs)), make(map[trigram]int32, len(tgs))
	for i, tg := range tgs {
		j, ok := t.ids[tg]
		if !ok {
			j = int32(len(t.ids))
			t.ids[tg] = j
		}
		t.idx[i] = j
	}
}

// distinct returns the trigrams of tgs, each once.
func distinct(tgs []trigram) []trigram {
	out := tgs[:0:0]
	for _, tg := range tgs {
		if !slices.Contains(out, tg) {
			out = append(out, tg)
		}
	}
	return out
}

// WordSimilarity returns WordSimilarity(word, the text).
func (t *Text) WordSimilarity(word string) float64 {
	w := distinct(trigrams(word, nil))
	if len(w) == 0 || t.text == "" {
		return 0
	}
	t.prepare()
	if len(t.idx) == 0 {
		return 0
	}
	// found marks the text's trigrams that are the word's; the word's
	// trigrams absent from the text count in ulen1 only.
	found := make([]bool, len(t.ids))
	for _, tg := range w {
		if j, ok := t.ids[tg]; ok {
			found[j] = true
		}
	}
	return float64(iterateWordSimilarity(t.idx, found, len(w)))
}

// HasSimilar reports whether one of the text's words (its runs of letters
// and digits) is Similar to the query word q: the typo-tolerant match
// compares words with words, never with a stretch of text across words.
// memo, when not nil, remembers Similar(q, word) for each word it was
// computed for, to be passed again with the same q for other texts.
func (t *Text) HasSimilar(q string, memo map[string]bool) bool {
	if t.words == nil {
		seen := map[string]bool{}
		t.words = []string{}
		for _, w := range strings.FieldsFunc(t.text, func(r rune) bool { return !isWordRune(r) }) {
			if w = strings.Map(unicode.ToLower, w); !seen[w] {
				seen[w] = true
				t.words = append(t.words, w)
			}
		}
	}
	if memo == nil {
		memo = map[string]bool{}
	}
	for _, w := range t.words {
		sim, ok := memo[w]
		if !ok {
			sim = Similar(q, w)
			memo[w] = sim
		}
		if sim {
			return true
		}
	}
	return false
}

// calcSML is pg_trgm's CALCSML, in float4.
func calcSML(count, len1, len2 int) float32 {
	return float32(count) / float32(len1+len2-count)
}

// iterateWordSimilarity is pg_trgm's iterate_word_similarity without the
// strict and threshold-only variants.
func iterateWordSimilarity(idx []int32, found []bool, ulen1 int) float32 {
	lastpos := make([]int, len(found))
	for i := range lastpos {
		lastpos[i] = -1
	}
	var smlrMax float32
	ulen2, count, lower := 0, 0, -1
	for i, tg := range idx {
		if lower >= 0 || found[tg] {
			if lastpos[tg] < 0 {
				ulen2++
				if found[tg] {
					count++
				}
			}
			lastpos[tg] = i
		}
		if !found[tg] {
			continue
		}
		upper := i
		if lower == -1 {
			lower = i
			ulen2 = 1
		}
		smlrCur := calcSML(count, ulen1, ulen2)
		// Try moving the lower bound right for a greater similarity.
		tmpCount, tmpUlen2, prevLower := count, ulen2, lower
		for tmpLower := lower; tmpLower <= upper; tmpLower++ {
			if s := calcSML(tmpCount, ulen1, tmpUlen2); s > smlrCur {
				smlrCur = s
				ulen2 = tmpUlen2
				lower = tmpLower
				count = tmpCount
			}
			if j := idx[tmpLower]; lastpos[j] == tmpLower {
				tmpUlen2--
				if found[j] {
					tmpCount--
				}
			}
		}
		smlrMax = max(smlrMax, smlrCur)
		for tmpLower := prevLower; tmpLower < lower; tmpLower++ {
			if j := idx[tmpLower]; lastpos[j] == tmpLower {
				lastpos[j] = -1
			}
		}
	}
	return smlrMax
}

// trigram is three characters.
type trigram [3]rune

// trigrams appends to out the trigrams of s in order, with repeats: those
// of each lower-cased word padded as "  word ".
func trigrams(s string, out []trigram) []trigram {
	var word []rune
	flush := func() {
		if len(word) == 0 {
			return
		}
		a, b := ' ', ' '
		for _, r := range word {
			out = append(out, trigram{a, b, r})
			a, b = b, r
		}
		out = append(out, trigram{a, b, ' '})
		word = word[:0]
	}
	for _, r := range s {
		if isWordRune(r) {
			word = append(word, unicode.ToLower(r))
		} else {
			flush()
		}
	}
	flush()
	return out
}
