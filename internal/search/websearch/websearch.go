// Package websearch reads the web-search query syntax of full-text search
// (PostgreSQL's websearch_to_tsquery): words, "quoted phrases", OR between
// alternatives, and -word or -"phrase" to exclude. Parse turns a query into
// an AST with the limits both engines enforce; FTS5 renders it as a SQLite
// FTS5 MATCH expression in which every term is a quoted string, so no FTS5
// syntax can be injected; Words lists its words for the typo-tolerant
// match, whose similarity is WordSimilarity, pg_trgm's word_similarity.
//
// Semantics, as websearch_to_tsquery has them (checked against
// PostgreSQL 15): OR binds loosest, so `a b or c d` is (a AND b) OR (c AND
// d); words and phrases side by side are ANDed; `-term` excludes within
// its group, so `a -b or c` is (a AND NOT b) OR c. Unlike PostgreSQL, a
// group with no positive term matches nothing (PostgreSQL's `-a` matches
// every document without a): a search lists what it found, not everything
// else. Punctuation separates words; a token such as foo-bar is the phrase
// "foo bar".
package websearch

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/basaltdev/basalt/internal/fault"
)

// Limits of a query, checked by Parse.
const (
	// MaxQueryBytes is the longest query, in bytes.
	MaxQueryBytes = 1000
	// MaxTerms is the most terms (words and phrases, excluded ones
	// included) a query may have.
	MaxTerms = 32
)

// Term is a word or a phrase.
type Term struct {
	// Words are the term's words as written (case kept): one for a word,
	// one or more for a phrase, in order.
	Words []string
	// Exclude marks a -term: documents containing it are left out.
	Exclude bool
}

// Group is a conjunction: every positive term must match and no excluded
// one may.
type Group struct {
	Terms []Term
}

// Query is a parsed query: a disjunction of groups. A query with no group
// matches nothing.
type Query struct {
	Groups []Group
}

const op = "websearch.Parse"

// Parse reads a query. It fails with fault.Invalid when the query is longer
// than MaxQueryBytes, is not UTF-8, or has more than MaxTerms terms. Groups
// without a positive term are dropped, so a query of exclusions only (or of
// punctuation only) parses to an empty Query.
func Parse(s string) (Query, error) {
	if len(s) > MaxQueryBytes {
		return Query{}, fault.Newf(fault.Invalid, op, "the search query is longer than %d bytes", MaxQueryBytes)
	}
	if !utf8.ValidString(s) {
		return Query{}, fault.New(fault.Invalid, op, "the search query is not valid UTF-8")
	}
	toks := lex(s)
	var q Query
	var cur Group
	terms := 0
	flush := func() {
		for _, t := range cur.Terms {
			if !t.Exclude {
				q.Groups = append(q.Groups, cur)
				break
			}
		}
		cur = Group{}
	}
	for i, tk := range toks {
		if tk.or {
			// An OR between two terms separates groups; at the start, at
			// the end or after another OR it is the word "or".
			if len(cur.Terms) > 0 && i+1 < len(toks) && !toks[i-1].or {
				flush()
				continue
			}
			tk = token{words: []string{tk.text}}
		}
		if len(tk.words) == 0 {
			continue
		}
		terms++
		if terms > MaxTerms {
			return Query{}, fault.Newf(fault.Invalid, op, "the search query has more than %d terms", MaxTerms)
		}
		cur.Terms = append(cur.Terms, Term{Words: tk.words, Exclude: tk.exclude})
	}
	flush()
	return q, nil
}

// token is one lexical unit: a word or phrase (words, possibly none when
// it held only punctuation), or the OR keyword.
type token struct {
	words   []string
	exclude bool
	or      bool   // an unquoted "or", in any case
	text    string // the keyword as written, when or
}

