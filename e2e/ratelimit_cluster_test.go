package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/redistest"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

// TestRateLimitHoldsAcrossThreeProcesses runs three processes on one
// PostgreSQL database and one Redis, and 200 clients of one account that
// read through all three at once, against a limit of 100 reads per 10 s
// with a burst of 20 on the account: the processes together allow at most
// 120 in the first 10 s (the burst and the first window's refill) and at
// most 100 more in each 10 s after. The bound is on the running total:
// a window that follows a lull (a machine too busy to send or decide for a
// moment) may use what the lull left in the bucket, as GCRA allows, but
// never more than the limit over the whole run. A request counts in a
// window only when it was both sent and answered within it, so the counts
// are lower bounds of the truth and the check cannot fail for the clock of
// the test.
func TestRateLimitHoldsAcrossThreeProcesses(t *testing.T) {
	db := pgtest.URL(t)
	rs := redistest.Start(t)
	basaltBinary(t)
	flags := []string{"--db", db, "--redis", rs.URL(), "--rate-limits=true",
		"--rate-limit", "read:account=100/10s:20", "--rate-limit", "read:ip=off"}
	var procs []*server
	var waits []func() *server
	for _, name := range []string{"a", "b", "c"} {
		waits = append(waits, launch(t, filepath.Join(t.TempDir(), name), flags...))
	}
	for _, w := range waits {
		procs = append(procs, w())
	}
	actAsAdmin(t, []string{"--data-dir", filepath.Join(t.TempDir(), "admin"), "--db", db}, procs...)
	c := procs[0].client(t)
	c.must(201, "POST", "/v1/collections", `{"name": "notes", "schema": {"type": "object"}, "rules": {"get": ""}}`)
	c.must(201, "POST", "/v1/collections/notes/documents?id=n1", `{"n": 1}`)
	const user, password = "many@basalt.test", "a password of the account"
	c.anonymous().must(202, "POST", "/v1/auth/signup", credentials(t, user, password))
	token := c.login(user, password).AccessToken

	const clients, windows, window = 200, 3, 10 * time.Second
	type answer struct {
		start, end time.Time
		status     int
	}
	var (
		mu      sync.Mutex
		answers []answer
		errs    int
	)
	begin := time.Now()
	ctx, cancel := context.WithDeadline(t.Context(), begin.Add(windows*window))
	defer cancel()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			hc := &http.Client{Timeout: 10 * time.Second}
			u := fmt.Sprintf("http://%s/v1/collections/notes/documents/n1", procs[i%len(procs)].addr)
			tick := time.NewTicker(500 * time.Millisecond) // 2 requests per second per client, 400 in all
			defer tick.Stop()
			for {
				start := time.Now()
				status, _, err := hit(ctx, hc, token, http.MethodGet, u, "")
				end := time.Now()
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				if err != nil || (status != 200 && status != 429) {
					errs++
				} else {
					answers = append(answers, answer{start, end, status})
				}
				mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	wg.Wait()

	allowed := make([]int, windows)
	var refused int
	for _, a := range answers {
		if a.status != 200 {
			refused++
			continue
		}
		w := int(a.start.Sub(begin) / window)
		if w < windows && int(a.end.Sub(begin)/window) == w {
			allowed[w]++
		}
	}
	t.Logf("%d answers (%d refused, %d errors); allowed per 10 s window: %v", len(answers), refused, errs, allowed)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for i, p := range procs {
			for _, line := range strings.Split(p.logs.String(), "\n") {
				if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
					t.Logf("process %d: %s", i, line)
				}
			}
		}
	})
	if errs > 0 {
		t.Errorf("%d requests failed other than with 429", errs)
	}
	if refused < len(answers)/2 {
		t.Fatalf("only %d of %d requests refused: the load did not press on the limit", refused, len(answers))
	}
	total := 0
	for w := range windows {
		total += allowed[w]
		if limit := 120 + 100*w; total > limit {
			t.Errorf("%d reads allowed in the first %d s, want at most %d (per window: %v)", total, 10*(w+1), limit, allowed)
		}
	}
	// The counter-case: the limit is reached, not just respected — three
	// processes each counting alone would allow about three times as many.
	if allowed[0] < 100 || allowed[1] < 80 {
		t.Errorf("allowed per window %v: far below the limit, the test does not measure it", allowed)
	}
}
