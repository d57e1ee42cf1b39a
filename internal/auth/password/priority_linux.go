package password

import (
	"syscall"
	"unsafe"
)

// schedIdle is Linux's SCHED_IDLE policy: the thread runs only on CPU time
// no other thread wants, and any other thread that wakes up preempts it at
// once.
const schedIdle = 5

// lowerThreadPriority moves the calling OS thread to SCHED_IDLE, or, if
// that is refused, to the lowest nice value (19). On Linux both are per
// thread.
func lowerThreadPriority() {
	var param struct{ priority int32 }
	tid := syscall.Gettid()
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), schedIdle, uintptr(unsafe.Pointer(&param)))
	if errno != 0 {
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, 19)
	}
}

// threadPolicy returns the scheduling policy of the calling OS thread.
func threadPolicy() (int, error) {
	p, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, uintptr(syscall.Gettid()), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(p), nil
}
