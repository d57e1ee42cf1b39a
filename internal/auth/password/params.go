package password

import "github.com/basaltdev/basalt/internal/fault"

// Bounds on argon2id parameters. New hashes must use parameters inside them,
// and Parse refuses stored hashes outside them, so a corrupted or hostile
// stored hash cannot make Basalt spend unbounded memory or time.
const (
	MinMemoryKiB   = 8 * 1024    // 8 MiB
	MaxMemoryKiB   = 1024 * 1024 // 1 GiB
	MinIterations  = 1
	MaxIterations  = 10
	MinParallelism = 1
	MaxParallelism = 16
	// MinSaltLen is the shortest salt Basalt generates for new hashes.
	MinSaltLen = 16
	// MinStoredSaltLen is the shortest salt Parse accepts: the argon2
	// minimum, so hashes imported from other argon2 tools still verify (and
	// are then rehashed with a longer salt).
	MinStoredSaltLen = 8
	MaxSaltLen       = 64
	MinKeyLen        = 16
	MaxKeyLen        = 64
)

// Params are the argon2id cost parameters and output sizes of a hash.
type Params struct {
	Memory      uint32 // memory cost in KiB
	Iterations  uint32 // time cost (passes over memory)
	Parallelism uint8  // lanes
	SaltLen     uint32 // salt length in bytes
	KeyLen      uint32 // derived key length in bytes
}

// OWASP returns the first argon2id configuration recommended by the OWASP
// Password Storage Cheat Sheet (m=19456 KiB, t=2, p=1), with a 16-byte salt
// and a 32-byte key. It is Basalt's default.
func OWASP() Params {
	return Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

// Validate reports whether p is a configuration Basalt accepts for new
// hashes.
func (p Params) Validate() error {
	return p.check("password.Params.Validate", MinSaltLen)
}

// check validates p with the given minimum salt length.
func (p Params) check(op string, minSalt uint32) error {
	switch {
	case p.Memory < MinMemoryKiB || p.Memory > MaxMemoryKiB:
		return fault.Newf(fault.Invalid, op, "argon2id memory must be between %d and %d KiB, got %d", MinMemoryKiB, MaxMemoryKiB, p.Memory)
	case p.Iterations < MinIterations || p.Iterations > MaxIterations:
		return fault.Newf(fault.Invalid, op, "argon2id iterations must be between %d and %d, got %d", MinIterations, MaxIterations, p.Iterations)
	case p.Parallelism < MinParallelism || p.Parallelism > MaxParallelism:
		return fault.Newf(fault.Invalid, op, "argon2id parallelism must be between %d and %d, got %d", MinParallelism, MaxParallelism, p.Parallelism)
	case p.SaltLen < minSalt || p.SaltLen > MaxSaltLen:
		return fault.Newf(fault.Invalid, op, "argon2id salt length must be between %d and %d bytes, got %d", minSalt, MaxSaltLen, p.SaltLen)
	case p.KeyLen < MinKeyLen || p.KeyLen > MaxKeyLen:
		return fault.Newf(fault.Invalid, op, "argon2id key length must be between %d and %d bytes, got %d", MinKeyLen, MaxKeyLen, p.KeyLen)
	}
	return nil
}
