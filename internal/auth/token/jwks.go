package token

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/basaltdev/basalt/internal/fault"
)

// JWKS returns the JSON Web Key Set (RFC 7517) of the public halves of keys,
// for other services to verify Basalt's tokens with. Private keys never
// appear in it. The caller decides which keys to publish; publishing a key a
// little before it signs and a little after it retires lets verifiers that
// cache the set keep up with rotation.
func JWKS(keys []Key) ([]byte, error) {
	const op = "token.JWKS"
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		if err := validKeyID(k.ID); err != nil {
			return nil, fault.Internalf(op, err)
		}
		if len(k.Public) != ed25519.PublicKeySize {
			return nil, fault.Internalf(op, fmt.Errorf("key %q has no usable public key", k.ID))
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key:       k.Public,
			KeyID:     k.ID,
			Algorithm: string(jose.EdDSA),
			Use:       "sig",
		})
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fault.Internalf(op, err)
	}
	return b, nil
}
