// Command basalt-image writes Basalt's OCI image to an OCI image layout
// directory, without a container engine (see package ociimage). make image
// runs it on the static binaries it builds:
//
//	basalt-image -out bin/image -version v1.2.0 -commit <sha> -created 2026-12-01T10:00:00Z \
//	    -binary linux/amd64=bin/linux-amd64/basalt -binary linux/arm64=bin/linux-arm64/basalt
//
// It prints the index digest. Push the layout with crane push bin/image
// REPO:TAG, or skopeo copy oci:bin/image:<version> docker://REPO:TAG.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/basaltdev/basalt/deploy/ociimage"
)

type binaries map[string]string

func (b binaries) String() string { return fmt.Sprint(map[string]string(b)) }
func (b binaries) Set(s string) error {
	p, file, ok := strings.Cut(s, "=")
	if !ok || p == "" || file == "" {
		return errors.New("want PLATFORM=FILE, as linux/amd64=bin/linux-amd64/basalt")
	}
	b[p] = file
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "basalt-image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("basalt-image", flag.ContinueOnError)
	bins := binaries{}
	fs.Var(bins, "binary", "PLATFORM=FILE: the static basalt binary of a platform (repeat for each)")
	out := fs.String("out", "bin/image", "OCI image layout directory to write (replaced)")
	version := fs.String("version", "", "version: the image's tag and version label")
	commit := fs.String("commit", "", "commit the binaries were built from (revision label)")
	created := fs.String("created", "", "the commit's date, RFC 3339: every timestamp in the image")
	source := fs.String("source", "https://github.com/basaltdev/basalt", "repository URL (source label)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, *created)
	if err != nil {
		return fmt.Errorf("-created: %w", err)
	}
	idx, err := ociimage.Build(ociimage.Options{Binaries: bins, Version: *version, Commit: *commit, Created: t, Source: *source})
	if err != nil {
		return err
	}
	if err := ociimage.Write(*out, idx, *version); err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s:%s %s\n", *out, *version, d)
	return nil
}
