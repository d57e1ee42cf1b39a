package docstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// Limits bound what one request may ask of the service.
type Limits struct {
	MaxDocumentBytes int // canonical JSON size of a document's data
	MaxSchemaBytes   int // canonical JSON size of a collection schema
	MaxIndexes       int // indexes per collection
	MaxIndexFields   int // fields per index
	MaxBatchOps      int // operations per batch
	DefaultPageSize  int
	MaxPageSize      int // larger limits are capped to this
	MaxCursorBytes   int
	MaxSchemaErrors  int // validation errors reported per request
	MaxHiddenFields  int // hidden fields per collection
	MaxReferences    int // references per collection
	// ListTotalCap is the most documents a list's total counts (at most
	// MaxListTotalCap); when more match, the total is the cap and says so.
	ListTotalCap int
	Query        query.Limits
}

// DefaultListTotalCap is the default of Limits.ListTotalCap, and
// MaxListTotalCap its largest value: a count reads up to that many index
// entries (or rows), about a second of a database's time at a million.
const (
	DefaultListTotalCap = 10_000
	MaxListTotalCap     = 1_000_000
)

// DefaultLimits returns the limits Basalt runs with unless configured.
func DefaultLimits() Limits {
	return Limits{
		MaxDocumentBytes: 1 << 20,
		MaxSchemaBytes:   256 << 10,
		MaxIndexes:       16,
		MaxIndexFields:   4,
		MaxBatchOps:      100,
		DefaultPageSize:  20,
		MaxPageSize:      200,
		MaxCursorBytes:   2048,
		MaxSchemaErrors:  20,
		MaxHiddenFields:  64,
		MaxReferences:    32,
		ListTotalCap:     DefaultListTotalCap,
		Query:            query.DefaultLimits(),
	}
}

// systemFields are the document fields Basalt owns. They may not appear as
// top-level properties of data, so filter names are never ambiguous.
var systemFields = [...]string{"id", "collection", "version", "createdAt", "updatedAt"}

func isSystemField(name string) bool {
	for _, f := range systemFields {
		if f == name {
			return true
		}
	}
	return false
}

