package docstore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// checkedSpec is a collection definition that passed checkSpec.
type checkedSpec struct {
	canon   json.RawMessage // the canonical schema
	indexes []Index
	rules   Rules
	hidden  []string
	search  Search // defaults explicit; the zero Search for none
	refs    map[string]string
	cs      *compiledSchema // with its access definition and vector fields
}

// checkSpec validates a collection definition: name, schema, indexes,
// rules (parsed against the schema), hidden fields and the search
// configuration (checked against the schema and the hidden fields).
func (s *Service) checkSpec(op string, spec CollectionSpec) (checkedSpec, error) {
	if err := checkCollectionName(op, spec.Name); err != nil {
		return checkedSpec{}, err
	}
	cs, canon, err := compileSchema(op, spec.Name, spec.Schema, s.limits)
	if err != nil {
		return checkedSpec{}, err
	}
	if len(spec.Indexes) > s.limits.MaxIndexes {
		return checkedSpec{}, fault.Newf(fault.Invalid, op, "a collection has at most %d indexes", s.limits.MaxIndexes)
	}
	seen := make(map[string]bool, len(spec.Indexes))
	indexes := make([]Index, 0, len(spec.Indexes))
	for i, ix := range spec.Indexes {
		ptr := fmt.Sprintf("/indexes/%d/fields", i)
		if len(ix.Fields) == 0 || len(ix.Fields) > s.limits.MaxIndexFields {
			return checkedSpec{}, &fault.Error{Kind: fault.Invalid, Op: op,
				Msg:    fmt.Sprintf("an index has 1 to %d fields", s.limits.MaxIndexFields),
				Fields: []fault.FieldError{{Pointer: ptr, Message: "wrong number of fields"}}}
		}
		for j, f := range ix.Fields {
			fd, ok := cs.fields.Lookup(f)
			if !ok {
				return checkedSpec{}, &fault.Error{Kind: fault.Invalid, Op: op,
					Msg:    fmt.Sprintf("index field %q is not a property of the schema", truncate(f, 80)),
					Fields: []fault.FieldError{{Pointer: fmt.Sprintf("%s/%d", ptr, j), Message: "unknown field"}}}
			}
			switch fd.Type {
			case query.TypeArray, query.TypeObject:
				return checkedSpec{}, &fault.Error{Kind: fault.Invalid, Op: op,
					Msg:    fmt.Sprintf("index field %q is an %s; only scalar fields can be indexed", f, fd.Type),
					Fields: []fault.FieldError{{Pointer: fmt.Sprintf("%s/%d", ptr, j), Message: "not a scalar field"}}}
			}
		}
		key := strings.Join(ix.Fields, "\x00")
		if seen[key] {
			return checkedSpec{}, &fault.Error{Kind: fault.Invalid, Op: op, Msg: "duplicate index",
				Fields: []fault.FieldError{{Pointer: ptr, Message: "duplicate index"}}}
		}
		seen[key] = true
		indexes = append(indexes, Index{Fields: append([]string(nil), ix.Fields...)})
	}
	rules := spec.Rules.clone()
	var hidden []string
	if len(spec.HiddenFields) > 0 {
		hidden = append([]string(nil), spec.HiddenFields...)
	}
	cs.access, err = compileAccess(op, canon, cs.fields, rules, hidden, s.limits)
	if err != nil {
		return checkedSpec{}, err
	}
	search, problems := checkSearch(spec.Search, cs.fields, hidden, s.embedders)
	if len(problems) > 0 {
		return checkedSpec{}, searchError(op, problems, s.limits)
	}
	cs.vectors = clientVectors(search)
	refs, err := checkReferences(op, spec.References, cs.fields, s.limits)
	if err != nil {
		return checkedSpec{}, err
	}
	return checkedSpec{canon: canon, indexes: indexes, rules: rules, hidden: hidden, search: search, refs: refs, cs: cs}, nil
}

