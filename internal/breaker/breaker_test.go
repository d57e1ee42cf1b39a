package breaker_test

import (
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/breaker"
)

func TestFailureOpensAtOnce(t *testing.T) {
	b := breaker.New(time.Hour, 3)
	if b.Wait() != 0 {
		t.Fatal("a new breaker is open")
	}
	b.Failed()
	if w := b.Wait(); w <= 59*time.Minute {
		t.Fatalf("after a failure Wait = %v, want about the backoff", w)
	}
	b.Succeeded()
	if b.Wait() != 0 {
		t.Fatal("still open after a success")
	}
}

func TestTimeoutsOpenOnlyInARow(t *testing.T) {
	b := breaker.New(time.Hour, 3)
	b.TimedOut()
	b.TimedOut()
	if b.Wait() != 0 {
		t.Fatal("open after 2 timeouts of 3")
	}
	b.Succeeded() // the row is broken
	b.TimedOut()
	b.TimedOut()
	if b.Wait() != 0 {
		t.Fatal("open after 2 timeouts since a success")
	}
	b.TimedOut()
	if b.Wait() == 0 {
		t.Fatal("closed after 3 timeouts in a row")
	}
}

func TestBackoffEnds(t *testing.T) {
	b := breaker.New(20*time.Millisecond, 1)
	b.Failed()
	deadline := time.Now().Add(5 * time.Second)
	for b.Wait() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the backoff never ended")
		}
		<-time.After(time.Millisecond)
	}
}
