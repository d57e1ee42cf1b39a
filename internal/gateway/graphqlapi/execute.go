package graphqlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/realtime"
)

// Services are what the root fields read.
type Services struct {
	Documents docstore.Documents
	// Accounts answer me; nil makes it null.
	Accounts Accounts
	// Search runs the search fields; nil answers them unavailable.
	Search Searcher
}

// Result is the answer to one operation: its data (null when the
// operation could not start or a non-null root failed) and its errors.
type Result struct {
	Data   any           `json:"data"`
	Errors gqlerror.List `json:"errors,omitempty"`
	// executed: the operation started (its variables were valid), so the
	// answer has data, null or not.
	executed bool
}

// Execute runs the operation opName (the only one when "") of doc,
// validated against s, with the variables vars, as the caller in ctx:
// every document it reads or writes goes through svc, so the caller's
// rules decide what it holds and what it may change. A failed field is
// null, with an error that carries the fault's code in extensions.code, as
// REST's problem does; Execute itself does not fail. A mutation's root
// fields run one after another, in order; each write is the document
// service's, whole or not at all.
func Execute(ctx context.Context, s *Schema, svc Services, doc *ast.QueryDocument, opName string, vars map[string]any) Result {
	op := doc.Operations.ForName(opName)
	if op == nil {
		msg := "no operation " + strconv.Quote(opName) + " in the document"
		if opName == "" {
			msg = "the document has several operations: name one with operationName"
		}
		return Result{Errors: gqlerror.List{{Message: msg, Extensions: code(string(fault.Invalid))}}}
	}
	root := s.AST.Query
	switch op.Operation {
	case ast.Query:
	case ast.Mutation:
		root = s.AST.Mutation
	case ast.Subscription:
		return Result{Errors: gqlerror.List{{Message: "a subscription is served over WebSocket (the graphql-transport-ws protocol, at /graphql)",
			Extensions: code(string(fault.Invalid))}}}
	default:
		root = nil
	}
	if root == nil { // validation refuses these first
		return Result{Errors: gqlerror.List{{Message: "the schema has no " + string(op.Operation) + " type", Extensions: code(string(fault.Invalid))}}}
	}
	coerced, err := coerceVariables(s.AST, op, vars)
	if err != nil {
		return Result{Errors: gqlerror.List{err}}
	}
	e := &executor{ctx: ctx, s: s, svc: svc, doc: doc, vars: coerced}
	data, ok := e.selectionSet(root, op.SelectionSet, rootValue{mutation: op.Operation == ast.Mutation})
	r := Result{Errors: e.errs, executed: true}
	if ok {
		r.Data = data
	}
	return r
}

// coerceVariables checks and coerces the operation's variables.
func coerceVariables(schema *ast.Schema, op *ast.OperationDefinition, vars map[string]any) (map[string]any, *gqlerror.Error) {
	coerced, err := validator.VariableValues(schema, op, vars)
	if err != nil {
		var ge *gqlerror.Error
		if !errors.As(err, &ge) {
			ge = &gqlerror.Error{Message: err.Error()}
		}
		ge.Extensions = code(string(fault.Invalid))
		return nil, ge
	}
	return coerced, nil
}

// MarshalJSON writes data only for an operation that ran: a request
// error's answer has no data entry (GraphQL-over-HTTP).
func (r Result) MarshalJSON() ([]byte, error) { return appendResult(nil, r) }

func code(c string) map[string]any { return map[string]any{"code": c} }

// rootValue stands for the operation's root: its fields are resolved
// from the services, or for a subscription's event from change.
type rootValue struct {
	mutation bool
	change   *realtime.Message
}

type executor struct {
	ctx  context.Context
	s    *Schema
	svc  Services
	doc  *ast.QueryDocument
	vars map[string]any
	errs gqlerror.List
	// parser parses the data of the documents read.
	parser fastjson.Parser
	// json turns what parser parsed into values.
	json jsonReader
	// load batches the reads of relation fields.
	load loader
	// trail is the path to the value being completed.
	trail []step
	// fields are the fields each selection set selects on each type,
	// collected once per execution (the nodes of a page share them).
	fields map[fieldsKey][]*ast.Field
}

type fieldsKey struct {
	def   *ast.Definition
	first *ast.Selection // the selection set's first element
	n     int
}

