package websearch

import (
	"context"
	"database/sql"
	"reflect"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the FTS5 tests run MATCH on an in-memory table

	"github.com/basaltdev/basalt/internal/fault"
)

// parseCases pair queries with their FTS5 rendering. The grouping follows
// websearch_to_tsquery on PostgreSQL 15 (for example `a b or c` is
// 'a' & 'b' | 'c', which matches a document holding only c).
var parseCases = []struct {
	query, fts5 string
	words       []string
}{
	{`cat`, `("cat")`, []string{"cat"}},
	{`quick brown fox`, `("quick" AND "brown" AND "fox")`, []string{"quick", "brown", "fox"}},
	{`"quick brown" fox`, `("quick brown" AND "fox")`, []string{"quick", "brown", "fox"}},
	{`a b or c`, `("a" AND "b") OR ("c")`, []string{"a", "b", "c"}},
	{`a b OR c d`, `("a" AND "b") OR ("c" AND "d")`, []string{"a", "b", "c", "d"}},
	{`a -b c`, `(("a" AND "c") NOT "b")`, []string{"a", "c"}},
	{`a -b -"c d"`, `((("a") NOT "b") NOT "c d")`, []string{"a"}},
	{`a -b or c`, `(("a") NOT "b") OR ("c")`, []string{"a", "c"}},
	{`a or -b`, `("a")`, []string{"a"}},                // a group of exclusions only matches nothing
	{`-a`, ``, nil},                                    // so does a query of them
	{`-"a b"`, ``, nil},                                //
	{`!!! ???`, ``, nil},                               // punctuation only
	{`""`, ``, nil},                                    //
	{`a or or b`, `("a") OR ("or" AND "b")`, nil},      // the second or is a word
	{`or a`, `("or" AND "a")`, nil},                    // at the start
	{`a or`, `("a" AND "or")`, nil},                    // at the end
	{`"a or b"`, `("a or b")`, nil},                    // quoted
	{`foo-bar`, `("foo bar")`, []string{"foo", "bar"}}, // punctuation inside a word: a phrase
	{`a "b c`, `("a" AND "b c")`, nil},                 // an unclosed quote runs to the end
	{`--a b`, `("a" AND "b")`, nil},                    // two minus signs cancel out
	{`a AND b NOT c NEAR(d e)`, `("a" AND "AND" AND "b" AND "NOT" AND "c" AND "NEAR d" AND "e")`, nil},
	{`title:x* ^y {a b}:c`, `("title x" AND "y" AND "a" AND "b c")`, nil},
	{`Café CAFÉ`, `("Café" AND "CAFÉ")`, []string{"café"}},
}

func TestParse(t *testing.T) {
	for _, c := range parseCases {
		q, err := Parse(c.query)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.query, err)
		}
		if got := q.FTS5(); got != c.fts5 {
			t.Errorf("Parse(%q).FTS5() = %s, want %s", c.query, got, c.fts5)
		}
		if q.Empty() != (c.fts5 == "") {
			t.Errorf("Parse(%q).Empty() = %v", c.query, q.Empty())
		}
		if c.words != nil && !reflect.DeepEqual(q.Words(), c.words) {
			t.Errorf("Parse(%q).Words() = %q, want %q", c.query, q.Words(), c.words)
		}
	}
}

func TestParseLimits(t *testing.T) {
	ok := strings.Repeat("x", MaxQueryBytes)
	if _, err := Parse(ok); err != nil {
		t.Errorf("a query of %d bytes: %v", MaxQueryBytes, err)
	}
	if _, err := Parse(ok + " "); !fault.Is(err, fault.Invalid) {
		t.Errorf("a query of %d bytes: %v, want Invalid", MaxQueryBytes+1, err)
	}
	terms := strings.TrimSpace(strings.Repeat("w ", MaxTerms))
	if _, err := Parse(terms); err != nil {
		t.Errorf("%d terms: %v", MaxTerms, err)
	}
	for _, extra := range []string{" w", ` -w`, ` "w w"`, ` or w`} {
		if _, err := Parse(terms + extra); !fault.Is(err, fault.Invalid) {
			t.Errorf("%d terms + %q: %v, want Invalid", MaxTerms, extra, err)
		}
	}
	// An OR between groups and punctuation are not terms.
	if _, err := Parse(terms + " or !!!"); err != nil {
		t.Errorf("%d terms and punctuation: %v", MaxTerms, err)
	}
	if _, err := Parse("a \xff"); !fault.Is(err, fault.Invalid) {
		t.Errorf("invalid UTF-8: %v, want Invalid", err)
	}
}

func TestWithoutWords(t *testing.T) {
	stop := func(w string) bool { return StopWord("english", w) }
	for _, c := range []struct{ query, fts5 string }{
		{`the cat`, `("cat")`},
		{`"the cat" sat`, `("cat" AND "sat")`},
		{`"replicates the log"`, `("replicates the log")`}, // inside a phrase: kept
		{`"the log of the"`, `("log")`},
		{`leader -"replicates the log"`, `(("leader") NOT "replicates the log")`},
		{`"the of"`, ``},
		{`the or a`, ``},
		{`the or cat`, `("cat")`},
		{`cat -the`, `("cat")`},
		{`the -cat`, ``},
	} {
		q, err := Parse(c.query)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.WithoutWords(stop).FTS5(); got != c.fts5 {
			t.Errorf("%q without stop words: %s, want %s", c.query, got, c.fts5)
		}
	}
	if StopWord("simple", "the") || !StopWord("english", "the") || StopWord("english", "cat") {
		t.Error("StopWord: english has PostgreSQL's list, simple none")
	}
}

