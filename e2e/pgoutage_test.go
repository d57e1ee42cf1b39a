package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

// TestPostgresOutage stops PostgreSQL (pg_ctl -m immediate) under write
// load and starts it again. Meanwhile Basalt must answer 503 quickly (never
// hang) with Retry-After, report not-ready, recover by itself within 5 s of
// the database's return, and lose no acknowledged write.
func TestPostgresOutage(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startProcess(t, dataDir, "--db", cluster.AdminURL(), "--db-acquire-timeout", "1s", "--db-statement-timeout", "2s",
		"--metrics-token", metricsToken)
	actAsAdmin(t, []string{"--data-dir", dataDir, "--db", cluster.AdminURL()}, s)
	c := s.client(t)
	c.must(201, "POST", "/v1/collections", `{"name":"events","schema":{"type":"object","properties":{"n":{"type":"integer"}}}}`)

	type result struct {
		id      string
		status  int
		elapsed time.Duration
		at      time.Time
		err     error
	}
	var (
		mu      sync.Mutex
		results []result
	)
	acked := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, r := range results {
			if r.status == http.StatusCreated {
				n++
			}
		}
		return n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stop := make(chan struct{})
	httpc := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				req, _ := http.NewRequestWithContext(ctx, "POST", c.base+"/v1/collections/events/documents?id="+id, strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+c.token)
				start := time.Now()
				res, err := httpc.Do(req)
				r := result{id: id, elapsed: time.Since(start), at: time.Now(), err: err}
				if err == nil {
					r.status = res.StatusCode
					if res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") == "" {
						r.err = fmt.Errorf("503 without Retry-After")
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		})
	}
	waitFor(t, 20*time.Second, "100 acknowledged writes before the outage", func() bool { return acked() >= 100 })

	cluster.Stop(t)
	down := time.Now()
	waitFor(t, 20*time.Second, "a 503 during the outage", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range results {
			if r.at.After(down) && r.status == http.StatusServiceUnavailable {
				return true
			}
		}
		return false
	})
	if r := c.do("GET", "/readyz", ""); r.Status != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %d %s", r.Status, r.Body)
	}
	const dbDown, dbUp = `basalt_dependency_up{dependency="database"} 0`, `basalt_dependency_up{dependency="database"} 1`
	if m := scrape(t, c.base, metricsToken); !strings.Contains(m, dbDown) {
		t.Errorf("the metrics during the outage lack %s", dbDown)
	}
	if r := c.do("GET", "/v1/collections/events/documents/w0-0", ""); r.Status != http.StatusServiceUnavailable ||
		r.Header.Get("Content-Type") != "application/problem+json" || r.JSON(t)["code"] != "unavailable" {
		t.Errorf("read during the outage: %d %s %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	// Keep the database away for a while: the pool must notice that every
	// connection it holds is dead, not just one.
	waitFor(t, 10*time.Second, "two seconds of outage", func() bool { return time.Since(down) > 2*time.Second })

	cluster.Start(t)
	up := time.Now()
	var firstOK time.Time
	waitFor(t, 20*time.Second, "a write acknowledged after the database returned", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range results {
			if r.at.After(up) && r.status == http.StatusCreated {
				firstOK = r.at
				return true
			}
		}
		return false
	})
	before := acked()
	waitFor(t, 20*time.Second, "50 more acknowledged writes", func() bool { return acked() >= before+50 })
	close(stop)
	wg.Wait()

	if rec := firstOK.Sub(up); rec > 5*time.Second {
		t.Errorf("Basalt took %v to recover after the database came back, want ≤ 5s", rec)
	}
	if r := c.do("GET", "/readyz", ""); r.Status != http.StatusOK {
		t.Errorf("/readyz after recovery: %d %s", r.Status, r.Body)
	}
	if m := scrape(t, c.base, metricsToken); !strings.Contains(m, dbUp) {
		t.Errorf("the metrics after recovery lack %s", dbUp)
	}
	mu.Lock()
	defer mu.Unlock()
	counts := map[int]int{}
	for _, r := range results {
		if r.err != nil {
			t.Errorf("%s: %v after %v", r.id, r.err, r.elapsed)
			continue
		}
		counts[r.status]++
		switch r.status {
		case http.StatusCreated, http.StatusServiceUnavailable:
		default:
			t.Errorf("%s: status %d", r.id, r.status)
		}
		if r.elapsed > 5*time.Second {
			t.Errorf("%s: answered after %v; requests must fail fast while the database is down", r.id, r.elapsed)
		}
	}
	t.Logf("outage of %v; answers: %v; recovered %v after restart", up.Sub(down).Round(time.Millisecond), counts, firstOK.Sub(up).Round(time.Millisecond))
	for _, r := range results {
		if r.status != http.StatusCreated {
			continue
		}
		if got := c.do("GET", "/v1/collections/events/documents/"+r.id, ""); got.Status != http.StatusOK {
			t.Fatalf("acknowledged %s is missing after the outage: %d %s", r.id, got.Status, got.Body)
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		<-tick.C
	}
}
