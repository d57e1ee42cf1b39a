package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

// previousReleaseFile names the commit of the release before this tree:
// the version a deployment upgrades from. A release updates it.
const previousReleaseFile = "testdata/previous-release"

// TestUpgrade upgrades a running deployment from the previous release (N)
// to this tree (N+1) the way docs/upgrades.md says: two processes of N on
// one PostgreSQL database behind a round-robin proxy, basalt migrate
// --phase expand with N+1, two processes of N+1 added, one more process
// of N started on the expanded schema (a rollback), then every N process
// drained and stopped. Reads, writes, logins, refreshes and logouts go
// through the proxy all along. It checks that no request fails, that no
// acknowledged write is lost, and that tokens and revocations cross
// versions both ways.
func TestUpgrade(t *testing.T) {
	t.Parallel()
	oldBin, oldVersion := previousRelease(t)
	newBin := basaltBinary(t)
	db := pgtest.URL(t)
	const metricsTok = "upgrade-metrics-token-0123456789"
	// Five processes and the commands share the test machine's PostgreSQL
	// server with the other tests: small pools.
	start := func(bin, name string) *server {
		return launchWith(t, bin, filepath.Join(t.TempDir(), name), "--db", db, "--db-max-conns=4", "--metrics-token", metricsTok,
			"--login-ip-burst=100000", "--login-ip-interval=1ms", "--login-email-burst=100000", "--login-email-interval=1ms")()
	}
	runBinary(t, oldBin, []string{"BASALT_PASSWORD=" + adminPassword}, "admin", "create", "--email", adminEmail, "--db", db, "--data-dir", t.TempDir())

	proxy := newRoundRobin(t)
	n1, n2 := start(oldBin, "n1"), start(oldBin, "n2")
	proxy.add("N/1", n1)
	proxy.add("N/2", n2)
	api := &client{t: t, base: proxy.url(), http: &http.Client{Timeout: 10 * time.Second}}
	admin := api.as(api.login(adminEmail, adminPassword).AccessToken)
	admin.must(201, "POST", "/v1/collections", `{"name":"notes","schema":{"type":"object","properties":{"n":{"type":"integer"},"w":{"type":"integer"}},"required":["n"]},"indexes":[{"fields":["w"]}]}`)
	const sessionWorkers, docWorkers = 2, 4
	for i := range sessionWorkers + 1 {
		admin.must(201, "POST", "/v1/admin/accounts", fmt.Sprintf(`{"email":"user%d@example.com","password":"a long user password","verified":true}`, i))
	}

	load := newUpgradeLoad(proxy.url(), admin.token)
	ctx, stop := context.WithTimeout(context.Background(), 3*time.Minute)
	defer stop()
	var wg sync.WaitGroup
	for w := range docWorkers {
		wg.Go(func() { load.documents(ctx, w) })
	}
	for w := range sessionWorkers {
		wg.Go(func() { load.sessions(ctx, fmt.Sprintf("user%d@example.com", w)) })
	}
	stopLoad := func() {
		stop()
		wg.Wait()
	}
	defer stopLoad()
	pause := func(what string, d time.Duration) {
		t.Logf("%s (%v)", what, d)
		<-time.After(d)
	}

	pause("version N serves", 3*time.Second)
	out := runBinary(t, newBin, nil, "migrate", "--phase", "expand", "--db", db, "--db-max-conns=2", "--data-dir", t.TempDir())
	t.Logf("basalt migrate --phase expand (N+1):\n%s", out)
	m1, m2 := start(newBin, "m1"), start(newBin, "m2")
	proxy.add("N+1/1", m1)
	proxy.add("N+1/2", m2)
	pause("versions N and N+1 serve together", 2*time.Second)
	// The processes of N+1 register; those of N predate the registry.
	if live := instancesOn(t, newBin, db); len(live) != 2 {
		t.Errorf("basalt migrate --list shows %d processes serving; want the 2 of N+1: %+v", len(live), live)
	}
	crossVersions(t, n1, m1, "user2@example.com")
	crossVersions(t, m2, n2, "user2@example.com")
	n3 := start(oldBin, "n3") // a rollback: N starts on the expanded schema
	proxy.add("N/3", n3)
	pause("a new process of N serves beside N+1", 2*time.Second)
	for _, name := range []string{"N/1", "N/2", "N/3"} {
		s := proxy.drain(name)
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if exited, err := s.wait(30 * time.Second); !exited || err != nil {
			t.Fatalf("%s after SIGTERM: exited %v, %v\n%s", name, exited, err, s.logs.String())
		}
	}
	pause("version N+1 serves alone", 3*time.Second)
	stopLoad()

	// No request failed, and every version served.
	served := proxy.served()
	t.Logf("requests served: %v; %s", served, load.summary())
	if f := load.failures(); len(f) > 0 {
		t.Errorf("%d requests failed during the upgrade; the first ones:\n%s", len(f), strings.Join(f[:min(len(f), 20)], "\n"))
	}
	for _, name := range []string{"N/1", "N/2", "N/3", "N+1/1", "N+1/2"} {
		if served[name] < 20 {
			t.Errorf("%s served %d requests; the test did not exercise it", name, served[name])
		}
	}
	if load.revocations.Load() < 3 {
		t.Errorf("only %d logouts were checked", load.revocations.Load())
	}

	// No acknowledged write was lost: the documents are exactly those
	// acknowledged, each at its last acknowledged state.
	got := map[string]int{}
	for cursor := ""; ; {
		var page struct {
			Items []struct {
				ID   string `json:"id"`
				Data struct {
					N int `json:"n"`
				} `json:"data"`
			} `json:"items"`
			NextCursor string `json:"nextCursor"`
		}
		q := "/v1/collections/notes/documents?limit=500"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		mustDecode(t, admin.must(200, "GET", q, ""), &page)
		for _, it := range page.Items {
			got[it.ID] = it.Data.N
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	want := load.acknowledged()
	if len(want) < 100 {
		t.Errorf("only %d documents were acknowledged", len(want))
	}
	// A write cut off by the end of the load got no answer: it may or
	// may not have happened, so either state is right for its document.
	pending := load.unanswered()
	var lost, wrong, extra []string
	for id, n := range want {
		g, ok := got[id]
		p, cut := pending[id]
		switch {
		case cut && (p == nil && !ok || p != nil && ok && g == *p):
		case !ok:
			lost = append(lost, id)
		case g != n:
			wrong = append(wrong, fmt.Sprintf("%s: n=%d, acknowledged %d", id, g, n))
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			if p, cut := pending[id]; !cut || p == nil || *p != g {
				extra = append(extra, id)
			}
		}
	}
	if len(pending) > docWorkers*2 {
		t.Errorf("%d writes got no answer; only those cut off by the end of the load may", len(pending))
	}
	if len(lost)+len(wrong)+len(extra) > 0 {
		t.Errorf("after the upgrade: %d acknowledged documents lost %v, %d not at their last acknowledged state %v, %d present that were deleted or never acknowledged %v",
			len(lost), lost, len(wrong), wrong, len(extra), extra)
	}

	// The survivors run N+1, and the contract phase finds nothing to do.
	metrics := string(m1.client(t).as(metricsTok).must(200, "GET", "/metrics", "").Body)
	if !regexp.MustCompile(`(?m)^basalt_build_info\{.*version="[^"]+".*\} 1$`).MatchString(metrics) {
		t.Errorf("N+1 does not export basalt_build_info")
	}
	out = runBinary(t, newBin, nil, "migrate", "--phase", "contract", "--db", db, "--db-max-conns=2", "--data-dir", t.TempDir())
	if !strings.Contains(out, "the database has every migration of this version") {
		t.Errorf("basalt migrate --phase contract after the upgrade:\n%s", out)
	}
	// A process that stops leaves the registry.
	if err := m2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if exited, err := m2.wait(30 * time.Second); !exited || err != nil {
		t.Fatalf("N+1/2 after SIGTERM: exited %v, %v", exited, err)
	}
	if live := instancesOn(t, newBin, db); len(live) != 1 {
		t.Errorf("after one of the 2 processes stopped, basalt migrate --list shows %d: %+v", len(live), live)
	}
	t.Logf("upgraded from %s", oldVersion)
}

// instancesOn lists the processes registered as serving from db, as
// basalt migrate --list --json shows them.
func instancesOn(t *testing.T, bin, db string) []map[string]any {
	t.Helper()
	var listed struct {
		Instances []map[string]any `json:"instances"`
	}
	out := runBinary(t, bin, nil, "migrate", "--list", "--json", "--db", db, "--db-max-conns=2", "--data-dir", t.TempDir())
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("basalt migrate --list --json: %v\n%s", err, out)
	}
	return listed.Instances
}

// previousRelease builds the commit named in previousReleaseFile
// (BASALT_UPGRADE_FROM overrides it) and returns the binary and its
// version.
func previousRelease(t *testing.T) (bin, version string) {
	t.Helper()
	rev := os.Getenv("BASALT_UPGRADE_FROM")
	if rev == "" {
		b, err := os.ReadFile(previousReleaseFile)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				rev = line
				break
			}
		}
	}
	root := strings.TrimSpace(runGit(t, "", "rev-parse", "--show-toplevel"))
	if _, err := exec.Command("git", "-C", root, "cat-file", "-e", rev+"^{commit}").CombinedOutput(); err != nil {
		t.Fatalf("the previous release %q is not in this repository's history (a shallow clone? git fetch --unshallow): %v", rev, err)
	}
	src := t.TempDir()
	archive := exec.Command("git", "-C", root, "archive", "--format=tar", rev)
	untar := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	untar.Stdin = pipe
	var aerr, uerr bytes.Buffer
	archive.Stderr, untar.Stderr = &aerr, &uerr
	if err := untar.Start(); err != nil {
		t.Fatal(err)
	}
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", rev, err, aerr.String())
	}
	if err := untar.Wait(); err != nil {
		t.Fatalf("tar: %v\n%s", err, uerr.String())
	}
	version = "upgrade-from-" + rev[:min(12, len(rev))]
	bin = filepath.Join(t.TempDir(), "basalt-previous")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+version, "-o", bin, "./cmd/basalt")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the previous release %s: %v\n%s", rev, err, out)
	}
	return bin, version
}

