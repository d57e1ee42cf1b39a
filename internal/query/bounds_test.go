package query

import (
	"strings"
	"testing"
)

func TestBounds(t *testing.T) {
	s := testSchema(t)
	for _, c := range []struct{ src, want string }{
		{`score >= 3`, `(>= score:integer #3)`},
		{`score >= 3 && title = "a" && rating < 2.5`, `(>= score:integer #3) (= title:string "a") (< rating:number #2.5)`},
		{`(score > 1 && score <= 9) && published = true`, `(> score:integer #1) (<= score:integer #9) (= published:boolean true)`},
		{`score != 3`, ``},
		{`!(score >= 3)`, ``},
		{`score >= 3 || title = "a"`, ``},
		{`status = null`, ``},
		{`tags ?= "rock"`, ``},
		{`score in [1, 2]`, ``},
		{`title ~ "ab"`, ``},
		{`score > 1 && (title = "a" || title = "b")`, `(> score:integer #1)`},
	} {
		e, err := ParseFilter(c.src, s, DefaultLimits())
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", c.src, err)
		}
		var got []string
		for _, b := range Bounds(e) {
			got = append(got, sexpr(b))
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("Bounds(%q) = %s, want %s", c.src, g, c.want)
		}
	}
	if Bounds(nil) != nil {
		t.Error("Bounds(nil) is not empty")
	}
}
