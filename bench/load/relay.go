package load

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// EventsConfig shapes the change-event scenarios: the relay's throughput
// and lag (ScenarioRelay, ScenarioRelayKafka), the commit-to-subscriber
// latency of realtime streams (ScenarioRealtimeLatency) and the idle
// streams one process holds (ScenarioRealtimeIdle).
type EventsConfig struct {
	// RelayRate is the create rate of the relay scenarios (req/s); 0 means
	// create's highest sustained rate in the same run, or
	// DefaultRelayRate when create sustained none or did not run.
	RelayRate int
	// RelayDuration is how long the creates run.
	RelayDuration time.Duration
	// RelayMaxLag bounds the relay's lag during the load, as time of
	// writes: at most RelayMaxLag × the create rate events unpublished.
	RelayMaxLag time.Duration
	// RelayDrain is how long the relay has, after the creates stop, to
	// publish every event it is behind by (down to RelaySettledLag).
	RelayDrain time.Duration
	// RelaySettledLag is the most events the relay may still be behind by
	// once drained.
	RelaySettledLag int

	// RealtimeRate is the write (PATCH) rate while the latency is
	// measured, spread evenly over RealtimeSubscribers documents, each
	// with a stream of its own (ScenarioRealtimeLatency).
	RealtimeRate, RealtimeSubscribers int
	// RealtimeDuration is how long the writes run; RealtimeDrain how long
	// the streams then have to deliver the rest.
	RealtimeDuration, RealtimeDrain time.Duration
	// RealtimeMaxP99 is the latency target of the p99 (0: none).
	RealtimeMaxP99 time.Duration

	// FanoutRate is the create rate of ScenarioRealtimeFanout, each create
	// delivered to FanoutSubscribers streams on the collection; the other
	// Fanout fields are the Realtime ones of that scenario.
	FanoutRate, FanoutSubscribers int
	FanoutDuration, FanoutDrain   time.Duration
	FanoutMaxP99                  time.Duration

	// IdleStreams is how many idle streams ScenarioRealtimeIdle opens, and
	// IdleMinStreams how many Basalt must hold for PASS (0: no target).
	IdleStreams, IdleMinStreams int
}

// reserve is the most time the change-event scenarios among scenarios may
// take, set aside from the searches' budget: the loads, drains and pauses,
// plus the start and set-up of the Basalt (and Kafka) processes of their
// own.
func (c EventsConfig) reserve(scenarios []string) time.Duration {
	var d time.Duration
	for _, s := range scenarios {
		switch s {
		case ScenarioRelay:
			d += relayQuiet + c.RelayDuration + c.RelayDrain + 5*time.Second
		case ScenarioRelayKafka:
			d += relayQuiet + c.RelayDuration + c.RelayDrain + 20*time.Second
		case ScenarioRealtimeLatency:
			d += c.RealtimeDuration + c.RealtimeDrain + realtimeOverhead
		case ScenarioRealtimeFanout:
			d += c.FanoutDuration + c.FanoutDrain + realtimeOverhead
		case ScenarioRealtimeIdle:
			d += 2*idleSettle + 30*time.Second
		}
	}
	return d
}

// relayQuiet bounds the wait for the relay to publish earlier events before
// a relay scenario starts.
const relayQuiet = 10 * time.Second

// DefaultRelayRate is the relay scenarios' create rate when create did
// not run in the same run (or sustained no rate).
const DefaultRelayRate = 1000

// DefaultEventsConfig is the acceptance: relay lag at most 1 s of
// writes, back to nothing 5 s after; 1,000 subscribers at 1,000 writes/s
// with a p99 ≤ 100 ms (each subscriber on a document of its own, as apps
// subscribe); 10,000 idle streams. The fan-out of one collection stream to
// 1,000 subscribers runs at 20 creates/s (20,000 deliveries/s) with a loose
// p99 ≤ 1 s: a hub that keeps up delivers within tens to hundreds of
// milliseconds, one that falls behind adds its backlog to every delivery
// and reaches seconds within the run.
func DefaultEventsConfig() EventsConfig {
	return EventsConfig{
		RelayDuration: 10 * time.Second, RelayMaxLag: time.Second, RelayDrain: 5 * time.Second, RelaySettledLag: 0,
		RealtimeRate: 1000, RealtimeSubscribers: 1000, RealtimeDuration: 5 * time.Second, RealtimeDrain: 10 * time.Second,
		RealtimeMaxP99: 100 * time.Millisecond,
		FanoutRate:     20, FanoutSubscribers: 1000, FanoutDuration: 5 * time.Second, FanoutDrain: 20 * time.Second,
		FanoutMaxP99: time.Second,
		IdleStreams:  10_000, IdleMinStreams: 10_000,
	}
}

