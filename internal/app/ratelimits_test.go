package app

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/apilimit"
)

// TestRateLimitFlags: the limits come from the flags, the environment and
// the config file (comma-separated there), over the defaults; a bad spec
// stops the start with the grammar.
func TestRateLimitFlags(t *testing.T) {
	defaults := apilimit.DefaultConfig()
	file := filepath.Join(t.TempDir(), "basalt.json")
	if err := os.WriteFile(file, []byte(`{"rate-limit": "read:ip=off, posts.write:ip=1/1s:5", "rate-limits": false}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		env      map[string]string
		args     []string
		disabled bool
		changed  []string // specs that differ from the defaults
	}{
		{name: "defaults", args: []string{"serve"}},
		{name: "flags", args: []string{"serve", "--rate-limit", "write:account=5/1s:20", "--rate-limit=posts.write:ip=1/1s:5"},
			changed: []string{"write:account=5/1s:20", "posts.write:ip=1/1s:5"}},
		{name: "a later spec wins", args: []string{"serve", "--rate-limit", "write:account=5/1s:20", "--rate-limit", "write:account=off"},
			changed: []string{"write:account=off"}},
		{name: "environment", env: map[string]string{"BASALT_RATE_LIMIT": "write:account=5/1s:20,search:apikey=600/1m:100", "BASALT_RATE_LIMITS": "false"},
			args: []string{"serve"}, disabled: true, changed: []string{"write:account=5/1s:20", "search:apikey=600/1m:100"}},
		{name: "config file", args: []string{"serve", "--config", file}, disabled: true,
			changed: []string{"read:ip=off", "posts.write:ip=1/1s:5"}},
		{name: "off", args: []string{"serve", "--rate-limits=false"}, disabled: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd, err := parse(t, c.env, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			rl := cmd.Config.RateLimits
			if rl.Disabled != c.disabled {
				t.Errorf("Disabled = %v, want %v", rl.Disabled, c.disabled)
			}
			var changed []string
			for _, s := range rl.Specs() {
				if !slices.Contains(defaults.Specs(), s) {
					changed = append(changed, s)
				}
			}
			slices.Sort(changed)
			want := slices.Clone(c.changed)
			slices.Sort(want)
			if !slices.Equal(changed, want) {
				t.Errorf("specs changed from the defaults: %q, want %q", changed, want)
			}
		})
	}
	for _, bad := range []string{"write:account", "write:user=1/1s:1", "posts.auth:ip=1/1s:1", "write:ip=0/1s:1"} {
		_, err := parse(t, nil, "serve", "--rate-limit", bad)
		if err == nil || !strings.Contains(err.Error(), "the form is") {
			t.Errorf("--rate-limit %q: %v, want an error with the grammar", bad, err)
		}
	}
}

// TestRateLimitHelp: serve --help shows every default limit.
func TestRateLimitHelp(t *testing.T) {
	var out bytes.Buffer
	_, _ = ParseCommandLine([]string{"serve", "--help"}, func(string) string { return "" }, &out, &out, func(int) {})
	help := strings.Join(strings.Fields(out.String()), " ")
	for _, s := range apilimit.DefaultSpecs() {
		if !strings.Contains(help, s) {
			t.Errorf("serve --help does not show the default %s", s)
		}
	}
}
