package query

import (
	"strings"
	"testing"
)

// validFilters maps filters to their expected AST.
var validFilters = []struct {
	src, want string
}{
	// Comparisons and literals.
	{`title = "Basalt"`, `(= title:string "Basalt")`},
	{`title='Basalt'`, `(= title:string "Basalt")`},
	{`title != "x"`, `(!= title:string "x")`},
	{`score = 3`, `(= score:integer #3)`},
	{`score < -3`, `(< score:integer #-3)`},
	{`score <= 0`, `(<= score:integer #0)`},
	{`score >= -0`, `(>= score:integer #0)`},
	{`score > 1e3`, `(> score:integer #1000)`},
	{`score = 9007199254740992`, `(= score:integer #9.007199254740992e+15)`},
	{`rating > 4.5`, `(> rating:number #4.5)`},
	{`rating < 1.5E-3`, `(< rating:number #0.0015)`},
	{`rating = 1e+308`, `(= rating:number #1e+308)`},
	{`rating = 1e-400`, `(= rating:number #0)`},
	{`ratio >= 0.25`, `(>= ratio:number #0.25)`},
	{`published = true`, `(= published:boolean true)`},
	{`published != false`, `(!= published:boolean false)`},
	{`title ~ "bas"`, `(~ title:string "bas")`},
	{`title !~ "bas"`, `(!~ title:string "bas")`},
	{`title < "m"`, `(< title:string "m")`},
	{`author.name = "Ann"`, `(= author.name:string "Ann")`},
	{`author.address.city ~ "par"`, `(~ author.address.city:string "par")`},
	{`author.age >= 18`, `(>= author.age:integer #18)`},
	// Null checks.
	{`status = null`, `(= status:string null)`},
	{`status != null`, `(!= status:string null)`},
	{`tags = null`, `(= tags:array/string null)`},
	{`meta != null`, `(!= meta:object null)`},
	{`author = null`, `(= author:object null)`},
	{`misc = null`, `(= misc:any null)`},
	// Mixed-type fields.
	{`misc = "a"`, `(= misc:any "a")`},
	{`misc != 3`, `(!= misc:any #3)`},
	{`misc = true`, `(= misc:any true)`},
	{`refd = "x"`, `(= refd:any "x")`},
	{`misc in ["a", 1, false]`, `(in misc:any ["a" #1 false])`},
	{`loose not in [2]`, `(not-in loose:any [#2])`},
	// Lists.
	{`status in ["draft", "done"]`, `(in status:string ["draft" "done"])`},
	{`score not in [1,2,3]`, `(not-in score:integer [#1 #2 #3])`},
	{`score not  in[1]`, `(not-in score:integer [#1])`},
	{`published in [true]`, `(in published:boolean [true])`},
	// Any-of.
	{`tags ?= "rock"`, `(any= tags:array/string "rock")`},
	{`tags ?!= "rock"`, `(any!= tags:array/string "rock")`},
	{`tags ?~ "ro"`, `(any~ tags:array/string "ro")`},
	{`tags ?!~ "ro"`, `(any!~ tags:array/string "ro")`},
	{`tags ?< "m"`, `(any< tags:array/string "m")`},
	{`scores ?> 3`, `(any> scores:array/integer #3)`},
	{`scores ?>= 3`, `(any>= scores:array/integer #3)`},
	{`scores ?<= 3`, `(any<= scores:array/integer #3)`},
	{`scores ?in [1, 2]`, `(anyin scores:array/integer [#1 #2])`},
	{`tags ?in ["a"]`, `(anyin tags:array/string ["a"])`},
	{`flags ?= true`, `(any= flags:array/boolean true)`},
	{`anything ?= "x"`, `(any= anything:array/any "x")`},
	{`anything ?in [1, "x"]`, `(anyin anything:array/any [#1 "x"])`},
	// System fields.
	{`id = "0193abc"`, `(= id@sys:string "0193abc")`},
	{`id ~ "0193"`, `(~ id@sys:string "0193")`},
	{`version >= 2`, `(>= version@sys:integer #2)`},
	{`version in [1, 2]`, `(in version@sys:integer [#1 #2])`},
	{`createdAt > "2026-11-26T12:00:00Z"`, `(> createdAt@sys:timestamp @2026-11-26T12:00:00Z)`},
	{`updatedAt <= "2026-11-26T14:00:00.5+02:00"`, `(<= updatedAt@sys:timestamp @2026-11-26T12:00:00.5Z)`},
	{`createdAt in ["2026-01-01T00:00:00Z"]`, `(in createdAt@sys:timestamp [@2026-01-01T00:00:00Z])`},
	{`createdAt >= "0001-01-01T00:00:00Z" && createdAt <= "9999-12-31T23:59:59.999999999Z"`, `(and (>= createdAt@sys:timestamp @0001-01-01T00:00:00Z) (<= createdAt@sys:timestamp @9999-12-31T23:59:59.999999999Z))`},
	{`createdAt = null`, `(= createdAt@sys:timestamp null)`},
	// Keywords are contextual.
	{`in = "x"`, `(= in:string "x")`},
	{`in in ["x"]`, `(in in:string ["x"])`},
	{`in not in ["x"]`, `(not-in in:string ["x"])`},
	{`not = true`, `(= not:boolean true)`},
	{`null = null`, `(= null:string null)`},
	{`null = "null"`, `(= null:string "null")`},
	// Boolean structure and precedence.
	{`score = 1 && title = "a"`, `(and (= score:integer #1) (= title:string "a"))`},
	{`score = 1 || title = "a"`, `(or (= score:integer #1) (= title:string "a"))`},
	{`score = 1 && score = 2 || score = 3`, `(or (and (= score:integer #1) (= score:integer #2)) (= score:integer #3))`},
	{`score = 1 || score = 2 && score = 3`, `(or (= score:integer #1) (and (= score:integer #2) (= score:integer #3)))`},
	{`(score = 1 || score = 2) && score = 3`, `(and (or (= score:integer #1) (= score:integer #2)) (= score:integer #3))`},
	{`!score = 1 && score = 2`, `(and (not (= score:integer #1)) (= score:integer #2))`},
	{`!(score = 1 && score = 2)`, `(not (and (= score:integer #1) (= score:integer #2)))`},
	{`!!published = true`, `(not (not (= published:boolean true)))`},
	{`! ( ! (published = true))`, `(not (not (= published:boolean true)))`},
	{`((((score = 1))))`, `(= score:integer #1)`},
	{`a_b_c = 1 || score = 1`, ``}, // replaced below: unknown field
	// Flattening.
	{`score = 1 && (score = 2 && score = 3) && score = 4`, `(and (= score:integer #1) (= score:integer #2) (= score:integer #3) (= score:integer #4))`},
	{`(score = 1 || score = 2) || (score = 3 || score = 4)`, `(or (= score:integer #1) (= score:integer #2) (= score:integer #3) (= score:integer #4))`},
	{`(score = 1 || score = 2) && (score = 3 || score = 4)`, `(and (or (= score:integer #1) (= score:integer #2)) (or (= score:integer #3) (= score:integer #4)))`},
	{`!(score = 1 || score = 2) || score = 3`, `(or (not (or (= score:integer #1) (= score:integer #2))) (= score:integer #3))`},
	// Whitespace.
	{" \t\r\nscore\n=\t1 ", `(= score:integer #1)`},
	{`score=1&&title="a"||published=true`, `(or (and (= score:integer #1) (= title:string "a")) (= published:boolean true))`},
	// Strings: escapes and Unicode.
	{`title = "a\"b"`, `(= title:string "a\"b")`},
	{`title = 'it\'s'`, `(= title:string "it's")`},
	{`title = "it's"`, `(= title:string "it's")`},
	{`title = 'say "hi"'`, `(= title:string "say \"hi\"")`},
	{`title = "back\\slash"`, `(= title:string "back\\slash")`},
	{`title = "l1\nl2\tx"`, `(= title:string "l1\nl2\tx")`},
	{`title = "\u00e9t\u00C9"`, `(= title:string "étÉ")`},
	{`title = "\ud83d\ude00"`, `(= title:string "😀")`},
	{`title = "😀 café 東京"`, `(= title:string "😀 café 東京")`},
	{`title = ""`, `(= title:string "")`},
	{`title ~ "%_*"`, `(~ title:string "%_*")`},
	// Injection attempts are plain data.
	{`title = "'; DROP TABLE documents; --"`, `(= title:string "'; DROP TABLE documents; --")`},
	{`title = '" OR 1=1 --'`, `(= title:string "\" OR 1=1 --")`},
	{`title = "/* */ UNION SELECT"`, `(= title:string "/* */ UNION SELECT")`},
	{`title ~ "\u0027) OR (1=1"`, `(~ title:string "') OR (1=1")`},
}

