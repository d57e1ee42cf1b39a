package restapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/fault"
)

// This file turns a collection's JSON Schema into component schemas that
// client generators accept: definitions ($defs) are hoisted into
// components of their own and every local $ref is rewritten to name one,
// so no reference points inside another component. Each schema comes in
// two variants: as written (request bodies) and as returned, where nothing
// a projection (fields=) can drop is required.

// schemaNames hands out component schema names that no other schema of
// the document, and no type a client generator derives from an operation
// (oapi-codegen's <OperationId>Response), takes once normalised.
type schemaNames struct {
	taken map[string]bool // normalised
}

// NormalizeTypeName is how a client generator turns a schema name or an
// operation id into a type name, compared case-insensitively: letters and
// digits only, lower-cased. Two names that normalise alike would make two
// types of one name.
func NormalizeTypeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// generatedSuffixes are the suffixes oapi-codegen appends to operation ids
// to name the types it makes for each operation.
var generatedSuffixes = []string{"Response", "Params", "JSONRequestBody", "JSONBody"}

// newSchemaNames reserves the names of doc's schemas and of the types
// generated for its operations.
func newSchemaNames(doc *openapi3.T) *schemaNames {
	n := &schemaNames{taken: map[string]bool{}}
	for name := range doc.Components.Schemas {
		n.taken[NormalizeTypeName(name)] = true
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			n.reserveOperation(op.OperationID)
		}
	}
	return n
}

// reserveOperation reserves the names of the types generated for the
// operation id.
func (n *schemaNames) reserveOperation(id string) {
	for _, s := range generatedSuffixes {
		n.taken[NormalizeTypeName(id+s)] = true
	}
}

// take returns name, or name with a number appended when it is taken, and
// reserves it.
func (n *schemaNames) take(name string) string {
	out := name
	for i := 2; n.taken[NormalizeTypeName(out)]; i++ {
		out = name + "_" + strconv.Itoa(i)
	}
	n.taken[NormalizeTypeName(out)] = true
	return out
}

// componentChars replaces the characters a component name may not hold
// (only letters, digits, ".", "-" and "_") with "_".
func componentChars(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_') {
			return r
		}
		return '_'
	}, s)
}

// hoister converts one collection schema.
type hoister struct {
	collection string
	root       any
	base       string
	names      *schemaNames
	anchors    map[string]string // $anchor → JSON pointer
	defs       map[string]string // JSON pointer of a definition → its name
	comps      map[variant]string
	queue      []variant
}

// variant is a schema location and whether it is the returned variant.
type variant struct {
	ptr  string
	read bool
}

func newHoister(collection string, schema json.RawMessage, base string, names *schemaNames) (*hoister, error) {
	if len(bytes.TrimSpace(schema)) == 0 {
		schema = json.RawMessage(`{"type":"object"}`)
	}
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, fault.Internalf("restapi.BuildOpenAPI", fmt.Errorf("schema of collection %q: %w", collection, err))
	}
	h := &hoister{collection: collection, root: root, base: base, names: names,
		anchors: map[string]string{}, defs: map[string]string{}, comps: map[variant]string{}}
	h.scan(root, "", "")
	return h, nil
}

// Keywords whose value is one schema, an array of schemas or an object of
// schemas.
var (
	schemaKeywords = map[string]bool{"items": true, "additionalProperties": true, "not": true, "if": true, "then": true,
		"else": true, "contains": true, "propertyNames": true, "unevaluatedItems": true, "unevaluatedProperties": true,
		"contentSchema": true, "additionalItems": true}
	schemaListKeywords = map[string]bool{"allOf": true, "anyOf": true, "oneOf": true, "prefixItems": true}
	schemaMapKeywords  = map[string]bool{"properties": true, "patternProperties": true, "dependentSchemas": true,
		"$defs": true, "definitions": true}
	// inPlace are the keywords whose schemas apply to the instance itself.
	inPlace = map[string]bool{"allOf": true, "anyOf": true, "oneOf": true, "if": true, "then": true, "else": true,
		"dependentSchemas": true}
	// shrinkable are the keywords that a projection of an object can
	// break by dropping members.
	shrinkable = map[string]bool{"required": true, "minProperties": true, "dependentRequired": true}
)

// scan records the anchors and definitions below the schema node at ptr;
// defName is the dotted name of the definition node is in.
func (h *hoister) scan(node any, ptr, defName string) {
	m, ok := node.(map[string]any)
	if !ok {
		return
	}
	if a, ok := m["$anchor"].(string); ok {
		h.anchors[a] = ptr
	}
	for k, v := range m {
		p := ptr + "/" + escapeToken(k)
		switch {
		case schemaKeywords[k]:
			h.scan(v, p, defName)
		case schemaListKeywords[k]:
			if list, ok := v.([]any); ok {
				for i, child := range list {
					h.scan(child, p+"/"+strconv.Itoa(i), defName)
				}
			}
		case schemaMapKeywords[k]:
			children, ok := v.(map[string]any)
			if !ok {
				continue
			}
			for name, child := range children {
				cp := p + "/" + escapeToken(name)
				dn := defName
				if k == "$defs" || k == "definitions" {
					dn = name
					if defName != "" {
						dn = defName + "." + name
					}
					h.defs[cp] = dn
				}
				h.scan(child, cp, dn)
			}
		}
	}
}

