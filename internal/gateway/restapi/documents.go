package restapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// documentLocation is the path of one document.
func documentLocation(collection, id string) string {
	return Base + "/collections/" + url.PathEscape(collection) + "/documents/" + url.PathEscape(id)
}

// writeDocument answers status with d and its ETag. It writes the output
// of Document.MarshalJSON as is (the data is embedded as stored, canonical
// bytes), skipping the re-validation an encoder would add.
func (a *API) writeDocument(w http.ResponseWriter, r *http.Request, status int, d docstore.Document) {
	body, err := d.MarshalJSON()
	if err != nil {
		a.WriteProblem(w, r, fault.Internalf("restapi.writeDocument", err))
		return
	}
	h := w.Header()
	h.Set("ETag", etag(d.Version))
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(body, '\n'))
	}
}

// listPage is the body of a list answer: nextCursor is null on the last
// page; total and totalCapped appear only when asked for (totalCapped:
// more documents match than the server counts, and total is that cap).
type listPage struct {
	Items       []docstore.Document `json:"items"`
	NextCursor  *string             `json:"nextCursor"`
	Total       *int64              `json:"total,omitempty"`
	TotalCapped *bool               `json:"totalCapped,omitempty"`
}

// expandedPage is a list answer whose documents have their references
// expanded.
type expandedPage struct {
	listPage
	Items []expanded `json:"items"`
}

// listDocuments serves GET /v1/collections/{collection}/documents with the
// query parameters filter, sort, limit, cursor, fields and total; any other
// parameter is a 400, as it is most likely a typo.
func (a *API) listDocuments(w http.ResponseWriter, r *http.Request) {
	coll, err := PathValue(r, "collection")
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	q, err := ParseQuery(r, "filter", "sort", "limit", "cursor", "fields", "total", "expand")
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	if q.Has("expand") && a.opts.Elsewhere != nil {
		a.opts.Elsewhere.ServeHTTP(w, r) // the references are the documents component's to read
		return
	}
	refs, err := a.expansion(r.Context(), coll, q.Get("expand"))
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	req := docstore.ListRequest{
		Collection: coll, Filter: q.Get("filter"), Sort: q.Get("sort"),
		Fields: q.Get("fields"), Cursor: q.Get("cursor"),
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			a.WriteProblem(w, r, BadRequest("limit must be a non-negative integer"))
			return
		}
		req.Limit = n
	}
	if s := q.Get("total"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			a.WriteProblem(w, r, BadRequest("total must be true or false"))
			return
		}
		req.Total = b
	}
	page, err := a.svc.ListDocuments(r.Context(), req)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	out := listPage{Items: page.Items, Total: page.Total}
	if page.Total != nil {
		out.TotalCapped = &page.TotalCapped
	}
	if out.Items == nil {
		out.Items = []docstore.Document{}
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	if refs != nil {
		items, err := a.expand(r.Context(), page.Items, refs)
		if err != nil {
			a.WriteProblem(w, r, err)
			return
		}
		a.resp.WriteJSON(w, r, http.StatusOK, expandedPage{listPage: out, Items: items})
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, out)
}

// createDocument serves POST /v1/collections/{collection}/documents.
//
// The body is the document's data object itself. A client that chooses the
// document's id passes it as the query parameter id
// (POST …/documents?id=post-1); otherwise the service generates one. The
// answer is 201 with Location and ETag.
func (a *API) createDocument(w http.ResponseWriter, r *http.Request) {
	coll, err := PathValue(r, "collection")
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	q, err := ParseQuery(r, "id")
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	id := q.Get("id")
	if len(id) > MaxPathValue {
		a.WriteProblem(w, r, BadRequest("id must have at most 1024 characters"))
		return
	}
	key, err := parseIdempotencyKey(r)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	data, err := a.readData(w, r, false)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	d, err := a.svc.CreateDocument(r.Context(), docstore.CreateRequest{
		Collection: coll, ID: id, Data: data, IdempotencyKey: key,
	})
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	w.Header().Set("Location", documentLocation(d.Collection, d.ID))
	a.writeDocument(w, r, http.StatusCreated, d)
}

