package migration

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Problem is a statement of an expand migration that is not expand-only.
type Problem struct {
	Statement string // normalized: words lowercased, literals as '…'
	Reason    string
}

func (p Problem) String() string { return p.Reason + ": " + p.Statement }

// token is one lexical token of a statement.
type token struct {
	word   string // a keyword or identifier, lowercased unless quoted; "" for others
	text   string // the token as normalized text
	quoted bool   // a "quoted identifier"
}

// Statements splits the Up section of a migration into its statements,
// without comments, each normalized: tokens joined by single spaces, bare
// words lowercased, string and dollar-quoted bodies shown as '…' (so that
// the SQL of a function body is not taken for the migration's own). It
// understands PostgreSQL's and SQLite's quoting: '…' with ” escapes and
// E'…' with backslash escapes, "…" identifiers, $tag$…$tag$ bodies, --
// and (nested) /* */ comments.
func Statements(src []byte) ([]string, error) {
	stmts, err := split(upSection(string(src)))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(stmts))
	for _, s := range stmts {
		out = append(out, join(s))
	}
	return out, nil
}

// upSection is the text between "-- +goose Up" and "-- +goose Down"; all
// of src when it has no Up marker.
func upSection(src string) string {
	lines := strings.SplitAfter(src, "\n")
	start := 0
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "-- +goose Up") {
			start = i + 1
			break
		}
	}
	var b strings.Builder
	for _, l := range lines[start:] {
		if strings.HasPrefix(strings.TrimSpace(l), "-- +goose Down") {
			break
		}
		b.WriteString(l)
	}
	return b.String()
}

func join(ts []token) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.text
	}
	return strings.Join(parts, " ")
}

// split tokenizes s and cuts it at top-level semicolons; empty statements
// are dropped.
func split(s string) ([][]token, error) {
	var stmts [][]token
	var cur []token
	emit := func(t token) { cur = append(cur, t) }
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ';':
			if len(cur) > 0 {
				stmts = append(stmts, cur)
			}
			cur = nil
			i++
		case isSpace(c):
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			depth, j := 1, i+2
			for depth > 0 {
				switch {
				case j+1 >= len(s):
					return nil, errors.New("a /* comment is not closed")
				case s[j] == '/' && s[j+1] == '*':
					depth, j = depth+1, j+2
				case s[j] == '*' && s[j+1] == '/':
					depth, j = depth-1, j+2
				default:
					j++
				}
			}
			i = j
		case c == '\'':
			j, err := closeQuote(s, i, '\'', false)
			if err != nil {
				return nil, err
			}
			emit(token{text: "'…'"})
			i = j
		case c == '"':
			j, err := closeQuote(s, i, '"', false)
			if err != nil {
				return nil, err
			}
			name := strings.ReplaceAll(s[i+1:j-1], `""`, `"`)
			emit(token{word: name, text: `"` + strings.ReplaceAll(name, `"`, `""`) + `"`, quoted: true})
			i = j
		case c == '$' && dollarTag(s, i) != "":
			tag := dollarTag(s, i)
			end := strings.Index(s[i+len(tag):], tag)
			if end < 0 {
				return nil, fmt.Errorf("a %s body is not closed", tag)
			}
			emit(token{text: "'…'"})
			i += len(tag) + end + len(tag)
		case isWordStart(c):
			j := i
			for j < len(s) && isWordPart(s[j]) {
				j++
			}
			if (j-i == 1) && (c == 'e' || c == 'E') && j < len(s) && s[j] == '\'' {
				k, err := closeQuote(s, j, '\'', true)
				if err != nil {
					return nil, err
				}
				emit(token{text: "'…'"})
				i = k
				continue
			}
			w := strings.ToLower(s[i:j])
			emit(token{word: w, text: w})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && (isWordPart(s[j]) || s[j] == '.') {
				j++
			}
			emit(token{text: s[i:j]})
			i = j
		default:
			emit(token{text: string(c)})
			i++
		}
	}
	if len(cur) > 0 {
		stmts = append(stmts, cur)
	}
	return stmts, nil
}

