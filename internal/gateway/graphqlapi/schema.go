package graphqlapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/query"
)

// Bounds of the walk of a collection's JSON Schema, as the query
// language's (query.SchemaFromJSON): deeper properties, and properties past
// the first maxFields of a collection, are not fields of its types (their
// values are still in the JSON of the enclosing field's parent … and in
// REST).
const (
	maxDepth  = 16
	maxFields = 4096
)

// The types every schema has, and the names no collection's type may take.
var builtinTypes = []string{
	"Query", "Mutation", "Subscription", "String", "Int", "Float", "Boolean", "ID",
	"JSON", "DateTime", "PageInfo", "Account", "DeletedDocument", "ChangeType",
}

// Schema is the GraphQL schema of one caller: the types and root fields
// of the collections their catalog lists, with the fields they may see,
// and the collection each type and root field stands for.
type Schema struct {
	// SDL is the schema in the GraphQL schema language.
	SDL string
	// AST is SDL parsed and validated.
	AST *ast.Schema
	// Collections are the collections of the schema, by name.
	Collections map[string]*Collection
	// Roots maps each root field of Query to the collection it lists or
	// gets ("" for the others, such as me).
	Roots map[string]Root
	// Mutations maps each root field of Mutation to the collection it
	// writes.
	Mutations map[string]Root
	// Subscriptions maps each root field of Subscription to the
	// collection whose change events it streams.
	Subscriptions map[string]Root
	// fingerprint identifies the catalog the schema was built from.
	fingerprint [32]byte
	// relations are the relation fields of each object type, by type and
	// field name.
	relations map[string]map[string]Relation
}

// Root is what a root field of Query or Mutation does, and to which
// collection.
type Root struct {
	Collection string
	Kind       RootKind
}

// RootKind is what a root field does: the document service's call it
// makes.
type RootKind string

// The root fields of a collection: its queries, then its mutations.
const (
	RootList    RootKind = "list"    // Query.<c>: ListDocuments
	RootGet     RootKind = "get"     // Query.<c>ById: GetDocument
	RootCreate  RootKind = "create"  // Mutation.<c>Create: CreateDocument
	RootReplace RootKind = "replace" // Mutation.<c>Replace: ReplaceDocument
	RootPatch   RootKind = "patch"   // Mutation.<c>Patch: PatchDocument
	RootDelete  RootKind = "delete"  // Mutation.<c>Delete: DeleteDocument
	// Query.<c>Search (search.go).
	// Subscription.<c>Changes: the collection's change events.
	RootChanges RootKind = "changes"
	// Subscription.<c>ByIdChanges: one document's change events.
	RootDocumentChanges RootKind = "documentChanges"
)

// Collection is one collection as the schema shows it.
type Collection struct {
	Name string
	// Type is its object type; Connection and Edge its Relay connection's;
	// Change the type of its change events ("" without a subscription
	// field).
	Type, Connection, Edge, Change string
	// Input is the input type of its data in create, replace and patch
	// ("JSON" when no property is typed).
	Input string
	// Filter and OrderBy are the input types of its list's filter and
	// orderBy ("" without a list field).
	Filter, OrderBy string
	filter          *filterSpec
	order           *orderSpec
	// Fields are the data properties that are fields of Type (system
	// fields apart), in order.
	Fields []Field
	// Relations are the relation fields of Type, by field name.
	Relations map[string]Relation
}

// Relation is a field of a collection's type that resolves a reference
// to the documents it refers to.
type Relation struct {
	// Name is the GraphQL field; Field the data field holding the ids.
	Name, Field string
	// Collection is the collection of the referenced documents.
	Collection string
	// Many: the field holds several ids, and the relation a list.
	Many bool
}

// Field is a data property shown as a field of an object type.
type Field struct {
	// Name is the property's name, and the field's.
	Name string
	// Type is the GraphQL type, such as "String", "[Int]" or
	// "PostsAddress"; Input its input type ("PostsAddressInput" for an
	// object's, else Type).
	Type, Input string
	// Object, for a property holding an object with fields of its own, is
	// its type's fields.
	Object []Field
	// Enum, for a string property whose schema lists its values (each a
	// GraphQL name), are the values of its enum type.
	Enum []string
}

