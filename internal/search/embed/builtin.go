package embed

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Bounds of the Builtin embedder's dimensions.
const (
	MinBuiltinDimensions = 8
	MaxBuiltinDimensions = 8192
)

// MaxBuiltinText is how many bytes of a text Builtin reads; the rest of a
// longer text is ignored.
const MaxBuiltinText = 64 << 10

// Feature weights of Builtin: a word counts most, a pair of adjacent words
// less, and each character n-gram of a word little (a word of n letters
// has about 3n of them, so together they still weigh more than the word:
// that is what makes a misspelt word near its right spelling).
const (
	weightWord   = 1.0
	weightBigram = 0.3
	weightGram   = 0.25
)

// Feature classes, kept in the two low bits of a feature's hash.
const (
	classWord = iota
	classBigram
	classGram
)

// Builtin is an offline embedder that needs no model and no download. It
// is LEXICAL, not semantic: texts are near when they share words, word
// pairs and spellings, never because they mean the same thing in other
// words ("car" is not near "automobile"). It lets semantic search work on
// a fresh machine; configure an OpenAI-compatible embedder for meaning.
//
// The vector of a text is built by feature hashing:
//
//   - the text (its first MaxBuiltinText bytes) is normalized to Unicode
//     NFKC and lower-cased;
//   - words are the maximal runs of letters, digits and combining marks;
//     thirty English function words ("the", "of", "and", …) are dropped,
//     unless the text has no other word;
//   - the features are every word, every pair of adjacent words, and every
//     character 3-, 4- and 5-gram of each word framed by boundary marks
//     ("<go>" gives "<go", "go>" and "<go>");
//   - each feature is hashed (64-bit FNV-1a, the same in every process and
//     release of builtin-v1) to one of the dimensions 1…dims−1 and to a
//     sign, and adds sign·weight·(1 + ln count) there, where count is how
//     often the feature occurs and the weight is 1 for a word, 0.3 for a
//     word pair and 0.25 for a character n-gram;
//   - the vector is scaled to length 1.
//
// Dimension 0 is reserved: a text without any letter or digit (such as
// "!!!") has the unit vector along it, orthogonal to the vector of every
// other text. A blank text (empty or only white space) has no vector:
// Embed fails with ErrEmpty. Every vector Embed returns has length 1, so
// cosine and dot rank alike.
//
// Builtin is safe for concurrent use.
type Builtin struct {
	dims int
	// pool recycles the scratch space of feature collection.
	pool sync.Pool
}

var _ Embedder = (*Builtin)(nil)

// NewBuiltin returns the builtin embedder making vectors of dims
// dimensions, between MinBuiltinDimensions and MaxBuiltinDimensions.
// More dimensions mean fewer features sharing one (less noise) and more
// memory per vector: 512 or more is best (on the Go standard library's
// package documentation, queries find their package far less often with
// 256 dimensions than with 512; see TestBuiltinRelevanceOnGoDocs).
func NewBuiltin(dims int) (*Builtin, error) {
	if dims < MinBuiltinDimensions || dims > MaxBuiltinDimensions {
		return nil, fmt.Errorf("%w: the builtin embedder makes %d to %d dimensions, not %d",
			ErrDimensions, MinBuiltinDimensions, MaxBuiltinDimensions, dims)
	}
	return &Builtin{dims: dims}, nil
}

// Name returns "builtin-v1/" followed by the dimensions: vectors of other
// dimensions are other vectors.
func (b *Builtin) Name() string { return "builtin-v1/" + strconv.Itoa(b.dims) }

// Dimensions returns the length of every vector.
func (b *Builtin) Dimensions() int { return b.dims }

// Embed returns the vector of each text. It fails with ErrEmpty if a text
// is blank, and with ctx's error if ctx ends first.
func (b *Builtin) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := checkBlank(texts); err != nil {
		return nil, err
	}
	out := make([][]float32, len(texts))
	f := b.scratch()
	defer b.pool.Put(f)
	for i, t := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("embed: %w", err)
			}
		}
		out[i] = b.vector(f, t)
	}
	return out, nil
}

// Vector returns the vector of one text: the unit vector along dimension
// 0 if it has no letter or digit (blank texts included).
func (b *Builtin) Vector(text string) []float32 {
	f := b.scratch()
	defer b.pool.Put(f)
	return b.vector(f, text)
}

func (b *Builtin) scratch() *features {
	if f, ok := b.pool.Get().(*features); ok {
		return f
	}
	return new(features)
}

// features collects the hashed features of one text; it is reused from
// text to text by one Embed call.
type features struct {
	keys  []uint64
	words []string
	acc   []float64
	pos   []int
	// table and counts are an open-addressing hash table counting each
	// distinct key of keys (count 0: empty slot).
	table  []uint64
	counts []uint32
}

// count fills table and counts from keys.
func (f *features) count() {
	size := 16
	for size < 2*len(f.keys) {
		size *= 2
	}
	if cap(f.table) < size {
		f.table = make([]uint64, size)
		f.counts = make([]uint32, size)
	}
	f.table, f.counts = f.table[:size], f.counts[:size]
	clear(f.counts)
	mask := uint64(size - 1)
	for _, k := range f.keys {
		// The low bits of a key hold its class and sign: probe from the
		// well-mixed high bits.
		i := (k >> 40) & mask
		for f.counts[i] != 0 && f.table[i] != k {
			i = (i + 1) & mask
		}
		f.table[i] = k
		f.counts[i]++
	}
}

