package search

import (
	"html"
	"strings"

	"github.com/basaltdev/basalt/internal/search/searchdb"
)

// Highlight markup: what a client inserts as HTML around a match.
const (
	markOpen  = "<mark>"
	markClose = "</mark>"
)

// renderHighlight turns an engine's snippet, with matches between
// searchdb.MarkStart and searchdb.MarkEnd, into HTML: the text is escaped
// and each match wrapped in <mark>…</mark>. Markers that do not pair up
// (a snippet cut inside a match, a marker nested in another) are dropped
// or closed, so the result is always well formed, and any other control
// character the snippet holds is escaped text like the rest.
func renderHighlight(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 16)
	open := false
	for len(s) > 0 {
		i := strings.IndexAny(s, searchdb.MarkStart+searchdb.MarkEnd)
		if i < 0 {
			b.WriteString(html.EscapeString(s))
			break
		}
		b.WriteString(html.EscapeString(s[:i]))
		if start := s[i:i+1] == searchdb.MarkStart; start != open {
			if start {
				b.WriteString(markOpen)
			} else {
				b.WriteString(markClose)
			}
			open = start
		}
		s = s[i+1:]
	}
	if open {
		b.WriteString(markClose)
	}
	return strings.ReplaceAll(b.String(), markOpen+markClose, "")
}

// renderHighlights renders the snippets of the fields in shown (the
// fields the response shows) and drops the others, so that a field the
// caller may not see never reaches a hit even if an engine returned it.
// It returns nil when no snippet is left.
func renderHighlights(in map[string]string, shown func(field string) bool) map[string]string {
	var out map[string]string
	for f, s := range in {
		if !shown(f) {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(in))
		}
		out[f] = renderHighlight(s)
	}
	return out
}
