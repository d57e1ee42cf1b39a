package accounts

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/basaltdev/basalt/internal/auth/password"
	"github.com/basaltdev/basalt/internal/fault"
)

// Opaque credentials are a prefix naming their kind and 256 random bits in
// unpadded base64url. Only their SHA-256 is stored.
const (
	refreshPrefix = "bsr_" // refresh tokens
	apiKeyPrefix  = "bsk_" // API keys
	emailPrefix   = "bse_" // emailed one-time tokens
	secretLen     = 32
	// maxCredentialLen bounds every opaque credential a client sends.
	maxCredentialLen = 128
	// apiKeyShown is how many characters of an API key listings show.
	apiKeyShown = len(apiKeyPrefix) + 6
)

func encodeSecret(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// newSecret returns prefix followed by 256 fresh random bits.
func newSecret(prefix string) (string, error) {
	b := make([]byte, secretLen)
	if _, err := rand.Read(b); err != nil {
		return "", fault.Internalf("accounts.secret", err)
	}
	return prefix + encodeSecret(b), nil
}

// hashSecret is what the store keeps of a credential.
func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// wellFormed reports whether s looks like a credential of the given kind:
// the prefix and exactly 256 bits of canonical base64url.
func wellFormed(s, prefix string) bool {
	if len(s) > maxCredentialLen || !strings.HasPrefix(s, prefix) {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s[len(prefix):])
	return err == nil && len(b) == secretLen
}

// successor derives the refresh token that follows t in its chain. Only a
// holder of t and of the derivation key can compute it, so a retried
// refresh gets the same successor although the successor itself is never
// stored.
func successor(key []byte, t string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("basalt refresh successor\x00"))
	m.Write([]byte(t))
	return refreshPrefix + encodeSecret(m.Sum(nil))
}

// normalizeEmail trims and lower-cases an email address an account is to
// have, and checks it: a bare address (no display name) of at most 254
// bytes, without characters that make it display as another address
// (invisible, bidirectional-control and separator characters), and with a
// domain name rather than an IP address.
func normalizeEmail(op, email string) (string, error) {
	e, err := lookupEmail(op, email)
	if err != nil {
		return "", err
	}
	for _, r := range e {
		if lookalike(r) {
			return "", badEmail(op, "must not contain invisible or bidirectional control characters, or spaces")
		}
	}
	if ipDomain(e[strings.LastIndexByte(e, '@')+1:]) {
		return "", badEmail(op, "must have a domain name, not an IP address")
	}
	return e, nil
}

// lookupEmail trims and lower-cases an email address given to find an
// account, and checks that it is a bare address (no display name) of at
// most 254 bytes. It is laxer than normalizeEmail, so that accounts made
// before its checks existed can still sign in.
func lookupEmail(op, email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	switch {
	case e == "":
		return "", badEmail(op, "is required")
	case len(e) > 254 || !utf8.ValidString(e):
		return "", badEmail(op, "must be a valid address of at most 254 bytes")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" || strings.ContainsAny(e, " \t\r\n<>") {
		return "", badEmail(op, "must be a plain address such as ada@example.com")
	}
	return e, nil
}

func badEmail(op, msg string) error {
	return &fault.Error{Kind: fault.Validation, Op: op, Msg: "invalid email address",
		Fields: []fault.FieldError{{Pointer: "/email", Message: msg}}}
}

// lookalike reports whether r may make an address display as another one:
// control and format characters (bidirectional controls, zero-width
// characters, soft hyphens, byte order marks), line and paragraph
// separators, spaces, variation selectors and the invisible fillers and
// joiners that are letters or marks by category.
func lookalike(r rune) bool {
	switch r {
	case '\u034f', '\u115f', '\u1160', '\u17b4', '\u17b5', '\u3164', '\uffa0':
		return true
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Zs, unicode.Variation_Selector)
}

// ipDomain reports whether the domain of an address is an IP address: a
// literal in brackets, or a name whose last label is numeric (no top-level
// domain is), such as 10.0.0.1.
func ipDomain(d string) bool {
	if strings.HasPrefix(d, "[") {
		return true
	}
	d = strings.TrimSuffix(d, ".")
	last := d[strings.LastIndexByte(d, '.')+1:]
	return last != "" && strings.Trim(last, "0123456789") == ""
}

// PasswordRules describes the passwords accepted for new accounts, for
// help texts: "8 to 1024 bytes of valid UTF-8".
func PasswordRules() string {
	return fmt.Sprintf("%d to %d bytes of valid UTF-8", MinPasswordBytes, password.MaxPasswordBytes)
}

// checkNewPassword checks a password chosen for an account against
// PasswordRules. The message names the rule that is broken, so that a
// command line that shows only the message still explains it.
func checkNewPassword(op, pointer, pw string) error {
	msg := ""
	switch {
	case len(pw) < MinPasswordBytes:
		msg = fmt.Sprintf("must be at least %d bytes long", MinPasswordBytes)
	case len(pw) > password.MaxPasswordBytes:
		msg = fmt.Sprintf("must be at most %d bytes long", password.MaxPasswordBytes)
	case !utf8.ValidString(pw):
		msg = "must be valid UTF-8"
	}
	if msg == "" {
		return nil
	}
	return &fault.Error{Kind: fault.Validation, Op: op, Msg: "the password " + msg,
		Fields: []fault.FieldError{{Pointer: pointer, Message: msg}}}
}
