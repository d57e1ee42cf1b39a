package authapi

import (
	"bytes"
	"net/http"

	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/jsonvalue"
)

// Bounds on the structure of request bodies. Bodies of this API are a few
// flat members and two short lists, so the bounds are tight.
const (
	maxBodyDepth   = 4
	maxBodyString  = 16 << 10
	maxBodyMembers = 1024
)

// readBody reads the whole body of r, at most maxBytes (see
// restapi.ReadBody).
func readBody(w http.ResponseWriter, r *http.Request, maxBytes int64) ([]byte, error) {
	var buf bytes.Buffer
	if err := restapi.ReadBody(w, r, maxBytes, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeObject decodes b strictly as one JSON object: I-JSON, no
// duplicate members, within the bounds above.
func decodeObject(b []byte) (*restapi.BodyObject, error) {
	return restapi.DecodeBodyObject(b, jsonvalue.Limits{
		MaxDepth: maxBodyDepth, MaxString: maxBodyString, MaxMembers: maxBodyMembers})
}

// readObject checks the media type of r's body, reads it (at most
// maxBytes) and decodes it as one JSON object. An empty body is malformed.
func readObject(w http.ResponseWriter, r *http.Request, maxBytes int64, mergePatch bool) (*restapi.BodyObject, error) {
	if err := restapi.CheckContentType(r, mergePatch); err != nil {
		return nil, err
	}
	b, err := readBody(w, r, maxBytes)
	if err != nil {
		return nil, err
	}
	return decodeObject(b)
}

// readOptionalObject is readObject for requests whose parameters are all
// optional: an absent or empty body reads as an empty object.
func readOptionalObject(w http.ResponseWriter, r *http.Request, maxBytes int64) (*restapi.BodyObject, error) {
	b, err := readBody(w, r, maxBytes)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return restapi.EmptyBodyObject(), nil
	}
	if err := restapi.CheckContentType(r, false); err != nil {
		return nil, err
	}
	return decodeObject(b)
}
