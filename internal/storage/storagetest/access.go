package storagetest

// accessCases are the cases of the docstore contract about access rules:
// collections keep their rules and hidden fields, and reads and
// transactions can be narrowed by a filter.
func accessCases() []testCase {
	return nil
}
