package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

// logLine is a JSON log line of a basalt process, with the attributes the
// shutdown tests look at.
type logLine struct {
	Msg       string `json:"msg"`
	Addr      string `json:"addr"`
	To        string `json:"to"`
	Subject   string `json:"subject"`
	Component string `json:"component"`
}

// logLines parses the process's log so far.
func (s *server) logLines(t *testing.T) []logLine {
	t.Helper()
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// logIndex returns the index of the first log line for which match is
// true, or -1.
func (s *server) logIndex(t *testing.T, match func(logLine) bool) int {
	t.Helper()
	for i, l := range s.logLines(t) {
		if match(l) {
			return i
		}
	}
	return -1
}

// waitForLog waits until the process logs msg.
func (s *server) waitForLog(t *testing.T, msg string) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(60 * time.Second)
	for s.logIndex(t, func(l logLine) bool { return l.Msg == msg }) < 0 {
		select {
		case <-tick.C:
		case <-s.done:
			t.Fatalf("basalt exited before logging %q: %v\n%s", msg, s.err, s.logs.String())
		case <-deadline:
			t.Fatalf("basalt did not log %q within 60s\n%s", msg, s.logs.String())
		}
	}
}

// exitCode waits for the process to exit and returns its exit status.
func (s *server) exitCode(t *testing.T) int {
	t.Helper()
	ok, err := s.wait(60 * time.Second)
	if !ok {
		t.Fatalf("basalt did not exit within 60s\n%s", s.logs.String())
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.Exited():
		return exit.ExitCode()
	default:
		t.Fatalf("basalt ended by %v\n%s", err, s.logs.String())
		return -1
	}
}

// slowAnswer is the outcome of a slowRequest.
type slowAnswer struct {
	status int
	body   string
	err    error
}

// slowRequest is a POST whose JSON body the test streams: the server's
// handler is running, reading the body, from the moment reading is closed
// until finish sends the rest.
type slowRequest struct {
	body    *io.PipeWriter
	reading chan struct{} // closed when the handler reads the body
	answer  chan slowAnswer
}

