package restapi

import "net/http"

// Route is one method and path of a transport's routes, with its handler.
type Route struct {
	Method, Path string
	Handler      http.HandlerFunc
}

// Patterns returns the pattern ("METHOD /path") of every route, in order:
// what a transport's RoutePatterns reports.
func Patterns(routes []Route) []string {
	out := make([]string, 0, len(routes))
	for _, rt := range routes {
		out = append(out, rt.Method+" "+rt.Path)
	}
	return out
}

// RegisterRoutes adds every route to mux, its handler wrapped by wrap (nil:
// as it is), and for each of their paths a handler that answers the other
// methods with a 405 problem whose Allow lists the path's methods (HEAD
// beside GET), in the order of routes.
func RegisterRoutes(mux *http.ServeMux, routes []Route, wrap func(http.Handler) http.Handler) {
	allowed := map[string][]string{}
	var paths []string
	for _, rt := range routes {
		var h http.Handler = rt.Handler
		if wrap != nil {
			h = wrap(h)
		}
		mux.Handle(rt.Method+" "+rt.Path, h)
		if _, ok := allowed[rt.Path]; !ok {
			paths = append(paths, rt.Path)
		}
		allowed[rt.Path] = append(allowed[rt.Path], rt.Method)
		if rt.Method == http.MethodGet {
			allowed[rt.Path] = append(allowed[rt.Path], http.MethodHead)
		}
	}
	for _, p := range paths {
		allow := allowed[p]
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			WriteMethodNotAllowed(w, r, allow)
		})
	}
}

// NoStore forbids caches to keep any answer of next (Cache-Control:
// no-store): for answers that hold tokens, secrets, personal data or
// operational state.
func NoStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// NoInput refuses query parameters and a body: the check of requests that
// take neither.
func NoInput(r *http.Request) error {
	if _, err := ParseQuery(r); err != nil {
		return err
	}
	return RejectBody(r)
}

// PathTarget returns the path value name (see PathValue) of a request that
// takes no query parameters and no body.
func PathTarget(r *http.Request, name string) (string, error) {
	v, err := PathValue(r, name)
	if err != nil {
		return "", err
	}
	return v, NoInput(r)
}
