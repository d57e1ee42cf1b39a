package restapi

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzWrites sends arbitrary bodies, ids, filters and If-Match values to the
// real stack: every answer must be below 500 and carry a JSON body.
func FuzzWrites(f *testing.F) {
	f.Add(`{"title":"a"}`, "p9", `score > 1`, `"1"`)
	f.Add(`{"title":"a","title":"b"}`, "p1", `title = 'x'`, `W/"1"`)
	f.Add(`{"operations":[{"op":"delete","collection":"posts","id":"p1"}]}`, "", `(`, `*`)
	f.Add("{\"t\":\"\xff\"}", "../x", `1=1; DROP TABLE posts`, `"0"`)
	s := newStack(f)
	s.seedPosts()
	f.Fuzz(func(t *testing.T, body, id, filter, ifMatch string) {
		check := func(method, path string, headers map[string]string, body string) {
			req := httptest.NewRequestWithContext(t.Context(), method, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+adminToken)
			for k, v := range headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			s.handler.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body.String())
			}
			if rec.Code != 204 && rec.Code != 304 && !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %s: body is not JSON: %q", method, path, rec.Body.String())
			}
		}
		hm := map[string]string{"If-Match": strings.Map(func(r rune) rune {
			if r < 0x20 || r > 0x7e {
				return -1
			}
			return r
		}, ifMatch)}
		check("POST", docsPath+"?id="+url.QueryEscape(id), nil, body)
		check("PUT", docsPath+"/"+url.PathEscape(id), hm, body)
		check("PATCH", p1Path, hm, body)
		check("POST", "/v1/batch", nil, body)
		check("GET", docsPath+"?filter="+url.QueryEscape(filter)+"&sort="+url.QueryEscape(filter)+"&cursor="+url.QueryEscape(id), nil, "")
	})
}