// Validate checks c.
func (c EventsConfig) Validate() error {
	switch {
	case c.RelayRate < 0 || c.RelayDuration <= 0 || c.RelayMaxLag <= 0 || c.RelayDrain <= 0 || c.RelaySettledLag < 0:
		return fmt.Errorf("load: relay needs a rate ≥ 0, positive duration, lag bound and drain time, and a settled lag ≥ 0 (got %d, %s, %s, %s, %d)",
			c.RelayRate, c.RelayDuration, c.RelayMaxLag, c.RelayDrain, c.RelaySettledLag)
	case c.RealtimeRate < 1 || c.RealtimeSubscribers < 1 || c.RealtimeDuration <= 0 || c.RealtimeDrain <= 0 || c.RealtimeMaxP99 < 0:
		return fmt.Errorf("load: realtime latency needs a rate and subscribers ≥ 1, positive duration and drain time, a p99 target ≥ 0 (got %d, %d, %s, %s, %s)",
			c.RealtimeRate, c.RealtimeSubscribers, c.RealtimeDuration, c.RealtimeDrain, c.RealtimeMaxP99)
	case c.FanoutRate < 1 || c.FanoutSubscribers < 1 || c.FanoutDuration <= 0 || c.FanoutDrain <= 0 || c.FanoutMaxP99 < 0:
		return fmt.Errorf("load: realtime fan-out needs a rate and subscribers ≥ 1, positive duration and drain time, a p99 target ≥ 0 (got %d, %d, %s, %s, %s)",
			c.FanoutRate, c.FanoutSubscribers, c.FanoutDuration, c.FanoutDrain, c.FanoutMaxP99)
	case c.IdleStreams < 1 || c.IdleMinStreams < 0 || c.IdleMinStreams > c.IdleStreams:
		return fmt.Errorf("load: realtime idle needs streams ≥ 1 and 0 ≤ the target ≤ streams (got %d, %d)", c.IdleStreams, c.IdleMinStreams)
	}
	return nil
}

// The relay's metrics (internal/outbox) and the Kafka bus's.
const (
	metricRelayLag       = "basalt_outbox_relay_lag_events"
	metricRelayPublished = "basalt_outbox_published_total"
	metricRelayFailures  = "basalt_outbox_publish_failures_total"
	metricKafkaPublished = "basalt_kafka_published_total"
)

// relaySampleEvery is how often the relay scenarios read the metrics.
const relaySampleEvery = 200 * time.Millisecond

// RelaySample is one reading of the relay's state.
type RelaySample struct {
	// At is the time since the creates started (negative: before).
	At time.Duration `json:"atNs"`
	// Acked is the creates answered 201 so far, Published the events the
	// relay published since the start.
	Acked     int64 `json:"acked"`
	Published int64 `json:"published"`
	// Gauge is the relay's own lag gauge; Lag the lag this sample counts:
	// the larger of Gauge and Acked − Published (acknowledged writes whose
	// event is not published yet), which a relay that stopped publishing
	// (and so stopped updating its gauge) cannot hide.
	Gauge int64 `json:"gauge"`
	Lag   int64 `json:"lag"`
}

// RelayReport is the outcome of a relay scenario.
type RelayReport struct {
	// Bus names the bus ("in-process", or Kafka).
	Bus string `json:"bus"`
	// Rate is the offered create rate, RateSource where it came from.
	Rate       int    `json:"rate"`
	RateSource string `json:"rateSource"`
	// Load is the creates' step.
	Load StepResult `json:"load"`
	// Acked is the creates answered 201; Published the events the relay
	// published from the start until drained (or the drain time ran out).
	Acked     int64 `json:"acked"`
	Published int64 `json:"published"`
	// PublishRate is Published over the time from the start until drained.
	PublishRate float64 `json:"publishRate"`
	// MaxLag is the highest lag sampled during the load (events), MaxLagAt
	// when; LastLag the lag of the last sample.
	MaxLag   int64         `json:"maxLag"`
	MaxLagAt time.Duration `json:"maxLagAtNs"`
	LastLag  int64         `json:"lastLag"`
	// LagBound is the most events MaxLag may reach for PASS (the rate ×
	// EventsConfig.RelayMaxLag), SettledLag the most LastLag may be.
	LagBound   int64 `json:"lagBound"`
	SettledLag int64 `json:"settledLag"`
	// Drained says the relay caught up within DrainLimit after the
	// creates stopped; DrainTime is how long it took.
	Drained    bool          `json:"drained"`
	DrainTime  time.Duration `json:"drainTimeNs"`
	DrainLimit time.Duration `json:"drainLimitNs"`
	// Failures is the relay's failed publishes during the scenario;
	// KafkaPublished the Kafka bus's records (Kafka variant only).
	Failures       int64 `json:"failures"`
	KafkaPublished int64 `json:"kafkaPublished,omitempty"`
	// Samples are the readings, every relaySampleEvery.
	Samples []RelaySample `json:"samples"`
}

