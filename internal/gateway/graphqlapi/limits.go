package graphqlapi

import (
	"fmt"
	"math"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/basaltdev/basalt/internal/fault"
)

// Limits bound what one GraphQL document may ask for. Parse refuses a
// document past any of them before anything runs, so that no document
// costs more than a bounded number of store reads and response bytes.
// Zero fields take DefaultLimits' values.
type Limits struct {
	// MaxBytes bounds the document's text.
	MaxBytes int
	// MaxTokens bounds its lexical tokens (what parsing costs).
	MaxTokens int
	// MaxFields bounds the fields written in it, before validation (whose
	// check that fields of one name can merge grows with their square).
	MaxFields int
	// MaxDepth bounds the nesting of selection sets, fragments expanded.
	MaxDepth int
	// MaxAliases bounds the aliased fields, fragments expanded: aliases
	// let one document ask for one expensive field many times.
	MaxAliases int
	// MaxComplexity bounds the document's cost, fragments expanded: each
	// field costs 1, and what is selected under a list of documents
	// counts once per document the page may hold (first, or
	// DefaultPageSize; at most MaxPageSize), under a relation to several
	// documents once per document it may resolve (MaxRelationItems).
	MaxComplexity int
	// MaxMutations bounds the root fields of a mutation, fragments
	// expanded: the writes one request makes, each its own transaction.
	MaxMutations int
	// DefaultPageSize and MaxPageSize are the document service's, for the
	// complexity of a list without first, or with a larger one.
	DefaultPageSize, MaxPageSize int
}

// DefaultLimits are the limits of Limits' zero fields.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 32 << 10, MaxTokens: 10_000, MaxFields: 500, MaxDepth: 12, MaxAliases: 50, MaxComplexity: 10_000,
		MaxMutations: 20, DefaultPageSize: 20, MaxPageSize: 200}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	for _, p := range []struct{ v, d *int }{{&l.MaxBytes, &d.MaxBytes}, {&l.MaxTokens, &d.MaxTokens}, {&l.MaxFields, &d.MaxFields}, {&l.MaxDepth, &d.MaxDepth},
		{&l.MaxAliases, &d.MaxAliases}, {&l.MaxComplexity, &d.MaxComplexity}, {&l.MaxMutations, &d.MaxMutations}, {&l.DefaultPageSize, &d.DefaultPageSize}, {&l.MaxPageSize, &d.MaxPageSize}} {
		if *p.v <= 0 {
			*p.v = *p.d
		}
	}
	return l
}

// Parse parses query and validates it against s, then checks it against
// l: the errors of a document that must not run, each with
// extensions.code (invalid, or payload_too_large for the size).
func Parse(s *Schema, query string, l Limits) (*ast.QueryDocument, gqlerror.List) {
	return ParseWith(s, query, l, Validation{})
}

// ParseWith is Parse with the validation rules v.
func ParseWith(s *Schema, query string, l Limits, v Validation) (*ast.QueryDocument, gqlerror.List) {
	l = l.withDefaults()
	if len(query) > l.MaxBytes {
		return nil, gqlerror.List{{Message: fmt.Sprintf("the document is larger than %d bytes", l.MaxBytes),
			Extensions: code(string(fault.PayloadTooLarge))}}
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Name: "query", Input: query}, l.MaxTokens)
	if err != nil {
		return nil, invalid(gqlerror.WrapIfUnwrapped(err))
	}
	if n := fieldsIn(doc); n > l.MaxFields {
		return nil, gqlerror.List{{Message: fmt.Sprintf("the document has %d fields; at most %d", n, l.MaxFields), Extensions: code(string(fault.Invalid))}}
	}
	if errs := v.validate(s.AST, doc); len(errs) > 0 {
		return nil, invalid(errs...)
	}
	c := cost{doc: doc, l: l, frags: map[string]measure{}, s: s}
	for _, op := range doc.Operations {
		m := c.selections(op.SelectionSet, 1)
		var errs gqlerror.List
		if m.depth > l.MaxDepth {
			errs = append(errs, limitError(op, "its selections nest %d deep; at most %d", m.depth, l.MaxDepth))
		}
		if m.aliases > l.MaxAliases {
			errs = append(errs, limitError(op, "it has %s aliased fields; at most %d", count(m.aliases), l.MaxAliases))
		}
		if m.complexity > l.MaxComplexity {
			errs = append(errs, limitError(op, "its complexity is %s; at most %d (lower first, or ask for fewer fields)", count(m.complexity), l.MaxComplexity))
		}
		if op.Operation == ast.Mutation {
			if n := c.roots(op.SelectionSet); n > l.MaxMutations {
				errs = append(errs, limitError(op, "it makes %s mutations; at most %d", count(n), l.MaxMutations))
			}
		}
		if len(errs) > 0 {
			return nil, errs
		}
	}
	return doc, nil
}

// fieldsIn counts the fields written in doc (fragments once each).
func fieldsIn(doc *ast.QueryDocument) int {
	var walk func(ast.SelectionSet) int
	walk = func(set ast.SelectionSet) int {
		n := 0
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				n += 1 + walk(s.SelectionSet)
			case *ast.InlineFragment:
				n += walk(s.SelectionSet)
			}
		}
		return n
	}
	n := 0
	for _, op := range doc.Operations {
		n += walk(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		n += walk(f.SelectionSet)
	}
	return n
}

