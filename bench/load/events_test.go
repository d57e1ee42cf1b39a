package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestParseMetrics(t *testing.T) {
	m, err := ParseMetrics(strings.NewReader(`# HELP basalt_outbox_relay_lag_events Numbered events …
# TYPE basalt_outbox_relay_lag_events gauge
basalt_outbox_relay_lag_events 12
basalt_outbox_published_total 3.5e+03
basalt_http_requests_total{code="200",route="a b"} 4
basalt_http_requests_total{code="500",route="x}y"} 1 1700000000000

go_goroutines +Inf
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{metricRelayLag: 12, metricRelayPublished: 3500, "basalt_http_requests_total": 5}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if len(m) != 4 {
		t.Errorf("%d metrics: %v", len(m), m)
	}
	for _, bad := range []string{"name_only", `x{a="b" 1`, "x one"} {
		if _, err := ParseMetrics(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestEnvelopeTime(t *testing.T) {
	at, err := envelopeTime([]byte(`{"id":"e","type":"document.created","collection":"bench","documentId":"d","version":1,"time":"2026-12-04T10:00:00.123456Z","payload":{"data":{"time":"1999-01-01T00:00:00Z"}},"position":7}`))
	if err != nil || !at.Equal(time.Date(2026, 12, 4, 10, 0, 0, 123456000, time.UTC)) {
		t.Errorf("time %v, %v", at, err)
	}
	if at, err := envelopeTime([]byte(`{"message":"dropped"}`)); err != nil || !at.IsZero() {
		t.Errorf("notice: %v, %v", at, err)
	}
	if _, err := envelopeTime([]byte(`{"time":"yesterday"}`)); err == nil {
		t.Error("a bad time parsed")
	}
}

// fakeEvents imitates what the change-event scenarios use of Basalt:
// creates on the bench collection and PATCHes of its documents (each an
// event to every open stream of the collection and of the document), the
// collection's and the documents' event streams, and /metrics with the
// relay's and the hub's metrics. publish decides, per event, whether the
// fake relay counts it published; skip, whether stream i (in the order
// they opened) misses event pos.
type fakeEvents struct {
	token   string
	publish func(pos int64) bool
	skip    func(stream int, pos int64) bool
	// kafka says the fake relay publishes to Kafka: it then also counts
	// basalt_kafka_published_total.
	kafka bool

	mu        sync.Mutex
	pos       int64
	published int64
	streams   []fakeStream
	open      int
	versions  map[string]int64 // by document id
	created   int
}

// fakeStream is an open stream: of the collection (doc "") or of a document.
type fakeStream struct {
	doc string
	ch  chan string
}

const fakeDocsPath = "/v1/collections/" + Collection + "/documents"

func (f *fakeEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	doc, docPath := strings.CutPrefix(r.URL.Path, fakeDocsPath+"/")
	doc, docEvents := strings.CutSuffix(doc, "/events")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == fakeDocsPath:
		f.mu.Lock()
		f.created++
		id := "fake-" + strconv.Itoa(f.created)
		f.mu.Unlock()
		f.emit(id, 1)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q,"version":1}`, id)
	case r.Method == http.MethodPatch && docPath && !docEvents:
		f.mu.Lock()
		v, exists := f.versions[doc]
		f.mu.Unlock()
		if !exists {
			http.NotFound(w, r)
			return
		}
		f.emit(doc, v+1)
		fmt.Fprintf(w, `{"id":%q,"version":%d}`, doc, v+1)
	case r.Method == http.MethodGet && (r.URL.Path == eventsPath || docPath && docEvents):
		if !docPath {
			doc = ""
		}
		ch := make(chan string, 4096)
		f.mu.Lock()
		f.streams = append(f.streams, fakeStream{doc: doc, ch: ch})
		idx := len(f.streams) - 1
		f.open++
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			f.streams[idx].ch = nil
			f.open--
			f.mu.Unlock()
		}()
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		if _, err := fmt.Fprint(w, ": stream open\n\n"); err != nil || rc.Flush() != nil {
			return
		}
		for {
			select {
			case <-r.Context().Done():
				return
			case m := <-ch:
				if _, err := fmt.Fprint(w, m); err != nil || rc.Flush() != nil {
					return
				}
			}
		}
	case r.URL.Path == "/metrics":
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		fmt.Fprintf(w, "# TYPE x gauge\n%s %d\n%s %d\n%s %d\n", metricRelayLag, f.pos-f.published, metricRelayPublished, f.published,
			metricRealtimeStreams, f.open)
		if f.kafka {
			fmt.Fprintf(w, "%s{topic=\"basalt.documents\"} %d\n", metricKafkaPublished, f.published)
		}
	default:
		http.NotFound(w, r)
	}
}

