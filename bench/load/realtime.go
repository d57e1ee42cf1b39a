package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The realtime hub's metric of open streams (internal/realtime).
const metricRealtimeStreams = "basalt_realtime_streams"

// drainSettle is how long every stream must have had the same number of
// events before the latency scenario stops waiting for more.
const drainSettle = 300 * time.Millisecond

// openConcurrency is how many streams the realtime scenarios open at once.
const openConcurrency = 32

// eventsPath is the collection event stream of the bench collection.
const eventsPath = "/v1/collections/" + Collection + "/events"

// RealtimeReport is the outcome of ScenarioRealtimeLatency.
type RealtimeReport struct {
	// Rate is the offered create rate, Subscribers the streams opened.
	Rate        int `json:"rate"`
	Subscribers int `json:"subscribers"`
	// Load is the creates' step; Acked the creates answered 201.
	Load  StepResult `json:"load"`
	Acked int64      `json:"acked"`
	// Deliveries is the events received over all streams; P50, P99, P999
	// and Max their latency: the time a subscriber read the event minus
	// the event's time (the write's timestamp, on the same clock).
	Deliveries     int64         `json:"deliveries"`
	P50, P99, P999 time.Duration `json:"-"`
	Max            time.Duration `json:"-"`
	// MinReceived and MaxReceived are the fewest and most events one
	// stream received; Complete the streams that received every event
	// (the same set of positions, at least Acked of them, in order).
	MinReceived int64 `json:"minReceived"`
	MaxReceived int64 `json:"maxReceived"`
	Complete    int   `json:"complete"`
	// OutOfOrder counts events received at or below a position already
	// received on the same stream; Reconnects the times a stream ended
	// (dropped, shut down) and resumed with Last-Event-ID.
	OutOfOrder int64 `json:"outOfOrder"`
	Reconnects int64 `json:"reconnects"`
	// Notices counts the other messages by name (gap, dropped, …).
	Notices map[string]int64 `json:"notices,omitempty"`
	// DrainTime is how long after the creates stopped the last stream got
	// its last event; Drained says every stream got them all in time.
	DrainTime time.Duration `json:"drainTimeNs"`
	Drained   bool          `json:"drained"`
	// MaxP99 is the target (0: none).
	MaxP99 time.Duration `json:"maxP99Ns"`
	// BasaltCPU and BenchCPU are the CPUs Basalt and the load generator
	// kept busy on average (CPU seconds per second) from the start of the
	// creates until the streams had every event; 0 when not measured.
	BasaltCPU float64 `json:"basaltCPU,omitempty"`
	BenchCPU  float64 `json:"benchCPU,omitempty"`
	// The latencies in milliseconds, for the JSON report.
	P50ms  float64 `json:"p50Ms"`
	P99ms  float64 `json:"p99Ms"`
	P999ms float64 `json:"p999Ms"`
	MaxMs  float64 `json:"maxMs"`
}

// subscriber is one stream of the latency scenario and what it received.
type subscriber struct {
	base string
	// stream is replaced by read (under mu) when it resumes; close ends
	// it from another goroutine.
	mu     sync.Mutex
	stream *SSEStream
	closed bool
	lat    []time.Duration
	last   int64  // the highest position received
	sum    uint64 // of the positions received, to compare the streams' sets
	count  int64
	// received is count, for the goroutine that waits for the streams.
	received atomic.Int64
	unord    int64
	recon    int64
	notice   map[string]int64
	lastAt   time.Time // when the last event arrived
	err      error
}

// read receives events until the stream fails for good or stop is closed,
// resuming after the last position when the server ends the stream.
func (s *subscriber) read(ctx context.Context) {
	for ctx.Err() == nil {
		ev, err := s.stream.Next()
		if err != nil {
			_ = s.stream.Close()
			if ctx.Err() != nil {
				return
			}
			// Ended by the server (dropped, shut down): resume like a client.
			s.recon++
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			st, err := OpenSSE(rctx, s.base, eventsPath, s.last, 64<<10)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					s.err = fmt.Errorf("resume after %d: %w", s.last, err)
				}
				return
			}
			s.mu.Lock()
			s.stream = st
			closed := s.closed
			s.mu.Unlock()
			if closed {
				_ = st.Close()
				return
			}
			continue
		}
		now := time.Now()
		if !strings.HasPrefix(ev.Event, "document.") {
			if s.notice == nil {
				s.notice = map[string]int64{}
			}
			s.notice[ev.Event]++
			continue
		}
		if ev.ID <= s.last {
			s.unord++
			continue
		}
		s.last = ev.ID
		s.sum += uint64(ev.ID)
		s.count++
		s.received.Store(s.count)
		s.lastAt = now
		if !ev.Time.IsZero() {
			s.lat = append(s.lat, now.Sub(ev.Time))
		}
	}
}

// close ends the stream (a read blocked on it returns).
func (s *subscriber) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.stream != nil {
		_ = s.stream.Close()
	}
}

