// Package password hashes and verifies Basalt account passwords with
// argon2id.
//
// Hashes are stored as PHC strings ($argon2id$v=19$m=..,t=..,p=..$salt$key),
// the form the argon2 reference tool and libsodium write, so stored hashes
// stay portable. A Hasher bounds how many hashes run at once, so a burst of
// logins queues instead of exhausting memory and CPU for every other request,
// and reports when a stored hash was made with other parameters so callers
// can rehash it transparently after a successful login.
package password