func init() {
	// Keep the table readable: drop placeholder rows.
	out := validFilters[:0]
	for _, c := range validFilters {
		if c.want != "" {
			out = append(out, c)
		}
	}
	validFilters = out
}

func TestParseFilterValid(t *testing.T) {
	s := testSchema(t)
	for _, c := range validFilters {
		t.Run(c.src, func(t *testing.T) {
			e, err := ParseFilter(c.src, s, DefaultLimits())
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", c.src, err)
			}
			if got := sexpr(e); got != c.want {
				t.Fatalf("ParseFilter(%q)\n got %s\nwant %s", c.src, got, c.want)
			}
			// Round trip through Format.
			f := Format(e)
			e2, err := ParseFilter(f, s, DefaultLimits())
			if err != nil {
				t.Fatalf("ParseFilter(Format(...) = %q): %v", f, err)
			}
			if got := sexpr(e2); got != c.want {
				t.Fatalf("round trip through %q\n got %s\nwant %s", f, got, c.want)
			}
		})
	}
}

func TestParseFilterEmpty(t *testing.T) {
	for _, src := range []string{"", " ", "\t\r\n  "} {
		e, err := ParseFilter(src, testSchema(t), DefaultLimits())
		if e != nil || err != nil {
			t.Errorf("ParseFilter(%q) = %v, %v; want nil, nil", src, e, err)
		}
	}
}