// BuildSchema returns the GraphQL schema of the caller whose catalog is
// cat: per collection an object type (the system fields, then the data
// properties of the schema the caller may see), its Relay connection, and
// root fields to list it (where they may list) and to get one document
// (where they may get). Names follow ../shared/API.md: a collection
// blog_posts is the type BlogPosts and the root fields blogPosts and
// blogPostsById.
func BuildSchema(cat docstore.Catalog) (*Schema, error) {
	b := &builder{types: newNamespace(slices.Concat(builtinTypes, filterTypes, accountTypes, searchTypes)...), roots: newNamespace(accountRoots...),
		mutations: newNamespace(accountMutations...), subscriptions: newNamespace(),
		s: &Schema{Collections: map[string]*Collection{}, Roots: map[string]Root{}, Mutations: map[string]Root{},
			Subscriptions: map[string]Root{}}}
	// Every collection claims its own type name first, so that another
	// collection's derived type (a connection, a nested object) never
	// takes it.
	names := make([]string, len(cat.Collections))
	b.gettable = map[string]string{}
	for i, e := range cat.Collections {
		names[i] = b.types.claim(pascal(e.Name), "Document")
		if e.Allows(auth.ActionGet) {
			b.gettable[e.Name] = names[i]
		}
	}
	for i, e := range cat.Collections {
		if err := b.collection(e, names[i]); err != nil {
			return nil, err
		}
	}
	b.sdl.WriteString(commonSDL)
	b.sdl.WriteString(filterSDL)
	b.sdl.WriteString(accountSDL)
	if b.searchable {
		b.sdl.WriteString(searchSDL)
	}
	b.sdl.WriteString("type Query {\n  \"The caller's account; null without credentials.\"\n  me: Account\n")
	b.sdl.WriteString(accountQuery)
	b.sdl.Write(b.query.Bytes())
	b.sdl.WriteString("}\n\ntype Mutation {\n")
	b.sdl.WriteString(accountMutation)
	b.sdl.Write(b.mutation.Bytes())
	b.sdl.WriteString("}\n")
	if b.subscription.Len() > 0 { // an object type has at least one field
		b.sdl.WriteString("\n" + changeTypeSDL + "type Subscription {\n")
		b.sdl.Write(b.subscription.Bytes())
		b.sdl.WriteString("}\n")
	}
	b.s.SDL = b.sdl.String()
	sch, err := gqlparser.LoadSchema(&ast.Source{Name: "basalt", Input: b.s.SDL})
	if err != nil {
		return nil, fmt.Errorf("graphqlapi: the built schema does not load: %w", err)
	}
	b.s.AST = sch
	return b.s, nil
}

// commonSDL declares the types every schema has.
const commonSDL = `"Any JSON value: what a collection's schema does not type."
scalar JSON

"A date and time, RFC 3339 with microseconds, in UTC (as REST writes them)."
scalar DateTime

"Where a page of a connection stands (Relay cursor connections)."
type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

"An account, as GET /v1/auth/me shows it."
type Account {
  id: ID!
  email: String!
  roles: [String!]!
  verified: Boolean!
  verifiedAt: DateTime
  disabled: Boolean!
  createdAt: DateTime!
  updatedAt: DateTime!
}

"A document a mutation deleted."
type DeletedDocument {
  id: ID!
  collection: String!
}

`

type builder struct {
	// gettable are the types of the collections the caller may get, by
	// collection: the targets of relation fields.
	gettable map[string]string
	// enumComparisons are the comparison types of enums written so far,
	// by enum type ("[E]" for lists of E).
	enumComparisons map[string]string

	// searchable: some collection has a search field.
	searchable bool

	types, roots, mutations, subscriptions *namespace
	s                                      *Schema
	sdl, query, mutation, subscription     bytes.Buffer
	fields                                 int // fields of the current collection so far
}

