package searchcorpus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/search"
	"github.com/basaltdev/basalt/internal/search/searchcorpus"
	"github.com/basaltdev/basalt/internal/search/websearch"
)

// TestRelevance runs queries over the documentation of the Go standard
// library on each engine, through the search service, and checks the
// answers a Go programmer expects: the package a query is about comes
// first or among the first, exclusions and phrases hold, misspelled
// queries are answered by the typo-tolerant match, and the vector and
// hybrid modes find the same packages. A rule case checks that a user
// never sees a package or field the collection hides, and gets full
// pages.
func TestRelevance(t *testing.T) {
	c := loadCorpus(t)
	t.Logf("%d packages of the standard library", len(c.ids))
	onEachEngine(t, c, func(t *testing.T, e *env) {
		t.Run("text", e.testText(textCases))
		t.Run("vector", e.testVector(textCases))
		t.Run("hybrid", e.testHybrid(textCases))
		t.Run("rule", e.testRule)
		e.reportMRR(t, textCases)
	})
}

// onEachEngine runs fn with the corpus c loaded on SQLite and on
// PostgreSQL, each in a subtest named for the engine.
func onEachEngine(t *testing.T, c *corpus, fn func(*testing.T, *env)) {
	for _, eng := range []struct {
		name string
		open func(*testing.T) docstore.Store
	}{{"sqlite", openSQLite}, {"postgres", openPostgres}} {
		t.Run(eng.name, func(t *testing.T) { fn(t, newEnv(t, eng.name, eng.open(t), c)) })
	}
}

// expect is a query and what a reader expects of its hits. Packages are
// named by import path.
type expect struct {
	q string
	// top1 must be the first hit; top3 must all be among the first three,
	// top10 among the first ten.
	top1  string
	top3  []string
	top10 []string
	// only lists path prefixes: every one of the first three hits must
	// be a package under one of them.
	only []string
	// not must be among no hit, over every page.
	not []string
	// without is a word no hit's text may hold (an excluded word).
	without string
	// phrase, when set, is a pattern every hit's text must match (a
	// quoted phrase).
	phrase string
	// fuzzy is whether the typo-tolerant match must answer.
	fuzzy bool
	// noVector, when set, says why the lexical builtin embedder cannot be
	// expected to rank the target among its first ten.
	noVector string
}

// textCases are the full-text queries. Every expectation is what a Go
// programmer reading the query would name, not what an engine answered.
var textCases = []expect{
	// Plain words: all must match, the package the words describe first.
	{q: "gzip compressed", top1: "compress/gzip"},
	{q: "http client", top3: []string{"net/http"}},
	{q: "regular expression", top3: []string{"regexp", "regexp/syntax"}},
	{q: "sha256 hash", top1: "crypto/sha256"},
	{q: "json encoding", top1: "encoding/json"},
	// Typo tolerance leaves a word under five letters alone: no "table",
	// "tag" or "takes" for tar.
	{q: "tar archive", top1: "archive/tar", not: []string{"html/template", "net", "fmt", "go/build"}},
	{q: "zip archive", top1: "archive/zip"},
	{q: "template html escaping", top1: "html/template"},
	{q: "unicode utf8", top3: []string{"unicode/utf8"}},
	{q: "structured logging", top1: "log/slog"},
	{q: "cyclic redundancy check", top3: []string{"hash/crc32", "hash/crc64"}},
	{q: "command-line flag parsing", top1: "flag"},
	{q: "elliptic curve signature", top3: []string{"crypto/ecdsa"}},
	{q: "base64 encoding", top1: "encoding/base64"},
	// Phrases: the words next to each other, in order.
	{q: `"regular expression"`, top3: []string{"regexp", "regexp/syntax"}, phrase: `(?i)regular\s+expressions?\b`},
	{q: `"message authentication code"`, top1: "crypto/hmac", phrase: `(?i)message\s+authentication\s+codes?\b`},
	// OR: either alternative.
	{q: "gzip OR bzip2", top3: []string{"compress/gzip", "compress/bzip2"}},
	{q: "sha1 OR md5", top3: []string{"crypto/sha1", "crypto/md5"}},
	// Exclusion: the excluded word's documents are gone.
	{q: "encoding -json", only: []string{"encoding/", "encoding"}, not: []string{"encoding/json", "encoding", "net/rpc/jsonrpc"}, without: "json"},
	{q: "template -html", not: []string{"html/template", "text/template"}, without: "html"},
	{q: "compressed -gzip", top3: []string{"compress/zlib"}, not: []string{"compress/gzip", "compress/flate"}, without: "gzip"},
	{q: "hash -cryptographic", top10: []string{"hash/crc32", "hash/adler32"}, not: []string{"hash/fnv", "hash/maphash", "crypto/hmac"}, without: "cryptographic"},
	// Misspellings: the exact query finds nothing, the typo-tolerant one
	// answers and still finds the package.
	{q: "regulr expresion", top3: []string{"regexp"}, fuzzy: true},
	{q: "compresion gzip", top3: []string{"compress/gzip"}, fuzzy: true}, //nolint:misspell // a typo on purpose
	{q: "cryptografic hash", only: []string{"crypto", "hash"}, fuzzy: true},
	{q: "unicdoe", top3: []string{"unicode"}, fuzzy: true},
	{q: "regexpp syntax", top1: "regexp/syntax", fuzzy: true},
	// A stem, not a typo: "unicod" is how English stemming writes
	// "unicode", so the exact query answers.
	{q: "unicod", top3: []string{"unicode"}},
}

