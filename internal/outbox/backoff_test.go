package outbox

import (
	"testing"
	"time"
)

func TestBackoffDoublesUpToItsCapWithEqualJitter(t *testing.T) {
	lo, hi := 100*time.Millisecond, time.Second
	none := func(int64) int64 { return 0 }
	most := func(n int64) int64 { return n - 1 }
	cases := []struct {
		n    int
		step time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {3, 400 * time.Millisecond},
		{4, 800 * time.Millisecond}, {5, time.Second}, {60, time.Second}}
	for _, c := range cases {
		if got := backoff(c.n, lo, hi, none); got != c.step/2 {
			t.Errorf("failure %d, no jitter: %v, want half the step %v", c.n, got, c.step/2)
		}
		if got := backoff(c.n, lo, hi, most); got != c.step {
			t.Errorf("failure %d, most jitter: %v, want the step %v", c.n, got, c.step)
		}
	}
	var asked int64
	backoff(3, lo, hi, func(n int64) int64 { asked = n; return 0 })
	if asked != int64(200*time.Millisecond)+1 {
		t.Errorf("jitter drawn below %d, want half the step + 1", asked)
	}
}