func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return string(out)
}

// runBinary runs bin with args and, beside PATH, env; it fails the test
// when the command fails, and returns its standard output.
func runBinary(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s%s", filepath.Base(bin), args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// crossVersions checks that tokens and revocations cross from issuer's
// version to verifier's: a login at issuer is honored by verifier, a
// refresh at verifier by issuer, and a logout at issuer reaches verifier
// within a second.
func crossVersions(t *testing.T, issuer, verifier *server, email string) {
	t.Helper()
	ic, vc := issuer.client(t), verifier.client(t)
	tok := ic.login(email, "a long user password")
	vc.as(tok.AccessToken).must(200, "GET", "/v1/auth/me", "")
	var refreshed tokens
	mustDecode(t, vc.must(200, "POST", "/v1/auth/refresh", fmt.Sprintf(`{"refreshToken":%q}`, tok.RefreshToken)), &refreshed)
	ic.as(refreshed.AccessToken).must(200, "GET", "/v1/auth/me", "")
	ic.as(refreshed.AccessToken).must(204, "POST", "/v1/auth/logout", "")
	// A request the verifier starts a second after the logout must be
	// refused (one started earlier may still be honored).
	loggedOut := time.Now()
	for {
		start := time.Now()
		if vc.as(refreshed.AccessToken).do("GET", "/v1/auth/me", "").Status == http.StatusUnauthorized {
			break
		}
		if start.Sub(loggedOut) > time.Second {
			t.Fatalf("%s honored a token logged out at %s %v before", verifier.addr, issuer.addr, start.Sub(loggedOut).Round(time.Millisecond))
		}
		<-time.After(20 * time.Millisecond)
	}
	t.Logf("a logout at %s reached %s in %v", issuer.addr, verifier.addr, time.Since(loggedOut).Round(time.Millisecond))
}

// roundRobin is a reverse proxy that sends each request to the next
// process in rotation, as a load balancer in front of a deployment does.
type roundRobin struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	rotation []*backend
	all      map[string]*backend
	next     int
}