// hoist adds the components of the collection schema to schemas and
// returns the names of its data as written and as returned.
func (h *hoister) hoist(schemas openapi3.Schemas) (data, read string, err error) {
	data = h.component(variant{ptr: "", read: false})
	read = h.component(variant{ptr: "", read: true})
	for len(h.queue) > 0 {
		v := h.queue[0]
		h.queue = h.queue[1:]
		node, ok := resolvePointer(h.root, v.ptr)
		if !ok {
			node = true
		}
		converted := h.convert(node, v.read)
		raw, err := json.Marshal(converted)
		if err != nil {
			return "", "", fault.Internalf("restapi.BuildOpenAPI", err)
		}
		var s openapi3.SchemaRef
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", "", fault.Internalf("restapi.BuildOpenAPI", fmt.Errorf("schema of collection %q: %w", h.collection, err))
		}
		if s.Value == nil {
			s.Value = &openapi3.Schema{}
		}
		schemas[h.comps[v]] = &openapi3.SchemaRef{Value: s.Value}
	}
	return data, read, nil
}

// component returns the component name of a variant, queueing it for
// conversion the first time.
func (h *hoister) component(v variant) string {
	if name, ok := h.comps[v]; ok {
		return name
	}
	var name string
	switch {
	case v.ptr == "" && !v.read:
		name = h.base + ".Data"
	case v.ptr == "":
		name = h.base + ".ReadData"
	default:
		def, ok := h.defs[v.ptr]
		if !ok {
			def = strings.ReplaceAll(strings.TrimPrefix(v.ptr, "/"), "/", ".")
		}
		name = h.base + "." + componentChars(def)
		if v.read {
			name += ".Read"
		}
	}
	name = h.names.take(name)
	h.comps[v] = name
	h.queue = append(h.queue, v)
	return name
}

// convert copies the schema node: definitions are left out (they are
// components of their own), local references name components, $id and
// $schema are dropped (they would change what references resolve
// against), and in the returned variant (read) nothing a projection can
// drop is required, at this level and in every property below whose
// members a projection can name.
func (h *hoister) convert(node any, read bool) any {
	m, ok := node.(map[string]any)
	if !ok {
		return node
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch {
		case k == "$defs" || k == "definitions" || k == "$id" || k == "$schema":
		case k == "$ref":
			s, isString := v.(string)
			if !isString || !strings.HasPrefix(s, "#") {
				out[k] = v
				continue
			}
			ptr, ok := h.target(s)
			if !ok {
				continue // a reference to something hidden: any value
			}
			out[k] = "#/components/schemas/" + escapeToken(h.component(variant{ptr: ptr, read: read}))
		case read && shrinkable[k]:
		case schemaKeywords[k]:
			out[k] = h.convert(v, read && inPlace[k])
		case schemaListKeywords[k]:
			list, isList := v.([]any)
			if !isList {
				out[k] = v
				continue
			}
			conv := make([]any, len(list))
			for i, child := range list {
				conv[i] = h.convert(child, read && inPlace[k])
			}
			out[k] = conv
		case schemaMapKeywords[k]:
			children, isMap := v.(map[string]any)
			if !isMap {
				out[k] = v
				continue
			}
			conv := make(map[string]any, len(children))
			for name, child := range children {
				conv[name] = h.convert(child, read && (inPlace[k] || k == "properties" && projectable(child)))
			}
			out[k] = conv
		default:
			out[k] = v
		}
	}
	return out
}

// projectable reports whether a projection can name members of the
// values of the property schema s, which must then not require them: only
// a property with properties of its own has fields a query can address
// (see query.SchemaFromJSON); a value a projection cannot go into is
// returned whole or not at all.
func projectable(s any) bool {
	m, ok := s.(map[string]any)
	if !ok {
		return false
	}
	_, ok = m["properties"].(map[string]any)
	return ok
}

// target returns the JSON pointer a local reference ("#/…" or "#anchor")
// names, and whether it names something in the schema.
func (h *hoister) target(ref string) (string, bool) {
	frag, err := url.PathUnescape(strings.TrimPrefix(ref, "#"))
	if err != nil {
		return "", false
	}
	if frag != "" && !strings.HasPrefix(frag, "/") {
		ptr, ok := h.anchors[frag]
		return ptr, ok
	}
	if _, ok := resolvePointer(h.root, frag); !ok {
		return "", false
	}
	return frag, true
}

// resolvePointer returns the value at the JSON pointer ptr in root.
func resolvePointer(root any, ptr string) (any, bool) {
	if ptr == "" {
		return root, true
	}
	cur := root
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch t := cur.(type) {
		case map[string]any:
			next, ok := t[tok]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			cur = t[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