// lex splits a query into tokens: runs of non-space characters, and
// "quoted" phrases (an unclosed quote runs to the end). Leading '-' of an
// unquoted run, or before a quote, negates the token (an even number of
// them cancels out, as in websearch_to_tsquery).
func lex(s string) []token {
	var out []token
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			i += n
			continue
		}
		minus := 0
		for i < len(s) && s[i] == '-' {
			minus++
			i++
		}
		if i < len(s) && s[i] == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			var body string
			if end < 0 {
				body, i = s[i+1:], len(s)
			} else {
				body, i = s[i+1:i+1+end], i+1+end+1
			}
			out = append(out, token{words: splitWords(body), exclude: minus%2 == 1})
			continue
		}
		start := i
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if unicode.IsSpace(r) || r == '"' {
				break
			}
			i += n
		}
		text := s[start:i]
		if minus == 0 && strings.EqualFold(text, "or") {
			out = append(out, token{or: true, text: text})
			continue
		}
		out = append(out, token{words: splitWords(text), exclude: minus%2 == 1})
	}
	return out
}

// isWordRune reports whether r belongs to a word: letters and digits, as
// both FTS5's unicode61 tokenizer and pg_trgm see them.
func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// splitWords returns the words of s, split at every other character.
func splitWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !isWordRune(r) })
}

// Empty reports whether q has no group, so matches nothing.
func (q Query) Empty() bool { return len(q.Groups) == 0 }

// Words returns the words of q's positive terms, lower-cased, each once, in
// order of appearance: what the typo-tolerant match compares.
func (q Query) Words() []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range q.Groups {
		for _, t := range g.Terms {
			if t.Exclude {
				continue
			}
			for _, w := range t.Words {
				w = strings.ToLower(w)
				if !seen[w] {
					seen[w] = true
					out = append(out, w)
				}
			}
		}
	}
	return out
}

// Excluded returns the excluded terms of every group.
func (q Query) Excluded() []Term {
	var out []Term
	for _, g := range q.Groups {
		for _, t := range g.Terms {
			if t.Exclude {
				out = append(out, t)
			}
		}
	}
	return out
}

// WithoutWords returns q without the words stop reports (stop words of the
// text language, which the engine's index may still hold but PostgreSQL's
// configuration drops from queries). A phrase loses its leading and
// trailing stop words but keeps those between others ("replicates the
// log" still needs its words in that order, as PostgreSQL's
// 'replic' <2> 'log' does, though PostgreSQL admits any word in the gap).
// A term left without words is dropped, and so is a group left without a
// positive term.
func (q Query) WithoutWords(stop func(lowerWord string) bool) Query {
	var out Query
	for _, g := range q.Groups {
		var ng Group
		positive := false
		for _, t := range g.Terms {
			words := t.Words
			for len(words) > 0 && stop(strings.ToLower(words[0])) {
				words = words[1:]
			}
			for len(words) > 0 && stop(strings.ToLower(words[len(words)-1])) {
				words = words[:len(words)-1]
			}
			if len(words) == 0 {
				continue
			}
			ng.Terms = append(ng.Terms, Term{Words: slices.Clone(words), Exclude: t.Exclude})
			positive = positive || !t.Exclude
		}
		if positive {
			out.Groups = append(out.Groups, ng)
		}
	}
	return out
}

// FTS5 renders q as an FTS5 MATCH expression: each term a string literal
// (a phrase of its words; '"' doubled, though words never hold one), each
// group its positive terms ANDed with every excluded term removed by
// FTS5's binary NOT, the groups ORed, every operation parenthesized. It
// returns "" for an empty query, which the caller must not run (it
// matches nothing).
func (q Query) FTS5() string {
	var b strings.Builder
	for gi, g := range q.Groups {
		if gi > 0 {
			b.WriteString(" OR ")
		}
		var pos, neg []string
		for _, t := range g.Terms {
			lit := quote(strings.Join(t.Words, " "))
			if t.Exclude {
				neg = append(neg, lit)
			} else {
				pos = append(pos, lit)
			}
		}
		expr := "(" + strings.Join(pos, " AND ") + ")"
		for _, n := range neg {
			expr = "(" + expr + " NOT " + n + ")"
		}
		b.WriteString(expr)
	}
	return b.String()
}

// quote returns s as an FTS5 string literal.
func quote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
