package password

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/basaltdev/basalt/internal/fault"
)

// WorkerEnv is the environment variable that turns a start of the Basalt
// binary into a hashing worker (see InWorker); its value is the number of
// hashes the worker runs at once.
const WorkerEnv = "BASALT_PASSWORD_WORKER"

// WorkerSlots reports whether getenv describes a hashing worker's
// environment and, if so, how many hashes it runs at once. A program that
// can be started as a worker (InWorker) checks it first thing in main and
// then calls ServeWorker instead of doing its usual work.
func WorkerSlots(getenv func(string) string) (slots int, ok bool) {
	v := getenv(WorkerEnv)
	if v == "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		n = 1
	}
	return n, true
}

// Command names the program InWorker starts: the running Basalt binary (or
// a test binary that serves as one) and what it gets besides WorkerEnv and
// GOMAXPROCS. The worker does not inherit the parent's environment, which
// may hold database and mail credentials it has no use for.
type Command struct {
	// Path is the program to run. On Linux, /proc/self/exe names the
	// running binary even after the file at its path has been replaced (an
	// upgrade in place), so a restarted worker is the same version.
	Path string
	// Name is the worker's argv[0], what ps shows; Path when empty.
	Name   string
	Args   []string  // after the program name; "password-worker" when nil, so ps shows what it is
	Env    []string  // extra KEY=value pairs
	Stderr io.Writer // the worker's diagnostics; nil discards them
}

// InWorker makes the Hasher compute every hash in a separate process: cmd,
// started when the Hasher is made and again whenever it has exited. The
// worker runs all its threads at the lowest scheduling priority (on Linux
// SCHED_IDLE) and with a Go runtime and heap of its own, so hashing uses
// only CPU time that serving requests leaves idle, and neither the memory a
// hash fills (Params.Memory, tens of MiB) nor the time the kernel keeps an
// idle-priority thread waiting ever stalls the garbage collector of the
// process that serves requests. Close stops the worker.
func InWorker(cmd Command) Option { return func(h *Hasher) { h.worker = &worker{cmd: cmd} } }

// workerRequest asks for one argon2id key; the parameters come from the
// parent's Params or a parsed stored hash.
type workerRequest struct {
	ID          uint64 `json:"id"`
	Password    []byte `json:"password"`
	Salt        []byte `json:"salt"`
	Memory      uint32 `json:"m"`
	Iterations  uint32 `json:"t"`
	Parallelism uint8  `json:"p"`
	KeyLen      uint32 `json:"keyLen"`
}

// workerResponse answers the request with the same ID.
type workerResponse struct {
	ID    uint64 `json:"id"`
	Key   []byte `json:"key,omitempty"`
	Error string `json:"error,omitempty"`
}

// ServeWorker is the body of a hashing worker: it lowers the priority of
// every thread of the process, then answers the requests read from r on w,
// at most slots at a time, until r ends. It returns nil when r ends
// cleanly (the parent closed the pipe or exited). Where the priority
// cannot be lowered, it says so on diag and hashes at normal priority.
func ServeWorker(r io.Reader, w, diag io.Writer, slots int) error {
	if err := lowerProcessPriority(); err != nil {
		fmt.Fprintf(diag, "basalt password worker: hashing at normal priority: %v\n", err)
	}
	return serveWorker(r, w, slots)
}

// serveWorker answers the requests read from r on w, at most slots at a
// time, until r ends.
func serveWorker(r io.Reader, w io.Writer, slots int) error {
	dec := json.NewDecoder(bufio.NewReader(r))
	var (
		wmu sync.Mutex
		enc = json.NewEncoder(w)
		wg  sync.WaitGroup
		sem = make(chan struct{}, max(1, slots))
	)
	defer wg.Wait()
	for {
		var req workerRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("password worker: reading a request: %w", err)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			resp := workerResponse{ID: req.ID}
			p := Params{Memory: req.Memory, Iterations: req.Iterations, Parallelism: req.Parallelism,
				SaltLen: uint32(len(req.Salt)), KeyLen: req.KeyLen}
			if err := p.check("password.ServeWorker", MinStoredSaltLen); err != nil {
				resp.Error = err.Error()
			} else {
				resp.Key = argon2.IDKey(req.Password, req.Salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
			}
			wmu.Lock()
			defer wmu.Unlock()
			// A failed write means the parent is gone; the next Decode ends
			// the loop.
			_ = enc.Encode(resp)
		})
	}
}

// worker is the parent's side of the hashing worker: it starts the process,
// hands it requests and routes the answers back.
type worker struct {
	cmd   Command
	slots int

	mu     sync.Mutex
	proc   *workerProc // nil until started, or after it has exited
	closed bool
}

