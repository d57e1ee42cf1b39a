package eventbustest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/eventbus"
)

// Run runs every case of the suite on h's bus, as subtests named
// bus=<h.Name>/contract=eventbus/<Case>.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"DeliversEveryEvent", deliversEveryEvent},
		{"PerDocumentOrder", perDocumentOrder},
		{"IndependentNames", independentNames},
		{"ResumesAfterRestart", resumesAfterRestart},
		{"HandlerErrorRedelivers", handlerErrorRedelivers},
		{"KilledMidBatchLosesNothing", killedMidBatch},
		{"OneHandlerPerName", oneHandlerPerName},
		{"LagReachesZero", lagReachesZero},
		{"ConsumeEnds", consumeEnds},
	}
	t.Run("bus="+h.Name, func(t *testing.T) {
		t.Run("contract=eventbus", func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					c.fn(t, &suite{env: h.New(t), gen: newGenerator(t), rec: newRecorder()})
				})
			}
		})
	})
}

// suite is one case's state.
type suite struct {
	env Env
	gen *generator
	rec *recorder
}

// open opens a bus and closes it when the test ends (unless closed before
// through the returned close function).
func (s *suite) open(t *testing.T) (eventbus.Bus, func()) {
	t.Helper()
	bus := s.env.Open(t)
	closed := false
	closeBus := func() {
		if closed {
			return
		}
		closed = true
		if err := bus.Close(); err != nil {
			t.Errorf("closing the bus: %v", err)
		}
	}
	t.Cleanup(closeBus)
	return bus, closeBus
}

// append appends n new events over docs documents through bus.
func (s *suite) append(t *testing.T, bus eventbus.Bus, n, docs int) []eventbus.Event {
	t.Helper()
	return s.env.Append(t, bus, s.gen.events(n, docs))
}

// deliversEveryEvent: events appended before and while a consumer runs all
// reach it, exactly as appended.
func deliversEveryEvent(t *testing.T, s *suite) {
	bus, _ := s.open(t)
	want := s.append(t, bus, 20, 8)
	want = append(want, s.append(t, bus, 20, 8)...)
	c := consume(t, bus, "indexer", s.rec.handler("indexer", ack))
	s.rec.waitAcked(t, want)
	for range 4 {
		want = append(want, s.append(t, bus, 10, 8)...)
	}
	s.rec.waitAcked(t, want)
	if err := c.stop(t); err != nil {
		t.Errorf("Consume returned %v after its context ended, want nil", err)
	}
	checkStream(t, "indexer", want, s.rec.acked())
}

// perDocumentOrder: many small appends over a few documents, with deletes
// and creates again (versions restart) and collection events, reach the
// consumer in position order per key.
func perDocumentOrder(t *testing.T, s *suite) {
	bus, _ := s.open(t)
	c := consume(t, bus, "ordered", s.rec.handler("ordered", ack))
	var want []eventbus.Event
	for i := range 12 {
		want = append(want, s.append(t, bus, 5+i*3, 5)...)
	}
	s.rec.waitAcked(t, want)
	_ = c.stop(t)
	checkBatchOrder(t, s.rec.snapshot())
	checkStream(t, "ordered", want, s.rec.acked())
}

// independentNames: two names each get every event, from the start of the
// log, whatever the other acknowledged.
func independentNames(t *testing.T, s *suite) {
	bus, _ := s.open(t)
	want := s.append(t, bus, 30, 6)
	a := consume(t, bus, "alpha", s.rec.handler("alpha-1", ack))
	s.rec.waitAcked(t, want, "alpha-1")
	_ = a.stop(t)

	more := s.append(t, bus, 10, 6)
	all := append(append([]eventbus.Event(nil), want...), more...)
	consume(t, bus, "beta", s.rec.handler("beta", ack))
	consume(t, bus, "alpha", s.rec.handler("alpha-2", ack))
	s.rec.waitAcked(t, all, "beta")
	s.rec.waitAcked(t, more, "alpha-2")
	checkStream(t, "beta", all, s.rec.acked("beta"))
	checkStream(t, "alpha", all, s.rec.acked("alpha-1", "alpha-2"))
}

