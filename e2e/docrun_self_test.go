package e2e

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestDocPageConvention checks what the runner takes from a page: steps
// with their outcomes, blocks marked as not run, and every curl command
// outside a runnable example reported with its line.
func TestDocPageConvention(t *testing.T) {
	page := strings.Join([]string{
		"# Title", // 1
		"Use `curl` and `jq`; with `curl`, encode.", // 2
		"```sh",                                 // 3
		"# Log in.  → 200",                      // 4
		"curl -sS localhost:8080/v1/auth/login", // 5
		"TOKEN=x",                               // 6
		"",                                      // 7
		"# Make the admin.  → exit 0",           // 8
		"./bin/basalt admin create",             // 9
		"```",                                   // 10
		"Or run `curl -sS localhost:8080/healthz`.", // 11
		"```sh",                                  // 12
		"curl -sS localhost:8080/v1/collections", // 13
		"```",                                    // 14
		"<!-- not run: needs a mail server -->",  // 15
		"",                                       // 16
		"```sh",                                  // 17
		"curl -sS localhost:8080/v1/auth/verify", // 18
		"```",                                    // 19
		"```sh",                                  // 20
		"echo before any step",                   // 21
		"# Read.  → 200",                         // 22
		"# an answer, not a step",                // 23
		"curl -sS localhost:8080/v1/x",           // 24
		"# Nothing to run.  → 204",               // 25
		"```",                                    // 26
		"```json",                                // 27
		`{"curl -sS": "not a command here either"}`, // 28
		"```", // 29
	}, "\n")
	p := parseDocPage("docs/x.md", page)
	var got []string
	for _, s := range p.steps {
		got = append(got, s.where+" "+strconv.Itoa(s.status)+" "+strconv.FormatBool(s.exit)+" "+strings.ReplaceAll(s.command, "\n", "|"))
	}
	want := []string{
		"docs/x.md:4 200 false curl -sS localhost:8080/v1/auth/login|TOKEN=x|",
		"docs/x.md:8 0 true ./bin/basalt admin create|",
		"docs/x.md:22 200 false curl -sS localhost:8080/v1/x|",
		"docs/x.md:25 204 false ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(p.notRun) != 1 || p.notRun[0] != "docs/x.md:17: needs a mail server" {
		t.Errorf("not run: %q", p.notRun)
	}
	wantErrs := []string{"docs/x.md:11:", "docs/x.md:13:", "docs/x.md:21:", "docs/x.md:23:", "docs/x.md:25:", "docs/x.md:28:"}
	if len(p.errs) != len(wantErrs) {
		t.Fatalf("errors:\n%s\nwant one at each of %v", strings.Join(p.errs, "\n"), wantErrs)
	}
	for i, w := range wantErrs {
		if !strings.HasPrefix(p.errs[i], w) {
			t.Errorf("error %d = %q, want it at %s", i, p.errs[i], w)
		}
	}
}

// TestDocStepsOutcomes runs steps against a server that answers the status
// its path names (/s/201) with {"ok": true}, and checks that a step fails
// for another status, for a failing jq anywhere in it, and for a failing
// last command, while variables carry from step to step.
func TestDocStepsOutcomes(t *testing.T) {
	needShellTools(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/s/"))
		if err != nil {
			status = http.StatusBadRequest
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"ok": true}`))
	}))
	defer srv.Close()
	session := docSession{host: strings.TrimPrefix(srv.URL, "http://")}
	step := func(status int, command string) docStep {
		return docStep{where: "docs/x.md:1", comment: "# a step", command: command + "\n", status: status}
	}
	for _, c := range []struct {
		name    string
		steps   []docStep
		wantErr string // "" for none
	}{
		{"statuses, jq checks and variables", []docStep{
			step(201, "curl -sS localhost:8080/s/201 -o a.json\nV=$(jq -r .ok a.json)"),
			step(200, "curl -sS localhost:8080/s/404\ncurl -sS localhost:8080/s/200 | jq -e .ok\n[ \"$V\" = true ]"),
			{where: "docs/x.md:9", comment: "# exits", command: "(exit 3)\n", status: 3, exit: true},
		}, ""},
		{"another status", []docStep{step(200, "curl -sS localhost:8080/s/404")}, "HTTP status 404, want 200"},
		{"a failing jq before the last command", []docStep{
			step(200, "curl -sS localhost:8080/s/200 | jq -e '.ok == false'\ncurl -sS localhost:8080/s/200"),
		}, "jq exited with 1"},
		{"a failing jq in a command substitution", []docStep{
			step(200, "curl -sS localhost:8080/s/200\nX=$(jq -r .ok missing.json)"),
		}, "jq exited with 2"},
		{"a failing last command", []docStep{step(200, "curl -sS localhost:8080/s/200\nfalse")}, "exit status 1, want 0"},
		{"a curl that cannot connect", []docStep{step(200, "curl -sS localhost:1/s/200")}, "HTTP status 0, want 200"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := execDocSteps(t.Context(), t.TempDir(), session, c.steps)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatal(err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one with %q", err, c.wantErr)
			}
		})
	}
}
