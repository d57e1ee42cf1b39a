package query

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestReadNumber(t *testing.T) {
	for _, c := range []struct {
		text string
		want float64
	}{
		{"0", 0}, {"-0", 0}, {"-0.0e7", 0}, {"3", 3}, {"3e0", 3}, {"0.3E+1", 3}, {"30e-1", 3},
		{"3.0000000000000000001", 3}, {"2.9999999999999999999", 3}, {"-3.0000000000000000001", -3},
		{"3.0000000000000004", 3.0000000000000004}, {"0.1", 0.1},
		{"0.1000000000000000055511151231257827021181583404541015625", 0.1},
		{"9007199254740993", 1 << 53}, {"9007199254740995", 1<<53 + 4},
		// 19 digits kept (the first 19 are above 1844674407370955160): the
		// rest is dropped and the tie rounds to even.
		{"9007199254740993.0000000001", 1 << 53},
		// 20 digits kept: 1.0000000000000001110 is below the midpoint
		// between 1 and the next float64.
		{"1.00000000000000011102230246251565404236316680908203126", 1},
		{"1.0000000000000001111", 1.0000000000000002},
		{"9223372036854775807", 1 << 63}, {"123456789012345678901234", 1.2345678901234568e23},
		{"1" + strings.Repeat("0", 300), 1e300}, {"1.7976931348623157e308", math.MaxFloat64},
		{"1.7976931348623158e308", math.MaxFloat64}, {"1.7976931348623159e308", math.Inf(1)},
		{"1e400", math.Inf(1)}, {"-1e400", math.Inf(-1)}, {"1e99999999999999999999", math.Inf(1)},
		{"5e-324", 5e-324}, {"3e-324", 5e-324}, {"2.4703282292062328e-324", 5e-324},
		{"2.4703282292062327e-324", 0}, {"1e-400", 0}, {"1e-99999999999999999999", 0},
		{"0." + strings.Repeat("0", 500) + "1e501", 1},
		// An exponent of 100000 or more reads as 10000, as SQLite reads it.
		{"0." + strings.Repeat("0", 10010) + "1e100000", 1e-11},
		{"0." + strings.Repeat("0", 10010) + "1e99999", math.Inf(1)},
	} {
		got, ok := ReadNumber([]byte(c.text))
		if !ok || got != c.want || math.Signbit(got) && c.want == 0 && !strings.HasPrefix(c.text, "-") {
			t.Errorf("ReadNumber(%.40s) = %v, %v; want %v", c.text, got, ok, c.want)
		}
	}
	for _, bad := range []string{"", "-", ".5", "5.", "1e", "1e+", "--1", "1x", "0x10", "1.2.3", "+1", " 1"} {
		if f, ok := ReadNumber([]byte(bad)); ok {
			t.Errorf("ReadNumber(%q) = %v, true; want false", bad, f)
		}
	}
}

// TestRangeOf checks, for many float64s and numbers just around the
// bounds of their ranges, that comparing a number exactly with the bounds
// says what comparing ReadNumber of it with the float64 says.
func TestRangeOf(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	floats := []float64{0, 5e-324, 1e-323, 2.2250738585072014e-308, 2.225073858507201e-308, 0.1, 1, 3, 10, 1e15,
		1 << 53, 1<<53 + 2, 1<<53 - 1, 1 << 63, 1 << 64, 1e23, 1e300, 1e308, math.MaxFloat64}
	for range 300 {
		f := math.Float64frombits(rng.Uint64() &^ (1 << 63))
		if math.IsInf(f, 0) || math.IsNaN(f) {
			continue
		}
		floats = append(floats, f)
	}
	for _, f := range floats {
		for _, f := range []float64{f, -f} {
			r := RangeOf(f)
			lo, hi := ratOf(t, r.Lo.Decimal), ratOf(t, r.Hi.Decimal)
			for _, b := range []string{r.Lo.Decimal, r.Hi.Decimal} {
				for _, x := range around(t, b) {
					got, ok := ReadNumber([]byte(x.FloatString(decimalsOf(x))))
					if !ok {
						t.Fatalf("ReadNumber(%s): not a number", x.FloatString(decimalsOf(x)))
					}
					below := x.Cmp(lo) < 0 || x.Cmp(lo) == 0 && !r.Lo.Inclusive
					above := x.Cmp(hi) > 0 || x.Cmp(hi) == 0 && !r.Hi.Inclusive
					if (got < f) != below || (got > f) != above {
						t.Fatalf("f = %v, range %+v: %s reads as %v, but is below: %v, above: %v",
							f, r, x.FloatString(decimalsOf(x)), got, below, above)
					}
				}
			}
		}
	}
}

// around returns numbers at and near the decimal d (digits, "e", an
// exponent): d, and d plus and minus a unit in its last digit, a tenth
// and a thousandth of that, and ten of them.
func around(t *testing.T, d string) []*big.Rat {
	t.Helper()
	_, exp, _ := strings.Cut(d, "e")
	e, err := strconv.Atoi(exp)
	if err != nil {
		t.Fatalf("bound %q has no exponent", d)
	}
	x := ratOf(t, d)
	out := []*big.Rat{x}
	for _, shift := range []int{-3, -1, 0, 1} {
		p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(e+shift))), nil)
		unit := new(big.Rat).SetInt(p)
		if e+shift < 0 {
			unit.Inv(unit)
		}
		out = append(out, new(big.Rat).Add(x, unit), new(big.Rat).Sub(x, unit))
	}
	return out
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func ratOf(t *testing.T, d string) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(d)
	if !ok {
		t.Fatalf("bound %q is not a decimal", d)
	}
	return r
}

// decimalsOf returns how many decimals write the rational r (whose
// denominator divides a power of ten) exactly.
func decimalsOf(r *big.Rat) int {
	d := new(big.Int).Set(r.Denom())
	n := 0
	ten := big.NewInt(10)
	for d.Cmp(big.NewInt(1)) != 0 {
		d.Quo(d, new(big.Int).GCD(nil, nil, d, ten))
		n++
	}
	return n
}

func FuzzReadNumber(f *testing.F) {
	for _, s := range []string{"3.0000000000000000001", "9007199254740993.0000000001", "1e400", "-0", "5e-324",
		"1.00000000000000011102230246251565404236316680908203126", "0.1e-7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ReadNumber([]byte(s))
		if !ok {
			return
		}
		if _, err := strconv.ParseFloat(s, 64); err != nil && !strings.Contains(err.Error(), "range") {
			t.Fatalf("ReadNumber(%q) = %v, but it is not a number", s, got)
		}
		if i := strings.IndexAny(s, "eE"); i >= 0 {
			if e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+")); err != nil || e > 2000 || e < -2000 {
				return // the reference would be slow
			}
		}
		if want := refRead(s); got != want {
			t.Fatalf("ReadNumber(%q) = %v, reference %v", s, got, want)
		}
		if math.IsInf(got, 0) {
			return
		}
		// The number lies within the range of what it reads as.
		r := RangeOf(got)
		x, _ := new(big.Rat).SetString(s)
		lo, hi := ratOf(t, r.Lo.Decimal), ratOf(t, r.Hi.Decimal)
		if c := x.Cmp(lo); c < 0 || c == 0 && !r.Lo.Inclusive {
			t.Fatalf("%s reads as %v but is below its range %+v", s, got, r)
		}
		if c := x.Cmp(hi); c > 0 || c == 0 && !r.Hi.Inclusive {
			t.Fatalf("%s reads as %v but is above its range %+v", s, got, r)
		}
	})
}
