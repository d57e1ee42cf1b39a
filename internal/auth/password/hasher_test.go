package password

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/basaltdev/basalt/internal/fault"
)

func newHasher(t testing.TB, p Params, maxConcurrent int) *Hasher {
	t.Helper()
	h, err := New(p, maxConcurrent)
	if err != nil {
		t.Fatalf("New(%+v, %d) = %v", p, maxConcurrent, err)
	}
	return h
}

func TestOWASP(t *testing.T) {
	want := Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	if got := OWASP(); got != want {
		t.Fatalf("OWASP() = %+v, want %+v", got, want)
	}
	if err := OWASP().Validate(); err != nil {
		t.Fatalf("OWASP().Validate() = %v", err)
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Params)
		ok     bool
	}{
		{"test params", func(*Params) {}, true},
		{"minimum memory", func(p *Params) { p.Memory = MinMemoryKiB }, true},
		{"maximum memory", func(p *Params) { p.Memory = MaxMemoryKiB }, true},
		{"memory too small", func(p *Params) { p.Memory = MinMemoryKiB - 1 }, false},
		{"memory too large", func(p *Params) { p.Memory = MaxMemoryKiB + 1 }, false},
		{"zero iterations", func(p *Params) { p.Iterations = 0 }, false},
		{"maximum iterations", func(p *Params) { p.Iterations = MaxIterations }, true},
		{"too many iterations", func(p *Params) { p.Iterations = MaxIterations + 1 }, false},
		{"zero parallelism", func(p *Params) { p.Parallelism = 0 }, false},
		{"maximum parallelism", func(p *Params) { p.Parallelism = MaxParallelism }, true},
		{"too much parallelism", func(p *Params) { p.Parallelism = MaxParallelism + 1 }, false},
		{"stored-only salt length", func(p *Params) { p.SaltLen = MinStoredSaltLen }, false},
		{"salt too long", func(p *Params) { p.SaltLen = MaxSaltLen + 1 }, false},
		{"key too short", func(p *Params) { p.KeyLen = MinKeyLen - 1 }, false},
		{"key too long", func(p *Params) { p.KeyLen = MaxKeyLen + 1 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testParams()
			tc.modify(&p)
			err := p.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate(%+v) = %v, want ok=%v", p, err, tc.ok)
			}
			if err != nil && !fault.Is(err, fault.Invalid) {
				t.Errorf("kind = %s, want %s", fault.KindOf(err), fault.Invalid)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	bad := testParams()
	bad.Iterations = 0
	if _, err := New(bad, 1); !fault.Is(err, fault.Invalid) {
		t.Errorf("New(bad params) = %v, want %s", err, fault.Invalid)
	}
	if _, err := New(testParams(), 0); !fault.Is(err, fault.Invalid) {
		t.Errorf("New(maxConcurrent=0) = %v, want %s", err, fault.Invalid)
	}
}

func TestRoundTrip(t *testing.T) {
	h := newHasher(t, testParams(), 2)
	ctx := t.Context()
	for _, pw := range []string{"a", "hunter2", "pässwörd 🔑", strings.Repeat("x", MaxPasswordBytes)} {
		enc, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatalf("Hash(%q) = %v", pw, err)
		}
		p, salt, key, err := Parse(enc)
		if err != nil || p != h.Params() || len(salt) != 16 || len(key) != 32 {
			t.Fatalf("Parse(Hash) = %+v, %d-byte salt, %d-byte key, %v", p, len(salt), len(key), err)
		}
		ok, rehash, err := h.Verify(ctx, pw, enc)
		if err != nil || !ok || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want true, false, nil", pw, ok, rehash, err)
		}
		wrong := "!" + pw[1:]
		if ok, rehash, err := h.Verify(ctx, wrong, enc); err != nil || ok || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want false, false, nil", wrong, ok, rehash, err)
		}
	}
}

func TestSaltsDiffer(t *testing.T) {
	h := newHasher(t, testParams(), 1)
	a, err := h.Hash(t.Context(), "same password")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Hash(t.Context(), "same password")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two hashes of one password are equal: %q", a)
	}
}

