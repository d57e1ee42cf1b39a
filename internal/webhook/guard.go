package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Resolver looks up the addresses of a host name (net.DefaultResolver is
// one).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard keeps webhook deliveries away from the server's own networks
// (server-side request forgery): it refuses addresses that are loopback,
// unspecified, private (RFC 1918, fc00::/7), link-local (169.254.0.0/16 with
// the cloud metadata address 169.254.169.254, fe80::/10), multicast,
// shared (CGNAT 100.64.0.0/10), reserved or set aside for documentation and
// benchmarks, and IPv6 forms that embed such an IPv4 address — unless one of
// the operator's allowed networks contains the address. URLs are checked
// when they are saved (every address the name resolves to) and again at
// each connection (the address actually dialled), so a name that resolves
// elsewhere later (DNS rebinding) is refused at send.
type Guard struct {
	allow    []netip.Prefix
	resolver Resolver
}

// NewGuard returns a guard that permits the networks in allow. A nil
// resolver means net.DefaultResolver.
func NewGuard(allow []netip.Prefix, resolver Resolver) *Guard {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	return &Guard{allow: append([]netip.Prefix(nil), allow...), resolver: resolver}
}

// ParseNetworks parses a list of CIDR prefixes ("127.0.0.1/32", "10.1.0.0/16")
// or single addresses.
func ParseNetworks(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR prefix nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// blocked are the networks refused besides what netip.Addr's predicates
// name (loopback, private, link-local, multicast, unspecified).
var blocked = mustPrefixes(
	"0.0.0.0/8",       // "this network"
	"100.64.0.0/10",   // shared address space (CGNAT; 100.100.100.200 is a metadata service)
	"192.0.0.0/24",    // IETF protocol assignments (192.0.0.192: a metadata service)
	"192.0.2.0/24",    // documentation
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation
	"203.0.113.0/24",  // documentation
	"240.0.0.0/4",     // reserved, and the broadcast address
	"100::/64",        // discard
	"2001:db8::/32",   // documentation
	"fec0::/10",       // site-local (deprecated)
	"2001::/32",       // Teredo (embeds an IPv4 address)
	"64:ff9b:1::/48",  // local-use NAT64
	"::/96",           // IPv4-compatible (deprecated), such as ::127.0.0.1
	"::ffff:0:0:0/96", // IPv4-translated (SIIT), such as ::ffff:0:169.254.169.254
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// nat64 and sixToFour embed an IPv4 address, which is checked in turn.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// internal reports whether a is an address webhooks may not reach.
func internal(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() {
		return true
	}
	for _, p := range blocked {
		if p.Contains(a) {
			return true
		}
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			return internal(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(a):
			return internal(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return false
}

// Allowed reports whether deliveries may connect to a: it is not internal,
// or an allowed network contains it.
func (g *Guard) Allowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range g.allow {
		if p.Contains(a) {
			return true
		}
	}
	return !internal(a)
}

// errRefused is wrapped by the errors of refused addresses.
var errRefused = errors.New("address refused")

// refusal is the error of a refused address.
func refusal(host string, a netip.Addr) error {
	if host == "" || host == a.String() {
		return fmt.Errorf("%w: %s is an internal address (see --webhook-allow-networks)", errRefused, a)
	}
	return fmt.Errorf("%w: %s resolves to %s, an internal address (see --webhook-allow-networks)", errRefused, host, a)
}

// CheckURL parses a webhook URL and checks it: http or https, a host, no
// user information or fragment, and every address the host resolves to
// allowed. The error says what is wrong, for the person registering it.
func (g *Guard) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, errors.New("is not a URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, errors.New("must be an https or http URL")
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("has no host")
	case u.User != nil:
		return nil, errors.New("may not carry a user name or password")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, errors.New("may not have a fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, errors.New("has an invalid port")
		}
	}
	addrs, err := g.resolve(ctx, u.Hostname())
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if !g.Allowed(a) {
			return nil, refusal(u.Hostname(), a)
		}
	}
	return u, nil
}

// resolve returns the addresses of host: itself when it is an address.
func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a}, nil
	}
	addrs, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("host %s does not resolve", host)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("host %s has no address", host)
	}
	return addrs, nil
}

// Control is a net.Dialer Control hook that refuses to connect to an
// address the guard does not allow: it sees the address actually dialled,
// after every resolution.
func (g *Guard) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot check %q", errRefused, address)
	}
	if !g.Allowed(ap.Addr()) {
		return refusal("", ap.Addr())
	}
	return nil
}

// DialContext connects to address (host:port) through the guard: it
// resolves the host with the guard's resolver, refuses internal addresses,
// and dials the others in turn with Control checking each connection.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Control: g.Control}
	var first error
	for _, a := range addrs {
		if !g.Allowed(a) {
			if first == nil {
				first = refusal(host, a)
			}
			continue
		}
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// Client returns an HTTP client for deliveries: connections through
// DialContext, no proxy from the environment (it would hide the address
// dialled), no redirects followed (a 3xx is the endpoint's answer), and
// timeout on every request.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           g.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          64,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       timeout,
	}
}