// emit records a committed write of document doc at version (1: its
// create): its event goes to every open stream of the collection and of
// the document (unless skip says otherwise), and the fake relay counts it
// published (unless publish says otherwise).
func (f *fakeEvents) emit(doc string, version int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.versions == nil {
		f.versions = map[string]int64{}
	}
	f.versions[doc] = version
	f.pos++
	pos := f.pos
	if f.publish == nil || f.publish(pos) {
		f.published++
	}
	typ := "document.updated"
	if version == 1 {
		typ = "document.created"
	}
	msg := fmt.Sprintf("id: %d\nevent: %s\ndata: {\"id\":\"e%d\",\"type\":%q,\"collection\":\"bench\",\"documentId\":%q,\"version\":%d,\"time\":%q,\"payload\":{},\"position\":%d}\n\n",
		pos, typ, pos, typ, doc, version, time.Now().UTC().Format(time.RFC3339Nano), pos)
	for i, st := range f.streams {
		if st.ch != nil && (st.doc == "" || st.doc == doc) && (f.skip == nil || !f.skip(i, pos)) {
			st.ch <- msg
		}
	}
}

// eventsTestConfig is a small, fast configuration of the change-event
// scenarios.
func eventsTestConfig(t *testing.T) Config {
	cfg := testConfig(t)
	cfg.Events = EventsConfig{RelayDuration: time.Second, RelayMaxLag: time.Second, RelayDrain: time.Second,
		RealtimeRate: 100, RealtimeSubscribers: 8, RealtimeDuration: 500 * time.Millisecond, RealtimeDrain: 2 * time.Second,
		RealtimeMaxP99: time.Second,
		FanoutRate:     100, FanoutSubscribers: 8, FanoutDuration: 500 * time.Millisecond, FanoutDrain: 2 * time.Second,
		FanoutMaxP99: time.Second, IdleStreams: 40, IdleMinStreams: 40}
	return cfg
}

func budgetFor(d time.Duration) *Budget { return NewBudget(time.Now().Add(d), 1_000_000, time.Now) }

func startFake(t *testing.T, f *fakeEvents) Scraper {
	t.Helper()
	f.token = "metrics-token-for-the-test"
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return Scraper{BaseURL: srv.URL, Token: f.token, HTTP: srv.Client()}
}

func TestRunRelay(t *testing.T) {
	cases := []struct {
		name    string
		publish func(int64) bool
		verdict string
	}{
		{"keeps up", nil, VerdictPass},
		// Every third event is never published: the relay never catches up.
		{"falls behind", func(pos int64) bool { return pos%3 != 0 }, VerdictFail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := eventsTestConfig(t)
			sc := startFake(t, &fakeEvents{publish: tc.publish})
			tr, err := CreateTargeter(sc.BaseURL, 1, 16)
			if err != nil {
				t.Fatal(err)
			}
			rate, source := relayRate(cfg, 50)
			sr := runRelay(context.Background(), cfg, budgetFor(time.Minute), ScenarioRelay, "in-process", rate, source, sc, tr, t.Logf)
			rr := sr.Relay
			if sr.Err != "" || rr == nil {
				t.Fatalf("err %q", sr.Err)
			}
			if rr.Acked != 50 || rr.Rate != 50 || len(rr.Samples) < 3 || rr.LagBound != 50 {
				t.Errorf("acked %d rate %d samples %d bound %d", rr.Acked, rr.Rate, len(rr.Samples), rr.LagBound)
			}
			verdict, notes := rr.evaluate(false)
			if verdict != tc.verdict {
				t.Errorf("verdict %s, want %s (notes %q)", verdict, tc.verdict, notes)
			}
			if tc.verdict == VerdictPass && (rr.Published != 50 || !rr.Drained || rr.LastLag != 0) {
				t.Errorf("published %d drained %t last lag %d", rr.Published, rr.Drained, rr.LastLag)
			}
			if tc.verdict == VerdictFail && (rr.Drained || rr.LastLag != 16 || rr.Published != 34) {
				t.Errorf("published %d drained %t last lag %d", rr.Published, rr.Drained, rr.LastLag)
			}
		})
	}
}