// startSlowRequest sends the headers of POST url with Expect:
// 100-continue, and first as the start of the body once the server's
// handler asks for the body (it answers 100 Continue then).
func startSlowRequest(t *testing.T, url, first string) *slowRequest {
	t.Helper()
	pr, pw := io.Pipe()
	r := &slowRequest{body: pw, reading: make(chan struct{}), answer: make(chan slowAnswer, 1)}
	var once sync.Once
	trace := &httptrace.ClientTrace{Got100Continue: func() { once.Do(func() { close(r.reading) }) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "POST", url, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	// The body is sent only after 100 Continue, however long that takes.
	hc := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Hour, DisableKeepAlives: true}}
	t.Cleanup(hc.CloseIdleConnections)
	go func() {
		res, err := hc.Do(req)
		if err != nil {
			r.answer <- slowAnswer{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		r.answer <- slowAnswer{status: res.StatusCode, body: string(b), err: err}
	}()
	go func() {
		select {
		case <-r.reading:
			_, _ = io.WriteString(pw, first)
		case <-t.Context().Done():
		}
	}()
	t.Cleanup(func() { _ = pw.Close() })
	return r
}

// waitReading waits until the server's handler reads the body.
func (r *slowRequest) waitReading(t *testing.T) {
	t.Helper()
	select {
	case <-r.reading:
	case a := <-r.answer:
		t.Fatalf("answered before the body was sent: %+v", a)
	case <-time.After(60 * time.Second):
		t.Fatal("the server did not read the body within 60s")
	}
}

// finish sends the rest of the body and returns the answer.
func (r *slowRequest) finish(t *testing.T, rest string) slowAnswer {
	t.Helper()
	// An error here (the connection was closed) shows in the answer.
	_, _ = io.WriteString(r.body, rest)
	_ = r.body.Close()
	select {
	case a := <-r.answer:
		return a
	case <-time.After(60 * time.Second):
		t.Fatal("no answer within 60s")
		return slowAnswer{}
	}
}

// metricsAddr returns the address of the process's --metrics-addr
// listener, from its log.
func (s *server) metricsAddr(t *testing.T) string {
	t.Helper()
	for _, l := range s.logLines(t) {
		if l.Msg == "metrics are served" {
			return l.Addr
		}
	}
	t.Fatalf("no metrics listener in the log:\n%s", s.logs.String())
	return ""
}

// TestSIGTERMDrainsInOrder sends SIGTERM to a real server while two
// requests are in flight — a sign-up (whose verification mail is queued by
// the request) and a password-reset request (whose mail the account
// service makes after answering) — with their bodies half sent. /readyz
// must answer 503 at once (on the metrics listener, which outlives the
// drain), both requests must get their normal answers when their bodies
// arrive, both mails must be sent after the drain, and the exit status is
// 0.
func TestSIGTERMDrainsInOrder(t *testing.T) {
	s := startProcess(t, filepath.Join(t.TempDir(), "data"), "--metrics-addr", "127.0.0.1:0")
	c := s.client(t)
	metrics := &client{t: t, base: "http://" + s.metricsAddr(t), http: &http.Client{Timeout: 10 * time.Second}}
	metrics.must(200, "GET", "/readyz", "")
	c.anonymous().must(202, "POST", "/v1/auth/signup", credentials(t, "ada@example.com", "correct horse battery"))

	signUp := startSlowRequest(t, c.base+"/v1/auth/signup", `{"email": "late@example.com",`)
	reset := startSlowRequest(t, c.base+"/v1/auth/password/reset", `{"email":`)
	signUp.waitReading(t)
	reset.waitReading(t)

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.waitForLog(t, "draining HTTP server")
	r := metrics.must(503, "GET", "/readyz", "")
	if st := r.JSON(t)["status"]; st != "draining" || r.Header.Get("Retry-After") == "" {
		t.Errorf("/readyz while draining: %v, Retry-After %q", st, r.Header.Get("Retry-After"))
	}

	if a := signUp.finish(t, ` "password": "correct horse battery"}`); a.err != nil || a.status != 202 {
		t.Errorf("sign-up in flight at SIGTERM: %+v, want 202", a)
	}
	if a := reset.finish(t, ` "ada@example.com"}`); a.err != nil || a.status != 202 {
		t.Errorf("reset request in flight at SIGTERM: %+v, want 202", a)
	}
	if code := s.exitCode(t); code != 0 {
		t.Fatalf("exit status %d after a clean drain, want 0\n%s", code, s.logs.String())
	}

	draining := s.logIndex(t, func(l logLine) bool { return l.Msg == "draining HTTP server" && l.Addr == s.addr })
	drained := s.logIndex(t, func(l logLine) bool { return l.Msg == "HTTP server drained" && l.Addr == s.addr })
	mailTo := func(to, subject string) int {
		return s.logIndex(t, func(l logLine) bool {
			return l.Msg == "mail not sent (development sender)" && l.To == to && l.Subject == subject
		})
	}
	verify, resetMail := mailTo("late@example.com", "Verify your email address"), mailTo("ada@example.com", "Reset your password")
	mailStopped := s.logIndex(t, func(l logLine) bool { return l.Msg == "shutdown: stopped" && l.Component == "mail queue" })
	if drained < 0 || verify < 0 || resetMail < 0 || mailStopped < 0 {
		t.Fatalf("drained at line %d, verification mail %d, reset mail %d, mail queue stopped %d; want all\n%s",
			drained, verify, resetMail, mailStopped, s.logs.String())
	}
	// The mail of the requests answered during the drain is sent before
	// the mail queue stops, which is after the drain.
	if verify < draining || resetMail < draining || mailStopped < drained || mailStopped < verify || mailStopped < resetMail {
		t.Errorf("order: draining %d, drained %d, verification mail %d, reset mail %d, mail queue stopped %d\n%s",
			draining, drained, verify, resetMail, mailStopped, s.logs.String())
	}
	if strings.Contains(s.logs.String(), "unsent") {
		t.Errorf("mail left unsent:\n%s", s.logs.String())
	}
}

// TestSIGTERMDrainTimeout: a request whose body never finishes is cut off
// when --drain-timeout passes, and the exit status says so (3).
func TestSIGTERMDrainTimeout(t *testing.T) {
	s := startProcess(t, filepath.Join(t.TempDir(), "data"), "--drain-timeout", "1s")
	stuck := startSlowRequest(t, s.client(t).base+"/v1/auth/signup", `{"email": "stuck@example.com",`)
	stuck.waitReading(t)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.exitCode(t); code != 3 {
		t.Fatalf("exit status %d after a drain that timed out, want 3\n%s", code, s.logs.String())
	}
	// The connection is gone: the rest of the body cannot be answered.
	if a := stuck.finish(t, ` "password": "correct horse battery"}`); a.err == nil {
		t.Errorf("the cut-off request was answered: %+v", a)
	}
	if s.logIndex(t, func(l logLine) bool { return strings.HasPrefix(l.Msg, "drain timeout passed") }) < 0 {
		t.Errorf("no cut-off in the log:\n%s", s.logs.String())
	}
}

// TestSecondServerOnDataDirRefused: a second `basalt serve` on a data
// directory that a running server serves exits at once with status 1 and
// a message naming the directory and the other process; the first keeps
// serving, `basalt admin create` still works next to it, and once it has
// stopped the directory can be served again.
func TestSecondServerOnDataDirRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first := startProcess(t, dir)

	// A second server that serves is killed when the test gives up on it.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, basaltBinary(t), "serve", "--addr", "127.0.0.1:0", "--data-dir", dir)
	second.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := second.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("second serve on the same data directory: %v, want exit status 1\n%s", err, out)
	}
	for _, want := range []string{dir, "another Basalt process", "pid " + strconv.Itoa(first.cmd.Process.Pid)} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the refusal does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "basalt is serving") {
		t.Errorf("the second server served:\n%s", out)
	}

	actAsAdmin(t, []string{"--data-dir", dir}, first)
	first.client(t).must(200, "GET", "/readyz", "")
	first.client(t).must(200, "GET", "/v1/collections", "")

	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := first.exitCode(t); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	startProcess(t, dir).client(t).must(200, "GET", "/readyz", "")
}

