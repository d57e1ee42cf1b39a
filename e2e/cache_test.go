package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/redistest"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

// cacheOp is one request of a recorded history: a write acknowledged, or a
// read answered, by one of the processes.
type cacheOp struct {
	proc, doc  int
	write      bool
	version    int64
	start, end time.Time
}

// TestCacheAcrossProcessesAndRedisFaults runs two processes on one
// PostgreSQL database sharing a read cache on Redis, under a steady load
// of writes and reads on both, while Redis is flushed, then stopped for
// 30 s, then started again empty. It checks every read of the recorded
// history: a read never holds a version older than one acknowledged more
// than a second before it began, anywhere; or than one its own process
// acknowledged or answered before it began. Requests keep being answered
// while Redis is down, revoked sessions stay refused, and the cache served
// reads before and after the outage.
func TestCacheAcrossProcessesAndRedisFaults(t *testing.T) {
	db := pgtest.URL(t)
	rs := redistest.Start(t)
	basaltBinary(t)
	flags := []string{"--db", db, "--redis", rs.URL(), "--metrics-token", metricsToken}
	waitA := launch(t, filepath.Join(t.TempDir(), "a"), flags...)
	waitB := launch(t, filepath.Join(t.TempDir(), "b"), flags...)
	a, b := waitA(), waitB()
	actAsAdmin(t, []string{"--data-dir", filepath.Join(t.TempDir(), "admin"), "--db", db}, a, b)
	procs := []*server{a, b}

	const docs = 8
	ca := a.client(t)
	ca.must(201, "POST", "/v1/collections", `{"name": "notes", "schema": {"type": "object"}}`)
	for i := range docs {
		ca.must(201, "POST", "/v1/collections/notes/documents?id=d"+strconv.Itoa(i), `{"n": 0}`)
	}
	const user, password = "reader@basalt.test", "a password of the reader"
	ca.anonymous().must(202, "POST", "/v1/auth/signup", credentials(t, user, password))
	// The session is opened before the load starts: passwords are hashed
	// at idle priority, so a login waits while the load keeps both cores
	// busy, as it is meant to.
	tk := b.client(t).login(user, password)

	var (
		mu       sync.Mutex
		history  []cacheOp
		requests atomic.Int64
		failures atomic.Int64 // answers other than 2xx and 429, and transport errors
		failMsg  atomic.Value
		failed   = map[string]int{}
		begin    = time.Now()
	)
	ctx, stop := context.WithCancel(t.Context())
	hc := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	worker := func(g int, write bool, every time.Duration) {
		r := rand.New(rand.NewPCG(uint64(g), 13))
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			p, d := r.IntN(len(procs)), r.IntN(docs)
			u := fmt.Sprintf("http://%s/v1/collections/notes/documents/d%d", procs[p].addr, d)
			method, body := http.MethodGet, ""
			if write {
				method, body = http.MethodPatch, fmt.Sprintf(`{"n": %d}`, i)
			}
			start := time.Now()
			status, b, err := hit(ctx, hc, a.token, method, u, body)
			end := time.Now()
			if ctx.Err() != nil {
				return
			}
			requests.Add(1)
			if err != nil || status/100 != 2 {
				if status != http.StatusTooManyRequests {
					failures.Add(1)
					failMsg.Store(fmt.Sprintf("%s %s: %d %v %s", method, u, status, err, b))
					mu.Lock()
					failed[fmt.Sprintf("%s %d at +%ds", method, status, int(time.Since(begin).Seconds()))]++
					mu.Unlock()
				}
				continue
			}
			dd, err := decodeDoc(b)
			if err != nil {
				failures.Add(1)
				continue
			}
			mu.Lock()
			history = append(history, cacheOp{proc: p, doc: d, write: write, version: dd.Version, start: start, end: end})
			mu.Unlock()
		}
	}
	for g := range 2 {
		wg.Go(func() { worker(g, true, 20*time.Millisecond) })
	}
	for g := 2; g < 8; g++ {
		wg.Go(func() { worker(g, false, 5*time.Millisecond) })
	}
	defer func() { stop(); wg.Wait() }()
	pause := func(d time.Duration) {
		select {
		case <-time.After(d):
		case <-t.Context().Done():
		}
	}
	admin := redistest.Client(t, rs.URL())

	pause(2 * time.Second)
	hitsBefore := cacheHits(t, b)
	if hitsBefore == 0 {
		t.Errorf("B served no read from the cache in 2 s of load")
	}
	if err := admin.Do(ctx, admin.B().Flushall().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	pause(2 * time.Second)

	// Redis goes away for 30 s. A session is revoked on A meanwhile:
	// B refuses it through the database poll.
	rs.Stop(t)
	pause(2 * time.Second)
	onB := b.client(t).as(tk.AccessToken)
	onB.must(200, "GET", "/v1/auth/me", "")
	revoked := time.Now()
	a.client(t).as(tk.AccessToken).must(204, "POST", "/v1/auth/logout", "")
	awaitRefusal(t, "a logout on A with Redis down", revoked, func() response { return onB.do("GET", "/v1/auth/me", "") })
	pause(28 * time.Second)
	onB.must(401, "GET", "/v1/auth/me", "")

	rs.Restart(t)
	hitsRestart := cacheHits(t, b)
	pause(4 * time.Second)
	stop()
	wg.Wait()

	if hits := cacheHits(t, b); hits <= hitsRestart {
		t.Errorf("B served no read from the cache in the 4 s after Redis came back (hits %d, then %d)", hitsRestart, hits)
	}
	n, f := requests.Load(), failures.Load()
	t.Logf("%d requests, %d failed %v; %d operations recorded", n, f, failed, len(history))
	if n < 1000 {
		t.Fatalf("only %d requests: the load did not run", n)
	}
	if float64(f) > 0.005*float64(n) {
		t.Errorf("%d of %d requests failed (more than 0.5 %%); last: %v", f, n, failMsg.Load())
	}
	checkCacheHistory(t, history, time.Second)
}