func TestRelayEvaluate(t *testing.T) {
	ok := RelayReport{Acked: 100, Published: 100, MaxLag: 10, LagBound: 50, Drained: true, KafkaPublished: 100,
		Load: StepResult{Rate: 100, Requests: 100, Throughput: 100}}
	if v, notes := ok.evaluate(true); v != VerdictPass {
		t.Errorf("ok: %s %q", v, notes)
	}
	for name, mutate := range map[string]func(*RelayReport){
		"lag above the bound": func(r *RelayReport) { r.MaxLag = 51 },
		"not drained":         func(r *RelayReport) { r.Drained = false },
		"nothing acked":       func(r *RelayReport) { r.Acked = 0 },
		"kafka not used":      func(r *RelayReport) { r.KafkaPublished = 0 },
	} {
		r := ok
		mutate(&r)
		if v, _ := r.evaluate(true); v != VerdictFail {
			t.Errorf("%s: %s", name, v)
		}
	}
	noKafka := ok
	noKafka.KafkaPublished = 0
	if v, _ := noKafka.evaluate(false); v != VerdictPass {
		t.Errorf("in-process bus judged on Kafka's counter: %s", v)
	}
	if rate, _ := relayRate(Config{}, 0); rate != DefaultRelayRate {
		t.Errorf("rate without create %d", rate)
	}
	if rate, _ := relayRate(Config{Events: EventsConfig{RelayRate: 7}}, 50); rate != 7 {
		t.Errorf("rate with -relay-rate %d", rate)
	}
}

// waitClosed waits until the fake has no stream open: closed streams end
// their handlers soon after the scenario.
func waitClosed(t *testing.T, f *fakeEvents) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		open := f.open
		f.mu.Unlock()
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d streams still open after the scenario", open)
		}
		if err := pause(context.Background(), 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRunRealtimeLatency(t *testing.T) {
	cases := []struct {
		name string
		// skip makes the fake skip an event on a stream (fakeEvents.skip);
		// it is called with the fake's lock held.
		skip    func() func(int, int64) bool
		verdict string
	}{
		{"every stream gets every write to its document", func() func(int, int64) bool { return nil }, VerdictPass},
		// The 8 creates are positions 1 to 8; stream 3 misses the first
		// write to its document after them.
		{"one stream misses one", func() func(int, int64) bool {
			skipped := false
			return func(i int, pos int64) bool {
				if i == 3 && pos > 8 && !skipped {
					skipped = true
					return true
				}
				return false
			}
		}, VerdictFail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := eventsTestConfig(t)
			f := &fakeEvents{skip: tc.skip()}
			sc := startFake(t, f)
			sr := runRealtimeLatency(context.Background(), cfg, budgetFor(time.Minute), sc.BaseURL, os.Getpid(), t.Logf)
			rt := sr.Realtime
			if sr.Err != "" || rt == nil {
				t.Fatalf("err %q", sr.Err)
			}
			// 100/s for 500 ms is 50 writes, or fewer when the machine is
			// too busy for the attack's last ticks to come in time.
			n := rt.Acked
			if n < 40 || n > 50 || rt.Subscribers != 8 || rt.Stream != streamDocument || rt.Expected != n {
				t.Errorf("acked %d subscribers %d stream %q expected %d", rt.Acked, rt.Subscribers, rt.Stream, rt.Expected)
			}
			f.mu.Lock()
			// n writes in turn over 8 documents: n%8 documents one write
			// ahead of the others (50: 2 at version 1+7, 6 at 1+6).
			var ahead, behind int
			for _, v := range f.versions {
				switch v {
				case 1 + n/8 + 1:
					ahead++
				case 1 + n/8:
					behind++
				}
			}
			f.mu.Unlock()
			if int64(ahead) != n%8 || int64(behind) != 8-n%8 {
				t.Errorf("the writes were not spread evenly: versions %v", f.versions)
			}
			verdict, notes := rt.evaluate()
			if verdict != tc.verdict {
				t.Errorf("verdict %s, want %s (notes %q)", verdict, tc.verdict, notes)
			}
			switch tc.verdict {
			case VerdictPass:
				if rt.Deliveries != n || rt.Complete != 8 || rt.P99 <= 0 || rt.P99 > time.Second || rt.MinReceived != n/8 || rt.MaxReceived != (n+7)/8 ||
					rt.Gaps != 0 || rt.Early != 0 || rt.DeliveriesPerSec <= 0 {
					t.Errorf("deliveries %d (%.0f/s) complete %d p99 %s min %d max %d gaps %d early %d", rt.Deliveries, rt.DeliveriesPerSec,
						rt.Complete, rt.P99, rt.MinReceived, rt.MaxReceived, rt.Gaps, rt.Early)
				}
				var md strings.Builder
				md.WriteString(rt.markdown(ScenarioRealtimeLatency, verdict))
				if want := "PATCHes at 100/s spread evenly over the 8 documents"; !strings.Contains(md.String(), want) {
					t.Errorf("report line lacks %q: %s", want, md.String())
				}
			default:
				if rt.Deliveries != n-1 || rt.Complete != 7 || rt.Gaps != 1 {
					t.Errorf("deliveries %d complete %d gaps %d", rt.Deliveries, rt.Complete, rt.Gaps)
				}
			}
			waitClosed(t, f)
		})
	}
}

