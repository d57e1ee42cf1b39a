package password

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// schedIdle is Linux's SCHED_IDLE policy: a thread with it runs only on CPU
// time no other thread wants, and any other thread that wakes up preempts
// it at once.
const schedIdle = 5

// lowerProcessPriority moves every thread of the process to SCHED_IDLE, or,
// where that is refused, to the lowest nice value (19); on Linux both are
// per thread. Threads the Go runtime starts later are cloned from these and
// inherit the policy; passes repeat until one finds every thread done, so a
// thread started during a pass is not missed.
func lowerProcessPriority() error {
	done := map[int]bool{}
	for {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		changed := false
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil || done[tid] {
				continue
			}
			if err := lowerThreadPriority(tid); err != nil {
				return err
			}
			done[tid], changed = true, true
		}
		if !changed {
			return nil
		}
	}
}

// lowerThreadPriority moves thread tid to SCHED_IDLE, or to nice 19.
func lowerThreadPriority(tid int) error {
	var param struct{ priority int32 }
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), schedIdle, uintptr(unsafe.Pointer(&param)))
	if errno == 0 || errno == syscall.ESRCH { // ESRCH: the thread has ended
		return nil
	}
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, 19); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("lowering the priority of thread %d: %w", tid, err)
	}
	return nil
}

// threadPolicy returns the scheduling policy of thread tid (of any process).
func threadPolicy(tid int) (int, error) {
	p, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, uintptr(tid), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(p), nil
}
