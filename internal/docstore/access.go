package docstore

// This file decides who may do what with the documents of a collection:
// the admin-only management API, API key scopes, the per-action access
// rules and the hidden fields. Every transport reaches documents through
// the Service, so these checks apply to all of them.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// access is the compiled access definition of one version of a
// collection: its parsed rules, its hidden fields, and the fields callers
// who are not admins may name in queries.
type access struct {
	rules  [numActions]*query.Rule // nil: admins only, unless open
	open   [numActions]bool        // the rule is "": everyone
	hidden [][]string              // hidden data paths
	// public is the collection's query schema without the hidden fields
	// (and everything below them): what filter, sort and fields may name
	// when the caller is not an admin.
	public *query.Schema
}

// compileAccess checks the rules and hidden fields of a collection against
// its schema (schema is the canonical JSON Schema, fields its query
// schema) and compiles them. Problems are reported together, as one
// fault.Validation error with a pointer each (/rules/list,
// /hiddenFields/0).
func compileAccess(op string, schema []byte, fields *query.Schema, rules Rules, hidden []string, lim Limits) (*access, error) {
	a := &access{public: fields}
	var problems []fault.FieldError
	for i, src := range rules.byAction() {
		ptr := "/rules/" + actionName(i)
		switch {
		case src == nil:
		case *src == "":
			a.open[i] = true
		case strings.TrimSpace(*src) == "":
			problems = append(problems, fault.FieldError{Pointer: ptr,
				Message: `a rule may not be blank: "" lets everyone in, null admins only`})
		default:
			r, err := query.ParseRule(*src, fields, lim.Query)
			if err != nil {
				if fault.KindOf(err) == fault.Internal {
					return nil, fault.Internalf(op, err)
				}
				problems = append(problems, fault.FieldError{Pointer: ptr, Message: fault.Message(err)})
				continue
			}
			a.rules[i] = r
		}
	}
	if len(hidden) > lim.MaxHiddenFields {
		problems = append(problems, fault.FieldError{Pointer: "/hiddenFields",
			Message: fmt.Sprintf("a collection has at most %d hidden fields", lim.MaxHiddenFields)})
	} else {
		seen := make(map[string]bool, len(hidden))
		for i, h := range hidden {
			ptr := "/hiddenFields/" + strconv.Itoa(i)
			f, ok := fields.Lookup(h)
			switch {
			case isSystemField(h):
				problems = append(problems, fault.FieldError{Pointer: ptr, Message: "is a system field; system fields are always shown"})
			case seen[h]:
				problems = append(problems, fault.FieldError{Pointer: ptr, Message: "is listed twice"})
			case !ok || f.System != query.SystemNone:
				problems = append(problems, fault.FieldError{Pointer: ptr, Message: "is not a property of the schema"})
			default:
				a.hidden = append(a.hidden, append([]string(nil), f.Path...))
			}
			seen[h] = true
		}
	}
	if len(problems) > 0 {
		msg := "invalid access definition: " + problems[0].Pointer + " " + problems[0].Message
		if len(problems) > 1 {
			msg += fmt.Sprintf(" (and %d more)", len(problems)-1)
		}
		if len(problems) > lim.MaxSchemaErrors {
			problems = problems[:lim.MaxSchemaErrors]
		}
		return nil, &fault.Error{Kind: fault.Validation, Op: op, Msg: msg, Fields: problems}
	}
	if len(a.hidden) > 0 {
		pub, err := publicSchema(schema, a.hidden)
		if err != nil {
			return nil, fault.Internalf(op, fmt.Errorf("schema without hidden fields: %w", err))
		}
		a.public = pub
	}
	return a, nil
}

// publicSchema returns the query schema of a JSON Schema from which the
// properties at the hidden paths have been removed.
func publicSchema(schema []byte, hidden [][]string) (*query.Schema, error) {
	root, err := decodeData(schema)
	if err != nil {
		return nil, err
	}
	removeHiddenProperties(root, hidden)
	raw, err := canonicalJSON(root)
	if err != nil {
		return nil, err
	}
	return query.SchemaFromJSON(raw)
}

