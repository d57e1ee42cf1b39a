// Package tlscert provides the certificates Basalt serves HTTPS with when
// the operator gives no certificate files: a self-signed certificate for
// development, and certificates obtained and renewed over ACME (Let's
// Encrypt, or any RFC 8555 server).
package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The self-signed development certificate names these hosts, is valid
// for selfSignedValidity, and is made again when less than
// selfSignedRenewal of it is left.
var selfSignedHosts = []string{"localhost", "127.0.0.1", "::1"}

const (
	selfSignedValidity = 90 * 24 * time.Hour
	selfSignedRenewal  = 7 * 24 * time.Hour
)

// SelfSigned returns the PEM files of a self-signed certificate for
// localhost, 127.0.0.1 and ::1 in dir (cert.pem, key.pem), and whether it
// was made now. The certificate in dir is kept while it is valid for
// another week and names those hosts, so that a client told to trust it
// once keeps trusting it across restarts; otherwise a new one (ECDSA P-256,
// valid 90 days) replaces it.
func SelfSigned(dir string, now time.Time) (certFile, keyFile string, made bool, err error) {
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if usable(certFile, keyFile, now) {
		return certFile, keyFile, false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", false, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", false, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return "", "", false, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Basalt development certificate", Organization: []string{"Basalt (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so that it can be trusted as its own root
	}
	for _, h := range selfSignedHosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", false, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", false, err
	}
	// The key first: a certificate file is never there without its key.
	if err := writeAtomically(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})); err != nil {
		return "", "", false, err
	}
	if err := writeAtomically(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
		return "", "", false, err
	}
	return certFile, keyFile, true, nil
}

// usable reports whether the pair in the files loads, names every
// development host and stays valid for selfSignedRenewal.
func usable(certFile, keyFile string, now time.Time) bool {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil || cert.Leaf == nil {
		return false
	}
	leaf := cert.Leaf
	if now.Before(leaf.NotBefore) || now.Add(selfSignedRenewal).After(leaf.NotAfter) {
		return false
	}
	for _, h := range selfSignedHosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// writeAtomically writes data to a new file beside path, readable by its
// owner only, and renames it over path.
func writeAtomically(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
