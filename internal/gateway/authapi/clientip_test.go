package authapi

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
		netip.MustParsePrefix("192.0.2.7/32"),
	}
	tests := []struct {
		name    string
		peer    string
		xff     []string // X-Forwarded-For lines, in order
		trusted []netip.Prefix
		want    string
	}{
		{name: "no proxies: the peer", peer: "203.0.113.9:5000", want: "203.0.113.9"},
		{name: "no proxies configured: XFF ignored", peer: "203.0.113.9:5000", xff: []string{"198.51.100.1"}, want: "203.0.113.9"},
		{name: "untrusted peer spoofing XFF", peer: "203.0.113.9:5000", xff: []string{"10.0.0.1, 198.51.100.1"},
			trusted: proxies, want: "203.0.113.9"},
		{name: "untrusted peer spoofing a trusted address", peer: "203.0.113.9:5000", xff: []string{"10.0.0.5"},
			trusted: proxies, want: "203.0.113.9"},
		{name: "trusted peer, one hop", peer: "10.1.2.3:443", xff: []string{"198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		{name: "trusted peer without XFF", peer: "10.1.2.3:443", trusted: proxies, want: "10.1.2.3"},
		{name: "trusted peer with empty XFF", peer: "10.1.2.3:443", xff: []string{""}, trusted: proxies, want: "10.1.2.3"},
		{name: "two trusted hops", peer: "10.1.2.3:443", xff: []string{"198.51.100.1, 192.0.2.7, 10.9.9.9"},
			trusted: proxies, want: "198.51.100.1"},
		{name: "client-supplied entries left of the client are ignored", peer: "10.1.2.3:443",
			xff: []string{"1.1.1.1, 10.0.0.9, 198.51.100.1, 10.9.9.9"}, trusted: proxies, want: "198.51.100.1"},
		{name: "client prepends junk", peer: "10.1.2.3:443", xff: []string{"not-an-ip, 198.51.100.1"},
			trusted: proxies, want: "198.51.100.1"},
		{name: "several header lines are one list", peer: "10.1.2.3:443", xff: []string{"1.1.1.1", "198.51.100.1, 10.0.0.2", "10.0.0.3"},
			trusted: proxies, want: "198.51.100.1"},
		{name: "malformed entry among the trusted hops", peer: "10.1.2.3:443", xff: []string{"198.51.100.1, bogus"},
			trusted: proxies, want: "10.1.2.3"},
		{name: "empty entry", peer: "10.1.2.3:443", xff: []string{"198.51.100.1, , 10.0.0.2"}, trusted: proxies, want: "10.1.2.3"},
		{name: "trailing comma", peer: "10.1.2.3:443", xff: []string{"198.51.100.1,"}, trusted: proxies, want: "10.1.2.3"},
		{name: "every hop trusted: the leftmost", peer: "10.1.2.3:443", xff: []string{"10.0.0.1, 10.0.0.2"},
			trusted: proxies, want: "10.0.0.1"},
		{name: "IPv6 client through IPv6 proxy", peer: "[fd00::1]:443", xff: []string{"2001:db8::42"}, trusted: proxies, want: "2001:db8::42"},
		{name: "IPv6 peer untrusted", peer: "[2001:db8::1]:443", xff: []string{"198.51.100.1"}, trusted: proxies, want: "2001:db8::1"},
		{name: "entry with port", peer: "10.1.2.3:443", xff: []string{"198.51.100.1:1234"}, trusted: proxies, want: "198.51.100.1"},
		{name: "bracketed IPv6 entry with port", peer: "10.1.2.3:443", xff: []string{"[2001:db8::42]:1234"}, trusted: proxies, want: "2001:db8::42"},
		{name: "IPv4-mapped peer matches an IPv4 prefix", peer: "[::ffff:10.1.2.3]:443", xff: []string{"198.51.100.1"},
			trusted: proxies, want: "198.51.100.1"},
		{name: "IPv4-mapped client is reported as IPv4", peer: "[::ffff:203.0.113.9]:5000", want: "203.0.113.9"},
		{name: "zone dropped", peer: "[fe80::1%eth0]:5000", want: "fe80::1"},
		{name: "peer without port", peer: "203.0.113.9", want: "203.0.113.9"},
		{name: "unparseable peer", peer: "@", xff: []string{"198.51.100.1"}, trusted: proxies, want: ""},
		{name: "overlong entry", peer: "10.1.2.3:443", xff: []string{"198.51.100.1, " + strings.Repeat("1", 200)},
			trusted: proxies, want: "10.1.2.3"},
		{name: "invalid UTF-8 entry", peer: "10.1.2.3:443", xff: []string{"198.51.100.1, \xff\xfe"}, trusted: proxies, want: "10.1.2.3"},
		{name: "trust everything", peer: "203.0.113.9:5000", xff: []string{"198.51.100.1"},
			trusted: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}, want: "198.51.100.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, line := range tc.xff {
				r.Header.Add("X-Forwarded-For", line)
			}
			if got := ClientIP(r, tc.trusted); got != tc.want {
				t.Errorf("ClientIP(peer %q, XFF %q) = %q, want %q", tc.peer, tc.xff, got, tc.want)
			}
		})
	}
}

func TestUserAgent(t *testing.T) {
	long := strings.Repeat("a", 511) + "é" // é straddles byte 512
	tests := []struct{ in, want string }{
		{"", ""},
		{"curl/8.5.0", "curl/8.5.0"},
		{"bad\xffbyte", "badbyte"},
		{"tab\tand\x7fdel", "tabanddel"},
		{strings.Repeat("x", 600), strings.Repeat("x", 512)},
		{long, strings.Repeat("a", 511)},
		{strings.Repeat("\xff", 100) + "ok", "ok"},
		{strings.Repeat("\xff", 5000) + "ok", ""}, // bounded before cleaning
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("User-Agent", tc.in)
		got := UserAgent(r)
		if got != tc.want {
			t.Errorf("userAgent(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if len(got) > maxUserAgent {
			t.Errorf("userAgent(%q) has %d bytes", tc.in, len(got))
		}
	}
}

func BenchmarkClientIP(b *testing.B) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:443"
	r.Header.Set("X-Forwarded-For", "1.1.1.1, 198.51.100.1, 10.0.0.2, 10.0.0.3")
	for b.Loop() {
		if ClientIP(r, proxies) != "198.51.100.1" {
			b.Fatal("wrong address")
		}
	}
}
