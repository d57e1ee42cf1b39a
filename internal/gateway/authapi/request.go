package authapi

import (
	"net/http"

	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/jsonvalue"
)

// bodyLimits bound the structure of request bodies. Bodies of this API are
// a few flat members and two short lists, so the bounds are tight.
var bodyLimits = jsonvalue.Limits{MaxDepth: 4, MaxString: 16 << 10, MaxMembers: 1024}

// readObject checks the media type of r's body, reads it (at most
// maxBytes) and decodes it as one JSON object within bodyLimits. An empty
// body is malformed.
func readObject(w http.ResponseWriter, r *http.Request, maxBytes int64, mergePatch bool) (*restapi.BodyObject, error) {
	return restapi.ReadBodyObject(w, r, maxBytes, bodyLimits, mergePatch)
}

// readOptionalObject is readObject for requests whose parameters are all
// optional: an absent or empty body reads as an empty object.
func readOptionalObject(w http.ResponseWriter, r *http.Request, maxBytes int64) (*restapi.BodyObject, error) {
	return restapi.ReadOptionalBodyObject(w, r, maxBytes, bodyLimits)
}