// target is the package a plain query is about (its first expected
// package), or "" for the other queries.
func (c expect) target() string {
	if c.fuzzy || c.without != "" || strings.ContainsAny(c.q, `"`) || strings.Contains(c.q, " OR ") {
		return ""
	}
	switch {
	case c.top1 != "":
		return c.top1
	case len(c.top3) > 0:
		return c.top3[0]
	case len(c.top10) > 0:
		return c.top10[0]
	}
	return ""
}

// testText runs every text case as a user gets it (typo tolerance on)
// and, for the correctly spelled ones, with typo tolerance off.
func (e *env) testText(cases []expect) func(*testing.T) {
	return func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.q, func(t *testing.T) { e.textCase(t, c) })
		}
	}
}

func (e *env) textCase(t *testing.T, c expect) {
	// What a user gets: typo tolerance on (the default).
	res, hits := e.searchAll(t, stdName, search.Request{Query: c.q, Mode: search.ModeText})
	e.check(t, c, hits, res.Fuzzy)
	e.rank(search.ModeText, c, hits)
	if c.fuzzy {
		if !res.Fuzzy {
			t.Errorf("%s: answered by the exact query (top 5 %v), want the typo-tolerant one", c.q, top(hits, 5))
		}
		return
	}
	// The exact query alone ranks as well; when it finds enough (3 hits)
	// the typo-tolerant one never answers instead.
	_, exact := e.searchAll(t, stdName, search.Request{Query: c.q, Mode: search.ModeText, Typo: search.TypoOff})
	e.check(t, c, exact, false)
	if len(exact) >= 3 && (res.Fuzzy || !slices.Equal(top(hits, len(hits)), top(exact, len(exact)))) {
		t.Errorf("%s: fuzzy %v, hits %v, want the exact query's %v", c.q, res.Fuzzy, top(hits, 5), top(exact, 5))
	}
}

// testVector runs the plain queries in vector mode: the lexical builtin
// embedder must put the package among the first ten, unless the case
// says its embedded text cannot.
func (e *env) testVector(cases []expect) func(*testing.T) {
	return func(t *testing.T) {
		for _, c := range cases {
			if c.target() != "" {
				e.vectorCase(t, c)
			}
		}
	}
}