// ValidCollectionName reports whether name matches [a-z][a-z0-9_]{0,62}.
// Storage engines use it to refuse, once more, any other name before it
// becomes part of SQL text.
func ValidCollectionName(name string) bool {
	if len(name) == 0 || len(name) > 63 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// validDocumentID reports whether id matches [A-Za-z0-9][A-Za-z0-9._:-]{0,127}.
func validDocumentID(id string) bool {
	if len(id) == 0 || len(id) > 128 || !isAlnum(id[0]) {
		return false
	}
	for i := 1; i < len(id); i++ {
		c := id[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func checkCollectionName(op, name string) error {
	if !ValidCollectionName(name) {
		return fault.Newf(fault.Invalid, op, "collection name %q must match [a-z][a-z0-9_]{0,62}", truncate(name, 80))
	}
	return nil
}

func checkDocumentID(op, id string) error {
	if !validDocumentID(id) {
		return fault.Newf(fault.Invalid, op, "document id %q must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}", truncate(id, 80))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// canonicalJSON encodes v with sorted object keys, numbers as written
// (json.Number) and no HTML escaping.
func canonicalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// compiledSchema is a collection schema ready for use.
type compiledSchema struct {
	validator *jsonschema.Schema
	fields    *query.Schema
	access    *access // set for a whole collection definition (schemaOf, checkSpec)
	// vectors are the client-supplied vector fields of the collection's
	// search configuration and their dimensions (schemaOf, checkSpec).
	vectors map[string]int
	// public is the schema without the hidden fields, as catalogs show it
	// to callers who are not admins (schemaOf; nil when none is hidden).
	public json.RawMessage
}

// compileSchema checks a collection schema and compiles it. It never loads
// anything from outside: $ref may only point inside the schema.
func compileSchema(op, name string, raw json.RawMessage, lim Limits) (*compiledSchema, json.RawMessage, error) {
	if len(raw) == 0 {
		raw = json.RawMessage(`{"type":"object"}`)
	}
	if len(raw) > lim.MaxSchemaBytes {
		return nil, nil, fault.Newf(fault.Invalid, op, "schema is larger than %d bytes", lim.MaxSchemaBytes)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, invalidSchema(op, "schema is not valid JSON")
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, nil, invalidSchema(op, "schema must be a JSON object")
	}
	if t, ok := obj["type"]; !ok || t != "object" {
		return nil, nil, invalidSchema(op, `schema must declare "type": "object" (documents are JSON objects)`)
	}
	if props, ok := obj["properties"].(map[string]any); ok {
		for p := range props {
			if isSystemField(p) {
				return nil, nil, &fault.Error{Kind: fault.Invalid, Op: op,
					Msg:    fmt.Sprintf("schema may not declare the system field %q as a property", p),
					Fields: []fault.FieldError{{Pointer: "/schema/properties/" + p, Message: "is a system field"}}}
			}
		}
	}
	canon, err := canonicalJSON(doc)
	if err != nil {
		return nil, nil, invalidSchema(op, "schema is not valid JSON")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(jsonschema.SchemeURLLoader{}) // refuse every external $ref
	url := "basalt:///collections/" + name + ".json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, nil, invalidSchema(op, "schema cannot be used: "+schemaErrorText(err))
	}
	v, err := c.Compile(url)
	if err != nil {
		return nil, nil, invalidSchema(op, "schema is not a valid JSON Schema (draft 2020-12): "+schemaErrorText(err))
	}
	fields, err := query.SchemaFromJSON(canon)
	if err != nil {
		return nil, nil, invalidSchema(op, "schema cannot be used: "+err.Error())
	}
	return &compiledSchema{validator: v, fields: fields}, canon, nil
}

func invalidSchema(op, msg string) error {
	return &fault.Error{Kind: fault.Invalid, Op: op, Msg: msg,
		Fields: []fault.FieldError{{Pointer: "/schema", Message: msg}}}
}

// schemaErrorText shortens a compiler error to one line a user can act on.
func schemaErrorText(err error) string {
	var sve *jsonschema.SchemaValidationError
	if errors.As(err, &sve) {
		var b strings.Builder
		for i, u := range leafErrors(sve.Err) {
			if i > 0 {
				b.WriteString("; ")
			}
			if i == 5 {
				b.WriteString("…")
				break
			}
			b.WriteString(u.Pointer)
			b.WriteString(": ")
			b.WriteString(u.Message)
		}
		return b.String()
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return truncate(s, 300)
}

// validate checks data against the collection schema and the shape of
// its client-supplied vectors. Pointers in the returned error are prefixed
// with prefix (e.g. "/data").
func (cs *compiledSchema) validate(op, prefix string, data any, max int) error {
	fields, err := cs.problems(prefix, data)
	if len(fields) == 0 {
		return nil
	}
	msg := "document does not match the collection schema"
	if err == nil {
		msg = "document does not match the collection's vector fields"
	}
	if len(fields) > max {
		fields = fields[:max]
	}
	return &fault.Error{Kind: fault.Validation, Op: op, Msg: msg, Fields: fields, Err: err}
}

// problems returns what is wrong with data, schema errors (err, and its
// leaves first) then vector shapes, with pointers prefixed with prefix.
func (cs *compiledSchema) problems(prefix string, data any) (fields []fault.FieldError, err error) {
	if err = cs.validator.Validate(data); err != nil {
		fields = leafErrors(err)
		for i := range fields {
			fields[i].Pointer = prefix + fields[i].Pointer
		}
	}
	return append(fields, checkVectors(prefix, data, cs.vectors)...), err
}

// leafErrors flattens a validation error into one entry per failing
// instance location, sorted by pointer.
func leafErrors(err error) []fault.FieldError {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []fault.FieldError{{Pointer: "", Message: err.Error()}}
	}
	var out []fault.FieldError
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, fault.FieldError{Pointer: pointer(e.InstanceLocation), Message: outputText(e)})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	return out
}

func outputText(e *jsonschema.ValidationError) string {
	u := e.BasicOutput()
	if u != nil && u.Error != nil {
		return u.Error.String()
	}
	for _, c := range u.Errors {
		if c.Error != nil {
			return c.Error.String()
		}
	}
	return "is invalid"
}

// pointer renders a location as an RFC 6901 JSON pointer.
func pointer(loc []string) string {
	var b strings.Builder
	for _, p := range loc {
		b.WriteByte('/')
		p = strings.ReplaceAll(p, "~", "~0")
		b.WriteString(strings.ReplaceAll(p, "/", "~1"))
	}
	return b.String()
}

// checkData enforces the rules every document's data obeys, whatever its
// schema: no system field at the top level, bounded size.
func checkData(op, prefix string, data Data, lim Limits) ([]byte, error) {
	if data == nil {
		return nil, fault.New(fault.Invalid, op, "document data must be a JSON object")
	}
	for _, f := range systemFields {
		if _, ok := data[f]; ok {
			return nil, &fault.Error{Kind: fault.Invalid, Op: op,
				Msg:    fmt.Sprintf("%q is a system field and cannot be written", f),
				Fields: []fault.FieldError{{Pointer: prefix + "/" + f, Message: "is a system field"}}}
		}
	}
	canon, err := canonicalJSON(data)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, op, err, "document data is not valid JSON")
	}
	if len(canon) > lim.MaxDocumentBytes {
		return nil, fault.Newf(fault.PayloadTooLarge, op, "document is larger than %d bytes", lim.MaxDocumentBytes)
	}
	return canon, nil
}

// mergePatch applies an RFC 7386 JSON Merge Patch to target and returns the
// result. target is modified.
func mergePatch(target map[string]any, patch map[string]any) map[string]any {
	if target == nil {
		target = map[string]any{}
	}
	for k, pv := range patch {
		if pv == nil {
			delete(target, k)
			continue
		}
		if pm, ok := pv.(map[string]any); ok {
			tm, _ := target[k].(map[string]any)
			target[k] = mergePatch(tm, pm)
			continue
		}
		target[k] = pv
	}
	return target
}

// decodeData decodes stored canonical JSON into the generic form.
func decodeData(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}
