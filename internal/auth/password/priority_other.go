//go:build !linux

package password

import "errors"

// schedIdle has no meaning here.
const schedIdle = -1

// lowerProcessPriority does nothing where thread priorities cannot be set
// portably: hashing workers run at normal priority there.
func lowerProcessPriority() error { return nil }

// threadPolicy is not known on this system.
func threadPolicy(int) (int, error) {
	return 0, errors.New("thread scheduling policies are not supported here")
}