func TestRunRealtimeFanout(t *testing.T) {
	cases := []struct {
		name    string
		skip    func(int, int64) bool
		verdict string
	}{
		{"every stream gets every event", nil, VerdictPass},
		{"one stream misses one", func(i int, pos int64) bool { return i == 3 && pos == 10 }, VerdictFail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := eventsTestConfig(t)
			f := &fakeEvents{skip: tc.skip}
			sc := startFake(t, f)
			tr, err := CreateTargeter(sc.BaseURL, 1, 16)
			if err != nil {
				t.Fatal(err)
			}
			sr := runRealtimeFanout(context.Background(), cfg, budgetFor(time.Minute), sc.BaseURL, os.Getpid(), tr, t.Logf)
			rt := sr.Realtime
			if sr.Err != "" || rt == nil {
				t.Fatalf("err %q", sr.Err)
			}
			// 100/s for 500 ms is 50 creates, or fewer when the machine is
			// too busy for the attack's last ticks to come in time; each
			// goes to the 8 streams.
			n := rt.Acked
			if n < 40 || n > 50 || rt.Subscribers != 8 || rt.Stream != streamCollection || rt.Expected != 8*n {
				t.Errorf("acked %d subscribers %d stream %q expected %d", rt.Acked, rt.Subscribers, rt.Stream, rt.Expected)
			}
			verdict, notes := rt.evaluate()
			if verdict != tc.verdict {
				t.Errorf("verdict %s, want %s (notes %q)", verdict, tc.verdict, notes)
			}
			switch tc.verdict {
			case VerdictPass:
				if rt.Deliveries != 8*n || rt.Complete != 8 || rt.P99 <= 0 || rt.P99 > time.Second || rt.MinReceived != n || rt.DeliveriesPerSec <= 0 {
					t.Errorf("deliveries %d (%.0f/s) complete %d p99 %s min %d", rt.Deliveries, rt.DeliveriesPerSec, rt.Complete, rt.P99, rt.MinReceived)
				}
				// The fake runs in this process: both CPU figures are this
				// process's (0 when it used less than a clock tick).
				if rt.BasaltCPU < 0 || rt.BenchCPU < 0 {
					t.Errorf("CPU: Basalt %.3f, bench %.3f", rt.BasaltCPU, rt.BenchCPU)
				}
			default:
				if rt.Deliveries != 8*n-1 || rt.Complete != 7 || rt.MinReceived != n-1 {
					t.Errorf("deliveries %d complete %d min %d", rt.Deliveries, rt.Complete, rt.MinReceived)
				}
			}
			waitClosed(t, f)
		})
	}
}

