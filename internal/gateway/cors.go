package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rs/cors"
)

// CORS: which methods and request headers a browser app on an allowed
// origin may use, and which response headers its code may read. Basalt
// authenticates with bearer tokens, which a browser app sets on each
// request itself, so nothing is allowed with credentials (cookies, HTTP
// authentication, client certificates): the Authorization header needs
// no Access-Control-Allow-Credentials, only to be an allowed header.
var (
	corsMethods = []string{
		http.MethodGet, http.MethodHead, http.MethodPost,
		http.MethodPut, http.MethodPatch, http.MethodDelete,
	}
	corsRequestHeaders = []string{
		"Authorization", "Content-Type", "If-Match", "If-None-Match",
		"Idempotency-Key", RequestIDHeader, "Last-Event-ID",
	}
	corsExposedHeaders = []string{
		"ETag", "Location", "Retry-After", RequestIDHeader,
		"RateLimit", "RateLimit-Policy", "WWW-Authenticate",
	}
)

// corsMaxAge is how long a browser may cache a preflight answer: two hours,
// the longest Chromium honours (Firefox takes up to a day).
const corsMaxAge = 2 * time.Hour

// ParseCORSOrigins checks a list of allowed origins: each an exact
// serialized origin as a browser sends it in the Origin header
// (scheme://host[:port] with scheme http or https, host in lower case and
// ASCII, no default port, no path), or the list is the one entry "*"
// (any origin). Empty entries are dropped; an empty list allows none.
func ParseCORSOrigins(list []string) ([]string, error) {
	var out []string
	for _, o := range list {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if err := checkOrigin(o); err != nil {
			return nil, fmt.Errorf("--cors-origins: %q: %w", o, err)
		}
		out = append(out, o)
	}
	for _, o := range out {
		if o == "*" && len(out) > 1 {
			return nil, errors.New(`--cors-origins: "*" allows every origin and cannot be combined with others`)
		}
	}
	return out, nil
}

// checkOrigin reports why o is not an origin a browser can send, if it
// is not.
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	if o == "null" {
		return errors.New(`the "null" origin (sandboxed frames, file: pages) cannot be allowed: any document can claim it`)
	}
	if strings.Contains(o, "*") {
		return errors.New(`wildcards are not allowed: list every origin, or "*" alone for all`)
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("want scheme://host[:port], like https://app.example.com")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("the scheme must be http or https")
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(o, "#") {
		return errors.New("an origin is scheme://host[:port] only, without user, query or fragment")
	}
	if u.Path != "" {
		if u.Path == "/" {
			return errors.New(`an origin has no path: drop the trailing "/"`)
		}
		return errors.New("an origin has no path")
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("the host is missing")
	}
	for i := 0; i < len(o); i++ {
		if o[i] >= 0x80 {
			return errors.New("browsers send internationalized host names in their ASCII (punycode) form: use that")
		}
	}
	if o != strings.ToLower(o) {
		return errors.New("browsers send the scheme and host in lower case: use lower case")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || p[0] == '0' {
			return errors.New("the port must be a number from 1 to 65535")
		}
		if (u.Scheme == "https" && n == 443) || (u.Scheme == "http" && n == 80) {
			return fmt.Errorf("browsers send the origin without the default port: drop :%d", n)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return errors.New("the port is empty")
	}
	return nil
}

// newCORS returns the CORS middleware for origins (checked by
// ParseCORSOrigins). It answers every preflight itself, before
// authentication and routing, so preflights work for every path: 204 with
// the allow headers when the origin, method and headers are allowed, 204
// without them otherwise (the browser then refuses the request). Other
// requests pass on, with Access-Control-Allow-Origin and
// Access-Control-Expose-Headers added for an allowed origin, and Vary:
// Origin always, so a cache never serves one origin's answer to another.
func newCORS(origins []string) *cors.Cors {
	return cors.New(cors.Options{
		AllowedOrigins:   origins,
		AllowedMethods:   corsMethods,
		AllowedHeaders:   corsRequestHeaders,
		ExposedHeaders:   corsExposedHeaders,
		MaxAge:           int(corsMaxAge / time.Second),
		AllowCredentials: false,
	})
}
