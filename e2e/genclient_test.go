package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// genclientDir is the walk-through program that runs through the generated
// client: a module of its own, under testdata so that the main module's
// build, vet and lint leave it alone.
const genclientDir = "testdata/genclient"

// TestGeneratedClient generates a Go client from a live server's OpenAPI
// document with the oapi-codegen pinned in tools/go.mod, at the generator's
// default settings, and runs the README's walk-through through it
// (testdata/genclient: log in, sign up, refresh, create the collection,
// insert, list with a filter, patch with If-Match, the 412 and the 400
// problems) against a fresh server on each engine.
func TestGeneratedClient(t *testing.T) {
	start := time.Now()
	goBin := goCommand(t)
	spec := readmePostsCollection(t)

	// The documents client developers generate from: a server that has
	// the README's posts collection, as its admin sees it (every route,
	// the one the walk-through uses), as a user sees it and as an
	// anonymous caller sees it (what each may reach). Each must generate
	// a client that compiles.
	admin, _ := startApp(t, "sqlite")
	admin.must(201, "POST", "/v1/collections", string(spec))
	user := admin.as(admin.signUp("reader@basalt.test", "a reader's password").AccessToken)
	docs := map[string][]byte{
		"basalt":    admin.must(200, "GET", "/v1/openapi.json", "").Body,
		"user":      user.must(200, "GET", "/v1/openapi.json", "").Body,
		"anonymous": admin.anonymous().must(200, "GET", "/v1/openapi.json", "").Body,
	}

	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(genclientDir)); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for pkg, doc := range docs {
		generateClient(t, goBin, root, filepath.Join(dir, pkg), pkg, doc)
	}
	t.Logf("generated in %v", time.Since(start).Round(time.Millisecond))
	modMod := []string{"GOFLAGS=" + strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod")}
	runGo(t, goBin, dir, modMod, "build", "./...")
	walk := filepath.Join(dir, "walk")
	runGo(t, goBin, dir, modMod, "build", "-o", walk, ".")
	t.Logf("generated and built in %v", time.Since(start).Round(time.Millisecond))

	forEachEngine(t, func(t *testing.T, engine string) {
		c, _, logs := serveApp(t, engine, true)
		cmd := exec.CommandContext(t.Context(), walk)
		cmd.Env = []string{
			"PATH=" + os.Getenv("PATH"),
			"BASALT_URL=" + c.base,
			"BASALT_ADMIN_EMAIL=" + adminEmail,
			"BASALT_ADMIN_PASSWORD=" + adminPassword,
		}
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("walk-through passed")) {
			t.Fatalf("the walk-through through the generated client failed: %v\n%s\nserver logs:\n%s", err, out, logs.String())
		}
		t.Logf("%s", bytes.TrimSpace(out[bytes.LastIndexByte(bytes.TrimSpace(out), '\n')+1:]))
	})
}

// generateClient generates package pkg in dir from the OpenAPI document
// doc with the pinned oapi-codegen (tools/go.mod in the repository at
// root) and the generator's minimal configuration, nothing else.
func generateClient(t *testing.T, goBin, root, dir, pkg string, doc []byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	spec, config := filepath.Join(dir, "openapi.json"), filepath.Join(dir, "oapi-codegen.yaml")
	writeFile(t, spec, doc)
	writeFile(t, config, []byte("package: "+pkg+"\n"+
		"generate:\n  client: true\n  models: true\n"+
		"output: "+filepath.Join(dir, pkg+".gen.go")+"\n"))
	runGo(t, goBin, root, nil, "tool", "-modfile="+filepath.Join(root, "tools", "go.mod"), "oapi-codegen", "-config", config, spec)
}

// goCommand returns the go command of the toolchain that runs the tests.
func goCommand(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(gobin, "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "bin", "go")
}

// runGo runs the go command in dir with the test's environment plus env,
// on the local toolchain and outside any workspace.
func runGo(t *testing.T, goBin, dir string, env []string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"GOTOOLCHAIN=local", "GOWORK=off"}, env...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readmePostsCollection returns the walk-through program's posts
// collection (testdata/genclient/posts.json) after checking that it is the
// one the README creates (the body of its POST /v1/collections).
func readmePostsCollection(t *testing.T) []byte {
	t.Helper()
	spec, err := os.ReadFile(filepath.Join(genclientDir, "posts.json"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const create = "-X POST localhost:8080/v1/collections "
	_, rest, ok := strings.Cut(string(readme), create)
	if !ok {
		t.Fatalf("README.md does not create a collection with %q", create)
	}
	_, rest, ok = strings.Cut(rest, "-d '")
	body, _, ok2 := strings.Cut(rest, "'")
	if !ok || !ok2 {
		t.Fatalf("README.md's collection creation has no -d '…' body")
	}
	var want, got any
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatalf("README.md's collection: %v\n%s", err, body)
	}
	if err := json.Unmarshal(spec, &got); err != nil {
		t.Fatalf("posts.json: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s/posts.json is not the collection README.md creates:\n%s", genclientDir, body)
	}
	return spec
}
