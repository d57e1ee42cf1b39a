package password

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/fault"
)

// TestMain lets this test binary serve as its own hashing worker, as the
// basalt binary does (cmd/basalt checks WorkerSlots first thing).
func TestMain(m *testing.M) {
	if slots, ok := WorkerSlots(os.Getenv); ok {
		if err := ServeWorker(os.Stdin, os.Stdout, os.Stderr, slots); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func fastParams() Params {
	return Params{Memory: MinMemoryKiB, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

// newWorkerHasher returns a Hasher whose hashes run in this test binary
// started as a worker, closed when the test ends.
func newWorkerHasher(t *testing.T, p Params, slots int, stderr io.Writer) *Hasher {
	t.Helper()
	h, err := New(p, slots, InWorker(Command{Path: os.Args[0], Stderr: stderr}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Error(err)
		}
	})
	return h
}

// workerPID is the process ID of h's running worker.
func workerPID(t *testing.T, h *Hasher) int {
	t.Helper()
	p, err := h.worker.running()
	if err != nil {
		t.Fatal(err)
	}
	return p.cmd.Process.Pid
}

func TestWorkerHashesAlike(t *testing.T) {
	p := fastParams()
	wk := newWorkerHasher(t, p, 2, nil)
	in, err := New(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, pair := range [][2]*Hasher{{wk, in}, {in, wk}} {
		enc, err := pair[0].Hash(ctx, "correct horse")
		if err != nil {
			t.Fatal(err)
		}
		if ok, _, err := pair[1].Verify(ctx, "correct horse", enc); !ok || err != nil {
			t.Fatalf("Verify = %v, %v", ok, err)
		}
		if ok, _, err := pair[1].Verify(ctx, "wrong horse", enc); ok || err != nil {
			t.Fatalf("a wrong password: Verify = %v, %v", ok, err)
		}
	}
	// Concurrent requests to one worker each get their own answer.
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			pw := "password " + strconv.Itoa(i)
			enc, err := wk.Hash(ctx, pw)
			if err == nil {
				var ok bool
				ok, _, err = in.Verify(ctx, pw, enc)
				if err == nil && !ok {
					err = fmt.Errorf("hash of %q does not verify", pw)
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestWorkerRestarts: a hash in progress when the worker dies fails with
// fault.Unavailable (503, "try again"); the next one starts a new worker.
func TestWorkerRestarts(t *testing.T) {
	// Slow enough (≈ a second) to kill the worker in the middle of it.
	slow := Params{Memory: 256 * 1024, Iterations: 4, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	h := newWorkerHasher(t, slow, 1, nil)
	ctx := context.Background()
	proc, err := h.worker.running()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := h.Hash(ctx, "correct horse")
		done <- err
	}()
	// Kill the worker once the request has reached it.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		proc.mu.Lock()
		n := len(proc.pending)
		proc.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hash never reached the worker")
		}
		<-tick.C
	}
	if err := proc.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !fault.Is(err, fault.Unavailable) {
		t.Fatalf("hash during the worker's death: %v, want fault.Unavailable", err)
	}
	<-proc.done

	fast := newWorkerHasher(t, fastParams(), 1, nil)
	first := workerPID(t, fast)
	old, _ := fast.worker.running()
	if err := old.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-old.done
	enc, err := fast.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatalf("hash after the worker died: %v", err)
	}
	if ok, _, err := fast.Verify(ctx, "correct horse", enc); !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	if second := workerPID(t, fast); second == first {
		t.Fatalf("the worker was not restarted (pid %d)", second)
	}
}

// TestWorkerClose: Close ends the worker process; later hashes fail with
// fault.Unavailable and start none.
func TestWorkerClose(t *testing.T) {
	h, err := New(fastParams(), 1, InWorker(Command{Path: os.Args[0]}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.worker.running()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	default:
		t.Fatal("Close returned before the worker exited")
	}
	if !p.cmd.ProcessState.Success() {
		t.Errorf("the worker exited with %v after its input closed; want 0", p.cmd.ProcessState)
	}
	if _, err := h.Hash(context.Background(), "correct horse"); !fault.Is(err, fault.Unavailable) {
		t.Fatalf("hash after Close: %v, want fault.Unavailable", err)
	}
}

// TestWorkerContextEnds: a caller whose context ends stops waiting at once
// with fault.Unavailable.
func TestWorkerContextEnds(t *testing.T) {
	slow := Params{Memory: 256 * 1024, Iterations: 4, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	h := newWorkerHasher(t, slow, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "correct horse"); !fault.Is(err, fault.Unavailable) {
		t.Fatalf("Hash with an ending context: %v, want fault.Unavailable", err)
	}
}

// TestWorkerStartFails: a worker that cannot start fails New, so that
// Basalt refuses to start instead of failing every login.
func TestWorkerStartFails(t *testing.T) {
	_, err := New(fastParams(), 1, InWorker(Command{Path: t.TempDir() + "/no-such-binary"}))
	if !fault.Is(err, fault.Internal) || !strings.Contains(err.Error(), "no-such-binary") {
		t.Fatalf("New with a missing worker binary: %v", err)
	}
}

// TestServeWorker drives the worker's side directly: good requests get
// keys, requests outside the parameter bounds get an error answer, and
// input that is not a request ends it with an error.
func TestServeWorker(t *testing.T) {
	p := fastParams()
	salt := bytes.Repeat([]byte{7}, 16)
	want, err := New(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := want.derive(context.Background(), "pw", salt, p)
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, r := range []workerRequest{
		{ID: 1, Password: []byte("pw"), Salt: salt, Memory: p.Memory, Iterations: 1, Parallelism: 1, KeyLen: 32},
		{ID: 2, Password: []byte("pw"), Salt: salt, Memory: MaxMemoryKiB + 1, Iterations: 1, Parallelism: 1, KeyLen: 32},
		{ID: 3, Password: []byte("pw"), Salt: salt[:4], Memory: p.Memory, Iterations: 1, Parallelism: 1, KeyLen: 32},
	} {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	// serveWorker, not ServeWorker: that would lower this test process's
	// priority.
	if err := serveWorker(bytes.NewReader(in.Bytes()), &out, 2); err != nil {
		t.Fatal(err)
	}
	got := map[uint64]workerResponse{}
	dec := json.NewDecoder(&out)
	for dec.More() {
		var r workerResponse
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		got[r.ID] = r
	}
	if r := got[1]; r.Error != "" || !bytes.Equal(r.Key, key) {
		t.Errorf("request 1: %+v, want key %x", r, key)
	}
	for _, id := range []uint64{2, 3} {
		if r := got[id]; r.Error == "" || r.Key != nil {
			t.Errorf("request %d outside the bounds: %+v, want an error", id, r)
		}
	}
	if err := serveWorker(strings.NewReader(`{"id":`), io.Discard, 1); err == nil {
		t.Error("a truncated request ended the worker without an error")
	}
}

func TestWorkerSlots(t *testing.T) {
	for _, c := range []struct {
		v     string
		slots int
		ok    bool
	}{{"", 0, false}, {"3", 3, true}, {"0", 1, true}, {"x", 1, true}} {
		slots, ok := WorkerSlots(func(k string) string {
			if k == WorkerEnv {
				return c.v
			}
			return ""
		})
		if slots != c.slots || ok != c.ok {
			t.Errorf("%q: %d, %v; want %d, %v", c.v, slots, ok, c.slots, c.ok)
		}
	}
}
