package token

import (
	"crypto/ed25519"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// fixedKey is a deterministic key, so every fuzz worker process builds the
// same valid token.
func fixedKey(id string) Key {
	priv := ed25519.NewKeyFromSeed([]byte(strings.Repeat("basalt-fuzz-seed", 2)))
	return Key{ID: id, Private: priv, Public: priv.Public().(ed25519.PublicKey)}
}

func FuzzVerify(f *testing.F) {
	key := fixedKey("k1")
	hdr := map[string]any{"typ": "at+jwt", "kid": "k1"}
	good := goodPayload()
	valid := sign(f, jose.EdDSA, key.Private, hdr, good)
	v := mustVerifier(f, t0, key)
	if _, err := v.Verify(valid); err != nil {
		f.Fatalf("seed token does not verify: %v", err)
	}

	f.Add(valid)
	f.Add(handBuilt(f, map[string]any{"alg": "none", "typ": "at+jwt", "kid": "k1"}, good, ""))
	f.Add(sign(f, jose.HS256, []byte(key.Public), hdr, good))
	f.Add(sign(f, jose.EdDSA, key.Private, with(hdr, "jku", "https://attacker.example/jwks"), good))
	f.Add(sign(f, jose.EdDSA, key.Private, with(hdr, "crit", []string{"b64"}, "b64", true), good))
	f.Add(sign(f, jose.EdDSA, key.Private, with(hdr, "kid", "../k1"), good))
	f.Add(sign(f, jose.EdDSA, key.Private, with(hdr, "typ", "rt+jwt"), good))
	f.Add(sign(f, jose.EdDSA, key.Private, hdr, with(good, "exp", t0.Unix()-3600)))
	f.Add(sign(f, jose.EdDSA, key.Private, hdr, with(good, "aud", []string{"x", "y"})))
	f.Add(valid[:len(valid)-1])
	f.Add(valid + "A")
	f.Add("garbage.more-garbage.still_garbage")
	f.Add("..")
	f.Add("")

	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(tok)
		if err != nil {
			requireRejected(t, err)
			return
		}
		if tok != valid {
			t.Fatalf("Verify accepted %q, which is not the seeded valid token (claims %+v)", tok, c)
		}
	})
}
