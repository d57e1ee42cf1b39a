//go:build !linux

package vectorbench

import "time"

// threadCPU is 0 where a thread's CPU time cannot be read: rates are then
// measured in wall time.
func threadCPU() time.Duration { return 0 }
