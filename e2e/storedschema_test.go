package e2e

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, to reach the store behind the server
)

// TestStoredSchemaThatNoLongerCompiles writes a schema that does not
// compile straight into the collections table of a running server, as a
// bad migration or an older version of Basalt could leave it, and checks
// that listing and creating documents answer 500 with the generic message:
// the server's problem, not a 400 showing the client the internal
// compilation error.
func TestStoredSchemaThatNoLongerCompiles(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		c, cfg, _ := serveApp(t, engine, true)
		c = c.as(c.login(adminEmail, adminPassword).AccessToken)
		c.must(201, "POST", "/v1/collections", `{"name":"posts","schema":{"type":"object","properties":{"title":{"type":"string"}}}}`)
		c.must(201, "POST", "/v1/collections/posts/documents?id=p1", `{"title":"Basalt"}`)

		const broken = `{"type":"object","properties":{"title":{"type":12}}}`
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		const update = `UPDATE collections SET schema = $1, version = version + 1 WHERE name = 'posts'`
		if engine == "postgres" {
			conn, err := pgx.Connect(ctx, cfg.DB)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(ctx, update, broken); err != nil {
				t.Fatal(err)
			}
		} else {
			db, err := sql.Open("sqlite", "file:"+filepath.Join(cfg.DataDir, "basalt.db")+"?_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(ctx, update, broken); err != nil {
				t.Fatal(err)
			}
		}

		// An admin's read by id needs no schema (admins see every field and
		// pass every rule): it still works.
		c.must(200, "GET", "/v1/collections/posts/documents/p1", "")
		for _, req := range []struct{ method, path, body string }{
			{"GET", "/v1/collections/posts/documents", ""},
			{"GET", "/v1/collections/posts/documents?filter=" + url.QueryEscape(`title = "Basalt"`), ""},
			{"POST", "/v1/collections/posts/documents", `{"title":"Granite"}`},
		} {
			r := c.do(req.method, req.path, req.body)
			p := r.JSON(t)
			if r.Status != 500 || p["code"] != "internal" || p["detail"] != "an internal error occurred" || p["errors"] != nil {
				t.Errorf("%s %s: %d %s, want 500 internal with the generic detail", req.method, req.path, r.Status, r.Body)
			}
		}
	})
}