// runRealtimeLatency opens cfg.Events.RealtimeSubscribers streams on the
// bench collection, drives creates from tr at RealtimeRate for
// RealtimeDuration, and measures every delivery's latency.
func runRealtimeLatency(ctx context.Context, cfg Config, budget *Budget, baseURL string, pid int, tr vegeta.Targeter, logf func(string, ...any)) ScenarioReport {
	ec := cfg.Events
	rt := &RealtimeReport{Rate: ec.RealtimeRate, Subscribers: ec.RealtimeSubscribers, MaxP99: ec.RealtimeMaxP99}
	sr := ScenarioReport{Name: ScenarioRealtimeLatency, Realtime: rt}
	if err := budget.Take(ec.RealtimeRate, ec.RealtimeDuration, 10*time.Second+ec.RealtimeDrain+cfg.Attack.Timeout); err != nil {
		sr.Err = err.Error()
		return sr
	}
	subs := make([]*subscriber, ec.RealtimeSubscribers)
	expect := int(float64(ec.RealtimeRate)*ec.RealtimeDuration.Seconds()) + 64
	opened := time.Now()
	err := openAll(ctx, len(subs), func(ctx context.Context, i int) error {
		st, err := OpenSSE(ctx, baseURL, eventsPath, 0, 64<<10)
		if err != nil {
			return err
		}
		subs[i] = &subscriber{base: baseURL, stream: st, lat: make([]time.Duration, 0, expect)}
		return nil
	})
	defer func() {
		for _, s := range subs {
			if s != nil {
				s.close()
			}
		}
	}()
	if err != nil {
		sr.Err = fmt.Sprintf("opening %d streams: %v", len(subs), err)
		return sr
	}
	logf("%-6s %d streams open on %s in %s", ScenarioRealtimeLatency, len(subs), eventsPath, time.Since(opened).Round(time.Millisecond))

	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Go(func() { s.read(readCtx) })
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopReading()
			// Unblock readers waiting on their streams.
			for _, s := range subs {
				s.close()
			}
			wg.Wait()
		}
	}
	defer stop()

	var acked atomic.Int64
	atk := NewAttacker(cfg.Attack)
	defer atk.Close()
	atk.observe = func(r *vegeta.Result) {
		if r.Code == http.StatusCreated {
			acked.Add(1)
		}
	}
	logf("%-6s creates at %d/s for %s, each event to %d streams", ScenarioRealtimeLatency, ec.RealtimeRate, ec.RealtimeDuration, len(subs))
	cpu := func() (basalt, bench time.Duration) {
		basalt, _ = processCPU(pid)
		bench, _ = processCPU(os.Getpid())
		return basalt, bench
	}
	cpuStart := time.Now()
	basaltCPU0, benchCPU0 := cpu()
	load, err := atk.Step(ctx, tr, ec.RealtimeRate, ec.RealtimeDuration)
	rt.Load, rt.Acked = load, acked.Load()
	loadEnd := time.Now()
	if err != nil {
		sr.Err = err.Error()
		return sr
	}
	// Wait until every stream has received the same number of events, at
	// least the acknowledged creates (a create whose answer timed out may
	// still have committed, so there may be more), and that held for
	// drainSettle; or until the drain time runs out.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	drainEnd := loadEnd.Add(ec.RealtimeDrain)
	var settled time.Time
	for time.Now().Before(drainEnd) && ctx.Err() == nil {
		lo, hi := int64(-1), int64(0)
		for _, s := range subs {
			n := s.received.Load()
			if lo < 0 || n < lo {
				lo = n
			}
			hi = max(hi, n)
		}
		switch {
		case lo != hi || hi < rt.Acked:
			settled = time.Time{}
		case settled.IsZero():
			settled = time.Now()
		case time.Since(settled) >= drainSettle:
			drainEnd = time.Now() // done
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	if err := ctx.Err(); err != nil {
		sr.Err = err.Error()
		return sr
	}
	if basaltCPU1, benchCPU1 := cpu(); basaltCPU0 > 0 && benchCPU0 > 0 {
		wall := time.Since(cpuStart).Seconds()
		rt.BasaltCPU, rt.BenchCPU = (basaltCPU1-basaltCPU0).Seconds()/wall, (benchCPU1-benchCPU0).Seconds()/wall
	}
	stop()

	var all []time.Duration
	var lastAt time.Time
	rt.MinReceived = -1
	for _, s := range subs {
		all = append(all, s.lat...)
		rt.Deliveries += s.count
		rt.OutOfOrder += s.unord
		rt.Reconnects += s.recon
		if rt.MinReceived < 0 || s.count < rt.MinReceived {
			rt.MinReceived = s.count
		}
		rt.MaxReceived = max(rt.MaxReceived, s.count)
		if s.lastAt.After(lastAt) {
			lastAt = s.lastAt
		}
		for k, v := range s.notice {
			if rt.Notices == nil {
				rt.Notices = map[string]int64{}
			}
			rt.Notices[k] += v
		}
		if s.err != nil && !errors.Is(s.err, io.EOF) {
			sr.Notes = appendOnce(sr.Notes, "a stream failed: "+s.err.Error())
		}
	}
	// The reference set: the positions of the stream that received most.
	ref := subs[slices.IndexFunc(subs, func(s *subscriber) bool { return s.count == rt.MaxReceived })]
	for _, s := range subs {
		if s.count == ref.count && s.sum == ref.sum && s.count >= rt.Acked && s.unord == 0 {
			rt.Complete++
		}
	}
	rt.Drained = rt.Complete == len(subs)
	if !lastAt.IsZero() {
		rt.DrainTime = max(lastAt.Sub(loadEnd), 0)
	}
	rt.P50, rt.P99, rt.P999 = quantiles(all)
	if len(all) > 0 {
		rt.Max = all[len(all)-1]
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	rt.P50ms, rt.P99ms, rt.P999ms, rt.MaxMs = ms(rt.P50), ms(rt.P99), ms(rt.P999), ms(rt.Max)
	logf("%-6s %d creates acknowledged, %d deliveries, latency p50 %s p99 %s p99.9 %s max %s; %d/%d streams complete, %d reconnects, last event %s after the creates stopped",
		ScenarioRealtimeLatency, rt.Acked, rt.Deliveries, millis(rt.P50), millis(rt.P99), millis(rt.P999), millis(rt.Max),
		rt.Complete, len(subs), rt.Reconnects, rt.DrainTime.Round(time.Millisecond))
	return sr
}

// openAll runs open(i) for i in [0, n), openConcurrency at a time, each
// within 30 s, and returns the first error.
func openAll(ctx context.Context, n int, open func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		once  sync.Once
		first error
	)
	for range min(openConcurrency, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				octx, ocancel := context.WithTimeout(ctx, 30*time.Second)
				err := open(octx, i)
				ocancel()
				if err != nil {
					once.Do(func() { first = fmt.Errorf("stream %d: %w", i, err); cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// evaluate decides the verdict: every stream received every event, in
// order, and the p99 is within the target.
func (rt *RealtimeReport) evaluate() (string, []string) {
	var notes []string
	ok := true
	if rt.Acked == 0 || rt.Deliveries == 0 {
		ok = false
		notes = append(notes, "no event was delivered")
	}
	if !rt.Drained {
		ok = false
		notes = append(notes, fmt.Sprintf("%d of %d streams received every event (fewest %s, most %s, of %s acknowledged creates)",
			rt.Complete, rt.Subscribers, thousands(rt.MinReceived), thousands(rt.MaxReceived), thousands(rt.Acked)))
	}
	if rt.OutOfOrder > 0 {
		ok = false
		notes = append(notes, fmt.Sprintf("%s events arrived out of order or twice", thousands(rt.OutOfOrder)))
	}
	if rt.Reconnects > 0 {
		notes = append(notes, fmt.Sprintf("streams were ended %s times (%s) and resumed with Last-Event-ID", thousands(rt.Reconnects), noticeSummary(rt.Notices)))
	}
	if j := (Criteria{MinThroughputRatio: 0.95, MaxErrorRatio: 0.001, MaxP99: time.Duration(math.MaxInt64)}).Judge(rt.Load); !j.Pass {
		notes = append(notes, "the creates were not all served: "+j.Reason)
	}
	switch {
	case rt.MaxP99 == 0 && ok:
		return VerdictNone, notes
	case ok && rt.P99 <= rt.MaxP99:
		return VerdictPass, notes
	default:
		return VerdictFail, notes
	}
}

// noticeSummary formats notice counts, e.g. "dropped × 3".
func noticeSummary(n map[string]int64) string {
	if len(n) == 0 {
		return "no notice"
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s × %s", k, thousands(n[k]))
	}
	return strings.Join(parts, ", ")
}

// markdown is the report's line about the latency scenario.
func (rt *RealtimeReport) markdown(verdict string) string {
	target := "no target"
	if rt.MaxP99 > 0 {
		target = "target p99 ≤ " + millis(rt.MaxP99)
	}
	return fmt.Sprintf("%s: creates at %s/s for %s with %s subscribers (`GET %s`, anonymous): %s acknowledged, %s deliveries; "+
		"commit-to-subscriber latency p50 %s, **p99 %s**, p99.9 %s, max %s (%s); %d of %d streams received every event (fewest %s, most %s), "+
		"the last %s after the creates stopped: %s.",
		ScenarioRealtimeLatency, thousands(int64(rt.Rate)), rt.Load.Duration.Round(100*time.Millisecond), thousands(int64(rt.Subscribers)), eventsPath,
		thousands(rt.Acked), thousands(rt.Deliveries), millis(rt.P50), millis(rt.P99), millis(rt.P999), millis(rt.Max), target,
		rt.Complete, rt.Subscribers, thousands(rt.MinReceived), thousands(rt.MaxReceived), rt.DrainTime.Round(10*time.Millisecond), verdict) + rt.cpuLine()
}

// cpuLine says how busy each process was, or "".
func (rt *RealtimeReport) cpuLine() string {
	if rt.BasaltCPU == 0 {
		return ""
	}
	return fmt.Sprintf(" Meanwhile Basalt kept %.2f CPUs busy and the load generator (the streams' reader) %.2f.", rt.BasaltCPU, rt.BenchCPU)
}
