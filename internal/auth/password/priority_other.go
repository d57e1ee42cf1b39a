//go:build !linux

package password

import "errors"

// schedIdle has no meaning here.
const schedIdle = -1

// lowerThreadPriority does nothing where thread priorities cannot be set
// portably: hashes run at normal priority there.
func lowerThreadPriority() {}

// threadPolicy is not known on this system.
func threadPolicy() (int, error) {
	return 0, errors.New("thread scheduling policies are not supported here")
}
