package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBasalt compiles cmd/basalt once per test binary run.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func basaltBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "basalt-e2e-bin")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "basalt")
		gobin, err := exec.LookPath("go")
		if err != nil {
			buildOnce.err = err
			return
		}
		cmd := exec.Command(gobin, "build", "-trimpath", "-o", buildOnce.path, "../cmd/basalt") // -trimpath as the Makefile, and so that TestUpgrade's build of the previous release reuses the compiled packages
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildOnce.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

// server is a basalt process started by a test.
type server struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{} // closed when the process has exited
	err  error         // the exit status, valid after done is closed
	logs *syncBuffer
	// token is the access token the server's clients send ("" for none).
	token string
}

// wait returns the exit status once the process has exited.
func (s *server) wait(timeout time.Duration) (exited bool, err error) {
	select {
	case <-s.done:
		return true, s.err
	case <-time.After(timeout):
		return false, nil
	}
}

// startProcess starts `basalt serve` on a random port with dataDir and
// waits until it logs its address (see launch).
func startProcess(t *testing.T, dataDir string, extra ...string) *server {
	t.Helper()
	return launch(t, dataDir, extra...)()
}

// launch starts `basalt serve` on a random port with dataDir but does not
// wait for it: the returned function waits until the process logs its
// address. Starting several
// processes before waiting on any makes them race through start-up
// (migrations, the shared cursor key) at the same time.
func launch(t *testing.T, dataDir string, extra ...string) (wait func() *server) {
	t.Helper()
	return launchWith(t, basaltBinary(t), dataDir, extra...)
}

// launchWith is launch with the basalt binary bin.
func launchWith(t *testing.T, bin, dataDir string, extra ...string) (wait func() *server) {
	t.Helper()
	// Every client is 127.0.0.1, standing for many users: it may use the
	// whole hashing budget, and the API-wide rate limits are off (the load
	// of these tests is far above any client's) unless a test turns them
	// on with --rate-limits=true.
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--password-ip-share=1", "--rate-limits=false"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan struct{}), logs: &syncBuffer{}}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = s.logs.Write(append(line, '\n'))
			var entry struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &entry) == nil && entry.Msg == "basalt is serving" {
				addrc <- entry.Addr
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	return func() *server {
		t.Helper()
		select {
		case s.addr = <-addrc:
			return s
		case <-s.done:
			t.Fatalf("basalt exited before serving: %v\n%s", s.err, s.logs.String())
		case <-time.After(60 * time.Second):
			t.Fatalf("basalt did not start within 60s\n%s", s.logs.String())
		}
		return nil
	}
}

// client returns a client of the server that sends s.token.
func (s *server) client(t *testing.T) *client {
	return &client{t: t, base: "http://" + s.addr, http: &http.Client{Timeout: 10 * time.Second}, token: s.token}
}

// TestKill9KeepsAcknowledgedWrites kills a real server process with SIGKILL
// while writers are busy, restarts it on the same data directory and checks
// that every write that was acknowledged is there.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startProcess(t, dataDir)
	actAsAdmin(t, []string{"--data-dir", dataDir}, s) // on SQLite, while the server runs
	c := s.client(t)
	c.must(201, "POST", "/v1/collections", `{"name":"events","schema":{"type":"object","properties":{"n":{"type":"integer"},"writer":{"type":"integer"}},"required":["n"]}}`)

	const writers = 8
	const wantAcked = 400 // kill once this many writes are acknowledged
	var (
		mu    sync.Mutex
		acked = map[string]int{} // id → n
	)
	killed := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	httpc := &http.Client{Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; i < 100000; i++ {
				select {
				case <-killed:
					return
				case <-ctx.Done():
					return
				default:
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				body := fmt.Sprintf(`{"n":%d,"writer":%d}`, i, w)
				req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+s.addr+"/v1/collections/events/documents?id="+id, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+s.token)
				res, err := httpc.Do(req)
				if err != nil {
					return // the server is gone
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusCreated {
					mu.Lock()
					acked[id] = i
					n := len(acked)
					mu.Unlock()
					if n == wantAcked {
						// SIGKILL: no chance to flush, close or drain.
						_ = s.cmd.Process.Signal(syscall.SIGKILL)
						close(killed)
					}
				}
			}
		})
	}
	loadStart := time.Now()
	wg.Wait()
	t.Logf("killed after %v of load", time.Since(loadStart))
	select {
	case <-killed:
	default:
		t.Fatalf("only %d writes were acknowledged before the deadline", len(acked))
	}
	if ok, err := s.wait(30 * time.Second); !ok || err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("server exit: %v (exited: %v), want killed", err, ok)
	}

	s2 := startProcess(t, dataDir)
	s2.token = s.token // the session survived the kill too
	c2 := s2.client(t)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("checking %d acknowledged writes after kill -9", len(acked))
	for id, n := range acked {
		r := c2.do("GET", "/v1/collections/events/documents/"+id, "")
		if r.Status != 200 {
			t.Fatalf("acknowledged document %s is missing after kill -9: %d %s", id, r.Status, r.Body)
		}
		if got := r.JSON(t)["data"].(map[string]any)["n"]; got != float64(n) {
			t.Fatalf("document %s has n=%v, want %d", id, got, n)
		}
	}
}

// TestSIGTERMDrains checks that SIGTERM stops the server cleanly (exit 0).
func TestSIGTERMDrains(t *testing.T) {
	s := startProcess(t, filepath.Join(t.TempDir(), "data"))
	s.client(t).must(200, "GET", "/readyz", "")
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ok, err := s.wait(30 * time.Second)
	if !ok {
		t.Fatal("server did not exit within 30s of SIGTERM")
	}
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, s.logs.String())
	}
	if !strings.Contains(s.logs.String(), "draining HTTP server") {
		t.Errorf("no drain in logs:\n%s", s.logs.String())
	}
}