func TestRealtimeEvaluate(t *testing.T) {
	ok := RealtimeReport{Subscribers: 2, Acked: 10, Deliveries: 20, Complete: 2, Drained: true, P99: 50 * time.Millisecond,
		MaxP99: 100 * time.Millisecond, Load: StepResult{Rate: 10, Requests: 10, Throughput: 10}}
	if v, notes := ok.evaluate(); v != VerdictPass {
		t.Errorf("ok: %s %q", v, notes)
	}
	for name, mutate := range map[string]func(*RealtimeReport){
		"p99 above the target": func(r *RealtimeReport) { r.P99 = 101 * time.Millisecond },
		"a stream incomplete":  func(r *RealtimeReport) { r.Drained, r.Complete = false, 1 },
		"out of order":         func(r *RealtimeReport) { r.OutOfOrder = 1 },
		"nothing delivered":    func(r *RealtimeReport) { r.Deliveries = 0 },
		"a version skipped":    func(r *RealtimeReport) { r.Gaps = 1 },
	} {
		r := ok
		mutate(&r)
		if v, _ := r.evaluate(); v != VerdictFail {
			t.Errorf("%s: %s", name, v)
		}
	}
	reported := ok
	reported.MaxP99 = 0
	if v, notes := reported.evaluate(); v != VerdictNone {
		t.Errorf("without a target: %s %q", v, notes)
	}
	reported.Drained = false
	if v, _ := reported.evaluate(); v != VerdictFail {
		t.Errorf("incomplete without a target: %s", v)
	}
}

func TestEnvelopeVersion(t *testing.T) {
	for data, want := range map[string]int64{
		`{"id":"e","documentId":"d","version":12,"time":"2026-12-04T10:00:00Z","payload":{"data":{"version":3}}}`: 12,
		`{"message":"dropped"}`: 0,
		`{"version":7}`:         7,
	} {
		if got, err := envelopeVersion([]byte(data)); err != nil || got != want {
			t.Errorf("%s: %d, %v", data, got, err)
		}
	}
	if _, err := envelopeVersion([]byte(`{"version":"x"}`)); err == nil {
		t.Error("a bad version parsed")
	}
}

