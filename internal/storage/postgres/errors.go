package postgres

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/basaltdev/basalt/internal/fault"
)

// SQLSTATE codes Basalt reacts to.
const (
	codeUniqueViolation      = "23505"
	codeUndefinedTable       = "42P01"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeQueryCanceled        = "57014" // statement_timeout, cancel requests
	codeLockNotAvailable     = "55P03"
)

// sqlState returns the SQLSTATE carried by err, or "" when err does not
// come from the server.
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// isUndefinedTable reports whether err says a table does not exist; for
// a documents table that means its collection does not exist.
func isUndefinedTable(err error) bool { return sqlState(err) == codeUndefinedTable }

// retryable reports whether a transaction failed only because it ran
// concurrently with another one, so running it again may succeed.
func retryable(err error) bool {
	switch sqlState(err) {
	case codeSerializationFailure, codeDeadlockDetected:
		return true
	}
	return false
}

// unavailableState reports whether a SQLSTATE means the server cannot
// serve the request now: connection trouble (class 08), insufficient
// resources (53), operator intervention (57: shutdown, statement_timeout),
// lock timeouts and transaction conflicts that outlived Write's retries.
func unavailableState(code string) bool {
	if len(code) != 5 {
		return false
	}
	switch code[:2] {
	case "08", "53", "57", "58":
		return true
	}
	switch code {
	case codeSerializationFailure, codeDeadlockDetected, codeLockNotAvailable, codeQueryCanceled:
		return true
	}
	return false
}

// mapErr turns a driver error into a fault by SQLSTATE and error type,
// never by message text: unique violations are Conflict; connection
// failures, timeouts, shutdowns and exhausted pools are Unavailable;
// anything else is Internal. Errors that already are faults pass through.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	if code := sqlState(err); code != "" {
		switch {
		case code == codeUniqueViolation:
			return fault.Wrap(fault.Conflict, op, err, "the key already exists")
		case code == codeQueryCanceled:
			return fault.Wrap(fault.Unavailable, op, err, "the database did not answer in time")
		case unavailableState(code):
			return fault.Wrap(fault.Unavailable, op, err, "the database is unavailable")
		}
		return fault.Internalf(op, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return fault.Wrap(fault.Unavailable, op, err, "the request ended before the database answered")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		pgconn.SafeToRetry(err) {
		return fault.Wrap(fault.Unavailable, op, err, "the database is unavailable")
	}
	return fault.Internalf(op, err)
}
