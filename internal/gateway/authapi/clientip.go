package authapi

import (
	"net/http"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// ClientIP returns the address of the client that made r, as recorded on
// sessions and used to throttle logins.
//
// It is the address of the socket peer unless that peer lies in one of the
// trusted proxy prefixes. Then X-Forwarded-For is read from the right (the
// entries the trusted proxies appended), skipping trusted addresses, and the
// first untrusted address is the client. Entries left of it were written by
// the client and are never believed. A malformed entry met on the way makes
// the header worthless and the peer is returned; when every entry is
// trusted, the leftmost one is the client.
//
// IPv4-mapped IPv6 addresses are reported as IPv4, without zone. When the
// peer address cannot be parsed (a Unix socket), the result is "".
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := parseHost(r.RemoteAddr)
	if !ok {
		return ""
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	client, ok := forwardedClient(r.Header.Values("X-Forwarded-For"), trusted)
	if !ok {
		return peer.String()
	}
	return client.String()
}

// forwardedClient walks the X-Forwarded-For lines (in order of arrival,
// which is the order of the hops) from the right. ok is false when the
// header is absent or malformed before an untrusted address is reached.
func forwardedClient(lines []string, trusted []netip.Prefix) (netip.Addr, bool) {
	var leftmost netip.Addr
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		for {
			entry := rest
			cut := strings.LastIndexByte(rest, ',')
			if cut >= 0 {
				entry = rest[cut+1:]
			}
			addr, ok := parseForwarded(strings.TrimSpace(entry))
			if !ok {
				return netip.Addr{}, false
			}
			if !isTrusted(addr, trusted) {
				return addr, true
			}
			leftmost = addr
			if cut < 0 {
				break
			}
			rest = rest[:cut]
		}
	}
	return leftmost, leftmost.IsValid()
}

// parseHost parses a socket address ("1.2.3.4:5", "[::1]:5") or a bare
// address.
func parseHost(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalize(ap.Addr()), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return normalize(a), true
	}
	return netip.Addr{}, false
}

// parseForwarded parses one X-Forwarded-For entry: an address, optionally
// with a port ("1.2.3.4:5", "[2001:db8::1]:5") as some proxies write it.
func parseForwarded(s string) (netip.Addr, bool) {
	if s == "" || len(s) > maxForwardedEntry || !utf8.ValidString(s) {
		return netip.Addr{}, false
	}
	return parseHost(s)
}

// maxForwardedEntry bounds one X-Forwarded-For entry (the longest IPv6
// address with a zone and a port is well below).
const maxForwardedEntry = 128

// normalize unmaps IPv4-mapped IPv6 addresses and drops zones, so that one
// client always has one spelling and prefixes match either form.
func normalize(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// maxUserAgent bounds the User-Agent recorded on a session.
const maxUserAgent = 512

// UserAgent returns the User-Agent of r as recorded on a session: valid
// UTF-8 without control characters, at most 512 bytes, cut on a character
// boundary.
func UserAgent(r *http.Request) string {
	ua := r.Header.Get("User-Agent")
	if len(ua) > 4*maxUserAgent {
		ua = ua[:4*maxUserAgent]
	}
	ua = strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f || c == utf8.RuneError {
			return -1
		}
		return c
	}, strings.ToValidUTF8(ua, ""))
	if len(ua) <= maxUserAgent {
		return ua
	}
	cut := maxUserAgent
	for cut > 0 && !utf8.RuneStart(ua[cut]) {
		cut--
	}
	return ua[:cut]
}
