// Package token issues and verifies Basalt's short-lived access tokens.
//
// An access token is a JWT (RFC 7519) in JWS compact serialization, signed
// with Ed25519 (alg "EdDSA") and typed "at+jwt" as RFC 9068 asks. It carries
// iss, sub, aud, exp, iat, nbf and jti, plus Basalt's own sid (the session
// the token belongs to), roles and scope (space-separated, as in OAuth 2.0).
//
// The Verifier trusts nothing in a token until its signature checks out with
// one of Basalt's own keys, chosen by an exact match on the kid header: a
// single algorithm is accepted, header parameters that point at other keys
// (jku, x5u, jwk, x5c) or demand extensions (crit) are rejected outright, and
// every segment must be canonical base64url so that no two different strings
// verify as the same token. Every rejection is a fault.Unauthenticated error
// with the same user-safe message; the precise reason is wrapped for logs.
//
// JWKS publishes the public halves of the keys so other services can verify
// Basalt's tokens themselves.
package token
