//go:build !unix

package vectorbench

import "time"

// cpuTime is 0 where the process's CPU time cannot be read.
func cpuTime() time.Duration { return 0 }
