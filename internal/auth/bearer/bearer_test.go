package bearer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/bearer"
	"github.com/basaltdev/basalt/internal/fault"
)

func TestCredential(t *testing.T) {
	for _, c := range []struct {
		values  []string
		want    string
		present bool
		bad     bool
	}{
		{nil, "", false, false},
		{[]string{"Bearer abc.DEF-_~+/=="}, "abc.DEF-_~+/==", true, false},
		{[]string{"bearer   tok"}, "tok", true, false},
		{[]string{"BEARER bsk_123"}, "bsk_123", true, false},
		{[]string{"Bearer " + strings.Repeat("a", bearer.MaxBytes-len("Bearer "))}, strings.Repeat("a", bearer.MaxBytes-len("Bearer ")), true, false},
		{[]string{"Bearer " + strings.Repeat("a", bearer.MaxBytes)}, "", false, true},
		{[]string{"Bearer a", "Bearer b"}, "", false, true},
		{[]string{""}, "", false, true},
		{[]string{"Bearer"}, "", false, true},
		{[]string{"Bearer "}, "", false, true},
		{[]string{"Basic dXNlcjpwdw=="}, "", false, true},
		{[]string{"Bearer a b"}, "", false, true},
		{[]string{"Bearer =abc"}, "", false, true},
		{[]string{"Bearer ab=c"}, "", false, true},
		{[]string{"Bearer tök"}, "", false, true},
	} {
		got, present, err := bearer.Credential(c.values)
		if got != c.want || present != c.present || (err != nil) != c.bad {
			t.Errorf("Credential(%q) = %q, %v, %v; want %q, %v, error %v", c.values, got, present, err, c.want, c.present, c.bad)
		}
		if err != nil && (!errors.Is(err, bearer.ErrMalformed) || fault.KindOf(err) != fault.Unauthenticated) {
			t.Errorf("Credential(%q) error %v: want unauthenticated, ErrMalformed", c.values, err)
		}
	}
}

// fakeAuth accepts "alice" and recognizes "known", fails "down" as
// unavailable and "broken" with an unknown error, and accepts "nobody"
// without a principal.
type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, cred string) (auth.Principal, error) {
	switch cred {
	case "alice", "known":
		return auth.Principal{Kind: auth.KindUser, ID: "acc_" + cred}, nil
	case "down":
		return auth.Principal{}, fault.New(fault.Unavailable, "test", "cannot tell")
	case "broken":
		return auth.Principal{}, errors.New("driver: bad connection")
	case "nobody":
		return auth.Principal{}, nil
	}
	return auth.Principal{}, fault.New(fault.Unauthenticated, "test", "invalid or expired access token")
}

func (fakeAuth) Recognize(cred string) (auth.Principal, bool) {
	if cred == "known" {
		return auth.Principal{Kind: auth.KindUser, ID: "acc_known"}, true
	}
	return auth.Principal{}, false
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		values    []string
		id        string
		kind      fault.Kind
		malformed bool
	}{
		{nil, "", "", false},
		{[]string{"Bearer alice"}, "acc_alice", "", false},
		{[]string{"Bearer mallory"}, "", fault.Unauthenticated, false},
		{[]string{"Bearer nobody"}, "", fault.Unauthenticated, false},
		{[]string{"Bearer down"}, "", fault.Unavailable, false},
		{[]string{"Bearer broken"}, "", fault.Internal, false},
		{[]string{"Basic alice"}, "", fault.Unauthenticated, true},
	} {
		p, err := bearer.Authenticate(ctx, fakeAuth{}, c.values)
		if fault.KindOf(err) != c.kind && (err != nil || c.kind != "") {
			t.Errorf("Authenticate(%q): error %v, want kind %q", c.values, err, c.kind)
		}
		if errors.Is(err, bearer.ErrMalformed) != c.malformed {
			t.Errorf("Authenticate(%q): error %v, malformed want %v", c.values, err, c.malformed)
		}
		if err == nil && p.ID != c.id {
			t.Errorf("Authenticate(%q) = %+v, want %s", c.values, p, c.id)
		}
		if err == nil && c.id == "" && p.Authenticated() {
			t.Errorf("Authenticate(%q) = %+v, want anonymous", c.values, p)
		}
	}
	if p, err := bearer.Authenticate(ctx, nil, []string{"Bearer alice"}); err != nil || p.Authenticated() {
		t.Errorf("no authenticator: %+v, %v; want anonymous", p, err)
	}
}

func TestRecognize(t *testing.T) {
	for _, c := range []struct {
		a      auth.Authenticator
		values []string
		id     string
		ok     bool
	}{
		{fakeAuth{}, nil, "", true},
		{nil, []string{"Bearer alice"}, "", true},
		{fakeAuth{}, []string{"Bearer known"}, "acc_known", true},
		{fakeAuth{}, []string{"Bearer alice"}, "", false}, // accepted, but not recognized
		{fakeAuth{}, []string{"Basic known"}, "", false},
		{auth.AuthenticatorFunc(fakeAuth{}.Authenticate), []string{"Bearer known"}, "", false},
	} {
		p, ok := bearer.Recognize(c.a, c.values)
		if ok != c.ok || p.ID != c.id {
			t.Errorf("Recognize(%q) = %+v, %v; want %q, %v", c.values, p, ok, c.id, c.ok)
		}
	}
}

// FuzzCredential: any Authorization value is answered without a panic;
// an accepted one came with the Bearer scheme within the bound, and its
// credential is a b64token the value ends with.
func FuzzCredential(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  a.b.c==", "Basic x", "Bearer ", "", "Bearer a=b", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		cred, present, err := bearer.Credential([]string{v})
		if err != nil {
			if present || cred != "" || !errors.Is(err, bearer.ErrMalformed) {
				t.Fatalf("Credential(%q) = %q, %v, %v", v, cred, present, err)
			}
			return
		}
		if !present || cred == "" || len(v) > bearer.MaxBytes || !strings.EqualFold(v[:7], "Bearer ") || !strings.HasSuffix(v, cred) ||
			strings.ContainsAny(cred, " \t\r\n\x00") {
			t.Fatalf("Credential(%q) accepted %q", v, cred)
		}
	})
}
