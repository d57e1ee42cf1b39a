package query

import "testing"

// TestDocExamples keeps the examples of docs/filters.md valid.
func TestDocExamples(t *testing.T) {
	s, err := SchemaFromJSON([]byte(`{"type": "object", "properties": {
		"title": {"type": "string"}, "status": {"type": ["string", "null"]},
		"score": {"type": "integer"}, "rating": {"type": "number"},
		"published": {"type": "boolean"}, "note": {"type": "string"},
		"tags": {"type": "array", "items": {"type": "string"}},
		"scores": {"type": "array", "items": {"type": "integer"}},
		"author": {"type": "object", "properties": {"name": {"type": "string"}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{
		`status = "published" && (score >= 10 || tags ?= "featured") && !(title ~ "draft")`,
		`tags ?= "rock"`,
		`tags ?in ["rock", "jazz"]`,
		`!(tags ?= "rock")`,
		`tags ?!= "rock"`,
		`tags = null`,
		`createdAt >= "2026-11-26T00:00:00Z"`,
		`updatedAt < "2026-11-26T14:00:00.5+02:00"`,
		`score < 10 || score >= 10`,
		`status = "published" && score >= 10`,
		`title ~ "basalt"`,
		`author.name = "Ann" && published = true`,
		`status in ["draft", "review"] || status = null`,
		`score not in [0, 1]`,
		`tags ?= "rock" && !(tags ?= "pop")`,
		`scores ?>= 90`,
		`createdAt >= "2026-11-01T00:00:00Z" && createdAt < "2026-12-01T00:00:00Z"`,
		`version > 1`,
		`title = 'Rock \'n\' roll'`,
		`note = "line one\nline two"`,
		`title = "caf\u00e9 😀" || title = "say \"hi\"" || title = 'it\'s'`,
		`rating = -2.5 || rating = 1e6 || rating = 0.25E-3 || score = 3`,
	} {
		if _, err := ParseFilter(src, s, DefaultLimits()); err != nil {
			t.Errorf("ParseFilter(%q): %v", src, err)
		}
	}
	for _, src := range []string{`-score,title`, `-score`, `score`} {
		if _, err := ParseSort(src, s, DefaultLimits()); err != nil {
			t.Errorf("ParseSort(%q): %v", src, err)
		}
	}
	if _, err := ParseFields(`title,author.name`, s, DefaultLimits()); err != nil {
		t.Error(err)
	}
	for src, want := range map[string]string{
		`auhtor.name = "x"`: `filter: unknown field "auhtor.name" at offset 0`,
		`score = "x"`:       `filter: "score" is an integer field, so it cannot be compared with a string at offset 8`,
		`rating ~ "1"`:      `filter: operator "~" does not apply to number field "rating" at offset 7`,
	} {
		_, err := ParseFilter(src, s, DefaultLimits())
		checkInvalid(t, err, opFilter, want)
	}
	_, err = ParseSort("tags", s, DefaultLimits())
	checkInvalid(t, err, opSort, `sort: cannot sort by "tags": it is an array at offset 0`)
}