// invalid gives errs the code invalid.
func invalid(errs ...*gqlerror.Error) gqlerror.List {
	for _, e := range errs {
		e.Extensions = code(string(fault.Invalid))
	}
	return errs
}

func limitError(op *ast.OperationDefinition, format string, args ...any) *gqlerror.Error {
	name := "the operation"
	if op.Name != "" {
		name = "the operation " + op.Name
	}
	e := &gqlerror.Error{Message: name + " is refused: " + fmt.Sprintf(format, args...), Extensions: code(string(fault.Invalid))}
	if op.Position != nil {
		e.Locations = []gqlerror.Location{{Line: op.Position.Line, Column: op.Position.Column}}
	}
	return e
}

// count renders a saturated measure.
func count(n int) string {
	if n >= saturated {
		return "more than " + fmt.Sprint(saturated)
	}
	return fmt.Sprint(n)
}

// saturated caps the measures: a document of fragments that spread each
// other twice, level after level, expands exponentially, and its measure
// stops there.
const saturated = math.MaxInt32

// measure is what a selection set costs.
type measure struct {
	depth, aliases, complexity int
}

// cost measures selection sets, each fragment once.
type cost struct {
	s     *Schema
	doc   *ast.QueryDocument
	l     Limits
	frags map[string]measure
	// rootFrags are the root fields of each fragment, counted once.
	rootFrags map[string]int
	// open are the fragments being measured (validation has refused
	// cycles; this keeps a missed one from recursing).
	open map[string]bool
}

// selections measures set, each of whose fields counts times times.
func (c *cost) selections(set ast.SelectionSet, times int) measure {
	var m measure
	for _, sel := range set {
		var sub measure
		switch s := sel.(type) {
		case *ast.Field:
			sub = c.field(s)
		case *ast.InlineFragment:
			sub = c.selections(s.SelectionSet, 1)
		case *ast.FragmentSpread:
			sub = c.fragment(s.Name)
		}
		m.depth = max(m.depth, sub.depth)
		m.aliases = add(m.aliases, sub.aliases)
		m.complexity = add(m.complexity, sub.complexity)
	}
	m.aliases, m.complexity = mul(m.aliases, times), mul(m.complexity, times)
	return m
}

// field measures one field and what it selects. Introspection (__schema,
// __type) reads the schema in memory, and the validator's own rule
// bounds how deep it nests: it counts as one field.
func (c *cost) field(f *ast.Field) measure {
	if f.Name == "__schema" || f.Name == "__type" {
		return measure{depth: 1, complexity: 1}
	}
	per := 1
	if f.ObjectDefinition != nil && c.s != nil && c.s.relations[f.ObjectDefinition.Name][f.Name].Many {
		per = MaxRelationItems // a relation to several documents: as many as it may resolve
	}
	if f.Definition != nil && f.ObjectDefinition != nil && f.ObjectDefinition.Name == "Query" && f.Definition.Type.NamedType != "" &&
		len(f.Definition.Arguments) > 0 && f.Definition.Arguments.ForName("first") != nil {
		per = c.l.DefaultPageSize
		if a := f.Arguments.ForName("first"); a != nil {
			per = c.l.MaxPageSize // a variable: the most it may be
			if v, err := a.Value.Value(nil); a.Value.Kind != ast.Variable && err == nil {
				if n, ok := intArg(v); ok {
					per = int(min(max(n, 1), int64(c.l.MaxPageSize)))
				}
			}
		}
	}
	sub := c.selections(f.SelectionSet, per)
	m := measure{depth: sub.depth, aliases: sub.aliases, complexity: add(1, sub.complexity)}
	if len(f.SelectionSet) > 0 {
		m.depth++
	}
	if f.Alias != "" && f.Alias != f.Name {
		m.aliases = add(m.aliases, 1)
	}
	return m
}

// roots counts the root fields of an operation's selection set set,
// fragments expanded.
func (c *cost) roots(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name != "__typename" {
				n = add(n, 1)
			}
		case *ast.InlineFragment:
			n = add(n, c.roots(s.SelectionSet))
		case *ast.FragmentSpread:
			m, ok := c.rootFrags[s.Name]
			frag := c.doc.Fragments.ForName(s.Name)
			if !ok && frag != nil && !c.open[s.Name] {
				if c.open == nil {
					c.open = map[string]bool{}
				}
				c.open[s.Name] = true
				m = c.roots(frag.SelectionSet)
				delete(c.open, s.Name)
				if c.rootFrags == nil {
					c.rootFrags = map[string]int{}
				}
				c.rootFrags[s.Name] = m
			}
			n = add(n, m)
		}
	}
	return n
}

// fragment measures the fragment called name, once.
func (c *cost) fragment(name string) measure {
	if m, ok := c.frags[name]; ok {
		return m
	}
	frag := c.doc.Fragments.ForName(name)
	if frag == nil || c.open[name] {
		return measure{}
	}
	if c.open == nil {
		c.open = map[string]bool{}
	}
	c.open[name] = true
	m := c.selections(frag.SelectionSet, 1)
	delete(c.open, name)
	c.frags[name] = m
	return m
}

func add(a, b int) int { return min(a+b, saturated) }

func mul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > saturated/b {
		return saturated
	}
	return a * b
}