// workerProc is one run of the worker process.
type workerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed once the process has exited and been waited for

	mu      sync.Mutex // guards enc, next, pending and err
	enc     *json.Encoder
	next    uint64
	pending map[uint64]chan workerResponse
	err     error // why the process ended, once done
}

// running returns the worker process, starting it if it has not started
// or has exited.
func (w *worker) running() (*workerProc, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, errors.New("the password hasher is closed")
	}
	if w.proc != nil {
		select {
		case <-w.proc.done:
		default:
			return w.proc, nil
		}
	}
	if _, isWorker := WorkerSlots(os.Getenv); isWorker {
		// A program that did not check WorkerSlots first thing would start
		// workers from its workers, without end.
		return nil, errors.New("a password worker does not start workers of its own; the program must call ServeWorker when WorkerSlots says so")
	}
	args := w.cmd.Args
	if args == nil {
		args = []string{"password-worker"}
	}
	c := exec.Command(w.cmd.Path, args...)
	if w.cmd.Name != "" {
		c.Args[0] = w.cmd.Name
	}
	c.Env = append([]string{WorkerEnv + "=" + strconv.Itoa(w.slots), "GOMAXPROCS=" + strconv.Itoa(w.slots)}, w.cmd.Env...)
	c.Stderr = w.cmd.Stderr
	stdin, err := c.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("starting the password worker %s: %w", w.cmd.Path, err)
	}
	p := &workerProc{cmd: c, stdin: stdin, done: make(chan struct{}),
		enc: json.NewEncoder(stdin), pending: map[uint64]chan workerResponse{}}
	go p.read(stdout)
	w.proc = p
	return p, nil
}

// read routes answers to their callers until the worker's output ends, then
// waits for the process and fails every request still pending.
func (p *workerProc) read(stdout io.Reader) {
	dec := json.NewDecoder(bufio.NewReader(stdout))
	var err error
	for {
		var resp workerResponse
		if err = dec.Decode(&resp); err != nil {
			break
		}
		p.mu.Lock()
		ch := p.pending[resp.ID]
		delete(p.pending, resp.ID)
		p.mu.Unlock()
		if ch != nil {
			ch <- resp
		}
	}
	// Whatever ended the output, the process is of no more use: make sure it
	// is gone before waiting for it.
	_ = p.stdin.Close()
	_ = p.cmd.Process.Kill()
	werr := p.cmd.Wait()
	p.mu.Lock()
	p.err = fmt.Errorf("the password worker ended: %w", errors.Join(err, werr))
	for id, ch := range p.pending {
		ch <- workerResponse{ID: id, Error: p.err.Error()}
		delete(p.pending, id)
	}
	p.mu.Unlock()
	close(p.done)
}

// derive computes an argon2id key in the worker, starting it if needed.
func (w *worker) derive(ctx context.Context, password string, salt []byte, prm Params) ([]byte, error) {
	const op = "password.derive"
	p, err := w.running()
	if err != nil {
		return nil, workerDown(op, err)
	}
	ch := make(chan workerResponse, 1)
	p.mu.Lock()
	if p.err != nil {
		p.mu.Unlock()
		return nil, workerDown(op, p.err)
	}
	p.next++
	id := p.next
	p.pending[id] = ch
	err = p.enc.Encode(workerRequest{ID: id, Password: []byte(password), Salt: salt,
		Memory: prm.Memory, Iterations: prm.Iterations, Parallelism: prm.Parallelism, KeyLen: prm.KeyLen})
	if err != nil {
		delete(p.pending, id)
	}
	p.mu.Unlock()
	if err != nil {
		_ = p.cmd.Process.Kill() // read then fails the others and a later call restarts it
		return nil, workerDown(op, err)
	}
	select {
	case resp := <-ch:
		if resp.Error != "" {
			return nil, workerDown(op, errors.New(resp.Error))
		}
		return resp.Key, nil
	case <-ctx.Done():
		// The worker finishes the hash and its answer is dropped; the
		// worker's own slots keep bounding how many run.
		p.mu.Lock()
		delete(p.pending, id)
		p.mu.Unlock()
		return nil, unavailable(op, ctx.Err())
	}
}

// workerDown is the error of a hash the worker could not compute: 503, try
// again (a later hash starts a new worker).
func workerDown(op string, err error) error {
	return fault.Wrap(fault.Unavailable, op, err, "password checks are unavailable right now; try again")
}

// close stops the worker: it closes its input, so the worker finishes what
// it has and exits, and kills it if it has not within grace.
func (w *worker) close(grace time.Duration) error {
	w.mu.Lock()
	w.closed = true
	p := w.proc
	w.mu.Unlock()
	if p == nil {
		return nil
	}
	p.mu.Lock()
	_ = p.stdin.Close()
	p.mu.Unlock()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return nil
}