func (e *env) vectorCase(t *testing.T, c expect) {
	res := e.searchPage(t, stdName, search.Request{Query: c.q, Mode: search.ModeVector, Limit: 20})
	want := expect{q: c.q, top10: []string{c.target()}}
	if c.noVector != "" {
		want.top10 = nil
	}
	e.check(t, want, res.Hits, false)
	e.rank(search.ModeVector, c, res.Hits)
	if len(res.Hits) != 20 {
		t.Errorf("vector %q: %d hits, want a full page of 20 (every document has a vector)", c.q, len(res.Hits))
	}
	for i, h := range res.Hits {
		if h.Vector == nil || h.Text != nil || h.Vector.Rank != i+1 || h.Score != h.Vector.Score || i > 0 && h.Score > res.Hits[i-1].Score {
			t.Errorf("vector %q: hit %d (%s): score %v, text %+v, vector %+v", c.q, i, h.Document.ID, h.Score, h.Text, h.Vector)
		}
	}
}

// testHybrid runs the plain queries in hybrid mode: the package among the
// first ten, hits in fused order, each found by at least one side.
func (e *env) testHybrid(cases []expect) func(*testing.T) {
	return func(t *testing.T) {
		for _, c := range cases {
			if c.target() != "" {
				e.hybridCase(t, c)
			}
		}
	}
}

func (e *env) hybridCase(t *testing.T, c expect) {
	res := e.searchPage(t, stdName, search.Request{Query: c.q, Mode: search.ModeHybrid, Limit: 20})
	e.check(t, expect{q: c.q, top10: []string{c.target()}}, res.Hits, res.Fuzzy)
	e.rank(search.ModeHybrid, c, res.Hits)
	for i, h := range res.Hits {
		if h.Text == nil && h.Vector == nil || i > 0 && h.Score > res.Hits[i-1].Score {
			t.Errorf("hybrid %q: hit %d (%s) has no side or is out of order: %+v", c.q, i, h.Document.ID, h)
		}
	}
}

// rank records the rank of c's target among the first 20 hits (0: not
// there) for the mean reciprocal rank of mode.
func (e *env) rank(mode search.Mode, c expect, hits []search.Hit) {
	if c.target() == "" {
		return
	}
	if e.ranks[mode] == nil {
		e.ranks[mode] = map[string]int{}
	}
	e.ranks[mode][c.q] = slices.Index(top(hits, 20), c.target()) + 1
}

// searchPage runs req as an administrator on coll and returns its first
// page.
func (e *env) searchPage(t *testing.T, coll string, req search.Request) search.Result {
	t.Helper()
	req.Collection = coll
	res, err := e.svc.Search(adminCtx(t.Context()), req)
	if err != nil {
		t.Fatalf("%s search %q (%s): %v", e.engine, req.Query, req.Mode, err)
	}
	return res
}

// check tests hits (import paths, best first, every page) against c;
// fuzzy tells that the typo-tolerant query answered.
func (e *env) check(t *testing.T, c expect, hits []search.Hit, fuzzy bool) {
	t.Helper()
	paths := top(hits, len(hits))
	if len(paths) == 0 {
		t.Errorf("%s: no hit", c.q)
		return
	}
	if c.top1 != "" && paths[0] != c.top1 {
		t.Errorf("%s: first hit %s, want %s (top 5 %v)", c.q, paths[0], c.top1, top(hits, 5))
	}
	for _, want := range c.top3 {
		if !slices.Contains(top(hits, 3), want) {
			t.Errorf("%s: %s not in the top 3 %v", c.q, want, top(hits, 3))
		}
	}
	for _, want := range c.top10 {
		if !slices.Contains(top(hits, 10), want) {
			t.Errorf("%s: %s not in the top 10 %v", c.q, want, top(hits, 10))
		}
	}
	for _, p := range top(hits, 3) {
		if c.only != nil && !slices.ContainsFunc(c.only, func(prefix string) bool {
			return p == prefix || strings.HasPrefix(p, prefix+"/") || strings.HasSuffix(prefix, "/") && strings.HasPrefix(p, prefix)
		}) {
			t.Errorf("%s: %s in the top 3 %v, want only packages under %v", c.q, p, top(hits, 3), c.only)
		}
	}
	for _, p := range c.not {
		if slices.Contains(paths, p) {
			t.Errorf("%s: %s is a hit (rank %d of %d)", c.q, p, slices.Index(paths, p)+1, len(paths))
		}
	}
	var word, phrase *regexp.Regexp
	if c.without != "" {
		word = regexp.MustCompile(`(?i)(^|[^\pL\pN])` + regexp.QuoteMeta(c.without) + `([^\pL\pN]|$)`)
	}
	if c.phrase != "" {
		phrase = regexp.MustCompile(c.phrase)
	}
	for _, h := range hits {
		text := e.text(t, h)
		if word != nil && word.MatchString(text) {
			t.Errorf("%s: hit %s holds the excluded word %q", c.q, h.Document.ID, c.without)
		}
		// A typo-tolerant answer matches similar words, not phrases.
		if phrase != nil && !fuzzy && !phrase.MatchString(text) {
			t.Errorf("%s: hit %s does not hold the phrase", c.q, h.Document.ID)
		}
		if h.Text != nil {
			checkHighlights(t, c, h, fuzzy)
		}
	}
}

