package e2e

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryPackageIsDocumented fails when a package of the module has no
// package doc comment. Generated packages are documented by their sources.
func TestEveryPackageIsDocumented(t *testing.T) {
	documented := map[string]bool{}
	seen := map[string]bool{}
	generated := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != ".." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "basalt_data") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		dir := filepath.Dir(path)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			// Generated code (gen/, from proto/) is documented by the
			// .proto files it comes from.
			generated[dir] = true
			return nil
		}
		seen[dir] = true
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			documented[dir] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 10 {
		t.Fatalf("found only %d packages; is the walk rooted right?", len(seen))
	}
	if !generated[filepath.Join("..", "gen", "basalt", "v1")] {
		t.Error("no generated package under gen/: is the generated-code check still needed?")
	}
	for dir := range seen {
		if !documented[dir] {
			t.Errorf("package %s has no package doc comment", dir)
		}
	}
}