// fieldsOf returns the fields set selects on def (collect), once.
func (e *executor) fieldsOf(def *ast.Definition, set ast.SelectionSet) []*ast.Field {
	if len(set) == 0 {
		return nil
	}
	k := fieldsKey{def: def, first: &set[0], n: len(set)}
	if fs, ok := e.fields[k]; ok {
		return fs
	}
	fs := e.collect(def, set, nil, map[string]int{}, map[string]bool{})
	if e.fields == nil {
		e.fields = map[fieldsKey][]*ast.Field{}
	}
	e.fields[k] = fs
	return fs
}

// step is one step of the path to the value being completed: a field's
// response key, or (key "") a list's index. The executor keeps the path
// as a stack of steps, so that only an error copies it.
type step struct {
	key   string
	index int
}

// errorPath is the executor's current path as GraphQL's error path.
func (e *executor) errorPath() ast.Path {
	out := make(ast.Path, len(e.trail))
	for i, st := range e.trail {
		if st.key != "" {
			out[i] = ast.PathName(st.key)
		} else {
			out[i] = ast.PathIndex(st.index)
		}
	}
	return out
}

// object is a JSON object whose members keep their order.
type object struct {
	members []member
}

type member struct {
	key string
	val any
}

func (o *object) MarshalJSON() ([]byte, error) { return appendValue(nil, o) }

// selectionSet resolves the selections of set on v, a value of the object
// type def. It is false when a non-null field failed: the object is null.
func (e *executor) selectionSet(def *ast.Definition, set ast.SelectionSet, v any) (*object, bool) {
	fields := e.fieldsOf(def, set)
	out := &object{members: make([]member, 0, len(fields))}
	depth := len(e.trail)
	defer func() { e.trail = e.trail[:depth] }()
	rels := e.s.relations[def.Name]
	for _, f := range fields {
		key := f.Alias
		if key == "" {
			key = f.Name
		}
		e.trail = append(e.trail[:depth], step{key: key})
		var val any
		if f.Name == "__typename" {
			val = def.Name
		} else {
			fd := f.Definition
			if fd == nil || f.ObjectDefinition != def {
				fd = def.Fields.ForName(f.Name)
			}
			if fd == nil { // validation keeps this from happening
				e.fail(f, fault.New(fault.Invalid, op, "no field "+f.Name+" on "+def.Name))
				return nil, false
			}
			var raw any
			var err error
			if r, ok := rels[f.Name]; ok {
				coll, _ := v.(map[string]any)["collection"].(string)
				raw, err = e.relation(coll, f.Name, r, v)
			} else {
				raw, err = e.resolve(f, v)
			}
			if err != nil {
				e.fail(f, err)
				if fd.Type.NonNull {
					return nil, false
				}
				raw = nil
			}
			var ok bool
			if val, ok = e.complete(f, fd.Type, raw); !ok {
				return nil, false
			}
		}
		out.members = append(out.members, member{key: key, val: val})
	}
	return out, true
}

// collect returns the fields set selects on def, fragments spread and
// @skip/@include applied, merging fields of one response key (at, their
// index in out; the validator has made sure they agree).
func (e *executor) collect(def *ast.Definition, set ast.SelectionSet, out []*ast.Field, at map[string]int, spread map[string]bool) []*ast.Field {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if !e.included(s.Directives) {
				continue
			}
			if i, ok := at[responseKey(s)]; ok {
				cp := *out[i]
				cp.SelectionSet = append(append(ast.SelectionSet(nil), out[i].SelectionSet...), s.SelectionSet...)
				out[i] = &cp
				continue
			}
			at[responseKey(s)] = len(out)
			out = append(out, s)
		case *ast.InlineFragment:
			if e.included(s.Directives) && (s.TypeCondition == "" || s.TypeCondition == def.Name) {
				out = e.collect(def, s.SelectionSet, out, at, spread)
			}
		case *ast.FragmentSpread:
			if !e.included(s.Directives) || spread[s.Name] {
				continue
			}
			spread[s.Name] = true
			frag := e.doc.Fragments.ForName(s.Name)
			if frag != nil && frag.TypeCondition == def.Name {
				out = e.collect(def, frag.SelectionSet, out, at, spread)
			}
		}
	}
	return out
}

func responseKey(f *ast.Field) string {
	if f.Alias != "" {
		return f.Alias
	}
	return f.Name
}

