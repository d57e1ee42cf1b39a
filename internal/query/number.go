package query

// This file defines how numbers compare, the same way in every engine and
// in Match.
//
// A number in a document compares as one float64: the value SQLite reads
// from its JSON text (json_extract), which is what the SQLite engine can
// compare and index. SQLite takes another significant digit while the
// digits taken, as an integer, are below 1844674407370955160 (so 19
// digits, or 20 when the first 19 are below that bound), drops the rest
// (truncating toward zero), and rounds what it took to the nearest
// float64, ties to even. It reads a written exponent of 100000 or more as
// 10000, which changes nothing but for numbers that are ±Inf or 0 anyway,
// or have thousands of digits. So 3.0000000000000000001,
// 2.9999999999999999999, 3e0 and 3 are all 3; -0 is 0; 1e-400 is 0;
// 9007199254740993 is 2^53; 1e400 is +Inf. A number literal of a filter is
// a float64 already.
//
// Engines that keep numbers exactly (PostgreSQL's numeric) compare them
// with the bounds RangeOf gives instead of with the literal itself.

import (
	"math"
	"math/big"
	"strconv"
)

// sqliteDigitBound is the bound of SQLite's digit accumulator: it takes
// another digit only while the digits so far, as an integer, are below it
// ((2^64-1-9)/10).
const sqliteDigitBound = (math.MaxUint64 - 9) / 10

// maxReadExponent is where SQLite stops accumulating the digits of a
// written exponent: past it, one more digit makes it maxReadExponent.
const maxReadExponent = 10000

// ReadNumber returns the float64 the JSON number text compares as (see the
// top of this file); ok is false when text is not a JSON number (an
// exponent may have a "+" sign; leading zeros are accepted).
func ReadNumber(text []byte) (f float64, ok bool) {
	i, n := 0, len(text)
	neg := i < n && text[i] == '-'
	if neg {
		i++
	}
	var acc uint64
	exp := 0 // the value is acc × 10^exp
	start := i
	for ; i < n && text[i] >= '0' && text[i] <= '9'; i++ {
		if i == start || acc < sqliteDigitBound {
			acc = acc*10 + uint64(text[i]-'0')
		} else {
			exp++
		}
	}
	if i == start {
		return 0, false
	}
	if i < n && text[i] == '.' {
		i++
		start = i
		for ; i < n && text[i] >= '0' && text[i] <= '9'; i++ {
			if acc < sqliteDigitBound {
				acc = acc*10 + uint64(text[i]-'0')
				exp--
			}
		}
		if i == start {
			return 0, false
		}
	}
	if i < n && (text[i] == 'e' || text[i] == 'E') {
		i++
		sign := 1
		if i < n && (text[i] == '+' || text[i] == '-') {
			if text[i] == '-' {
				sign = -1
			}
			i++
		}
		start = i
		e := 0
		for ; i < n && text[i] >= '0' && text[i] <= '9'; i++ {
			if e < maxReadExponent {
				e = e*10 + int(text[i]-'0')
			} else {
				e = maxReadExponent
			}
		}
		if i == start {
			return 0, false
		}
		exp += sign * e
	}
	if i != n {
		return 0, false
	}
	f = decimalToFloat(acc, exp)
	if neg {
		f = -f
	}
	return f, true
}

// exactPow10 are the powers of ten a float64 holds exactly.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// decimalToFloat returns the float64 nearest to acc × 10^exp, ties to
// even.
func decimalToFloat(acc uint64, exp int) float64 {
	switch {
	case acc == 0:
		return 0
	case acc < 1<<53 && exp >= 0 && exp < len(exactPow10):
		// One correctly rounded operation on exact operands.
		return float64(acc) * exactPow10[exp]
	case acc < 1<<53 && exp < 0 && -exp < len(exactPow10):
		return float64(acc) / exactPow10[-exp]
	case exp > 400:
		return math.Inf(1)
	case exp < -400:
		return 0
	}
	var buf [48]byte
	b := strconv.AppendUint(buf[:0], acc, 10)
	b = append(b, 'e')
	b = strconv.AppendInt(b, int64(exp), 10)
	f, _ := strconv.ParseFloat(string(b), 64) // ±Inf or 0 when out of range
	return f
}

// Bound is one end of a NumberRange: a decimal number, as text that
// PostgreSQL's numeric and Go's math/big read exactly.
type Bound struct {
	Decimal   string
	Inclusive bool
}

