// Package searchcorpus loads real text no one on the project wrote, for
// tests of search relevance: the package documentation of the Go standard
// library, read from the source tree of the toolchain that runs the tests.
//
// The loader selects files as the go command would for linux/amd64
// without cgo, whatever machine runs it, so the corpus depends only on the
// Go release. Tests that use it should expect answers that stay true from
// one release to the next (compress/gzip is about gzip compression), not
// exact scores.
package searchcorpus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Package is one package of the standard library as a search document.
type Package struct {
	// Path is the import path ("net/http").
	Path string `json:"path"`
	// Name is the package name ("http").
	Name string `json:"name"`
	// Synopsis is the first sentence of the package comment.
	Synopsis string `json:"synopsis"`
	// Doc is the whole package comment, as plain text.
	Doc string `json:"doc"`
}

// ID is the document id of the package: its import path with every "/"
// replaced by "." (a document id has no slash), e.g. "net.http".
func (p Package) ID() string { return ID(p.Path) }

// ID returns the document id of the package at import path.
func ID(path string) string { return strings.ReplaceAll(path, "/", ".") }

// GOROOT returns the root of the Go tree of the go command on PATH
// (`go env GOROOT`).
func GOROOT(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("searchcorpus: go env GOROOT: %w", err)
	}
	root := strings.TrimSpace(string(out))
	if root == "" {
		return "", errors.New("searchcorpus: go env GOROOT printed nothing")
	}
	return root, nil
}

// StdPackages returns the documented packages of the standard library
// under goroot, in import path order: every package directory of
// goroot/src except commands (cmd/…), internal packages, vendored code and
// test data, whose files for linux/amd64 (no cgo) carry a package comment.
func StdPackages(goroot string) ([]Package, error) {
	src := filepath.Join(goroot, "src")
	bctx := build.Default
	bctx.GOROOT = goroot
	bctx.GOPATH = ""
	bctx.GOOS, bctx.GOARCH, bctx.CgoEnabled = "linux", "amd64", false
	bctx.BuildTags, bctx.ToolTags, bctx.ReleaseTags = nil, nil, build.Default.ReleaseTags
	var dirs []string
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if skipDir(rel) {
			return filepath.SkipDir
		}
		dirs = append(dirs, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("searchcorpus: reading %s: %w", src, err)
	}
	slices.Sort(dirs)
	var out []Package
	for _, rel := range dirs {
		p, ok, err := readPackage(&bctx, src, rel)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("searchcorpus: no documented package under %s", src)
	}
	return out, nil
}

// skipDir reports whether the directory at import path rel holds no
// package of the public standard library (nor do its subdirectories).
func skipDir(rel string) bool {
	if rel == "cmd" || rel == "builtin" {
		return true
	}
	for _, elem := range strings.Split(rel, "/") {
		switch {
		case elem == "internal", elem == "vendor", elem == "testdata",
			strings.HasPrefix(elem, "."), strings.HasPrefix(elem, "_"):
			return true
		}
	}
	return false
}

// readPackage reads the package of directory rel: its name and package
// comment, from the files the build selects. ok is false for a directory
// without such files or without a package comment.
func readPackage(bctx *build.Context, src, rel string) (Package, bool, error) {
	dir := filepath.Join(src, filepath.FromSlash(rel))
	bp, err := bctx.ImportDir(dir, 0)
	if err != nil {
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return Package{}, false, nil
		}
		var multi *build.MultiplePackageError
		if errors.As(err, &multi) {
			return Package{}, false, fmt.Errorf("searchcorpus: %s: %w", rel, err)
		}
		// Constraints that exclude every file (an experiment's package)
		// are not an error of the tree: the package is not built here.
		if len(bp.GoFiles) == 0 {
			return Package{}, false, nil
		}
		return Package{}, false, fmt.Errorf("searchcorpus: %s: %w", rel, err)
	}
	if bp.Name == "main" || len(bp.GoFiles) == 0 {
		return Package{}, false, nil
	}
	// The package comment: go/doc joins the comments of every file that
	// has one, in file name order, as the go command's documentation does.
	fset := token.NewFileSet()
	var texts []string
	for _, name := range slices.Sorted(slices.Values(bp.GoFiles)) {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return Package{}, false, fmt.Errorf("searchcorpus: %s: %w", rel, err)
		}
		if f.Doc != nil {
			if t := strings.TrimSpace(f.Doc.Text()); t != "" {
				texts = append(texts, t)
			}
		}
	}
	if len(texts) == 0 {
		return Package{}, false, nil
	}
	text := strings.Join(texts, "\n\n")
	var pkg doc.Package
	return Package{Path: rel, Name: bp.Name, Synopsis: pkg.Synopsis(text), Doc: plain(&pkg, text)}, true, nil
}

