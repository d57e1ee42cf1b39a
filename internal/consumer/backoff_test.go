package consumer

import (
	"testing"
	"time"
)

// The wait doubles from Base up to Max, less at most Jitter of it.
func TestBackoffDelay(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second, Jitter: 0.5}
	for attempt, full := range map[int]time.Duration{
		1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 30: time.Second,
	} {
		lo, hi := full/2, full
		for range 200 {
			if d := b.delay(attempt); d < lo || d > hi {
				t.Fatalf("delay(%d) = %v, want within [%v, %v]", attempt, d, lo, hi)
			}
		}
	}
	b.Jitter = 0
	if d := b.delay(3); d != 400*time.Millisecond {
		t.Errorf("without jitter delay(3) = %v, want 400ms", d)
	}
	// Jitter spreads the waits.
	b.Jitter = 1
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[b.delay(2)] = true
	}
	if len(seen) < 10 {
		t.Errorf("with jitter, 50 waits took only %d values", len(seen))
	}
}
