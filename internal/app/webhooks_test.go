package app

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestWebhookFlags(t *testing.T) {
	cmd, err := parse(t, nil, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if w := cmd.Config.Webhooks; len(w.AllowNetworks) != 0 || w.Timeout != 10*time.Second || w.MaxAttempts != 30 ||
		w.BackoffBase != 5*time.Second || w.BackoffMax != time.Hour || w.Concurrency != 8 || w.Retention != 720*time.Hour {
		t.Fatalf("defaults: %+v", w)
	}
	cmd, err = parse(t, map[string]string{"BASALT_WEBHOOK_ALLOW_NETWORKS": "127.0.0.1/32,10.20.0.0/16"},
		"serve", "--webhook-timeout", "30s", "--webhook-max-attempts", "5", "--webhook-backoff-base", "1s",
		"--webhook-backoff-max", "10m", "--webhook-concurrency", "2")
	if err != nil {
		t.Fatal(err)
	}
	w := cmd.Config.Webhooks
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.20.0.0/16")}
	if len(w.AllowNetworks) != 2 || w.AllowNetworks[0] != want[0] || w.AllowNetworks[1] != want[1] ||
		w.Timeout != 30*time.Second || w.MaxAttempts != 5 || w.BackoffBase != time.Second || w.BackoffMax != 10*time.Minute ||
		w.Concurrency != 2 {
		t.Fatalf("parsed: %+v", w)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--webhook-allow-networks", "10.0.0.0/8,not-a-net"}, "--webhook-allow-networks"},
		{[]string{"--webhook-timeout", "100ms"}, "--webhook-timeout"},
		{[]string{"--webhook-max-attempts", "0"}, "--webhook-max-attempts"},
		{[]string{"--webhook-backoff-base", "2h", "--webhook-backoff-max", "1h"}, "--webhook-backoff"},
		{[]string{"--webhook-concurrency", "0"}, "--webhook-concurrency"},
		{[]string{"--webhook-retention", "10m"}, "--webhook-retention"},
	} {
		if _, err := parse(t, nil, append([]string{"serve"}, c.args...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error = %v, want it to mention %s", c.args, err, c.want)
		}
	}
}
