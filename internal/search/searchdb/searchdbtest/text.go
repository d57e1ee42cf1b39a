package searchdbtest

// textCases are the full-text cases: queries, ranking, fuzzy fallback,
// snippets, filters, sorts and cursors, configuration changes and builds.
func textCases() []testCase {
	return nil
}
