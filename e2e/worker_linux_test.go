package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// schedIdle is Linux's SCHED_IDLE scheduling policy.
const schedIdle = 5

// children returns the process IDs whose parent is pid.
func children(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(filepath.Join("/proc", e.Name(), "stat")); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// procStat returns the fields of a /proc stat file after the command name
// (field 3, the state, is the first); nil when it cannot be read.
func procStat(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// alive reports whether process pid exists (and is not a zombie).
func alive(pid int) bool {
	f := procStat(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	return len(f) > 0 && f[0] != "Z"
}

// TestPasswordWorker: `basalt serve` hashes passwords in one child process,
// itself started again as "basalt password-worker", every thread of which
// runs at SCHED_IDLE; logins work through it; and it does not outlive the
// server, whether the server stops cleanly or is killed.
func TestPasswordWorker(t *testing.T) {
	for _, stop := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(stop.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			createAdmin(t, "--data-dir", dir)
			s := startProcess(t, dir)
			kids := children(t, s.cmd.Process.Pid)
			if len(kids) != 1 {
				t.Fatalf("basalt serve has %d child processes (%v); want its password worker", len(kids), kids)
			}
			worker := kids[0]
			cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(worker) + "/cmdline")
			if err != nil {
				t.Fatal(err)
			}
			if args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"); len(args) != 2 || args[1] != "password-worker" {
				t.Errorf("worker command line %q", args)
			}
			// Logins are answered through the worker: a right and a wrong
			// password.
			c := s.client(t)
			c.must(200, "POST", "/v1/auth/login", credentials(t, adminEmail, adminPassword))
			c.must(401, "POST", "/v1/auth/login", credentials(t, adminEmail, "not the password"))
			tasks, err := os.ReadDir("/proc/" + strconv.Itoa(worker) + "/task")
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range tasks {
				// Field 41 of stat is the policy; procStat starts at field 3.
				f := procStat(filepath.Join("/proc", strconv.Itoa(worker), "task", task.Name(), "stat"))
				if len(f) < 39 || f[38] != strconv.Itoa(schedIdle) {
					t.Errorf("worker thread %s: stat %v; want policy %d (SCHED_IDLE)", task.Name(), f, schedIdle)
				}
			}
			// The server's own threads keep the normal policy.
			if f := procStat(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "stat")); len(f) < 39 || f[38] != "0" {
				t.Errorf("server stat %v; want policy 0", f)
			}

			if err := s.cmd.Process.Signal(stop); err != nil {
				t.Fatal(err)
			}
			if ok, _ := s.wait(30 * time.Second); !ok {
				t.Fatalf("server did not exit within 30s of %v", stop)
			}
			waitFor(t, 10*time.Second, "the password worker to exit after the server", func() bool { return !alive(worker) })
		})
	}
}