type backend struct {
	name     string
	s        *server
	proxy    *httputil.ReverseProxy
	inflight sync.WaitGroup
	served   atomic.Int64
}

func newRoundRobin(t *testing.T) *roundRobin {
	rr := &roundRobin{t: t, all: map[string]*backend{}}
	rr.srv = httptest.NewServer(http.HandlerFunc(rr.serve))
	t.Cleanup(rr.srv.Close)
	return rr
}

func (rr *roundRobin) url() string { return rr.srv.URL }

// add puts s into the rotation once it is ready.
func (rr *roundRobin) add(name string, s *server) {
	rr.t.Helper()
	c := s.client(rr.t)
	waitFor(rr.t, 30*time.Second, name+" to be ready", func() bool {
		return c.do("GET", "/readyz", "").Status == http.StatusOK
	})
	target := &url.URL{Scheme: "http", Host: s.addr}
	b := &backend{name: name, s: s}
	b.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = r.In.Host },
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, name+": "+err.Error(), http.StatusBadGateway)
		},
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.rotation = append(rr.rotation, b)
	rr.all[name] = b
}

// drain takes the process out of the rotation and waits for the requests
// it is serving, as a load balancer does before the process is stopped.
func (rr *roundRobin) drain(name string) *server {
	rr.mu.Lock()
	b := rr.all[name]
	for i, x := range rr.rotation {
		if x == b {
			rr.rotation = append(rr.rotation[:i:i], rr.rotation[i+1:]...)
			break
		}
	}
	rr.mu.Unlock()
	b.inflight.Wait()
	return b.s
}

