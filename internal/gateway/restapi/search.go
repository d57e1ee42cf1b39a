package restapi

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/search"
)

// Searcher runs the searches of GET and POST …/search (search.Service).
type Searcher interface {
	Search(ctx context.Context, r search.Request) (search.Result, error)
}

// searchParams are the query parameters of GET …/search, and the members
// of the body of POST …/search beside vector.
var searchParams = []string{"q", "mode", "field", "filter", "sort", "fields", "limit", "cursor", "weight", "typo"}

// maxSearchLimit is the largest page a search request may ask for.
var maxSearchLimit = search.DefaultLimits().MaxLimit

// searchGet serves GET /v1/collections/{collection}/search.
func (a *API) searchGet(w http.ResponseWriter, r *http.Request) {
	req, err := searchQuery(r)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	a.search(w, r, req)
}

// searchPost serves POST /v1/collections/{collection}/search: the members
// of GET's query parameters in a JSON body, plus vector.
func (a *API) searchPost(w http.ResponseWriter, r *http.Request) {
	coll, err := PathValue(r, "collection")
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	if _, err := ParseQuery(r); err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	body, err := ReadBodyObject(w, r, a.opts.MaxBodyBytes, a.opts.JSON, false)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	req, err := searchBody(coll, body)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	a.search(w, r, req)
}

// searchQuery reads the request of GET …/search from its path and query.
func searchQuery(r *http.Request) (search.Request, error) {
	coll, err := PathValue(r, "collection")
	if err != nil {
		return search.Request{}, err
	}
	q, err := ParseQuery(r, searchParams...)
	if err != nil {
		return search.Request{}, err
	}
	return searchValues(coll, q)
}

// searchValues converts the query parameters of GET …/search.
func searchValues(coll string, q url.Values) (search.Request, error) {
	req := search.Request{
		Collection: coll, Query: q.Get("q"), Mode: search.Mode(q.Get("mode")), Field: q.Get("field"),
		Filter: q.Get("filter"), Sort: q.Get("sort"), Fields: q.Get("fields"), Cursor: q.Get("cursor"),
		Typo: search.Typo(q.Get("typo")),
	}
	n, err := PageLimit(q, maxSearchLimit)
	if err != nil {
		return search.Request{}, err
	}
	req.Limit = n
	if q.Has("weight") {
		w, err := strconv.ParseFloat(q.Get("weight"), 64)
		if err != nil || math.IsNaN(w) || w < 0 || w > 1 {
			return search.Request{}, BadRequest("weight must be a number from 0 to 1")
		}
		req.Weight = &w
	}
	return req, nil
}

// searchBody converts the body of POST …/search.
func searchBody(coll string, o *BodyObject) (search.Request, error) {
	req := search.Request{
		Collection: coll, Query: o.Str("q"), Mode: search.Mode(o.Str("mode")), Field: o.Str("field"),
		Filter: o.Str("filter"), Sort: o.Str("sort"), Fields: o.Str("fields"), Cursor: o.Str("cursor"),
		Typo: search.Typo(o.Str("typo")),
	}
	if n, ok := o.Integer("limit"); ok {
		if n < 1 || n > int64(maxSearchLimit) {
			o.fail("limit", "limit must be an integer from 1 to "+strconv.Itoa(maxSearchLimit))
		}
		req.Limit = int(n)
	}
	if w, ok := o.Number("weight"); ok {
		if w < 0 || w > 1 {
			o.fail("weight", "weight must be a number from 0 to 1")
		}
		req.Weight = &w
	}
	if v, ok := o.Numbers("vector"); ok {
		if len(v) == 0 {
			o.fail("vector", "vector must hold at least one number")
		}
		req.Vector = v
	}
	if err := o.Done(); err != nil {
		return search.Request{}, err
	}
	return req, nil
}

// search runs a search and renders its page.
func (a *API) search(w http.ResponseWriter, r *http.Request, req search.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if a.opts.Search == nil {
		a.WriteProblem(w, r, fault.New(fault.Unavailable, "restapi.search", "search is not available on this server"))
		return
	}
	res, err := a.opts.Search.Search(r.Context(), req)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	a.resp.WriteJSON(w, r, http.StatusOK, searchView(res))
}

// searchPage is the body of a search answer: fuzzy in text and hybrid
// modes, pending in vector and hybrid modes, pendingIds only when some
// are pending, nextCursor absent on the last page.
type searchPage struct {
	Mode       search.Mode  `json:"mode"`
	Items      []searchItem `json:"items"`
	NextCursor string       `json:"nextCursor,omitempty"`
	Fuzzy      *bool        `json:"fuzzy,omitempty"`
	Pending    *int         `json:"pending,omitempty"`
	PendingIDs []string     `json:"pendingIds,omitempty"`
}

// searchItem is one hit.
type searchItem struct {
	Document   docstore.Document `json:"document"`
	Score      float64           `json:"score"`
	Text       *searchTextSide   `json:"text,omitempty"`
	Vector     *searchVectorSide `json:"vector,omitempty"`
	Highlights map[string]string `json:"highlights,omitempty"`
}

type searchTextSide struct {
	Score float64 `json:"score"`
	Rank  int     `json:"rank"`
}

type searchVectorSide struct {
	Score    float64 `json:"score"`
	Distance float64 `json:"distance"`
	Rank     int     `json:"rank"`
}

// searchView renders a search's result.
func searchView(res search.Result) searchPage {
	out := searchPage{Mode: res.Mode, Items: make([]searchItem, 0, len(res.Hits)), NextCursor: res.NextCursor}
	if res.Mode != search.ModeVector {
		out.Fuzzy = &res.Fuzzy
	}
	if res.Mode != search.ModeText {
		out.Pending = &res.Pending
		if res.Pending > 0 {
			out.PendingIDs = res.PendingIDs
		}
	}
	for _, h := range res.Hits {
		it := searchItem{Document: h.Document, Score: h.Score, Highlights: h.Highlights}
		if h.Text != nil {
			it.Text = &searchTextSide{Score: h.Text.Score, Rank: h.Text.Rank}
		}
		if h.Vector != nil {
			it.Vector = &searchVectorSide{Score: h.Vector.Score, Distance: h.Vector.Distance, Rank: h.Vector.Rank}
		}
		out.Items = append(out.Items, it)
	}
	return out
}