// closeQuote returns the index just past the quote that closes the one at
// s[i]; a doubled quote is an escaped one, and so, with backslashes, is
// \q.
func closeQuote(s string, i int, q byte, backslashes bool) (int, error) {
	for j := i + 1; j < len(s); j++ {
		switch {
		case backslashes && s[j] == '\\':
			j++
		case s[j] == q && j+1 < len(s) && s[j+1] == q:
			j++
		case s[j] == q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("a %c quote is not closed", q)
}

// dollarTag is the $tag$ that opens a dollar-quoted body at s[i], or "".
func dollarTag(s string, i int) string {
	j := i + 1
	if j < len(s) && s[j] >= '0' && s[j] <= '9' {
		return "" // $1 is a parameter
	}
	for j < len(s) && isWordPart(s[j]) && s[j] != '$' {
		j++
	}
	if j < len(s) && s[j] == '$' {
		return s[i : j+1]
	}
	return ""
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
func isWordStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}
func isWordPart(c byte) bool { return isWordStart(c) || (c >= '0' && c <= '9') || c == '$' }

// Check returns the statements of an expand migration's Up section that
// the previous release could trip over: drops, renames, column type
// changes, new NOT NULL or unique constraints on existing tables, NOT NULL
// columns without a default, and removal of rows. Tables the migration
// creates itself are exempt from the constraint rules.
func Check(src []byte) ([]Problem, error) {
	stmts, err := split(upSection(string(src)))
	if err != nil {
		return nil, err
	}
	created := map[string]bool{}
	var problems []Problem
	for _, st := range stmts {
		if name := createdTable(st); name != "" {
			created[name] = true
		}
		if reason := breaking(st, created); reason != "" {
			problems = append(problems, Problem{Statement: join(st), Reason: reason})
		}
	}
	return problems, nil
}

// words is the statement's tokens as words ("" for non-words).
func words(st []token) []string {
	w := make([]string, len(st))
	for i, t := range st {
		if t.quoted {
			w[i] = "\x00" + t.word // a quoted name is never a keyword
		} else {
			w[i] = t.word
		}
	}
	return w
}

// name is the identifier at w[i] (unquoted), and the index after it,
// skipping a schema qualifier.
func name(st []token, i int) (string, int) {
	if i >= len(st) || st[i].word == "" {
		return "", i
	}
	n := st[i].word
	i++
	if i+1 < len(st) && st[i].text == "." && st[i+1].word != "" {
		n = st[i+1].word
		i += 2
	}
	return n, i
}

// skip advances i past the words of seq when they are next.
func skip(w []string, i int, seq ...string) int {
	if i+len(seq) <= len(w) && slices.Equal(w[i:i+len(seq)], seq) {
		return i + len(seq)
	}
	return i
}

// createdTable is the table a CREATE TABLE statement creates, or "".
func createdTable(st []token) string {
	w := words(st)
	if len(w) < 3 || w[0] != "create" {
		return ""
	}
	i := 1
	for i < len(w) && (w[i] == "temp" || w[i] == "temporary" || w[i] == "unlogged" || w[i] == "virtual") {
		i++
	}
	if i >= len(w) || w[i] != "table" {
		return ""
	}
	i = skip(w, i+1, "if", "not", "exists")
	n, _ := name(st, i)
	return n
}

// breaking says why st is not expand-only, or "".
func breaking(st []token, created map[string]bool) string {
	w := words(st)
	switch w[0] {
	case "drop":
		return "drops what the previous release may use"
	case "truncate", "delete":
		return "removes rows the previous release may read"
	case "alter":
		return alterBreaks(st, w, created)
	case "create":
		i := 1
		if i < len(w) && w[i] == "unique" {
			i++
			if i < len(w) && w[i] == "index" {
				for i < len(w) && w[i] != "on" {
					i++
				}
				i = skip(w, i+1, "only")
				if n, _ := name(st, i); n != "" && !created[n] {
					return "adds a unique index to an existing table, which may refuse the previous release's writes"
				}
			}
		}
	}
	return ""
}

// alterBreaks checks an ALTER statement clause by clause.
func alterBreaks(st []token, w []string, created map[string]bool) string {
	if slices.Contains(w, "rename") {
		return "renames what the previous release uses by name"
	}
	if len(w) < 2 || w[1] != "table" {
		return ""
	}
	i := skip(w, 2, "if", "exists")
	i = skip(w, i, "only")
	table, i := name(st, i)
	if created[table] {
		return ""
	}
	// The clauses, separated by top-level commas.
	var clauses [][]string
	depth, start := 0, i
	for j := i; j <= len(st); j++ {
		if j == len(st) || (depth == 0 && st[j].text == ",") {
			clauses = append(clauses, w[start:j])
			start = j + 1
			continue
		}
		switch st[j].text {
		case "(":
			depth++
		case ")":
			depth--
		}
	}
	for _, c := range clauses {
		if r := clauseBreaks(c); r != "" {
			return r
		}
	}
	return ""
}

func clauseBreaks(c []string) string {
	if len(c) == 0 {
		return ""
	}
	switch c[0] {
	case "drop":
		return "drops what the previous release may use"
	case "add":
		i := 1
		if i < len(c) {
			switch c[i] {
			case "constraint", "primary", "unique", "check", "foreign", "exclude":
				return "adds a constraint that may refuse the previous release's writes"
			}
		}
		if slices.Contains(c, "unique") || slices.Contains(c, "primary") {
			return "adds a column with a unique constraint"
		}
		if hasSeq(c, "not", "null") && !slices.Contains(c, "default") {
			return "adds a NOT NULL column without a default, so the previous release's inserts fail"
		}
	case "alter":
		i := skip(c, 1, "column")
		i++ // the column's name
		rest := c[min(i, len(c)):]
		switch {
		case len(rest) > 0 && rest[0] == "type", hasSeq(rest, "set", "data", "type"):
			return "changes a column's type"
		case hasSeq(rest, "set", "not", "null"):
			return "makes a column NOT NULL, which may refuse the previous release's writes"
		case len(rest) > 0 && rest[0] == "drop":
			return "drops a column's default or constraint, which the previous release may rely on"
		case hasSeq(rest, "add", "generated"):
			return "makes a column an identity column"
		}
	}
	return ""
}

func hasSeq(w []string, seq ...string) bool {
	for i := 0; i+len(seq) <= len(w); i++ {
		if slices.Equal(w[i:i+len(seq)], seq) {
			return true
		}
	}
	return false
}

// CheckFS checks the migrations in fsys (*.sql at its root): each from
// PolicySince on declares a phase, and each expand migration passes
// Check. It reports every problem found.
func CheckFS(fsys fs.FS) error {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		v, err := versionOf(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		src, err := fs.ReadFile(fsys, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		phase, err := PhaseOf(v, src)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
			continue
		}
		if phase != Expand || v < PolicySince {
			continue
		}
		problems, err := Check(src)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
		}
		for _, p := range problems {
			errs = append(errs, fmt.Errorf("%s is declared expand but %s (declare it contract, or split it)", n, p))
		}
	}
	return errors.Join(errs...)
}

// versionOf is the number a migration's file name starts with.
func versionOf(file string) (int64, error) {
	base := path.Base(file)
	digits, _, ok := strings.Cut(base, "_")
	v, err := strconv.ParseInt(digits, 10, 64)
	if !ok || err != nil || v < 1 {
		return 0, fmt.Errorf("%s: a migration's name starts with its number, as 00012_name.sql", base)
	}
	return v, nil
}
