package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunRejectsBadInvocations(t *testing.T) {
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"basalt-bench", "-h"}, 0, "-max-duration"},
		{[]string{"basalt-bench", "-no-such-flag"}, 2, "not defined"},
		{[]string{"basalt-bench", "-scenarios", "hello,delete"}, 2, `unknown scenario "delete"`},
		{[]string{"basalt-bench", "-scenarios", "get"}, 2, "needs -basalt"},
		{[]string{"basalt-bench", "-h"}, 0, "-storm-rate"},
		{[]string{"basalt-bench", "-basalt", "bin/basalt", "-scenarios", "hello,login-storm"}, 2, "needs scenario get"},
		{[]string{"basalt-bench", "-basalt", "bin/basalt", "-storm-rounds", "0"}, 2, "at least one round"},
		{[]string{"basalt-bench", "-token", "x"}, 2, "not defined"},
		{[]string{"basalt-bench", "stray"}, 2, "unexpected arguments"},
		{[]string{"basalt-bench", "-basalt", "bin/basalt", "-db", "mysql"}, 2, `unknown -db "mysql"`},
		{[]string{"basalt-bench", "-basalt", "bin/basalt", "-db", "postgres", "-pg-url", "host=db"}, 2, "want postgres://"},
		{[]string{"basalt-bench", "hello", "--addr", "not-an-address"}, 1, "basalt-bench hello"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(tt.args, &stdout, &stderr); code != tt.code || !strings.Contains(stderr.String(), tt.msg) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", tt.args, code, stderr.String(), tt.code, tt.msg)
		}
		if stdout.Len() != 0 {
			t.Errorf("%q wrote a report: %s", tt.args, stdout.String())
		}
	}
}
