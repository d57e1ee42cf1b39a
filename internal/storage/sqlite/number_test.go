package sqlite

import (
	"database/sql"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/query"
)

// TestReadNumberIsSQLite checks that query.ReadNumber reads numbers as
// SQLite's json_extract does, on the numbers hardest to read: the
// midpoints between adjacent float64s, written whole, cut after 17 to 25
// digits and followed by more digits, and in exponent form; integers
// beyond 2^53 and int64; random digits with random exponents.
func TestReadNumberIsSQLite(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	stmt, err := db.Prepare("SELECT json_extract(?, '$')")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	check := func(text string) {
		t.Helper()
		var v any
		if err := stmt.QueryRow(text).Scan(&v); err != nil {
			t.Fatalf("json_extract(%s): %v", text, err)
		}
		var got float64
		switch v := v.(type) {
		case int64:
			got = float64(v) // compiled comparisons read an INTEGER so
		case float64:
			got = v
		default:
			t.Fatalf("json_extract(%s) = %T", text, v)
		}
		want, ok := query.ReadNumber([]byte(text))
		if !ok || got != want {
			t.Fatalf("SQLite reads %s as %v, query.ReadNumber as %v (%v)", text, got, want, ok)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	n := 1500
	if testing.Short() {
		n = 150
	}
	for i := range n {
		var f float64
		switch i % 4 {
		case 0:
			f = math.Float64frombits(rng.Uint64() &^ (1 << 63))
		case 1:
			f = float64(rng.Int64N(1 << 62))
		case 2:
			f = rng.Float64() * 1e-300
		default:
			f = rng.Float64() * math.Pow(10, float64(rng.IntN(40)-20))
		}
		if math.IsInf(f, 0) || math.IsNaN(f) || f == math.MaxFloat64 {
			continue
		}
		mid := midpointText(f)
		check(mid)
		check("-" + mid)
		for _, k := range []int{17, 18, 19, 20, 21, 25} {
			if len(mid) > k+1 {
				check(mid[:k+1] + "1")
				check(mid[:k+1] + "9")
			}
		}
		check(mid + "1")
		m, _ := new(big.Float).SetPrec(4000).SetString(mid)
		for _, digits := range []int{16, 18, 19, 25} {
			check(m.Text('e', digits))
		}
		digits := make([]byte, 1+rng.IntN(22))
		for j := range digits {
			digits[j] = byte('0' + rng.IntN(10))
		}
		check(strings.TrimLeft(string(digits), "0") + "1e" + strconv.Itoa(rng.IntN(700)-350))
	}
	for _, s := range []string{"9007199254740993", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "-9223372036854775809", "18446744073709551616", "123456789012345678901234",
		"3.0000000000000000001", "-0", "-0.0", "1e400", "-1e400", "1e-400", "5e-324", "2.4703282292062327e-324",
		"0." + strings.Repeat("0", 400) + "1e401", "0." + strings.Repeat("0", 10010) + "1e100000",
		"0." + strings.Repeat("0", 10010) + "1e99999", "1e-100000", "123e100000"} {
		check(s)
	}
}

// midpointText returns, in decimal and exactly, the midpoint between the
// positive f and the next float64 up.
func midpointText(f float64) string {
	m := new(big.Rat).Add(new(big.Rat).SetFloat64(f), new(big.Rat).SetFloat64(math.Nextafter(f, math.Inf(1))))
	m.Quo(m, big.NewRat(2, 1))
	s := strings.TrimRight(m.FloatString(1100), "0")
	return strings.TrimSuffix(s, ".")
}
