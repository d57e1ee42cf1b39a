package apilimit_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/apilimit"
)

// specCases are the parser's table, and the seeds of FuzzParseSpec.
var specCases = []struct {
	in      string
	want    apilimit.Spec
	wantErr string // a fragment of the error; "" when valid
}{
	{in: "write:account=5/1s:20", want: apilimit.Spec{Class: apilimit.Write, Kind: apilimit.Account, Rule: apilimit.Rule{Count: 5, Per: time.Second, Burst: 20}}},
	{in: "posts.write:ip=1/1s:5", want: apilimit.Spec{Collection: "posts", Class: apilimit.Write, Kind: apilimit.IP, Rule: apilimit.Rule{Count: 1, Per: time.Second, Burst: 5}}},
	{in: "read:anonymous=off", want: apilimit.Spec{Class: apilimit.Read, Kind: apilimit.Anonymous}},
	{in: "  search:apikey=100/1m:10 ", want: apilimit.Spec{Class: apilimit.Search, Kind: apilimit.APIKey, Rule: apilimit.Rule{Count: 100, Per: time.Minute, Burst: 10}}},
	{in: "auth:ip=3/500ms:1", want: apilimit.Spec{Class: apilimit.Auth, Kind: apilimit.IP, Rule: apilimit.Rule{Count: 3, Per: 500 * time.Millisecond, Burst: 1}}},
	{in: "chat_2.realtime:account=1/1h:3", want: apilimit.Spec{Collection: "chat_2", Class: apilimit.Realtime, Kind: apilimit.Account, Rule: apilimit.Rule{Count: 1, Per: time.Hour, Burst: 3}}},
	{in: "", wantErr: "missing ="},
	{in: "write:account", wantErr: "missing ="},
	{in: "write=5/1s:20", wantErr: "missing : between"},
	{in: "writes:account=5/1s:20", wantErr: `unknown class "writes"`},
	{in: "write:user=5/1s:20", wantErr: `unknown key kind "user"`},
	{in: "Posts.write:ip=1/1s:5", wantErr: "collection"},
	{in: ".write:ip=1/1s:5", wantErr: "collection"},
	// A collection may be named auth: only the auth class has none.
	{in: "auth.write:ip=1/1s:5", want: apilimit.Spec{Collection: "auth", Class: apilimit.Write, Kind: apilimit.IP, Rule: apilimit.Rule{Count: 1, Per: time.Second, Burst: 5}}},
	{in: "posts.auth:ip=1/1s:5", wantErr: "auth routes have no collection"},
	{in: "write:ip=Off", wantErr: "missing :BURST"},
	{in: "write:ip=5/1s", wantErr: "missing :BURST"},
	{in: "write:ip=5:20", wantErr: "COUNT/PER"},
	{in: "write:ip=0/1s:20", wantErr: "count"},
	{in: "write:ip=-1/1s:20", wantErr: "count"},
	{in: "write:ip=+1/1s:20", wantErr: "count"},
	{in: "write:ip=1.5/1s:20", wantErr: "count"},
	{in: "write:ip=1000001/1s:20", wantErr: "count"},
	{in: "write:ip=5/1s:0", wantErr: "burst"},
	{in: "write:ip=5/1s:", wantErr: "burst"},
	{in: "write:ip=5/s:20", wantErr: "period"},
	{in: "write:ip=5/-1s:20", wantErr: "period"},
	{in: "write:ip=5/0s:20", wantErr: "period"},
	{in: "write:ip=5/25h:20", wantErr: "period"},
	{in: "write:ip=1000000/1ns:20", wantErr: "microsecond"},
	{in: "write:ip=5/1s:20:3", wantErr: "burst"},
	{in: "write:ip = 5/1s:20", wantErr: "unknown key kind"},
}

