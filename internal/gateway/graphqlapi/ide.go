package graphqlapi

import (
	"crypto/sha256"
	"encoding/base64"
	"mime"
	"net/http"
	"strings"
)

// The GraphiQL page (Options.IDE): GraphiQL 3 and React 18 from unpkg.com,
// each pinned by version and by its Subresource Integrity hash (the SHA-384
// of the file in the package's npm tarball, which unpkg serves as it is),
// so that the browser runs those files or nothing.
const (
	ideScript = `const root = ReactDOM.createRoot(document.getElementById("graphiql"));
root.render(React.createElement(GraphiQL, {
  fetcher: GraphiQL.createFetcher({ url: location.pathname }),
  defaultEditorToolsVisibility: true,
  defaultHeaders: JSON.stringify({ Authorization: "Bearer <access token>" }, null, 2),
}));`
	idePage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Basalt GraphQL</title>
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
<link rel="stylesheet" href="https://unpkg.com/graphiql@3.8.3/graphiql.min.css" integrity="sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM" crossorigin="anonymous">
<script src="https://unpkg.com/react@18.3.1/umd/react.production.min.js" integrity="sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z" crossorigin="anonymous"></script>
<script src="https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js" integrity="sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1" crossorigin="anonymous"></script>
<script src="https://unpkg.com/graphiql@3.8.3/graphiql.min.js" integrity="sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie" crossorigin="anonymous"></script>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script>` + ideScript + `</script>
</body>
</html>
`
)

// ideCSP is the page's Content-Security-Policy: scripts and styles from
// unpkg.com (SRI-pinned) and the page's own script by its hash, requests
// to this origin only, and no framing.
func ideCSP() string {
	sum := sha256.Sum256([]byte(ideScript))
	return "default-src 'none'; script-src https://unpkg.com 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"style-src https://unpkg.com 'unsafe-inline'; font-src https://unpkg.com data:; img-src data:; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// wantsIDE reports whether r is a browser's visit of GET /graphql: no
// query, and HTML accepted before JSON.
func wantsIDE(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	q := r.URL.Query()
	if q.Has("query") || q.Has("extensions") {
		return false
	}
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			switch mt {
			case "text/html":
				return true
			case mediaJSON, mediaGraphQLResponse:
				return false
			}
		}
	}
	return false
}

// serveIDE writes the GraphiQL page.
func (a *API) serveIDE(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", a.ideCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write([]byte(idePage))
}