// included applies @skip and @include.
func (e *executor) included(ds ast.DirectiveList) bool {
	if d := ds.ForName("skip"); d != nil {
		if b, _ := d.ArgumentMap(e.vars)["if"].(bool); b {
			return false
		}
	}
	if d := ds.ForName("include"); d != nil {
		if b, _ := d.ArgumentMap(e.vars)["if"].(bool); !b {
			return false
		}
	}
	return true
}

// resolve is the raw value of field f of v.
func (e *executor) resolve(f *ast.Field, v any) (any, error) {
	switch r := v.(type) {
	case rootValue:
		switch {
		case r.change != nil:
			return e.changeValue(r.change)
		case r.mutation:
			return e.mutate(f)
		}
		return e.root(f)
	case resolver:
		return r.field(f.Name, f.ArgumentMap(e.vars)), nil
	}
	m, _ := v.(map[string]any)
	return m[f.Name], nil
}

// root resolves a root field of Query.
func (e *executor) root(f *ast.Field) (any, error) {
	switch f.Name {
	case "__schema":
		return schemaValue{s: e.s.AST}, nil
	case "__type":
		name, _ := f.ArgumentMap(e.vars)["name"].(string)
		return named(e.s.AST, e.s.AST.Types[name]), nil
	}
	if v, ok, err := e.accountRoot(f.Name); ok {
		return v, err
	}
	r, ok := e.s.Roots[f.Name]
	if !ok {
		return nil, fault.New(fault.Invalid, op, "no root field "+f.Name)
	}
	args := f.ArgumentMap(e.vars)
	if r.Kind == RootSearch {
		return e.search(r, args)
	}
	if r.Kind == RootGet {
		id := idArg(args["id"])
		d, err := e.svc.Documents.GetDocument(e.ctx, r.Collection, id)
		if fault.Is(err, fault.NotFound) {
			return nil, nil // as REST's 404: null, and no error
		}
		if err != nil {
			return nil, err
		}
		return e.documentValue(d)
	}
	c := e.s.Collections[r.Collection]
	req := docstore.ListRequest{Collection: r.Collection, Cursors: e.wantsCursors(f, c)}
	if err := listQuery(c, args, &req); err != nil {
		return nil, err
	}
	req.Cursor, _ = args["after"].(string)
	req.Total, _ = args["total"].(bool)
	if first, ok := intArg(args["first"]); ok {
		if first < 0 {
			return nil, fault.New(fault.Invalid, op, "first must not be negative")
		}
		req.Limit = int(min(first, math.MaxInt32))
		if first == 0 {
			req.Limit = -1 // an empty page, but its pageInfo and totalCount
		}
	}
	page, more, err := e.listPage(req)
	if err != nil {
		return nil, err
	}
	// Edges are made only for a selection that asks for them.
	var edges []any
	if e.selects(c, f, "edges") {
		edges = make([]any, len(page.Items))
	}
	nodes := make([]any, len(page.Items))
	for i, d := range page.Items {
		node, err := e.documentValue(d)
		if err != nil {
			return nil, err
		}
		nodes[i] = node
		if edges != nil {
			var cursor any
			if page.Cursors != nil {
				cursor = page.Cursors[i]
			}
			edges[i] = map[string]any{"cursor": cursor, "node": node}
		}
	}
	info := map[string]any{"hasNextPage": more, "hasPreviousPage": req.Cursor != "", "startCursor": nil, "endCursor": nil}
	if len(page.Cursors) > 0 {
		info["startCursor"], info["endCursor"] = page.Cursors[0], page.Cursors[len(page.Cursors)-1]
	}
	var total any
	if page.Total != nil {
		total = *page.Total
	}
	return map[string]any{"edges": edges, "nodes": nodes, "pageInfo": info, "totalCount": total}, nil
}

