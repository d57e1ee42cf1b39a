package storagetest

// accountsCases are the cases of the accounts.Store contract. Each gets a
// docstore.Store from the engine and checks that it is an accounts.Store.
func accountsCases() []testCase {
	return nil
}
