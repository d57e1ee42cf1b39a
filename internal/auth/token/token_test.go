package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/basaltdev/basalt/internal/fault"
)

const (
	testIssuer   = "https://basalt.example"
	testAudience = "basalt-api"
)

// t0 is the fixed time the tests run at.
var t0 = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

func clockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

func mustKey(t testing.TB, id string) Key {
	t.Helper()
	k, err := NewKey(id)
	if err != nil {
		t.Fatalf("NewKey(%q) = %v", id, err)
	}
	return k
}

func mustVerifier(t testing.TB, now time.Time, keys ...Key) *Verifier {
	t.Helper()
	v, err := NewVerifier(testIssuer, testAudience, func() []Key { return keys }, clockAt(now), 0)
	if err != nil {
		t.Fatalf("NewVerifier = %v", err)
	}
	return v
}

func mustIssuer(t testing.TB, now time.Time) *Issuer {
	t.Helper()
	i, err := NewIssuer(testIssuer, testAudience, 0, clockAt(now))
	if err != nil {
		t.Fatalf("NewIssuer = %v", err)
	}
	return i
}

// goodPayload is the payload of a valid token at t0.
func goodPayload() map[string]any {
	return map[string]any{
		"iss":   testIssuer,
		"sub":   "user-1",
		"aud":   testAudience,
		"exp":   t0.Add(5 * time.Minute).Unix(),
		"iat":   t0.Add(-time.Minute).Unix(),
		"nbf":   t0.Add(-time.Minute).Unix(),
		"jti":   "jti-1",
		"sid":   "session-1",
		"roles": []string{"admin"},
		"scope": "docs:read docs:write",
	}
}

// sign builds a compact JWS of payload with go-jose, signed by key with
// alg, carrying headers (typ, kid, anything else) in the protected header.
func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, headers map[string]any, payload map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	for k, v := range headers {
		opts = opts.WithHeader(jose.HeaderKey(k), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("NewSigner(%s) = %v", alg, err)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(body)
	if err != nil {
		t.Fatalf("Sign = %v", err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// handBuilt joins base64url encodings of header and payload JSON and sig.
func handBuilt(t testing.TB, header, payload map[string]any, sig string) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "." + sig
}

func selfSignedCert(t testing.TB, k Key) string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "attacker"},
		NotBefore:    t0.Add(-time.Hour),
		NotAfter:     t0.Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public, k.Private)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// with returns a copy of m with the given changes; a nil value deletes.
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// requireRejected fails t unless err is the generic Unauthenticated
// rejection.
func requireRejected(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("Verify accepted the token")
	}
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.Unauthenticated {
		t.Fatalf("Verify error = %v (%T), want fault.Unauthenticated", err, err)
	}
	if fe.Msg != rejectedMsg || fault.Message(err) != rejectedMsg {
		t.Fatalf("user message = %q, want the generic %q", fe.Msg, rejectedMsg)
	}
	if fe.Err == nil {
		t.Fatal("rejection carries no reason for logs")
	}
}

