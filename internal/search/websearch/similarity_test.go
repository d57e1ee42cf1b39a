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
		if b := NewText(c.text).Bound(c.word); b < got {
			t.Errorf("Bound(%q, %q) = %v, below the similarity %v", c.word, c.text, b, got)
		}
	}
}

func TestBestWordSimilarity(t *testing.T) {
	for _, c := range []struct {
		word, text string
		want       float64
	}{
		// pg_trgm: word_similarity('newyork', 'new') and ('newyork', 'york')
		// are 0.375, ('newyork', 'from new york') 0.54545456.
		{"newyork", "From New York", 0.375},
		{"replicaton", "Streaming replication, replicas", float64(float32(8) / 11)},
		{"york", "york", 1},
		{"york", "", 0},
		{"york", "!!", 0},
	} {
		text := NewText(c.text)
		got := text.BestWordSimilarity(c.word)
		if got != c.want {
			t.Errorf("BestWordSimilarity(%q, %q) = %v, want %v", c.word, c.text, got, c.want)
		}
		if whole := text.WordSimilarity(c.word); got > whole {
			t.Errorf("BestWordSimilarity(%q, %q) = %v exceeds WordSimilarity %v", c.word, c.text, got, whole)
		}
	}
}
