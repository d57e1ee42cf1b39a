package searchcorpus_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/search"
)

// testRule searches the corpus as a user, whom the list rule admits to
// only the public packages (cryptography and networking are staff only)
// and whose maintainer field is hidden: in every mode, no hit is a hidden
// package, no hit or highlight shows the hidden field, and every page but
// the last is full.
func (e *env) testRule(t *testing.T) {
	visible := 0
	for _, d := range e.corpus.data {
		if d["visibility"] == "public" {
			visible++
		}
	}
	for _, q := range []string{"hash", "http server", "parse"} {
		for _, mode := range []search.Mode{search.ModeText, search.ModeVector, search.ModeHybrid} {
			// Typo tolerance off: the administrator's exact hits and the
			// user's are comparable (a fallback depends on the count).
			req := search.Request{Query: q, Mode: mode, Typo: search.TypoOff}
			_, admin := e.searchAllAs(adminCtx(t.Context()), t, stdName, req, 100)
			_, user := e.searchAllAs(userCtx(t.Context()), t, stdName, req, 40)
			var adminVisible []string
			for _, p := range top(admin, len(admin)) {
				if !hiddenFromUsers(p) {
					adminVisible = append(adminVisible, p)
				}
			}
			paths := top(user, len(user))
			seen := map[string]bool{}
			for i, h := range user {
				if hiddenFromUsers(paths[i]) {
					t.Errorf("%s %q: hidden package %s is a hit", mode, q, paths[i])
				}
				if seen[paths[i]] {
					t.Errorf("%s %q: %s is a hit twice", mode, q, paths[i])
				}
				seen[paths[i]] = true
				if bytes.Contains(h.Document.Data, []byte("maintainer")) || bytes.Contains(h.Document.Data, []byte(maintainerSecret)) {
					t.Errorf("%s %q: hit %s shows the hidden field: %s", mode, q, paths[i], h.Document.Data)
				}
				for f, s := range h.Highlights {
					if f == "maintainer" || strings.Contains(s, maintainerSecret) {
						t.Errorf("%s %q: hit %s highlights the hidden field: %s=%q", mode, q, paths[i], f, s)
					}
				}
			}
			switch mode {
			case search.ModeText:
				// The user's hits are the administrator's, less the
				// packages the rule hides, in the same order.
				if !slices.Equal(paths, adminVisible) {
					t.Errorf("text %q: user hits %v,\nwant the visible admin hits %v", q, paths, adminVisible)
				}
				if len(paths) < 2 {
					t.Errorf("text %q: %d hits, a case that tests too little", q, len(paths))
				}
			case search.ModeVector:
				// Every document has a vector: the user pages through
				// every visible one, nearest first, as the admin does.
				if len(paths) != visible || !slices.Equal(paths, adminVisible) {
					t.Errorf("vector %q: user has %d hits, want the %d visible of the admin's, in order", q, len(paths), visible)
				}
			case search.ModeHybrid:
				// The text side finds every matching visible package;
				// each is among the fused hits.
				_, text := e.searchAllAs(userCtx(t.Context()), t, stdName, search.Request{Query: q, Mode: search.ModeText, Typo: search.TypoOff}, 100)
				for _, p := range top(text, len(text)) {
					if !seen[p] {
						t.Errorf("hybrid %q: text hit %s is not a fused hit", q, p)
					}
				}
			}
		}
	}
	// A filter narrows what the rule admits, in every mode: the rule and
	// the filter both hold for every hit; a filter on what the rule hides
	// finds nothing.
	for _, mode := range []search.Mode{search.ModeText, search.ModeVector, search.ModeHybrid} {
		req := search.Request{Query: "encoding", Mode: mode, Filter: `path ~ "encoding/" || path ~ "crypto"`, Typo: search.TypoOff}
		_, admin := e.searchAllAs(adminCtx(t.Context()), t, stdName, req, 100)
		_, user := e.searchAllAs(userCtx(t.Context()), t, stdName, req, 4)
		var want []string
		for _, p := range top(admin, len(admin)) {
			if !strings.Contains(p, "encoding/") && !strings.Contains(p, "crypto") {
				t.Errorf("%s: admin hit %s does not pass the filter", mode, p)
			}
			if !hiddenFromUsers(p) {
				want = append(want, p)
			}
		}
		got := top(user, len(user))
		if len(want) < 5 || mode != search.ModeHybrid && !slices.Equal(got, want) {
			t.Errorf("%s with a filter: user hits %v, want %v", mode, got, want)
		}
		for _, p := range got {
			if hiddenFromUsers(p) || !strings.Contains(p, "encoding/") && !strings.Contains(p, "crypto") {
				t.Errorf("%s with a filter: hit %s", mode, p)
			}
		}
		req.Filter = `visibility = "staff"`
		if _, hits := e.searchAllAs(userCtx(t.Context()), t, stdName, req, 10); len(hits) != 0 {
			t.Errorf("%s: a user's filter on staff packages finds %v", mode, top(hits, len(hits)))
		}
	}
	// A request for the hidden field is refused as for a list, and
	// fields= keeps highlights to the fields shown.
	if _, err := e.svc.Search(userCtx(t.Context()), search.Request{Collection: stdName, Query: "hash", Filter: `maintainer = "x"`}); err == nil {
		t.Error("a filter on the hidden field is accepted")
	}
	res, err := e.svc.Search(userCtx(t.Context()), search.Request{Collection: stdName, Query: "checksum", Fields: "path,name"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) == 0 {
		t.Fatal(`"checksum": no hit`)
	}
	for _, h := range res.Hits {
		var data map[string]any
		if err := json.Unmarshal(h.Document.Data, &data); err != nil {
			t.Fatal(err)
		}
		if _, ok := data["doc"]; ok {
			t.Errorf("fields=path,name shows doc: %s", h.Document.Data)
		}
		for f := range h.Highlights {
			if f != "path" && f != "name" {
				t.Errorf("fields=path,name: highlight of %s", f)
			}
		}
	}
}
