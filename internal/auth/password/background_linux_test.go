package password

import (
	"runtime"
	"testing"
)

// Thread scheduling policies are set on Linux only; elsewhere hashes run at
// normal priority and there is nothing to check.

func TestLowerThreadPriority(t *testing.T) {
	got := make(chan [2]int, 1)
	errs := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		before, err := threadPolicy()
		if err != nil {
			errs <- err
			return
		}
		lowerThreadPriority()
		after, err := threadPolicy()
		if err != nil {
			errs <- err
			return
		}
		got <- [2]int{before, after}
	}()
	select {
	case err := <-errs:
		t.Fatal(err)
	case g := <-got:
		if g[1] != schedIdle || g[0] == schedIdle {
			t.Fatalf("policy before %d, after %d; want the thread at SCHED_IDLE (%d) and the process not", g[0], g[1], schedIdle)
		}
	}
	// This goroutine's thread was not touched.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if mine, err := threadPolicy(); err != nil || mine == schedIdle {
		t.Fatalf("the test's own thread has policy %d, %v", mine, err)
	}
}