// checkReferences checks a definition's references: each a top-level
// data field of type string or array of strings, naming a valid
// collection name; nil for none.
func checkReferences(op string, refs map[string]string, fields *query.Schema, lim Limits) (map[string]string, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	bad := func(field, msg string) error {
		ptr := pointer([]string{"references", truncate(field, 80)})
		return &fault.Error{Kind: fault.Invalid, Op: op, Msg: ptr + ": " + msg, Fields: []fault.FieldError{{Pointer: ptr, Message: msg}}}
	}
	if len(refs) > lim.MaxReferences {
		return nil, &fault.Error{Kind: fault.Invalid, Op: op, Msg: fmt.Sprintf("a collection has at most %d references", lim.MaxReferences),
			Fields: []fault.FieldError{{Pointer: "/references", Message: "too many references"}}}
	}
	out := make(map[string]string, len(refs))
	for _, field := range slices.Sorted(maps.Keys(refs)) {
		target := refs[field]
		fd, ok := fields.Lookup(field)
		switch {
		case !ok || len(fd.Path) != 1 || fd.System != query.SystemNone:
			return nil, bad(field, "not a top-level property of the schema")
		case fd.Type != query.TypeString && (fd.Type != query.TypeArray || fd.Items != query.TypeString):
			return nil, bad(field, "a reference is a string (one id) or an array of strings (ids)")
		}
		if err := checkCollectionName(op, target); err != nil {
			return nil, bad(field, "not a collection name")
		}
		out[field] = target
	}
	return out, nil
}

// CreateCollection creates a collection.
func (s *Service) CreateCollection(ctx context.Context, spec CollectionSpec) (Collection, error) {
	const op = "docstore.CreateCollection"
	if err := requireAdmin(ctx, op, auth.ScopeCollectionsManage); err != nil {
		return Collection{}, err
	}
	cs, err := s.checkSpec(op, spec)
	if err != nil {
		return Collection{}, err
	}
	now := s.timestamp()
	c := Collection{Name: spec.Name, Schema: cs.canon, Indexes: cs.indexes, Rules: cs.rules, HiddenFields: cs.hidden, References: cs.refs,
		Search: cs.search, Version: 1, CreatedAt: now, UpdatedAt: now}
	err = s.write(ctx, func(tx Tx) error {
		if err := tx.CreateCollection(ctx, c); err != nil {
			return err
		}
		return s.appendCollectionEvent(ctx, tx, eventbus.CollectionCreated, c)
	})
	if err != nil {
		if fault.Is(err, fault.Conflict) {
			return Collection{}, fault.Newf(fault.Conflict, op, "collection %q already exists", spec.Name)
		}
		return Collection{}, s.storeErr(op, err)
	}
	s.forgetSchema(c.Name) // the list of collections has one more
	return c, nil
}

// GetCollection returns a collection.
func (s *Service) GetCollection(ctx context.Context, name string) (Collection, error) {
	const op = "docstore.GetCollection"
	if err := requireAdmin(ctx, op, auth.ScopeCollectionsView); err != nil {
		return Collection{}, err
	}
	if err := checkCollectionName(op, name); err != nil {
		return Collection{}, err
	}
	c, err := s.store.GetCollection(ctx, name)
	if err != nil {
		return Collection{}, s.collectionErr(op, name, err)
	}
	return c, nil
}

func (s *Service) collectionErr(op, name string, err error) error {
	if fault.Is(err, fault.NotFound) {
		return fault.Newf(fault.NotFound, op, "collection %q does not exist", name)
	}
	return s.storeErr(op, err)
}

// ListCollections returns all collections ordered by name.
func (s *Service) ListCollections(ctx context.Context) ([]Collection, error) {
	const op = "docstore.ListCollections"
	if err := requireAdmin(ctx, op, auth.ScopeCollectionsView); err != nil {
		return nil, err
	}
	cs, err := s.store.ListCollections(ctx)
	if err != nil {
		return nil, s.storeErr(op, err)
	}
	return cs, nil
}

