package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/basaltdev/basalt/internal/fault"
)

// DefaultTTL is how long an access token lives when NewIssuer is given no
// TTL.
const DefaultTTL = 10 * time.Minute

// TypeAccessToken is the typ header of Basalt's access tokens (RFC 9068).
const TypeAccessToken = "at+jwt"

// Claims is what an access token says about its bearer.
type Claims struct {
	Subject   string // sub: the account the token acts for
	SessionID string // sid: the session the token was issued in
	ID        string // jti: unique per token
	Roles     []string
	Scopes    []string
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
}

// payload is the JSON body of an access token.
type payload struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	ID        string           `json:"jti"`
	SessionID string           `json:"sid"`
	Roles     []string         `json:"roles,omitempty"`
	Scope     string           `json:"scope,omitempty"`
}

// Issuer signs access tokens. It is safe for concurrent use.
type Issuer struct {
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// NewIssuer returns an Issuer that names itself issuer, addresses tokens to
// audience and makes them live for ttl (DefaultTTL if ttl is zero), reading
// the time from now.
func NewIssuer(issuer, audience string, ttl time.Duration, now func() time.Time) (*Issuer, error) {
	const op = "token.NewIssuer"
	switch {
	case issuer == "":
		return nil, fault.New(fault.Invalid, op, "issuer must not be empty")
	case audience == "":
		return nil, fault.New(fault.Invalid, op, "audience must not be empty")
	case ttl < 0:
		return nil, fault.Newf(fault.Invalid, op, "ttl must not be negative, got %s", ttl)
	case now == nil:
		return nil, fault.New(fault.Invalid, op, "a clock is required")
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	return &Issuer{issuer: issuer, audience: audience, ttl: ttl, now: now}, nil
}

// Issue signs an access token for c with key. It sets c's IssuedAt and
// NotBefore to now, its Expiry to now plus the TTL (all whole seconds, as
// JWTs carry them) and its ID to a fresh random 128-bit value, ignoring what
// c held there, and returns the token with the claims it carries.
func (i *Issuer) Issue(key Key, c Claims) (string, Claims, error) {
	const op = "token.Issue"
	if err := validKeyID(key.ID); err != nil {
		return "", Claims{}, fault.Internalf(op, err)
	}
	if len(key.Private) != ed25519.PrivateKeySize {
		return "", Claims{}, fault.Internalf(op, fmt.Errorf("key %q has no usable private key", key.ID))
	}
	now := i.now()
	if key.retired(now) {
		return "", Claims{}, fault.Internalf(op, fmt.Errorf("key %q retired at %s", key.ID, key.NotAfter.Format(time.RFC3339)))
	}
	if c.Subject == "" {
		return "", Claims{}, fault.New(fault.Invalid, op, "subject must not be empty")
	}
	if c.SessionID == "" {
		return "", Claims{}, fault.New(fault.Invalid, op, "session ID must not be empty")
	}
	for _, s := range c.Scopes {
		if !validScope(s) {
			return "", Claims{}, fault.Newf(fault.Invalid, op, "scope %q is not a valid OAuth scope token", s)
		}
	}

	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", Claims{}, fault.Internalf(op, err)
	}
	c.ID = base64.RawURLEncoding.EncodeToString(jti[:])
	c.IssuedAt = time.Unix(now.Unix(), 0)
	c.NotBefore = c.IssuedAt
	c.Expiry = c.IssuedAt.Add(i.ttl.Truncate(time.Second))
	c.Roles = cloneNonEmpty(c.Roles)
	c.Scopes = cloneNonEmpty(c.Scopes)

	body, err := json.Marshal(payload{
		Issuer:    i.issuer,
		Subject:   c.Subject,
		Audience:  jwt.Audience{i.audience},
		Expiry:    jwt.NewNumericDate(c.Expiry),
		IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
		NotBefore: jwt.NewNumericDate(c.NotBefore),
		ID:        c.ID,
		SessionID: c.SessionID,
		Roles:     c.Roles,
		Scope:     strings.Join(c.Scopes, " "),
	})
	if err != nil {
		return "", Claims{}, fault.Internalf(op, err)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.EdDSA, Key: key.Private},
		(&jose.SignerOptions{}).WithType(TypeAccessToken).WithHeader("kid", key.ID),
	)
	if err != nil {
		return "", Claims{}, fault.Internalf(op, err)
	}
	jws, err := signer.Sign(body)
	if err != nil {
		return "", Claims{}, fault.Internalf(op, err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", Claims{}, fault.Internalf(op, err)
	}
	return tok, c, nil
}

// validScope reports whether s is a scope token as RFC 6749 section 3.3
// defines it: one or more printable ASCII characters other than space, '"'
// and '\'.
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// cloneNonEmpty returns a copy of s, or nil if s is empty, so the claims
// Issue returns do not alias the caller's slices.
func cloneNonEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}
