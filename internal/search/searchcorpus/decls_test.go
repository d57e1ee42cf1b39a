package searchcorpus_test

import (
	"testing"
)

// declCases are queries over the documented declarations of strings,
// strconv, os, time, encoding/json, slices and path/filepath: what a Go
// programmer looks for, and the declaration they expect. Names are one
// word to both engines (ReadFile is not "read file"), and the embedder
// reads the comments only, not the names.
var declCases = []expect{
	{q: "split string separator", top3: []string{"strings.Split"}},
	// The methods of os.File, whose names hold the word file, come
	// close.
	{q: "read file contents", top10: []string{"os.ReadFile"}},
	{q: "current local time", top1: "time.Now"},
	{q: "marshal json", top3: []string{"encoding/json.Marshal"},
		noVector: "Marshal's comment is 5 kB long and every encoding/json declaration shares its words"},
	{q: "leading trailing white space", top3: []string{"strings.TrimSpace"}},
	// No comment says both words: the typo-tolerant match finds binary
	// in the name BinarySearch.
	{q: "binary search", top3: []string{"slices.BinarySearch"}, fuzzy: true,
		noVector: "BinarySearch's comment never says binary: only its name does"},
	{q: "environment variable", top10: []string{"os.Getenv", "os.LookupEnv"}},
	{q: "walk file tree", top3: []string{"path/filepath.WalkDir"}},
	{q: "temporary directory", top3: []string{"os.MkdirTemp"}},
	{q: "parse duration", top1: "time.ParseDuration"},
	// strconv.AppendQuote and its kin say "string literal" as Quote does.
	{q: "quote string literal", top10: []string{"strconv.Quote"}},
	{q: `"white space"`, top10: []string{"strings.TrimSpace"}, phrase: `(?i)white\s+space`},
	{q: "file -directory", not: []string{"os.MkdirTemp", "os.ReadDir"}, without: "directory"},
	{q: "envirnoment variable", top10: []string{"os.Getenv"}, fuzzy: true}, //nolint:misspell // a typo on purpose
	{q: "temporray directory", top3: []string{"os.MkdirTemp"}, fuzzy: true},
}

// TestDeclRelevance runs queries over a second corpus, of short texts:
// the doc comments of exported functions, types and methods, in every
// mode on each engine.
func TestDeclRelevance(t *testing.T) {
	c := loadDecls(t)
	t.Logf("%d declarations", len(c.ids))
	onEachEngine(t, c, func(t *testing.T, e *env) {
		t.Run("text", e.testText(declCases))
		t.Run("vector", e.testVector(declCases))
		t.Run("hybrid", e.testHybrid(declCases))
		e.reportMRR(t, declCases)
	})
}
