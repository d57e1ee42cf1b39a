package restapi

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// collectionLocation is the path of one collection.
func collectionLocation(name string) string {
	return Base + "/collections/" + url.PathEscape(name)
}

// writeCollection answers status with c and its ETag (the definition's
// version).
func (a *API) writeCollection(w http.ResponseWriter, r *http.Request, status int, c docstore.Collection) {
	w.Header().Set("ETag", etag(c.Version))
	a.resp.WriteJSON(w, r, status, c)
}

// collectionList is the body of GET /v1/collections.
type collectionList struct {
	Items []docstore.Collection `json:"items"`
}

// listCollections serves GET /v1/collections: {"items":[…]} by name.
func (a *API) listCollections(w http.ResponseWriter, r *http.Request) {
	if _, err := ParseQuery(r); err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	cs, err := a.svc.ListCollections(r.Context())
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	if cs == nil {
		cs = []docstore.Collection{}
	}
	a.resp.WriteJSON(w, r, http.StatusOK, collectionList{Items: cs})
}

// collectionSpec converts a decoded body into a CollectionSpec. Members are
// name (a string), schema (any JSON value; the service checks it), indexes
// ([{"fields":[…]}]), rules ({"list": "…" or null, …}), hiddenFields
// (["…", …]) and search ({"text":…, "vectors":…}, read by
// docstore.DecodeSearch); any other member is refused. pathName, when set, is the name
// in the path: a body name must then equal it.
func collectionSpec(body map[string]any, pathName string) (docstore.CollectionSpec, error) {
	var spec docstore.CollectionSpec
	for _, k := range sortedKeys(body) {
		v := body[k]
		switch k {
		case "name":
			s, ok := v.(string)
			if !ok {
				return spec, BodyError("/name", "name must be a string")
			}
			spec.Name = s
		case "schema":
			raw, err := json.Marshal(v)
			if err != nil {
				return spec, fault.Internalf("restapi.collectionSpec", err)
			}
			spec.Schema = raw
		case "indexes":
			idx, err := indexes(v)
			if err != nil {
				return spec, err
			}
			spec.Indexes = idx
		case "rules":
			rules, err := accessRules(v)
			if err != nil {
				return spec, err
			}
			spec.Rules = rules
		case "hiddenFields":
			hidden, err := hiddenFields(v)
			if err != nil {
				return spec, err
			}
			spec.HiddenFields = hidden
		case "search":
			search, err := docstore.DecodeSearch(v)
			if err != nil {
				return spec, err
			}
			spec.Search = search
		case "references":
			refs, err := references(v)
			if err != nil {
				return spec, err
			}
			spec.References = refs
		default:
			return spec, BodyError("/"+escapeToken(k), "unknown member "+quote(k)+" (expected name, schema, indexes, rules, hiddenFields, search, references)")
		}
	}
	if pathName != "" {
		if spec.Name != "" && spec.Name != pathName {
			return spec, BodyError("/name", "name must equal the collection name in the path")
		}
		spec.Name = pathName
	}
	return spec, nil
}

// accessRules converts the rules member: null, or an object whose members
// are actions with a rule string or null. "" and null differ: "" lets
// everyone in, null admins only.
func accessRules(v any) (docstore.Rules, error) {
	var rules docstore.Rules
	if v == nil {
		return rules, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return rules, BodyError("/rules", "rules must be an object")
	}
	for _, k := range sortedKeys(obj) {
		at := "/rules/" + escapeToken(k)
		var dst **string
		switch k {
		case "list":
			dst = &rules.List
		case "get":
			dst = &rules.Get
		case "create":
			dst = &rules.Create
		case "update":
			dst = &rules.Update
		case "delete":
			dst = &rules.Delete
		default:
			return rules, BodyError(at, "unknown member "+quote(k)+" (expected list, get, create, update, delete)")
		}
		switch r := obj[k].(type) {
		case nil:
		case string:
			*dst = &r
		default:
			return rules, BodyError(at, "a rule must be a string or null")
		}
	}
	return rules, nil
}

// hiddenFields converts the hiddenFields member: null or an array of
// strings.
func hiddenFields(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, BodyError("/hiddenFields", "hiddenFields must be an array of strings")
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			return nil, BodyError("/hiddenFields/"+itoa(i), "a hidden field must be a string")
		}
		out = append(out, s)
	}
	return out, nil
}