// mutate resolves a root field of Mutation: one write of the document
// service, whose answer is the document written (as the caller may see
// it) or, for a delete, its id.
func (e *executor) mutate(f *ast.Field) (any, error) {
	args := f.ArgumentMap(e.vars)
	if v, ok, err := e.accountMutation(f.Name, args); ok {
		return v, err
	}
	r, ok := e.s.Mutations[f.Name]
	if !ok {
		return nil, fault.New(fault.Invalid, op, "no mutation "+f.Name)
	}
	id, key := idArg(args["id"]), ""
	if k, ok := args["idempotencyKey"].(string); ok {
		key = k
	}
	var ifMatch docstore.Versions
	if v, set := args["expectedVersion"]; set && v != nil {
		n, ok := intArg(v)
		if !ok || n <= 0 {
			// No version is 0 or less: a condition no document meets.
			n = 0
		}
		ifMatch = docstore.Versions{n}
	}
	var (
		d    docstore.Document
		data docstore.Data
		err  error
	)
	switch r.Kind {
	case RootCreate:
		if data, err = dataArg("data", args["data"]); err == nil {
			d, err = e.svc.Documents.CreateDocument(e.ctx, docstore.CreateRequest{Collection: r.Collection, ID: id, Data: data, IdempotencyKey: key})
		}
	case RootReplace:
		if data, err = dataArg("data", args["data"]); err == nil {
			d, err = e.svc.Documents.ReplaceDocument(e.ctx, docstore.ReplaceRequest{Collection: r.Collection, ID: id, Data: data, IfMatch: ifMatch, IdempotencyKey: key})
		}
	case RootPatch:
		if data, err = dataArg("patch", args["patch"]); err == nil {
			d, err = e.svc.Documents.PatchDocument(e.ctx, docstore.PatchRequest{Collection: r.Collection, ID: id, Patch: data, IfMatch: ifMatch, IdempotencyKey: key})
		}
	case RootDelete:
		if err := e.svc.Documents.DeleteDocument(e.ctx, docstore.DeleteRequest{Collection: r.Collection, ID: id, IfMatch: ifMatch, IdempotencyKey: key}); err != nil {
			return nil, err
		}
		return map[string]any{"id": id, "collection": r.Collection}, nil
	default:
		return nil, fault.New(fault.Invalid, op, "no mutation "+f.Name)
	}
	if err != nil {
		return nil, err
	}
	return e.documentValue(d)
}

// idArg is an ID argument's value: a string, or an integer literal or
// variable (GraphQL's ID accepts both).
func idArg(v any) string {
	switch id := v.(type) {
	case string:
		return id
	case json.Number:
		return id.String()
	}
	if n, ok := intArg(v); ok {
		return strconv.FormatInt(n, 10)
	}
	return ""
}

// dataArg is an input object's value as document data: numbers as
// json.Number, as a decoded request body has them. A JSON input given
// something else than an object is refused, as REST refuses such a body.
func dataArg(name string, v any) (docstore.Data, error) {
	m, ok := jsonValue(v).(map[string]any)
	if !ok {
		return nil, fault.New(fault.Invalid, op, name+" must be an object")
	}
	return m, nil
}

// jsonValue is v, an argument's value (a literal's or a variable's), with
// its numbers as json.Number.
func jsonValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case int:
		return json.Number(strconv.Itoa(x))
	case int32:
		return json.Number(strconv.FormatInt(int64(x), 10))
	case float64:
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
	}
	return v
}

// selects reports whether the selection of the list field f asks for the
// connection's field name.
func (e *executor) selects(c *Collection, f *ast.Field, name string) bool {
	if c == nil || e.s.AST.Types[c.Connection] == nil {
		return true
	}
	for _, sub := range e.fieldsOf(e.s.AST.Types[c.Connection], f.SelectionSet) {
		if sub.Name == name {
			return true
		}
	}
	return false
}

// wantsCursors reports whether the selection of the list field f asks for
// a cursor of its own per document (edges' cursor, pageInfo's startCursor
// or endCursor): they are signed only then.
func (e *executor) wantsCursors(f *ast.Field, c *Collection) bool {
	if c == nil {
		return true
	}
	conn, edge, info := e.s.AST.Types[c.Connection], e.s.AST.Types[c.Edge], e.s.AST.Types["PageInfo"]
	if conn == nil || edge == nil || info == nil {
		return true
	}
	for _, sub := range e.fieldsOf(conn, f.SelectionSet) {
		var def *ast.Definition
		switch sub.Name {
		case "edges":
			def = edge
		case "pageInfo":
			def = info
		default:
			continue
		}
		for _, g := range e.fieldsOf(def, sub.SelectionSet) {
			if g.Name == "cursor" || g.Name == "startCursor" || g.Name == "endCursor" {
				return true
			}
		}
	}
	return false
}