func (rr *roundRobin) serve(w http.ResponseWriter, r *http.Request) {
	rr.mu.Lock()
	if len(rr.rotation) == 0 {
		rr.mu.Unlock()
		http.Error(w, "no process in rotation", http.StatusServiceUnavailable)
		return
	}
	b := rr.rotation[rr.next%len(rr.rotation)]
	rr.next++
	b.inflight.Add(1) // under the lock, so that drain waits for it
	rr.mu.Unlock()
	defer b.inflight.Done()
	b.served.Add(1)
	w.Header().Set("X-Upgrade-Process", b.name)
	b.proxy.ServeHTTP(w, r)
}

func (rr *roundRobin) served() map[string]int64 {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	out := map[string]int64{}
	for name, b := range rr.all {
		out[name] = b.served.Load()
	}
	return out
}

// upgradeLoad drives reads and writes through the proxy and records what
// was acknowledged and what failed.
type upgradeLoad struct {
	base, admin string
	hc          *http.Client

	mu    sync.Mutex
	acked map[string]int // document id → n of its last acknowledged write
	// pending are the documents whose last write got no answer (cut off
	// by the end of the load): the n it would have set, nil for a delete.
	pending map[string]*int
	fails   []string

	requests, revocations atomic.Int64
	slowestRevocation     atomic.Int64 // nanoseconds
}

func newUpgradeLoad(base, admin string) *upgradeLoad {
	return &upgradeLoad{base: base, admin: admin, hc: &http.Client{Timeout: 10 * time.Second},
		acked: map[string]int{}, pending: map[string]*int{}}
}

// call makes one request; it records a failure and returns ok=false when
// the status is not one of want. A request cut off by the end of the load
// is neither.
func (l *upgradeLoad) call(ctx context.Context, token, method, path, body string, want []int, headers ...string) (status int, b []byte, ok bool) {
	status, b, err := hit(ctx, l.hc, token, method, l.base+path, body, headers...)
	if ctx.Err() != nil {
		return 0, nil, false
	}
	l.requests.Add(1)
	if err == nil {
		for _, w := range want {
			if status == w {
				return status, b, true
			}
		}
	}
	l.fail(fmt.Sprintf("%s %s: %d %v %.200s", method, path, status, err, b))
	return status, b, false
}

func (l *upgradeLoad) fail(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fails = append(l.fails, what)
}

func (l *upgradeLoad) failures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.fails...)
}

func (l *upgradeLoad) acknowledged() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.acked))
	for id, n := range l.acked {
		out[id] = n
	}
	return out
}

func (l *upgradeLoad) unanswered() map[string]*int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]*int, len(l.pending))
	for id, n := range l.pending {
		out[id] = n
	}
	return out
}

// writing marks a write of id in flight: n, or a delete when n is nil.
func (l *upgradeLoad) writing(id string, n *int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending[id] = n
}

// written records the answer to the write in flight on id: its n, or
// its deletion.
func (l *upgradeLoad) written(id string, n *int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.pending, id)
	if n == nil {
		delete(l.acked, id)
	} else {
		l.acked[id] = *n
	}
}

func (l *upgradeLoad) summary() string {
	l.mu.Lock()
	docs := len(l.acked)
	l.mu.Unlock()
	return fmt.Sprintf("%d requests, %d documents acknowledged, %d logouts checked (slowest to reach every process: %v)",
		l.requests.Load(), docs, l.revocations.Load(), time.Duration(l.slowestRevocation.Load()).Round(time.Millisecond))
}

