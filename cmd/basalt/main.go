// Command basalt runs the Basalt server and its administrative commands.
// It parses the command line, wires signals and calls the app package;
// nothing else.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/basaltdev/basalt/internal/app"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	os.Exit(run())
}

func run() int {
	if code, ok := app.RunPasswordWorker(os.Getenv, os.Stdin, os.Stdout, os.Stderr); ok {
		return code
	}
	cmd, err := app.ParseCommandLine(os.Args[1:], os.Getenv, os.Stdout, os.Stderr, os.Exit)
	if err != nil {
		fmt.Fprintln(os.Stderr, "basalt:", err)
		return app.ExitUsage
	}
	cmd.Config.Version = buildVersion()
	if exe, err := os.Executable(); err == nil {
		cmd.Config.Executable = exe
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cmd.Name == "serve" && cmd.Config.TLSCert != "" {
		// SIGHUP re-reads the TLS certificate; without TLS it stops the
		// process, as it always did.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		cmd.Config.Reload = hup
	}
	switch cmd.Name {
	case "version":
		fmt.Print(versionText(cmd.Config.Version))
		return 0
	case "targets":
		err = app.PrintTargets(os.Stdout)
	case "migrate":
		err = app.Migrate(ctx, cmd.Config)
	case "admin create":
		err = app.CreateAdmin(ctx, cmd.Config)
	case "keys rotate":
		err = app.RotateKeys(ctx, cmd.Config)
	case "dev kafka":
		err = app.DevKafka(ctx, cmd.Config, os.Stdout)
	case "events status":
		err = app.EventsStatus(ctx, cmd.Config, os.Stdout)
	case "status":
		err = app.PrintStatus(ctx, cmd.Config, os.Stdout)
	case "alerts rules":
		err = app.PrintAlertRules(cmd.Config, os.Stdout)
	case "alerts objectives":
		err = app.PrintObjectives(os.Stdout)
	default:
		err = app.Run(ctx, cmd.Config)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "basalt:", err)
	}
	return app.ExitCode(err) // documented in docs/operations.md
}

// versionText is what "basalt version" and "basalt --version" print: the
// version, the Go version that built the binary and, when the build
// recorded it, the VCS revision.
func versionText(v string) string {
	text := "basalt " + v + "\n" + "go " + runtime.Version() + "\n"
	if info, ok := debug.ReadBuildInfo(); ok {
		rev, modified := "", ""
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
		if rev != "" {
			text += "revision " + rev + modified + "\n"
		}
	}
	return text
}

func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}