// listQuery sets req's filter and sort from a list field's arguments:
// filter (typed) and-ed with where (text), orderBy (typed) or sort
// (text).
func listQuery(c *Collection, args map[string]any, req *docstore.ListRequest) error {
	where, _ := args["where"].(string)
	req.Sort, _ = args["sort"].(string)
	var typed string
	if v := args["filter"]; v != nil && c != nil && c.filter != nil {
		var err error
		if typed, err = compileFilter(c.filter, v); err != nil {
			return err
		}
	}
	switch {
	case where != "" && typed != "":
		req.Filter = "(" + where + ") && (" + typed + ")"
	case where != "":
		req.Filter = where
	default:
		req.Filter = typed
	}
	if v := args["orderBy"]; v != nil && c != nil && c.order != nil {
		if req.Sort != "" {
			return fault.New(fault.Invalid, op, "orderBy and sort are one or the other")
		}
		sort, err := compileOrder(c.order, v)
		if err != nil {
			return err
		}
		req.Sort = sort
	}
	return nil
}

// listPage lists req, and tells whether documents come after the page;
// with req.Limit -1 (first: 0), a page without items, and whether any
// document matches after the cursor.
func (e *executor) listPage(req docstore.ListRequest) (docstore.Page, bool, error) {
	empty := req.Limit == -1
	if empty {
		req.Limit = 1
	}
	page, err := e.svc.Documents.ListDocuments(e.ctx, req)
	if err != nil {
		return page, false, err
	}
	if req.Cursors && len(page.Cursors) != len(page.Items) {
		return page, false, fault.New(fault.Unavailable, op, "the document service gave no cursor per document")
	}
	if empty {
		more := len(page.Items) > 0
		page.Items, page.Cursors = nil, nil
		return page, more, nil
	}
	return page, page.NextCursor != "", nil
}

// intArg is an Int argument's value, literal (int64) or from a variable.
func intArg(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		return int64(n), n == math.Trunc(n)
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// documentValue is d as a value of its collection's type: its data's
// properties, and the system fields over them. The data is parsed with
// the execution's own fastjson parser, reused across the documents of a
// page; the values are copied out of it.
func (e *executor) documentValue(d docstore.Document) (map[string]any, error) {
	var m map[string]any
	if len(d.Data) > 0 {
		v, err := e.json.parse(&e.parser, d.Data)
		if err != nil {
			return nil, fault.Internalf(op, err)
		}
		m, _ = v.(map[string]any)
	}
	if m == nil {
		m = make(map[string]any, 5)
	}
	e.register(d, m)
	m["id"], m["collection"], m["version"] = d.ID, d.Collection, json.Number(strconv.FormatInt(d.Version, 10))
	m["createdAt"], m["updatedAt"] = d.CreatedAt.UTC().Format(docstore.TimeFormat), d.UpdatedAt.UTC().Format(docstore.TimeFormat)
	return m, nil
}

// jsonReader turns parsed JSON values into the executor's values:
// objects as maps, arrays as []any, numbers as json.Number (their text, as
// written), strings, booleans and nil. It reuses the keys of the objects
// it has read (a page's documents share theirs) and one buffer for
// numbers' text.
type jsonReader struct {
	keys map[string]string
	num  []byte
}

// parse parses the JSON text b with p and returns its value. fastjson
// leaves an escaped lone surrogate ("\ud800") as its escape, where
// encoding/json (and every JSON decoder a client has) reads U+FFFD: a text
// with an escaped surrogate is decoded by encoding/json instead.
func (r *jsonReader) parse(p *fastjson.Parser, b []byte) (any, error) {
	if escapedSurrogate(b) {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		return v, nil
	}
	v, err := p.ParseBytes(b)
	if err != nil {
		return nil, err
	}
	return r.value(v), nil
}

// escapedSurrogate reports whether b holds the escape of a UTF-16
// surrogate (\uD800 to \uDFFF), or something that may be one.
func escapedSurrogate(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '\\')
		if i < 0 || i+3 >= len(b) {
			return false
		}
		if b[i+1] == '\\' {
			b = b[i+2:] // an escaped backslash
			continue
		}
		if b[i+1] == 'u' && (b[i+2] == 'd' || b[i+2] == 'D') && strings.IndexByte("89abcdefABCDEF", b[i+3]) >= 0 {
			return true
		}
		b = b[i+1:]
	}
}

// maxKeys bounds the keys a jsonReader keeps for reuse.
const maxKeys = 1024

