package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
	"go.opentelemetry.io/otel/trace"

	"github.com/basaltdev/basalt/internal/cache/storecache"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/outbox"
	"github.com/basaltdev/basalt/internal/realtime"
)

// documents are the parts of the documents component in one process: the
// document service and what lives beside it on the database — the event
// bus and relay, realtime streams, search, webhooks and the read cache.
type documents struct {
	svc       *docstore.Service
	bus       eventbus.Bus
	relay     *outbox.Relay
	hub       *realtime.Hub
	search    *searching
	hooks     *webhooks
	readCache *storecache.Store // nil when the cache is off
	close     func()
}

// documentsComponent builds the documents component over db (whose
// timed store is store). The caller calls close once it has stopped.
func documentsComponent(ctx context.Context, cfg Config, db database, store docstore.Store, rdb rueidis.Client,
	log *slog.Logger, reg prometheus.Registerer, tp trace.TracerProvider) (_ *documents, err error) {
	d := &documents{close: func() {}}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	key, err := cursorKey(ctx, db.Store)
	if err != nil {
		return nil, err
	}
	// news tells this process's readers of the event log (the in-process
	// bus, realtime) that it may hold new events: the relay notifies it.
	news := &eventbus.Signal{}
	bus, local, err := eventBus(cfg, db, news, log, reg)
	if err != nil {
		return nil, err
	}
	d.bus = bus
	d.close = func() {
		if err := bus.Close(); err != nil {
			log.Error("closing the event bus failed", "err", err)
		}
	}
	if d.relay, err = newRelay(cfg, db, bus, local, news, log, reg, tp); err != nil {
		return nil, err
	}
	set, err := embedders(cfg)
	if err != nil {
		return nil, err
	}
	reads, cache, err := readCache(ctx, cfg, store, db, rdb, news, log, reg)
	if err != nil {
		return nil, err
	}
	d.readCache = cache
	d.svc, err = docstore.NewService(reads, docstore.Options{Logger: log, CursorKey: key,
		Limits: docstore.Limits{ListTotalCap: cfg.ListTotalCap}, Committed: d.relay.Wake, Embedders: set.Check})
	if err != nil {
		return nil, err
	}
	if d.hub, err = realtimeHub(cfg, db, news, d.svc, log, reg); err != nil {
		return nil, err
	}
	snapshotID, err := secret(ctx, db.Store, "search-snapshot-id")
	if err != nil {
		return nil, err
	}
	if d.search, err = newSearch(cfg, db, bus, d.svc, set, fmt.Sprintf("%x", snapshotID[:8]), d.relay.Wake, news, log, reg, tp); err != nil {
		return nil, err
	}
	if d.hooks, err = newWebhooks(cfg, db, bus, d.svc, log, reg, tp); err != nil {
		return nil, err
	}
	return d, nil
}

// components are the parts that run, in the order they stop: the read
// cache, the realtime hub, webhooks and search. The document service and
// the event relay, which the others depend on, come after the account
// service (see Run).
func (d *documents) components() []component {
	var comps []component
	if d.readCache != nil {
		comps = append(comps, component{name: "read cache", run: d.readCache.Run})
	}
	comps = append(comps, component{name: "realtime hub", run: d.hub.Run})
	comps = append(comps, d.hooks.components()...)
	return append(comps, d.search.components()...)
}
