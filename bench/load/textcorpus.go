package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/basaltdev/basalt/internal/search/searchcorpus"
)

// TextCorpus is the text of the search scenarios' documents: the sentences
// of the Go standard library's documentation (package comments and the doc
// comments of exported functions, methods and types), which no one on the
// project wrote. Its words have the frequencies of real English technical
// prose — a few very common, most rare — and its phrases are real ones.
type TextCorpus struct {
	// titles are first sentences of doc comments; sentences every
	// sentence of 4 to 40 words.
	titles, sentences []string
}

// ReadTextCorpus reads the documentation of the standard library under
// goroot (see searchcorpus): about 5,000 doc comments, parsed in a few
// seconds.
func ReadTextCorpus(ctx context.Context, goroot string) (*TextCorpus, error) {
	if goroot == "" {
		var err error
		if goroot, err = searchcorpus.GOROOT(ctx); err != nil {
			return nil, fmt.Errorf("load: text corpus: %w", err)
		}
	}
	pkgs, err := searchcorpus.StdPackages(goroot)
	if err != nil {
		return nil, fmt.Errorf("load: text corpus: %w", err)
	}
	paths := make([]string, len(pkgs))
	var titles, texts []string
	for i, p := range pkgs {
		paths[i] = p.Path
		titles, texts = append(titles, p.Synopsis), append(texts, p.Doc)
	}
	decls, err := searchcorpus.StdDecls(goroot, paths...)
	if err != nil {
		return nil, fmt.Errorf("load: text corpus: %w", err)
	}
	for _, d := range decls {
		titles, texts = append(titles, d.Synopsis), append(texts, d.Doc)
	}
	return NewTextCorpus(titles, texts)
}

// NewTextCorpus builds a corpus from titles and the texts whose sentences
// make the documents' bodies.
func NewTextCorpus(titles, texts []string) (*TextCorpus, error) {
	c := &TextCorpus{}
	for _, t := range titles {
		if t = strings.Join(strings.Fields(t), " "); t != "" && len(t) <= textTitleMax {
			c.titles = append(c.titles, t)
		}
	}
	for _, t := range texts {
		c.sentences = append(c.sentences, Sentences(t)...)
	}
	if len(c.titles) == 0 || len(c.sentences) == 0 {
		return nil, errors.New("load: text corpus: no titles or no sentences")
	}
	return c, nil
}

// Sizes returns the number of titles and of sentences.
func (c *TextCorpus) Sizes() (titles, sentences int) { return len(c.titles), len(c.sentences) }

// textTitleMax is the longest title (in bytes) a document gets; the
// collection's schema allows it.
const textTitleMax = 300

// Sentences splits a plain-text doc comment into its sentences of 4 to 40
// words, white space collapsed. Indented lines (code) are left out.
func Sentences(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		words := strings.Fields(line)
		start := 0
		for i, w := range words {
			if end := w[len(w)-1]; (end == '.' || end == '?' || end == '!') || i == len(words)-1 {
				if n := i + 1 - start; n >= 4 && n <= 40 {
					out = append(out, strings.Join(words[start:i+1], " "))
				}
				start = i + 1
			}
		}
	}
	return out
}

// TextDoc is the data of one document of the search scenarios.
type TextDoc struct {
	Title string `json:"title"`
	Body  string `json:"body"`
	Score int    `json:"score"`
}

// Docs returns n documents drawn from seed: each a title, a body of 2 to
// 5 sentences drawn uniformly from the corpus, and a score. The same seed
// gives the same documents.
func (c *TextCorpus) Docs(n int, seed uint64) []TextDoc {
	r := rand.New(rand.NewPCG(seed, 0x7e47))
	docs := make([]TextDoc, n)
	var b strings.Builder
	for i := range docs {
		b.Reset()
		for k := range 2 + r.IntN(4) {
			if k > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(c.sentences[r.IntN(len(c.sentences))])
		}
		docs[i] = TextDoc{Title: c.titles[r.IntN(len(c.titles))], Body: b.String(), Score: r.IntN(1000)}
	}
	return docs
}

