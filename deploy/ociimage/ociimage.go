// Package ociimage builds Basalt's container image without a container
// engine: an OCI image index with one image per platform, written to an
// OCI image layout directory that registries' tools push as it is
// (crane push, skopeo copy oci:…, oras).
//
// Each image holds only what the static basalt binary needs, on no base
// image: the binary, /etc/passwd and /etc/group naming the unprivileged
// user it runs as (65532, "basalt"), its data directory /var/lib/basalt,
// /tmp, and an SPDX software bill of materials of the binary's modules.
// Certificate authorities come with the binary (x509roots/fallback), so
// TLS to a managed database or collector works without a CA bundle.
//
// The build is reproducible: every timestamp is the commit's date, files
// are written in a fixed order with fixed owners and modes, so the same
// binaries and metadata always give the same digests.
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed facts.
const (
	// User is the numeric user and group the process runs as: not root,
	// and not a user of the host.
	User = "65532:65532"
	// Binary is where the basalt binary is.
	Binary = "/usr/local/bin/basalt"
	// DataDir is the data directory (embedded database, TLS and ACME
	// state), owned by User; mount a volume here.
	DataDir = "/var/lib/basalt"
	// SBOMPath is where the image holds its SPDX bill of materials.
	SBOMPath = "/usr/share/doc/basalt/sbom.spdx.json"
	// Port serves HTTP (TCP) and HTTP/3 (UDP).
	Port = "8080"
)

// Options describe one build.
type Options struct {
	// Binaries maps a platform ("linux/amd64", "linux/arm64") to the
	// static basalt binary built for it.
	Binaries map[string]string
	// Version, Commit and Created label the image; Created (the commit's
	// date) is also every file's and the config's timestamp.
	Version, Commit string
	Created         time.Time
	// Source is the repository URL for the source label.
	Source string
}

// Build makes the image index: one image per platform.
func Build(o Options) (v1.ImageIndex, error) {
	if len(o.Binaries) == 0 {
		return nil, errors.New("no binary to put in the image")
	}
	if o.Version == "" || o.Created.IsZero() {
		return nil, errors.New("the image needs a version and a creation date")
	}
	platforms := make([]string, 0, len(o.Binaries))
	for p := range o.Binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		os, arch, ok := strings.Cut(p, "/")
		if !ok || os != "linux" || arch == "" {
			return nil, fmt.Errorf("platform %q: want linux/<arch>", p)
		}
		img, err := image(o, o.Binaries[p], arch)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: os, Architecture: arch}}})
	}
	return mutate.Annotations(idx, o.labels()).(v1.ImageIndex), nil
}

// Write writes idx as an OCI image layout in dir (replacing what is
// there), tagged with the version (org.opencontainers.image.ref.name).
func Write(dir string, idx v1.ImageIndex, version string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": version}))
}

// labels are the OCI annotations of the index and the labels of each
// image's config.
func (o Options) labels() map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":         "basalt",
		"org.opencontainers.image.description":   "Basalt: a self-hostable backend for application developers, in one binary",
		"org.opencontainers.image.version":       o.Version,
		"org.opencontainers.image.created":       o.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.licenses":      "Apache-2.0",
		"org.opencontainers.image.documentation": "https://github.com/basaltdev/basalt/tree/main/docs",
	}
	if o.Commit != "" {
		l["org.opencontainers.image.revision"] = o.Commit
	}
	if o.Source != "" {
		l["org.opencontainers.image.source"] = o.Source
	}
	return l
}

// image is the image of one platform.
func image(o Options, binary, arch string) (v1.Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	info, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		return nil, fmt.Errorf("%s is not a Go binary: %w", binary, err)
	}
	if goarch := setting(info, "GOARCH"); goarch != arch || setting(info, "GOOS") != "linux" {
		return nil, fmt.Errorf("%s is built for %s/%s", binary, setting(info, "GOOS"), goarch)
	}
	if setting(info, "CGO_ENABLED") != "0" {
		return nil, fmt.Errorf("%s is not static: build it with CGO_ENABLED=0", binary)
	}
	sbom, err := SBOM(info, bin, o.Version, o.Created)
	if err != nil {
		return nil, err
	}
	base, err := layer(o.Created, []file{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nbasalt:x:65532:65532:basalt:" + DataDir + ":/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nbasalt:x:65532:\n")},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/local/", mode: 0o755, dir: true},
		{name: "usr/local/bin/", mode: 0o755, dir: true},
		{name: "usr/share/", mode: 0o755, dir: true},
		{name: "usr/share/doc/", mode: 0o755, dir: true},
		{name: "usr/share/doc/basalt/", mode: 0o755, dir: true},
		{name: "var/", mode: 0o755, dir: true},
		{name: "var/lib/", mode: 0o755, dir: true},
		{name: "var/lib/basalt/", mode: 0o700, dir: true, uid: 65532},
	})
	if err != nil {
		return nil, err
	}
	app, err := layer(o.Created, []file{
		{name: strings.TrimPrefix(Binary, "/"), mode: 0o755, data: bin},
		{name: strings.TrimPrefix(SBOMPath, "/"), mode: 0o644, data: sbom},
	})
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, base, app)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: o.Created.UTC()}
	cf.Author = "Basalt"
	cf.History = []v1.History{
		{Created: cf.Created, CreatedBy: "basalt-image: users, directories", Comment: "base"},
		{Created: cf.Created, CreatedBy: "basalt-image: " + Binary + " " + o.Version, Comment: "basalt and its SBOM"},
	}
	cf.Config = v1.Config{
		User:         User,
		Entrypoint:   []string{Binary},
		Cmd:          []string{"serve"},
		WorkingDir:   DataDir,
		Env:          []string{"PATH=/usr/local/bin", "BASALT_ADDR=0.0.0.0:" + Port, "BASALT_DATA_DIR=" + DataDir},
		ExposedPorts: map[string]struct{}{Port + "/tcp": {}, Port + "/udp": {}},
		Volumes:      map[string]struct{}{DataDir: {}},
		Labels:       o.labels(),
		StopSignal:   "SIGTERM",
	}
	return mutate.ConfigFile(img, cf)
}

