package load

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// IdleReport is the outcome of ScenarioRealtimeIdle.
type IdleReport struct {
	// Asked is the streams the scenario tried to open, Opened those Basalt
	// accepted, Held those its hub counted open at the end
	// (basalt_realtime_streams).
	Asked  int   `json:"asked"`
	Opened int   `json:"opened"`
	Held   int64 `json:"held"`
	// Refused counts the failed opens by reason (the first few errors).
	Refused    int           `json:"refused"`
	RefusedWhy []string      `json:"refusedWhy,omitempty"`
	OpenTime   time.Duration `json:"openTimeNs"`
	// RSSBefore and RSSAfter are Basalt's resident memory before the
	// streams and with them all open; PerStream is the difference over
	// Held, in bytes.
	RSSBefore int64   `json:"rssBefore"`
	RSSAfter  int64   `json:"rssAfter"`
	PerStream float64 `json:"perStream"`
	// HeapPerStream, StackPerStream (bytes) and GoroutinesPerStream are
	// the differences of Basalt's Go runtime metrics (heap in use, stacks
	// in use, goroutines) over Held; 0 when it exports none.
	HeapPerStream       float64 `json:"heapPerStream,omitempty"`
	StackPerStream      float64 `json:"stackPerStream,omitempty"`
	GoroutinesPerStream float64 `json:"goroutinesPerStream,omitempty"`
	// FileLimit is the load generator's open-files limit, Raised whether
	// the run raised it.
	FileLimit uint64 `json:"fileLimit"`
	Raised    bool   `json:"raised"`
	// MinStreams is the target (0: none).
	MinStreams int `json:"minStreams"`
}

// Basalt's Go runtime metrics (the Prometheus Go collector).
const (
	metricHeapInuse  = "go_memstats_heap_inuse_bytes"
	metricStackInuse = "go_memstats_stack_inuse_bytes"
	metricGoroutines = "go_goroutines"
)

// idleSettle is the pause before each memory reading.
const idleSettle = 2 * time.Second