// collection adds the types and root fields of e, whose type is named typ.
func (b *builder) collection(e docstore.CatalogEntry, typ string) error {
	c := &Collection{Name: e.Name, Type: typ}
	var root map[string]any
	dec := json.NewDecoder(bytes.NewReader(e.Schema))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return fmt.Errorf("graphqlapi: the schema of %q: %w", e.Name, err)
	}
	b.fields = 0
	c.Fields = b.properties(typ, root, 0, true)
	c.Connection = b.types.claim(typ+"Connection", "_")
	c.Edge = b.types.claim(typ+"Edge", "_")
	c.Input = "JSON"
	if len(c.Fields) > 0 {
		c.Input = b.types.claim(typ+"Input", "_")
	}
	b.s.Collections[e.Name] = c

	fmt.Fprintf(&b.sdl, "%s\ntype %s {\n", description("A document of the collection "+e.Name+"."), typ)
	b.sdl.WriteString("  id: ID!\n  collection: String!\n  version: Int!\n  createdAt: DateTime!\n  updatedAt: DateTime!\n")
	writeFields(&b.sdl, c.Fields)
	b.relations(e, c)
	b.sdl.WriteString("}\n\n")
	if c.Input != "JSON" {
		fmt.Fprintf(&b.sdl, "%s\ninput %s {\n", description("The data of a document of "+e.Name+
			" to create, replace or patch: the collection's schema validates it, and in a patch (JSON Merge Patch) null removes a field."), c.Input)
		writeInputs(&b.sdl, c.Fields)
		b.sdl.WriteString("}\n\n")
	}
	b.objects(c.Fields)
	fmt.Fprintf(&b.sdl, "%s\ntype %s {\n  edges: [%s!]!\n  nodes: [%s!]!\n  pageInfo: PageInfo!\n"+
		"  \"How many documents match, when asked for with total: true (at most the server's --list-total-cap).\"\n  totalCount: Int\n}\n\n",
		description("A page of the collection "+e.Name+"."), c.Connection, c.Edge, typ)
	fmt.Fprintf(&b.sdl, "type %s {\n  cursor: String!\n  node: %s!\n}\n\n", c.Edge, typ)

	field := camel(e.Name)
	if e.Allows(auth.ActionList) {
		c.Filter = b.types.claim(typ+"Filter", "_")
		c.filter = b.filterOf(c.Filter, c.Fields, "", true)
		c.order, c.OrderBy = b.orderOf(typ, c.Fields, "", true)
		name := b.roots.claim(field, "Documents")
		b.s.Roots[name] = Root{Collection: e.Name, Kind: RootList}
		fmt.Fprintf(&b.query, "  %s\n  %s(first: Int, after: String, filter: %s, orderBy: [%s!], where: String, sort: String, total: Boolean): %s!\n",
			description("Documents of "+e.Name+" the list rule admits, in pages. filter and orderBy are typed; where and sort are the same in REST's query language (where is and-ed with filter; sort and orderBy are one or the other)."),
			name, c.Filter, c.OrderBy, c.Connection)
	}
	b.searchOf(e, field, c)
	if e.Allows(auth.ActionGet) {
		name := b.roots.claim(field+"ById", "_")
		b.s.Roots[name] = Root{Collection: e.Name, Kind: RootGet}
		fmt.Fprintf(&b.query, "  %s\n  %s(id: ID!): %s\n", description("The document of "+e.Name+" with this id, if the get rule admits it; else null."), name, typ)
	}
	b.mutationsOf(e, field, c)
	b.subscriptionsOf(e, field, c)
	return nil
}

// changeTypeSDL declares what a change event reports, in every schema
// with subscriptions.
const changeTypeSDL = `"What a change event reports."
enum ChangeType {
  "A document was created."
  CREATED
  "A document's data was replaced."
  REPLACED
  "A document's data was patched."
  PATCHED
  "A document was deleted (document is null)."
  DELETED
  "The collection's definition changed: delivered to admins who may view definitions; the events after it are decided under the new rules."
  COLLECTION_REPLACED
  "The collection was deleted: the subscription completes after this event."
  COLLECTION_DELETED
  "Events after the position resumed from are no longer kept: some were lost. Reload what you show, then go on from this event's position."
  GAP
}

`