// NumberRange is the set of numbers that compare equal to one float64
// literal: those between Lo and Hi. Comparing a number x exactly with
// these bounds decides the comparison of ReadNumber(x) with the literal:
// ReadNumber(x) < f exactly when x is below Lo, ReadNumber(x) > f exactly
// when x is above Hi.
type NumberRange struct {
	Lo, Hi Bound
}

// RangeOf returns the NumberRange of the finite float64 f. -0 and 0 have
// the same range.
func RangeOf(f float64) NumberRange {
	if f == 0 {
		// (-h, h) where h is the least number that reads as more than 0.
		h := upperBound(0)
		return NumberRange{Lo: Bound{Decimal: "-" + h.Decimal}, Hi: h}
	}
	if f < 0 {
		// Reading is symmetric: -x reads as -ReadNumber(x).
		r := RangeOf(-f)
		return NumberRange{
			Lo: Bound{Decimal: "-" + r.Hi.Decimal, Inclusive: r.Hi.Inclusive},
			Hi: Bound{Decimal: "-" + r.Lo.Decimal, Inclusive: r.Lo.Inclusive},
		}
	}
	return NumberRange{Lo: lowerBound(f), Hi: upperBound(f)}
}

// lowerBound returns, for f > 0, the least number that reads as f or more
// (inclusive): ReadNumber is monotone and maps each number kept whole (a
// "grid" number: no more digits than it keeps) to the nearest float64, so
// that is the least grid number at or above the midpoint between f and
// the float64 below it (above it when that midpoint rounds down).
func lowerBound(f float64) Bound {
	below := math.Nextafter(f, 0)
	mid := midpoint(below, f)
	return Bound{Decimal: gridCeil(mid, !evenBits(f)), Inclusive: true}
}

// upperBound returns, for f >= 0, the least number that reads as more
// than f (exclusive).
func upperBound(f float64) Bound {
	var above *big.Rat
	if f == math.MaxFloat64 {
		above = new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), 1024)) // rounds as +Inf
	} else {
		above = new(big.Rat).SetFloat64(math.Nextafter(f, math.Inf(1)))
	}
	mid := new(big.Rat).Add(new(big.Rat).SetFloat64(f), above)
	mid.Quo(mid, big.NewRat(2, 1))
	return Bound{Decimal: gridCeil(mid, evenBits(f))}
}

// evenBits reports whether f is the even one of two adjacent float64s,
// the one a tie rounds to.
func evenBits(f float64) bool { return math.Float64bits(f)&1 == 0 }

func midpoint(a, b float64) *big.Rat {
	m := new(big.Rat).Add(new(big.Rat).SetFloat64(a), new(big.Rat).SetFloat64(b))
	return m.Quo(m, big.NewRat(2, 1))
}

// gridCeil returns, as decimal text, the least number that ReadNumber
// keeps whole and that is at least r (more than r when strict), for r > 0
// whose denominator is a power of two (as every midpoint of float64s).
func gridCeil(r *big.Rat, strict bool) string {
	// r = digits × 10^exp, exactly: num/2^k = num×5^k / 10^k.
	k := r.Denom().BitLen() - 1
	n := new(big.Int).Mul(r.Num(), new(big.Int).Exp(big.NewInt(5), big.NewInt(int64(k)), nil))
	digits, exp := n.String(), -k
	for len(digits) > 1 && digits[len(digits)-1] == '0' {
		digits, exp = digits[:len(digits)-1], exp+1
	}
	first19 := digits
	for len(first19) < 19 {
		first19 += "0"
	}
	keep := 19
	if p, err := strconv.ParseUint(first19[:19], 10, 64); err == nil && p < sqliteDigitBound {
		keep = 20
	}
	if len(digits) <= keep && !strict {
		return digits + "e" + strconv.Itoa(exp)
	}
	// The next grid number up: the kept digits plus one unit in the last
	// kept place (a carry may add a digit, which is still whole).
	for len(digits) < keep {
		digits, exp = digits+"0", exp-1
	}
	exp += len(digits) - keep
	digits = digits[:keep]
	up, _ := new(big.Int).SetString(digits, 10)
	up.Add(up, big.NewInt(1))
	return up.String() + "e" + strconv.Itoa(exp)
}