func TestVerify(t *testing.T) {
	key := mustKey(t, "k1")
	other := mustKey(t, "k2")
	impostor := mustKey(t, "k1") // another key under the same kid
	retired := mustKey(t, "old")
	retired.NotAfter = t0.Add(-time.Second)
	stillValid := mustKey(t, "rotating")
	stillValid.NotAfter = t0.Add(time.Hour)

	hdr := map[string]any{"typ": "at+jwt", "kid": "k1"}
	good := goodPayload()
	withHdr := func(kv ...any) map[string]any { return with(hdr, kv...) }
	ed := func(h, p map[string]any) func(t *testing.T) string {
		return func(t *testing.T) string { return sign(t, jose.EdDSA, key.Private, h, p) }
	}
	valid := func(t *testing.T) string { return sign(t, jose.EdDSA, key.Private, hdr, good) }

	tests := []struct {
		name  string
		token func(t *testing.T) string
		ok    bool
	}{
		{"valid", valid, true},
		{"valid issued by Issuer", func(t *testing.T) string {
			tok, _, err := mustIssuer(t, t0).Issue(key, Claims{Subject: "u", SessionID: "s"})
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, true},
		{"valid typ application/at+jwt", ed(withHdr("typ", "application/at+jwt"), good), true},
		{"valid typ upper case", ed(withHdr("typ", "AT+JWT"), good), true},
		{"valid aud array", ed(hdr, with(good, "aud", []string{"other", testAudience})), true},
		{"valid key not yet retired", func(t *testing.T) string {
			return sign(t, jose.EdDSA, stillValid.Private, withHdr("kid", "rotating"), good)
		}, true},
		{"valid expiry within leeway", ed(hdr, with(good, "exp", t0.Add(-29*time.Second).Unix())), true},
		{"valid nbf within leeway", ed(hdr, with(good, "nbf", t0.Add(29*time.Second).Unix(), "iat", t0.Add(29*time.Second).Unix())), true},

		{"alg none", func(t *testing.T) string {
			return handBuilt(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": "k1"}, good, "")
		}, false},
		{"alg none with signature", func(t *testing.T) string {
			return handBuilt(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": "k1"}, good, "AAAA")
		}, false},
		{"alg EdDSA without signature", func(t *testing.T) string {
			return handBuilt(t, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": "k1"}, good, "")
		}, false},
		{"HS256 keyed with the public key", func(t *testing.T) string {
			return sign(t, jose.HS256, []byte(key.Public), hdr, good)
		}, false},
		{"HS512 keyed with the public key twice", func(t *testing.T) string {
			return sign(t, jose.HS512, append([]byte(key.Public), key.Public...), hdr, good)
		}, false},
		{"unknown kid", ed(withHdr("kid", "k9"), good), false},
		{"kid path traversal", ed(withHdr("kid", "../../../k1"), good), false},
		{"kid SQL injection", ed(withHdr("kid", "k1' OR 1=1 --"), good), false},
		{"kid with NUL", ed(withHdr("kid", "k1\x00"), good), false},
		{"kid too long", ed(withHdr("kid", strings.Repeat("k", MaxKeyIDLen+1)), good), false},
		{"kid missing", ed(withHdr("kid", nil), good), false},
		{"kid not a string", ed(withHdr("kid", 1), good), false},
		{"kid case differs", ed(withHdr("kid", "K1"), good), false},
		{"jku header", ed(withHdr("jku", "https://attacker.example/jwks.json"), good), false},
		{"x5u header", ed(withHdr("x5u", "https://attacker.example/cert.pem"), good), false},
		{"jwk header", ed(withHdr("jwk", jose.JSONWebKey{Key: key.Public, KeyID: "k1", Algorithm: "EdDSA"}), good), false},
		{"x5c header", func(t *testing.T) string {
			return sign(t, jose.EdDSA, key.Private, withHdr("x5c", []string{selfSignedCert(t, key)}), good)
		}, false},
		{"crit header", ed(withHdr("crit", []string{"basalt-ext"}, "basalt-ext", true), good), false},
		{"aud missing", ed(hdr, with(good, "aud", nil)), false},
		{"aud wrong", ed(hdr, with(good, "aud", "other-api")), false},
		{"aud array without ours", ed(hdr, with(good, "aud", []string{"a", "b"})), false},
		{"iss wrong", ed(hdr, with(good, "iss", "https://attacker.example")), false},
		{"iss missing", ed(hdr, with(good, "iss", nil)), false},
		{"expired", ed(hdr, with(good, "exp", t0.Add(-31*time.Second).Unix())), false},
		{"exp missing", ed(hdr, with(good, "exp", nil)), false},
		{"not yet valid", ed(hdr, with(good, "nbf", t0.Add(31*time.Second).Unix())), false},
		{"nbf missing", ed(hdr, with(good, "nbf", nil)), false},
		{"issued in the future", ed(hdr, with(good, "iat", t0.Add(time.Hour).Unix())), false},
		{"iat missing", ed(hdr, with(good, "iat", nil)), false},
		{"sub empty", ed(hdr, with(good, "sub", "")), false},
		{"sub missing", ed(hdr, with(good, "sub", nil)), false},
		{"sid empty", ed(hdr, with(good, "sid", "")), false},
		{"jti missing", ed(hdr, with(good, "jti", nil)), false},
		{"exp not a number", ed(hdr, with(good, "exp", "tomorrow")), false},
		{"refresh token typ", ed(withHdr("typ", "rt+jwt"), good), false},
		{"typ JWT", ed(withHdr("typ", "JWT"), good), false},
		{"typ missing", ed(withHdr("typ", nil), good), false},
		{"typ not a string", ed(withHdr("typ", []string{"at+jwt"}), good), false},
		{"malformed base64", func(t *testing.T) string {
			tok := valid(t)
			return "!" + tok[1:]
		}, false},
		{"standard base64 alphabet", func(t *testing.T) string {
			return valid(t)[:8] + "+/" + valid(t)[10:]
		}, false},
		{"padded base64", func(t *testing.T) string { return valid(t) + "==" }, false},
		{"line break inside", func(t *testing.T) string {
			tok := valid(t)
			return tok[:10] + "\n" + tok[10:]
		}, false},
		{"surrounding whitespace", func(t *testing.T) string { return " " + valid(t) + " " }, false},
		{"non-canonical signature encoding", func(t *testing.T) string {
			tok := valid(t)
			// 64 signature bytes leave 4 spare bits in the last character;
			// setting one must not yield a second spelling of the token.
			last := tok[len(tok)-1]
			i := strings.IndexByte(b64url, last)
			return tok[:len(tok)-1] + string(b64url[i|1])
		}, false},
		{"3 parts of garbage", func(*testing.T) string { return "garbage.more-garbage.still_garbage" }, false},
		{"3 empty parts", func(*testing.T) string { return ".." }, false},
		{"2 parts", func(t *testing.T) string {
			tok := valid(t)
			return tok[:strings.LastIndexByte(tok, '.')]
		}, false},
		{"4 parts", func(t *testing.T) string { return valid(t) + ".AAAA" }, false},
		{"empty", func(*testing.T) string { return "" }, false},
		{"header not JSON", func(t *testing.T) string {
			tok := valid(t)
			return base64.RawURLEncoding.EncodeToString([]byte("not json")) + tok[strings.IndexByte(tok, '.'):]
		}, false},
		{"JSON serialization", func(t *testing.T) string {
			return `{"payload":"e30","signatures":[]}`
		}, false},
		{"100 KiB token", func(t *testing.T) string {
			return sign(t, jose.EdDSA, key.Private, hdr, with(good, "pad", strings.Repeat("x", 100<<10)))
		}, false},
		{"key retired", func(t *testing.T) string {
			return sign(t, jose.EdDSA, retired.Private, withHdr("kid", "old"), good)
		}, false},
		{"signed by another known key", func(t *testing.T) string {
			return sign(t, jose.EdDSA, other.Private, hdr, good)
		}, false},
		{"signed by an impostor key with the same kid", func(t *testing.T) string {
			return sign(t, jose.EdDSA, impostor.Private, hdr, good)
		}, false},
		{"payload swapped under a valid signature", func(t *testing.T) string {
			tok := valid(t)
			parts := strings.Split(tok, ".")
			evil, _ := json.Marshal(with(good, "roles", []string{"superuser"}))
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(evil) + "." + parts[2]
		}, false},
	}
	v := mustVerifier(t, t0, key, other, retired, stillValid)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.token(t)
			c, err := v.Verify(tok)
			if tt.ok {
				if err != nil {
					t.Fatalf("Verify = %v, want success", err)
				}
				if c.Subject == "" || c.SessionID == "" {
					t.Fatalf("Verify claims = %+v", c)
				}
				return
			}
			requireRejected(t, err)
			t.Logf("rejected: %v", err)
			if !reflect.DeepEqual(c, Claims{}) {
				t.Fatalf("rejected token returned claims %+v", c)
			}
		})
	}
}

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestIssueVerifyRoundTrip(t *testing.T) {
	key := mustKey(t, "k1")
	now := t0.Add(123 * time.Millisecond) // tokens carry whole seconds
	iss, err := NewIssuer(testIssuer, testAudience, 2*time.Minute, clockAt(now))
	if err != nil {
		t.Fatal(err)
	}
	in := Claims{
		Subject:   "user-42",
		SessionID: "sess-7",
		ID:        "ignored",
		Roles:     []string{"admin", "editor"},
		Scopes:    []string{"docs:read", "docs:write"},
		Expiry:    t0.Add(100 * time.Hour), // ignored
	}
	tok, out, err := iss.Issue(key, in)
	if err != nil {
		t.Fatalf("Issue = %v", err)
	}
	if out.ID == "ignored" || len(out.ID) != 22 {
		t.Errorf("jti = %q, want 22 characters of fresh randomness", out.ID)
	}
	if !out.IssuedAt.Equal(t0) || !out.NotBefore.Equal(t0) || !out.Expiry.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("times = iat %s nbf %s exp %s", out.IssuedAt, out.NotBefore, out.Expiry)
	}

	// The header is exactly what RFC 9068 asks for.
	hb, err := base64.RawURLEncoding.DecodeString(tok[:strings.IndexByte(tok, '.')])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"alg": "EdDSA", "kid": "k1", "typ": "at+jwt"}; !reflect.DeepEqual(h, want) {
		t.Errorf("header = %v, want %v", h, want)
	}
	pb, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(pb, &p); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "roles", "scope"} {
		if _, ok := p[name]; !ok {
			t.Errorf("payload lacks %q: %s", name, pb)
		}
	}
	if p["scope"] != "docs:read docs:write" {
		t.Errorf("scope = %v", p["scope"])
	}

	v := mustVerifier(t, now.Add(time.Minute), key)
	got, err := v.Verify(tok)
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if !reflect.DeepEqual(got, out) {
		t.Errorf("Verify = %+v, want %+v", got, out)
	}

	// Two tokens never share a jti.
	_, out2, err := iss.Issue(key, in)
	if err != nil {
		t.Fatal(err)
	}
	if out2.ID == out.ID {
		t.Error("two tokens got the same jti")
	}

	// Past its lifetime plus leeway the token is rejected.
	_, err = mustVerifier(t, t0.Add(2*time.Minute+DefaultLeeway), key).Verify(tok)
	requireRejected(t, err)
}

