// Command basalt-bench measures Basalt's highest sustainable request rates
// against a reference Go HTTP server on the same machine. See bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/basaltdev/basalt/bench/load"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 1 && args[1] == "hello" {
		return hello(ctx, args[2:], stderr)
	}

	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := load.DefaultConfig()
	cfg.RegisterFlags(fs)
	jsonPath := fs.String("json", "", "also write the report as JSON to this file (- for stdout)")
	strict := fs.Bool("strict", false, "exit with status 3 when a scenario FAILs its threshold")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "basalt-bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "basalt-bench: locate own binary: %v\n", err)
		return 1
	}
	cfg.HelloCommand = []string{exe, "hello"}
	cfg.Log = stderr
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "basalt-bench: %v\n", err)
		return 2
	}

	env := load.CurrentEnvironment(args)
	fmt.Fprintf(stderr, "command: %s\ncpu: %s, %d CPUs, GOMAXPROCS=%d, %s, load average %s\n",
		env.Command, env.CPUModel, env.NumCPU, env.GOMAXPROCS, env.GoVersion, env.LoadAverage)
	rep, runErr := load.Run(ctx, cfg, env)
	if err := rep.WriteMarkdown(stdout); err != nil {
		fmt.Fprintf(stderr, "basalt-bench: %v\n", err)
		return 1
	}
	if err := writeJSON(*jsonPath, rep, stdout); err != nil {
		fmt.Fprintf(stderr, "basalt-bench: %v\n", err)
		return 1
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "basalt-bench: %v\n", runErr)
		return 1
	}
	if *strict && !rep.Passed() {
		return 3
	}
	return 0
}

// writeJSON writes rep to path ("-" is stdout, "" nothing).
func writeJSON(path string, rep load.Report, stdout io.Writer) (err error) {
	switch path {
	case "":
		return nil
	case "-":
		return rep.WriteJSON(stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create JSON report: %w", err)
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	return rep.WriteJSON(f)
}

// hello runs the reference server (the hidden "hello" subcommand) until
// SIGINT or SIGTERM.
func hello(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("hello", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "basalt-bench hello: %v\n", err)
		return 1
	}
	if err := load.ServeHello(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "basalt-bench hello: %v\n", err)
		return 1
	}
	return 0
}
