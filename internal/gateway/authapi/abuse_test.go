package authapi

import (
	"strings"
	"testing"
)

// TestLookalikeAddressesRefused: sign-up and admin create answer 400 with a
// message at /email for an address that displays as another or names a
// host by IP address.
func TestLookalikeAddressesRefused(t *testing.T) {
	s := newStack(t)
	as := s.admin().AccessToken
	for _, email := range []string{`ada\u202e@example.com`, `ad\u200ba@example.com`, `ada@exa\u2028mple.com`, `ada@[192.0.2.1]`} {
		body := `{"email":"` + email + `","password":"` + testPassword + `"}`
		for _, path := range []string{"/v1/auth/signup", "/v1/admin/accounts"} {
			p := assertProblem(t, s.expect(request{method: "POST", path: path, body: body, bearer: as}, 400))
			if len(p.Errors) != 1 || p.Errors[0].Pointer != "/email" || !strings.Contains(p.Errors[0].Message, "must") {
				t.Errorf("POST %s with %s: %+v", path, email, p)
			}
		}
	}
	if n := s.mail.Count(); n != 0 {
		t.Errorf("%d messages sent to refused addresses", n)
	}
}
