package search

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/basaltdev/basalt/internal/search/searchdb"
)

const s, e = searchdb.MarkStart, searchdb.MarkEnd

var highlightCases = []struct{ in, want string }{
	{"plain text", "plain text"},
	{"the " + s + "Raft" + e + " consensus", "the <mark>Raft</mark> consensus"},
	{"<script>" + s + "x&y" + e + "</script>", "&lt;script&gt;<mark>x&amp;y</mark>&lt;/script&gt;"},
	{`"quoted" 'single'`, "&#34;quoted&#34; &#39;single&#39;"},
	{s + "cut at the end", "<mark>cut at the end</mark>"},
	{"cut at the start" + e + " rest", "cut at the start rest"},
	{s + s + "nested" + e + e, "<mark>nested</mark>"},
	{s + e + "empty", "empty"},
	{"a" + s + "b" + e + "c" + s + "d" + e, "a<mark>b</mark>c<mark>d</mark>"},
	{"ctrl \x01 stays", "ctrl \x01 stays"},
}

func TestRenderHighlight(t *testing.T) {
	for _, c := range highlightCases {
		if got := renderHighlight(c.in); got != c.want {
			t.Errorf("renderHighlight(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	got := renderHighlights(map[string]string{"title": s + "a" + e, "secret": s + "b" + e},
		func(f string) bool { return f == "title" })
	if len(got) != 1 || got["title"] != "<mark>a</mark>" {
		t.Errorf("renderHighlights = %v", got)
	}
	if renderHighlights(map[string]string{"x": "y"}, func(string) bool { return false }) != nil {
		t.Error("no shown field: want nil")
	}
}

// FuzzRenderHighlight: whatever an engine's snippet holds, the HTML has
// no markup but balanced <mark> pairs and no marker characters.
func FuzzRenderHighlight(f *testing.F) {
	for _, c := range highlightCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := renderHighlight(in)
		if strings.ContainsAny(out, s+e) {
			t.Fatalf("markers left in %q", out)
		}
		rest := strings.ReplaceAll(strings.ReplaceAll(out, "<mark>", ""), "</mark>", "")
		if strings.ContainsAny(rest, `<>"'`) {
			t.Fatalf("unescaped markup in %q", out)
		}
		depth := 0
		for i := 0; i < len(out); i++ {
			switch {
			case strings.HasPrefix(out[i:], "<mark>"):
				depth++
			case strings.HasPrefix(out[i:], "</mark>"):
				depth--
			}
			if depth < 0 || depth > 1 {
				t.Fatalf("unbalanced marks in %q", out)
			}
		}
		if depth != 0 {
			t.Fatalf("unclosed mark in %q", out)
		}
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of valid input: %q", out)
		}
	})
}