func setting(info *buildinfo.BuildInfo, key string) string {
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// file is an entry of a layer.
type file struct {
	name string
	mode int64
	dir  bool
	uid  int
	data []byte
}

// layer is a gzipped tar of files with every timestamp at t. The gzip
// header carries no time or name, so equal files give equal digests.
func layer(t time.Time, files []file) (v1.Layer, error) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: t.UTC(), Uid: f.uid, Gid: f.uid,
			Format: tar.FormatPAX, Typeflag: tar.TypeReg, Size: int64(len(f.data))}
		if f.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(zw, &tb); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return static.NewLayer(gz.Bytes(), types.OCILayer), nil
}

// SBOM is an SPDX 2.3 document of the binary: the basalt main module and
// every module linked into it, with versions, package URLs and go.sum
// hashes, and the Go toolchain.
func SBOM(info *buildinfo.BuildInfo, binary []byte, version string, created time.Time) ([]byte, error) {
	sum := sha256.Sum256(binary)
	type checksum struct {
		Algorithm string `json:"algorithm"`
		Value     string `json:"checksumValue"`
	}
	type ref struct {
		Category string `json:"referenceCategory"`
		Type     string `json:"referenceType"`
		Locator  string `json:"referenceLocator"`
	}
	type pkg struct {
		SPDXID           string     `json:"SPDXID"`
		Name             string     `json:"name"`
		Version          string     `json:"versionInfo"`
		Supplier         string     `json:"supplier,omitempty"`
		DownloadLocation string     `json:"downloadLocation"`
		FilesAnalyzed    bool       `json:"filesAnalyzed"`
		Checksums        []checksum `json:"checksums,omitempty"`
		ExternalRefs     []ref      `json:"externalRefs,omitempty"`
		Comment          string     `json:"comment,omitempty"`
	}
	type rel struct {
		Element string `json:"spdxElementId"`
		Type    string `json:"relationshipType"`
		Related string `json:"relatedSpdxElement"`
	}
	purl := func(p, v string) []ref {
		return []ref{{Category: "PACKAGE-MANAGER", Type: "purl", Locator: "pkg:golang/" + p + "@" + v}}
	}
	main := pkg{SPDXID: "SPDXRef-basalt", Name: info.Main.Path, Version: version, DownloadLocation: "NOASSERTION",
		Checksums:    []checksum{{Algorithm: "SHA256", Value: hex.EncodeToString(sum[:])}},
		ExternalRefs: purl(info.Main.Path, version), Comment: "the basalt binary, " + Binary}
	pkgs := []pkg{main}
	rels := []rel{{Element: "SPDXRef-DOCUMENT", Type: "DESCRIBES", Related: main.SPDXID}}
	goPkg := pkg{SPDXID: "SPDXRef-go", Name: "go", Version: info.GoVersion, DownloadLocation: "https://go.dev/dl/",
		ExternalRefs: purl("stdlib", info.GoVersion), Comment: "the Go toolchain and standard library"}
	pkgs = append(pkgs, goPkg)
	rels = append(rels, rel{Element: main.SPDXID, Type: "DEPENDS_ON", Related: goPkg.SPDXID})
	for i, d := range info.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		p := pkg{SPDXID: fmt.Sprintf("SPDXRef-module-%d", i+1), Name: m.Path, Version: m.Version,
			DownloadLocation: "https://proxy.golang.org/" + path.Join(m.Path, "@v", m.Version+".zip"), ExternalRefs: purl(m.Path, m.Version)}
		if m.Sum != "" {
			p.Comment = "go.sum " + m.Sum
		}
		pkgs = append(pkgs, p)
		rels = append(rels, rel{Element: main.SPDXID, Type: "DEPENDS_ON", Related: p.SPDXID})
	}
	doc := map[string]any{
		"spdxVersion":       "SPDX-2.3",
		"dataLicense":       "CC0-1.0",
		"SPDXID":            "SPDXRef-DOCUMENT",
		"name":              "basalt-" + version,
		"documentNamespace": "https://github.com/basaltdev/basalt/spdx/basalt-" + version + "-" + hex.EncodeToString(sum[:8]),
		"creationInfo": map[string]any{
			"created":  created.UTC().Format(time.RFC3339),
			"creators": []string{"Tool: basalt-image"},
		},
		"packages":      pkgs,
		"relationships": rels,
	}
	return json.MarshalIndent(doc, "", "  ")
}
