package websearch

import (
	"strings"
	"testing"
)

// BenchmarkWordSimilarity compares a word with a text of 66 words, as the
// typo-tolerant match does for each candidate document.
func BenchmarkWordSimilarity(b *testing.B) {
	text := strings.Repeat("streaming replication slots keep the write-ahead log for standby servers ", 6)
	for b.Loop() {
		NewText(text).WordSimilarity("replicaton")
	}
}
