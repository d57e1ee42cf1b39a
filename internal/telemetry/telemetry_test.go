package telemetry

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestLoggerLevelsAndFormat(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(&buf, "warn")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log output is not one JSON line: %q", buf.String())
	}
	if line["msg"] != "shown" || line["level"] != "WARN" || line["k"] != float64(1) {
		t.Fatalf("line = %v", line)
	}
	if _, err := NewLogger(&buf, "loud"); err == nil {
		t.Fatal("unknown level accepted")
	}
}

func TestRegistryIsFreshEachTime(t *testing.T) {
	a, b := NewRegistry(), NewRegistry()
	if a == b {
		t.Fatal("registries are shared")
	}
	mfs, err := a.Gather()
	if err != nil || len(mfs) == 0 {
		t.Fatalf("runtime collectors missing: %v", err)
	}
}
