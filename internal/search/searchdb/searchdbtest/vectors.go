package searchdbtest

// vectorCases are the stored-vector cases: PutVectors, GetVectors,
// ListVectors, and what document and collection deletes do to them.
func vectorCases() []testCase {
	return nil
}