// runRealtimeIdle opens cfg.Events.IdleStreams idle streams on the bench
// collection of the Basalt process p (a fresh one) and measures what they
// cost it in memory.
func runRealtimeIdle(ctx context.Context, cfg Config, budget *Budget, p *Process, sc Scraper, limit uint64, raised bool, logf func(string, ...any)) ScenarioReport {
	ec := cfg.Events
	ir := &IdleReport{Asked: ec.IdleStreams, MinStreams: ec.IdleMinStreams, FileLimit: limit, Raised: raised}
	sr := ScenarioReport{Name: ScenarioRealtimeIdle, Idle: ir}
	if err := budget.Take(0, 2*idleSettle, 20*time.Second); err != nil {
		sr.Err = err.Error()
		return sr
	}
	if err := pause(ctx, idleSettle); err != nil {
		sr.Err = err.Error()
		return sr
	}
	var err error
	if ir.RSSBefore, err = processRSS(p.Pid()); err != nil {
		sr.Err = err.Error()
		return sr
	}
	before, err := sc.Scrape(ctx)
	if err != nil {
		sr.Err = err.Error()
		return sr
	}
	streams := make([]*SSEStream, ec.IdleStreams)
	defer func() {
		for _, s := range streams {
			if s != nil {
				_ = s.Close()
			}
		}
	}()
	var (
		mu      sync.Mutex
		refused atomic.Int64
	)
	start := time.Now()
	// Opening goes on past failures (a limit of Basalt's is a result, not
	// an error), but stops after many in a row.
	var inARow atomic.Int64
	err = openAll(ctx, len(streams), func(ctx context.Context, i int) error {
		st, err := OpenSSE(ctx, p.BaseURL, eventsPath, 0, 512)
		if err != nil {
			refused.Add(1)
			mu.Lock()
			if len(ir.RefusedWhy) < 3 && !containsPrefix(ir.RefusedWhy, err.Error()) {
				ir.RefusedWhy = append(ir.RefusedWhy, err.Error())
			}
			mu.Unlock()
			if inARow.Add(1) >= 100 {
				return fmt.Errorf("100 opens in a row failed, the last: %w", err)
			}
			return nil
		}
		inARow.Store(0)
		streams[i] = st
		return nil
	})
	ir.OpenTime = time.Since(start)
	ir.Refused = int(refused.Load())
	for _, s := range streams {
		if s != nil {
			ir.Opened++
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		sr.Notes = append(sr.Notes, "opening stopped: "+err.Error())
	}
	logf("%-6s %d of %d streams open in %s (%d refused)", ScenarioRealtimeIdle, ir.Opened, ir.Asked, ir.OpenTime.Round(time.Millisecond), ir.Refused)
	if err := pause(ctx, idleSettle); err != nil {
		sr.Err = err.Error()
		return sr
	}
	if ir.RSSAfter, err = processRSS(p.Pid()); err != nil {
		sr.Err = err.Error()
		return sr
	}
	m, err := sc.Scrape(ctx)
	if err != nil {
		sr.Err = err.Error()
		return sr
	}
	ir.Held = int64(m[metricRealtimeStreams])
	if ir.Held > 0 {
		per := func(metric string) float64 { return (m[metric] - before[metric]) / float64(ir.Held) }
		ir.PerStream = float64(ir.RSSAfter-ir.RSSBefore) / float64(ir.Held)
		ir.HeapPerStream, ir.StackPerStream = per(metricHeapInuse), per(metricStackInuse)
		ir.GoroutinesPerStream = per(metricGoroutines)
	}
	logf("%-6s Basalt holds %d streams; RSS %s → %s, %.1f KiB per stream (heap %.1f KiB, stacks %.1f KiB, %.1f goroutines)", ScenarioRealtimeIdle, ir.Held,
		mib(ir.RSSBefore), mib(ir.RSSAfter), ir.PerStream/1024, ir.HeapPerStream/1024, ir.StackPerStream/1024, ir.GoroutinesPerStream)
	return sr
}

// containsPrefix reports whether some element of list starts like s (the
// first 40 bytes), so that the same failure is noted once.
func containsPrefix(list []string, s string) bool {
	p := s[:min(len(s), 40)]
	for _, l := range list {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// mib formats bytes in MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// evaluate decides the verdict: Basalt held at least MinStreams.
func (ir *IdleReport) evaluate() (string, []string) {
	var notes []string
	if ir.Raised {
		notes = append(notes, fmt.Sprintf("the load generator raised its open-files soft limit to %s", thousands(int64(ir.FileLimit))))
	}
	if ir.Refused > 0 {
		notes = append(notes, fmt.Sprintf("%s opens failed: %s", thousands(int64(ir.Refused)), strings.Join(ir.RefusedWhy, "; ")))
	}
	if int64(ir.Opened) != ir.Held {
		notes = append(notes, fmt.Sprintf("%s streams opened but Basalt counted %s open", thousands(int64(ir.Opened)), thousands(ir.Held)))
	}
	switch {
	case ir.MinStreams == 0:
		return VerdictNone, notes
	case ir.Held >= int64(ir.MinStreams) && int64(ir.Opened) >= int64(ir.MinStreams):
		return VerdictPass, notes
	default:
		return VerdictFail, notes
	}
}

// markdown is the report's line about the idle scenario.
func (ir *IdleReport) markdown(verdict string) string {
	target := "no target"
	if ir.MinStreams > 0 {
		target = "target ≥ " + thousands(int64(ir.MinStreams))
	}
	return fmt.Sprintf("%s: %s idle streams asked for (`GET %s`, anonymous, one connection each), %s opened in %s; Basalt holds **%s** (%s): %s. "+
		"Its resident memory went from %s to %s: **%.1f KiB per stream**.",
		ScenarioRealtimeIdle, thousands(int64(ir.Asked)), eventsPath, thousands(int64(ir.Opened)), ir.OpenTime.Round(100*time.Millisecond),
		thousands(ir.Held), target, verdict, mib(ir.RSSBefore), mib(ir.RSSAfter), ir.PerStream/1024) + ir.runtimeLine()
}

// runtimeLine breaks the memory per stream down by Basalt's Go runtime
// metrics, or "".
func (ir *IdleReport) runtimeLine() string {
	if ir.HeapPerStream == 0 && ir.StackPerStream == 0 {
		return ""
	}
	return fmt.Sprintf(" Per stream, by Basalt's Go runtime: %.1f KiB of heap in use, %.1f KiB of goroutine stacks, %.1f goroutines.",
		ir.HeapPerStream/1024, ir.StackPerStream/1024, ir.GoroutinesPerStream)
}