// invalidFilters maps filters to a substring of the expected message.
var invalidFilters = []struct {
	src, want string
}{
	// Fields.
	{`auhtor.name = "x"`, `unknown field "auhtor.name" at offset 0`},
	{`score = 1 && auhtor = 1`, `unknown field "auhtor" at offset 13`},
	{`bad-name = "x"`, `unknown field "bad" at offset 0`},
	{`author.nope = 1`, `unknown field "author.nope"`},
	{`author. name = 1`, `a dot must be followed by a name at offset 0`},
	{`author..name = 1`, `a dot must be followed by a name`},
	{`tags.0 = "x"`, `a dot must be followed by a name`},
	{`Title = "x"`, `unknown field "Title"`},
	{`collection = "x"`, `unknown field "collection"`},
	{`élan = "x"`, `unexpected character 'é' at offset 0`},
	// Syntax.
	{`score`, `unexpected end of filter, expected an operator after field "score"`},
	{`score 1`, `unexpected "1", expected an operator`},
	{`score =`, `unexpected end of filter, expected a literal`},
	{`score == 1`, `"==" is not an operator; use "=" for equality at offset 6`},
	{`score <> 1`, `use "!=" for inequality`},
	{`score = 1 & score = 2`, `use "&&" for and at offset 10`},
	{`score = 1 | score = 2`, `use "||" for or`},
	{`score = 1 and score = 2`, `unexpected "and"; use "&&" for and at offset 10`},
	{`score = 1 OR score = 2`, `unexpected "OR"; use "||" for or`},
	{`NOT score = 1`, `unexpected "NOT"; use "!" for not`},
	{`score = 1 score = 2`, `unexpected "score", expected &&, || or the end of the filter at offset 10`},
	{`(score = 1`, `unclosed "(" at offset 0`},
	{`score = 1)`, `unbalanced ")" at offset 9`},
	{`()`, `unexpected ")", expected a field name, ( or !`},
	{`!`, `unexpected end of filter, expected a field name`},
	{`&& score = 1`, `unexpected "&&", expected a field name`},
	{`score = 1 &&`, `unexpected end of filter`},
	{`score = 1 || || score = 2`, `unexpected "||"`},
	{`score = (1)`, `unexpected "(", expected a literal`},
	{`title = Basalt`, `unexpected "Basalt", expected a literal (strings must be quoted) at offset 8`},
	{`title = "x" "y"`, `unexpected "\"y\""`},
	{`score in 1`, `expected "[" to start the list`},
	{`score in [1 2]`, `expected "," or "]"`},
	{`score in [1,]`, `unexpected "]", expected a literal`},
	{`score in [1`, `unexpected end of filter, expected "," or "]"`},
	{`score in []`, `empty list`},
	{`score not [1]`, `expected "in" after "not"`},
	{`score not = 1`, `expected "in" after "not"`},
	{`tags ?not in ["a"]`, `"?" must be followed by an operator`},
	{`tags ? = "a"`, `"?" must be followed by an operator`},
	{`tags ?== "a"`, `"?" must be followed by an operator`},
	{`tags ?inx ["a"]`, `"?" must be followed by an operator`},
	{`score = 1;`, `unexpected character ';' at offset 9`},
	{`score = 1 -- comment`, `invalid number "--" at offset 10`},
	{`score = 1 # comment`, `unexpected character '#'`},
	{`score = 1 /* c */`, `unexpected character '/'`},
	{`score = $1`, `unexpected character '$'`},
	{"score = 1\x00", `unexpected character '\x00'`},
	{"score\u00a0= 1", `unexpected character '\u00a0'`},
	{"score = \xff", `invalid UTF-8 at offset 8`},
	{`1 = 1`, `unexpected "1", expected a field name`},
	{`"title" = "x"`, `unexpected "\"title\"", expected a field name`},
	{`'; DROP TABLE documents; --`, `unterminated string literal at offset 0`},
	{`''; DROP TABLE documents; --`, `unexpected "''", expected a field name`},
	{`title = "x'; DROP TABLE documents; --`, `unterminated string literal at offset 8`},
	{`title = "x" OR 1=1`, `unexpected "OR"; use "||" for or`},
	{`title = "" || 1=1`, `unexpected "1", expected a field name`},
	// References.
	{`title = @auth.id`, `references such as "@auth.id" are not supported in filters at offset 8`},
	{`@auth.id = "x"`, `references such as "@auth.id" are not supported`},
	// Numbers.
	{`score = 01`, `invalid number "01"`},
	{`score = 1.`, `invalid number "1."`},
	{`score = .5`, `unexpected character '.' at offset 8`},
	{`score = +1`, `unexpected character '+' at offset 8`},
	{`score = 1e`, `invalid number "1e"`},
	{`score = 1e+`, `invalid number "1e+"`},
	{`score = 0x10`, `invalid number "0x10"`},
	{`score = 1abc`, `invalid number "1abc"`},
	{`score = --1`, `invalid number "--1"`},
	{`score = -`, `invalid number "-"`},
	{`rating = 1e309`, `number "1e309" is out of range`},
	{`rating = -1e400`, `number "-1e400" is out of range`},
	{`rating = NaN`, `unexpected "NaN", expected a literal`},
	{`rating = Infinity`, `unexpected "Infinity", expected a literal`},
	// Strings.
	{`title = "abc`, `unterminated string literal at offset 8`},
	{`title = 'abc"`, `unterminated string literal`},
	{`title = "a\x"`, `invalid escape`},
	{`title = "a\/"`, `invalid escape`},
	{`title = "a\`, `unterminated string literal`},
	{`title = "\u12"`, `invalid \u escape`},
	{`title = "\u12g4"`, `invalid \u escape`},
	{`title = "\u0000"`, `NUL character`},
	{"title = \"a\x00b\"", `NUL character in string literal at offset 10`},
	{"title = \"a\nb\"", `control character in string literal`},
	{`title = "\ud83d"`, `lone surrogate \uD83D`},
	{`title = "\ud83dx"`, `lone surrogate`},
	{`title = "\ud83d\u0041"`, `lone surrogate`},
	{`title = "\ude00"`, `lone surrogate \uDE00`},
	{"title = \"\xc3\x28\"", `invalid UTF-8 in string literal at offset 9`},
	{"title = \"\xed\xa0\x80\"", `invalid UTF-8 in string literal`},
	// Types.
	{`title = 1`, `"title" is a string field, so it cannot be compared with a number at offset 8`},
	{`title = true`, `cannot be compared with a boolean`},
	{`score = "3"`, `"score" is an integer field, so it cannot be compared with a string`},
	{`score = 1.5`, `cannot be compared with a fractional number`},
	{`score in [1, 2.5]`, `fractional number at offset 13`},
	{`score = 9007199254740994`, `integer out of range`},
	{`score = 1e20`, `integer out of range`},
	{`version = 1.5`, `fractional`},
	{`version = "1"`, `cannot be compared with a string`},
	{`rating = "4"`, `"rating" is a number field`},
	{`published = "true"`, `"published" is a boolean field`},
	{`published = 1`, `"published" is a boolean field`},
	{`published < true`, `operator "<" does not apply to boolean field "published" at offset 10`},
	{`published ~ "t"`, `operator "~" does not apply to boolean field`},
	{`score ~ "1"`, `operator "~" does not apply to integer field "score"`},
	{`rating !~ "1"`, `operator "!~" does not apply to number field`},
	{`createdAt ~ "2026"`, `operator "~" does not apply to timestamp field`},
	{`createdAt > "yesterday"`, `"createdAt" needs an RFC 3339 timestamp`},
	{`createdAt > "2026-01-01"`, `needs an RFC 3339 timestamp`},
	{`createdAt > "0000-01-01T00:00:00Z"`, `timestamp out of range for "createdAt"`},
	{`createdAt > "0001-01-01T00:00:00+01:00"`, `timestamp out of range`},
	{`createdAt > "9999-12-31T23:59:59-01:00"`, `timestamp out of range`},
	{`createdAt > "2026-02-30T00:00:00Z"`, `needs an RFC 3339 timestamp`},
	{`createdAt > 1700000000`, `"createdAt" is a timestamp field, so it cannot be compared with a number`},
	{`misc < 3`, `operator "<" does not apply to field of mixed type "misc"`},
	{`misc ~ "a"`, `does not apply to field of mixed type`},
	{`misc = "a" && loose >= 1`, `does not apply to field of mixed type "loose" at offset 20`},
	{`tags = "rock"`, `"tags" is an array; it can only be compared with null`},
	{`tags != ["rock"]`, `unexpected "[", expected a literal`},
	{`tags in ["rock"]`, `"tags" is an array; it can only be compared with null`},
	{`tags ~ "rock"`, `"tags" is an array`},
	{`meta = "x"`, `"meta" is an object; it can only be compared with null`},
	{`author < "x"`, `"author" is an object`},
	{`title ?= "x"`, `operator "?=" needs an array field, but "title" is a string`},
	{`meta ?= "x"`, `needs an array field, but "meta" is an object`},
	{`tags ?= 1`, `"tags" is a string field, so it cannot be compared with a number`},
	{`scores ?= 1.5`, `fractional`},
	{`scores ?~ "1"`, `operator "?~" does not apply to array of integer field "scores"`},
	{`flags ?< true`, `operator "?<" does not apply to array of boolean field`},
	{`anything ?< 1`, `operator "?<" does not apply to array of any field`},
	{`matrix ?= 1`, `compares scalar elements, but the elements of "matrix" are arrays`},
	{`tags ?in []`, `empty list`},
	// Null.
	{`status < null`, `null is only allowed with "=" and "!="`},
	{`status ~ null`, `null is only allowed with "=" and "!="`},
	{`status in [null]`, `null is not allowed in a list; use "status = null" instead`},
	{`status in ["a", null]`, `null is not allowed in a list`},
	{`tags ?= null`, `null is not allowed with "?="`},
	{`misc in [null]`, `null is not allowed in a list`},
}

func TestParseFilterInvalid(t *testing.T) {
	s := testSchema(t)
	for _, c := range invalidFilters {
		t.Run(c.src, func(t *testing.T) {
			e, err := ParseFilter(c.src, s, DefaultLimits())
			if err == nil {
				t.Fatalf("ParseFilter(%q) = %s, want error containing %q", c.src, sexpr(e), c.want)
			}
			if e != nil {
				t.Fatalf("ParseFilter(%q) returned an AST with its error", c.src)
			}
			checkInvalid(t, err, "query.ParseFilter", c.want)
		})
	}
}

func TestParseFilterNilSchema(t *testing.T) {
	e, err := ParseFilter(`version > 1 && id != "x"`, nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sexpr(e), `(and (> version@sys:integer #1) (!= id@sys:string "x"))`; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	_, err = ParseFilter(`title = "x"`, nil, Limits{})
	checkInvalid(t, err, "query.ParseFilter", `unknown field "title"`)
}

func TestParseFilterLimits(t *testing.T) {
	s := testSchema(t)
	lim := DefaultLimits()
	terms := func(n int, sep string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = "score=1"
		}
		return strings.Join(parts, sep)
	}
	list := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = "1"
		}
		return "score in [" + strings.Join(parts, ",") + "]"
	}
	cases := []struct {
		name, src string
		lim       Limits
		want      string // "" means valid
	}{
		{"length ok", `title = "` + strings.Repeat("a", 1024) + `"`, lim, ""},
		{"length", `title = "` + strings.Repeat("a", 4096) + `"`, lim, "filter is longer than 4096 bytes"},
		{"length custom", `score = 1`, Limits{MaxLength: 8}, "filter is longer than 8 bytes"},
		{"string ok", `title = "` + strings.Repeat("é", 512) + `"`, lim, ""},
		{"string", `title = "` + strings.Repeat("a", 1025) + `"`, lim, "string literal is longer than 1024 bytes at offset 8"},
		{"string escapes", `title = "` + strings.Repeat(`\u00e9`, 513) + `"`, lim, "string literal is longer than 1024 bytes"},
		{"terms ok", terms(64, "&&"), lim, ""},
		{"terms", terms(65, "&&"), lim, "filter has more than 64 comparisons at offset 576"},
		{"terms or", terms(65, "||"), lim, "more than 64 comparisons"},
		{"terms custom", terms(3, "||"), Limits{MaxTerms: 2}, "more than 2 comparisons at offset 18"},
		{"depth ok", strings.Repeat("(", 16) + "score=1" + strings.Repeat(")", 16), lim, ""},
		{"depth", strings.Repeat("(", 17) + "score=1" + strings.Repeat(")", 17), lim, "nesting of ( and ! is deeper than 16 at offset 16"},
		{"depth not ok", strings.Repeat("!", 16) + "score=1", lim, ""},
		{"depth not", strings.Repeat("!", 17) + "score=1", lim, "deeper than 16"},
		{"depth mixed", strings.Repeat("!(", 9) + "score=1" + strings.Repeat(")", 9), lim, "deeper than 16"},
		{"depth huge", strings.Repeat("(", 4000), lim, "deeper than 16"},
		{"in ok", list(100), lim, ""},
		{"in", list(101), lim, "list has more than 100 values"},
		{"zero limits are defaults", list(100), Limits{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseFilter(c.src, s, c.lim)
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			checkInvalid(t, err, "query.ParseFilter", c.want)
		})
	}
}

