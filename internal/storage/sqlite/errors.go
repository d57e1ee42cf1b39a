package sqlite

import (
	"context"
	"database/sql"
	"errors"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/basaltdev/basalt/internal/fault"
)

// sqliteCode returns the (extended) SQLite result code carried by err, or
// 0 when err does not come from SQLite.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// isConstraintUnique reports whether err is a PRIMARY KEY or UNIQUE
// constraint violation.
func isConstraintUnique(err error) bool {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}

// mapErr turns a driver error into a fault: lock contention and I/O
// trouble are Unavailable, context ends keep their cause, anything else is
// Internal. Errors that already are faults pass through.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fault.Wrap(fault.Unavailable, op, err, "the request ended before the database answered")
	}
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fault.Wrap(fault.Unavailable, op, err, "the database is busy")
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL:
		return fault.Wrap(fault.Unavailable, op, err, "the database is unavailable")
	}
	if errors.Is(err, sql.ErrConnDone) {
		return fault.Wrap(fault.Unavailable, op, err, "the database is closed")
	}
	return fault.Internalf(op, err)
}
