package restapi

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/jsonvalue"
)

func escapeToken(s string) string { return jsonvalue.EscapePointerToken(s) }
func quote(s string) string       { return strconv.Quote(s) }
func itoa(i int) string           { return strconv.Itoa(i) }

// sortedKeys returns the keys of m in order, so the first error reported
// about a body does not depend on map iteration order.
func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// batchResponse is the body of a committed batch.
type batchResponse struct {
	Results []docstore.BatchResult `json:"results"`
}

// batch serves POST /v1/batch: {"operations":[…]} applied in one
// transaction, answered 200 {"results":[…]} in operation order.
//
// Each operation is {"op", "collection", "id", "data", "ifMatch"} (see
// batchOps). The service bounds the number of operations (413
// payload_too_large, like a body over MaxBodyBytes: a client handles both by
// splitting the batch). Idempotency-Key applies to the whole batch.
func (a *API) batch(w http.ResponseWriter, r *http.Request) {
	if _, err := ParseQuery(r); err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	key, err := parseIdempotencyKey(r)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	body, err := a.readBody(w, r, false)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	ops, err := batchOps(body)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	results, err := a.svc.Batch(r.Context(), ops, key)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	if results == nil {
		results = []docstore.BatchResult{}
	}
	a.resp.WriteJSON(w, r, http.StatusOK, batchResponse{Results: results})
}

// batchOps converts a decoded batch body into operations. It checks the
// shape only (members and their JSON types); the service checks the rest
// (known op names, ids, data against schemas, versions).
func batchOps(body map[string]any) ([]docstore.BatchOp, error) {
	var raw []any
	for _, k := range sortedKeys(body) {
		v := body[k]
		if k != "operations" {
			return nil, BodyError("/"+escapeToken(k), "unknown member "+quote(k)+" (expected operations)")
		}
		list, ok := v.([]any)
		if !ok {
			return nil, BodyError("/operations", "operations must be an array")
		}
		raw = list
	}
	if raw == nil {
		return nil, BodyError("/operations", "operations is required")
	}
	ops := make([]docstore.BatchOp, 0, len(raw))
	for i, item := range raw {
		op, err := batchOp(item, "/operations/"+itoa(i))
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// batchOp converts one operation found at pointer at.
func batchOp(item any, at string) (docstore.BatchOp, error) {
	var op docstore.BatchOp
	obj, ok := item.(map[string]any)
	if !ok {
		return op, BodyError(at, "an operation must be an object")
	}
	str := func(k string, v any) (string, error) {
		s, ok := v.(string)
		if !ok {
			return "", BodyError(at+"/"+k, k+" must be a string")
		}
		return s, nil
	}
	var err error
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		switch k {
		case "op":
			var s string
			s, err = str(k, v)
			op.Op = docstore.Operation(s)
		case "collection":
			op.Collection, err = str(k, v)
		case "id":
			op.ID, err = str(k, v)
		case "data":
			m, ok := v.(map[string]any)
			if !ok {
				err = BodyError(at+"/data", "data must be an object")
			}
			op.Data = m
		case "ifMatch":
			op.IfMatch, err = version(v, at+"/ifMatch")
		default:
			err = BodyError(at+"/"+escapeToken(k), "unknown member "+quote(k)+" (expected op, collection, id, data, ifMatch)")
		}
		if err != nil {
			return op, err
		}
	}
	if op.Op == "" {
		return op, BodyError(at+"/op", "op is required")
	}
	return op, nil
}

// version reads a positive integer version (the batch form of If-Match).
func version(v any, at string) (int64, error) {
	n, ok := v.(json.Number)
	if ok {
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil && i > 0 {
			return i, nil
		}
	}
	return 0, BodyError(at, "ifMatch must be a positive integer version")
}