// caller is the principal of a request as access checks see it.
type caller struct {
	p     auth.Principal
	admin bool
	bind  query.Caller // what rules see as @auth
}

// callerOf returns the caller of the request ctx belongs to.
func callerOf(ctx context.Context) caller {
	p := auth.FromContext(ctx)
	c := caller{p: p, admin: p.Authenticated() && p.IsAdmin()}
	if p.Authenticated() {
		c.bind = query.Caller{ID: p.ID, Type: p.Kind.String(), Roles: p.Roles}
	}
	return c
}

// identity names the caller for idempotency keys and cursors: kind and ID,
// length-prefixed so that no two callers share one.
func (c caller) identity() string {
	kind := c.p.Kind.String()
	return kind + ":" + strconv.Itoa(len(c.p.ID)) + ":" + c.p.ID
}

// errAuthRequired answers callers without credentials where only
// authenticated callers may go.
func errAuthRequired(op string) error {
	return fault.New(fault.Unauthenticated, op, "authentication required")
}

// requireAdmin admits admins only, and API keys only with scope: the
// management of collections (auth.ScopeCollectionsManage) and the reading
// of their definitions (auth.ScopeCollectionsView).
func requireAdmin(ctx context.Context, op, scope string) error {
	return auth.FromContext(ctx).Manage(op, scope)
}

// scope refuses an API key whose scopes do not cover act on collection.
func (c caller) scope(op, collection string, act int) error {
	if c.p.Allows(collection, actionName(act)) {
		return nil
	}
	return fault.Newf(fault.Forbidden, op, "the API key's scopes do not allow %s on collection %q", actionName(act), collection)
}

// verdict is what the rule of an action says for one caller: every
// document (the zero value), no document (none), or the documents that
// match filter.
type verdict struct {
	none   bool
	filter query.Expr
}

// decide applies the API key scopes and the rule of act to a caller.
// Callers the rule leaves out whatever the document get Unauthenticated
// (anonymous) or Forbidden. Admins get every document.
func (a *access) decide(op, collection string, c caller, act int) (verdict, error) {
	if err := c.scope(op, collection, act); err != nil {
		return verdict{}, err
	}
	return a.ruleVerdict(op, collection, c, act)
}

// ruleVerdict applies the rule of act, without the scopes, to a caller.
func (a *access) ruleVerdict(op, collection string, c caller, act int) (verdict, error) {
	if c.admin || a.open[act] {
		return verdict{}, nil
	}
	r := a.rules[act]
	if r == nil {
		if !c.p.Authenticated() {
			return verdict{}, errAuthRequired(op)
		}
		return verdict{}, fault.Newf(fault.Forbidden, op, "only admins may %s documents of collection %q", actionName(act), collection)
	}
	e, t := r.Bind(c.bind)
	switch {
	case t == query.Always:
		return verdict{}, nil
	case t == query.Never || e == nil:
		return verdict{none: true}, nil
	}
	return verdict{filter: e}, nil
}

// ruleRefused is the answer to a write the rule of act does not allow.
func ruleRefused(op, collection string, act int) error {
	return fault.Newf(fault.Forbidden, op, "the access rules of collection %q do not allow this %s", collection, actionName(act))
}

// shows reports whether documents returned to c need their hidden fields
// removed.
func (a *access) shows(c caller) bool { return c.admin || len(a.hidden) == 0 }

// strip removes the hidden fields from d's data.
func (a *access) strip(d Document) (Document, error) {
	if len(a.hidden) == 0 || len(d.Data) == 0 {
		return d, nil
	}
	data, err := decodeData(d.Data)
	if err != nil {
		return d, err
	}
	changed := false
	for _, path := range a.hidden {
		if removePath(data, path) {
			changed = true
		}
	}
	if !changed {
		return d, nil
	}
	raw, err := canonicalJSON(data)
	if err != nil {
		return d, err
	}
	d.Data = json.RawMessage(raw)
	return d, nil
}

