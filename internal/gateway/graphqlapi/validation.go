package graphqlapi

import (
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// Validation is the set of rules a document is validated with: the
// specification's, with or without suggestions in their messages, and
// with or without introspection. Its zero value is the specification's
// rules, suggestions and introspection included.
type Validation struct {
	rules *rules.Rules
}

// NewValidation returns the rules with introspection (__schema and
// __type; __typename always stays) and the suggestions of error messages
// ("Did you mean …?", which tell a caller the names of fields they did not
// ask for) each on or off.
func NewValidation(introspection, suggestions bool) Validation {
	if introspection && suggestions {
		return Validation{}
	}
	r := rules.NewDefaultRules()
	if !suggestions {
		for _, swap := range []struct {
			name string
			rule core.Rule
		}{
			{rules.FieldsOnCorrectTypeRule.Name, rules.FieldsOnCorrectTypeRuleWithoutSuggestions},
			{rules.KnownArgumentNamesRule.Name, rules.KnownArgumentNamesRuleWithoutSuggestions},
			{rules.KnownTypeNamesRule.Name, rules.KnownTypeNamesRuleWithoutSuggestions},
			{rules.ScalarLeafsRule.Name, rules.ScalarLeafsRuleWithoutSuggestions},
			{rules.ValuesOfCorrectTypeRule.Name, rules.ValuesOfCorrectTypeRuleWithoutSuggestions},
		} {
			r.RemoveRule(swap.name)
			r.AddRule(swap.rule.Name, swap.rule.RuleFunc)
		}
	}
	if !introspection {
		r.AddRule("NoIntrospection", func(observers *core.Events, addError core.AddErrFunc) {
			observers.OnField(func(_ *core.Walker, f *ast.Field) {
				if f.Name == "__schema" || f.Name == "__type" {
					addError(core.Message(`introspection is turned off on this server: %s is not served`, f.Name), core.At(f.Position))
				}
			})
		})
	}
	return Validation{rules: r}
}

// validate validates doc against schema with v's rules.
func (v Validation) validate(schema *ast.Schema, doc *ast.QueryDocument) gqlerror.List {
	return validator.ValidateWithRules(schema, doc, v.rules)
}
