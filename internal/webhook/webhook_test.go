package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
	"github.com/basaltdev/basalt/internal/webhook"
)

// catalog knows the collections "orders" and "other".
type catalog struct{}

func (catalog) GetCollection(_ context.Context, name string) (docstore.Collection, error) {
	if name == "orders" || name == "other" {
		return docstore.Collection{Name: name}, nil
	}
	return docstore.Collection{}, fault.New(fault.NotFound, "test", "no collection")
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func loopback(t *testing.T) []netip.Prefix {
	t.Helper()
	p, err := webhook.ParseNetworks([]string{"127.0.0.1/32"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func admin() context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindUser, ID: "admin-1", Roles: []string{auth.RoleAdmin}})
}

// receiver is an endpoint that records what it receives and answers with
// the next status of its script (the last one once the script runs out).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	script []int
	got    []*http.Request
	bodies [][]byte
	hits   chan struct{}
}

func newReceiver(t *testing.T, script ...int) *receiver {
	r := &receiver{script: script, hits: make(chan struct{}, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, req)
		r.bodies = append(r.bodies, body)
		code := r.script[0]
		if len(r.script) > 1 {
			r.script = r.script[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(code)
		_, _ = w.Write([]byte("answer " + strconv.Itoa(code)))
		r.hits <- struct{}{}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *receiver) setScript(codes ...int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.script = codes
}

// fixture is a service, a dispatcher and a running worker over one store.
type fixture struct {
	store  *sqlite.Store
	svc    *webhook.Service
	disp   *webhook.Dispatcher
	worker *webhook.Worker
	reg    *prometheus.Registry
}

type fixtureOpts struct {
	sendAllow   []netip.Prefix // the worker's allowlist (default: loopback)
	maxAttempts int
	timeout     time.Duration
	filter      webhook.Filter
}

func newFixture(t *testing.T, o fixtureOpts) *fixture {
	t.Helper()
	store := openStore(t)
	if o.sendAllow == nil {
		o.sendAllow = loopback(t)
	}
	if o.maxAttempts == 0 {
		o.maxAttempts = 3
	}
	if o.filter == nil {
		o.filter = func(_ context.Context, ev eventbus.Event) (eventbus.Event, bool, error) { return ev, true, nil }
	}
	f := &fixture{store: store, reg: prometheus.NewRegistry()}
	w, err := webhook.NewWorker(webhook.WorkerConfig{Store: store, Guard: webhook.NewGuard(o.sendAllow, nil), Filter: o.filter,
		Registerer: f.reg, MaxAttempts: o.maxAttempts, BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond,
		Poll: 10 * time.Millisecond, Timeout: o.timeout})
	if err != nil {
		t.Fatal(err)
	}
	f.worker = w
	f.svc = webhook.NewService(webhook.ServiceConfig{Store: store, Catalog: catalog{}, Guard: webhook.NewGuard(loopback(t), nil),
		Wake: w.Wake})
	f.disp = webhook.NewDispatcher(store, nil, w.Wake)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return f
}

func (f *fixture) create(t *testing.T, n webhook.NewWebhook) webhook.Webhook {
	t.Helper()
	w, err := f.svc.Create(admin(), n)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return w
}

func newEvent(t *testing.T, typ eventbus.Type, collection string, pos int64) eventbus.Event {
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return eventbus.Event{ID: id.String(), Type: typ, Collection: collection, DocumentID: "d" + strconv.FormatInt(pos, 10),
		Version: 1, Time: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC), Position: pos,
		Payload: json.RawMessage(`{"id":"d1","collection":"orders","version":1,"data":{"total":12}}`)}
}

// waitDelivery waits until the webhook's only delivery satisfies cond.
func (f *fixture) waitDelivery(t *testing.T, hookID string, cond func(webhook.Delivery) bool) webhook.Delivery {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		ds, _, err := f.svc.ListDeliveries(admin(), hookID, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 1 && cond(ds[0]) {
			return ds[0]
		}
		select {
		case <-deadline:
			t.Fatalf("deliveries now: %+v", ds)
		case <-tick.C:
		}
	}
}

func finished(d webhook.Delivery) bool {
	return d.Status == webhook.Succeeded || d.Status == webhook.Failed
}

func TestDeliverySignedAndFiltered(t *testing.T) {
	filter := func(_ context.Context, ev eventbus.Event) (eventbus.Event, bool, error) {
		ev.Payload = json.RawMessage(`{"id":"d1","filtered":true}`)
		return ev, true, nil
	}
	f := newFixture(t, fixtureOpts{filter: filter})
	rcv := newReceiver(t, 200)
	hook := f.create(t, webhook.NewWebhook{URL: rcv.srv.URL + "/hook", Collection: "orders"})
	ev := newEvent(t, eventbus.DocumentCreated, "orders", 7)
	before := time.Now().Unix()
	if err := f.disp.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	d := f.waitDelivery(t, hook.ID, finished)
	if d.Status != webhook.Succeeded || d.Attempts != 1 || d.LastStatusCode != 200 || d.LastError != "" || d.EventID != ev.ID {
		t.Fatalf("delivery = %+v", d)
	}
	rcv.mu.Lock()
	req, body := rcv.got[0], rcv.bodies[0]
	rcv.mu.Unlock()
	if req.Method != http.MethodPost || req.URL.Path != "/hook" || req.Header.Get("Content-Type") != "application/json" ||
		!strings.Contains(req.Header.Get("User-Agent"), "Basalt") {
		t.Fatalf("request %s %s, headers %v", req.Method, req.URL, req.Header)
	}
	// The body is the envelope, through the filter.
	var sent eventbus.Event
	if err := json.Unmarshal(body, &sent); err != nil {
		t.Fatal(err)
	}
	if sent.ID != ev.ID || sent.Type != ev.Type || sent.Position != 7 || string(sent.Payload) != `{"id":"d1","filtered":true}` {
		t.Fatalf("body = %s", body)
	}
	// The signature, computed here from the secret returned at creation.
	id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id != ev.ID || err != nil || sec < before || sec > time.Now().Unix() {
		t.Fatalf("webhook-id %q, webhook-timestamp %q", id, ts)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(hook.Secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); req.Header.Get("webhook-signature") != want {
		t.Fatalf("webhook-signature = %q, want %q", req.Header.Get("webhook-signature"), want)
	}
	if n := f.attempts(t, "succeeded"); n != 1 {
		t.Fatalf("succeeded attempts metric = %v", n)
	}
}

// attempts returns the attempts metric of an outcome.
func (f *fixture) attempts(t *testing.T, outcome string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "basalt_webhook_attempts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no attempts metric for %q", outcome)
	return 0
}

// After a rotation that keeps the previous secret, each delivery carries
// two signatures: one by the new secret, one by the old.
func TestRotationSignsWithBothSecrets(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	rcv := newReceiver(t, 200)
	hook := f.create(t, webhook.NewWebhook{URL: rcv.srv.URL, Collection: "orders"})
	rot, err := f.svc.RotateSecret(admin(), hook.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.disp.Handle(context.Background(), newEvent(t, eventbus.DocumentCreated, "orders", 1)); err != nil {
		t.Fatal(err)
	}
	f.waitDelivery(t, hook.ID, finished)
	rcv.mu.Lock()
	req, body := rcv.got[0], rcv.bodies[0]
	rcv.mu.Unlock()
	sign := func(secret string) string {
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(req.Header.Get("webhook-id") + "." + req.Header.Get("webhook-timestamp") + "."))
		mac.Write(body)
		return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	if got, want := req.Header.Get("webhook-signature"), sign(rot.Secret)+" "+sign(hook.Secret); got != want {
		t.Fatalf("webhook-signature = %q, want %q", got, want)
	}
}

func TestDeliveryRetriesThenSucceeds(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	rcv := newReceiver(t, 500, 503, 204)
	hook := f.create(t, webhook.NewWebhook{URL: rcv.srv.URL, Collection: webhook.AnyCollection})
	if err := f.disp.Handle(context.Background(), newEvent(t, eventbus.DocumentPatched, "other", 1)); err != nil {
		t.Fatal(err)
	}
	d := f.waitDelivery(t, hook.ID, finished)
	if d.Status != webhook.Succeeded || d.Attempts != 3 || d.LastStatusCode != 204 || d.LastError != "" || rcv.count() != 3 {
		t.Fatalf("delivery = %+v after %d requests", d, rcv.count())
	}
	if f.attempts(t, "retry") != 2 || f.attempts(t, "succeeded") != 1 {
		t.Fatalf("metrics: retry %v, succeeded %v", f.attempts(t, "retry"), f.attempts(t, "succeeded"))
	}
}

func TestDeliveryFailsThenRedelivered(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	rcv := newReceiver(t, 500)
	hook := f.create(t, webhook.NewWebhook{URL: rcv.srv.URL, Collection: "orders"})
	if err := f.disp.Handle(context.Background(), newEvent(t, eventbus.DocumentCreated, "orders", 1)); err != nil {
		t.Fatal(err)
	}
	d := f.waitDelivery(t, hook.ID, finished)
	if d.Status != webhook.Failed || d.Attempts != 3 || d.LastStatusCode != 500 ||
		d.LastError != "the endpoint answered 500: answer 500" || rcv.count() != 3 {
		t.Fatalf("delivery = %+v after %d requests", d, rcv.count())
	}
	if f.attempts(t, "failed") != 1 || f.attempts(t, "retry") != 2 {
		t.Fatal("the metrics do not count a failure after two retries")
	}
	// Failed stays failed: no more attempts.
	if rcv.count() != 3 {
		t.Fatalf("%d requests", rcv.count())
	}
	rcv.setScript(200)
	got, err := f.svc.Redeliver(admin(), hook.ID, d.ID)
	if err != nil || got.Status != webhook.Pending {
		t.Fatalf("Redeliver = %+v, %v", got, err)
	}
	d = f.waitDelivery(t, hook.ID, func(d webhook.Delivery) bool { return d.Status == webhook.Succeeded })
	if d.Attempts != 4 || d.LastStatusCode != 200 || d.LastError != "" || rcv.count() != 4 {
		t.Fatalf("after redelivery: %+v, %d requests", d, rcv.count())
	}
	if _, err := f.svc.Redeliver(admin(), hook.ID, "0193a000-0000-7000-8000-000000000000"); !fault.Is(err, fault.NotFound) {
		t.Fatalf("Redeliver of a missing delivery = %v", err)
	}
}

func TestDispatchIsIdempotentAndSelective(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	rcv := newReceiver(t, 200)
	created := f.create(t, webhook.NewWebhook{URL: rcv.srv.URL, Collection: "orders", Types: []string{"document.created"}})
	off := false
	disabled := f.create(t, webhook.NewWebhook{URL: rcv.srv.URL, Collection: "orders", Enabled: &off})
	ev := newEvent(t, eventbus.DocumentCreated, "orders", 1)
	batch := []eventbus.Event{ev,
		newEvent(t, eventbus.DocumentCreated, "other", 2),    // another collection
		newEvent(t, eventbus.DocumentDeleted, "orders", 3),   // another type
		newEvent(t, eventbus.CollectionCreated, "orders", 4), // another type
	}
	for range 3 { // the stream delivers at least once
		if err := f.disp.HandleBatch(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	d := f.waitDelivery(t, created.ID, finished)
	if d.EventID != ev.ID || d.Status != webhook.Succeeded {
		t.Fatalf("delivery = %+v", d)
	}
	ds, _, err := f.svc.ListDeliveries(admin(), disabled.ID, "", 10)
	if err != nil || len(ds) != 0 {
		t.Fatalf("the disabled webhook has deliveries: %+v, %v", ds, err)
	}
	// One request in all: nothing else is due.
	if err := f.disp.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	ds, _, _ = f.svc.ListDeliveries(admin(), created.ID, "", 10)
	if len(ds) != 1 || rcv.count() != 1 {
		t.Fatalf("%d deliveries, %d requests; want 1 and 1", len(ds), rcv.count())
	}
}

// A URL allowed when it was saved is checked again at send: here the
// worker's guard has no allowlist, so 127.0.0.1 is refused, and the
// receiver never sees a request.
func TestDeliveryRefusedAtSend(t *testing.T) {
	f := newFixture(t, fixtureOpts{sendAllow: []netip.Prefix{}, maxAttempts: 2})
	rcv := newReceiver(t, 200)
	hook := f.create(t, webhook.NewWebhook{URL: rcv.srv.URL, Collection: "orders"})
	if err := f.disp.Handle(context.Background(), newEvent(t, eventbus.DocumentCreated, "orders", 1)); err != nil {
		t.Fatal(err)
	}
	d := f.waitDelivery(t, hook.ID, finished)
	if d.Status != webhook.Failed || d.LastStatusCode != 0 || !strings.Contains(d.LastError, "internal address") || rcv.count() != 0 {
		t.Fatalf("delivery = %+v, %d requests", d, rcv.count())
	}
}

func TestDeliveryTimesOut(t *testing.T) {
	f := newFixture(t, fixtureOpts{maxAttempts: 1, timeout: 100 * time.Millisecond})
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	hook := f.create(t, webhook.NewWebhook{URL: srv.URL, Collection: "orders"})
	if err := f.disp.Handle(context.Background(), newEvent(t, eventbus.DocumentCreated, "orders", 1)); err != nil {
		t.Fatal(err)
	}
	d := f.waitDelivery(t, hook.ID, finished)
	if d.Status != webhook.Failed || !strings.Contains(d.LastError, "no answer within 100ms") {
		t.Fatalf("delivery = %+v", d)
	}
}

// The worker deletes finished deliveries older than the retention and
// keeps the others.
func TestWorkerPurgesOldDeliveries(t *testing.T) {
	store := openStore(t)
	svc := webhook.NewService(webhook.ServiceConfig{Store: store, Catalog: catalog{}, Guard: webhook.NewGuard(loopback(t), nil)})
	rcv := newReceiver(t, 200)
	hook, err := svc.Create(admin(), webhook.NewWebhook{URL: rcv.srv.URL, Collection: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64 // Unix seconds
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	now := func() time.Time { return time.Unix(clock.Load(), 0) }
	run := func(t *testing.T, until func() bool) {
		t.Helper()
		w, err := webhook.NewWorker(webhook.WorkerConfig{Store: store, Guard: webhook.NewGuard(loopback(t), nil),
			Filter: func(_ context.Context, ev eventbus.Event) (eventbus.Event, bool, error) { return ev, true, nil },
			Now:    now, Poll: 5 * time.Millisecond, PurgeEvery: 5 * time.Millisecond, Retention: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
		deadline := time.After(10 * time.Second)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for !until() {
			select {
			case <-deadline:
				t.Fatal("condition not reached")
			case <-tick.C:
			}
		}
	}
	deliveries := func() []webhook.Delivery {
		ds, _, err := svc.ListDeliveries(admin(), hook.ID, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	disp := webhook.NewDispatcher(store, now, nil)
	if err := disp.Handle(context.Background(), newEvent(t, eventbus.DocumentCreated, "orders", 1)); err != nil {
		t.Fatal(err)
	}
	run(t, func() bool { ds := deliveries(); return len(ds) == 1 && ds[0].Status == webhook.Succeeded })
	// A day and a second later a new event arrives: the old delivery
	// goes, the new one stays.
	clock.Add(24*3600 + 1)
	if err := disp.Handle(context.Background(), newEvent(t, eventbus.DocumentCreated, "orders", 2)); err != nil {
		t.Fatal(err)
	}
	run(t, func() bool {
		ds := deliveries()
		return len(ds) == 1 && ds[0].Position == 2 && ds[0].Status == webhook.Succeeded
	})
}

func TestDeliveryOfDisabledOrGone(t *testing.T) {
	gone := func(_ context.Context, ev eventbus.Event) (eventbus.Event, bool, error) { return ev, false, nil }
	f := newFixture(t, fixtureOpts{filter: gone, maxAttempts: 5})
	rcv := newReceiver(t, 200)
	hook := f.create(t, webhook.NewWebhook{URL: rcv.srv.URL, Collection: "orders"})
	if err := f.disp.Handle(context.Background(), newEvent(t, eventbus.DocumentCreated, "orders", 1)); err != nil {
		t.Fatal(err)
	}
	d := f.waitDelivery(t, hook.ID, finished)
	if d.Status != webhook.Failed || d.Attempts != 1 || !strings.Contains(d.LastError, "collection is gone") || rcv.count() != 0 {
		t.Fatalf("delivery = %+v", d)
	}
}

// An attempt cut off by the worker's shutdown is not the endpoint's
// fault: the delivery is due again at once, its attempts unchanged.
func TestShutdownDuringAnAttempt(t *testing.T) {
	store := openStore(t)
	svc := webhook.NewService(webhook.ServiceConfig{Store: store, Catalog: catalog{}, Guard: webhook.NewGuard(loopback(t), nil)})
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	hook, err := svc.Create(admin(), webhook.NewWebhook{URL: srv.URL, Collection: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if err := webhook.NewDispatcher(store, nil, nil).Handle(context.Background(), newEvent(t, eventbus.DocumentCreated, "orders", 1)); err != nil {
		t.Fatal(err)
	}
	w, err := webhook.NewWorker(webhook.WorkerConfig{Store: store, Guard: webhook.NewGuard(loopback(t), nil),
		Filter: func(_ context.Context, ev eventbus.Event) (eventbus.Event, bool, error) { return ev, true, nil },
		Poll:   5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no request")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	ds, _, err := svc.ListDeliveries(admin(), hook.ID, "", 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries %+v, %v", ds, err)
	}
	if d := ds[0]; d.Status != webhook.Pending || d.Attempts != 0 || d.LastError != "" {
		t.Fatalf("after a shutdown mid-attempt: %+v; want pending, no attempt counted", d)
	}
}