func TestIssueRejects(t *testing.T) {
	key := mustKey(t, "k1")
	retired := mustKey(t, "k2")
	retired.NotAfter = t0.Add(-time.Second)
	verifyOnly := Key{ID: "k3", Public: key.Public}
	good := Claims{Subject: "u", SessionID: "s"}
	tests := []struct {
		name string
		key  Key
		c    Claims
		kind fault.Kind
	}{
		{"empty subject", key, Claims{SessionID: "s"}, fault.Invalid},
		{"empty session", key, Claims{Subject: "u"}, fault.Invalid},
		{"scope with space", key, Claims{Subject: "u", SessionID: "s", Scopes: []string{"a b"}}, fault.Invalid},
		{"empty scope", key, Claims{Subject: "u", SessionID: "s", Scopes: []string{""}}, fault.Invalid},
		{"retired key", retired, good, fault.Internal},
		{"verify-only key", verifyOnly, good, fault.Internal},
		{"bad key ID", Key{ID: "../x", Private: key.Private, Public: key.Public}, good, fault.Internal},
	}
	iss := mustIssuer(t, t0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, _, err := iss.Issue(tt.key, tt.c)
			if fault.KindOf(err) != tt.kind || tok != "" {
				t.Fatalf("Issue = %q, %v; want kind %s", tok, err, tt.kind)
			}
		})
	}
}

