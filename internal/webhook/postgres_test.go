package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/storage/postgres"
	"github.com/basaltdev/basalt/internal/webhook"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// Three processes on one PostgreSQL database (three stores, three workers)
// share the deliveries: every event reaches the endpoint exactly once
// while every answer is a success.
func TestWorkersShareDeliveriesOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(context.Background(), postgres.Options{URL: url, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	first := open()
	var mu sync.Mutex
	hits := map[string]int{}
	total := make(chan struct{}, 1000)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		hits[r.Header.Get("webhook-id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
		total <- struct{}{}
	}))
	t.Cleanup(rcv.Close)
	svc := webhook.NewService(webhook.ServiceConfig{Store: first, Catalog: catalog{}, Guard: webhook.NewGuard(loopback(t), nil)})
	hook, err := svc.Create(admin(), webhook.NewWebhook{URL: rcv.URL, Collection: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	const events = 60
	var evs []eventbus.Event
	for i := range events {
		evs = append(evs, newEvent(t, eventbus.DocumentCreated, "orders", int64(i+1)))
	}
	if err := webhook.NewDispatcher(first, nil, nil).HandleBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range []*postgres.Store{first, open(), open()} {
		w, err := webhook.NewWorker(webhook.WorkerConfig{Store: s, Guard: webhook.NewGuard(loopback(t), nil),
			Filter:      func(_ context.Context, ev eventbus.Event) (eventbus.Event, bool, error) { return ev, true, nil },
			Concurrency: 4, Poll: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
	}
	deadline := time.After(30 * time.Second)
	for range events {
		select {
		case <-total:
		case <-deadline:
			t.Fatalf("%d requests of %d", len(hits), events)
		}
	}
	// Every delivery is recorded as succeeded; then no request came twice.
	waitFor := time.After(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ds, _, err := svc.ListDeliveries(admin(), hook.ID, "", webhook.MaxPageSize)
		if err != nil {
			t.Fatal(err)
		}
		done := len(ds) == events
		for _, d := range ds {
			done = done && d.Status == webhook.Succeeded && d.Attempts == 1
		}
		if done {
			break
		}
		select {
		case <-waitFor:
			t.Fatalf("deliveries not all succeeded once: %+v", ds)
		case <-tick.C:
		}
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(hits) != events {
		t.Fatalf("%d distinct events reached the endpoint, want %d", len(hits), events)
	}
	for id, n := range hits {
		if n != 1 {
			t.Fatalf("event %s reached the endpoint %d times", id, n)
		}
	}
}
