package password

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/basaltdev/basalt/internal/fault"
)

// refPHC is the argon2id test vector of the argon2 reference implementation
// (phc-winner-argon2 src/test.c and its README): password "password", salt
// "somesalt", t=2, m=65536 KiB, p=1, 32-byte key.
const (
	refPHC      = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	refPassword = "password"
	refKeyHex   = "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"
)

// katPHC was computed once with argon2.IDKey for password katPassword, salt
// "basalt-kat-salt!" and testParams, and pinned here so a change in encoding
// or in the argon2 dependency is caught.
const (
	katPHC      = "$argon2id$v=19$m=8192,t=1,p=1$YmFzYWx0LWthdC1zYWx0IQ$n00ComNE1PN1Wlxb8lnOE35MYobCKxM6L50NERyw+fQ"
	katPassword = "correct horse battery staple"
	katSalt     = "basalt-kat-salt!"
)

// testParams are small so tests stay fast.
func testParams() Params {
	return Params{Memory: 8192, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

func TestReferenceVector(t *testing.T) {
	want, err := hex.DecodeString(refKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	if got := argon2.IDKey([]byte(refPassword), []byte("somesalt"), 2, 65536, 1, 32); !bytes.Equal(got, want) {
		t.Fatalf("IDKey = %x, want %x", got, want)
	}
	p, salt, key, err := Parse(refPHC)
	if err != nil {
		t.Fatalf("Parse(reference) = %v", err)
	}
	if wantP := (Params{Memory: 65536, Iterations: 2, Parallelism: 1, SaltLen: 8, KeyLen: 32}); p != wantP {
		t.Errorf("params = %+v, want %+v", p, wantP)
	}
	if string(salt) != "somesalt" || !bytes.Equal(key, want) {
		t.Errorf("salt, key = %q, %x", salt, key)
	}
	if got := encode(p, salt, key); got != refPHC {
		t.Errorf("encode = %q, want %q", got, refPHC)
	}

	h := newHasher(t, testParams(), 1)
	ok, rehash, err := h.Verify(t.Context(), refPassword, refPHC)
	if err != nil || !ok || !rehash {
		t.Errorf("Verify(right password) = %v, %v, %v; want true, true (other params), nil", ok, rehash, err)
	}
	ok, rehash, err = h.Verify(t.Context(), "passwore", refPHC)
	if err != nil || ok || rehash {
		t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
}

func TestPinnedVector(t *testing.T) {
	key := argon2.IDKey([]byte(katPassword), []byte(katSalt), 1, 8192, 1, 32)
	if got := encode(testParams(), []byte(katSalt), key); got != katPHC {
		t.Fatalf("encode(IDKey) = %q, want %q", got, katPHC)
	}
	h := newHasher(t, testParams(), 1)
	ok, rehash, err := h.Verify(t.Context(), katPassword, katPHC)
	if err != nil || !ok || rehash {
		t.Errorf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

// malformed holds stored hashes Parse must reject.
var malformed = []struct {
	name, in string
}{
	{"empty", ""},
	{"no leading dollar", strings.TrimPrefix(katPHC, "$")},
	{"argon2i", strings.Replace(katPHC, "argon2id", "argon2i", 1)},
	{"argon2d", strings.Replace(katPHC, "argon2id", "argon2d", 1)},
	{"upper case algorithm", strings.Replace(katPHC, "argon2id", "ARGON2ID", 1)},
	{"bcrypt", "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
	{"version 16", strings.Replace(katPHC, "v=19", "v=16", 1)},
	{"version padded", strings.Replace(katPHC, "v=19", "v=019", 1)},
	{"no version", strings.Replace(katPHC, "$v=19", "", 1)},
	{"params out of order", strings.Replace(katPHC, "m=8192,t=1", "t=1,m=8192", 1)},
	{"extra param", strings.Replace(katPHC, "p=1", "p=1,keyid=a2V5", 1)},
	{"missing param", strings.Replace(katPHC, ",p=1", "", 1)},
	{"empty param", strings.Replace(katPHC, "m=8192", "m=", 1)},
	{"leading zero", strings.Replace(katPHC, "m=8192", "m=08192", 1)},
	{"plus sign", strings.Replace(katPHC, "m=8192", "m=+8192", 1)},
	{"negative", strings.Replace(katPHC, "t=1", "t=-1", 1)},
	{"space", strings.Replace(katPHC, "m=8192", "m= 8192", 1)},
	{"hex", strings.Replace(katPHC, "m=8192", "m=0x2000", 1)},
	{"memory too small", strings.Replace(katPHC, "m=8192", "m=4096", 1)},
	{"memory too large", strings.Replace(katPHC, "m=8192", "m=1048577", 1)},
	{"memory overflows", strings.Replace(katPHC, "m=8192", "m=99999999999", 1)},
	{"zero iterations", strings.Replace(katPHC, "t=1", "t=0", 1)},
	{"too many iterations", strings.Replace(katPHC, "t=1", "t=11", 1)},
	{"zero parallelism", strings.Replace(katPHC, "p=1", "p=0", 1)},
	{"too much parallelism", strings.Replace(katPHC, "p=1", "p=17", 1)},
	{"parallelism overflows uint8", strings.Replace(katPHC, "p=1", "p=257", 1)},
	{"salt too short", strings.Replace(katPHC, "YmFzYWx0LWthdC1zYWx0IQ", "c2FsdA", 1)},
	{"salt too long", strings.Replace(katPHC, "YmFzYWx0LWthdC1zYWx0IQ", base64.RawStdEncoding.EncodeToString(make([]byte, 65)), 1)},
	{"empty salt", strings.Replace(katPHC, "YmFzYWx0LWthdC1zYWx0IQ", "", 1)},
	{"key too short", katPHC[:strings.LastIndexByte(katPHC, '$')+1] + "a2V5a2V5a2V5"},
	{"key too long", katPHC[:strings.LastIndexByte(katPHC, '$')+1] + base64.RawStdEncoding.EncodeToString(make([]byte, 65))},
	{"empty key", katPHC[:strings.LastIndexByte(katPHC, '$')+1]},
	{"padded salt", strings.Replace(katPHC, "YmFzYWx0LWthdC1zYWx0IQ", "YmFzYWx0LWthdC1zYWx0IQ==", 1)},
	{"non-zero trailing bits", strings.Replace(katPHC, "YmFzYWx0LWthdC1zYWx0IQ", "YmFzYWx0LWthdC1zYWx0IR", 1)},
	{"url-safe alphabet", strings.Replace(katPHC, "+", "-", 1)},
	{"embedded newline", strings.Replace(katPHC, "n00Com", "n00C\nom", 1)},
	{"embedded carriage return", strings.Replace(katPHC, "YmFz", "Ym\rFz", 1)},
	{"extra field", katPHC + "$AAAA"},
	{"trailing dollar", katPHC + "$"},
	{"trailing newline", katPHC + "\n"},
	{"too long", "$argon2id$v=19$m=8192,t=1,p=1$" + strings.Repeat("A", 300) + "$" + strings.Repeat("A", 43)},
}

func TestParseMalformed(t *testing.T) {
	for _, tc := range malformed {
		t.Run(tc.name, func(t *testing.T) {
			p, salt, key, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, %x, %x; want an error", tc.in, p, salt, key)
			}
			if !fault.Is(err, fault.Invalid) {
				t.Errorf("Parse(%q) error kind = %s, want %s", tc.in, fault.KindOf(err), fault.Invalid)
			}
		})
	}
}

func TestParseAcceptsBounds(t *testing.T) {
	for _, p := range []Params{
		{Memory: MinMemoryKiB, Iterations: MinIterations, Parallelism: MinParallelism, SaltLen: MinStoredSaltLen, KeyLen: MinKeyLen},
		{Memory: MaxMemoryKiB, Iterations: MaxIterations, Parallelism: MaxParallelism, SaltLen: MaxSaltLen, KeyLen: MaxKeyLen},
	} {
		in := encode(p, bytes.Repeat([]byte{0xfe}, int(p.SaltLen)), bytes.Repeat([]byte{0x01}, int(p.KeyLen)))
		if len(in) > MaxEncodedLen {
			t.Errorf("encoded length %d exceeds MaxEncodedLen", len(in))
		}
		got, _, _, err := Parse(in)
		if err != nil || got != p {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, p)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(katPHC)
	f.Add(refPHC)
	for _, tc := range malformed {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, salt, key, err := Parse(in)
		if err != nil {
			if salt != nil || key != nil || p != (Params{}) {
				t.Fatalf("Parse(%q) failed but returned values", in)
			}
			return
		}
		if got := encode(p, salt, key); got != in {
			t.Fatalf("Parse(%q) re-encodes to %q", in, got)
		}
		if int(p.SaltLen) != len(salt) || int(p.KeyLen) != len(key) {
			t.Fatalf("Parse(%q) lengths %+v disagree with salt %d, key %d bytes", in, p, len(salt), len(key))
		}
		if err := p.check("fuzz", MinStoredSaltLen); err != nil {
			t.Fatalf("Parse(%q) accepted out-of-bounds params: %v", in, err)
		}
	})
}