// subscriptionsOf adds the subscription fields of the collection e (field:
// its camelCase name) the caller could be admitted to, and the type of
// its change events: <c>Changes, the collection's events, where the
// caller may list and get (its events are decided by the get rule, and
// filter selects among them as in a list); <c>ByIdChanges, one
// document's, where they may get.
func (b *builder) subscriptionsOf(e docstore.CatalogEntry, field string, c *Collection) {
	list, get := e.Allows(auth.ActionList), e.Allows(auth.ActionGet)
	if !get {
		return
	}
	c.Change = b.types.claim(c.Type+"Change", "_")
	fmt.Fprintf(&b.sdl, "%s\ntype %s {\n", description("A change event of the collection "+e.Name+", as the caller may see it."), c.Change)
	b.sdl.WriteString("  \"What happened.\"\n  type: ChangeType!\n" +
		"  \"The event's position: pass it as after to resume after this event.\"\n  position: String!\n" +
		"  \"The event's id: unique, the same however often it is delivered (null for a gap).\"\n  eventId: ID\n" +
		"  \"The document written (null for collection events and gaps).\"\n  documentId: ID\n" +
		"  \"The version the write produced: the document's new version; for a delete, the deleted version + 1; for collection events, the definition's.\"\n  version: Int\n" +
		"  \"When the write happened.\"\n  time: DateTime\n" +
		"  \"The batch the write was part of (POST /v1/batch), if any.\"\n  batchId: ID\n")
	fmt.Fprintf(&b.sdl, "  %s\n  document: %s\n}\n\n", description("The document after the write, as the caller may see it (hidden fields removed); null for deletes, collection events and gaps."), c.Type)
	const after = "after: String"
	if list {
		name := b.subscriptions.claim(field+"Changes", "_")
		b.s.Subscriptions[name] = Root{Collection: e.Name, Kind: RootChanges}
		args := "where: String, " + after
		if c.Filter != "" {
			args = "filter: " + c.Filter + ", " + args
		}
		fmt.Fprintf(&b.subscription, "  %s\n  %s(%s): %s!\n", description("The change events of "+e.Name+" from now on (or after the position after), each delivered if the get rule admits the document as written; "+
			"filter and where select among them as in a list. Deletes reach admins, and callers the subscription showed the document to."), name, args, c.Change)
	}
	name := b.subscriptions.claim(field+"ByIdChanges", "_")
	b.s.Subscriptions[name] = Root{Collection: e.Name, Kind: RootDocumentChanges}
	fmt.Fprintf(&b.subscription, "  %s\n  %s(id: ID!, %s): %s!\n", description("The change events of the document of "+e.Name+" with this id, from now on (or after the position after), while the get rule admits it."),
		name, after, c.Change)
}

// mutationsOf adds the mutations of the collection e (field: its
// camelCase name) the caller could be admitted to. Each answers null, with
// an error, where REST answers a problem; expectedVersion is REST's
// If-Match, and idempotencyKey its Idempotency-Key.
func (b *builder) mutationsOf(e docstore.CatalogEntry, field string, c *Collection) {
	add := func(suffix string, kind RootKind, doc, args, typ string) {
		name := b.mutations.claim(field+suffix, "_")
		b.s.Mutations[name] = Root{Collection: e.Name, Kind: kind}
		fmt.Fprintf(&b.mutation, "  %s\n  %s(%s, idempotencyKey: String): %s\n", description(doc), name, args, typ)
	}
	const cas = "expectedVersion: Int"
	if e.Allows(auth.ActionCreate) {
		add("Create", RootCreate, "Creates a document of "+e.Name+" (id: generated when left out), if the create rule admits it.",
			"id: ID, data: "+c.Input+"!", c.Type)
	}
	if e.Allows(auth.ActionUpdate) {
		add("Replace", RootReplace, "Replaces the data of a document of "+e.Name+", if the update rule admits it; with expectedVersion, only at that version.",
			"id: ID!, data: "+c.Input+"!, "+cas, c.Type)
		add("Patch", RootPatch, "Patches the data of a document of "+e.Name+" (JSON Merge Patch: null removes a field), if the update rule admits it; with expectedVersion, only at that version.",
			"id: ID!, patch: "+c.Input+"!, "+cas, c.Type)
	}
	if e.Allows(auth.ActionDelete) {
		add("Delete", RootDelete, "Deletes a document of "+e.Name+", if the delete rule admits it; with expectedVersion, only at that version.",
			"id: ID!, "+cas, "DeletedDocument")
	}
}

