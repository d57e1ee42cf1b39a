package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// basalt events status works on a fresh data directory, as a table and as
// JSON, and names the consumers this program runs before they ran.
func TestEventsStatus(t *testing.T) {
	dir := t.TempDir()
	r := runBasalt(t, nil, "events", "status", "--data-dir", dir)
	want := "CONSUMER         POSITION  LAG  DEAD LETTERS\nsearch-embedder  -         0    0\nwebhooks         -         0    0\n\n" +
		"event log: 0 events, 0 payload bytes; newest position 0, trimmed up to 0\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("basalt events status: exit %d, output\n%s\n(stderr %s), want exit 0 and\n%s", r.code, r.stdout, r.stderr, want)
	}
	r = runBasalt(t, []string{"BASALT_DATA_DIR=" + dir}, "events", "status", "--json")
	var v struct {
		Items []struct {
			Name     string `json:"name"`
			Position *int64 `json:"position"`
		} `json:"items"`
		Log struct {
			Events int64 `json:"events"`
		} `json:"log"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); r.code != 0 || err != nil || len(v.Items) != 2 ||
		v.Items[0].Name != "search-embedder" || v.Items[1].Name != "webhooks" || v.Items[0].Position != nil || v.Items[1].Position != nil {
		t.Fatalf("basalt events status --json: exit %d, %v, output %s (stderr %s)", r.code, err, r.stdout, r.stderr)
	}
	r = runBasalt(t, nil, "events", "status", "--db", "mysql://nope")
	if r.code == 0 || !strings.Contains(r.stderr, "basalt:") {
		t.Errorf("basalt events status with a bad --db: exit %d, stderr %q", r.code, r.stderr)
	}
}
