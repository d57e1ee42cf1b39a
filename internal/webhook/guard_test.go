package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/basaltdev/basalt/internal/webhook"
)

func TestGuardAddresses(t *testing.T) {
	cases := []struct {
		addr    string
		allowed bool
	}{
		{"93.184.216.34", true},
		{"8.8.8.8", true},
		{"2606:4700:4700::1111", true},
		{"127.0.0.1", false},
		{"127.8.9.10", false},
		{"::1", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"::", false},
		{"10.0.0.1", false},
		{"172.16.5.4", false},
		{"172.31.255.255", false},
		{"172.32.0.1", true},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"169.254.0.1", false},
		{"100.64.0.1", false},      // CGNAT
		{"100.100.100.200", false}, // a metadata service in the CGNAT range
		{"100.128.0.1", true},
		{"192.0.0.192", false},
		{"192.0.2.1", false},
		{"198.18.0.1", false},
		{"203.0.113.9", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"255.255.255.255", false},
		{"240.0.0.1", false},
		{"fc00::1", false},
		{"fd00:ec2::254", false}, // AWS metadata over IPv6
		{"fe80::1", false},
		{"ff02::1", false},
		{"::ffff:127.0.0.1", false},       // IPv4-mapped loopback
		{"::ffff:169.254.169.254", false}, // IPv4-mapped metadata
		{"::ffff:93.184.216.34", true},
		{"64:ff9b::a00:1", false}, // NAT64 of 10.0.0.1
		{"64:ff9b::5db8:d822", true},
		{"2002:7f00:1::", false}, // 6to4 of 127.0.0.1
		{"2001:db8::1", false},
		{"::7f00:1", false},           // IPv4-compatible 127.0.0.1 (deprecated form)
		{"::a9fe:a9fe", false},        // IPv4-compatible 169.254.169.254
		{"::ffff:0:a9fe:a9fe", false}, // IPv4-translated 169.254.169.254
	}
	g := webhook.NewGuard(nil, nil)
	for _, c := range cases {
		if got := g.Allowed(netip.MustParseAddr(c.addr)); got != c.allowed {
			t.Errorf("Allowed(%s) = %v, want %v", c.addr, got, c.allowed)
		}
	}
	allow, err := webhook.ParseNetworks([]string{"127.0.0.1/32", "10.1.0.0/16", "fd00::7"})
	if err != nil {
		t.Fatal(err)
	}
	g = webhook.NewGuard(allow, nil)
	for addr, want := range map[string]bool{"127.0.0.1": true, "::ffff:127.0.0.1": true, "127.0.0.2": false,
		"10.1.200.3": true, "10.2.0.1": false, "fd00::7": true, "fd00::8": false} {
		if got := g.Allowed(netip.MustParseAddr(addr)); got != want {
			t.Errorf("with the allowlist, Allowed(%s) = %v, want %v", addr, got, want)
		}
	}
	if _, err := webhook.ParseNetworks([]string{"nonsense"}); err == nil {
		t.Error("ParseNetworks accepted nonsense")
	}
}

// fakeResolver answers each name with the addresses set for it now.
type fakeResolver struct {
	mu    sync.Mutex
	names map[string][]netip.Addr
}

func (r *fakeResolver) set(name string, addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names == nil {
		r.names = map[string][]netip.Addr{}
	}
	r.names[name] = nil
	for _, a := range addrs {
		r.names[name] = append(r.names[name], netip.MustParseAddr(a))
	}
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return a, nil
}

func TestGuardCheckURL(t *testing.T) {
	r := &fakeResolver{}
	r.set("public.example", "93.184.216.34")
	r.set("mixed.example", "93.184.216.34", "10.0.0.5")
	r.set("meta.example", "169.254.169.254")
	g := webhook.NewGuard(nil, r)
	cases := []struct{ url, err string }{
		{"https://public.example/hook", ""},
		{"http://public.example:8080/hook?x=1", ""},
		{"https://93.184.216.34/hook", ""},
		{"ftp://public.example/", "https or http"},
		{"public.example/hook", "https or http"},
		{"https:///hook", "no host"},
		{"https://user:pw@public.example/", "user name"},
		{"https://public.example/#frag", "fragment"},
		{"https://public.example:0/", "port"},
		{"https://public.example:99999/", "port"},
		{"https://nowhere.example/", "does not resolve"},
		{"https://mixed.example/", "10.0.0.5"},
		{"https://meta.example/", "169.254.169.254"},
		{"http://127.0.0.1:8080/", "internal"},
		{"http://[::1]/", "internal"},
		{"http://[::ffff:127.0.0.1]/", "internal"},
		{"http://localhost./", "does not resolve"},
	}
	for _, c := range cases {
		_, err := g.CheckURL(context.Background(), c.url)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("CheckURL(%s) = %v, want ok", c.url, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("CheckURL(%s) = %v, want an error naming %q", c.url, err, c.err)
		}
	}
}

// The dialer checks the address it actually connects to: a name that
// resolved to a public address when it was saved and to a private one
// now (DNS rebinding) is refused, before any connection.
func TestGuardRefusesRebindingAtDial(t *testing.T) {
	r := &fakeResolver{}
	r.set("rebind.example", "93.184.216.34")
	g := webhook.NewGuard(nil, r)
	if _, err := g.CheckURL(context.Background(), "http://rebind.example/hook"); err != nil {
		t.Fatalf("CheckURL at save: %v", err)
	}
	r.set("rebind.example", "127.0.0.1")
	_, err := g.DialContext(context.Background(), "tcp", "rebind.example:80")
	if err == nil || !strings.Contains(err.Error(), "internal address") {
		t.Fatalf("DialContext after rebinding = %v, want a refusal", err)
	}
	// The Control hook alone refuses an internal address, whatever
	// resolved it.
	if err := g.Control("tcp4", "127.0.0.1:80", nil); err == nil {
		t.Fatal("Control allowed 127.0.0.1")
	}
	if err := g.Control("tcp4", "93.184.216.34:443", nil); err != nil {
		t.Fatalf("Control refused a public address: %v", err)
	}
	d := net.Dialer{Control: g.Control}
	if _, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "internal address") {
		t.Fatalf("a dialer with Control connected to 127.0.0.1: %v", err)
	}
	var dnsErr *net.DNSError
	if _, err := g.DialContext(context.Background(), "tcp", "unknown.example:80"); err == nil || errors.As(err, &dnsErr) {
		t.Fatalf("DialContext of an unknown name = %v", err)
	}
}