// relations writes the relation fields of the collection e's type: for
// each reference whose field is a field of the type and whose collection
// the caller may get, <field>Document (one id) or <field>Documents (ids).
func (b *builder) relations(e docstore.CatalogEntry, c *Collection) {
	if len(e.References) == 0 {
		return
	}
	names := newNamespace("id", "collection", "version", "createdAt", "updatedAt")
	byName := map[string]Field{}
	for _, f := range c.Fields {
		names.claim(f.Name, "")
		byName[f.Name] = f
	}
	for _, field := range slices.Sorted(maps.Keys(e.References)) {
		target := e.References[field]
		typ, ok := b.gettable[target]
		f, declared := byName[field]
		if !ok || !declared || (f.Type != "String" && f.Type != "[String]") {
			continue
		}
		r := Relation{Field: field, Collection: target, Many: f.Type == "[String]"}
		if r.Many {
			r.Name = names.claim(field+"Documents", "_")
			fmt.Fprintf(&b.sdl, "  %s\n  %s: [%s!]!\n", description(fmt.Sprintf("The documents of %s that %s refers to, those the caller may get (the first %d ids).",
				target, field, MaxRelationItems)), r.Name, typ)
		} else {
			r.Name = names.claim(field+"Document", "_")
			fmt.Fprintf(&b.sdl, "  %s\n  %s: %s\n", description("The document of "+target+" that "+field+" refers to; null when missing or not the caller's to get."), r.Name, typ)
		}
		if c.Relations == nil {
			c.Relations = map[string]Relation{}
		}
		c.Relations[r.Name] = r
		if b.s.relations == nil {
			b.s.relations = map[string]map[string]Relation{}
		}
		if b.s.relations[c.Type] == nil {
			b.s.relations[c.Type] = map[string]Relation{}
		}
		b.s.relations[c.Type][r.Name] = r
	}
}

// MaxRelationItems is the most ids a relation field of several documents
// resolves (the first ones of its field).
const MaxRelationItems = 50

// objects writes the object types of the object fields in fs, depth
// first.
func (b *builder) objects(fs []Field) {
	for _, f := range fs {
		if f.Enum != nil {
			fmt.Fprintf(&b.sdl, "enum %s {\n", strings.Trim(f.Type, "[]!"))
			for _, v := range f.Enum {
				fmt.Fprintf(&b.sdl, "  %s\n", v)
			}
			b.sdl.WriteString("}\n\n")
		}
		if f.Object == nil {
			continue
		}
		fmt.Fprintf(&b.sdl, "type %s {\n", strings.Trim(f.Type, "[]!"))
		writeFields(&b.sdl, f.Object)
		b.sdl.WriteString("}\n\n")
		fmt.Fprintf(&b.sdl, "input %s {\n", strings.Trim(f.Input, "[]!"))
		writeInputs(&b.sdl, f.Object)
		b.sdl.WriteString("}\n\n")
		b.objects(f.Object)
	}
}

func writeFields(w *bytes.Buffer, fs []Field) {
	for _, f := range fs {
		fmt.Fprintf(w, "  %s: %s\n", f.Name, f.Type)
	}
}

func writeInputs(w *bytes.Buffer, fs []Field) {
	for _, f := range fs {
		fmt.Fprintf(w, "  %s: %s\n", f.Name, f.Input)
	}
}

