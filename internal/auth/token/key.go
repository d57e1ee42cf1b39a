package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"time"

	"github.com/basaltdev/basalt/internal/fault"
)

// MaxKeyIDLen is the longest key ID Basalt accepts, in bytes.
const MaxKeyIDLen = 64

// Key is one Ed25519 signing key, named by ID (the kid header of the tokens
// it signs). Private is nil for a key that only verifies. After NotAfter the
// key is retired: it neither signs nor verifies. A zero NotAfter means the
// key does not retire.
type Key struct {
	ID       string
	Private  ed25519.PrivateKey
	Public   ed25519.PublicKey
	NotAfter time.Time
}

// NewKey returns a fresh random Ed25519 key named id. The id is 1 to 64
// characters from [A-Za-z0-9_-].
func NewKey(id string) (Key, error) {
	const op = "token.NewKey"
	if err := validKeyID(id); err != nil {
		return Key{}, fault.Wrap(fault.Invalid, op, err, "key ID must be 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-'")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fault.Internalf(op, err)
	}
	return Key{ID: id, Private: priv, Public: pub}, nil
}

// retired reports whether k is past its NotAfter at now.
func (k Key) retired(now time.Time) bool {
	return !k.NotAfter.IsZero() && now.After(k.NotAfter)
}

// validKeyID reports why id is not a valid key ID, or nil if it is.
func validKeyID(id string) error {
	if id == "" {
		return errString("empty key ID")
	}
	if len(id) > MaxKeyIDLen {
		return errString("key ID too long")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
		if !ok {
			return errString("key ID has a character outside [A-Za-z0-9_-]")
		}
	}
	return nil
}

// errString is a constant error, used for the precise reasons wrapped
// inside fault errors.
type errString string

func (e errString) Error() string { return string(e) }
