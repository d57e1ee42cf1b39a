package docstore

import (
	"context"
	"encoding/json"
	"maps"
	"slices"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/fault"
)

// Catalog is what the caller of a request may reach of the document API:
// the collections whose rules and scopes could admit them, each with the
// actions that could, and whether they may read and change collection
// definitions. Transports describe the API from it (the OpenAPI document),
// so a caller is never told about a collection, an action or a hidden field
// they cannot use.
type Catalog struct {
	// ViewDefinitions: the caller may list and read collection
	// definitions (admins; API keys need auth.ScopeCollectionsView).
	ViewDefinitions bool
	// ManageDefinitions: the caller may create, change and delete
	// collections (admins; API keys need auth.ScopeCollectionsManage).
	ManageDefinitions bool
	// Collections are ordered by name.
	Collections []CatalogEntry
}

// CatalogEntry is one collection as the caller may use it.
type CatalogEntry struct {
	Name string
	// Actions are the actions on documents (auth.ActionList, …, in that
	// order) that the collection's rules and the caller's scopes could
	// admit: those whose verdict for this caller is not statically "no
	// document". An action left out is always refused.
	Actions []string
	// Anonymous are the actions among Actions that could admit callers
	// without credentials too; the others need credentials.
	Anonymous []string
	// Schema is the collection's JSON Schema as the caller may see it:
	// for callers who are not admins, without the hidden fields (removed
	// from "properties" and "required" along their paths).
	Schema json.RawMessage
	// References are the collection's references whose field the caller
	// may see (field → collection); nil for none.
	References map[string]string
	// Search says how the collection is searchable, when it is and the
	// caller could be admitted to list it (searches apply the list rule);
	// nil otherwise.
	Search *CatalogSearch
}

// CatalogSearch is what a caller may search a collection by.
type CatalogSearch struct {
	// Text: full-text search is configured.
	Text bool
	// Vectors are the vector fields the caller may see, in name order.
	Vectors []string
}

// Allows reports whether e lists action.
func (e CatalogEntry) Allows(action string) bool {
	for _, a := range e.Actions {
		if a == action {
			return true
		}
	}
	return false
}

// Catalog returns what the caller in ctx may reach: every collection with
// at least one action that could admit them. It never fails for lack of
// rights; a caller who may reach nothing gets an empty catalog. Like reads,
// it trusts the definitions this process read within DefinitionTTL:
// changes made here apply at once, those made through another process
// within DefinitionTTL.
func (s *Service) Catalog(ctx context.Context) (Catalog, error) {
	const op = "docstore.Catalog"
	p := auth.FromContext(ctx)
	who := callerOf(ctx)
	cat := Catalog{
		ViewDefinitions:   p.Manage(op, auth.ScopeCollectionsView) == nil,
		ManageDefinitions: p.Manage(op, auth.ScopeCollectionsManage) == nil,
	}
	cs, err := s.allCollections(ctx, op)
	if err != nil {
		return Catalog{}, err
	}
	for _, c := range cs {
		compiled, err := s.schemaOf(op, c)
		if err != nil {
			return Catalog{}, err
		}
		a := compiled.access
		var actions, anonymous []string
		for act := range numActions {
			ok, err := a.couldAdmit(op, c.Name, who, act)
			if err != nil {
				return Catalog{}, err
			}
			if !ok {
				continue
			}
			actions = append(actions, actionName(act))
			if ok, err = a.couldAdmit(op, c.Name, caller{}, act); err != nil {
				return Catalog{}, err
			} else if ok {
				anonymous = append(anonymous, actionName(act))
			}
		}
		if len(actions) == 0 {
			continue
		}
		schema := c.Schema
		if !a.shows(who) {
			schema = compiled.public
		}
		var refs map[string]string
		for field, target := range c.References {
			if a.shows(who) || !slices.ContainsFunc(a.hidden, func(h []string) bool { return h[0] == field }) {
				if refs == nil {
					refs = make(map[string]string, len(c.References))
				}
				refs[field] = target
			}
		}
		e := CatalogEntry{Name: c.Name, Actions: actions, Anonymous: anonymous, Schema: schema, References: refs}
		if c.Search.Enabled() && e.Allows(auth.ActionList) {
			e.Search = &CatalogSearch{Text: c.Search.Text != nil}
			for _, f := range slices.Sorted(maps.Keys(c.Search.Vectors)) {
				if a.shows(who) || !slices.ContainsFunc(a.hidden, func(h []string) bool { return h[0] == f }) {
					e.Search.Vectors = append(e.Search.Vectors, f)
				}
			}
		}
		cat.Collections = append(cat.Collections, e)
	}
	return cat, nil
}

// couldAdmit reports whether the scopes and the rule of act could admit
// the caller c: whether its verdict is not statically "no document".
func (a *access) couldAdmit(op, collection string, c caller, act int) (bool, error) {
	v, err := a.decide(op, collection, c, act)
	if err != nil {
		if k := fault.KindOf(err); k != fault.Forbidden && k != fault.Unauthenticated {
			return false, err
		}
		return false, nil
	}
	return !v.none, nil
}

// schemaWithoutHidden returns a JSON Schema from which the properties at
// the hidden paths, and their names in the "required" lists along the
// way, have been removed: nothing in it names a hidden field.
func schemaWithoutHidden(schema []byte, hidden [][]string) (json.RawMessage, error) {
	if len(schema) == 0 {
		schema = []byte(`{"type":"object"}`)
	}
	root, err := decodeData(schema)
	if err != nil {
		return nil, err
	}
	removeHiddenProperties(root, hidden)
	return canonicalJSON(root)
}

// removeHiddenProperties deletes the properties at the hidden paths from
// the decoded JSON Schema root, and their names from the "required" list
// of the object schema that declares them.
func removeHiddenProperties(root map[string]any, hidden [][]string) {
	for _, path := range hidden {
		obj := root
		for i, p := range path {
			props, _ := obj["properties"].(map[string]any)
			if props == nil {
				break
			}
			if i == len(path)-1 {
				delete(props, p)
				if req, ok := obj["required"].([]any); ok {
					kept := req[:0:0]
					for _, r := range req {
						if r != p {
							kept = append(kept, r)
						}
					}
					if len(kept) == 0 {
						delete(obj, "required")
					} else {
						obj["required"] = kept
					}
				}
				break
			}
			if obj, _ = props[p].(map[string]any); obj == nil {
				break
			}
		}
	}
}