// The classes of search queries, each measured on its own line of the
// report beside list.
const (
	// QueryRare is one word that few documents hold (at least three, so
	// that the typo fallback does not answer).
	QueryRare = "rare word"
	// QueryCommon is one of the most frequent words that is not a stop
	// word: it matches a large part of the collection.
	QueryCommon = "common word"
	// QueryTwo is two words of middling frequency found in one document.
	QueryTwo = "two words"
	// QueryPhrase is a quoted run of two or three words of a document.
	QueryPhrase = "phrase"
	// QueryTypo is a word of middling frequency, at least seven letters,
	// with one letter changed into a word no document holds: the exact
	// query finds nothing and the typo-tolerant one answers. (In a word
	// of six letters one change leaves 4 of its 7 trigrams, a similarity
	// of 0.57 that the engines' fuzzy match may still refuse.)
	QueryTypo = "misspelled word"
)

// QueryClasses lists the query classes in report order; the first four
// make the search mix, the last is measured on its own.
func QueryClasses() []string {
	return []string{QueryRare, QueryCommon, QueryTwo, QueryPhrase, QueryTypo}
}

// TextQueries are queries of each class drawn from a set of documents.
type TextQueries struct {
	// Queries maps a class to its queries (q parameters).
	Queries map[string][]string
	// DF is the number of documents holding each word (lower case) of a
	// single-word query, or the fewest of a two-word query's words.
	DF map[string]int
}

// Words splits text into its words as the engines' tokenizers do, for
// ASCII text: maximal runs of letters and digits, lower-cased ("Uint32"
// is one word, "io.Reader" two).
func Words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return (r < 'a' || r > 'z') && (r < '0' || r > '9') })
}

// letters reports whether w is only ASCII letters.
func letters(w string) bool {
	return w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
}

