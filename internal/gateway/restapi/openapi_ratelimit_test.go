package restapi

import "testing"

// TestOpenAPIRateLimits: every operation the document describes can be
// answered 429, and every answer describes the RateLimit fields (the 429
// and 503 ones also Retry-After).
func TestOpenAPIRateLimits(t *testing.T) {
	s := newStack(t)
	s.seedPosts()
	doc, _ := s.loadOpenAPI("Bearer " + adminToken)
	for _, name := range []string{"RateLimit", "RateLimit-Policy", "Retry-After"} {
		if h := doc.Components.Headers[name]; h == nil || h.Value == nil || h.Value.Description == "" {
			t.Errorf("header component %s missing", name)
		}
	}
	ops := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops++
			r := op.Responses.Value("429")
			if r == nil || r.Value == nil || r.Value.Headers["Retry-After"] == nil {
				t.Errorf("%s %s: no 429 answer with Retry-After", method, path)
			}
			for code, r := range op.Responses.Map() {
				if r.Value == nil {
					t.Errorf("%s %s %s: unresolved response", method, path, code)
					continue
				}
				for _, h := range []string{"RateLimit", "RateLimit-Policy"} {
					if r.Value.Headers[h] == nil {
						t.Errorf("%s %s %s: no %s header", method, path, code, h)
					}
				}
			}
		}
	}
	if ops < len(RoutePatterns()) {
		t.Errorf("%d operations, want at least the %d routes", ops, len(RoutePatterns()))
	}
}
