// Package buildinfo says which build of Basalt is running: the release
// version, the commit and its date, the Go version and the platform.
//
// The Makefile sets the version, commit and date with -ldflags -X (see
// Read); a plain go build in a git checkout still records the commit and
// its date, which Read falls back to. The date is the commit's, never the
// clock's, so that two builds of one commit are the same bytes.
package buildinfo

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Info describes a build.
type Info struct {
	Version  string `json:"version"`  // v1.4.0, or devel-<commit> for a build without one
	Commit   string `json:"commit"`   // the full commit hash, "" when unknown
	Modified bool   `json:"modified"` // the checkout had uncommitted changes
	Date     string `json:"date"`     // the commit's time, RFC 3339 UTC, "" when unknown
	Go       string `json:"go"`       // go1.26.8
	Platform string `json:"platform"` // linux/amd64
}

// Read assembles the Info of this binary. version, commit and date are the
// values set at link time (empty when not set); commit and date default to
// what go build recorded of the checkout, and the version to
// devel-<short commit>.
func Read(version, commit, date string) Info {
	i := Info{Version: version, Commit: commit, Date: date, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if i.Commit == "" {
					i.Commit = s.Value
				}
			case "vcs.time":
				if i.Date == "" {
					i.Date = s.Value
				}
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	if strings.HasSuffix(i.Version, "-dirty") {
		i.Modified = true
	}
	if t, err := time.Parse(time.RFC3339, i.Date); err == nil {
		i.Date = t.UTC().Format(time.RFC3339)
	}
	if i.Version == "" {
		i.Version = "devel"
		if i.Commit != "" {
			i.Version += "-" + i.Commit[:min(12, len(i.Commit))]
			if i.Modified {
				i.Version += "-dirty"
			}
		}
	}
	return i
}

// Text is what "basalt version" prints: one "name value" line each.
func (i Info) Text() string {
	unknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	commit := unknown(i.Commit)
	if i.Modified && i.Commit != "" {
		commit += " (modified)"
	}
	return "basalt " + i.Version + "\n" +
		"commit " + commit + "\n" +
		"date " + unknown(i.Date) + "\n" +
		"go " + i.Go + " " + i.Platform + "\n"
}

// JSON is what "basalt version --json" prints.
func (i Info) JSON() string {
	b, _ := json.MarshalIndent(i, "", "  ") // a struct of strings and a bool always marshals
	return string(b) + "\n"
}
