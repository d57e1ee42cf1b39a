package password

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/basaltdev/basalt/internal/fault"
)

func TestMaxRate(t *testing.T) {
	p := Params{Memory: MinMemoryKiB, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	if _, err := New(p, 1, MaxRate(0, 1)); !fault.Is(err, fault.Invalid) {
		t.Fatalf("zero rate: %v", err)
	}
	reg := prometheus.NewPedanticRegistry()
	h, err := New(p, 2, MaxRate(0.001, 3), Metrics(reg)) // a burst of 3, then one every 1000 s
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(ctx, "correct horse", enc); !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	if err := h.DummyVerify(ctx, "anything"); err != nil { // spends the third
		t.Fatalf("DummyVerify: %v", err)
	}
	_, _, err = h.Verify(ctx, "correct horse", enc)
	if !fault.Is(err, fault.TooManyRequests) || fault.RetryAfterOf(err) < 900*time.Second {
		t.Fatalf("over budget: %v (retry after %v)", err, fault.RetryAfterOf(err))
	}
	if _, err := h.Hash(ctx, "another one"); !fault.Is(err, fault.TooManyRequests) {
		t.Fatalf("Hash over budget: %v", err)
	}
	// DummyVerify, which stands in for Verify when an account does not
	// exist, fails alike: an unknown account must not answer otherwise.
	if err := h.DummyVerify(ctx, "another one"); !fault.Is(err, fault.TooManyRequests) || fault.RetryAfterOf(err) < 900*time.Second {
		t.Fatalf("DummyVerify over budget: %v", err)
	}
	// The metrics count the three hashes computed and the three refused.
	want := `# HELP basalt_password_hash_refusals_total Password hashes refused before they started, by reason: budget (the hashing budget, --password-max-rate, was spent: 429), canceled (the request ended while waiting for a hashing slot: 503).
# TYPE basalt_password_hash_refusals_total counter
basalt_password_hash_refusals_total{reason="budget"} 3
basalt_password_hash_refusals_total{reason="canceled"} 0
# HELP basalt_password_hashes_total Password hashes computed (sign-ups, logins, password changes, and the dummy checks of unknown accounts).
# TYPE basalt_password_hashes_total counter
basalt_password_hashes_total 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
