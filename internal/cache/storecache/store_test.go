package storecache_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/cache"
	"github.com/basaltdev/basalt/internal/cache/memory"
	cacheredis "github.com/basaltdev/basalt/internal/cache/redis"
	"github.com/basaltdev/basalt/internal/cache/storecache"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/redistest"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// redisCache returns a cache on the Redis server at u, with local copies,
// as each Basalt process makes it (one client per process).
func redisCache(t *testing.T, u, prefix string) cache.Cache {
	t.Helper()
	rc, err := cacheredis.New(cacheredis.Options{Client: redistest.CachingClient(t, u), Prefix: prefix, Local: time.Minute, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// counting counts the reads that reach the database.
type counting struct {
	docstore.Store
	gets, lists atomic.Int64
}

func (c *counting) GetDocument(ctx context.Context, coll, id string) (docstore.Document, error) {
	c.gets.Add(1)
	return c.Store.GetDocument(ctx, coll, id)
}

func (c *counting) ListDocuments(ctx context.Context, p docstore.ListParams) ([]docstore.Document, error) {
	c.lists.Add(1)
	return c.Store.ListDocuments(ctx, p)
}

// failingLog is an event log whose reads can be made to fail.
type failingLog struct {
	eventbus.Log
	fail atomic.Bool
}

func (l *failingLog) ReadEvents(ctx context.Context, after int64, limit int) ([]eventbus.Event, error) {
	if l.fail.Load() {
		return nil, errors.New("the database is unreachable")
	}
	return l.Log.ReadEvents(ctx, after, limit)
}

// lossyCache is a cache whose deletes fail, as a Redis server that cannot
// be reached when a write commits (and is reached again by the next read).
type lossyCache struct {
	cache.Cache
}

func (lossyCache) Delete(context.Context, ...string) error { return errors.New("connection refused") }

// world is one database and one shared cache (Redis, in a deployment)
// that several processes use.
type world struct {
	t     *testing.T
	db    *sqlite.Store
	cache cache.Cache
	// perProcess, when set, gives each process its own cache client
	// (Redis: one connection and one set of local copies per process).
	perProcess func() cache.Cache
}

func newWorld(t *testing.T) *world {
	t.Helper()
	db, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &world{t: t, db: db, cache: memory.New(64<<20, time.Now)}
}

// process is one Basalt process: its caching store and document service.
type process struct {
	t     *testing.T
	store *storecache.Store
	db    *counting
	svc   *docstore.Service
	news  *eventbus.Signal
	log   *failingLog
}

func (w *world) process(opts storecache.Options) *process {
	t := w.t
	t.Helper()
	p := &process{t: t, db: &counting{Store: w.db}, news: &eventbus.Signal{}, log: &failingLog{Log: w.db}}
	opts.Cache, opts.Log, opts.News = w.cache, p.log, p.news
	if w.perProcess != nil {
		opts.Cache = w.perProcess()
	}
	if opts.Poll == 0 {
		// The tests decide when the log is read (sync); the poll is a
		// backstop.
		opts.Poll, opts.MaxStaleness = time.Hour, time.Hour
	}
	s, err := storecache.New(p.db, opts)
	if err != nil {
		t.Fatal(err)
	}
	p.store = s
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	p.svc, err = docstore.NewService(s, docstore.Options{CursorKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the tailer's first read", s.Synced)
	return p
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-time.After(time.Millisecond) // the polling interval
	}
}

func admin(t *testing.T) context.Context {
	return auth.WithPrincipal(t.Context(), auth.Principal{Kind: auth.KindUser, ID: "admin-1", Roles: []string{auth.RoleAdmin}})
}

// sync makes the process read the log to where it ends now.
func (p *process) sync(w *world) {
	p.t.Helper()
	_, newest, err := w.db.LogBounds(p.t.Context())
	if err != nil {
		p.t.Fatal(err)
	}
	p.news.Notify()
	waitFor(p.t, "the tailer to read the log", func() bool { return p.store.Position() >= newest })
}

func (p *process) get(id string) docstore.Document {
	p.t.Helper()
	d, err := p.svc.GetDocument(admin(p.t), "notes", id)
	if err != nil {
		p.t.Fatalf("get %s: %v", id, err)
	}
	return d
}

func (p *process) patch(id string, n int) docstore.Document {
	p.t.Helper()
	d, err := p.svc.PatchDocument(admin(p.t), docstore.PatchRequest{Collection: "notes", ID: id, Patch: docstore.Data{"n": n}})
	if err != nil {
		p.t.Fatalf("patch %s: %v", id, err)
	}
	return d
}

func (p *process) list() []docstore.Document {
	p.t.Helper()
	page, err := p.svc.ListDocuments(admin(p.t), docstore.ListRequest{Collection: "notes", Sort: "id"})
	if err != nil {
		p.t.Fatal(err)
	}
	return page.Items
}

func setup(t *testing.T, p *process, docs int) {
	t.Helper()
	ctx := admin(t)
	if _, err := p.svc.CreateCollection(ctx, docstore.CollectionSpec{Name: "notes",
		Schema: json.RawMessage(`{"type":"object"}`)}); err != nil {
		t.Fatal(err)
	}
	for i := range docs {
		if _, err := p.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: "notes", ID: "d" + strconv.Itoa(i),
			Data: docstore.Data{"n": 0}}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestServesFromCacheAndReadsItsOwnWrites(t *testing.T) {
	w := newWorld(t)
	a := w.process(storecache.Options{})
	setup(t, a, 1)
	a.sync(w)
	before := a.db.gets.Load()
	a.get("d0")
	a.get("d0")
	a.get("d0")
	if n := a.db.gets.Load() - before; n != 1 {
		t.Fatalf("three gets read the database %d times, want 1", n)
	}
	// A write of this process is read back at once, though its event has
	// not been read yet (the tailer only reads when told).
	a.patch("d0", 1)
	if d := a.get("d0"); d.Version != 2 {
		t.Fatalf("get after an acknowledged patch = version %d, want 2", d.Version)
	}
	a.sync(w)
	before = a.db.gets.Load()
	a.get("d0")
	a.get("d0")
	if d := a.get("d0"); d.Version != 2 {
		t.Fatalf("version %d, want 2", d.Version)
	}
	if n := a.db.gets.Load() - before; n > 1 {
		t.Fatalf("three gets after the event was read hit the database %d times, want at most 1", n)
	}
}

// TestOwnWriteWithoutDelete reads back a write of this process whose
// entry could not be deleted: the write is pending until its event is
// read, so the stale entry is not served meanwhile.
func TestOwnWriteWithoutDelete(t *testing.T) {
	w := newWorld(t)
	w.cache = lossyCache{w.cache}
	a := w.process(storecache.Options{})
	setup(t, a, 1)
	a.sync(w)
	a.get("d0")
	a.patch("d0", 1)
	if d := a.get("d0"); d.Version != 2 {
		t.Fatalf("get after an acknowledged patch = version %d, want 2", d.Version)
	}
	a.sync(w)
	if d := a.get("d0"); d.Version != 2 {
		t.Fatalf("get after the event was read = version %d, want 2", d.Version)
	}
}

func TestAnotherProcessWriteIsSeenOnceItsEventIsRead(t *testing.T) {
	w := newWorld(t)
	a, b := w.process(storecache.Options{}), w.process(storecache.Options{})
	setup(t, a, 1)
	a.sync(w)
	b.sync(w)
	if d := b.get("d0"); d.Version != 1 {
		t.Fatalf("version %d", d.Version)
	}
	a.patch("d0", 1)
	b.sync(w)
	if d := b.get("d0"); d.Version != 2 {
		t.Fatalf("after reading the event, b gets version %d, want 2", d.Version)
	}
}

// TestRestoredEntryIsRefused puts back an entry that a write made stale,
// as a Redis server restarted from an older snapshot would: it is never
// served once the write's event has been read.
func TestRestoredEntryIsRefused(t *testing.T) {
	w := newWorld(t)
	a, b := w.process(storecache.Options{}), w.process(storecache.Options{})
	setup(t, a, 1)
	a.sync(w)
	b.sync(w)
	b.get("d0") // cached at version 1
	old, ok, err := w.cache.Get(t.Context(), "d:notes/d0")
	if err != nil || !ok {
		t.Fatalf("no entry for d0 after a read (%v)", err)
	}
	a.patch("d0", 1)
	b.sync(w)
	if err := w.cache.Set(t.Context(), "d:notes/d0", old, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*process{a, b} {
		if d := p.get("d0"); d.Version != 2 {
			t.Fatalf("a restored entry of version 1 was served after version 2's event was read (got %d)", d.Version)
		}
	}
	// The counter-case: an entry that no write made stale is served.
	cur, ok, err := w.cache.Get(t.Context(), "d:notes/d0")
	if err != nil || !ok {
		t.Fatalf("no entry for d0 after a read (%v)", err)
	}
	if err := w.cache.Set(t.Context(), "d:notes/d0", cur, time.Hour); err != nil {
		t.Fatal(err)
	}
	before := b.db.gets.Load()
	b.get("d0")
	if n := b.db.gets.Load() - before; n != 0 {
		t.Fatalf("an entry read after the last write was not served: %d database reads", n)
	}
}

func TestNewProcessDoesNotTrustOlderEntries(t *testing.T) {
	w := newWorld(t)
	a := w.process(storecache.Options{})
	setup(t, a, 1)
	a.sync(w)
	a.get("d0") // an entry read before c starts…
	// …and a write to another document, which a's tailer does not read,
	// so the log ends above the entry's position when c starts.
	if _, err := a.svc.CreateDocument(admin(t), docstore.CreateRequest{Collection: "notes", ID: "other", Data: docstore.Data{}}); err != nil {
		t.Fatal(err)
	}
	c := w.process(storecache.Options{})
	before := c.db.gets.Load()
	c.get("d0")
	if c.db.gets.Load() == before {
		t.Fatal("a process served an entry read before it started following the log")
	}
}

func TestStalledTailerReadsTheDatabase(t *testing.T) {
	w := newWorld(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a := w.process(storecache.Options{Now: clock, Poll: time.Hour, MaxStaleness: time.Hour})
	setup(t, a, 1)
	a.sync(w)
	a.get("d0")
	before := a.db.gets.Load()
	a.get("d0")
	if a.db.gets.Load() != before {
		t.Fatal("no hit while the tailer is in step")
	}
	a.log.fail.Store(true)
	mu.Lock()
	now = now.Add(time.Hour + time.Second)
	mu.Unlock()
	a.get("d0")
	a.get("d0")
	if n := a.db.gets.Load() - before; n != 2 {
		t.Fatalf("with the log unread for longer than MaxStaleness, 2 gets read the database %d times, want 2", n)
	}
	if a.store.Synced() {
		t.Fatal("Synced while the log cannot be read")
	}
}

func TestSkippedCollectionIsNeverCached(t *testing.T) {
	w := newWorld(t)
	a := w.process(storecache.Options{Skip: func(c string) bool { return c == "notes" }})
	setup(t, a, 1)
	a.sync(w)
	before := a.db.gets.Load()
	a.get("d0")
	a.get("d0")
	if n := a.db.gets.Load() - before; n != 2 {
		t.Fatalf("%d database reads for 2 gets of a collection that is not cached", n)
	}
	if _, ok, _ := w.cache.Get(t.Context(), "d:notes/d0"); ok {
		t.Fatal("an entry was stored for a collection that is not cached")
	}
}

func TestListsFollowWritesOfEveryProcess(t *testing.T) {
	w := newWorld(t)
	a, b := w.process(storecache.Options{}), w.process(storecache.Options{})
	setup(t, a, 2)
	a.sync(w)
	b.sync(w)
	if n := len(b.list()); n != 2 {
		t.Fatalf("%d items", n)
	}
	before := b.db.lists.Load()
	if n := len(b.list()); n != 2 || b.db.lists.Load() != before {
		t.Fatalf("second list: %d items, %d database reads", n, b.db.lists.Load()-before)
	}
	if _, err := a.svc.CreateDocument(admin(t), docstore.CreateRequest{Collection: "notes", ID: "d9", Data: docstore.Data{"n": 1}}); err != nil {
		t.Fatal(err)
	}
	if n := len(a.list()); n != 3 {
		t.Fatalf("the writing process lists %d items after its create, want 3", n)
	}
	b.sync(w)
	if n := len(b.list()); n != 3 {
		t.Fatalf("another process lists %d items once it read the create's event, want 3", n)
	}
}

func TestDeletedCollectionTakesItsDocuments(t *testing.T) {
	w := newWorld(t)
	a, b := w.process(storecache.Options{}), w.process(storecache.Options{})
	setup(t, a, 1)
	a.sync(w)
	b.sync(w)
	b.get("d0")
	ctx := admin(t)
	if err := a.svc.DeleteCollection(ctx, "notes", nil); err != nil {
		t.Fatal(err)
	}
	setup(t, a, 0) // the same name again, without documents
	b.sync(w)
	if _, err := b.svc.GetDocument(ctx, "notes", "d0"); err == nil {
		t.Fatal("a document of a deleted collection was served from the cache")
	}
}

// TestHistory runs writers and readers on two processes that share a cache
// and checks every read of the recorded history: a process never answers
// with a version older than one it acknowledged or one it answered
// before, and every process answers with a version acknowledged anywhere
// more than a second earlier.
func TestHistory(t *testing.T) {
	for _, lossy := range []bool{false, true} {
		t.Run("cache=memory/deletes-fail="+strconv.FormatBool(lossy), func(t *testing.T) {
			w := newWorld(t)
			if lossy {
				w.cache = lossyCache{w.cache}
			}
			testHistory(t, w, nil)
		})
	}
	t.Run("cache=redis", func(t *testing.T) {
		w := newWorld(t)
		u, prefix := redistest.URL(t), redistest.Prefix(t)
		w.perProcess = func() cache.Cache { return redisCache(t, u, prefix) }
		testHistory(t, w, nil)
	})
	// Redis loses everything twice during the run (a flush, then a
	// restart without persistence) and is down for a while in between.
	t.Run("cache=redis/flushed-and-restarted", func(t *testing.T) {
		w := newWorld(t)
		srv := redistest.Start(t)
		w.perProcess = func() cache.Cache { return redisCache(t, srv.URL(), "") }
		admin := redistest.Client(t, srv.URL())
		testHistory(t, w, []step{
			{400 * time.Millisecond, func() {
				if err := admin.Do(context.Background(), admin.B().Flushall().Build()).Error(); err != nil {
					t.Error(err)
				}
			}},
			{900 * time.Millisecond, func() { srv.Stop(t) }},
			{1300 * time.Millisecond, func() { srv.Restart(t) }},
		})
	})
}

// step is something done to the world at a time since the history began.
type step struct {
	at time.Duration
	do func()
}

// testHistory runs the history, with the steps done meanwhile.
func testHistory(t *testing.T, w *world, steps []step) {
	procs := []*process{
		w.process(storecache.Options{Poll: 20 * time.Millisecond, MaxStaleness: time.Second}),
		w.process(storecache.Options{Poll: 20 * time.Millisecond, MaxStaleness: time.Second}),
	}
	const docs = 4
	setup(t, procs[0], docs)
	type op struct {
		proc, doc  int
		write      bool
		version    int64
		start, end time.Time
	}
	var (
		mu      sync.Mutex
		history []op
	)
	record := func(o op) {
		mu.Lock()
		history = append(history, o)
		mu.Unlock()
	}
	begin := time.Now()
	deadline := begin.Add(2 * time.Second)
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, st := range steps {
			<-time.After(time.Until(begin.Add(st.at)))
			st.do()
		}
	})
	for g := range 6 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for i := 0; i < 400 && time.Now().Before(deadline); i++ {
				pi, doc := r.IntN(len(procs)), r.IntN(docs)
				p := procs[pi]
				id := "d" + strconv.Itoa(doc)
				start := time.Now()
				if g < 2 { // writers
					d, err := p.svc.PatchDocument(admin(t), docstore.PatchRequest{Collection: "notes", ID: id, Patch: docstore.Data{"n": i}})
					if err != nil {
						t.Error(err)
						return
					}
					record(op{proc: pi, doc: doc, write: true, version: d.Version, start: start, end: time.Now()})
					continue
				}
				d, err := p.svc.GetDocument(admin(t), "notes", id)
				if err != nil {
					t.Error(err)
					return
				}
				record(op{proc: pi, doc: doc, version: d.Version, start: start, end: time.Now()})
			}
		})
	}
	wg.Wait()
	var reads, writes int
	for _, r := range history {
		if r.write {
			writes++
			continue
		}
		reads++
		for _, o := range history {
			if o.doc != r.doc || !o.end.Before(r.start) {
				continue
			}
			switch {
			case o.write && o.proc == r.proc && r.version < o.version:
				t.Errorf("process %d read d%d at version %d after acknowledging version %d", r.proc, r.doc, r.version, o.version)
			case o.write && o.end.Before(r.start.Add(-time.Second)) && r.version < o.version:
				t.Errorf("process %d read d%d at version %d more than 1 s after version %d was acknowledged", r.proc, r.doc, r.version, o.version)
			case !o.write && o.proc == r.proc && r.version < o.version:
				t.Errorf("process %d read d%d at version %d after answering version %d", r.proc, r.doc, r.version, o.version)
			}
		}
	}
	if reads < 100 || writes < 50 {
		t.Fatalf("history too short to mean anything: %d reads, %d writes", reads, writes)
	}
	var fromDB int64
	for _, p := range procs {
		fromDB += p.db.gets.Load()
	}
	if served := int64(reads) - fromDB; served < int64(reads)/10 {
		t.Fatalf("the cache served %d of %d reads: the history did not test it", max(served, 0), reads)
	}
	t.Logf("%d reads and %d writes checked; %d database reads", reads, writes, fromDB)
}

// TestNeverGoesBack: once a process answered a version read from the
// database, an entry holding an older version is not served, even while
// the process's tailer has not read the newer version's event (the entry
// stands for one that a slower process stored last).
func TestNeverGoesBack(t *testing.T) {
	w := newWorld(t)
	w.cache = lossyCache{w.cache}
	a, b := w.process(storecache.Options{}), w.process(storecache.Options{})
	setup(t, a, 1)
	a.sync(w)
	b.sync(w)
	b.get("d0")
	old, ok, err := w.cache.Get(t.Context(), "d:notes/d0")
	if err != nil || !ok {
		t.Fatalf("no entry (%v)", err)
	}
	a.patch("d0", 1)
	// b has not read the patch's event; its entry is gone, so it reads
	// version 2 from the database.
	if err := w.cache.(lossyCache).Cache.Delete(t.Context(), "d:notes/d0"); err != nil {
		t.Fatal(err)
	}
	if d := b.get("d0"); d.Version != 2 {
		t.Fatalf("version %d, want 2", d.Version)
	}
	if err := w.cache.Set(t.Context(), "d:notes/d0", old, time.Hour); err != nil {
		t.Fatal(err)
	}
	if d := b.get("d0"); d.Version != 2 {
		t.Fatalf("after answering version 2, b answered version %d from an older entry", d.Version)
	}
}
