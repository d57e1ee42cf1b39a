package query

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/basaltdev/basalt/internal/fault"
)

// Bounds of the schema walk. Properties deeper than maxSchemaDepth, and
// properties beyond the first maxSchemaFields (in sorted key order, level by
// level), are not addressable.
const (
	maxSchemaDepth  = 16
	maxSchemaFields = 4096
	maxNameLen      = 64
)

// Schema is the set of fields a query may name: the system fields and the
// properties declared by a collection's JSON Schema. A Schema is immutable
// and safe for concurrent use. The nil *Schema knows the system fields only.
type Schema struct {
	fields map[string]Field // by dotted name
}

// SchemaFromJSON builds a Schema from a collection's JSON Schema (draft
// 2020-12). It does not validate the schema; the document store does that.
//
// The root must be an object schema ("type": "object"). Its "properties" are
// walked recursively: a property of an object property is addressed by a
// dotted path such as author.name. A property's "type" may be a string or an
// array: ["string", "null"] is a nullable string, several non-null types make
// the field TypeAny (except ["integer", "number"], which is TypeNumber), and a
// missing or unknown type is TypeAny. Arrays record their element type from
// "items"."type"; properties of array elements are not addressable.
//
// These properties are not addressable (a query naming them fails with
// "unknown field"):
//   - names that do not match [A-Za-z_][A-Za-z0-9_]{0,63};
//   - properties declared only through $ref, allOf, anyOf, oneOf, if/then,
//     patternProperties, additionalProperties, dependentSchemas and the
//     like: only "properties" is read. A property listed in "properties"
//     whose own schema has no "type" (for example {"$ref": "…"}) is
//     addressable as TypeAny, but nothing below it is;
//   - top-level properties named like a system field (id, version,
//     createdAt, updatedAt), which the system field shadows;
//   - properties nested deeper than 16 levels, and any beyond the first
//     4096 fields.
func SchemaFromJSON(schema []byte) (*Schema, error) {
	const op = "query.SchemaFromJSON"
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, &fault.Error{Kind: fault.Invalid, Op: op, Msg: "schema: not valid JSON", Err: err}
	}
	if dec.More() {
		return nil, fault.New(fault.Invalid, op, "schema: not valid JSON (trailing data)")
	}
	obj, ok := root.(map[string]any)
	if !ok || schemaType(obj) != TypeObject {
		return nil, fault.New(fault.Invalid, op, `schema: the root must be an object schema ("type": "object")`)
	}
	s := &Schema{fields: make(map[string]Field)}
	s.walk(obj, nil)
	return s, nil
}

// walk adds the properties of the object schema obj, whose own path is
// prefix.
func (s *Schema) walk(obj map[string]any, prefix []string) {
	props, ok := obj["properties"].(map[string]any)
	if !ok {
		return
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		if ValidName(k) && (len(prefix) > 0 || systemOf(k) == SystemNone) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var objects []int // indexes into keys of object properties to descend into
	paths := make([][]string, len(keys))
	for i, k := range keys {
		if len(s.fields) >= maxSchemaFields {
			return
		}
		var sub map[string]any
		switch v := props[k].(type) {
		case map[string]any:
			sub = v
		case bool:
			if !v {
				continue // the property can never be present
			}
		default:
			continue
		}
		path := make([]string, len(prefix)+1)
		copy(path, prefix)
		path[len(prefix)] = k
		f := Field{Path: path, Type: schemaType(sub)}
		if f.Type == TypeArray {
			if items, ok := sub["items"].(map[string]any); ok {
				f.Items = schemaType(items)
			}
		}
		s.fields[strings.Join(path, ".")] = f
		if f.Type == TypeObject && len(path) < maxSchemaDepth {
			paths[i] = path
			objects = append(objects, i)
		}
	}
	for _, i := range objects {
		sub, _ := props[keys[i]].(map[string]any)
		s.walk(sub, paths[i])
	}
}

// systemOf returns the system field called name, or SystemNone.
func systemOf(name string) System {
	switch System(name) {
	case SystemID, SystemVersion, SystemCreatedAt, SystemUpdatedAt:
		return System(name)
	}
	return SystemNone
}

// schemaType reads the "type" keyword of a property schema (nil for the
// schema true).
func schemaType(prop map[string]any) Type {
	switch v := prop["type"].(type) {
	case string:
		return typeNamed(v)
	case []any:
		t, n := TypeAny, 0
		for _, e := range v {
			name, ok := e.(string)
			if !ok {
				return TypeAny
			}
			if name == "null" {
				continue
			}
			nt := typeNamed(name)
			switch {
			case n == 0 || nt == t:
				t = nt
			case (t == TypeInteger && nt == TypeNumber) || (t == TypeNumber && nt == TypeInteger):
				t = TypeNumber
			default:
				return TypeAny
			}
			n++
		}
		return t
	}
	return TypeAny
}

func typeNamed(name string) Type {
	switch name {
	case "string":
		return TypeString
	case "number":
		return TypeNumber
	case "integer":
		return TypeInteger
	case "boolean":
		return TypeBoolean
	case "array":
		return TypeArray
	case "object":
		return TypeObject
	}
	return TypeAny
}

// Lookup returns the field called name: a system field (id, version,
// createdAt, updatedAt) or the dotted path of a property. The returned
// Field's Path is shared with the Schema and must not be modified.
func (s *Schema) Lookup(name string) (Field, bool) {
	switch sys := systemOf(name); sys {
	case SystemID:
		return Field{System: sys, Type: TypeString}, true
	case SystemVersion:
		return Field{System: sys, Type: TypeInteger}, true
	case SystemCreatedAt, SystemUpdatedAt:
		return Field{System: sys, Type: TypeTime}, true
	}
	if s == nil {
		return Field{}, false
	}
	f, ok := s.fields[name]
	if ok {
		f.Path = f.Path[:len(f.Path):len(f.Path)]
	}
	return f, ok
}

// ValidName reports whether name matches [A-Za-z_][A-Za-z0-9_]{0,63}: a
// property the query language can address (and other transports name
// alike).
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > maxNameLen || !identStart(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		if !identChar(name[i]) {
			return false
		}
	}
	return true
}

func identStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func identChar(c byte) bool { return identStart(c) || ('0' <= c && c <= '9') }
