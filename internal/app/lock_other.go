//go:build !unix

package app

import "os"

// lockFile does nothing where flock(2) does not exist: there, nothing stops
// two servers on one data directory.
func lockFile(*os.File) error { return nil }