// relayRate picks the relay scenarios' create rate.
func relayRate(cfg Config, createRate int) (int, string) {
	switch {
	case cfg.Events.RelayRate > 0:
		return cfg.Events.RelayRate, "-relay-rate"
	case createRate > 0:
		return createRate, "create's highest sustained rate in this run"
	default:
		return DefaultRelayRate, "a fixed rate: create did not run or sustained no rate"
	}
}

// runRelay drives creates from tr at rate for cfg.Events.RelayDuration on
// the Basalt at baseURL, sampling its relay through /metrics (token), then
// waits for the relay to publish everything.
func runRelay(ctx context.Context, cfg Config, budget *Budget, name, bus string, rate int, rateSource string,
	sc Scraper, tr vegeta.Targeter, logf func(string, ...any)) ScenarioReport {
	ec := cfg.Events
	rr := &RelayReport{Bus: bus, Rate: rate, RateSource: rateSource, DrainLimit: ec.RelayDrain,
		LagBound: int64(math.Ceil(float64(rate) * ec.RelayMaxLag.Seconds())), SettledLag: int64(ec.RelaySettledLag)}
	sr := ScenarioReport{Name: name, Relay: rr}
	if err := budget.Take(rate, ec.RelayDuration, relayQuiet+ec.RelayDrain+cfg.Attack.Timeout); err != nil {
		sr.Err = err.Error()
		return sr
	}

	// Start from a relay that has published everything so far.
	var base Metrics
	deadline := time.Now().Add(relayQuiet)
	for {
		m, err := sc.Scrape(ctx)
		if err != nil {
			sr.Err = err.Error()
			return sr
		}
		if _, ok := m[metricRelayPublished]; !ok {
			sr.Err = "Basalt exports no " + metricRelayPublished + ": is the relay running?"
			return sr
		}
		if m[metricRelayLag] == 0 && base != nil && m[metricRelayPublished] == base[metricRelayPublished] {
			break
		}
		if time.Now().After(deadline) {
			sr.Notes = append(sr.Notes, fmt.Sprintf("the relay was still publishing earlier events after %s; measured from there", relayQuiet))
			break
		}
		base = m
		if err := pause(ctx, relaySampleEvery); err != nil {
			sr.Err = err.Error()
			return sr
		}
	}

	var acked atomic.Int64
	atk := NewAttacker(cfg.Attack)
	defer atk.Close()
	atk.observe = func(r *vegeta.Result) {
		if r.Code == http.StatusCreated {
			acked.Add(1)
		}
	}
	start := time.Now()
	sample := func(ctx context.Context) (RelaySample, Metrics, error) {
		a := acked.Load() // before the scrape: an event is acknowledged before it is counted published
		m, err := sc.Scrape(ctx)
		if err != nil {
			return RelaySample{}, nil, err
		}
		s := RelaySample{At: time.Since(start), Acked: a,
			Published: int64(m[metricRelayPublished] - base[metricRelayPublished]), Gauge: int64(m[metricRelayLag])}
		s.Lag = max(s.Gauge, s.Acked-s.Published)
		return s, m, nil
	}

	// The sampler runs while the creates do.
	loadCtx, stopSampling := context.WithCancel(ctx)
	var (
		wg         sync.WaitGroup
		samplerErr error
	)
	wg.Go(func() {
		tick := time.NewTicker(relaySampleEvery)
		defer tick.Stop()
		for {
			select {
			case <-loadCtx.Done():
				return
			case <-tick.C:
			}
			s, _, err := sample(loadCtx)
			if err != nil {
				if loadCtx.Err() == nil {
					samplerErr = err
				}
				return
			}
			rr.Samples = append(rr.Samples, s)
		}
	})
	logf("%-6s bus %s: creates at %d/s for %s (%s)", name, bus, rate, ec.RelayDuration, rateSource)
	load, err := atk.Step(ctx, tr, rate, ec.RelayDuration)
	stopSampling()
	wg.Wait()
	rr.Load = load
	loadEnd := time.Since(start)
	if err == nil {
		err = samplerErr
	}
	if err != nil {
		sr.Err = err.Error()
		return sr
	}
	for _, s := range rr.Samples {
		if s.Lag > rr.MaxLag {
			rr.MaxLag, rr.MaxLagAt = s.Lag, s.At
		}
	}

	// The drain: until every acknowledged event is published and the
	// relay's gauge is down, or the drain time runs out.
	var last Metrics
	for {
		s, m, err := sample(ctx)
		if err != nil {
			sr.Err = err.Error()
			return sr
		}
		rr.Samples, last = append(rr.Samples, s), m
		rr.LastLag, rr.Published = s.Lag, s.Published
		if s.Lag <= rr.SettledLag && s.Published >= s.Acked {
			rr.Drained, rr.DrainTime = true, max(s.At-loadEnd, 0)
			break
		}
		if s.At-loadEnd > ec.RelayDrain {
			break
		}
		if err := pause(ctx, relaySampleEvery/2); err != nil {
			sr.Err = err.Error()
			return sr
		}
	}
	rr.Acked = acked.Load()
	end := rr.Samples[len(rr.Samples)-1].At
	if end > 0 {
		rr.PublishRate = float64(rr.Published) / end.Seconds()
	}
	rr.Failures = int64(last[metricRelayFailures] - base[metricRelayFailures])
	rr.KafkaPublished = int64(last[metricKafkaPublished] - base[metricKafkaPublished])
	logf("%-6s bus %s: %d creates acknowledged (%s), %d events published (%.0f/s), lag max %d (at %s) last %d, drained %t in %s",
		name, bus, rr.Acked, stepLine(cfg.Search.Criteria.Judge(load)), rr.Published, rr.PublishRate, rr.MaxLag,
		rr.MaxLagAt.Round(time.Millisecond), rr.LastLag, rr.Drained, rr.DrainTime.Round(time.Millisecond))
	return sr
}