// plain renders a doc comment as plain text: headings, lists and code
// blocks keep their words, links lose their brackets.
func plain(pkg *doc.Package, text string) string {
	pr := pkg.Printer()
	pr.TextWidth = -1 // no wrapping: one paragraph is one line
	return string(bytes.TrimSpace(pr.Text(pkg.Parser().Parse(text))))
}

// Decl is one exported function, method or type of a standard library
// package as a search document.
type Decl struct {
	// Path is the package's import path ("strings").
	Path string `json:"path"`
	// Name is the declared name, methods as Type.Method ("Split",
	// "Builder.WriteString").
	Name string `json:"name"`
	// Kind is "func", "method" or "type".
	Kind string `json:"kind"`
	// Synopsis is the first sentence of the doc comment.
	Synopsis string `json:"synopsis"`
	// Doc is the whole doc comment, as plain text.
	Doc string `json:"doc"`
}

// ID is the document id of the declaration: package id, "-", then the
// name ("strings-Split", "strings-Builder.WriteString").
func (d Decl) ID() string { return ID(d.Path) + "-" + d.Name }

// StdDecls returns the documented exported functions, methods and types
// of the standard library packages at the import paths paths (for
// linux/amd64, no cgo), in path then source order. Deprecated ones are
// left out: their comments send the reader elsewhere.
func StdDecls(goroot string, paths ...string) ([]Decl, error) {
	bctx := build.Default
	bctx.GOROOT = goroot
	bctx.GOPATH = ""
	bctx.GOOS, bctx.GOARCH, bctx.CgoEnabled = "linux", "amd64", false
	src := filepath.Join(goroot, "src")
	var out []Decl
	for _, path := range paths {
		dir := filepath.Join(src, filepath.FromSlash(path))
		bp, err := bctx.ImportDir(dir, 0)
		if err != nil {
			return nil, fmt.Errorf("searchcorpus: %s: %w", path, err)
		}
		fset := token.NewFileSet()
		var files []*ast.File
		for _, name := range slices.Sorted(slices.Values(bp.GoFiles)) {
			f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
			if err != nil {
				return nil, fmt.Errorf("searchcorpus: %s: %w", path, err)
			}
			files = append(files, f)
		}
		p, err := doc.NewFromFiles(fset, files, path)
		if err != nil {
			return nil, fmt.Errorf("searchcorpus: %s: %w", path, err)
		}
		add := func(name, kind, text string) {
			text = strings.TrimSpace(text)
			if text == "" || strings.Contains(text, "Deprecated:") {
				return
			}
			out = append(out, Decl{Path: path, Name: name, Kind: kind, Synopsis: p.Synopsis(text), Doc: plain(p, text)})
		}
		for _, f := range p.Funcs {
			add(f.Name, "func", f.Doc)
		}
		for _, t := range p.Types {
			add(t.Name, "type", t.Doc)
			for _, f := range t.Funcs {
				add(f.Name, "func", f.Doc)
			}
			for _, m := range t.Methods {
				add(t.Name+"."+m.Name, "method", m.Doc)
			}
		}
	}
	return out, nil
}