// ftsTable opens an in-memory FTS5 table with a few documents, one per
// tokenizer the SQLite engine uses.
func ftsTable(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	for _, s := range []string{
		`CREATE VIRTUAL TABLE w USING fts5(title, body, tokenize='porter unicode61 remove_diacritics 2')`,
		`INSERT INTO w VALUES ('Quick brown fox', 'jumps over the lazy dog'),
			('Café society', 'naïve art, foo-bar and NEAR things'),
			('OR AND NOT', '"quoted" text * ^ :')`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func match(t testing.TB, db *sql.DB, expr string) []int64 {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT rowid FROM w WHERE w MATCH ? ORDER BY rowid`, expr)
	if err != nil {
		t.Fatalf("MATCH %q: %v", expr, err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("MATCH %q: %v", expr, err)
	}
	return ids
}

func TestFTS5Matches(t *testing.T) {
	db := ftsTable(t)
	for _, c := range []struct {
		query string
		want  []int64
	}{
		{`fox`, []int64{1}},
		{`foxes JUMPING`, []int64{1}}, // porter stems both
		{`"lazy dog"`, []int64{1}},
		{`"dog lazy"`, nil},
		{`fox or cafe`, []int64{1, 2}},
		{`fox -dog`, nil},
		{`fox -cat`, []int64{1}},
		{`foo-bar`, []int64{2}},
		{`bar-foo`, nil},
		{`near`, []int64{2}},
		{`or and not`, []int64{3}},
		{`"quoted"`, []int64{3}},
		{`naive`, []int64{2}},
	} {
		q, err := Parse(c.query)
		if err != nil {
			t.Fatal(err)
		}
		if got := match(t, db, q.FTS5()); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q (%s) matched %v, want %v", c.query, q.FTS5(), got, c.want)
		}
	}
}

// FuzzParse checks that any query either is refused as Invalid or renders
// an expression FTS5 accepts, whose terms are all quoted.
func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.query)
	}
	for _, s := range []string{`"`, `-`, `- -`, `"a""b"`, `a"b"c`, `NEAR("a" "b", 2)`, `a:b`, "\x00", `\"`,
		`*`, `a*`, `(a OR b)`, `'a'`, "\u0301", "x\u0301y", "日本語 テキスト", "-\"", `or or or`, `"" or ""`} {
		f.Add(s)
	}
	db := ftsTable(f)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			if !fault.Is(err, fault.Invalid) {
				t.Fatalf("Parse(%q): %v, want Invalid", s, err)
			}
			return
		}
		expr := q.FTS5()
		if expr == "" {
			if !q.Empty() {
				t.Fatalf("Parse(%q): empty expression for a query with groups", s)
			}
			return
		}
		match(t, db, expr) // fails the test if FTS5 refuses it
		for _, w := range q.Words() {
			if w == "" || strings.ContainsFunc(w, func(r rune) bool { return !isWordRune(r) }) {
				t.Fatalf("Parse(%q).Words() has %q", s, w)
			}
		}
	})
}

// FuzzWordSimilarity checks the range and that a word is wholly similar
// to a text that holds it.
func FuzzWordSimilarity(f *testing.F) {
	f.Add("replicaton", "streaming replication slots")
	f.Add("", "x")
	f.Add("日本", "日本語")
	f.Fuzz(func(t *testing.T, word, text string) {
		s := WordSimilarity(word, text)
		if s < 0 || s > 1 {
			t.Fatalf("WordSimilarity(%q, %q) = %v", word, text, s)
		}
		if len(trigrams(word, nil)) > 0 {
			if got := WordSimilarity(word, text+" "+word); got != 1 {
				t.Fatalf("WordSimilarity(%q, text holding it) = %v, want 1", word, got)
			}
		}
	})
}

func TestMarkSimilar(t *testing.T) {
	for _, c := range []struct {
		text  string
		words []string
		max   int
		want  string
		ok    bool
	}{
		{"Streaming replication slots.", []string{"replicaton"}, 10, "Streaming [replication] slots.", true},
		{"one two three four fivey six seven eight", []string{"fivy"}, 4, "", false},
		{"one two three four fivey six seven eight", []string{"fiveyy"}, 4, "…four [fivey] six seven…", true},
		{"alpha beta", []string{"zzz"}, 10, "", false},
		{"alpha beta gamma", []string{"alpha", "gamma"}, 2, "[alpha] beta…", true},
		{"cat cats car", []string{"cat"}, 5, "[cat] cats car", true}, // short words: exactly
		{"cots car", []string{"cat"}, 5, "", false},
	} {
		got, ok := MarkSimilar(c.text, c.words, c.max, "[", "]")
		if got != c.want || ok != c.ok {
			t.Errorf("MarkSimilar(%q, %q) = %q, %v; want %q, %v", c.text, c.words, got, ok, c.want, c.ok)
		}
	}
}