func TestParseSpec(t *testing.T) {
	for _, c := range specCases {
		got, err := apilimit.ParseSpec(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseSpec(%q) = %v, %v; want an error with %q", c.in, got, err, c.wantErr)
			} else if !strings.Contains(err.Error(), "the form is") {
				t.Errorf("ParseSpec(%q): the error %q does not show the grammar", c.in, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		if again, err := apilimit.ParseSpec(got.String()); err != nil || again != got {
			t.Errorf("ParseSpec(%q) = %+v, %v; want the spec %q came from", got.String(), again, err, c.in)
		}
	}
}

// FuzzParseSpec checks that the parser never panics, and that whatever it
// accepts renders (Spec.String) to text it parses back to the same spec,
// with a valid GCRA limit.
func FuzzParseSpec(f *testing.F) {
	for _, c := range specCases {
		f.Add(c.in)
	}
	for _, s := range apilimit.DefaultSpecs() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := apilimit.ParseSpec(in)
		if err != nil {
			if s != (apilimit.Spec{}) {
				t.Fatalf("ParseSpec(%q) failed but returned %+v", in, s)
			}
			return
		}
		if !s.Rule.Off() {
			if err := s.Rule.Limit().Validate(); err != nil {
				t.Fatalf("ParseSpec(%q) accepted an invalid limit: %v", in, err)
			}
		}
		again, err := apilimit.ParseSpec(s.String())
		if err != nil || again != s {
			t.Fatalf("ParseSpec(%q) = %+v; its String %q parses to %+v, %v", in, s, s.String(), again, err)
		}
	})
}

func TestDefaultConfig(t *testing.T) {
	c := apilimit.DefaultConfig()
	if got, want := c.Specs(), apilimit.DefaultSpecs(); !slices.Equal(got, want) {
		t.Errorf("DefaultConfig().Specs() =\n%q\nwant the defaults\n%q", got, want)
	}
	if len(apilimit.DefaultSpecs()) != len(apilimit.Classes())*len(apilimit.Kinds()) {
		t.Errorf("%d defaults, want one per class and key kind", len(apilimit.DefaultSpecs()))
	}
	// The auth class never has an unlimited address.
	if r, _ := c.Rule("", apilimit.Auth, apilimit.IP); r.Off() {
		t.Error("auth:ip is off by default")
	}
	// A busy client in normal use: the caller budgets of the brief.
	for _, w := range []struct {
		class        apilimit.Class
		count, burst int
	}{{apilimit.Read, 50, 200}, {apilimit.Write, 20, 100}, {apilimit.Search, 10, 40}, {apilimit.Realtime, 2, 20}} {
		r, _ := c.Rule("", w.class, apilimit.Account)
		if r.Count != w.count || r.Per != time.Second || r.Burst != w.burst {
			t.Errorf("%s:account = %s, want %d/1s:%d", w.class, r, w.count, w.burst)
		}
	}
}

func TestConfigOverrides(t *testing.T) {
	c := apilimit.DefaultConfig()
	for _, s := range []string{"write:account=5/1s:20", "posts.write:account=1/1s:2", "posts.read:ip=off"} {
		if err := c.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if r, own := c.Rule("", apilimit.Write, apilimit.Account); own || r.String() != "5/1s:20" {
		t.Errorf("write:account = %s (own %v), want the class's 5/1s:20", r, own)
	}
	if r, own := c.Rule("notes", apilimit.Write, apilimit.Account); own || r.String() != "5/1s:20" {
		t.Errorf("notes write:account = %s (own %v), want the class's 5/1s:20", r, own)
	}
	if r, own := c.Rule("posts", apilimit.Write, apilimit.Account); !own || r.String() != "1/1s:2" {
		t.Errorf("posts write:account = %s (own %v), want its own 1/1s:2", r, own)
	}
	if r, own := c.Rule("posts", apilimit.Write, apilimit.IP); own || r.String() != "100/1s:500" {
		t.Errorf("posts write:ip = %s (own %v), want the class's default", r, own)
	}
	if r, own := c.Rule("posts", apilimit.Read, apilimit.IP); !own || !r.Off() {
		t.Errorf("posts read:ip = %s (own %v), want off", r, own)
	}
	specs := c.Specs()
	if tail := specs[len(specs)-2:]; !slices.Equal(tail, []string{"posts.read:ip=off", "posts.write:account=1/1s:2"}) {
		t.Errorf("Specs ends with %q", tail)
	}
	if err := c.Set("write:account=bad"); err == nil {
		t.Error("Set accepted a bad spec")
	}
}