// evaluate decides the verdict: the creates were answered, the lag stayed
// within LagBound, and the relay drained within the drain time. kafka says
// the Kafka bus's own counter must show the events (so that a Basalt that
// ignored --kafka does not pass as Kafka).
func (rr *RelayReport) evaluate(kafka bool) (string, []string) {
	var notes []string
	ok := true
	if rr.Acked == 0 {
		ok = false
		notes = append(notes, "no create was acknowledged: nothing was relayed")
	}
	if rr.MaxLag > rr.LagBound {
		ok = false
		notes = append(notes, fmt.Sprintf("the relay fell %s events behind (more than %s, a second of writes)",
			thousands(rr.MaxLag), thousands(rr.LagBound)))
	}
	if !rr.Drained {
		ok = false
		notes = append(notes, fmt.Sprintf("the relay had not caught up %s after the creates stopped (lag %s, %s of %s acknowledged events published)",
			rr.DrainLimit, thousands(rr.LastLag), thousands(rr.Published), thousands(rr.Acked)))
	}
	if kafka && rr.KafkaPublished < rr.Acked {
		ok = false
		notes = append(notes, fmt.Sprintf("the Kafka bus counted %s records published for %s acknowledged creates: did Basalt use --kafka?",
			thousands(rr.KafkaPublished), thousands(rr.Acked)))
	}
	if rr.Failures > 0 {
		notes = append(notes, fmt.Sprintf("%s publishes failed and were retried", thousands(rr.Failures)))
	}
	if j := (Criteria{MinThroughputRatio: 0.95, MaxErrorRatio: 0.001, MaxP99: time.Duration(math.MaxInt64)}).Judge(rr.Load); !j.Pass {
		notes = append(notes, "the creates were not all served: "+j.Reason+" (the relay is judged on those that were)")
	}
	if ok {
		return VerdictPass, notes
	}
	return VerdictFail, notes
}

// markdown is the report's line about a relay scenario.
func (rr *RelayReport) markdown(name, verdict string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (bus: %s): creates at %s/s for %s (%s): %s acknowledged (p99 %s); the relay published **%s events/s** (%s events until drained). ",
		name, rr.Bus, thousands(int64(rr.Rate)), rr.Load.Duration.Round(100*time.Millisecond), rr.RateSource,
		thousands(rr.Acked), millis(rr.Load.P99), thousands(int64(math.Round(rr.PublishRate))), thousands(rr.Published))
	fmt.Fprintf(&b, "Lag: max **%s** events (at %s; bound %s), ", thousands(rr.MaxLag), rr.MaxLagAt.Round(100*time.Millisecond), thousands(rr.LagBound))
	if rr.Drained {
		fmt.Fprintf(&b, "back to %s events %s after the creates stopped (limit %s): %s.", thousands(rr.LastLag), rr.DrainTime.Round(10*time.Millisecond), rr.DrainLimit, verdict)
	} else {
		fmt.Fprintf(&b, "still %s events %s after the creates stopped: %s.", thousands(rr.LastLag), rr.DrainLimit, verdict)
	}
	return b.String()
}