// ReplaceCollection replaces a collection's definition: schema, indexes,
// rules, hidden fields and search configuration (what spec leaves out is
// reset: no indexes, admin-only rules, no hidden fields, no search), at
// one of the versions ifMatch names. Every existing document must match
// the new schema and client-supplied vector fields, or nothing changes and
// the error lists the documents that do not.
func (s *Service) ReplaceCollection(ctx context.Context, name string, spec CollectionSpec, ifMatch Versions) (Collection, error) {
	const op = "docstore.ReplaceCollection"
	if err := requireAdmin(ctx, op, auth.ScopeCollectionsManage); err != nil {
		return Collection{}, err
	}
	if spec.Name == "" {
		spec.Name = name
	}
	if spec.Name != name {
		return Collection{}, &fault.Error{Kind: fault.Invalid, Op: op, Msg: "a collection cannot be renamed",
			Fields: []fault.FieldError{{Pointer: "/name", Message: "differs from the collection in the path"}}}
	}
	checked, err := s.checkSpec(op, spec)
	if err != nil {
		return Collection{}, err
	}
	canon := checked.canon
	var out Collection
	err = s.write(ctx, func(tx Tx) error {
		cur, err := tx.GetCollection(ctx, name)
		if err != nil {
			return s.collectionErr(op, name, err)
		}
		if !ifMatch.accepts(cur.Version) {
			return fault.Newf(fault.PreconditionFailed, op, "collection %q is at version %d, not %s", name, cur.Version, ifMatch)
		}
		out = Collection{Name: name, Schema: canon, Indexes: checked.indexes, Rules: checked.rules,
			HiddenFields: checked.hidden, Search: checked.search, References: checked.refs, Version: cur.Version + 1, CreatedAt: cur.CreatedAt, UpdatedAt: s.timestamp()}
		// Change the definition first, then check the documents: once the
		// definition is changed, writes validated against the old one have
		// committed (or wait and see the new one), so the check sees every
		// document. A failed check rolls the change back.
		if err := tx.UpdateCollection(ctx, out, cur.Version); err != nil {
			return err
		}
		if string(cur.Schema) != string(canon) || !maps.Equal(clientVectors(cur.Search), checked.cs.vectors) {
			if err := s.revalidate(ctx, op, tx, name, checked.cs); err != nil {
				return err
			}
		}
		return s.appendCollectionEvent(ctx, tx, eventbus.CollectionReplaced, out)
	})
	if err != nil {
		return Collection{}, s.storeErr(op, err)
	}
	s.forgetSchema(name)
	return out, nil
}

