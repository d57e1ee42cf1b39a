package searchcorpus

import (
	"strings"
	"testing"
)

func TestStdPackages(t *testing.T) {
	root, err := GOROOT(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := StdPackages(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d packages", len(pkgs))
	byPath := map[string]Package{}
	for i, p := range pkgs {
		if i > 0 && pkgs[i-1].Path >= p.Path {
			t.Fatalf("not in import path order: %s before %s", pkgs[i-1].Path, p.Path)
		}
		if p.Name == "" || p.Synopsis == "" || p.Doc == "" {
			t.Errorf("%s: empty member: %+v", p.Path, p)
		}
		byPath[p.Path] = p
	}
	for _, path := range []string{"cmd/go", "internal/abi", "vendor/golang.org/x/net/idna", "builtin"} {
		if _, ok := byPath[path]; ok {
			t.Errorf("%s is in the corpus", path)
		}
	}
	gz, ok := byPath["compress/gzip"]
	if !ok {
		t.Fatal("compress/gzip is missing")
	}
	if gz.Name != "gzip" || gz.ID() != "compress.gzip" || !strings.Contains(gz.Synopsis, "gzip") {
		t.Errorf("compress/gzip: %+v", gz)
	}
	if len(pkgs) < 150 {
		t.Errorf("only %d packages", len(pkgs))
	}
}

func TestStdDecls(t *testing.T) {
	root, err := GOROOT(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	decls, err := StdDecls(root, "strings", "strconv", "os", "time", "encoding/json", "slices", "path/filepath")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d declarations", len(decls))
	byID := map[string]Decl{}
	for _, d := range decls {
		if _, dup := byID[d.ID()]; dup {
			t.Errorf("%s twice", d.ID())
		}
		byID[d.ID()] = d
		if d.Synopsis == "" || d.Doc == "" || strings.Contains(d.Doc, "Deprecated:") {
			t.Errorf("%s: %+v", d.ID(), d)
		}
	}
	for id, kind := range map[string]string{"strings-Split": "func", "strings-Builder": "type",
		"strings-Builder.WriteString": "method", "time-Now": "func", "os-ReadFile": "func"} {
		if d, ok := byID[id]; !ok || d.Kind != kind {
			t.Errorf("%s: %+v, want a %s", id, d, kind)
		}
	}
	if _, ok := byID["strings-Title"]; ok {
		t.Error("the deprecated strings.Title is in")
	}
	if _, err := StdDecls(root, "no/such/package"); err == nil {
		t.Error("a missing package is no error")
	}
}
