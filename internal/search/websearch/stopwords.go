package websearch

// StopWord reports whether lowerWord is a stop word of the PostgreSQL text
// search configuration language: one its parser drops from documents and
// queries. English has PostgreSQL's list (tsearch_data/english.stop);
// "simple" has none, and so, here, has every other language (SQLite's
// tokenizers keep every word, so the difference is only which words a
// query may omit).
func StopWord(language, lowerWord string) bool {
	if language != "english" && language != "" {
		return false
	}
	// PostgreSQL 15's tsearch_data/english.stop.
	switch lowerWord {
	case
		"i", "me", "my", "myself", "we", "our", "ours", "ourselves",
		"you", "your", "yours", "yourself", "yourselves", "he", "him", "his",
		"himself", "she", "her", "hers", "herself", "it", "its", "itself",
		"they", "them", "their", "theirs", "themselves", "what", "which", "who",
		"whom", "this", "that", "these", "those", "am", "is", "are",
		"was", "were", "be", "been", "being", "have", "has", "had",
		"having", "do", "does", "did", "doing", "a", "an", "the",
		"and", "but", "if", "or", "because", "as", "until", "while",
		"of", "at", "by", "for", "with", "about", "against", "between",
		"into", "through", "during", "before", "after", "above", "below", "to",
		"from", "up", "down", "in", "out", "on", "off", "over",
		"under", "again", "further", "then", "once", "here", "there", "when",
		"where", "why", "how", "all", "any", "both", "each", "few",
		"more", "most", "other", "some", "such", "no", "nor", "not",
		"only", "own", "same", "so", "than", "too", "very", "s",
		"t", "can", "will", "just", "don", "should", "now":
		return true
	}
	return false
}