// marked finds the marked spans of a highlight.
var marked = regexp.MustCompile(`<mark>(.*?)</mark>`)

// checkHighlights tests the snippets of a hit the text side found: at
// least one, HTML-escaped around the marks, and every mark on a word
// like one of the query's positive words — for the exact query, a form
// of it (its first three letters: the stems here keep them), for the
// typo-tolerant one, a word similar to it (trigram word similarity of
// at least 0.5) — and never on an excluded word.
func checkHighlights(t *testing.T, c expect, h search.Hit, fuzzy bool) {
	t.Helper()
	positive, excluded := queryWords(c.q)
	marks := 0
	for field, snippet := range h.Highlights {
		if plain := strings.NewReplacer("<mark>", "", "</mark>", "").Replace(snippet); strings.ContainsAny(plain, "<>") {
			t.Errorf("%s: %s highlight of %s is not escaped: %q", c.q, h.Document.ID, field, snippet)
		}
		for _, m := range marked.FindAllStringSubmatch(snippet, -1) {
			marks++
			word := strings.ToLower(html.UnescapeString(m[1]))
			like := func(q string) bool { return strings.HasPrefix(word, q[:min(3, len(q))]) }
			if fuzzy {
				like = func(q string) bool { return websearch.WordSimilarity(q, word) >= 0.5 }
			}
			if strings.Contains(word, "<mark>") || !slices.ContainsFunc(positive, like) {
				t.Errorf("%s: %s highlight of %s marks %q, like no query word %v", c.q, h.Document.ID, field, m[1], positive)
			}
			for _, x := range excluded {
				if strings.Contains(word, x) {
					t.Errorf("%s: %s highlight of %s marks the excluded %q", c.q, h.Document.ID, field, m[1])
				}
			}
		}
	}
	if marks == 0 {
		t.Errorf("%s: text hit %s has no marked highlight: %v", c.q, h.Document.ID, h.Highlights)
	}
}

// queryWords returns the lower-cased positive and excluded words of a
// web-search query (the forms the cases use: words, "phrases", OR, -word).
func queryWords(q string) (positive, excluded []string) {
	for _, f := range strings.Fields(q) {
		if f == "OR" {
			continue
		}
		exclude := strings.HasPrefix(f, "-")
		for _, w := range strings.FieldsFunc(strings.ToLower(f), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			if exclude {
				excluded = append(excluded, w)
			} else {
				positive = append(positive, w)
			}
		}
	}
	return positive, excluded
}

// text is the searchable text of a hit: its fields in one string.
func (e *env) text(t *testing.T, h search.Hit) string {
	t.Helper()
	var p searchcorpus.Package
	if err := json.Unmarshal(h.Document.Data, &p); err != nil {
		t.Fatal(err)
	}
	return strings.Join([]string{p.Path, p.Name, p.Synopsis, p.Doc}, "\n\n")
}

