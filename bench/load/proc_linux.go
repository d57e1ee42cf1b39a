package load

import "syscall"

// childProcAttr asks Linux to send SIGTERM to a server under test when the
// load generator dies without stopping it (e.g. kill -9).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
