package gateway

import (
	"errors"
	"fmt"
	"net/http"
)

// HandlerConfig configures the handler chain NewHandler builds.
type HandlerConfig struct {
	// CORSOrigins are the origins browser apps may call Basalt from, as
	// ParseCORSOrigins accepts them; empty allows no cross-origin request
	// (and adds no CORS middleware at all).
	CORSOrigins []string
	// CompressMinBytes is the smallest JSON answer compressed; 0 turns
	// compression off.
	CompressMinBytes int
}

// NewHandler returns the handler every request passes through, in this
// order: mw (request id, panic recovery, metrics), so even a preflight
// gets a request id and is counted; CORS, which answers preflights before
// any route or authentication; compression; and mux, the routes.
func NewHandler(mw *Middleware, mux http.Handler, cfg HandlerConfig) (http.Handler, error) {
	h := mux
	if cfg.CompressMinBytes < 0 {
		return nil, errors.New("--compress-min-bytes must not be negative")
	}
	if cfg.CompressMinBytes > 0 {
		compress, err := newCompression(cfg.CompressMinBytes)
		if err != nil {
			return nil, fmt.Errorf("compression: %w", err)
		}
		h = compress(h)
	}
	origins, err := ParseCORSOrigins(cfg.CORSOrigins)
	if err != nil {
		return nil, err
	}
	if len(origins) > 0 {
		h = newCORS(origins).Handler(h)
	}
	return mw.Wrap(h), nil
}