// properties returns the fields of the object schema obj, a property of
// type parent (top: the document's data, whose system-named properties
// the system fields shadow), in name order.
func (b *builder) properties(parent string, obj map[string]any, depth int, top bool) []Field {
	props, _ := obj["properties"].(map[string]any)
	keys := make([]string, 0, len(props))
	for k := range props {
		if fieldName(k) && (!top || !system(k)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	fields := make([]Field, 0, len(keys))
	for _, k := range keys {
		if b.fields >= maxFields {
			break
		}
		sub, ok := props[k].(map[string]any)
		if !ok {
			if v, isBool := props[k].(bool); isBool && v {
				sub = map[string]any{} // the schema true: any value
			} else {
				continue // false, or not a schema: never present
			}
		}
		b.fields++
		fields = append(fields, b.field(parent, k, sub, depth))
	}
	return fields
}

// field is the field of property name of type parent, whose schema is
// prop.
func (b *builder) field(parent, name string, prop map[string]any, depth int) Field {
	f := Field{Name: name}
	switch t := typeOf(prop); t {
	case "object":
		if depth+1 >= maxDepth {
			f.Type = "JSON"
			break
		}
		typ := b.types.claim(parent+pascal(name), "_")
		f.Object = b.properties(typ, prop, depth+1, false)
		if len(f.Object) == 0 {
			f.Type, f.Object = "JSON", nil // nothing to select: the value whole
			break
		}
		f.Type, f.Input = typ, b.types.claim(typ+"Input", "_")
	case "array":
		items, _ := prop["items"].(map[string]any)
		if items == nil {
			f.Type = "[JSON]"
			break
		}
		item := b.field(parent, name+"Item", items, depth)
		f.Type, f.Input, f.Object, f.Enum = "["+item.Type+"]", "["+item.Input+"]", item.Object, item.Enum
	case "string":
		f.Type = "String"
		if values, ok := enumValues(prop); ok {
			f.Type = b.types.claim(parent+pascal(name), "_")
			f.Enum = values
		}
	case "integer":
		f.Type = "Int"
		if !int32Bounded(prop) {
			f.Type = "Float" // beyond GraphQL's Int (32 bits): every JSON number fits a Float
		}
	case "number":
		f.Type = "Float"
	case "boolean":
		f.Type = "Boolean"
	default:
		f.Type = "JSON"
	}
	if f.Input == "" {
		f.Input = f.Type
	}
	return f
}

// enumValues are the values of a string schema's "enum", when there are
// some and each is a GraphQL enum value (a name, not true, false or null).
func enumValues(prop map[string]any) ([]string, bool) {
	list, ok := prop["enum"].([]any)
	if !ok || len(list) == 0 {
		return nil, false
	}
	values := make([]string, 0, len(list))
	seen := map[string]bool{}
	for _, v := range list {
		s, ok := v.(string)
		if !ok || !fieldName(s) || s == "true" || s == "false" || s == "null" {
			return nil, false
		}
		if !seen[s] {
			seen[s] = true
			values = append(values, s)
		}
	}
	return values, true
}

// typeOf is the JSON type a property schema's "type" allows besides null:
// "" for none or several (["integer", "number"] is "number").
func typeOf(prop map[string]any) string {
	switch v := prop["type"].(type) {
	case string:
		return v
	case []any:
		t := ""
		for _, e := range v {
			name, ok := e.(string)
			switch {
			case !ok:
				return ""
			case name == "null":
			case t == "" || t == name:
				t = name
			case (t == "integer" && name == "number") || (t == "number" && name == "integer"):
				t = "number"
			default:
				return ""
			}
		}
		return t
	}
	return ""
}

// int32Bounded reports whether an integer schema's minimum and maximum
// keep its values within GraphQL's Int.
func int32Bounded(prop map[string]any) bool {
	bound := func(key string, limit float64, below bool) bool {
		n, ok := prop[key].(json.Number)
		if !ok {
			return false
		}
		f, err := n.Float64()
		if err != nil {
			return false
		}
		if below {
			return f <= limit
		}
		return f >= limit
	}
	return (bound("minimum", math.MinInt32, false) || bound("exclusiveMinimum", math.MinInt32-1, false)) &&
		(bound("maximum", math.MaxInt32, true) || bound("exclusiveMaximum", math.MaxInt32+1, true))
}

// fieldName reports whether a property's name is a GraphQL field name
// the query language can also address (query.ValidName), without
// GraphQL's reserved "__" prefix.
func fieldName(name string) bool {
	return query.ValidName(name) && !strings.HasPrefix(name, "__")
}

// system reports whether a top-level property is shadowed by a system
// field of the document's type.
func system(name string) bool {
	switch name {
	case "id", "collection", "version", "createdAt", "updatedAt":
		return true
	}
	return false
}

// description is s as a GraphQL string description.
func description(s string) string { return strconv.Quote(s) }