// TestServersShareAPostgresDatabase: with PostgreSQL the data directory is
// not locked: two processes with one --data-dir serve one database.
func TestServersSharePostgresWithOneDataDir(t *testing.T) {
	db := pgtest.URL(t)
	dir := filepath.Join(t.TempDir(), "data")
	a := startProcess(t, dir, "--db", db)
	b := startProcess(t, dir, "--db", db)
	a.client(t).must(200, "GET", "/readyz", "")
	b.client(t).must(200, "GET", "/readyz", "")
}

// TestStartupLogNamesTheEngine: "basalt is serving" names the engine and
// that engine's settings only: the data directory and SQLite's durability,
// or PostgreSQL's host, database and pool size (never its password).
func TestStartupLogNamesTheEngine(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		_, cfg, logs := serveApp(t, engine, false)
		var line map[string]any
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var l map[string]any
			if json.Unmarshal(sc.Bytes(), &l) == nil && l["msg"] == "basalt is serving" {
				line = l
			}
		}
		if line == nil {
			t.Fatalf("no start-up line:\n%s", logs.String())
		}
		want := map[string]any{"engine": engine, "admin_console": "/_/"}
		absent := []string{}
		switch engine {
		case "sqlite":
			want["data_dir"], want["sqlite_synchronous"] = cfg.DataDir, "full"
			absent = append(absent, "db_host", "db_name", "db_max_conns")
		case "postgres":
			u, err := url.Parse(cfg.DB)
			if err != nil {
				t.Fatal(err)
			}
			want["db_host"], want["db_name"], want["db_max_conns"] = u.Host, strings.TrimPrefix(u.Path, "/"), float64(cfg.DBMaxConns)
			absent = append(absent, "data_dir", "sqlite_synchronous")
			if p, ok := u.User.Password(); ok && strings.Contains(logs.String(), p) {
				t.Errorf("the log holds the database password")
			}
		}
		for k, v := range want {
			if line[k] != v {
				t.Errorf("%s = %v, want %v; %v", k, line[k], v, line)
			}
		}
		for _, k := range absent {
			if _, ok := line[k]; ok {
				t.Errorf("%s logged with engine %s: %v", k, engine, line)
			}
		}
	})
}
