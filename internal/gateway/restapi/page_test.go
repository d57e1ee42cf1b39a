package restapi

import (
	"net/url"
	"testing"

	"github.com/basaltdev/basalt/internal/fault"
)

func TestPageLimit(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  int
		ok    bool
	}{
		{"", 0, true}, {"limit=1", 1, true}, {"limit=50", 50, true},
		{"limit=0", 0, false}, {"limit=51", 0, false}, {"limit=-1", 0, false}, {"limit=x", 0, false}, {"limit=", 0, false},
	} {
		q, _ := url.ParseQuery(tc.query)
		n, err := PageLimit(q, 50)
		if n != tc.want || (err == nil) != tc.ok || (err != nil && !fault.Is(err, fault.Invalid)) {
			t.Errorf("PageLimit(%q) = %d, %v", tc.query, n, err)
		}
	}
}