// resumesAfterRestart: a consumer stopped with its bus resumes, on a new
// bus, after the last batch it acknowledged: nothing is lost and only
// unacknowledged events come again.
func resumesAfterRestart(t *testing.T, s *suite) {
	bus1, close1 := s.open(t)
	first := s.append(t, bus1, 10, 4)
	crashed := make(chan struct{})
	var crash sync.Once
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	firstSet := idSet(first)
	done1 := make(chan error, 1)
	go func() {
		done1 <- bus1.Consume(ctx1, "resume", s.rec.handler("session-1", func(ctx context.Context, _ int, events []eventbus.Event) error {
			for _, e := range events {
				if !firstSet[e.ID] {
					// The process dies in the middle of this batch.
					cancel1()
					crash.Do(func() { close(crashed) })
					<-ctx.Done()
					return ctx.Err()
				}
			}
			return nil
		}))
	}()
	s.rec.waitAcked(t, first, "session-1")
	second := s.append(t, bus1, 10, 4)
	waitClosed(t, crashed, "the consumer's crash")
	_ = waitReturn(t, done1)
	close1()

	bus2, _ := s.open(t)
	third := s.append(t, bus2, 10, 4)
	all := concat(first, second, third)
	consume(t, bus2, "resume", s.rec.handler("session-2", ack))
	s.rec.waitAcked(t, all, "session-1", "session-2")

	ackedBefore := idSet(s.rec.acked("session-1"))
	for _, c := range s.rec.snapshot() {
		if c.who != "session-2" {
			continue
		}
		for _, e := range c.events {
			if ackedBefore[e.ID] {
				t.Errorf("event at position %d was acknowledged before the restart and delivered again after it", e.Position)
			}
		}
	}
	checkStream(t, "resume", all, s.rec.acked("session-1", "session-2"))
}

// handlerErrorRedelivers: a batch whose handler fails (twice) comes again,
// and the acknowledged stream is still complete and in order.
func handlerErrorRedelivers(t *testing.T, s *suite) {
	bus, _ := s.open(t)
	want := s.append(t, bus, 20, 5)
	failed := errors.New("handler failed")
	consume(t, bus, "flaky", s.rec.handler("flaky", func(_ context.Context, n int, _ []eventbus.Event) error {
		if n < 2 {
			return failed
		}
		return nil
	}))
	s.rec.waitAcked(t, want)
	calls := s.rec.snapshot()
	if len(calls) < 3 || calls[0].acked || calls[1].acked {
		t.Fatalf("calls: %s; want two failed calls first", describe(calls))
	}
	// Every event of the failed batches is acknowledged later.
	acked := idSet(s.rec.acked())
	for _, c := range calls[:2] {
		for _, e := range c.events {
			if !acked[e.ID] {
				t.Errorf("event at position %d of a failed batch was never delivered again", e.Position)
			}
		}
	}
	checkBatchOrder(t, calls)
	checkStream(t, "flaky", want, s.rec.acked())
}

// killedMidBatch: a consumer whose context ends in the middle of a batch
// (the handler gives up) returns nil, and the next consumer of the name
// gets that batch again: nothing is lost.
func killedMidBatch(t *testing.T, s *suite) {
	bus, _ := s.open(t)
	want := s.append(t, bus, 25, 5)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var killedBatch []eventbus.Event
	go func() {
		done <- bus.Consume(ctx, "killed", s.rec.handler("killed-1", func(ctx context.Context, _ int, events []eventbus.Event) error {
			killedBatch = events
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}))
	}()
	if err := waitReturn(t, done); err != nil {
		t.Errorf("Consume returned %v after its context ended, want nil", err)
	}
	if len(killedBatch) == 0 {
		t.Fatal("the handler was never called")
	}
	more := s.append(t, bus, 5, 5)
	all := concat(want, more)
	consume(t, bus, "killed", s.rec.handler("killed-2", ack))
	s.rec.waitAcked(t, all, "killed-2")
	checkStream(t, "killed", all, s.rec.acked())
	got := idSet(s.rec.acked("killed-2"))
	for _, e := range killedBatch {
		if !got[e.ID] {
			t.Errorf("event at position %d of the killed batch was lost", e.Position)
		}
	}
}

// oneHandlerPerName: two consumers of one name, on two buses (two
// processes), never handle one event at once; together they get every
// event; when the active one stops, the other goes on.
func oneHandlerPerName(t *testing.T, s *suite) {
	busA, _ := s.open(t)
	busB, _ := s.open(t)
	slow := func(ctx context.Context, _ int, _ []eventbus.Event) error {
		// Handling takes a little time, so that overlaps would show.
		select {
		case <-time.After(2 * time.Millisecond):
		case <-ctx.Done():
		}
		return nil
	}
	consumers := map[string]*consumer{
		"a": consume(t, busA, "shared", s.rec.handler("a", slow)),
		"b": consume(t, busB, "shared", s.rec.handler("b", slow)),
	}
	var want []eventbus.Event
	for range 6 {
		want = append(want, s.append(t, busA, 10, 6)...)
	}
	s.rec.waitAcked(t, want)
	s.rec.checkNoOverlap(t)
	checkBatchOrder(t, s.rec.snapshot())
	if t.Failed() {
		return
	}

	// Stop the consumer that handled last; the other takes over.
	calls := s.rec.snapshot()
	active := calls[len(calls)-1].who
	_ = consumers[active].stop(t)
	other := "a"
	if active == "a" {
		other = "b"
	}
	more := s.append(t, busB, 10, 6)
	s.rec.waitAcked(t, more, other)
	s.rec.checkNoOverlap(t)
	for _, e := range missingFrom(concat(want, more), s.rec.acked()) {
		t.Errorf("event at position %d never acknowledged", e.Position)
	}
}