func TestNewKey(t *testing.T) {
	for _, id := range []string{"a", "Key_2031-05", strings.Repeat("z", MaxKeyIDLen)} {
		k, err := NewKey(id)
		if err != nil {
			t.Fatalf("NewKey(%q) = %v", id, err)
		}
		if k.ID != id || len(k.Private) != ed25519.PrivateKeySize || len(k.Public) != ed25519.PublicKeySize || !k.NotAfter.IsZero() {
			t.Fatalf("NewKey(%q) = %+v", id, k)
		}
		if !k.Public.Equal(k.Private.Public()) {
			t.Fatal("public key does not match private key")
		}
	}
	for _, id := range []string{"", strings.Repeat("z", MaxKeyIDLen+1), "a/b", "../k", "k 1", "k'1", "kë", "k\x00"} {
		if _, err := NewKey(id); fault.KindOf(err) != fault.Invalid {
			t.Errorf("NewKey(%q) = %v, want Invalid", id, err)
		}
	}
}

func TestConstructorsReject(t *testing.T) {
	keys := func() []Key { return nil }
	now := clockAt(t0)
	if _, err := NewIssuer("", testAudience, 0, now); fault.KindOf(err) != fault.Invalid {
		t.Errorf("NewIssuer without issuer = %v", err)
	}
	if _, err := NewIssuer(testIssuer, "", 0, now); fault.KindOf(err) != fault.Invalid {
		t.Errorf("NewIssuer without audience = %v", err)
	}
	if _, err := NewIssuer(testIssuer, testAudience, -time.Second, now); fault.KindOf(err) != fault.Invalid {
		t.Errorf("NewIssuer negative ttl = %v", err)
	}
	if _, err := NewIssuer(testIssuer, testAudience, 0, nil); fault.KindOf(err) != fault.Invalid {
		t.Errorf("NewIssuer without clock = %v", err)
	}
	if _, err := NewVerifier("", testAudience, keys, now, 0); fault.KindOf(err) != fault.Invalid {
		t.Errorf("NewVerifier without issuer = %v", err)
	}
	if _, err := NewVerifier(testIssuer, "", keys, now, 0); fault.KindOf(err) != fault.Invalid {
		t.Errorf("NewVerifier without audience = %v", err)
	}
	if _, err := NewVerifier(testIssuer, testAudience, nil, now, 0); fault.KindOf(err) != fault.Invalid {
		t.Errorf("NewVerifier without keys = %v", err)
	}
	if _, err := NewVerifier(testIssuer, testAudience, keys, nil, 0); fault.KindOf(err) != fault.Invalid {
		t.Errorf("NewVerifier without clock = %v", err)
	}
	if _, err := NewVerifier(testIssuer, testAudience, keys, now, -time.Second); fault.KindOf(err) != fault.Invalid {
		t.Errorf("NewVerifier negative leeway = %v", err)
	}
}

