package app

import (
	"errors"

	"github.com/basaltdev/basalt/internal/gateway"
)

// Exit statuses of the basalt binary.
const (
	// ExitOK: the command succeeded; for serve, a clean shutdown (every
	// in-flight request finished within --drain-timeout).
	ExitOK = 0
	// ExitFailure: the command failed — bad configuration, the data
	// directory served by another process, the database unreachable at
	// start-up, or a component failing while serving.
	ExitFailure = 1
	// ExitUsage: the command line or configuration file could not be
	// parsed.
	ExitUsage = 2
	// ExitDrainTimeout: serve shut down, but --drain-timeout passed before
	// the in-flight requests finished, and they were cut off.
	ExitDrainTimeout = 3
)

// ExitCode is the exit status for the error a command returned.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, gateway.ErrDrainTimeout):
		return ExitDrainTimeout
	default:
		return ExitFailure
	}
}

// Help is the detail of `basalt serve --help`.
func (serveCmd) Help() string {
	return `On SIGTERM or SIGINT, /readyz answers 503 at once, the listener stops accepting connections, in-flight requests run to their answers for up to --drain-timeout, then background work stops (queued mail is sent first) and the database closes.

With the embedded SQLite database, serve locks --data-dir: a second serve on the same directory refuses to start. With --db postgres://…, any number of processes may serve one database.

Exit status: 0 after a clean shutdown; 1 on an error (configuration, data directory in use, database unreachable, a component failing); 2 for a command line that cannot be parsed; 3 when --drain-timeout passed and in-flight requests were cut off.`
}
