package tlscert

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSelfSigned: the certificate is made once, names the development
// hosts, is kept across calls while it is valid for another week, and is
// made again when it nears its end or its files are damaged.
func TestSelfSigned(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Now()
	certFile, keyFile, made, err := SelfSigned(dir, now)
	if err != nil || !made {
		t.Fatalf("first call: made %v, %v", made, err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := cert.Leaf.VerifyHostname(h); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	if info, err := os.Stat(keyFile); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v", info.Mode(), err)
	}
	serial := cert.Leaf.SerialNumber

	again := func(at time.Time) (bool, string) {
		t.Helper()
		c, k, made, err := SelfSigned(dir, at)
		if err != nil || c != certFile || k != keyFile {
			t.Fatalf("SelfSigned: %s %s %v", c, k, err)
		}
		cert, err := tls.LoadX509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return made, cert.Leaf.SerialNumber.String()
	}
	if made, s := again(now.Add(80 * 24 * time.Hour)); made || s != serial.String() {
		t.Errorf("80 days later: made %v, serial %s (was %s)", made, s, serial)
	}
	made, renewed := again(now.Add(85 * 24 * time.Hour))
	if !made || renewed == serial.String() {
		t.Errorf("85 days later (5 left): made %v, serial %s", made, renewed)
	}
	if err := os.WriteFile(certFile, []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	if made, s := again(now); !made || s == renewed {
		t.Errorf("damaged file: made %v", made)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("the directory holds %d files, want the pair only", len(entries))
	}
}

func TestNormalizeDomains(t *testing.T) {
	got, err := NormalizeDomains([]string{"Example.COM", " api.example.com ", "example.com.", "bücher.example", ""})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"example.com", "api.example.com", "xn--bcher-kva.example"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range [][]string{nil, {""}, {"localhost"}, {"127.0.0.1"}, {"::1"}, {"*.example.com"}, {"exa mple.com"}} {
		if got, err := NormalizeDomains(bad); err == nil {
			t.Errorf("%q: %v, want an error", bad, got)
		} else if !strings.Contains(err.Error(), "domain") {
			t.Errorf("%q: the error %q does not say what is wrong", bad, err)
		}
	}
}

// TestOffersTLS13Only tells the hellos of TLS 1.3 only (QUIC's), whose
// cipher suites name no signature algorithm.
func TestOffersTLS13Only(t *testing.T) {
	for _, tc := range []struct {
		versions []uint16
		want     bool
	}{
		{nil, false},
		{[]uint16{tls.VersionTLS13}, true},
		{[]uint16{tls.VersionTLS13, tls.VersionTLS12}, false},
	} {
		if got := offersTLS13Only(&tls.ClientHelloInfo{SupportedVersions: tc.versions}); got != tc.want {
			t.Errorf("%v: %v", tc.versions, got)
		}
	}
}