// revalidate checks every document of a collection against a new schema
// and client-supplied vector fields.
func (s *Service) revalidate(ctx context.Context, op string, tx Tx, name string, cs *compiledSchema) error {
	var fields []fault.FieldError
	bad := 0
	err := tx.EachDocument(ctx, name, func(d Document) error {
		v, err := decodeData(d.Data)
		if err != nil {
			return fault.Internalf(op, fmt.Errorf("stored document %s/%s: %w", name, d.ID, err))
		}
		if problems, _ := cs.problems("/documents/"+d.ID+"/data", v); len(problems) > 0 {
			bad++
			for _, f := range problems {
				if len(fields) < s.limits.MaxSchemaErrors {
					fields = append(fields, f)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if bad > 0 {
		return &fault.Error{Kind: fault.Validation, Op: op, Fields: fields,
			Msg: fmt.Sprintf("%d existing document(s) do not match the new schema or vector fields; nothing was changed", bad)}
	}
	return nil
}

// PatchCollection applies a JSON Merge Patch to the collection definition
// ({"schema":…, "indexes":…, "rules":…, "hiddenFields":…, "search":…}) and
// replaces it with the result: {"rules":{"list":null}} makes listing
// admin-only again, {"search":{"vectors":{"embedding":null}}} drops one
// vector field and {"search":null} all search.
func (s *Service) PatchCollection(ctx context.Context, name string, patch Data, ifMatch Versions) (Collection, error) {
	const op = "docstore.PatchCollection"
	if err := requireAdmin(ctx, op, auth.ScopeCollectionsManage); err != nil {
		return Collection{}, err
	}
	for k := range patch {
		switch k {
		case "schema", "indexes", "name", "rules", "hiddenFields", "search", "references":
		default:
			return Collection{}, &fault.Error{Kind: fault.Invalid, Op: op, Msg: fmt.Sprintf("unknown member %q", truncate(k, 80)),
				Fields: []fault.FieldError{{Pointer: "/" + k, Message: "unknown member"}}}
		}
	}
	cur, err := s.GetCollection(ctx, name)
	if err != nil {
		return Collection{}, err
	}
	if !ifMatch.accepts(cur.Version) {
		return Collection{}, fault.Newf(fault.PreconditionFailed, op, "collection %q is at version %d, not %s", name, cur.Version, ifMatch)
	}
	ifMatch = Versions{cur.Version} // the patch is computed against this version
	curSchema, err := decodeData(cur.Schema)
	if err != nil {
		return Collection{}, fault.Internalf(op, err)
	}
	idx := make([]any, len(cur.Indexes))
	for i, ix := range cur.Indexes {
		fs := make([]any, len(ix.Fields))
		for j, f := range ix.Fields {
			fs[j] = f
		}
		idx[i] = map[string]any{"fields": fs}
	}
	rules := map[string]any{}
	for i, r := range cur.Rules.byAction() {
		if r != nil {
			rules[actionName(i)] = *r
		}
	}
	hidden := make([]any, len(cur.HiddenFields))
	for i, h := range cur.HiddenFields {
		hidden[i] = h
	}
	refs := make(map[string]any, len(cur.References))
	for k, v := range cur.References {
		refs[k] = v
	}
	def := map[string]any{"name": name, "schema": curSchema, "indexes": idx, "rules": rules, "hiddenFields": hidden, "references": refs}
	if sj := searchJSON(cur.Search); sj != nil {
		def["search"] = sj
	}
	merged := mergePatch(def, patch)
	if err := checkAccessShape(op, merged); err != nil {
		return Collection{}, err
	}
	search, err := DecodeSearch(merged["search"])
	if err != nil {
		return Collection{}, err
	}
	delete(merged, "search") // decoded and checked here, not by json.Unmarshal
	raw, err := canonicalJSON(merged)
	if err != nil {
		return Collection{}, fault.Wrap(fault.Invalid, op, err, "invalid patch")
	}
	var spec CollectionSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return Collection{}, fault.Wrap(fault.Invalid, op, err, "the patched definition is not a valid collection")
	}
	spec.Search = search
	return s.ReplaceCollection(ctx, name, spec, ifMatch)
}

// checkAccessShape checks the JSON shape of the rules and hiddenFields
// members of a decoded definition: rules an object whose members are
// actions with a string or null, hiddenFields an array of strings.
func checkAccessShape(op string, def map[string]any) error {
	bad := func(ptr, msg string) error {
		return &fault.Error{Kind: fault.Invalid, Op: op, Msg: ptr + ": " + msg,
			Fields: []fault.FieldError{{Pointer: ptr, Message: msg}}}
	}
	if v, ok := def["rules"]; ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return bad("/rules", "must be an object")
		}
		for k, r := range m {
			known := false
			for i := range numActions {
				known = known || k == actionName(i)
			}
			if !known {
				return bad(pointer([]string{"rules", truncate(k, 80)}), "unknown action (expected list, get, create, update or delete)")
			}
			if _, ok := r.(string); !ok && r != nil {
				return bad("/rules/"+k, "must be a string or null")
			}
		}
	}
	if v, ok := def["hiddenFields"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return bad("/hiddenFields", "must be an array of strings")
		}
		for i, f := range list {
			if _, ok := f.(string); !ok {
				return bad(fmt.Sprintf("/hiddenFields/%d", i), "must be a string")
			}
		}
	}
	return nil
}

// DeleteCollection deletes a collection and its documents.
func (s *Service) DeleteCollection(ctx context.Context, name string, ifMatch Versions) error {
	const op = "docstore.DeleteCollection"
	if err := requireAdmin(ctx, op, auth.ScopeCollectionsManage); err != nil {
		return err
	}
	if err := checkCollectionName(op, name); err != nil {
		return err
	}
	err := s.write(ctx, func(tx Tx) error {
		cur, err := tx.GetCollection(ctx, name)
		if err != nil {
			return s.collectionErr(op, name, err)
		}
		if !ifMatch.accepts(cur.Version) {
			return fault.Newf(fault.PreconditionFailed, op, "collection %q is at version %d, not %s", name, cur.Version, ifMatch)
		}
		if err := tx.DeleteCollection(ctx, name, cur.Version); err != nil {
			return err
		}
		return s.appendCollectionDeleted(ctx, tx, cur)
	})
	if err != nil {
		return s.storeErr(op, err)
	}
	s.forgetSchema(name)
	return nil
}