func (r *jsonReader) value(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		m := make(map[string]any, o.Len()+5)
		o.Visit(func(k []byte, x *fastjson.Value) { m[r.key(k)] = r.value(x) })
		return m
	case fastjson.TypeArray:
		a, _ := v.Array()
		out := make([]any, len(a))
		for i, x := range a {
			out[i] = r.value(x)
		}
		return out
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return string(b)
	case fastjson.TypeNumber:
		r.num = v.MarshalTo(r.num[:0])
		return json.Number(r.num)
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	}
	return nil
}

// key is k as a string, the one read before when there was one.
func (r *jsonReader) key(k []byte) string {
	if s, ok := r.keys[string(k)]; ok { // no allocation to look up
		return s
	}
	s := string(k)
	if r.keys == nil {
		r.keys = make(map[string]string)
	}
	if len(r.keys) < maxKeys {
		r.keys[s] = s
	}
	return s
}

// complete turns v, the raw value of field f, into a value of type t. It
// is false when the value is null (or failed) where t is non-null: the
// null then propagates to the parent.
func (e *executor) complete(f *ast.Field, t *ast.Type, v any) (any, bool) {
	if v == nil {
		if t.NonNull {
			e.fail(f, fault.New(fault.Internal, op, "a non-null field is null"))
			return nil, false
		}
		return nil, true
	}
	if t.Elem != nil {
		items, ok := v.([]any)
		if !ok {
			return e.mismatch(f, t)
		}
		out := make([]any, len(items))
		depth := len(e.trail)
		defer func() { e.trail = e.trail[:depth] }()
		for i, it := range items {
			e.trail = append(e.trail[:depth], step{index: i})
			val, ok := e.complete(f, t.Elem, it)
			if !ok {
				if t.NonNull {
					return nil, false
				}
				return nil, true
			}
			out[i] = val
		}
		return out, true
	}
	def := e.s.AST.Types[t.NamedType]
	switch def.Kind {
	case ast.Object:
		obj, ok := e.selectionSet(def, f.SelectionSet, v)
		if !ok {
			if t.NonNull {
				return nil, false
			}
			return nil, true
		}
		return obj, true
	case ast.Scalar:
		if val, ok := scalar(def.Name, v); ok {
			return val, true
		}
	case ast.Enum:
		if s, ok := v.(string); ok && def.EnumValues.ForName(s) != nil {
			return s, true
		}
	}
	return e.mismatch(f, t)
}

// mismatch fails a value that is not of its field's type: a document
// written before its collection's schema changed.
func (e *executor) mismatch(f *ast.Field, t *ast.Type) (any, bool) {
	e.fail(f, fault.New(fault.Validation, op, "the stored value is not a "+t.String()+
		" (the document predates its collection's schema): read it through a JSON field or REST"))
	if t.NonNull {
		return nil, false
	}
	return nil, true
}

// scalar is v as a value of the scalar type name, if it is one. A value
// already in its answer's form is returned as it is (v itself, rather
// than its content boxed again): a page's strings and numbers cost no
// allocation here.
func scalar(name string, v any) (any, bool) {
	switch name {
	case "JSON":
		return v, true
	case "String", "DateTime", "ID":
		_, ok := v.(string)
		return v, ok
	case "Boolean":
		_, ok := v.(bool)
		return v, ok
	case "Int":
		switch n := v.(type) {
		case json.Number:
			_, err := strconv.ParseInt(string(n), 10, 32)
			return v, err == nil
		case int64:
			return v, n >= math.MinInt32 && n <= math.MaxInt32
		}
	case "Float":
		switch n := v.(type) {
		case json.Number:
			f, err := n.Float64()
			return v, err == nil && !math.IsInf(f, 0)
		case int64:
			return v, true
		case float64: // a score
			return v, !math.IsInf(n, 0) && !math.IsNaN(n)
		}
	}
	return nil, false
}

// fail records err as the error of field f at the current path.
func (e *executor) fail(f *ast.Field, err error) {
	c := fault.TypeOf(err)
	msg := fault.Message(err)
	var p ast.Path
	if len(e.trail) > 0 {
		p = e.errorPath()
	}
	ge := &gqlerror.Error{Message: msg, Path: p, Extensions: code(c)}
	if f != nil && f.Position != nil {
		ge.Locations = []gqlerror.Location{{Line: f.Position.Line, Column: f.Position.Column}}
	}
	e.errs = append(e.errs, ge)
}

const op = "graphqlapi"