var cacheHitsRe = regexp.MustCompile(`(?m)^basalt_cache_requests_total\{kind="get",result="hit"\} (\d+)`)

// cacheHits returns how many gets s served from its cache.
func cacheHits(t *testing.T, s *server) int {
	t.Helper()
	c := s.client(t).as(metricsToken)
	r := c.must(200, "GET", "/metrics", "")
	m := cacheHitsRe.FindSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no basalt_cache_requests_total{kind=\"get\",result=\"hit\"} in /metrics")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// checkCacheHistory checks each read of history against the writes
// acknowledged and the reads answered before it began: not older than a
// write acknowledged anywhere more than bound before; not older than a
// write acknowledged, or a read answered, by its own process.
func checkCacheHistory(t *testing.T, history []cacheOp, bound time.Duration) {
	t.Helper()
	// By document, then by kind: operations sorted by end, with the running
	// highest version, so each check is a binary search.
	type series struct {
		ends []time.Time
		max  []int64
	}
	build := func(keep func(cacheOp) bool) map[int]*series {
		var ops []cacheOp
		for _, o := range history {
			if keep(o) {
				ops = append(ops, o)
			}
		}
		sort.Slice(ops, func(i, j int) bool { return ops[i].end.Before(ops[j].end) })
		out := map[int]*series{}
		for _, o := range ops {
			s := out[o.doc]
			if s == nil {
				s = &series{}
				out[o.doc] = s
			}
			v := o.version
			if n := len(s.max); n > 0 {
				v = max(v, s.max[n-1])
			}
			s.ends = append(s.ends, o.end)
			s.max = append(s.max, v)
		}
		return out
	}
	highest := func(s *series, before time.Time) int64 {
		if s == nil {
			return 0
		}
		i := sort.Search(len(s.ends), func(i int) bool { return !s.ends[i].Before(before) })
		if i == 0 {
			return 0
		}
		return s.max[i-1]
	}
	writes := build(func(o cacheOp) bool { return o.write })
	own := map[int]map[int]*series{}
	seen := map[int]map[int]*series{}
	for p := range 2 {
		own[p] = build(func(o cacheOp) bool { return o.write && o.proc == p })
		seen[p] = build(func(o cacheOp) bool { return !o.write && o.proc == p })
	}
	var reads, bad int
	for _, r := range history {
		if r.write {
			continue
		}
		reads++
		var why string
		switch {
		case r.version < highest(own[r.proc][r.doc], r.start):
			why = fmt.Sprintf("older than version %d, acknowledged by the same process", highest(own[r.proc][r.doc], r.start))
		case r.version < highest(seen[r.proc][r.doc], r.start):
			why = fmt.Sprintf("older than version %d, answered by the same process before", highest(seen[r.proc][r.doc], r.start))
		case r.version < highest(writes[r.doc], r.start.Add(-bound)):
			why = fmt.Sprintf("older than version %d, acknowledged more than %v before", highest(writes[r.doc], r.start.Add(-bound)), bound)
		default:
			continue
		}
		if bad++; bad <= 10 {
			t.Errorf("process %d read d%d at version %d at %s: %s", r.proc, r.doc, r.version, r.start.Format("15:04:05.000"), why)
		}
	}
	if bad > 10 {
		t.Errorf("… %d stale reads in all", bad)
	}
	if reads < 500 {
		t.Fatalf("only %d reads recorded", reads)
	}
}
