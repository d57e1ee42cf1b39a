package graphqlapi

import (
	"maps"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// resolver is a value whose fields are computed when selected: the
// introspection types (__Schema, __Type, …), read from the caller's
// schema.
type resolver interface {
	field(name string, args map[string]any) any
}

// schemaValue is a __Schema.
type schemaValue struct{ s *ast.Schema }

func (v schemaValue) field(name string, _ map[string]any) any {
	switch name {
	case "types":
		names := slices.Sorted(maps.Keys(v.s.Types))
		out := make([]any, len(names))
		for i, n := range names {
			out[i] = typeValue{s: v.s, def: v.s.Types[n]}
		}
		return out
	case "queryType":
		return typeValue{s: v.s, def: v.s.Query}
	case "mutationType":
		return named(v.s, v.s.Mutation)
	case "subscriptionType":
		return named(v.s, v.s.Subscription)
	case "directives":
		names := slices.Sorted(maps.Keys(v.s.Directives))
		out := make([]any, len(names))
		for i, n := range names {
			out[i] = directiveValue{s: v.s, d: v.s.Directives[n]}
		}
		return out
	}
	return nil // description
}

// named is the __Type of def, or nil for none.
func named(s *ast.Schema, def *ast.Definition) any {
	if def == nil {
		return nil
	}
	return typeValue{s: s, def: def}
}

// typeValue is a __Type: a named type (def), or a list or non-null
// wrapper (t).
type typeValue struct {
	s   *ast.Schema
	def *ast.Definition
	t   *ast.Type
}

// typeOfRef is the __Type of a field's or argument's type.
func typeOfRef(s *ast.Schema, t *ast.Type) any {
	if t == nil {
		return nil
	}
	if !t.NonNull && t.Elem == nil {
		return named(s, s.Types[t.NamedType])
	}
	return typeValue{s: s, t: t}
}

func (v typeValue) field(name string, args map[string]any) any {
	if v.t != nil { // a wrapper
		switch name {
		case "kind":
			if v.t.NonNull {
				return "NON_NULL"
			}
			return "LIST"
		case "ofType":
			if v.t.NonNull {
				inner := *v.t
				inner.NonNull = false
				return typeOfRef(v.s, &inner)
			}
			return typeOfRef(v.s, v.t.Elem)
		}
		return nil
	}
	d := v.def
	deprecated, _ := args["includeDeprecated"].(bool)
	switch name {
	case "kind":
		return string(d.Kind)
	case "name":
		return d.Name
	case "description":
		return text(d.Description)
	case "fields":
		if d.Kind != ast.Object && d.Kind != ast.Interface {
			return nil
		}
		var out []any
		for _, f := range d.Fields {
			if strings.HasPrefix(f.Name, "__") || (!deprecated && f.Directives.ForName("deprecated") != nil) {
				continue
			}
			out = append(out, fieldValue{s: v.s, f: f})
		}
		return orEmpty(out)
	case "interfaces":
		if d.Kind != ast.Object && d.Kind != ast.Interface {
			return nil
		}
		var out []any
		for _, n := range d.Interfaces {
			out = append(out, named(v.s, v.s.Types[n]))
		}
		return orEmpty(out)
	case "possibleTypes":
		if d.Kind != ast.Interface && d.Kind != ast.Union {
			return nil
		}
		var out []any
		for _, p := range v.s.GetPossibleTypes(d) {
			out = append(out, named(v.s, p))
		}
		return orEmpty(out)
	case "enumValues":
		if d.Kind != ast.Enum {
			return nil
		}
		var out []any
		for _, e := range d.EnumValues {
			if deprecated || e.Directives.ForName("deprecated") == nil {
				out = append(out, enumValue{e: e})
			}
		}
		return orEmpty(out)
	case "inputFields":
		if d.Kind != ast.InputObject {
			return nil
		}
		var out []any
		for _, f := range d.Fields {
			out = append(out, inputValue{s: v.s, name: f.Name, description: f.Description, t: f.Type, def: f.DefaultValue, directives: f.Directives})
		}
		return orEmpty(out)
	case "specifiedByURL":
		if dir := d.Directives.ForName("specifiedBy"); dir != nil {
			if a := dir.Arguments.ForName("url"); a != nil && a.Value != nil {
				return a.Value.Raw
			}
		}
		return nil
	case "isOneOf":
		return d.Directives.ForName("oneOf") != nil
	}
	return nil
}

// fieldValue is a __Field.
type fieldValue struct {
	s *ast.Schema
	f *ast.FieldDefinition
}

func (v fieldValue) field(name string, _ map[string]any) any {
	switch name {
	case "name":
		return v.f.Name
	case "description":
		return text(v.f.Description)
	case "args":
		return arguments(v.s, v.f.Arguments)
	case "type":
		return typeOfRef(v.s, v.f.Type)
	}
	return deprecation(v.f.Directives, name)
}

// arguments are the __InputValues of a field's or a directive's
// arguments.
func arguments(s *ast.Schema, args ast.ArgumentDefinitionList) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = inputValue{s: s, name: a.Name, description: a.Description, t: a.Type, def: a.DefaultValue, directives: a.Directives}
	}
	return out
}

// inputValue is an __InputValue: an argument or an input field.
type inputValue struct {
	s                 *ast.Schema
	name, description string
	t                 *ast.Type
	def               *ast.Value
	directives        ast.DirectiveList
}

func (v inputValue) field(name string, _ map[string]any) any {
	switch name {
	case "name":
		return v.name
	case "description":
		return text(v.description)
	case "type":
		return typeOfRef(v.s, v.t)
	case "defaultValue":
		if v.def == nil {
			return nil
		}
		return v.def.String()
	}
	return deprecation(v.directives, name)
}

// enumValue is an __EnumValue.
type enumValue struct{ e *ast.EnumValueDefinition }

func (v enumValue) field(name string, _ map[string]any) any {
	switch name {
	case "name":
		return v.e.Name
	case "description":
		return text(v.e.Description)
	}
	return deprecation(v.e.Directives, name)
}

// directiveValue is a __Directive.
type directiveValue struct {
	s *ast.Schema
	d *ast.DirectiveDefinition
}

func (v directiveValue) field(name string, _ map[string]any) any {
	switch name {
	case "name":
		return v.d.Name
	case "description":
		return text(v.d.Description)
	case "locations":
		out := make([]any, len(v.d.Locations))
		for i, l := range v.d.Locations {
			out[i] = string(l)
		}
		return out
	case "args":
		return arguments(v.s, v.d.Arguments)
	case "isRepeatable":
		return v.d.IsRepeatable
	}
	return nil
}

// deprecation answers isDeprecated and deprecationReason from the
// @deprecated directive of ds.
func deprecation(ds ast.DirectiveList, name string) any {
	d := ds.ForName("deprecated")
	switch name {
	case "isDeprecated":
		return d != nil
	case "deprecationReason":
		if d == nil {
			return nil
		}
		if a := d.Arguments.ForName("reason"); a != nil && a.Value != nil {
			return a.Value.Raw
		}
		return "No longer supported"
	}
	return nil
}

// text is a description: null when empty.
func text(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func orEmpty(out []any) []any {
	if out == nil {
		return []any{}
	}
	return out
}
