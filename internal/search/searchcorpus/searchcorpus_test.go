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