// PickTextQueries draws n queries of every class from docs, with seed.
// The words of single-word classes are chosen by their document frequency
// among docs: rare from the least frequent half of the words held by at
// least three documents, common from the most frequent 40 non-stop words
// (at most 1 % of the words), misspelled from words of at least seven
// letters between those. It fails when docs are too few to give every class.
func PickTextQueries(docs []TextDoc, n int, seed uint64) (TextQueries, error) {
	if n < 1 {
		return TextQueries{}, fmt.Errorf("load: text queries: need n ≥ 1, got %d", n)
	}
	df := map[string]int{}
	seen := map[string]bool{}
	for _, d := range docs {
		clear(seen)
		for _, w := range append(Words(d.Title), Words(d.Body)...) {
			if !seen[w] {
				seen[w] = true
				df[w]++
			}
		}
	}
	// Candidate words: letters only, not stop words, 3 to 20 letters.
	stop := map[string]bool{}
	for _, w := range strings.Fields(englishStopWords) {
		stop[w] = true
	}
	var cand []string
	for w := range df {
		if len(w) >= 3 && len(w) <= 20 && letters(w) && !stop[w] {
			cand = append(cand, w)
		}
	}
	slices.SortFunc(cand, func(a, b string) int {
		if df[a] != df[b] {
			return df[b] - df[a]
		}
		return strings.Compare(a, b)
	})
	r := rand.New(rand.NewPCG(seed, 0x9e7))
	tq := TextQueries{Queries: map[string][]string{}, DF: map[string]int{}}
	nCommon := min(max(len(cand)/100, 1), 40)
	common := cand[:min(nCommon, len(cand))]
	var middle, rare []string
	for _, w := range cand[min(nCommon, len(cand)):] {
		if df[w] >= 3 {
			middle = append(middle, w)
		}
	}
	// The rare half of the words held by at least three documents; the
	// middle band is the frequent half (the typo and two-word classes).
	rare = middle[len(middle)/2:]
	middle = middle[:len(middle)/2]
	var typoBase []string
	for _, w := range middle {
		if len(w) >= 7 {
			typoBase = append(typoBase, w)
		}
	}
	if len(common) == 0 || len(rare) == 0 || len(middle) < 2 || len(typoBase) == 0 {
		return TextQueries{}, fmt.Errorf("load: text queries: %d documents are too few (common %d, middle %d, rare %d, typo %d words)",
			len(docs), len(common), len(middle), len(rare), len(typoBase))
	}
	inMiddle := map[string]bool{}
	for _, w := range middle {
		inMiddle[w] = true
	}
	add := func(class, q string, freq int) {
		tq.Queries[class] = append(tq.Queries[class], q)
		if freq > 0 {
			tq.DF[q] = freq
		}
	}
	for range n {
		w := rare[r.IntN(len(rare))]
		add(QueryRare, w, df[w])
		w = common[r.IntN(len(common))]
		add(QueryCommon, w, df[w])
		w = typoBase[r.IntN(len(typoBase))]
		add(QueryTypo, misspell(r, w, df), df[w])
	}
	// Two words and phrases come from the documents themselves, so that
	// at least one document matches each.
	for tries := 0; len(tq.Queries[QueryTwo]) < n || len(tq.Queries[QueryPhrase]) < n; tries++ {
		if tries > 100*n {
			return TextQueries{}, fmt.Errorf("load: text queries: %d documents give too few two-word queries or phrases", len(docs))
		}
		d := docs[r.IntN(len(docs))]
		if len(tq.Queries[QueryTwo]) < n {
			var ws []string
			for _, w := range Words(d.Body) {
				if inMiddle[w] && !slices.Contains(ws, w) {
					ws = append(ws, w)
				}
			}
			if len(ws) >= 2 {
				i := r.IntN(len(ws))
				j := (i + 1 + r.IntN(len(ws)-1)) % len(ws)
				add(QueryTwo, ws[i]+" "+ws[j], min(df[ws[i]], df[ws[j]]))
			}
		}
		if len(tq.Queries[QueryPhrase]) < n {
			if p, ok := phraseOf(r, d.Body, stop); ok {
				add(QueryPhrase, `"`+p+`"`, 0)
			}
		}
	}
	return tq, nil
}

// misspell changes one letter of w, neither the first nor the last, into
// another, so that the result is a word no document holds (df).
func misspell(r *rand.Rand, w string, df map[string]int) string {
	for {
		b := []byte(w)
		i := 1 + r.IntN(len(b)-2)
		c := byte('a' + r.IntN(26))
		if c == b[i] {
			continue
		}
		b[i] = c
		if s := string(b); df[s] == 0 {
			return s
		}
	}
}

// phraseOf picks two or three consecutive words of text, each only
// letters and separated by single spaces, with at least one of three
// letters or more that is not a stop word.
func phraseOf(r *rand.Rand, text string, stop map[string]bool) (string, bool) {
	fields := strings.Split(text, " ")
	for range 8 {
		n := 2 + r.IntN(2)
		if len(fields) < n {
			return "", false
		}
		i := r.IntN(len(fields) - n + 1)
		win := fields[i : i+n]
		ok, content := true, false
		for _, f := range win {
			if !letters(f) {
				ok = false
				break
			}
			if l := strings.ToLower(f); len(l) >= 3 && !stop[l] {
				content = true
			}
		}
		if ok && content {
			return strings.ToLower(strings.Join(win, " ")), true
		}
	}
	return "", false
}

// englishStopWords are PostgreSQL's English stop words (english.stop),
// which its english configuration does not index: a query of one of them
// finds nothing there, while SQLite indexes every word.
const englishStopWords = ` i me my myself we our ours ourselves you your yours yourself yourselves
 he him his himself she her hers herself it its itself they them their theirs themselves what which
 who whom this that these those am is are was were be been being have has had having do does did
 doing a an the and but if or because as until while of at by for with about against between into
 through during before after above below to from up down in out on off over under again further then
 once here there when where why how all any both each few more most other some such no nor not only
 own same so than too very s t can will just don should now `