// searchAll runs req as an administrator (who may list every package) on
// coll, 100 hits a page, and returns the first page and the hits of every
// page.
func (e *env) searchAll(t *testing.T, coll string, req search.Request) (search.Result, []search.Hit) {
	t.Helper()
	return e.searchAllAs(adminCtx(t.Context()), t, coll, req, 100)
}

// searchAllAs runs req as the caller of ctx, following cursors; when
// limit > 0 every page must hold limit hits but the last.
func (e *env) searchAllAs(ctx context.Context, t *testing.T, coll string, req search.Request, limit int) (search.Result, []search.Hit) {
	t.Helper()
	req.Collection = coll
	if limit > 0 {
		req.Limit = limit
	}
	var first search.Result
	var hits []search.Hit
	for page := 0; ; page++ {
		res, err := e.svc.Search(ctx, req)
		if err != nil {
			t.Fatalf("%s search %q (%s) page %d: %v", e.engine, req.Query, req.Mode, page, err)
		}
		if page == 0 {
			first = res
		}
		hits = append(hits, res.Hits...)
		if res.NextCursor == "" {
			break
		}
		if limit > 0 && len(res.Hits) != limit {
			t.Errorf("%s search %q (%s): page %d holds %d hits, want %d (more follow)", e.engine, req.Query, req.Mode, page, len(res.Hits), limit)
		}
		if page > 200 {
			t.Fatalf("%s search %q (%s): more than 200 pages", e.engine, req.Query, req.Mode)
		}
		req.Cursor = res.NextCursor
	}
	return first, hits
}

// top returns the import paths of the first n hits (of a declaration,
// its qualified name: strings.Split, time.Time.Unix).
func top(hits []search.Hit, n int) []string {
	var out []string
	for _, h := range hits[:min(n, len(hits))] {
		var p struct {
			Path string `json:"path"`
			Name string `json:"name"`
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(h.Document.Data, &p); err != nil || p.Path == "" {
			out = append(out, "?"+h.Document.ID)
			continue
		}
		if p.Kind != "" { // a declaration: encoding/json.Marshal
			p.Path += "." + p.Name
		}
		out = append(out, p.Path)
	}
	return out
}

// reportMRR logs, per mode, the mean reciprocal rank of the package each
// plain query is about among its first 20 hits, and checks that fusion
// does at least as well as the better single mode.
func (e *env) reportMRR(t *testing.T, cases []expect) {
	modes := []search.Mode{search.ModeText, search.ModeVector, search.ModeHybrid}
	if len(e.ranks) < len(modes) {
		t.Logf("%s: the mean reciprocal ranks need the text, vector and hybrid subtests, and -run left some out", e.engine)
		return
	}
	mrr := map[search.Mode]float64{}
	var lines []string
	for _, c := range cases {
		if c.target() == "" {
			continue
		}
		line := fmt.Sprintf("%-28q", c.q)
		for _, mode := range modes {
			rank, ok := e.ranks[mode][c.q]
			if !ok {
				t.Fatalf("%s: no %s rank of %q", e.engine, mode, c.q)
			}
			if rank > 0 {
				mrr[mode] += 1 / float64(rank)
			}
			line += fmt.Sprintf(" %s:%2d", mode, rank)
		}
		lines = append(lines, line)
	}
	n := float64(len(lines))
	for _, mode := range modes {
		mrr[mode] /= n
	}
	t.Logf("%s: rank of the expected package (0: not in the first 20):\n%s", e.engine, strings.Join(lines, "\n"))
	t.Logf("%s: MRR over %d queries: text %.3f, vector %.3f, hybrid %.3f", e.engine, len(lines),
		mrr[search.ModeText], mrr[search.ModeVector], mrr[search.ModeHybrid])
	if best := max(mrr[search.ModeText], mrr[search.ModeVector]); mrr[search.ModeHybrid] < best-0.05 {
		t.Errorf("%s: hybrid MRR %.3f, below the better single mode's %.3f", e.engine, mrr[search.ModeHybrid], best)
	}
}
