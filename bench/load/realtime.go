package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
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

// documentEventsPath is the event stream of document id of the bench
// collection.
func documentEventsPath(id string) string {
	return "/v1/collections/" + Collection + "/documents/" + url.PathEscape(id) + "/events"
}

// The streams the realtime scenarios follow (RealtimeReport.Stream).
const (
	// streamDocument: each subscriber follows a document of its own,
	// written to by PATCHes (ScenarioRealtimeLatency).
	streamDocument = "document"
	// streamCollection: every subscriber follows the bench collection,
	// written to by creates (ScenarioRealtimeFanout).
	streamCollection = "collection"
)

// RealtimeReport is the outcome of ScenarioRealtimeLatency and
// ScenarioRealtimeFanout.
type RealtimeReport struct {
	// Stream is what each subscriber follows: streamDocument or
	// streamCollection.
	Stream string `json:"stream"`
	// Rate is the offered write rate, Subscribers the streams opened (on
	// documents, also the documents written to).
	Rate        int `json:"rate"`
	Subscribers int `json:"subscribers"`
	// Load is the writes' step; Acked the writes answered 200 (PATCH) or
	// 201 (create).
	Load  StepResult `json:"load"`
	Acked int64      `json:"acked"`
	// Expected is the deliveries the acknowledged writes call for: Acked
	// on documents (each write is one subscriber's), Acked × Subscribers
	// on the collection.
	Expected int64 `json:"expected"`
	// Deliveries is the events received over all streams; P50, P99, P999
	// and Max their latency: the time a subscriber read the event minus
	// the event's time (the write's timestamp, on the same clock).
	Deliveries     int64         `json:"deliveries"`
	P50, P99, P999 time.Duration `json:"-"`
	Max            time.Duration `json:"-"`
	// DeliveriesPerSec is Deliveries over the time from the start of the
	// writes to the last delivery.
	DeliveriesPerSec float64 `json:"deliveriesPerSec"`
	// MinReceived and MaxReceived are the fewest and most events one
	// stream received; Complete the streams that received every event:
	// on the collection, the same set of positions as every other stream,
	// at least Acked of them, in order; on a document, every version after
	// the one it had when its stream opened, in order, without a gap, at
	// least as many as the writes to it acknowledged.
	MinReceived int64 `json:"minReceived"`
	MaxReceived int64 `json:"maxReceived"`
	Complete    int   `json:"complete"`
	// OutOfOrder counts events received at or below a position already
	// received on the same stream; Gaps the versions a document stream
	// skipped; Reconnects the times a stream ended (dropped, shut down)
	// and resumed with Last-Event-ID.
	OutOfOrder int64 `json:"outOfOrder"`
	Gaps       int64 `json:"gaps,omitempty"`
	Reconnects int64 `json:"reconnects"`
	// Early counts events of a document at or below the version it had
	// when its stream opened (its creation, committed before the stream
	// opened and published after): not a delivery of the load.
	Early int64 `json:"early,omitempty"`
	// Notices counts the other messages by name (gap, dropped, …).
	Notices map[string]int64 `json:"notices,omitempty"`
	// DrainTime is how long after the writes stopped the last stream got
	// its last event; Drained says every stream got them all in time.
	DrainTime time.Duration `json:"drainTimeNs"`
	Drained   bool          `json:"drained"`
	// MaxP99 is the target (0: none).
	MaxP99 time.Duration `json:"maxP99Ns"`
	// BasaltCPU and BenchCPU are the CPUs Basalt and the load generator
	// kept busy on average (CPU seconds per second) from the start of the
	// writes until the streams had every event; 0 when not measured.
	BasaltCPU float64 `json:"basaltCPU,omitempty"`
	BenchCPU  float64 `json:"benchCPU,omitempty"`
	// The latencies in milliseconds, for the JSON report.
	P50ms  float64 `json:"p50Ms"`
	P99ms  float64 `json:"p99Ms"`
	P999ms float64 `json:"p999Ms"`
	MaxMs  float64 `json:"maxMs"`
}

