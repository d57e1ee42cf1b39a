//go:build !linux

package load

import (
	"errors"
	"syscall"
	"time"
)

// childProcAttr has nothing to add outside Linux.
func childProcAttr() *syscall.SysProcAttr { return nil }

// processRSS is measured on Linux only.
func processRSS(int) (int64, error) {
	return 0, errors.New("load: a process's memory is measured on Linux only")
}

// raiseOpenFiles leaves the limit alone outside Linux and reports want.
func raiseOpenFiles(want uint64) (uint64, bool, error) { return want, false, nil }

// processCPU is measured on Linux only.
func processCPU(int) (time.Duration, error) {
	return 0, errors.New("load: a process's CPU time is measured on Linux only")
}