// removePath deletes the member at path from data and reports whether
// there was one.
func removePath(data map[string]any, path []string) bool {
	obj := data
	for _, p := range path[:len(path)-1] {
		next, ok := obj[p].(map[string]any)
		if !ok {
			return false
		}
		obj = next
	}
	last := path[len(path)-1]
	if _, ok := obj[last]; !ok {
		return false
	}
	delete(obj, last)
	return true
}

// shown returns d as c may see it: without hidden fields unless c is an
// admin.
func (s *Service) shown(op string, c caller, a *access, d Document) (Document, error) {
	if a.shows(c) {
		return d, nil
	}
	out, err := a.strip(d)
	if err != nil {
		return Document{}, fault.Internalf(op, err)
	}
	return out, nil
}

// shownAfterWrite returns the answer of a write (or its idempotent replay)
// as c may see it, under the collection's current hidden fields.
func (s *Service) shownAfterWrite(ctx context.Context, op string, c caller, collection string, d Document) (Document, error) {
	if c.admin {
		return d, nil
	}
	_, cs, err := s.readCollection(ctx, op, collection)
	if err != nil {
		return Document{}, s.collectionErr(op, collection, err)
	}
	return s.shown(op, c, cs.access, d)
}

// checkExisting applies the verdicts of decideExisting to the stored
// document id inside tx: a document the caller may not see (get) is
// NotFound, exactly like a missing one; one they may see but not act on
// (write) is Forbidden.
func (s *Service) checkExisting(ctx context.Context, op string, tx Tx, get, write verdict, collection, id string, act int) error {
	if ok, err := s.matches(ctx, op, tx, get, collection, id); err != nil {
		return err
	} else if !ok {
		return s.documentErr(op, collection, id, fault.New(fault.NotFound, op, "no such document"))
	}
	if ok, err := s.matches(ctx, op, tx, write, collection, id); err != nil {
		return err
	} else if !ok {
		return ruleRefused(op, collection, act)
	}
	return nil
}

// decideExisting returns the verdicts of the get rule and of the rule of
// act (update or delete) for a write to an existing document, or the
// refusal that does not depend on the document. Writes call it before they
// read the document, so such a refusal is the same whether the document
// exists or not. An update answers with the stored document, so it needs
// the get scope as well as the update scope; a delete shows nothing and
// needs only the delete scope (the get rule still decides whether the
// caller may see the document at all).
func (a *access) decideExisting(op, collection string, c caller, act int) (get, write verdict, err error) {
	if act == actDelete {
		get, err = a.ruleVerdict(op, collection, c, actGet)
	} else {
		get, err = a.decide(op, collection, c, actGet)
	}
	if err != nil {
		return verdict{}, verdict{}, err
	}
	if write, err = a.decide(op, collection, c, act); err != nil {
		return verdict{}, verdict{}, err
	}
	return get, write, nil
}

// checkWritten applies the rule of act (create or update) to the content a
// write has just stored, inside its transaction: Forbidden, and so a
// rollback, when it does not hold.
func (s *Service) checkWritten(ctx context.Context, op string, tx Tx, c caller, a *access, collection, id string, act int) error {
	v, err := a.decide(op, collection, c, act)
	if err != nil {
		return err
	}
	ok, err := s.matches(ctx, op, tx, v, collection, id)
	if err != nil {
		return err
	}
	if !ok {
		return ruleRefused(op, collection, act)
	}
	return nil
}

// matches reports whether document id is among those v admits, asking the
// database only when v depends on the document.
func (s *Service) matches(ctx context.Context, op string, tx Tx, v verdict, collection, id string) (bool, error) {
	switch {
	case v.none:
		return false, nil
	case v.filter == nil:
		return true, nil
	}
	ok, err := tx.MatchDocument(ctx, collection, id, v.filter)
	if err != nil {
		return false, s.storeErr(op, err)
	}
	return ok, nil
}

// andFilter returns the conjunction of a rule's filter and a user's.
func andFilter(rule, user query.Expr) query.Expr {
	switch {
	case rule == nil:
		return user
	case user == nil:
		return rule
	}
	return &query.And{Terms: []query.Expr{rule, user}}
}
