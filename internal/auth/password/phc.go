package password

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/basaltdev/basalt/internal/fault"
)

// MaxEncodedLen bounds the length of a stored hash Parse will look at. The
// longest string inside the parameter bounds is well under it.
const MaxEncodedLen = 256

// encode returns the PHC string form of an argon2id hash (argon2 version 19,
// that is 0x13, the only one Basalt reads and writes):
//
//	$argon2id$v=19$m=<KiB>,t=<iterations>,p=<parallelism>$<salt>$<key>
//
// with salt and key in unpadded standard base64, as the argon2 reference
// command-line tool and libsodium write it.
func encode(p Params, salt, key []byte) string {
	var b strings.Builder
	b.Grow(64 + base64.RawStdEncoding.EncodedLen(len(salt)) + base64.RawStdEncoding.EncodedLen(len(key)))
	b.WriteString("$argon2id$v=19$m=")
	b.WriteString(strconv.FormatUint(uint64(p.Memory), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(p.Iterations), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(p.Parallelism), 10))
	b.WriteByte('$')
	b.WriteString(base64.RawStdEncoding.EncodeToString(salt))
	b.WriteByte('$')
	b.WriteString(base64.RawStdEncoding.EncodeToString(key))
	return b.String()
}

// Parse reads a PHC-format argon2id hash as encode writes it. It is strict:
// only argon2id version 19, exactly the m, t and p parameters in that order,
// canonical decimal numbers, canonical unpadded base64, and parameters,
// salt and key lengths inside Basalt's bounds. Any string Parse accepts
// encodes back to itself. The returned Params carry the salt and key lengths.
func Parse(encoded string) (p Params, salt, key []byte, err error) {
	const op = "password.Parse"
	bad := func(msg string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fault.New(fault.Invalid, op, "malformed password hash: "+msg)
	}
	if len(encoded) > MaxEncodedLen {
		return bad("too long")
	}
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" {
		return bad("want $argon2id$v=19$m=..,t=..,p=..$salt$key")
	}
	if fields[1] != "argon2id" {
		return bad("not argon2id")
	}
	if fields[2] != "v=19" {
		return bad("unsupported argon2 version")
	}
	kv := strings.Split(fields[3], ",")
	if len(kv) != 3 {
		return bad("want exactly the parameters m, t and p")
	}
	m, ok := param(kv[0], "m=")
	if !ok {
		return bad("bad memory parameter")
	}
	t, ok := param(kv[1], "t=")
	if !ok {
		return bad("bad iterations parameter")
	}
	par, ok := param(kv[2], "p=")
	if !ok || par > 255 {
		return bad("bad parallelism parameter")
	}
	salt, ok = decode(fields[4])
	if !ok {
		return bad("salt is not canonical unpadded base64")
	}
	key, ok = decode(fields[5])
	if !ok {
		return bad("key is not canonical unpadded base64")
	}
	p = Params{
		Memory:      m,
		Iterations:  t,
		Parallelism: uint8(par),
		SaltLen:     uint32(len(salt)),
		KeyLen:      uint32(len(key)),
	}
	if err := p.check(op, MinStoredSaltLen); err != nil {
		return Params{}, nil, nil, err
	}
	return p, salt, key, nil
}

// param reads "<prefix><decimal>" where the decimal has no sign, no leading
// zeros and fits in 32 bits.
func param(s, prefix string) (uint32, bool) {
	digits, ok := strings.CutPrefix(s, prefix)
	if !ok || digits == "" || len(digits) > 10 || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

// decode reads canonical unpadded standard base64. The decoder alone would
// skip embedded CR and LF, so the result must also encode back to s.
func decode(s string) ([]byte, bool) {
	if s == "" {
		return nil, false
	}
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil || base64.RawStdEncoding.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}
