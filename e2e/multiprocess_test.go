package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

// twoProcesses starts two basalt processes on one fresh PostgreSQL
// database, concurrently, creates the admin account with `basalt admin
// create` while they run, and returns them, their clients acting as the
// admin, with the database URL.
func twoProcesses(t *testing.T) (a, b *server, db string) {
	t.Helper()
	db = pgtest.URL(t)
	basaltBinary(t) // build first, so that both processes start together
	waitA := launch(t, filepath.Join(t.TempDir(), "a"), "--db", db)
	waitB := launch(t, filepath.Join(t.TempDir(), "b"), "--db", db)
	a, b = waitA(), waitB()
	actAsAdmin(t, []string{"--data-dir", filepath.Join(t.TempDir(), "admin"), "--db", db}, a, b)
	return a, b, db
}

// hit is one HTTP exchange from a goroutine that is not the test's: it
// returns errors instead of failing the test. A token that is not empty is
// sent as the bearer token.
func hit(ctx context.Context, hc *http.Client, token, method, u, body string, headers ...string) (int, []byte, error) {
	req, err := newRequest(ctx, method, u, body, token, headers...)
	if err != nil {
		return 0, nil, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// doc is a document as the API returns it.
type doc struct {
	ID      string         `json:"id"`
	Version int64          `json:"version"`
	Data    map[string]any `json:"data"`
}

func decodeDoc(b []byte) (doc, error) {
	var d doc
	err := json.Unmarshal(b, &d)
	return d, err
}

// TestTwoProcessesOnOnePostgres runs two basalt processes on one
// PostgreSQL database, started at the same moment, and checks that they
// behave as one server: compare-and-set, batches, cursors and idempotency
// keys work across them.
func TestTwoProcessesOnOnePostgres(t *testing.T) {
	start := time.Now()
	a, b, db := twoProcesses(t)
	t.Logf("two processes serving after %v", time.Since(start))
	procs := []*server{a, b}

	t.Run("BothReady", func(t *testing.T) {
		for _, p := range procs {
			p.client(t).must(200, "GET", "/readyz", "")
		}
		// Each migration was applied exactly once.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		rows, err := conn.Query(ctx, `SELECT version_id, count(*) FROM goose_db_version WHERE version_id > 0 GROUP BY version_id ORDER BY version_id`)
		if err != nil {
			t.Fatal(err)
		}
		applied := map[int64]int64{}
		for rows.Next() {
			var v, n int64
			if err := rows.Scan(&v, &n); err != nil {
				t.Fatal(err)
			}
			applied[v] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(applied) < 2 {
			t.Errorf("migrations applied: %v, want at least 2", applied)
		}
		for v, n := range applied {
			if n != 1 {
				t.Errorf("migration %d applied %d times", v, n)
			}
		}
	})

	t.Run("CompareAndSet", func(t *testing.T) { compareAndSet(t, a, b) })
	t.Run("Batches", func(t *testing.T) { batchesAllOrNothing(t, a, b) })
	t.Run("Cursors", func(t *testing.T) { cursorsCrossProcesses(t, a, b) })
	t.Run("Idempotency", func(t *testing.T) { idempotencyCrossProcesses(t, a, b) })
	t.Run("Search", func(t *testing.T) { searchAcrossProcesses(t, a, b) })
}

// compareAndSet increments a counter from 8 goroutines, 4 per process,
// with GET then PATCH If-Match, retrying on 412.
func compareAndSet(t *testing.T, a, b *server) {
	ca := a.client(t)
	ca.must(201, "POST", "/v1/collections", `{"name":"counters","schema":{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}}`)
	ca.must(201, "POST", "/v1/collections/counters/documents?id=c", `{"n":0}`)

	const workers = 8
	const wantIncrements = 40
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: 10 * time.Second}
	var (
		successes atomic.Int64
		conflicts atomic.Int64
		mu        sync.Mutex
		versions  = map[int64]int{} // version returned by a 200 PATCH → how many times
		wg        sync.WaitGroup
	)
	for w := range workers {
		p := []*server{a, b}[w%2]
		base := "http://" + p.addr + "/v1/collections/counters/documents/c"
		wg.Go(func() {
			for i := 0; i < 10000 && successes.Load() < wantIncrements && ctx.Err() == nil; i++ {
				st, body, err := hit(ctx, hc, p.token, "GET", base, "")
				if err != nil || st != 200 {
					t.Errorf("worker %d GET: %d %v %s", w, st, err, body)
					return
				}
				cur, err := decodeDoc(body)
				if err != nil {
					t.Errorf("worker %d GET: %v", w, err)
					return
				}
				n, _ := cur.Data["n"].(float64)
				st, body, err = hit(ctx, hc, p.token, "PATCH", base, fmt.Sprintf(`{"n":%d}`, int64(n)+1),
					"Content-Type", "application/merge-patch+json", "If-Match", fmt.Sprintf(`"%d"`, cur.Version))
				switch {
				case err != nil:
					if ctx.Err() == nil {
						t.Errorf("worker %d PATCH: %v", w, err)
					}
					return
				case st == 412:
					conflicts.Add(1)
				case st == 200:
					got, err := decodeDoc(body)
					if err != nil {
						t.Errorf("worker %d PATCH: %v", w, err)
						return
					}
					if got.Version != cur.Version+1 || got.Data["n"] != n+1 {
						t.Errorf("worker %d: PATCH of version %d (n=%v) answered version %d n=%v", w, cur.Version, n, got.Version, got.Data["n"])
					}
					successes.Add(1)
					mu.Lock()
					versions[got.Version]++
					mu.Unlock()
				default:
					t.Errorf("worker %d PATCH: %d %s", w, st, body)
					return
				}
			}
		})
	}
	wg.Wait()
	ok := successes.Load()
	t.Logf("%d successful increments, %d precondition failures", ok, conflicts.Load())
	if ok < wantIncrements {
		t.Fatalf("only %d increments within the deadline, want %d", ok, wantIncrements)
	}
	for v, k := range versions {
		if k != 1 {
			t.Errorf("version %d was returned by %d successful PATCHes", v, k)
		}
	}
	// Each process reads the last write: at once on the one that made it,
	// and on the other within the read cache's bound for writes of
	// another process (docs/caching.md: about a second), never a version
	// that goes back.
	for _, p := range []*server{a, b} {
		var final doc
		last := int64(0)
		waitFor(t, 5*time.Second, p.addr+" to read the last increment", func() bool {
			var err error
			final, err = decodeDoc(p.client(t).must(200, "GET", "/v1/collections/counters/documents/c", "").Body)
			if err != nil {
				t.Fatal(err)
			}
			if final.Version < last {
				t.Fatalf("%s: version %d read after version %d", p.addr, final.Version, last)
			}
			last = final.Version
			return final.Version >= ok+1
		})
		if final.Data["n"] != float64(ok) || final.Version != ok+1 {
			t.Errorf("%s: final n=%v version=%d, want n=%d version=%d", p.addr, final.Data["n"], final.Version, ok, ok+1)
		}
	}
	for v := int64(2); v <= ok+1; v++ {
		if versions[v] != 1 {
			t.Errorf("version %d was returned %d times by successful PATCHes", v, versions[v])
		}
	}
}

// batchesAllOrNothing runs concurrent batches from both processes: each
// creates two documents and merge-patches a shared document with ifMatch.
// Every fourth batch also creates an id that exists, so it must fail with
// 409 after its first create.
func batchesAllOrNothing(t *testing.T, a, b *server) {
	ca := a.client(t)
	ca.must(201, "POST", "/v1/collections", `{"name":"ledger"}`)
	ca.must(201, "POST", "/v1/collections/ledger/documents?id=shared", `{"seen":{}}`)
	ca.must(201, "POST", "/v1/collections/ledger/documents?id=taken", `{"x":1}`)

	const workers = 6
	const perWorker = 12
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: 10 * time.Second}
	type outcome struct {
		name     string
		status   int
		ids      []string
		mustFail bool
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
	)
	for w := range workers {
		p := []*server{a, b}[w%2]
		wg.Go(func() {
			for i := range perWorker {
				if ctx.Err() != nil {
					return
				}
				name := fmt.Sprintf("w%d-b%d", w, i)
				st, body, err := hit(ctx, hc, p.token, "GET", "http://"+p.addr+"/v1/collections/ledger/documents/shared", "")
				if err != nil || st != 200 {
					t.Errorf("%s GET shared: %d %v %s", name, st, err, body)
					return
				}
				shared, err := decodeDoc(body)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
				ids := []string{name + "-1", name + "-2"}
				mustFail := i%4 == 3
				second := ids[1]
				if mustFail {
					second = "taken"
				}
				batch := fmt.Sprintf(`{"operations":[
					{"op":"create","collection":"ledger","id":%q,"data":{"batch":%q}},
					{"op":"create","collection":"ledger","id":%q,"data":{"batch":%q}},
					{"op":"patch","collection":"ledger","id":"shared","data":{"seen":{%q:true}},"ifMatch":%d}]}`,
					ids[0], name, second, name, name, shared.Version)
				st, body, err = hit(ctx, hc, p.token, "POST", "http://"+p.addr+"/v1/batch", batch)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("%s: %v", name, err)
					}
					return
				}
				if st != 200 && st != 409 && st != 412 {
					t.Errorf("%s: batch answered %d %s", name, st, body)
				}
				if mustFail && st != 409 {
					t.Errorf("%s: batch with an existing id answered %d, want 409: %s", name, st, body)
				}
				mu.Lock()
				outcomes = append(outcomes, outcome{name, st, ids, mustFail})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// B may answer from its read cache, which learns of A's writes from
	// the event log within about a second (docs/caching.md): the final
	// state is read once B shows as many patches as batches were
	// acknowledged, or after 5 s, whichever comes first.
	cb := b.client(t)
	acknowledged := 0
	for _, o := range outcomes {
		if o.status == 200 {
			acknowledged++
		}
	}
	var shared doc
	waitUntil(5*time.Second, func() bool {
		var err error
		if shared, err = decodeDoc(cb.must(200, "GET", "/v1/collections/ledger/documents/shared", "").Body); err != nil {
			t.Fatal(err)
		}
		return shared.Version >= int64(acknowledged)+1
	})
	seen, _ := shared.Data["seen"].(map[string]any)
	committed, failed := 0, 0
	for _, o := range outcomes {
		present := 0
		for _, id := range o.ids {
			switch r := cb.do("GET", "/v1/collections/ledger/documents/"+id, ""); r.Status {
			case 200:
				present++
			case 404:
			default:
				t.Fatalf("GET %s: %d %s", id, r.Status, r.Body)
			}
		}
		_, patched := seen[o.name]
		if o.status == 200 {
			committed++
			if present != 2 || !patched {
				t.Errorf("batch %s answered 200 but has %d of 2 documents, patch applied: %v", o.name, present, patched)
			}
		} else {
			failed++
			if present != 0 || patched {
				t.Errorf("batch %s answered %d but left %d document(s), patch applied: %v", o.name, o.status, present, patched)
			}
		}
	}
	t.Logf("%d batches committed, %d failed", committed, failed)
	if committed == 0 {
		t.Error("no batch committed")
	}
	if len(seen) != committed || shared.Version != int64(committed)+1 {
		t.Errorf("shared document: version %d with %d patches, want version %d with %d", shared.Version, len(seen), committed+1, committed)
	}
	if total := len(outcomes); total != workers*perWorker {
		t.Errorf("%d batches ran, want %d", total, workers*perWorker)
	}
}

// cursorsCrossProcesses continues a list fetched from A on both A and B.
func cursorsCrossProcesses(t *testing.T, a, b *server) {
	ca, cb := a.client(t), b.client(t)
	ca.must(201, "POST", "/v1/collections", `{"name":"pages","schema":{"type":"object","properties":{"n":{"type":"integer"}}}}`)
	for i := 1; i <= 5; i++ {
		c := []*client{ca, cb}[i%2]
		c.must(201, "POST", "/v1/collections/pages/documents?id=p"+strconv.Itoa(i), fmt.Sprintf(`{"n":%d}`, i*10))
	}
	type page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		NextCursor *string `json:"nextCursor"`
	}
	list := func(c *client, cursor string) page {
		t.Helper()
		q := url.Values{"sort": {"-n"}, "limit": {"2"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var p page
		if err := json.Unmarshal(c.must(200, "GET", "/v1/collections/pages/documents?"+q.Encode(), "").Body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ids := func(p page) string {
		var out []string
		for _, it := range p.Items {
			out = append(out, it.ID)
		}
		return strings.Join(out, ",")
	}
	first := list(ca, "")
	if ids(first) != "p5,p4" || first.NextCursor == nil {
		t.Fatalf("first page from A: %s, cursor %v", ids(first), first.NextCursor)
	}
	onA := list(ca, *first.NextCursor)
	onB := list(cb, *first.NextCursor)
	if ids(onA) != "p3,p2" || ids(onB) != ids(onA) {
		t.Fatalf("second page: on A %q, on B %q; want p3,p2 on both", ids(onA), ids(onB))
	}
	if onA.NextCursor == nil || onB.NextCursor == nil {
		t.Fatalf("second page has no next cursor: A %v, B %v", onA.NextCursor, onB.NextCursor)
	}
	// B's cursor works on A too.
	last := list(ca, *onB.NextCursor)
	if ids(last) != "p1" || last.NextCursor != nil {
		t.Fatalf("last page from A with B's cursor: %q, cursor %v", ids(last), last.NextCursor)
	}
}

// idempotencyCrossProcesses sends the same create with one key to A, then
// B, then a different body with that key to B.
func idempotencyCrossProcesses(t *testing.T, a, b *server) {
	ca, cb := a.client(t), b.client(t)
	ca.must(201, "POST", "/v1/collections", `{"name":"orders","schema":{"type":"object","properties":{"item":{"type":"string"}}}}`)
	r1 := ca.must(201, "POST", "/v1/collections/orders/documents", `{"item":"rock"}`, "Idempotency-Key", "order-1")
	r2 := cb.must(201, "POST", "/v1/collections/orders/documents", `{"item":"rock"}`, "Idempotency-Key", "order-1")
	d1, err1 := decodeDoc(r1.Body)
	d2, err2 := decodeDoc(r2.Body)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if d1.ID == "" || d1.ID != d2.ID || d1.Version != d2.Version {
		t.Fatalf("retry on B answered %s, first answer on A was %s", r2.Body, r1.Body)
	}
	r := cb.must(422, "POST", "/v1/collections/orders/documents", `{"item":"jazz"}`, "Idempotency-Key", "order-1")
	if p := r.JSON(t); p["code"] != "idempotency_mismatch" {
		t.Errorf("mismatch problem = %s", r.Body)
	}
	var page struct {
		Items []doc `json:"items"`
	}
	if err := json.Unmarshal(ca.must(200, "GET", "/v1/collections/orders/documents", "").Body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != d1.ID {
		t.Errorf("orders = %+v, want only %s", page.Items, d1.ID)
	}
}

// TestMultiProcessConcurrentIdempotentRetries sends one create with one
// Idempotency-Key from 8 goroutines to two processes at once. The docs
// promise that concurrent retries with one key produce one write, and that
// a retry gets the first answer.
func TestMultiProcessConcurrentIdempotentRetries(t *testing.T) {
	a, b, _ := twoProcesses(t)
	a.client(t).must(201, "POST", "/v1/collections", `{"name":"orders"}`)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: 10 * time.Second}
	const rounds = 5
	const workers = 8
	for round := range rounds {
		key := "retry-" + strconv.Itoa(round)
		var (
			mu       sync.Mutex
			statuses = map[int]int{}
			ids      = map[string]int{}
			bodies   []string
			wg       sync.WaitGroup
		)
		ready := make(chan struct{})
		for w := range workers {
			p := []*server{a, b}[w%2]
			wg.Go(func() {
				<-ready
				st, body, err := hit(ctx, hc, p.token, "POST", "http://"+p.addr+"/v1/collections/orders/documents", `{"item":"rock"}`, "Idempotency-Key", key)
				if err != nil {
					t.Errorf("%v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				statuses[st]++
				if st == 201 {
					d, _ := decodeDoc(body)
					ids[d.ID]++
				} else {
					bodies = append(bodies, fmt.Sprintf("%s: %d %s", p.addr, st, body))
				}
			})
		}
		close(ready)
		wg.Wait()
		if len(ids) > 1 {
			t.Errorf("round %d: one key created %d documents: %v", round, len(ids), ids)
		}
		if statuses[201] != workers {
			t.Errorf("round %d: statuses %v, want %d × 201; other answers:\n%s", round, statuses, workers, strings.Join(bodies, "\n"))
		}
	}
	var page struct {
		Items []doc `json:"items"`
	}
	if err := json.Unmarshal(b.client(t).must(200, "GET", "/v1/collections/orders/documents?limit=100", "").Body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != rounds {
		t.Errorf("%d documents after %d keys", len(page.Items), rounds)
	}
}

// TestMultiProcessSchemaAfterRecreate deletes a collection on A and
// creates it again with another schema: B must validate against the new
// schema, though the new collection has the same name and version as the
// old one that B has seen.
func TestMultiProcessSchemaAfterRecreate(t *testing.T) {
	a, b, _ := twoProcesses(t)
	ca, cb := a.client(t), b.client(t)
	ca.must(201, "POST", "/v1/collections", `{"name":"shapes","schema":{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}}`)
	cb.must(201, "POST", "/v1/collections/shapes/documents", `{"n":1}`) // B now knows version 1
	ca.must(204, "DELETE", "/v1/collections/shapes", "")
	ca.must(201, "POST", "/v1/collections", `{"name":"shapes","schema":{"type":"object","properties":{"n":{"type":"string"}},"required":["n"]}}`)

	var problems []string
	if r := cb.do("POST", "/v1/collections/shapes/documents", `{"n":"one"}`); r.Status != 201 {
		problems = append(problems, fmt.Sprintf(`B refuses {"n":"one"}, valid under the new schema: %d %s`, r.Status, r.Body))
	}
	if r := cb.do("POST", "/v1/collections/shapes/documents?id=bad", `{"n":2}`); r.Status != 400 {
		problems = append(problems, fmt.Sprintf(`B accepts {"n":2}, invalid under the new schema: %d %s`, r.Status, r.Body))
	}
	q := url.Values{"filter": {`n = "one"`}}
	if r := cb.do("GET", "/v1/collections/shapes/documents?"+q.Encode(), ""); r.Status != 200 {
		problems = append(problems, fmt.Sprintf(`B refuses the filter n = "one" on the new string field: %d %s`, r.Status, r.Body))
	}
	// A, which deleted and recreated the collection, is right.
	ca.must(201, "POST", "/v1/collections/shapes/documents", `{"n":"two"}`)
	ca.must(400, "POST", "/v1/collections/shapes/documents", `{"n":3}`)
	if len(problems) > 0 {
		slices.Sort(problems)
		t.Errorf("B uses the schema of the deleted collection:\n%s", strings.Join(problems, "\n"))
	}
}
