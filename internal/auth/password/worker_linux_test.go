package password

import (
	"context"
	"os"
	"strconv"
	"testing"
)

// Thread scheduling policies are set on Linux only: elsewhere the worker
// hashes at normal priority, and there is nothing to check.

// TestWorkerIdlePriority: every thread of the worker runs at SCHED_IDLE,
// and the process that asked for the hash keeps its priority.
func TestWorkerIdlePriority(t *testing.T) {
	h := newWorkerHasher(t, fastParams(), 2, nil)
	if _, err := h.Hash(context.Background(), "correct horse"); err != nil {
		t.Fatal(err)
	}
	pid := workerPID(t, h)
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) < 2 {
		t.Fatalf("the worker has %d threads; a Go program has several", len(tasks))
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		if pol, err := threadPolicy(tid); err != nil || pol != schedIdle {
			t.Errorf("worker thread %d: policy %d, %v; want SCHED_IDLE (%d)", tid, pol, err, schedIdle)
		}
	}
	if pol, err := threadPolicy(os.Getpid()); err != nil || pol == schedIdle {
		t.Errorf("the parent's main thread has policy %d, %v", pol, err)
	}
}
