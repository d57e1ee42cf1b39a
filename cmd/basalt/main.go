// Command basalt runs the Basalt server and its administrative commands.
// It parses the command line, wires signals and calls the app package;
// nothing else.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	// Certificate authorities for when the system has none (the
	// container image holds no CA bundle): TLS to a managed database,
	// Kafka, Redis or trace collector still verifies.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/basaltdev/basalt/internal/app"
	"github.com/basaltdev/basalt/internal/buildinfo"
)

// The release version, its commit and the commit's date (RFC 3339), set at
// build time with -ldflags "-X main.version=… -X main.commit=… -X
// main.date=…" (see the Makefile). Without them the build's VCS stamp
// gives the commit and date.
var version, commit, date string

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
	cmd.Config.Build = buildinfo.Read(version, commit, date)
	cmd.Config.Version = cmd.Config.Build.Version
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
		if cmd.Config.VersionJSON {
			fmt.Print(cmd.Config.Build.JSON())
		} else {
			fmt.Print(cmd.Config.Build.Text())
		}
		return 0
	case "targets":
		err = app.PrintTargets(os.Stdout)
	case "migrate":
		err = app.Migrate(ctx, cmd.Config, os.Stdout)
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
	case "alerts analysis":
		err = app.PrintAnalysis(cmd.Config, os.Stdout)
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
