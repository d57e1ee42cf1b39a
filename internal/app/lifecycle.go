package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/basaltdev/basalt/internal/gateway"
)

// component is a background part of the server (the account service's
// feeds, the mail queue, …): run works until its context ends. At shutdown
// the components stop one after the other, once the listeners have
// drained: flush, when set, first finishes the work that requests left
// (queued mail), then run's context ends; both within stopTimeout.
type component struct {
	name  string
	run   func(context.Context) error
	flush func(context.Context) error
}

// stopTimeout bounds the stop of one component.
const stopTimeout = 10 * time.Second

// serve runs the components and the listeners until ctx ends or one of
// them fails, then shuts down in order:
//
//  1. main's readiness turns 503 and it drains its in-flight requests
//     (gateway.Server.Run), up to its DrainTimeout;
//  2. the metrics listener, which answered /readyz with 503 meanwhile,
//     drains;
//  3. the components stop, in the order given (dependants first).
//
// Its error is the first failure of a listener or a component; else an
// error wrapping gateway.ErrDrainTimeout when the drain cut requests off;
// else nil. The caller closes what the components use (the password
// worker, the database) after it returns.
func serve(ctx context.Context, log *slog.Logger, main, metrics *gateway.Server, comps []component) error {
	var (
		mu     sync.Mutex
		failed error
	)
	serving, stopServing := context.WithCancel(ctx)
	defer stopServing()
	fail := func(what string, err error) {
		mu.Lock()
		if failed == nil {
			failed = fmt.Errorf("%s: %w", what, err)
		}
		mu.Unlock()
		log.Error("component failed", "component", what, "err", err)
		stopServing()
	}

	// The components do not see ctx end: they are stopped below, after
	// the listeners.
	type running struct {
		component
		stop context.CancelFunc
		done chan struct{}
	}
	rs := make([]running, len(comps))
	for i, c := range comps {
		cctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		r := running{component: c, stop: stop, done: make(chan struct{})}
		go func() {
			defer close(r.done)
			err := c.run(cctx)
			if cctx.Err() == nil {
				if err == nil {
					err = errors.New("stopped unexpectedly")
				}
				fail(c.name, err)
			}
		}()
		rs[i] = r
	}
	defer func() { // only when returning early
		for _, r := range rs {
			r.stop()
		}
	}()

	// The metrics listener serves (its /readyz answering 503) until the
	// main listener has drained.
	metricsCtx, stopMetrics := context.WithCancel(context.WithoutCancel(ctx))
	defer stopMetrics()
	metricsDone := make(chan struct{})
	go func() {
		defer close(metricsDone)
		if metrics == nil {
			return
		}
		if err := metrics.Run(metricsCtx); err != nil && !errors.Is(err, gateway.ErrDrainTimeout) {
			fail("metrics listener", err)
		}
	}()

	drained := main.Run(serving)
	stopServing()
	if drained != nil && !errors.Is(drained, gateway.ErrDrainTimeout) {
		fail("HTTP server", drained)
		drained = nil
	}
	stopMetrics()
	<-metricsDone

	for _, r := range rs {
		stopComponent(ctx, log, r.name, r.flush, r.stop, r.done)
	}
	mu.Lock()
	defer mu.Unlock()
	if failed != nil {
		return failed
	}
	return drained
}

// stopComponent flushes a component, ends its context and waits for its
// run to return, all within stopTimeout.
func stopComponent(ctx context.Context, log *slog.Logger, name string, flush func(context.Context) error,
	stop context.CancelFunc, done <-chan struct{}) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	if flush != nil {
		fctx, fcancel := context.WithCancel(sctx)
		go func() {
			select {
			case <-done: // a component that has stopped cannot flush
				fcancel()
			case <-fctx.Done():
			}
		}()
		err := flush(fctx)
		fcancel()
		if err != nil {
			log.Warn("shutdown: flushing failed", "component", name, "err", err)
		}
	}
	stop()
	select {
	case <-done:
		log.Info("shutdown: stopped", "component", name)
	case <-sctx.Done():
		log.Error("shutdown: did not stop in time", "component", name, "timeout", stopTimeout.String())
	}
}