func (b *Builtin) vector(f *features, text string) []float32 {
	f.collect(normalize(text))
	v := make([]float32, b.dims)
	if len(f.keys) == 0 {
		v[0] = 1
		return v
	}
	if cap(f.acc) < b.dims {
		f.acc = make([]float64, b.dims)
	}
	acc := f.acc[:b.dims]
	clear(acc)
	buckets := uint64(b.dims - 1)
	weights := [3]float64{weightWord, weightBigram, weightGram}
	f.count()
	for i, k := range f.table {
		c := f.counts[i]
		if c == 0 {
			continue
		}
		w := weights[k&3]
		if c > 1 {
			w *= 1 + math.Log(float64(c))
		}
		if k&4 != 0 {
			w = -w
		}
		acc[1+(k>>32)%buckets] += w
	}
	var sum float64
	for _, x := range acc {
		sum += x * x
	}
	if sum == 0 {
		// Every feature cancelled out (possible only with very few
		// dimensions): the text is treated as having no features.
		v[0] = 1
		return v
	}
	scale := 1 / math.Sqrt(sum)
	for i, x := range acc {
		v[i] = float32(x * scale)
	}
	return v
}

// normalize returns text (at most MaxBuiltinText bytes of it) in NFKC,
// lower-cased.
func normalize(text string) string {
	if len(text) > MaxBuiltinText {
		// Cut before the rune that MaxBuiltinText splits, if any.
		cut := MaxBuiltinText
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	ascii := true
	for i := 0; i < len(text); i++ {
		if text[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return asciiLower(text)
	}
	if !norm.NFKC.IsNormalString(text) {
		text = norm.NFKC.String(text)
	}
	return toLower(text)
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func toLower(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = utf8.AppendRune(b, unicode.ToLower(r))
	}
	return string(b)
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
}

// FNV-1a, 64 bits.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvByte(h uint64, c byte) uint64 {
	h ^= uint64(c)
	return h * fnvPrime
}

// mix finishes a hash so that its high bits (the bucket) and bit 2 (the
// sign) depend on every byte (splitmix64's finalizer).
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

func key(h uint64, class uint64) uint64 { return mix(h)&^3 | class }

// Bytes that frame the hashed features; none can occur inside a word.
const (
	markBoundary = 0x02 // the start or end of a word in a character n-gram
	markPair     = 0x03 // between the two words of a pair
)

// collect gathers the feature keys of a normalized text.
func (f *features) collect(text string) {
	f.keys = f.keys[:0]
	f.words = f.words[:0]
	start := -1
	for i, r := range text {
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			f.words = append(f.words, text[start:i])
			start = -1
		}
	}
	if start >= 0 {
		f.words = append(f.words, text[start:])
	}
	f.dropStopWords()
	for i, w := range f.words {
		wh := fnvString(fnvByte(fnvOffset, classWord), w)
		f.keys = append(f.keys, key(wh, classWord))
		if i > 0 {
			ph := fnvString(fnvByte(fnvOffset, classBigram), f.words[i-1])
			ph = fnvString(fnvByte(ph, markPair), w)
			f.keys = append(f.keys, key(ph, classBigram))
		}
		f.grams(w)
	}
}

// dropStopWords removes the English function words from words, unless
// they are all it holds. Frequent in every English text, they would make
// unrelated texts near.
func (f *features) dropStopWords() {
	kept := 0
	for _, w := range f.words {
		if !isStopWord(w) {
			kept++
		}
	}
	if kept == 0 || kept == len(f.words) {
		return
	}
	ws := f.words[:0]
	for _, w := range f.words {
		if !isStopWord(w) {
			ws = append(ws, w)
		}
	}
	f.words = ws
}

// isStopWord reports whether w is one of the most frequent English
// function words.
func isStopWord(w string) bool {
	switch w {
	case "a", "an", "and", "are", "as", "at", "be", "by", "can", "for", "from", "has", "have",
		"in", "is", "it", "its", "not", "of", "on", "or", "that", "the", "this", "to", "was",
		"were", "which", "will", "with":
		return true
	}
	return false
}

// grams adds the character 3-, 4- and 5-grams of the word w framed by
// boundary marks.
func (f *features) grams(w string) {
	// pos holds the byte offset of each rune of w and, last, len(w); the
	// framed word has the marks at rune positions −1 and n.
	f.pos = f.pos[:0]
	for i := range w {
		f.pos = append(f.pos, i)
	}
	n := len(f.pos)
	f.pos = append(f.pos, len(w))
	for size := 3; size <= 5; size++ {
		// The framed word has n+2 runes: position p (−1 … n) is the
		// start mark, a rune of w, or the end mark.
		for first := -1; first+size <= n+1; first++ {
			last := first + size - 1 // inclusive, ≤ n
			h := fnvByte(fnvOffset, classGram)
			from, to := first, last
			if from < 0 {
				h = fnvByte(h, markBoundary)
				from = 0
			}
			end := n == to
			if end {
				to = n - 1
			}
			if from <= to {
				h = fnvString(h, w[f.pos[from]:f.pos[to+1]])
			}
			if end {
				h = fnvByte(h, markBoundary)
			}
			f.keys = append(f.keys, key(h, classGram))
		}
	}
}