// indexes converts the indexes member.
func indexes(v any) ([]docstore.Index, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, BodyError("/indexes", "indexes must be an array")
	}
	out := make([]docstore.Index, 0, len(list))
	for i, item := range list {
		at := "/indexes/" + itoa(i)
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, BodyError(at, "an index must be an object")
		}
		var idx docstore.Index
		for _, k := range sortedKeys(obj) {
			fv := obj[k]
			if k != "fields" {
				return nil, BodyError(at+"/"+escapeToken(k), "unknown member "+quote(k)+" (expected fields)")
			}
			fields, ok := fv.([]any)
			if !ok {
				return nil, BodyError(at+"/fields", "fields must be an array of strings")
			}
			for j, f := range fields {
				s, ok := f.(string)
				if !ok {
					return nil, BodyError(at+"/fields/"+itoa(j), "a field must be a string")
				}
				idx.Fields = append(idx.Fields, s)
			}
		}
		out = append(out, idx)
	}
	return out, nil
}

// createCollection serves POST /v1/collections: 201 with Location and ETag.
func (a *API) createCollection(w http.ResponseWriter, r *http.Request) {
	if err := firstError(func() error { _, err := ParseQuery(r); return err }, func() error { return rejectIdempotencyKey(r) }); err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	body, err := a.readBody(w, r, false)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	spec, err := collectionSpec(body, "")
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	c, err := a.svc.CreateCollection(r.Context(), spec)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	w.Header().Set("Location", collectionLocation(c.Name))
	a.writeCollection(w, r, http.StatusCreated, c)
}

// collectionTarget reads the collection of a one-collection route and
// rejects query parameters.
func collectionTarget(r *http.Request) (string, error) {
	name, err := PathValue(r, "collection")
	if err != nil {
		return "", err
	}
	_, err = ParseQuery(r)
	return name, err
}

// getCollection serves GET /v1/collections/{collection}.
func (a *API) getCollection(w http.ResponseWriter, r *http.Request) {
	name, err := collectionTarget(r)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	c, err := a.svc.GetCollection(r.Context(), name)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	nm, err := notModified(r, c.Version)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	// The status of the search indexes changes without a new version, so
	// an answer that shows it is never "not modified".
	if nm && (a.opts.SearchStatus == nil || !c.Search.Enabled()) {
		w.Header().Set("ETag", etag(c.Version))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	withStatus, err := a.collectionWithStatus(r.Context(), c)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	if withStatus != nil {
		w.Header().Set("ETag", etag(c.Version))
		a.resp.WriteJSON(w, r, http.StatusOK, withStatus)
		return
	}
	a.writeCollection(w, r, http.StatusOK, c)
}

// collectionWrite reads what PUT, PATCH and DELETE of a collection share.
func collectionWrite(r *http.Request) (name string, cond docstore.Versions, err error) {
	if name, err = collectionTarget(r); err != nil {
		return "", nil, err
	}
	if err = rejectIdempotencyKey(r); err != nil {
		return "", nil, err
	}
	cond, err = parseIfMatch(r)
	return name, cond, err
}

// replaceCollection serves PUT /v1/collections/{collection}.
func (a *API) replaceCollection(w http.ResponseWriter, r *http.Request) {
	name, cond, err := collectionWrite(r)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	body, err := a.readBody(w, r, false)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	spec, err := collectionSpec(body, name)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	c, err := a.svc.ReplaceCollection(r.Context(), name, spec, cond)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	a.writeCollection(w, r, http.StatusOK, c)
}

// patchCollection serves PATCH /v1/collections/{collection}: a JSON Merge
// Patch of {"schema":…, "indexes":…, "rules":…, "hiddenFields":…,
// "search":…}, applied by the service.
func (a *API) patchCollection(w http.ResponseWriter, r *http.Request) {
	name, cond, err := collectionWrite(r)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	patch, err := a.readBody(w, r, true)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	c, err := a.svc.PatchCollection(r.Context(), name, patch, cond)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	a.writeCollection(w, r, http.StatusOK, c)
}

// deleteCollection serves DELETE /v1/collections/{collection}: 204.
func (a *API) deleteCollection(w http.ResponseWriter, r *http.Request) {
	name, cond, err := collectionWrite(r)
	if err == nil {
		err = RejectBody(r)
	}
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	if err := a.svc.DeleteCollection(r.Context(), name, cond); err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// firstError runs checks in order and returns the first error.
func firstError(checks ...func() error) error {
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

// references decodes the references member: an object of strings (a
// field → the collection it refers to), or null for none.
func references(v any) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, BodyError("/references", "references must be an object of collection names")
	}
	out := make(map[string]string, len(m))
	for k, c := range m {
		s, ok := c.(string)
		if !ok {
			return nil, BodyError("/references/"+escapeToken(k), "a reference names a collection (a string)")
		}
		out[k] = s
	}
	return out, nil
}