// lagReachesZero: a name's lag counts what it has not acknowledged and
// reaches 0 once it is caught up.
func lagReachesZero(t *testing.T, s *suite) {
	bus, _ := s.open(t)
	want := s.append(t, bus, 25, 5)
	if lag := lagOf(t, bus, "lagging"); lag <= 0 || lag > 25 {
		t.Errorf("Lag of a new name with 25 events = %d, want 1..25", lag)
	}
	c := consume(t, bus, "lagging", s.rec.handler("lagging-1", ack))
	s.rec.waitAcked(t, want)
	waitLag(t, bus, "lagging", 0)
	_ = c.stop(t)

	more := s.append(t, bus, 5, 5)
	if lag := lagOf(t, bus, "lagging"); lag <= 0 || lag > 5 {
		t.Errorf("Lag with 5 events after the cursor = %d, want 1..5", lag)
	}
	consume(t, bus, "lagging", s.rec.handler("lagging-2", ack))
	s.rec.waitAcked(t, more, "lagging-2")
	waitLag(t, bus, "lagging", 0)
}

// consumeEnds: Consume returns nil once its context ends, whether it was
// waiting for events or inside the handler; Close ends Consume calls; an
// invalid name and a closed bus are errors.
func consumeEnds(t *testing.T, s *suite) {
	bus, closeBus := s.open(t)
	for _, name := range []string{"", "Upper", "9lives", "has space", eventbus.RelayName} {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err := bus.Consume(ctx, name, s.rec.handler("invalid", ack))
		cancel()
		if err == nil {
			t.Errorf("Consume(%q) = nil, want an error", name)
		}
	}

	idle := consume(t, bus, "idle", s.rec.handler("idle", ack))
	if err := idle.stop(t); err != nil {
		t.Errorf("idle Consume returned %v after its context ended, want nil", err)
	}

	s.append(t, bus, 3, 2)
	inHandler := make(chan struct{})
	busy := consume(t, bus, "busy", s.rec.handler("busy", func(ctx context.Context, n int, _ []eventbus.Event) error {
		if n == 0 {
			close(inHandler)
		}
		<-ctx.Done()
		return ctx.Err()
	}))
	waitClosed(t, inHandler, "the handler call")
	if err := busy.stop(t); err != nil {
		t.Errorf("Consume returned %v after its context ended inside the handler, want nil", err)
	}

	running := consume(t, bus, "running", s.rec.handler("running", ack))
	s.rec.waitCalls(t, "a call of the consumer running", func(calls []call) bool {
		for _, c := range calls {
			if c.who == "running" && c.acked {
				return true
			}
		}
		return false
	})
	closeBus()
	_ = running.wait(t) // returns (nil or an error): Close ends it
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := bus.Consume(ctx, "after", s.rec.handler("after", ack)); err == nil {
		t.Error("Consume on a closed bus = nil, want an error")
	}
}

func lagOf(t *testing.T, bus eventbus.Bus, name string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	lag, err := bus.Lag(ctx, name)
	if err != nil {
		t.Fatalf("Lag(%q): %v", name, err)
	}
	return lag
}

// waitLag polls Lag until it is want.
func waitLag(t *testing.T, bus eventbus.Bus, name string, want int64) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		lag := lagOf(t, bus, name)
		if lag == want {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("Lag(%q) = %d after %v, want %d", name, lag, waitTimeout, want)
		}
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("waited %v for %s", waitTimeout, what)
	}
}

func waitReturn(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("Consume did not return within %v after its context ended", waitTimeout)
		return nil
	}
}

func idSet(events []eventbus.Event) map[string]bool {
	m := make(map[string]bool, len(events))
	for _, e := range events {
		m[e.ID] = true
	}
	return m
}

func concat(lists ...[]eventbus.Event) []eventbus.Event {
	var out []eventbus.Event
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}
