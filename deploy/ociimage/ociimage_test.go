package ociimage_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/basaltdev/basalt/deploy/ociimage"
	"github.com/basaltdev/basalt/internal/buildinfo"
)

// TestMakeImage runs make image for this machine's architecture, as a
// release does for each, and inspects what it wrote with
// go-containerregistry: the layout, the index, the image's user,
// entrypoint, environment, labels and files, its SBOM, the binary inside
// (run), that building again gives the same digest, and that a registry
// takes it as it is.
func TestMakeImage(t *testing.T) {
	root := repoRoot(t)
	dir := t.TempDir()
	out, bin := filepath.Join(dir, "image"), filepath.Join(dir, "bin")
	const version = "v0.0.0-imagetest"
	platform := "linux/" + runtime.GOARCH
	mk := exec.CommandContext(t.Context(), "make", "-C", root, "image", "IMAGE_PLATFORMS="+platform, "IMAGE_DIR="+out, "BIN="+bin, "VERSION="+version)
	if b, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, b)
	}

	// The layout holds one index, tagged with the version.
	lp, err := layout.FromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	topm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(topm.Manifests) != 1 || topm.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != version ||
		topm.Manifests[0].MediaType != types.OCIImageIndex {
		t.Fatalf("index.json = %+v; want one OCI index tagged %s", topm, version)
	}
	idx, err := top.ImageIndex(topm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Platform == nil || im.Manifests[0].Platform.String() != platform ||
		im.Manifests[0].MediaType != types.OCIManifestSchema1 || im.Annotations["org.opencontainers.image.version"] != version {
		t.Fatalf("the image index = %+v; want one OCI image for %s, annotated with the version", im, platform)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", mt)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("config media type %s", m.Config.MediaType)
	}
	for _, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer media type %s; want %s", l.MediaType, types.OCILayer)
		}
	}

	// The config: not root, the entrypoint, the environment, the labels.
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" || strings.HasPrefix(c.User, "0") || c.User == "" {
		t.Errorf("user %q; want 65532:65532", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/basalt"}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("entrypoint %q, cmd %q", c.Entrypoint, c.Cmd)
	}
	for _, e := range []string{"BASALT_ADDR=0.0.0.0:8080", "BASALT_DATA_DIR=/var/lib/basalt"} {
		if !slices.Contains(c.Env, e) {
			t.Errorf("env %q lacks %s", c.Env, e)
		}
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	if _, ok := c.Volumes["/var/lib/basalt"]; !ok || c.WorkingDir != "/var/lib/basalt" {
		t.Errorf("volumes %v, working directory %q", c.Volumes, c.WorkingDir)
	}
	commit := strings.TrimSpace(git(t, root, "rev-parse", "HEAD"))
	date := strings.TrimSpace(git(t, root, "log", "-1", "--format=%cI"))
	created, err := time.Parse(time.RFC3339, date)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.title":    "basalt",
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.revision": commit,
		"org.opencontainers.image.created":  created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.source":   "https://github.com/basaltdev/basalt",
	} {
		if c.Labels[k] != want {
			t.Errorf("label %s = %q; want %q", k, c.Labels[k], want)
		}
	}
	if !cf.Created.Equal(created) || cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("created %v, platform %s/%s; want the commit's date %v and %s", cf.Created, cf.OS, cf.Architecture, created, platform)
	}

	// The files.
	files := extract(t, img)
	for name, want := range map[string]struct {
		mode int64
		uid  int
	}{
		"usr/local/bin/basalt":                {0o755, 0},
		"etc/passwd":                          {0o644, 0},
		"etc/group":                           {0o644, 0},
		"var/lib/basalt":                      {0o700, 65532},
		"tmp":                                 {0o1777, 0},
		"usr/share/doc/basalt/sbom.spdx.json": {0o644, 0},
	} {
		f, ok := files[name]
		if !ok {
			t.Errorf("the image has no %s", name)
			continue
		}
		if f.Mode != want.mode || f.Uid != want.uid || f.Gid != want.uid || !f.ModTime.Equal(created) {
			t.Errorf("%s: mode %o, owner %d:%d, time %v; want %o, %d:%d, %v", name, f.Mode, f.Uid, f.Gid, f.ModTime, want.mode, want.uid, want.uid, created)
		}
	}
	if !strings.Contains(string(files["etc/passwd"].data), "basalt:x:65532:65532:basalt:/var/lib/basalt:/sbin/nologin\n") {
		t.Errorf("/etc/passwd: %q", files["etc/passwd"].data)
	}
	if len(files) != 15 {
		t.Errorf("the image has %d entries; want the 15 it is made of: %v", len(files), keys(files))
	}

	// The binary runs, and reports the build the labels name.
	exe := filepath.Join(dir, "basalt-from-image")
	if err := os.WriteFile(exe, files["usr/local/bin/basalt"].data, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := exec.CommandContext(t.Context(), exe, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var info buildinfo.Info
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	if info.Version != version || info.Commit != commit || info.Date != created.UTC().Format(time.RFC3339) {
		t.Errorf("basalt version --json in the image: %+v; want %s, %s, %s", info, version, commit, created)
	}

	// The SBOM names the modules linked in, with their versions.
	var sbom struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			Name    string `json:"name"`
			Version string `json:"versionInfo"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(files["usr/share/doc/basalt/sbom.spdx.json"].data, &sbom); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"github.com/basaltdev/basalt": version, "go": runtime.Version(), "github.com/jackc/pgx/v5": moduleVersion(t, root, "github.com/jackc/pgx/v5")}
	for _, p := range sbom.Packages {
		if v, ok := want[p.Name]; ok && v == p.Version {
			delete(want, p.Name)
		}
	}
	if sbom.SPDXVersion != "SPDX-2.3" || len(want) > 0 || len(sbom.Packages) < 20 {
		t.Errorf("the SBOM (%s, %d packages) lacks %v", sbom.SPDXVersion, len(sbom.Packages), want)
	}

	// The same binary and metadata give the same digest.
	again, err := ociimage.Build(ociimage.Options{Binaries: map[string]string{platform: filepath.Join(bin, "linux-"+runtime.GOARCH, "basalt")},
		Version: version, Commit: commit, Created: created, Source: "https://github.com/basaltdev/basalt"})
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := idx.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("building again gave %s; make image gave %s", d2, d1)
	}

	// A registry takes the index as it is, and gives the same back.
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	u, _ := url.Parse(reg.URL)
	ref, err := name.ParseReference(u.Host + "/basalt:" + version)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Index(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := pulled.Digest(); d != d1 {
		t.Errorf("the registry holds %s; pushed %s", d, d1)
	}
}

func TestBuildRefusesWrongBinaries(t *testing.T) {
	self, err := os.Executable() // a test binary: built with cgo or not, for this platform
	if err != nil {
		t.Fatal(err)
	}
	other := "amd64"
	if runtime.GOARCH == "amd64" {
		other = "arm64"
	}
	for _, c := range []struct {
		name string
		o    ociimage.Options
		want string
	}{
		{"no binary", ociimage.Options{Version: "v1", Created: time.Now()}, "no binary"},
		{"no version", ociimage.Options{Binaries: map[string]string{"linux/amd64": self}, Created: time.Now()}, "needs a version"},
		{"another architecture", ociimage.Options{Binaries: map[string]string{"linux/" + other: self}, Version: "v1", Created: time.Now()}, "is built for"},
		{"not linux", ociimage.Options{Binaries: map[string]string{"windows/amd64": self}, Version: "v1", Created: time.Now()}, "want linux/<arch>"},
		{"not a Go binary", ociimage.Options{Binaries: map[string]string{"linux/amd64": "ociimage.go"}, Version: "v1", Created: time.Now()}, "not a Go binary"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ociimage.Build(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Build: %v; want an error with %q", err, c.want)
			}
		})
	}
}

type entry struct {
	*tar.Header
	data []byte
}

// extract reads the image's flattened file system.
func extract(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]entry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := io.Copy(&b, tr); err != nil {
			t.Fatal(err)
		}
		files[h.Name] = entry{h, b.Bytes()}
	}
	return files
}

func keys(m map[string]entry) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

func repoRoot(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(git(t, ".", "rev-parse", "--show-toplevel"))
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "git", args...)
	cmd.Dir = dir
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return string(b)
}

// moduleVersion is the version of a module the main module requires.
func moduleVersion(t *testing.T, root, module string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "list", "-m", "-f", "{{.Version}}", module)
	cmd.Dir = root
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", module, err)
	}
	return strings.TrimSpace(string(b))
}