func TestWrongPassword(t *testing.T) {
	h := newHasher(t, testParams(), 1)
	enc, err := h.Hash(t.Context(), "right password")
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"wrong password", "right passwor", "right password ", "Right password"} {
		ok, rehash, err := h.Verify(t.Context(), pw, enc)
		if err != nil || ok || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want false, false, nil", pw, ok, rehash, err)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	old := newHasher(t, testParams(), 1)
	enc, err := old.Hash(t.Context(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	changes := map[string]func(*Params){
		"memory":      func(p *Params) { p.Memory *= 2 },
		"iterations":  func(p *Params) { p.Iterations++ },
		"parallelism": func(p *Params) { p.Parallelism++ },
		"salt length": func(p *Params) { p.SaltLen = 32 },
		"key length":  func(p *Params) { p.KeyLen = 64 },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			p := testParams()
			change(&p)
			h := newHasher(t, p, 1)
			ok, rehash, err := h.Verify(t.Context(), "pw", enc)
			if err != nil || !ok || !rehash {
				t.Fatalf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			ok, rehash, err = h.Verify(t.Context(), "other", enc)
			if err != nil || ok || rehash {
				t.Fatalf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
			fresh, err := h.Hash(t.Context(), "pw")
			if err != nil {
				t.Fatal(err)
			}
			if ok, rehash, err := h.Verify(t.Context(), "pw", fresh); err != nil || !ok || rehash {
				t.Fatalf("Verify(rehashed) = %v, %v, %v; want true, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestPasswordBounds(t *testing.T) {
	h := newHasher(t, testParams(), 1)
	enc, err := h.Hash(t.Context(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	for name, pw := range map[string]string{"empty": "", "too long": strings.Repeat("x", MaxPasswordBytes+1)} {
		t.Run(name, func(t *testing.T) {
			if _, err := h.Hash(t.Context(), pw); !fault.Is(err, fault.Invalid) {
				t.Errorf("Hash = %v, want %s", err, fault.Invalid)
			}
			if ok, _, err := h.Verify(t.Context(), pw, enc); ok || !fault.Is(err, fault.Invalid) {
				t.Errorf("Verify = %v, %v; want false, %s", ok, err, fault.Invalid)
			}
		})
	}
}

func TestVerifyCorruptStoredHash(t *testing.T) {
	h := newHasher(t, testParams(), 1)
	ok, rehash, err := h.Verify(t.Context(), "pw", "$argon2i$v=19$m=8192,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")
	if ok || rehash || !fault.Is(err, fault.Internal) {
		t.Fatalf("Verify = %v, %v, %v; want false, false, %s", ok, rehash, err, fault.Internal)
	}
}

func TestDummyVerify(t *testing.T) {
	h := newHasher(t, testParams(), 1)
	// The dummy hash has the Hasher's parameters, so checking it costs what
	// a real verify costs.
	p, _, _, err := Parse(h.dummy)
	if err != nil || p != h.Params() {
		t.Fatalf("Parse(dummy) = %+v, %v; want %+v", p, err, h.Params())
	}
	if err := h.DummyVerify(t.Context(), "any password"); err != nil {
		t.Fatalf("DummyVerify = %v", err)
	}
	// The slot is given back.
	release, err := h.acquire(t.Context(), "test")
	if err != nil {
		t.Fatalf("acquire after DummyVerify = %v", err)
	}
	release()
}

func TestConcurrencyCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHasher(t, testParams(), 1)
		// Hold the only slot, as a running hash would.
		release, err := h.acquire(t.Context(), "test")
		if err != nil {
			t.Fatal(err)
		}

		ctx, cancel := context.WithCancel(t.Context())
		hashDone := make(chan error, 1)
		go func() {
			_, err := h.Hash(ctx, "pw")
			hashDone <- err
		}()
		verifyDone := make(chan error, 1)
		go func() {
			_, _, err := h.Verify(ctx, refPassword, refPHC)
			verifyDone <- err
		}()
		dummyDone := make(chan struct{})
		go func() {
			_ = h.DummyVerify(ctx, "pw") // cancelled below; only its return matters
			close(dummyDone)
		}()
		synctest.Wait() // all three are blocked waiting for the slot
		select {
		case err := <-hashDone:
			t.Fatalf("Hash finished while the slot was held: %v", err)
		case err := <-verifyDone:
			t.Fatalf("Verify finished while the slot was held: %v", err)
		case <-dummyDone:
			t.Fatal("DummyVerify finished while the slot was held")
		default:
		}

		cancel()
		for name, ch := range map[string]chan error{"Hash": hashDone, "Verify": verifyDone} {
			err := <-ch
			if !fault.Is(err, fault.Unavailable) || !errors.Is(err, context.Canceled) {
				t.Errorf("%s after cancel = %v, want %s wrapping context.Canceled", name, err, fault.Unavailable)
			}
		}
		<-dummyDone

		// A context that has already ended never starts a hash.
		if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
			t.Errorf("Hash(cancelled ctx) = %v, want context.Canceled", err)
		}

		// A waiter with a live context proceeds once the slot is released.
		go func() {
			_, err := h.Hash(t.Context(), "pw")
			hashDone <- err
		}()
		synctest.Wait()
		select {
		case err := <-hashDone:
			t.Fatalf("Hash finished while the slot was held: %v", err)
		default:
		}
		release()
		if err := <-hashDone; err != nil {
			t.Fatalf("Hash after release = %v", err)
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	h := newHasher(t, testParams(), 2)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			pw := strings.Repeat("p", i+1)
			enc, err := h.Hash(t.Context(), pw)
			if err != nil {
				errs <- err
				return
			}
			if ok, _, err := h.Verify(t.Context(), pw, enc); err != nil || !ok {
				errs <- errors.New("round trip failed for " + pw)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(h.sem); n != 0 {
		t.Errorf("%d slots still held", n)
	}
}

func TestOWASPHash(t *testing.T) {
	h := newHasher(t, OWASP(), 1)
	enc, err := h.Hash(t.Context(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("Hash = %q, want OWASP parameters", enc)
	}
	ok, rehash, err := h.Verify(t.Context(), "correct horse battery staple", enc)
	if err != nil || !ok || rehash {
		t.Errorf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func BenchmarkHash(b *testing.B) {
	h := newHasher(b, OWASP(), 1)
	ctx := b.Context()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
