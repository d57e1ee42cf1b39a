package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is a server under test running as a child process.
type Process struct {
	// Name is a label for messages ("hello", "basalt").
	Name string
	// BaseURL is http://127.0.0.1:PORT, Addr 127.0.0.1:PORT.
	BaseURL, Addr string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // the Wait error, valid once done is closed
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("load: find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("load: find a free port: %w", err)
	}
	return addr, nil
}

// ProcessSpec describes a server to start.
type ProcessSpec struct {
	// Name labels the process in messages.
	Name string
	// Path is the executable.
	Path string
	// Args builds the arguments given the listen address (127.0.0.1:PORT).
	Args func(addr string) []string
	// ReadyPath is polled until it answers 200 (e.g. "/readyz"); empty
	// waits until the address accepts TCP connections instead (a server
	// that does not speak HTTP).
	ReadyPath string
	// ReadyTimeout bounds the wait for readiness.
	ReadyTimeout time.Duration
	// Output receives the child's stdout and stderr; nil discards them.
	Output io.Writer
	// Env is added to this process's environment for the child.
	Env []string
}

// StartProcess starts spec on a free 127.0.0.1 port and waits until it is
// ready. The child gets SIGTERM if this process dies (on Linux); callers
// still Stop it.
func StartProcess(ctx context.Context, spec ProcessSpec) (*Process, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(spec.Path, spec.Args(addr)...)
	cmd.Stdout, cmd.Stderr = spec.Output, spec.Output
	if len(spec.Env) > 0 {
		cmd.Env = append(os.Environ(), spec.Env...)
	}
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("load: start %s (%s): %w", spec.Name, spec.Path, err)
	}
	p := &Process{Name: spec.Name, BaseURL: "http://" + addr, Addr: addr, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	wait := p.waitReady
	if spec.ReadyPath == "" {
		wait = p.waitListening
	}
	if err := wait(ctx, spec.ReadyPath, spec.ReadyTimeout); err != nil {
		return nil, errors.Join(err, p.Stop(5*time.Second))
	}
	return p, nil
}

// waitReady polls GET path until it answers 200, the process exits, or the
// timeout passes.
func (p *Process) waitReady(ctx context.Context, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := errors.New("not polled yet")
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.BaseURL+path, nil)
		if err != nil {
			return fmt.Errorf("load: readiness request for %s: %w", p.Name, err)
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
		} else if ctx.Err() == nil {
			last = err
		}
		select {
		case <-p.done:
			return fmt.Errorf("load: %s exited before it was ready: %w", p.Name, p.err)
		case <-ctx.Done():
			return fmt.Errorf("load: %s not ready after %s (last: %w): %w", p.Name, timeout, last, ctx.Err())
		case <-tick.C:
		}
	}
}

// waitListening waits until the process accepts TCP connections on its
// address, exits, or the timeout passes.
func (p *Process) waitListening(ctx context.Context, _ string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", p.Addr)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-p.done:
			return fmt.Errorf("load: %s exited before it listened: %w", p.Name, p.err)
		case <-ctx.Done():
			return fmt.Errorf("load: %s not listening on %s after %s (last: %w): %w", p.Name, p.Addr, timeout, err, ctx.Err())
		case <-tick.C:
		}
	}
}

// Pid returns the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM, waits up to grace for the process to exit, then kills
// it. An exit caused by the SIGTERM is not an error.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return p.exitErr()
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("load: signal %s (pid %d): %w", p.Name, p.Pid(), err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return p.exitErr()
	case <-t.C:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("load: kill %s (pid %d): %w", p.Name, p.Pid(), err)
	}
	<-p.done
	return fmt.Errorf("load: %s (pid %d) ignored SIGTERM for %s and was killed", p.Name, p.Pid(), grace)
}

// exitErr reports an exit other than a clean one or one by SIGTERM/SIGINT.
func (p *Process) exitErr() error {
	var ee *exec.ExitError
	if p.err == nil {
		return nil
	}
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() &&
			(ws.Signal() == syscall.SIGTERM || ws.Signal() == syscall.SIGINT) {
			return nil
		}
		// Ctrl-C reaches the children too; exit codes 130 and 143 mean the same.
		if c := ee.ExitCode(); c == 128+int(syscall.SIGINT) || c == 128+int(syscall.SIGTERM) {
			return nil
		}
	}
	return fmt.Errorf("load: %s (pid %d) exited: %w", p.Name, p.Pid(), p.err)
}
