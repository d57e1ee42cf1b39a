package app

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSearchFlags(t *testing.T) {
	cmd, err := parse(t, nil, "serve", "--data-dir", "/d")
	if err != nil {
		t.Fatal(err)
	}
	if s := cmd.Config.Search; s.Embedder != nil || s.SnapshotInterval != 10*time.Minute || cmd.Config.snapshotDir() != filepath.Join("/d", "search") ||
		s.Timeout != 3*time.Second || s.Concurrency != 4 {
		t.Fatalf("defaults: %+v, snapshots in %s", s, cmd.Config.snapshotDir())
	}
	set, err := embedders(cmd.Config)
	if err != nil || set.Check("openai", 768) == nil || set.Check("builtin", 64) != nil {
		t.Errorf("embedders without --embedder-url: %v, %v", set, err)
	}
	cmd, err = parse(t, map[string]string{"BASALT_EMBEDDER_KEY": "sk-secret"}, "serve",
		"--search-snapshot-dir", "/snap", "--search-snapshot-interval", "1m", "--search-timeout", "1500ms", "--search-concurrency", "2",
		"--embedder-url", "http://127.0.0.1:11434", "--embedder-model", "nomic-embed-text", "--embedder-dimensions", "768",
		"--embedder-batch", "16", "--embedder-rate", "2.5", "--embedder-timeout", "5s", "--embedder-max-text", "16000")
	if err != nil {
		t.Fatal(err)
	}
	s := cmd.Config.Search
	if o := s.Embedder; o == nil || o.BaseURL != "http://127.0.0.1:11434" || o.Model != "nomic-embed-text" || o.APIKey != "sk-secret" ||
		o.Dimensions != 768 || o.BatchSize != 16 || o.RequestsPerSecond != 2.5 || o.Timeout != 5*time.Second || o.MaxTextBytes != 16000 ||
		s.SnapshotInterval != time.Minute || cmd.Config.snapshotDir() != "/snap" || s.Timeout != 1500*time.Millisecond || s.Concurrency != 2 {
		t.Fatalf("parsed: %+v %+v", s, s.Embedder)
	}
	set, err = embedders(cmd.Config)
	if err != nil || set.Check("openai", 768) != nil || set.Check("openai", 512) == nil {
		t.Errorf("embedders with a server of 768 dimensions: %v", err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--search-snapshot-interval", "1s"}, "--search-snapshot-interval"},
		{[]string{"--search-timeout", "0s"}, "--search-timeout"},
		{[]string{"--search-concurrency", "0"}, "--search-concurrency"},
		{[]string{"--embedder-model", "m"}, "--embedder-url"},
		{[]string{"--embedder-url", "http://127.0.0.1:1", "--embedder-model", "m"}, "--embedder"},                    // no dimensions
		{[]string{"--embedder-url", "ftp://x", "--embedder-model", "m", "--embedder-dimensions", "8"}, "--embedder"}, // not http
		{[]string{"--embedder-url", "http://127.0.0.1:1", "--embedder-model", "m", "--embedder-dimensions", "8", "--embedder-batch", "0"}, "--embedder-batch"},
	} {
		if _, err := parse(t, nil, append([]string{"serve"}, c.args...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error = %v, want it to mention %s", c.args, err, c.want)
		}
	}
}
