package token

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/basaltdev/basalt/internal/fault"
)

// MaxTokenBytes is the longest token Verify looks at. Basalt's tokens are
// far shorter; anything longer is rejected before it is parsed.
const MaxTokenBytes = 4 << 10

// DefaultLeeway is the clock skew Verify tolerates on exp, nbf and iat when
// NewVerifier is given no leeway.
const DefaultLeeway = 30 * time.Second

// rejectedMsg is the one user-safe message of every token rejection, so a
// client learns nothing about why its token failed.
const rejectedMsg = "invalid or expired access token"

// forbiddenHeaders are header parameters that name keys Basalt would have to
// fetch or trust from the token itself (jku, x5u, jwk, x5c), or that demand
// extensions Basalt does not implement (crit). A token carrying any of them
// is rejected, whatever its signature.
var forbiddenHeaders = [...]string{"jku", "x5u", "jwk", "x5c", "crit"}

// acceptedAlgs is the only signature algorithm Verify accepts.
var acceptedAlgs = []jose.SignatureAlgorithm{jose.EdDSA}

// Verifier checks access tokens. It is safe for concurrent use if keys is.
type Verifier struct {
	issuer   string
	audience string
	keys     func() []Key
	now      func() time.Time
	leeway   time.Duration
}

// NewVerifier returns a Verifier that accepts tokens from issuer addressed
// to audience, signed by one of the keys keys returns (called once per
// Verify, so keys can rotate), judging time by now with leeway of tolerated
// clock skew (DefaultLeeway if leeway is zero).
func NewVerifier(issuer, audience string, keys func() []Key, now func() time.Time, leeway time.Duration) (*Verifier, error) {
	const op = "token.NewVerifier"
	switch {
	case issuer == "":
		return nil, fault.New(fault.Invalid, op, "issuer must not be empty")
	case audience == "":
		return nil, fault.New(fault.Invalid, op, "audience must not be empty")
	case keys == nil:
		return nil, fault.New(fault.Invalid, op, "a key source is required")
	case now == nil:
		return nil, fault.New(fault.Invalid, op, "a clock is required")
	case leeway < 0:
		return nil, fault.Newf(fault.Invalid, op, "leeway must not be negative, got %s", leeway)
	}
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	return &Verifier{issuer: issuer, audience: audience, keys: keys, now: now, leeway: leeway}, nil
}

// Verify checks token and returns its claims. Every failure is a
// fault.Unauthenticated error with the same message; the wrapped error says
// what was wrong.
func (v *Verifier) Verify(token string) (Claims, error) {
	c, err := v.verify(token)
	if err != nil {
		return Claims{}, &fault.Error{Kind: fault.Unauthenticated, Op: "token.Verify", Msg: rejectedMsg, Err: err}
	}
	return c, nil
}

func (v *Verifier) verify(token string) (Claims, error) {
	if len(token) > MaxTokenBytes {
		return Claims{}, fmt.Errorf("token is %d bytes, longer than %d", len(token), MaxTokenBytes)
	}
	rawHeader, err := checkCompact(token)
	if err != nil {
		return Claims{}, err
	}
	if err := checkHeader(rawHeader); err != nil {
		return Claims{}, err
	}

	parsed, err := jwt.ParseSigned(token, acceptedAlgs)
	if err != nil {
		return Claims{}, fmt.Errorf("parse: %w", err)
	}
	if len(parsed.Headers) != 1 {
		return Claims{}, fmt.Errorf("token has %d signatures, want 1", len(parsed.Headers))
	}
	h := parsed.Headers[0]
	if h.Algorithm != string(jose.EdDSA) {
		return Claims{}, fmt.Errorf("alg %q not accepted", h.Algorithm)
	}
	if h.JSONWebKey != nil {
		return Claims{}, errors.New("header carries a jwk")
	}

	now := v.now()
	key, err := v.lookup(h.KeyID, now)
	if err != nil {
		return Claims{}, err
	}
	var p payload
	if err := parsed.Claims(key.Public, &p); err != nil {
		return Claims{}, fmt.Errorf("signature or claims with key %q: %w", key.ID, err)
	}
	return v.checkClaims(p, now)
}

