package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEventRetentionFlag(t *testing.T) {
	cmd, err := parse(t, nil, "serve")
	if err != nil || cmd.Config.Events.Retention != 24*time.Hour {
		t.Fatalf("default event retention %v, %v; want 24h", cmd.Config.Events.Retention, err)
	}
	if DefaultConfig().Events.Retention != 24*time.Hour {
		t.Fatalf("DefaultConfig's event retention is %v, want 24h", DefaultConfig().Events.Retention)
	}
	file := filepath.Join(t.TempDir(), "basalt.json")
	if err := os.WriteFile(file, []byte(`{"event-retention":"2h"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, err = parse(t, map[string]string{"BASALT_CONFIG": file}, "serve")
	if err != nil || cmd.Config.Events.Retention != 2*time.Hour {
		t.Fatalf("config file event-retention 2h: %v, %v", cmd.Config.Events.Retention, err)
	}
	env := map[string]string{"BASALT_CONFIG": file, "BASALT_EVENT_RETENTION": "90m"}
	cmd, err = parse(t, env, "serve")
	if err != nil || cmd.Config.Events.Retention != 90*time.Minute {
		t.Fatalf("BASALT_EVENT_RETENTION=90m: %v, %v", cmd.Config.Events.Retention, err)
	}
	cmd, err = parse(t, env, "serve", "--event-retention", "168h")
	if err != nil || cmd.Config.Events.Retention != 168*time.Hour {
		t.Fatalf("--event-retention 168h: %v, %v", cmd.Config.Events.Retention, err)
	}
	for _, bad := range []string{"30s", "2161h", "0s"} {
		if _, err := parse(t, nil, "serve", "--event-retention", bad); err == nil || !strings.Contains(err.Error(), "--event-retention") {
			t.Errorf("--event-retention %s: %v, want an error naming the flag", bad, err)
		}
	}
	var out bytes.Buffer
	_, _ = ParseCommandLine([]string{"serve", "--help"}, func(string) string { return "" }, &out, &out, func(int) {})
	if !strings.Contains(out.String(), "--event-retention") || !strings.Contains(out.String(), "BASALT_EVENT_RETENTION") {
		t.Errorf("serve --help lacks --event-retention and its variable:\n%s", out.String())
	}
}
