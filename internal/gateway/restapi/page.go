package restapi

import (
	"net/url"
	"strconv"
)

// PageLimit reads the query parameter limit of a listing whose pages hold
// at most maxItems: 0 (the listing's default) when absent, and an invalid
// request unless it is an integer from 1 to maxItems.
func PageLimit(q url.Values, maxItems int) (int, error) {
	if !q.Has("limit") {
		return 0, nil
	}
	n, err := strconv.Atoi(q.Get("limit"))
	if err != nil || n < 1 || n > maxItems {
		return 0, BadRequest("limit must be an integer from 1 to " + strconv.Itoa(maxItems))
	}
	return n, nil
}