// checkCompact checks that token is three non-empty segments of canonical
// base64url (no padding, no line breaks, zero trailing bits) and returns the
// decoded header. Canonical encoding matters because the signature covers
// the decoded bytes: without it, several strings would verify as one token.
func checkCompact(token string) ([]byte, error) {
	for i := 0; i < len(token); i++ {
		c := token[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
		if !ok {
			return nil, fmt.Errorf("byte %#x at %d is not base64url", c, i)
		}
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("token has %d segments, want 3", len(parts))
	}
	var header []byte
	for i, part := range parts {
		if part == "" {
			return nil, fmt.Errorf("segment %d is empty", i)
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(part)
		if err != nil {
			return nil, fmt.Errorf("segment %d: %w", i, err)
		}
		if i == 0 {
			header = b
		}
	}
	return header, nil
}

// checkHeader checks the protected header before go-jose interprets it:
// no forbidden parameter, the access-token typ and a kid of sane length.
func checkHeader(raw []byte) error {
	var h map[string]json.RawMessage
	if err := json.Unmarshal(raw, &h); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	for _, name := range forbiddenHeaders {
		if _, ok := h[name]; ok {
			return fmt.Errorf("header parameter %q is not accepted", name)
		}
	}
	var typ string
	if err := json.Unmarshal(h["typ"], &typ); err != nil {
		return fmt.Errorf("typ header missing or not a string: %w", err)
	}
	if !strings.EqualFold(typ, TypeAccessToken) && !strings.EqualFold(typ, "application/"+TypeAccessToken) {
		return fmt.Errorf("typ %q is not %q", typ, TypeAccessToken)
	}
	var kid string
	if err := json.Unmarshal(h["kid"], &kid); err != nil {
		return fmt.Errorf("kid header missing or not a string: %w", err)
	}
	if kid == "" || len(kid) > MaxKeyIDLen {
		return fmt.Errorf("kid of length %d", len(kid))
	}
	return nil
}

// lookup returns the key named exactly kid, if it is known, usable and not
// retired at now. The kid is compared, never interpreted.
func (v *Verifier) lookup(kid string, now time.Time) (Key, error) {
	if kid == "" || len(kid) > MaxKeyIDLen {
		return Key{}, fmt.Errorf("kid of length %d", len(kid))
	}
	for _, k := range v.keys() {
		if k.ID != kid {
			continue
		}
		if len(k.Public) != ed25519.PublicKeySize {
			return Key{}, fmt.Errorf("key %q has no usable public key", k.ID)
		}
		if k.retired(now) {
			return Key{}, fmt.Errorf("key %q retired at %s", k.ID, k.NotAfter.Format(time.RFC3339))
		}
		return k, nil
	}
	return Key{}, fmt.Errorf("unknown kid %q", kid)
}

// checkClaims checks the verified payload p against v's expectations at now
// and converts it to Claims.
func (v *Verifier) checkClaims(p payload, now time.Time) (Claims, error) {
	if p.Issuer != v.issuer {
		return Claims{}, fmt.Errorf("iss %q, want %q", p.Issuer, v.issuer)
	}
	if !p.Audience.Contains(v.audience) {
		return Claims{}, fmt.Errorf("aud %q does not contain %q", []string(p.Audience), v.audience)
	}
	if p.Subject == "" {
		return Claims{}, errors.New("sub is empty")
	}
	if p.SessionID == "" {
		return Claims{}, errors.New("sid is empty")
	}
	if p.ID == "" {
		return Claims{}, errors.New("jti is empty")
	}
	if p.Expiry == nil || p.IssuedAt == nil || p.NotBefore == nil {
		return Claims{}, errors.New("exp, iat or nbf missing")
	}
	exp, iat, nbf := p.Expiry.Time(), p.IssuedAt.Time(), p.NotBefore.Time()
	if !now.Add(-v.leeway).Before(exp) {
		return Claims{}, fmt.Errorf("expired at %s", exp.Format(time.RFC3339))
	}
	if now.Add(v.leeway).Before(nbf) {
		return Claims{}, fmt.Errorf("not valid before %s", nbf.Format(time.RFC3339))
	}
	if now.Add(v.leeway).Before(iat) {
		return Claims{}, fmt.Errorf("issued in the future at %s", iat.Format(time.RFC3339))
	}
	return Claims{
		Subject:   p.Subject,
		SessionID: p.SessionID,
		ID:        p.ID,
		Roles:     cloneNonEmpty(p.Roles),
		Scopes:    cloneNonEmpty(strings.Fields(p.Scope)),
		IssuedAt:  iat,
		NotBefore: nbf,
		Expiry:    exp,
	}, nil
}
