package websearch

import (
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
	w := trigrams(word)
	t := trigrams(text)
	if len(w) == 0 || len(t) == 0 {
		return 0
	}
	// Number the distinct trigrams of both strings; found marks those of
	// the word.
	ids := make(map[string]int, len(w)+len(t))
	var found []bool
	id := func(tg string) int {
		if j, ok := ids[tg]; ok {
			return j
		}
		j := len(found)
		ids[tg] = j
		found = append(found, false)
		return j
	}
	ulen1 := 0
	for _, tg := range w {
		j := id(tg)
		if !found[j] {
			found[j] = true
			ulen1++
		}
	}
	idx := make([]int, len(t))
	for i, tg := range t {
		idx[i] = id(tg)
	}
	return float64(iterateWordSimilarity(idx, found, ulen1))
}

// calcSML is pg_trgm's CALCSML, in float4.
func calcSML(count, len1, len2 int) float32 {
	return float32(count) / float32(len1+len2-count)
}

// iterateWordSimilarity is pg_trgm's iterate_word_similarity without the
// strict and threshold-only variants.
func iterateWordSimilarity(idx []int, found []bool, ulen1 int) float32 {
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

// trigrams returns the trigrams of s in order, with repeats: those of each
// lower-cased word padded as "  word ".
func trigrams(s string) []string {
	var out []string
	for _, word := range strings.FieldsFunc(s, func(r rune) bool { return !isWordRune(r) }) {
		padded := []rune("  " + strings.Map(unicode.ToLower, word) + " ")
		for i := 0; i+3 <= len(padded); i++ {
			out = append(out, string(padded[i:i+3]))
		}
	}
	return out
}
