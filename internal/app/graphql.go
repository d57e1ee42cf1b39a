package app

import (
	"fmt"

	"github.com/basaltdev/basalt/internal/gateway/graphqlapi"
)

// GraphQLConfig configures the GraphQL API.
type GraphQLConfig struct {
	// Introspection answers __schema and __type.
	Introspection bool
	// Suggestions puts "Did you mean …?" in validation errors.
	Suggestions bool
	// IDE serves GraphiQL at GET /graphql to browsers.
	IDE bool
	// MaxDepth and MaxComplexity bound each document (graphqlapi.Limits).
	MaxDepth, MaxComplexity int
}

// DefaultGraphQLConfig has introspection and suggestions on, no IDE, and
// graphqlapi.DefaultLimits' depth and complexity.
func DefaultGraphQLConfig() GraphQLConfig {
	l := graphqlapi.DefaultLimits()
	return GraphQLConfig{Introspection: true, Suggestions: true, MaxDepth: l.MaxDepth, MaxComplexity: l.MaxComplexity}
}

type graphqlFlags struct {
	GraphQLIntrospection bool `name:"graphql-introspection" help:"Answer GraphQL introspection (__schema, __type), which client code generators and IDEs read the schema with; each caller is shown only their own schema ($$BASALT_GRAPHQL_INTROSPECTION)." default:"true" negatable:""`
	GraphQLSuggestions   bool `name:"graphql-suggestions" help:"Suggest the names of fields, arguments and types in GraphQL validation errors (\"Did you mean …?\") ($$BASALT_GRAPHQL_SUGGESTIONS)." default:"true" negatable:""`
	GraphQLIDE           bool `name:"graphql-ide" help:"Serve GraphiQL, an IDE in the browser, at GET /graphql to browsers (for development: the page loads its scripts from unpkg.com, pinned by their hashes) ($$BASALT_GRAPHQL_IDE)." default:"false" negatable:""`
	GraphQLMaxDepth      int  `name:"graphql-max-depth" help:"Deepest nesting of a GraphQL document's selections, fragments expanded (1 to 100) ($$BASALT_GRAPHQL_MAX_DEPTH)." default:"12"`
	GraphQLMaxComplexity int  `name:"graphql-max-complexity" help:"Highest complexity of a GraphQL document: each field 1, what is under a list once per document of its page (1 to 1000000) ($$BASALT_GRAPHQL_MAX_COMPLEXITY)." default:"10000"`
}

func (f graphqlFlags) apply(cfg *Config) {
	cfg.GraphQL = GraphQLConfig{Introspection: f.GraphQLIntrospection, Suggestions: f.GraphQLSuggestions, IDE: f.GraphQLIDE,
		MaxDepth: f.GraphQLMaxDepth, MaxComplexity: f.GraphQLMaxComplexity}
}

func (c GraphQLConfig) validate() error {
	if c.MaxDepth < 1 || c.MaxDepth > 100 {
		return fmt.Errorf("--graphql-max-depth must be 1 to 100, not %d", c.MaxDepth)
	}
	if c.MaxComplexity < 1 || c.MaxComplexity > 1_000_000 {
		return fmt.Errorf("--graphql-max-complexity must be 1 to 1000000, not %d", c.MaxComplexity)
	}
	return nil
}

// options are the graphqlapi options of c (the rest set by the caller).
func (c GraphQLConfig) options(o graphqlapi.Options) graphqlapi.Options {
	o.NoIntrospection, o.NoSuggestions, o.IDE = !c.Introspection, !c.Suggestions, c.IDE
	o.Limits.MaxDepth, o.Limits.MaxComplexity = c.MaxDepth, c.MaxComplexity
	return o
}