func TestVerifyMisconfiguredKeyDoesNotPanic(t *testing.T) {
	key := mustKey(t, "k1")
	tok := sign(t, jose.EdDSA, key.Private, map[string]any{"typ": "at+jwt", "kid": "k1"}, goodPayload())
	for _, bad := range []Key{{ID: "k1"}, {ID: "k1", Public: key.Public[:31]}} {
		_, err := mustVerifier(t, t0, bad).Verify(tok)
		requireRejected(t, err)
	}
}

func TestVerifyCustomLeeway(t *testing.T) {
	key := mustKey(t, "k1")
	tok := sign(t, jose.EdDSA, key.Private, map[string]any{"typ": "at+jwt", "kid": "k1"},
		with(goodPayload(), "exp", t0.Add(-10*time.Second).Unix()))
	v, err := NewVerifier(testIssuer, testAudience, func() []Key { return []Key{key} }, clockAt(t0), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(tok)
	requireRejected(t, err)
	v, err = NewVerifier(testIssuer, testAudience, func() []Key { return []Key{key} }, clockAt(t0), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("Verify with 1m leeway = %v", err)
	}
}

func BenchmarkVerify(b *testing.B) {
	key := mustKey(b, "k1")
	tok, _, err := mustIssuer(b, t0).Issue(key, Claims{Subject: "user-1", SessionID: "s-1", Roles: []string{"admin"}, Scopes: []string{"docs:read"}})
	if err != nil {
		b.Fatal(err)
	}
	v := mustVerifier(b, t0, key)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