// subscriber is one stream of a realtime scenario and what it received.
type subscriber struct {
	base, path string
	// document says the stream is one document's: its events' versions
	// follow each other from version, the document's version when the
	// stream opened.
	document bool
	version  int64
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
	gaps     int64
	early    int64
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
			st, err := OpenSSE(rctx, s.base, s.path, s.last, 64<<10)
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
		if s.document && ev.Version <= s.version && s.count == 0 {
			s.early++
			continue
		}
		if ev.ID <= s.last {
			s.unord++
			continue
		}
		if s.document {
			if ev.Version != s.version+1 {
				s.gaps++
			}
			s.version = ev.Version
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

// runRealtimeLatency measures realtime as apps use it: it creates
// RealtimeSubscribers documents in the bench collection, opens one stream
// on each document, then PATCHes the documents in turn (evenly) at
// RealtimeRate for RealtimeDuration, each write one delivery, and
// measures every delivery's latency.
func runRealtimeLatency(ctx context.Context, cfg Config, budget *Budget, baseURL string, pid int, logf func(string, ...any)) ScenarioReport {
	ec := cfg.Events
	rt := &RealtimeReport{Stream: streamDocument, Rate: ec.RealtimeRate, Subscribers: ec.RealtimeSubscribers, MaxP99: ec.RealtimeMaxP99}
	sr := ScenarioReport{Name: ScenarioRealtimeLatency, Realtime: rt}
	if err := budget.Take(ec.RealtimeRate, ec.RealtimeDuration, realtimeOverhead+ec.RealtimeDrain+cfg.Attack.Timeout); err != nil {
		sr.Err = err.Error()
		return sr
	}
	n := ec.RealtimeSubscribers
	ids, versions := make([]string, n), make([]int64, n)
	c := Client{BaseURL: baseURL, HTTP: &http.Client{Timeout: 30 * time.Second}}
	defer c.HTTP.CloseIdleConnections()
	created := time.Now()
	err := openAll(ctx, n, func(ctx context.Context, i int) error {
		body, err := json.Marshal(Doc{Title: "realtime " + strconv.Itoa(i), Score: i % 1000, Tags: []string{"lava"}, Owner: "realtime"})
		if err != nil {
			return fmt.Errorf("load: encode document: %w", err)
		}
		answer, err := c.call(ctx, http.MethodPost, "/v1/collections/"+Collection+"/documents", "", body)
		if err != nil {
			return err
		}
		var doc struct {
			ID      string `json:"id"`
			Version int64  `json:"version"`
		}
		if err := json.Unmarshal(answer, &doc); err != nil || doc.ID == "" || doc.Version < 1 {
			return fmt.Errorf("load: create answer without id and version: %.200s", answer)
		}
		ids[i], versions[i] = doc.ID, doc.Version
		return nil
	})
	if err != nil {
		sr.Err = fmt.Sprintf("creating %d documents: %v", n, err)
		return sr
	}
	logf("%-6s %d documents created in %s", ScenarioRealtimeLatency, n, time.Since(created).Round(time.Millisecond))
	tr, urls, err := PatchTargeter(baseURL, ids)
	if err != nil {
		sr.Err = err.Error()
		return sr
	}
	paths, target := make([]string, n), make(map[string]int, n)
	for i, id := range ids {
		paths[i] = documentEventsPath(id)
		target[urls[i]] = i
	}
	runStreams(ctx, cfg, &sr, streamPlan{baseURL: baseURL, pid: pid, paths: paths, versions: versions, target: target,
		tr: tr, okCode: http.StatusOK, duration: ec.RealtimeDuration, drain: ec.RealtimeDrain, what: "PATCHes"}, logf)
	return sr
}

// runRealtimeFanout measures the fan-out of one collection stream:
// FanoutSubscribers streams on the bench collection, creates from tr at
// FanoutRate for FanoutDuration, each create one delivery to every stream.
func runRealtimeFanout(ctx context.Context, cfg Config, budget *Budget, baseURL string, pid int, tr vegeta.Targeter, logf func(string, ...any)) ScenarioReport {
	ec := cfg.Events
	rt := &RealtimeReport{Stream: streamCollection, Rate: ec.FanoutRate, Subscribers: ec.FanoutSubscribers, MaxP99: ec.FanoutMaxP99}
	sr := ScenarioReport{Name: ScenarioRealtimeFanout, Realtime: rt}
	if err := budget.Take(ec.FanoutRate, ec.FanoutDuration, realtimeOverhead+ec.FanoutDrain+cfg.Attack.Timeout); err != nil {
		sr.Err = err.Error()
		return sr
	}
	paths := make([]string, ec.FanoutSubscribers)
	for i := range paths {
		paths[i] = eventsPath
	}
	runStreams(ctx, cfg, &sr, streamPlan{baseURL: baseURL, pid: pid, paths: paths, tr: tr, okCode: http.StatusCreated,
		duration: ec.FanoutDuration, drain: ec.FanoutDrain, what: "creates"}, logf)
	return sr
}

// realtimeOverhead is the time a realtime scenario takes besides its
// writes and drain: creating documents, opening the streams, settling.
const realtimeOverhead = 15 * time.Second

// streamPlan is a realtime scenario for runStreams.
type streamPlan struct {
	baseURL string
	pid     int
	// paths are the subscribers' streams.
	paths []string
	// versions are, on document streams, each document's version before
	// the writes; nil on the collection.
	versions []int64
	// target maps a write's URL to the subscriber that receives it; nil:
	// every subscriber receives every write.
	target map[string]int
	// tr makes the writes, answered okCode when done.
	tr              vegeta.Targeter
	okCode          int
	what            string // "creates", "PATCHes"
	duration, drain time.Duration
}

// runStreams opens the plan's streams, drives its writes at
// sr.Realtime.Rate, waits for every stream to receive its events, and
// fills sr.Realtime (or sets sr.Err).
func runStreams(ctx context.Context, cfg Config, sr *ScenarioReport, plan streamPlan, logf func(string, ...any)) {
	rt, name := sr.Realtime, sr.Name
	document := plan.versions != nil
	subs := make([]*subscriber, len(plan.paths))
	expect := int(float64(rt.Rate)*plan.duration.Seconds()) + 64
	if document {
		expect = expect/len(subs) + 16
	}
	opened := time.Now()
	err := openAll(ctx, len(subs), func(ctx context.Context, i int) error {
		st, err := OpenSSE(ctx, plan.baseURL, plan.paths[i], 0, 64<<10)
		if err != nil {
			return err
		}
		s := &subscriber{base: plan.baseURL, path: plan.paths[i], stream: st, lat: make([]time.Duration, 0, expect), document: document}
		if document {
			s.version = plan.versions[i]
		}
		subs[i] = s
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
		return
	}
	where := eventsPath
	if document {
		where = "as many documents"
	}
	logf("%-6s %d streams open on %s in %s", name, len(subs), where, time.Since(opened).Round(time.Millisecond))

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

	// want[i] is the writes acknowledged that subscriber i must receive
	// (on the collection, every write: want stays empty and acked counts).
	var acked atomic.Int64
	want := make([]int64, len(subs))
	atk := NewAttacker(cfg.Attack)
	defer atk.Close()
	atk.observe = func(r *vegeta.Result) {
		if int(r.Code) != plan.okCode {
			return
		}
		acked.Add(1)
		if i, ok := plan.target[r.URL]; ok {
			want[i]++ // observe runs on Step's goroutine only
		}
	}
	if document {
		logf("%-6s %s at %d/s for %s spread over %d documents, each to its document's stream", name, plan.what, rt.Rate, plan.duration, len(subs))
	} else {
		logf("%-6s %s at %d/s for %s, each event to %d streams", name, plan.what, rt.Rate, plan.duration, len(subs))
	}
	cpu := func() (basalt, bench time.Duration) {
		basalt, _ = processCPU(plan.pid)
		bench, _ = processCPU(os.Getpid())
		return basalt, bench
	}
	loadStart := time.Now()
	basaltCPU0, benchCPU0 := cpu()
	load, err := atk.Step(ctx, plan.tr, rt.Rate, plan.duration)
	rt.Load, rt.Acked = load, acked.Load()
	loadEnd := time.Now()
	if err != nil {
		sr.Err = err.Error()
		return
	}
	if !document {
		for i := range want {
			want[i] = rt.Acked
		}
	}
	// Wait until every stream has received at least the acknowledged
	// writes meant for it (a write whose answer timed out may still have
	// committed, so there may be more) — on the collection, every stream
	// the same number — and that held for drainSettle; or until the drain
	// time runs out.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	drainEnd := loadEnd.Add(plan.drain)
	var settled time.Time
	var lastTotal int64 = -1
	for time.Now().Before(drainEnd) && ctx.Err() == nil {
		ready, total, first := true, int64(0), subs[0].received.Load()
		for i, s := range subs {
			n := s.received.Load()
			total += n
			if n < want[i] || (!document && n != first) {
				ready = false
			}
		}
		switch {
		case !ready:
			settled = time.Time{}
		case settled.IsZero() || total != lastTotal:
			settled = time.Now()
		case time.Since(settled) >= drainSettle:
			drainEnd = time.Now() // done
		}
		lastTotal = total
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	if err := ctx.Err(); err != nil {
		sr.Err = err.Error()
		return
	}
	if basaltCPU1, benchCPU1 := cpu(); basaltCPU0 > 0 && benchCPU0 > 0 {
		wall := time.Since(loadStart).Seconds()
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
		rt.Gaps += s.gaps
		rt.Early += s.early
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
	rt.Expected = rt.Acked
	if !document {
		rt.Expected *= int64(len(subs))
	}
	// The reference set of the collection: the positions of the stream
	// that received most.
	ref := subs[slices.IndexFunc(subs, func(s *subscriber) bool { return s.count == rt.MaxReceived })]
	for i, s := range subs {
		switch {
		case s.count < want[i] || s.unord > 0 || s.gaps > 0:
		case !document && (s.count != ref.count || s.sum != ref.sum):
		default:
			rt.Complete++
		}
	}
	rt.Drained = rt.Complete == len(subs)
	if !lastAt.IsZero() {
		rt.DrainTime = max(lastAt.Sub(loadEnd), 0)
		if window := lastAt.Sub(loadStart).Seconds(); window > 0 {
			rt.DeliveriesPerSec = float64(rt.Deliveries) / window
		}
	}
	rt.P50, rt.P99, rt.P999 = quantiles(all)
	if len(all) > 0 {
		rt.Max = all[len(all)-1]
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	rt.P50ms, rt.P99ms, rt.P999ms, rt.MaxMs = ms(rt.P50), ms(rt.P99), ms(rt.P999), ms(rt.Max)
	logf("%-6s %d writes acknowledged, %d deliveries (%.0f/s), latency p50 %s p99 %s p99.9 %s max %s; %d/%d streams complete, %d reconnects, last event %s after the writes stopped",
		name, rt.Acked, rt.Deliveries, rt.DeliveriesPerSec, millis(rt.P50), millis(rt.P99), millis(rt.P999), millis(rt.Max),
		rt.Complete, len(subs), rt.Reconnects, rt.DrainTime.Round(time.Millisecond))
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

// evaluate decides the verdict: every stream received every event meant
// for it, in order, and the p99 is within the target (with no target, a
// complete run is reported without a verdict).
func (rt *RealtimeReport) evaluate() (string, []string) {
	var notes []string
	ok := true
	if rt.Acked == 0 || rt.Deliveries == 0 {
		ok = false
		notes = append(notes, "no event was delivered")
	}
	if !rt.Drained {
		ok = false
		if rt.Stream == streamDocument {
			notes = append(notes, fmt.Sprintf("%d of %d streams received every write to their document (%s deliveries of %s acknowledged writes)",
				rt.Complete, rt.Subscribers, thousands(rt.Deliveries), thousands(rt.Acked)))
		} else {
			notes = append(notes, fmt.Sprintf("%d of %d streams received every event (fewest %s, most %s, of %s acknowledged creates)",
				rt.Complete, rt.Subscribers, thousands(rt.MinReceived), thousands(rt.MaxReceived), thousands(rt.Acked)))
		}
	}
	if rt.OutOfOrder > 0 {
		ok = false
		notes = append(notes, fmt.Sprintf("%s events arrived out of order or twice", thousands(rt.OutOfOrder)))
	}
	if rt.Gaps > 0 {
		ok = false
		notes = append(notes, fmt.Sprintf("document streams skipped a version %s times", thousands(rt.Gaps)))
	}
	if rt.Early > 0 {
		notes = append(notes, fmt.Sprintf("%s events of the documents' creation reached their streams after they opened (not counted)", thousands(rt.Early)))
	}
	if rt.Reconnects > 0 {
		notes = append(notes, fmt.Sprintf("streams were ended %s times (%s) and resumed with Last-Event-ID", thousands(rt.Reconnects), noticeSummary(rt.Notices)))
	}
	if j := (Criteria{MinThroughputRatio: 0.95, MaxErrorRatio: 0.001, MaxP99: time.Duration(math.MaxInt64)}).Judge(rt.Load); !j.Pass {
		notes = append(notes, "the writes were not all served: "+j.Reason)
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

// markdown is the report's line about a realtime scenario.
func (rt *RealtimeReport) markdown(name, verdict string) string {
	target := "no target"
	if rt.MaxP99 > 0 {
		target = "target p99 ≤ " + millis(rt.MaxP99)
	}
	latency := fmt.Sprintf("commit-to-subscriber latency p50 %s, **p99 %s**, p99.9 %s, max %s (%s)",
		millis(rt.P50), millis(rt.P99), millis(rt.P999), millis(rt.Max), target)
	var s string
	if rt.Stream == streamDocument {
		s = fmt.Sprintf("%s: %s subscribers, each on a document of its own (`GET %s`, anonymous), PATCHes at %s/s spread evenly over the %s documents for %s: "+
			"%s acknowledged, %s deliveries (%s/s); %s; %d of %d streams received every write to their document, in order, the last %s after the writes stopped: %s.",
			name, thousands(int64(rt.Subscribers)), "/v1/collections/"+Collection+"/documents/{id}/events", thousands(int64(rt.Rate)), thousands(int64(rt.Subscribers)),
			rt.Load.Duration.Round(100*time.Millisecond), thousands(rt.Acked), thousands(rt.Deliveries), thousands(int64(math.Round(rt.DeliveriesPerSec))),
			latency, rt.Complete, rt.Subscribers, rt.DrainTime.Round(10*time.Millisecond), verdict)
	} else {
		s = fmt.Sprintf("%s: creates at %s/s for %s with %s subscribers on the collection (`GET %s`, anonymous), each create a delivery to every one: "+
			"%s acknowledged, %s deliveries (%s/s); %s; %d of %d streams received every event (fewest %s, most %s), the last %s after the creates stopped: %s.",
			name, thousands(int64(rt.Rate)), rt.Load.Duration.Round(100*time.Millisecond), thousands(int64(rt.Subscribers)), eventsPath,
			thousands(rt.Acked), thousands(rt.Deliveries), thousands(int64(math.Round(rt.DeliveriesPerSec))), latency,
			rt.Complete, rt.Subscribers, thousands(rt.MinReceived), thousands(rt.MaxReceived), rt.DrainTime.Round(10*time.Millisecond), verdict)
	}
	return s + rt.cpuLine()
}

// cpuLine says how busy each process was, or "".
func (rt *RealtimeReport) cpuLine() string {
	if rt.BasaltCPU == 0 {
		return ""
	}
	return fmt.Sprintf(" Meanwhile Basalt kept %.2f CPUs busy and the load generator (the streams' reader) %.2f.", rt.BasaltCPU, rt.BenchCPU)
}