func TestPatchTargeter(t *testing.T) {
	tr, urls, err := PatchTargeter("http://h", []string{"a", "b/c", "d"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"http://h/v1/collections/bench/documents/a", "http://h/v1/collections/bench/documents/b%2Fc", "http://h/v1/collections/bench/documents/d"}; !slices.Equal(urls, want) {
		t.Errorf("urls %q", urls)
	}
	for k := range 7 {
		var tg vegeta.Target
		if err := tr(&tg); err != nil {
			t.Fatal(err)
		}
		if tg.Method != http.MethodPatch || tg.URL != urls[k%3] || string(tg.Body) != fmt.Sprintf(`{"score":%d}`, k) {
			t.Errorf("write %d: %s %s %s", k, tg.Method, tg.URL, tg.Body)
		}
	}
	if _, _, err := PatchTargeter("http://h", nil); err == nil {
		t.Error("a targeter without documents")
	}
}

// selfProcess is a Process standing for this test process, whose memory
// the idle scenario then reads.
func selfProcess(t *testing.T, baseURL string) *Process {
	t.Helper()
	proc, err := os.FindProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return &Process{Name: "self", BaseURL: baseURL, cmd: &exec.Cmd{Process: proc}}
}

func TestRunRealtimeIdle(t *testing.T) {
	if _, err := processRSS(os.Getpid()); err != nil {
		t.Fatalf("this test needs a process's memory (Linux): %v", err)
	}
	cfg := eventsTestConfig(t)
	f := &fakeEvents{}
	sc := startFake(t, f)
	sr := runRealtimeIdle(context.Background(), cfg, budgetFor(time.Minute), selfProcess(t, sc.BaseURL), sc, 1024, false, t.Logf)
	ir := sr.Idle
	if sr.Err != "" || ir == nil {
		t.Fatalf("err %q", sr.Err)
	}
	if ir.Opened != 40 || ir.Held != 40 || ir.Refused != 0 || ir.RSSBefore <= 0 || ir.RSSAfter <= 0 {
		t.Errorf("%+v", *ir)
	}
	if v, notes := ir.evaluate(); v != VerdictPass {
		t.Errorf("verdict %s %q", v, notes)
	}
	short := *ir
	short.Held = 39
	if v, _ := short.evaluate(); v != VerdictFail {
		t.Errorf("39 of 40 held: %s", v)
	}
}

func TestOpenSSERefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"title":"too many"}`)
	}))
	defer srv.Close()
	_, err := OpenSSE(context.Background(), srv.URL, eventsPath, 0, 512)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusTooManyRequests || !strings.Contains(se.Body, "too many") {
		t.Errorf("err %v", err)
	}
}

func TestEventsFlagsAndValidate(t *testing.T) {
	cfg := parseFlags(t)
	if cfg.Events != DefaultEventsConfig() {
		t.Errorf("defaults %+v", cfg.Events)
	}
	if !slices.Contains(cfg.Scenarios, ScenarioRelayKafka) || !slices.Contains(cfg.Scenarios, ScenarioRealtimeIdle) {
		t.Errorf("default scenarios %v", cfg.Scenarios)
	}
	cfg = parseFlags(t, "-relay-rate", "500", "-relay-duration", "4s", "-relay-max-lag", "2s", "-relay-drain", "3s", "-relay-settled-lag", "5",
		"-realtime-rate", "200", "-realtime-subscribers", "50", "-realtime-duration", "2s", "-realtime-drain", "9s", "-max-p99-realtime", "250ms",
		"-fanout-rate", "7", "-fanout-subscribers", "400", "-fanout-duration", "3s", "-fanout-drain", "8s", "-max-p99-fanout", "2s",
		"-idle-streams", "300", "-min-idle-streams", "200")
	want := EventsConfig{RelayRate: 500, RelayDuration: 4 * time.Second, RelayMaxLag: 2 * time.Second, RelayDrain: 3 * time.Second, RelaySettledLag: 5,
		RealtimeRate: 200, RealtimeSubscribers: 50, RealtimeDuration: 2 * time.Second, RealtimeDrain: 9 * time.Second, RealtimeMaxP99: 250 * time.Millisecond,
		FanoutRate: 7, FanoutSubscribers: 400, FanoutDuration: 3 * time.Second, FanoutDrain: 8 * time.Second, FanoutMaxP99: 2 * time.Second,
		IdleStreams: 300, IdleMinStreams: 200}
	if cfg.Events != want {
		t.Errorf("parsed %+v, want %+v", cfg.Events, want)
	}
	// The most streams of one scenario (realtime-fanout's 400) and a margin.
	if args := strings.Join(basaltRunArgs(cfg), " "); !strings.Contains(args, " --realtime-streams-per-ip=464 ") {
		t.Errorf("run args %q", args)
	}
	for name, mutate := range map[string]func(*EventsConfig){
		"negative rate":        func(c *EventsConfig) { c.RelayRate = -1 },
		"no relay duration":    func(c *EventsConfig) { c.RelayDuration = 0 },
		"no subscribers":       func(c *EventsConfig) { c.RealtimeSubscribers = 0 },
		"no fan-out rate":      func(c *EventsConfig) { c.FanoutRate = 0 },
		"negative fan-out p99": func(c *EventsConfig) { c.FanoutMaxP99 = -1 },
		"target above streams": func(c *EventsConfig) { c.IdleMinStreams = c.IdleStreams + 1 },
	} {
		c := eventsTestConfig(t)
		c.Scenarios = []string{ScenarioRelay}
		mutate(&c.Events)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
	}
}

func TestEventsReserve(t *testing.T) {
	c := DefaultEventsConfig()
	if d := c.reserve([]string{ScenarioHello, ScenarioGet, ScenarioCreate}); d != 0 {
		t.Errorf("reserve without change-event scenarios %s", d)
	}
	// relay 10+10+5+5, relay-kafka 10+10+5+20, realtime-latency 5+10+15, realtime-fanout 5+20+15, realtime-idle 4+30.
	if d := c.reserve(EventScenarios()); d != 179*time.Second {
		t.Errorf("reserve of every change-event scenario %s", d)
	}
}

// TestRunEventScenarios runs the change-event scenarios through Run
// against the test binary's fake Basalt (with the events of fakeEvents)
// and fake `basalt dev kafka`: the relay at create's rate, the latency
// streams on the seeded Basalt, relay-kafka and realtime-idle on Basalts
// of their own.
func TestRunEventScenarios(t *testing.T) {
	cfg := eventsTestConfig(t)
	cfg.MaxDuration = 5 * time.Minute // the change-event scenarios' reserve (EventsConfig.reserve) is 100 s here
	var log strings.Builder
	cfg.Log = &log
	cfg.Scenarios = []string{ScenarioRealtimeIdle, ScenarioRelayKafka, ScenarioRealtimeFanout, ScenarioRealtimeLatency, ScenarioRelay, ScenarioCreate, ScenarioHello}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", log.String())
		}
	})
	rep, err := Run(context.Background(), cfg, CurrentEnvironment([]string{"basalt-bench"}))
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	want := []string{ScenarioHello, ScenarioCreate, ScenarioRelay, ScenarioRealtimeLatency, ScenarioRealtimeFanout, ScenarioRelayKafka, ScenarioRealtimeIdle}
	var got []string
	for _, s := range rep.Scenarios {
		got = append(got, s.Name)
		if s.Name == ScenarioHello || s.Name == ScenarioCreate {
			continue
		}
		if s.Err != "" || s.Verdict != VerdictPass {
			t.Errorf("%s: verdict %s, err %q, notes %q", s.Name, s.Verdict, s.Err, s.Notes)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("scenarios %v, want %v", got, want)
	}
	createRate := rep.rate(ScenarioCreate)
	if createRate == 0 {
		t.Fatalf("create sustained no rate: %+v\nlog:\n%s", rep.Scenarios[1], log.String())
	}
	for _, s := range rep.Scenarios[2:] {
		switch s.Name {
		case ScenarioRelay, ScenarioRelayKafka:
			rr := s.Relay
			if rr.Rate != createRate || rr.Acked == 0 || rr.Published != rr.Acked || !rr.Drained {
				t.Errorf("%s: rate %d (create %d) acked %d published %d drained %t", s.Name, rr.Rate, createRate, rr.Acked, rr.Published, rr.Drained)
			}
			if kafka := s.Name == ScenarioRelayKafka; kafka != (rr.KafkaPublished == rr.Acked) {
				t.Errorf("%s: Kafka counted %d of %d", s.Name, rr.KafkaPublished, rr.Acked)
			}
		case ScenarioRealtimeLatency:
			if rt := s.Realtime; rt.Complete != cfg.Events.RealtimeSubscribers || rt.Stream != streamDocument || rt.Deliveries != rt.Acked {
				t.Errorf("realtime-latency: %d complete, stream %q, %d deliveries of %d writes", rt.Complete, rt.Stream, rt.Deliveries, rt.Acked)
			}
		case ScenarioRealtimeFanout:
			if rt := s.Realtime; rt.Complete != cfg.Events.FanoutSubscribers || rt.Stream != streamCollection {
				t.Errorf("realtime-fanout: %d complete, stream %q", rt.Complete, rt.Stream)
			}
		case ScenarioRealtimeIdle:
			if ir := s.Idle; ir.Held != int64(cfg.Events.IdleStreams) || ir.RSSAfter <= 0 {
				t.Errorf("idle: held %d, RSS %d", ir.Held, ir.RSSAfter)
			}
		}
	}
	var md strings.Builder
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"relay (bus: in-process)", "relay-kafka (bus: Kafka", "realtime-latency: 8 subscribers, each on a document of its own", "realtime-fanout: creates at 100/s", "realtime-idle: 40 idle streams",
		"--realtime-streams-per-ip=104"} {
		if !strings.Contains(md.String(), line) {
			t.Errorf("report lacks %q:\n%s", line, md.String())
		}
	}
	if strings.Contains(md.String(), MetricsTokenEnv) || strings.Contains(log.String(), "Bearer") {
		t.Error("the metrics token reached the report or the log")
	}
}

func TestProcessCPU(t *testing.T) {
	start := time.Now()
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatalf("this test needs a process's CPU time (Linux): %v", err)
	}
	// Work until the CPU time has grown by 100 ms, for at most 10 s.
	x, used := uint64(1), time.Duration(0)
	for used < 100*time.Millisecond && time.Since(start) < 10*time.Second {
		for i := range 100_000 {
			x = x*6364136223846793005 + uint64(i)
		}
		now, err := processCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		used = now - before
	}
	wall := time.Since(start)
	// This process's CPU time cannot exceed its wall time on every CPU.
	if used < 100*time.Millisecond || used > wall*time.Duration(runtime.NumCPU())+10*time.Millisecond {
		t.Errorf("CPU time grew by %s in %s of work (x=%d)", used, wall, x)
	}
	if _, err := processCPU(-1); err == nil {
		t.Error("the CPU time of pid -1")
	}
}