// documentTarget reads the collection and id of a one-document route and
// rejects any query parameter.
func documentTarget(r *http.Request) (coll, id string, err error) {
	if coll, err = PathValue(r, "collection"); err != nil {
		return "", "", err
	}
	if id, err = PathValue(r, "id"); err != nil {
		return "", "", err
	}
	if _, err = ParseQuery(r); err != nil {
		return "", "", err
	}
	return coll, id, nil
}

// getTarget is documentTarget for a get, which may expand references.
func getTarget(r *http.Request) (coll, id, expand string, err error) {
	if coll, err = PathValue(r, "collection"); err != nil {
		return "", "", "", err
	}
	if id, err = PathValue(r, "id"); err != nil {
		return "", "", "", err
	}
	q, err := ParseQuery(r, "expand")
	if err != nil {
		return "", "", "", err
	}
	if q.Has("expand") && q.Get("expand") == "" {
		return "", "", "", BadRequest("expand names one or more references")
	}
	return coll, id, q.Get("expand"), nil
}

// getDocument serves GET …/documents/{id}; If-None-Match with the current
// ETag answers 304.
func (a *API) getDocument(w http.ResponseWriter, r *http.Request) {
	coll, id, expand, err := getTarget(r)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	if expand != "" && a.opts.Elsewhere != nil {
		a.opts.Elsewhere.ServeHTTP(w, r) // the references are the documents component's to read
		return
	}
	refs, err := a.expansion(r.Context(), coll, expand)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	d, err := a.svc.GetDocument(r.Context(), coll, id)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	if refs != nil {
		out, err := a.expand(r.Context(), []docstore.Document{d}, refs)
		if err != nil {
			a.WriteProblem(w, r, err)
			return
		}
		a.writeExpanded(w, r, out[0])
		return
	}
	nm, err := notModified(r, d.Version)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	if nm {
		w.Header().Set("ETag", etag(d.Version))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	a.writeDocument(w, r, http.StatusOK, d)
}

// writeConditions reads If-Match and Idempotency-Key.
func writeConditions(r *http.Request) (cond docstore.Versions, key string, err error) {
	if cond, err = parseIfMatch(r); err != nil {
		return nil, "", err
	}
	if key, err = parseIdempotencyKey(r); err != nil {
		return nil, "", err
	}
	return cond, key, nil
}

// replaceDocument serves PUT …/documents/{id}: the body is the new data.
func (a *API) replaceDocument(w http.ResponseWriter, r *http.Request) {
	a.updateDocument(w, r, false)
}

// patchDocument serves PATCH …/documents/{id}: the body is a JSON Merge
// Patch (RFC 7386) of the data.
func (a *API) patchDocument(w http.ResponseWriter, r *http.Request) {
	a.updateDocument(w, r, true)
}

func (a *API) updateDocument(w http.ResponseWriter, r *http.Request, patch bool) {
	coll, id, err := documentTarget(r)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	cond, key, err := writeConditions(r)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	body, err := a.readData(w, r, patch)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	var d docstore.Document
	if patch {
		d, err = a.svc.PatchDocument(r.Context(), docstore.PatchRequest{
			Collection: coll, ID: id, Patch: body, IfMatch: cond, IdempotencyKey: key,
		})
	} else {
		d, err = a.svc.ReplaceDocument(r.Context(), docstore.ReplaceRequest{
			Collection: coll, ID: id, Data: body, IfMatch: cond, IdempotencyKey: key,
		})
	}
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	a.writeDocument(w, r, http.StatusOK, d)
}

// deleteDocument serves DELETE …/documents/{id}; the answer is 204.
func (a *API) deleteDocument(w http.ResponseWriter, r *http.Request) {
	coll, id, err := documentTarget(r)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	cond, key, err := writeConditions(r)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	if err := RejectBody(r); err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	err = a.svc.DeleteDocument(r.Context(), docstore.DeleteRequest{
		Collection: coll, ID: id, IfMatch: cond, IdempotencyKey: key,
	})
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