func TestFormat(t *testing.T) {
	s := testSchema(t)
	cases := []struct{ src, want string }{
		{`score=1`, `score = 1`},
		{`title='it\'s "x"'`, `title = "it's \"x\""`},
		{`title = "a\u0001\n\t\\"`, `title = "a\u0001\n\t\\"`},
		{`score = 1 && (score = 2 || score = 3)`, `score = 1 && (score = 2 || score = 3)`},
		{`(score = 1 && score = 2) || score = 3`, `score = 1 && score = 2 || score = 3`},
		{`!(score = 1)`, `!score = 1`},
		{`!!(title ~ "x") && score = 2`, `!!title ~ "x" && score = 2`},
		{`!!(score = 1 || score = 2)`, `!!(score = 1 || score = 2)`},
		{`tags ?in ['a','b']`, `tags ?in ["a", "b"]`},
		{`score not in [1]`, `score not in [1]`},
		{`rating = 1.0e2`, `rating = 100`},
		{`rating = 123456789012`, `rating = 1.23456789012e+11`},
		{`createdAt > "2026-01-01T01:00:00.250+01:00"`, `createdAt > "2026-01-01T00:00:00.25Z"`},
		{`status = null && published = false`, `status = null && published = false`},
	}
	for _, c := range cases {
		e, err := ParseFilter(c.src, s, DefaultLimits())
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", c.src, err)
		}
		if got := Format(e); got != c.want {
			t.Errorf("Format(ParseFilter(%q)) = %s, want %s", c.src, got, c.want)
		}
	}
	if got := Format(nil); got != "" {
		t.Errorf("Format(nil) = %q", got)
	}
}

func BenchmarkParseFilter(b *testing.B) {
	s := testSchema(b)
	src := `(status = "published" || status = 'draft') && score >= 10 && tags ?in ["go", "db"] && !(title ~ "test")`
	lim := DefaultLimits()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFilter(src, s, lim); err != nil {
			b.Fatal(err)
		}
	}
}
