package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// HelloHandler is the reference server: the least a Go HTTP service can do
// per request (route, encode a small JSON object, write it), so Basalt's
// scenarios can be read as a fraction of it on the same machine.
func HelloHandler() http.Handler {
	type hello struct {
		Hello string `json:"hello"`
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(hello{Hello: "world"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

// ServeHello serves HelloHandler on ln until ctx is done, then shuts down
// gracefully.
func ServeHello(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           HelloHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("load: hello server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("load: hello server shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("load: hello server: %w", err)
	}
	return nil
}
