package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every webhook secret (the Standard Webhooks format).
const SecretPrefix = "whsec_"

// secretBytes is the size of the random key of a new secret (the format
// allows 24 to 64 bytes).
const secretBytes = 32

// NewSecret returns a new secret: "whsec_" and the base64 of 32 random
// bytes.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// secretKey returns the HMAC key of a secret: the base64-decoded part
// after "whsec_".
func secretKey(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New(`a webhook secret starts with "whsec_"`)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, errors.New("a webhook secret is whsec_ and base64")
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, errors.New("a webhook secret's key has 24 to 64 bytes")
	}
	return key, nil
}

// Sign returns the webhook-signature header value of a message: "v1," and
// the base64 of HMAC-SHA256(key, id + "." + timestamp + "." + body), where
// key is the secret's decoded key and timestamp the Unix time in seconds.
func Sign(secret, id string, at time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(at.Unix(), 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}
