package websearch

import "testing"

// TestWordSimilarityMatchesPostgreSQL compares WordSimilarity with the
// values PostgreSQL 15.20's pg_trgm returned for the same arguments
// (SELECT word_similarity(word, text) on the test server, database
// encoding UTF8, ctype C.UTF-8). The values are float4, printed exactly.
func TestWordSimilarityMatchesPostgreSQL(t *testing.T) {
	cases := []struct {
		word, text string
		want       float32
	}{
		{"replicaton", "streaming replication slots", 0.72727275},
		{"word", "two words", 0.8},
		{"word", "Words", 0.8},
		{"cat", "the cat sat", 1},
		{"kitten", "sitting on a mitten", 0.5714286},
		{"postgres", "PostgreSQL is a database", 0.8888889},
		{"replication", "the replica set", 0.5833333},
		{"hello", "", 0},
		{"", "hello", 0},
		{"a", "a", 1},
		{"ab", "abc abd", 0.6666667},
		{"databse", "database systems and data base", 0.625},
		{"serach", "search engine research", 0.2857143},
		{"quick brown", "the quick brown fox", 1},
		{"café", "le CAFÉ noir", 1},
		{"naïve", "naive approach", 0.33333334},
		{"fox", "fax fix fox", 1},
		{"tst", "test", 0.2857143},
		{"42", "answer 42", 1},
		{"foo_bar", "foo bar", 1},
		{"elephant", "an elephant is an elephant", 1},
		{"mississippi", "miss is sip pi mississippi", 1},
		{"abcabc", "abc abc abcabc", 1},
		{"x", "xyz", 0.5},
		{"mississippi", "miss is sip pi", 0.4},
		{"abcdef", "abc def abcxef", 0.71428573},
		{"transaction", "transactions are isolated; a transact ion", 0.9166667},
		{"onetwothree", "one two three onetwo twothree", 0.8333333},
		{"hnsw", "hierarchical navigable small world hnsw graphs", 1},
		{"embeding", "embedding vectors embedder embed", 0.72727275},
		{"ab", "ba ab ba", 1},
		{"aaaa", "aaa aaaaa aa", 1},
		{"wrd", "w o r d wrd word", 1},
	}
	for _, c := range cases {
		got := WordSimilarity(c.word, c.text)
		if float32(got) != c.want || got != float64(float32(got)) {
			t.Errorf("WordSimilarity(%q, %q) = %v, PostgreSQL says %v", c.word, c.text, got, c.want)
		}
	}
}

func TestTypos(t *testing.T) {
	for _, c := range []struct {
		a, b string
		max  int
		want int
	}{
		{"maintain", "maintain", 2, 0},
		{"maintain", "maintani", 2, 1}, // two adjacent letters swapped
		{"maintain", "mainain", 2, 1},  // one dropped
		{"maintain", "maintaain", 2, 1},
		{"maintain", "maxntain", 2, 1},
		{"maintain", "mxntaxn", 2, 3}, // past max: max+1
		{"abc", "ca", 1, 2},           // the optimal string alignment distance, 3: past max
		{"ca", "abc", 5, 3},
		{"", "abc", 5, 3},
		{"héllo", "hello", 1, 1}, // runes, not bytes
		{"kitten", "sitting", 3, 3},
		{"kitten", "sitting", 2, 3},
	} {
		if got := Typos(c.a, c.b, c.max); got != c.want {
			t.Errorf("Typos(%q, %q, %d) = %d, want %d", c.a, c.b, c.max, got, c.want)
		}
	}
}

func TestSimilar(t *testing.T) {
	for _, c := range []struct {
		q, w string
		want bool
	}{
		{"xy", "xy", false},    // too short to take part
		{"raft", "Raft", true}, // short words as they are
		{"raff", "raft", false},
		{"instant", "instagt", true},     // similarity 0.625
		{"abcdefg", "abcxefg", true},     // similarity 0.45454547, one typo
		{"basic", "baxic", true},         // similarity 0.33333334, one typo
		{"basic", "bsaic", true},         // similarity 0.2, swapped
		{"basic", "bxsxc", false},        // two typos in five letters
		{"maintains", "mxintaixs", true}, // similarity 0.33333334, two typos
		{"maintains", "mxixtaixs", false},
		{"postgre", "postgresql", true}, // held in the word: similarity 1
		{"newyork", "york", false},
	} {
		if got := Similar(c.q, c.w); got != c.want {
			t.Errorf("Similar(%q, %q) = %v, want %v", c.q, c.w, got, c.want)
		}
	}
}

func TestTextHasSimilar(t *testing.T) {
	text := NewText("Trains from New York, daily")
	memo := map[string]bool{}
	for _, c := range []struct {
		q    string
		want bool
	}{
		{"newyork", false}, // word_similarity with the whole text is 0.54545456: across words
		{"trians", true},
		{"daly", false}, // four letters: as it is
		{"daily", true},
	} {
		for _, m := range []map[string]bool{nil, memo} {
			if got := text.HasSimilar(c.q, m); got != c.want {
				t.Errorf("HasSimilar(%q) = %v, want %v", c.q, got, c.want)
			}
		}
		clear(memo)
	}
	if ws := WordSimilarity("newyork", "Trains from New York, daily"); float32(ws) != 0.54545456 {
		t.Errorf("word_similarity across words = %v", ws)
	}
}

// osa is the optimal string alignment distance by the whole matrix, the
// reference FuzzTypos checks Typos's banded, early-stopping rows against.
func osa(a, b []rune) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func FuzzTypos(f *testing.F) {
	f.Add("maintain", "maintani", 2)
	f.Add("abc", "ca", 1)
	f.Add("héllo", "hello", 0)
	f.Fuzz(func(t *testing.T, a, b string, max int) {
		if len(a) > 64 || len(b) > 64 || max < 0 || max > 8 {
			return
		}
		want := min(osa([]rune(a), []rune(b)), max+1)
		if got := Typos(a, b, max); got != want {
			t.Fatalf("Typos(%q, %q, %d) = %d, want %d", a, b, max, got, want)
		}
	})
}