// documents creates, updates (compare-and-set), reads, lists and deletes
// the worker's own documents until ctx ends (at most 100000 rounds).
func (l *upgradeLoad) documents(ctx context.Context, w int) {
	type mine struct {
		id      string
		version int64
	}
	var docs []mine
	for i := 0; i < 100000 && ctx.Err() == nil; i++ {
		id := fmt.Sprintf("w%d-%d", w, i)
		l.writing(id, &i)
		_, b, ok := l.call(ctx, l.admin, "POST", "/v1/collections/notes/documents?id="+id, fmt.Sprintf(`{"n":%d,"w":%d}`, i, w), []int{201})
		if !ok {
			continue
		}
		d, err := decodeDoc(b)
		if err != nil {
			l.fail("create " + id + ": " + err.Error())
			continue
		}
		l.written(id, &i)
		docs = append(docs, mine{id, d.Version})
		if i%3 == 2 && len(docs) > 1 {
			// Compare-and-set on the previous document.
			p := &docs[len(docs)-2]
			n := 1000000 + i
			l.writing(p.id, &n)
			_, b, ok := l.call(ctx, l.admin, "PATCH", "/v1/collections/notes/documents/"+p.id, fmt.Sprintf(`{"n":%d}`, n), []int{200},
				"If-Match", fmt.Sprintf(`"%d"`, p.version))
			if ok {
				if d, err := decodeDoc(b); err == nil {
					p.version = d.Version
					l.written(p.id, &n)
				}
			}
		}
		if i%5 == 4 {
			l.call(ctx, l.admin, "GET", "/v1/collections/notes/documents/"+docs[len(docs)/2].id, "", []int{200})
		}
		if i%7 == 6 {
			l.call(ctx, l.admin, "GET", fmt.Sprintf("/v1/collections/notes/documents?filter=%s&limit=5", url.QueryEscape(fmt.Sprintf("w = %d", w))), "", []int{200})
		}
		if i%11 == 10 {
			victim := docs[0]
			docs = docs[1:]
			l.writing(victim.id, nil)
			if _, _, ok := l.call(ctx, l.admin, "DELETE", "/v1/collections/notes/documents/"+victim.id, "", []int{204}); ok {
				l.written(victim.id, nil)
			}
		}
	}
}

// sessions logs in, uses, refreshes and logs out, then checks the logged
// out token is refused everywhere within a second, until ctx ends (at
// most 10000 rounds).
func (l *upgradeLoad) sessions(ctx context.Context, email string) {
	for i := 0; i < 10000 && ctx.Err() == nil; i++ {
		_, b, ok := l.call(ctx, "", "POST", "/v1/auth/login", fmt.Sprintf(`{"email":%q,"password":"a long user password"}`, email), []int{200})
		if !ok {
			continue
		}
		var tok tokens
		if err := json.Unmarshal(b, &tok); err != nil {
			l.fail("login: " + err.Error())
			continue
		}
		for range 3 {
			l.call(ctx, tok.AccessToken, "GET", "/v1/auth/me", "", []int{200})
		}
		_, b, ok = l.call(ctx, "", "POST", "/v1/auth/refresh", fmt.Sprintf(`{"refreshToken":%q}`, tok.RefreshToken), []int{200})
		if !ok {
			continue
		}
		if err := json.Unmarshal(b, &tok); err != nil {
			l.fail("refresh: " + err.Error())
			continue
		}
		l.call(ctx, tok.AccessToken, "GET", "/v1/auth/me", "", []int{200})
		if _, _, ok := l.call(ctx, tok.AccessToken, "POST", "/v1/auth/logout", "", []int{204}); !ok {
			continue
		}
		// Until every process has seen the logout, a process may still
		// honor the token; after a second, none may. Five requests in a
		// row refused, spread over the rotation, say every process has.
		loggedOut, refusedInRow := time.Now(), 0
		for refusedInRow < 5 && ctx.Err() == nil {
			start := time.Now()
			st, _, ok := l.call(ctx, tok.AccessToken, "GET", "/v1/auth/me", "", []int{200, 401})
			switch {
			case !ok:
			case st == 401:
				refusedInRow++
			case start.Sub(loggedOut) > time.Second:
				l.fail(fmt.Sprintf("a token logged out %v before the request was honored", start.Sub(loggedOut).Round(time.Millisecond)))
			default:
				refusedInRow = 0
			}
		}
		if refusedInRow == 5 {
			l.revocations.Add(1)
			if d := int64(time.Since(loggedOut)); d > l.slowestRevocation.Load() {
				l.slowestRevocation.Store(d)
			}
		}
	}
}

func mustDecode(t *testing.T, r response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %.300s: %v", r.Body, err)
	}
}
