package query

import (
	"fmt"
	"strconv"

	"github.com/basaltdev/basalt/internal/fault"
)

// Operation names carried by the errors of this package.
const (
	opFilter = "query.ParseFilter"
	opSort   = "query.ParseSort"
	opFields = "query.ParseFields"
)

// errAt returns an Invalid error whose user-safe message names the
// language (what), the problem and the byte offset.
func errAt(op, what string, off int, format string, args ...any) *fault.Error {
	msg := what + ": " + fmt.Sprintf(format, args...) + " at offset " + strconv.Itoa(off)
	return fault.New(fault.Invalid, op, msg)
}

func filterErr(off int, format string, args ...any) *fault.Error {
	return errAt(opFilter, "filter", off, format, args...)
}

// quoteName quotes user text for an error message, cut to a readable length.
func quoteName(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}
