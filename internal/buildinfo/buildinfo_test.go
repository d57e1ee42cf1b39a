package buildinfo_test

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/buildinfo"
)

func TestReadPrefersLinkTimeValues(t *testing.T) {
	commit := strings.Repeat("ab", 20)
	i := buildinfo.Read("v1.2.3", commit, "2026-12-01T10:20:30+01:00")
	if i.Version != "v1.2.3" || i.Commit != commit || i.Date != "2026-12-01T09:20:30Z" {
		t.Fatalf("Read = %+v; want the link-time version and commit, and the date in UTC", i)
	}
	if i.Go != runtime.Version() || i.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Fatalf("Read = %+v; want this Go and platform", i)
	}
	want := "basalt v1.2.3\ncommit " + commit
	if !strings.HasPrefix(i.Text(), want) || !strings.Contains(i.Text(), "\ndate 2026-12-01T09:20:30Z\ngo "+runtime.Version()) {
		t.Fatalf("Text = %q", i.Text())
	}
	var back buildinfo.Info
	if err := json.Unmarshal([]byte(i.JSON()), &back); err != nil || back != i {
		t.Fatalf("JSON = %q (%v); want it to read back as %+v", i.JSON(), err, i)
	}
}

func TestReadWithoutAVersion(t *testing.T) {
	commit := strings.Repeat("0f", 20)
	i := buildinfo.Read("", commit, "")
	if !strings.HasPrefix(i.Version, "devel-0f0f0f0f0f0f") {
		t.Fatalf("Version = %q; want devel-<short commit>", i.Version)
	}
	if i := buildinfo.Read("v1.0.0-3-gabc-dirty", commit, ""); !i.Modified || !strings.Contains(i.Text(), commit+" (modified)") {
		t.Fatalf("a -dirty version: %+v %q; want it marked modified", i, i.Text())
	}
}
