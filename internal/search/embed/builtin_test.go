package embed

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

func norm2(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func mustBuiltin(t testing.TB, dims int) *Builtin {
	t.Helper()
	b, err := NewBuiltin(dims)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuiltinDimensionBounds(t *testing.T) {
	for _, d := range []int{-1, 0, 1, MinBuiltinDimensions - 1, MaxBuiltinDimensions + 1} {
		if _, err := NewBuiltin(d); !errors.Is(err, ErrDimensions) {
			t.Errorf("NewBuiltin(%d) = %v, want ErrDimensions", d, err)
		}
	}
	for _, d := range []int{MinBuiltinDimensions, 384, MaxBuiltinDimensions} {
		b, err := NewBuiltin(d)
		if err != nil {
			t.Fatalf("NewBuiltin(%d): %v", d, err)
		}
		if b.Dimensions() != d {
			t.Errorf("Dimensions() = %d, want %d", b.Dimensions(), d)
		}
		v, err := b.Embed(context.Background(), []string{"hello world"})
		if err != nil {
			t.Fatal(err)
		}
		if len(v[0]) != d {
			t.Errorf("dims %d: vector of length %d", d, len(v[0]))
		}
	}
	if got := mustBuiltin(t, 256).Name(); got != "builtin-v1/256" {
		t.Errorf("Name() = %q", got)
	}
}

// TestBuiltinGolden pins the vectors: they must be the same in every
// process and every release of builtin-v1 (vectors stored in databases
// are compared with vectors computed later).
func TestBuiltinGolden(t *testing.T) {
	b := mustBuiltin(t, 16)
	got := b.Vector("The quick brown fox jumps over the lazy dog; Ünïcode ﬁne!")
	want := []float32{0, 0.12598816, -0.06999342, 0.36396578, 0, 0.48995394, 0.06999342, 0.2799737, -0.06999342, -0.47595525, 0, 0.06999342, -0.13998684, 0.027997369, 0.2799737, 0.43395922}
	if !slices.Equal(got, want) {
		t.Fatalf("vector changed:\n got %#v\nwant %#v", got, want)
	}
	// Repeated features (sublinear counts).
	got = b.Vector("go go go gopher gopher go")
	want = []float32{0, -0.2873028, 0.23334329, 0.10606513, 0, 0.10606513, -0.5545246, -0.10606513, -0.10606513, 0, -0.07517253, 0.07517253, 0, 0.043421358, -0.705212, 0}
	if !slices.Equal(got, want) {
		t.Fatalf("vector of repeated words changed:\n got %#v\nwant %#v", got, want)
	}
}

func TestBuiltinDeterministicAndNormalized(t *testing.T) {
	b := mustBuiltin(t, 256)
	texts := []string{
		"Package sort provides primitives for sorting slices and user-defined collections.",
		"x",
		"!!!",
		strings.Repeat("lorem ipsum dolor ", 500),
		"日本語のテキスト、混在 text",
	}
	v1, err := b.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := mustBuiltin(t, 256).Embed(context.Background(), slices.Clone(texts))
	if err != nil {
		t.Fatal(err)
	}
	for i := range texts {
		if !slices.Equal(v1[i], v2[i]) {
			t.Errorf("text %d: two embedders disagree", i)
		}
		if one := b.Vector(texts[i]); !slices.Equal(one, v1[i]) {
			t.Errorf("text %d: alone and in a batch differ", i)
		}
		if n := norm2(v1[i]); math.Abs(n-1) > 1e-5 {
			t.Errorf("text %d: norm %v, want 1", i, n)
		}
		for _, x := range v1[i] {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("text %d: non-finite value", i)
			}
		}
	}
}

func TestBuiltinNormalizesText(t *testing.T) {
	b := mustBuiltin(t, 256)
	same := [][2]string{
		{"Hello World", "hello world"},
		{"hello,   world!", "hello world"},
		{"ÉCOLE", "école"},
		{"e\u0301cole", "\u00e9cole"}, // decomposed and composed é (NFKC)
		{"ﬁnance", "finance"},         // ligature (NFKC)
		{"ＡＢＣ", "abc"},                // full-width letters (NFKC)
	}
	for _, p := range same {
		if a, c := b.Vector(p[0]), b.Vector(p[1]); !slices.Equal(a, c) {
			t.Errorf("%q and %q differ (cosine %v)", p[0], p[1], cosine(a, c))
		}
	}
	// English function words count only in a text of nothing else.
	if a, c := b.Vector("the cat and the dog"), b.Vector("cat dog"); !slices.Equal(a, c) {
		t.Error("stop words changed the vector")
	}
	if v := b.Vector("to be or not to be"); v[0] != 0 || slices.Equal(v, b.Vector("it is")) {
		t.Error("a text of stop words only must keep them")
	}
	if a, c := b.Vector("hello world"), b.Vector("world hello"); slices.Equal(a, c) {
		t.Error("word order is ignored: word pairs are missing")
	}
}

func TestBuiltinSimilarity(t *testing.T) {
	b := mustBuiltin(t, 512)
	cases := []struct {
		query, near, far string
	}{
		// Shared words.
		{"sort a slice of integers", "Package sort provides primitives for sorting slices", "HTTP client and server implementations"},
		// Typos: no shared word, shared spelling.
		{"recieve mesage", "receive message", "send letter"},          //nolint:misspell // a typo on purpose
		{"conection timout", "connection timeout", "file permission"}, //nolint:misspell // a typo on purpose
		{"strconv parse integer", "ParseInt interprets a string in the given base and returns the integer", "Package gzip implements reading and writing of compressed files"},
		// Inflections share most character n-grams.
		{"encoding", "encoder encodes", "decimal arithmetic"},
	}
	for _, c := range cases {
		q := b.Vector(c.query)
		near, far := cosine(q, b.Vector(c.near)), cosine(q, b.Vector(c.far))
		if near <= far+0.05 {
			t.Errorf("%q: near %q at %.3f, far %q at %.3f", c.query, c.near, near, c.far, far)
		}
	}
	// Identical texts are at cosine 1; unrelated ones near 0.
	if s := cosine(b.Vector("database index"), b.Vector("database index")); math.Abs(s-1) > 1e-6 {
		t.Errorf("identical texts at cosine %v", s)
	}
	if s := cosine(b.Vector("zebra giraffe"), b.Vector("quantum polynomial")); math.Abs(s) > 0.2 {
		t.Errorf("unrelated texts at cosine %v", s)
	}
}

func TestBuiltinEmptyAndWordless(t *testing.T) {
	b := mustBuiltin(t, 64)
	for _, blank := range []string{"", " ", "\t\n "} {
		_, err := b.Embed(context.Background(), []string{"ok", blank})
		if !errors.Is(err, ErrEmpty) {
			t.Errorf("Embed(%q) = %v, want ErrEmpty", blank, err)
		}
		if !Blank(blank) {
			t.Errorf("Blank(%q) = false", blank)
		}
	}
	if Blank(" x ") {
		t.Error(`Blank(" x ") = true`)
	}
	v, err := b.Embed(context.Background(), []string{"!!! ---", "..."})
	if err != nil {
		t.Fatal(err)
	}
	if v[0][0] != 1 || norm2(v[0]) != 1 || !slices.Equal(v[0], v[1]) {
		t.Errorf("a text without words: %v, want the unit vector along dimension 0", v[0])
	}
	// Dimension 0 is reserved, so every text with words is orthogonal to
	// it.
	for _, text := range []string{"a", "hello world", strings.Repeat("word ", 100)} {
		if x := b.Vector(text)[0]; x != 0 {
			t.Errorf("%q: dimension 0 holds %v", text, x)
		}
	}
}

func TestBuiltinLongText(t *testing.T) {
	long := strings.Repeat("é", MaxBuiltinText) // 2 bytes per rune: cut mid-rune
	got := normalize(long)
	if len(got) > MaxBuiltinText || len(got) < MaxBuiltinText-1 || !utf8.ValidString(got) {
		t.Fatalf("normalized to %d bytes (valid UTF-8: %v)", len(got), utf8.ValidString(got))
	}
	if normalize(long+" tail words ignored") != got {
		t.Error("bytes beyond MaxBuiltinText changed the text read")
	}
	b := mustBuiltin(t, 64)
	words := strings.Repeat("lorem ipsum ", MaxBuiltinText/len("lorem ipsum ")+1)
	if !slices.Equal(b.Vector(words), b.Vector(words+"dolor sit amet "+words)) {
		t.Error("bytes beyond MaxBuiltinText changed the vector")
	}
}

func TestBuiltinContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := mustBuiltin(t, 64).Embed(ctx, []string{"a"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Embed with a canceled context = %v", err)
	}
}

// typicalText is about 1 KB of English prose.
var typicalText = strings.Repeat("Package http provides HTTP client and server implementations. "+
	"Get, Head, Post, and PostForm make HTTP (or HTTPS) requests. ", 9)[:1024]

func BenchmarkBuiltin1KB(b *testing.B) {
	e := mustBuiltin(b, 384)
	ctx := context.Background()
	texts := []string{typicalText}
	b.SetBytes(int64(len(typicalText)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Embed(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuiltin1KBUnicode(b *testing.B) {
	e := mustBuiltin(b, 384)
	ctx := context.Background()
	text := strings.Repeat("Größenänderung der Bildschirmauflösung über Einstellungen. ", 18)
	texts := []string{text}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Embed(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzBuiltin(f *testing.F) {
	for _, s := range []string{"", "a", "hello world", "!!!", "e\u0301", "ﬁ", "\xff\xfe", "日本語", "İstanbul"} {
		f.Add(s)
	}
	e := mustBuiltin(f, 32)
	f.Fuzz(func(t *testing.T, s string) {
		v := e.Vector(s)
		if len(v) != 32 {
			t.Fatalf("length %d", len(v))
		}
		if n := norm2(v); math.Abs(n-1) > 1e-5 {
			t.Fatalf("norm %v", n)
		}
		if !slices.Equal(v, e.Vector(s)) {
			t.Fatal("not deterministic")
		}
	})
}

func TestBuiltinConcurrent(t *testing.T) {
	b := mustBuiltin(t, 128)
	in := []string{"alpha beta gamma", "delta epsilon", typicalText}
	want, err := b.Embed(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 50 {
				got, err := b.Embed(context.Background(), in)
				if err != nil {
					errs <- err
					return
				}
				for i := range got {
					if !slices.Equal(got[i], want[i]) {
						errs <- errors.New("concurrent calls disagree")
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
