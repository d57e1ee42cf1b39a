package token

import (
	"crypto/ed25519"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestJWKS(t *testing.T) {
	k1, k2 := mustKey(t, "k1"), mustKey(t, "k2")
	verifyOnly := Key{ID: "k3", Public: mustKey(t, "k3").Public}
	b, err := JWKS([]Key{k1, k2, verifyOnly})
	if err != nil {
		t.Fatalf("JWKS = %v", err)
	}

	// The wire form is exactly the public OKP members.
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("JWKS is not JSON: %v\n%s", err, b)
	}
	if len(raw.Keys) != 3 {
		t.Fatalf("JWKS has %d keys, want 3: %s", len(raw.Keys), b)
	}
	for i, m := range raw.Keys {
		x, _ := m["x"].(string)
		want := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": []string{"k1", "k2", "k3"}[i], "alg": "EdDSA", "use": "sig"}
		if !reflect.DeepEqual(m, want) || x == "" {
			t.Errorf("key %d = %v, want %v", i, m, want)
		}
	}
	if strings.Contains(string(b), `"d"`) {
		t.Fatalf("JWKS leaks private key material: %s", b)
	}

	// A service that only has the JWKS verifies Basalt's tokens with it.
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("go-jose cannot read the JWKS: %v", err)
	}
	tok, issued, err := mustIssuer(t, t0).Issue(k2, Claims{Subject: "u", SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	found := set.Key(parsed.Headers[0].KeyID)
	if len(found) != 1 || !found[0].IsPublic() || !found[0].Valid() {
		t.Fatalf("JWKS lookup of kid %q = %+v", parsed.Headers[0].KeyID, found)
	}
	var claims jwt.Claims
	if err := parsed.Claims(found[0].Key, &claims); err != nil {
		t.Fatalf("verify with JWKS key = %v", err)
	}
	if claims.Subject != "u" || claims.ID != issued.ID {
		t.Errorf("claims = %+v", claims)
	}
	// A token signed by k1 does not verify with k2's published key.
	tok1, _, err := mustIssuer(t, t0).Issue(k1, Claims{Subject: "u", SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := jwt.ParseSigned(tok1, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	if err := p1.Claims(found[0].Key, &claims); err == nil {
		t.Error("k1's token verified with k2's JWKS entry")
	}

	// And Basalt's own Verifier works from the published public keys.
	pub, ok := found[0].Key.(ed25519.PublicKey)
	if !ok {
		t.Fatalf("JWKS key is %T, want ed25519.PublicKey", found[0].Key)
	}
	if _, err := mustVerifier(t, t0, Key{ID: found[0].KeyID, Public: pub}).Verify(tok); err != nil {
		t.Errorf("Verify with JWKS key = %v", err)
	}
}

func TestJWKSRejectsBadKeys(t *testing.T) {
	k := mustKey(t, "k1")
	for _, bad := range []Key{{ID: "k1"}, {ID: "", Public: k.Public}, {ID: "a/b", Public: k.Public}} {
		if _, err := JWKS([]Key{bad}); err == nil {
			t.Errorf("JWKS(%+v) succeeded", bad)
		}
	}
	b, err := JWKS(nil)
	if err != nil || string(b) != `{"keys":[]}` {
		t.Errorf("JWKS(nil) = %s, %v", b, err)
	}
}
