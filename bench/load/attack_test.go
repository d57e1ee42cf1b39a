package load

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"
)

// startHello serves the hello reference in-process on 127.0.0.1:0 until the
// test ends and returns its base URL.
func startHello(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeHello(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeHello: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func TestStepAgainstHello(t *testing.T) {
	base := startHello(t)
	atk := NewAttacker(DefaultAttackConfig())
	defer atk.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := atk.Step(ctx, StaticTargeter(base+"/hello"), 50, time.Second)
	if err != nil {
		t.Fatalf("Step: %v", err)
	}
	if s.Requests < 45 || s.Requests > 55 {
		t.Errorf("requests = %d, want about 50", s.Requests)
	}
	if s.Errors != 0 {
		t.Errorf("errors = %d (%v), want 0", s.Errors, s.ErrorSamples)
	}
	// Throughput counts until the last answer arrives, so one slow answer
	// (the race detector, a busy machine) lowers it; the bounds stay loose.
	if s.SentRate < 40 || s.SentRate > 60 || s.Throughput < 25 || s.Throughput > 60 {
		t.Errorf("sent %.1f/s, throughput %.1f/s, want about 50/s", s.SentRate, s.Throughput)
	}
	if s.P50 <= 0 || s.P50 > s.P99 || s.P99 > s.P999 || s.P999 > s.Max || s.P99 > 5*time.Second {
		t.Errorf("latencies p50 %s p99 %s p99.9 %s max %s are not sane", s.P50, s.P99, s.P999, s.Max)
	}
}

func TestStepCountsErrors(t *testing.T) {
	base := startHello(t)
	atk := NewAttacker(DefaultAttackConfig())
	defer atk.Close()
	s, err := atk.Step(context.Background(), StaticTargeter(base+"/missing"), 20, 500*time.Millisecond)
	if err != nil {
		t.Fatalf("Step: %v", err)
	}
	if s.Requests == 0 || s.Errors != s.Requests || len(s.ErrorSamples) == 0 {
		t.Errorf("404s: %d errors of %d, samples %v; want all failed", s.Errors, s.Requests, s.ErrorSamples)
	}
	if len(s.StatusCodes) != 1 || s.StatusCodes["404"] != int(s.Requests) {
		t.Errorf("status codes %v, want %d × 404", s.StatusCodes, s.Requests)
	}
	if _, err := atk.Step(context.Background(), StaticTargeter(base), 0, time.Second); err == nil {
		t.Error("Step accepted a zero rate")
	}
}

func TestStepStopsOnCancel(t *testing.T) {
	base := startHello(t)
	atk := NewAttacker(DefaultAttackConfig())
	defer atk.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	_, err := atk.Step(ctx, StaticTargeter(base+"/hello"), 50, time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("cancelled step took %s", took)
	}
}

func TestHelloHandler(t *testing.T) {
	base := startHello(t)
	resp, err := http.Get(base + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var got map[string]string
	if err := jsonDecode(resp, &got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || got["hello"] != "world" {
		t.Errorf("GET /hello = %d %s %v", resp.StatusCode, resp.Header.Get("Content-Type"), got)
	}
}

func TestQuantiles(t *testing.T) {
	lat := make([]time.Duration, 1000)
	for i := range lat {
		lat[len(lat)-1-i] = time.Duration(i+1) * time.Millisecond // 1000 ms … 1 ms
	}
	p50, p99, p999 := quantiles(lat)
	if p50 != 500*time.Millisecond || p99 != 990*time.Millisecond || p999 != 999*time.Millisecond {
		t.Errorf("quantiles = %s %s %s, want 500ms 990ms 999ms", p50, p99, p999)
	}
	if a, b, c := quantiles([]time.Duration{7}); a != 7 || b != 7 || c != 7 {
		t.Errorf("one sample: %s %s %s", a, b, c)
	}
	if a, b, c := quantiles(nil); a != 0 || b != 0 || c != 0 {
		t.Errorf("no samples: %s %s %s", a, b, c)
	}
}
