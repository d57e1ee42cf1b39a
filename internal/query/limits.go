package query

// Limits bounds the work a single filter, sort or field selection may ask
// for. A zero or negative field means the default from DefaultLimits, so the
// zero Limits is safe to use.
type Limits struct {
	// MaxLength is the longest filter, sort or fields string, in bytes.
	MaxLength int
	// MaxTerms is the most comparisons a filter may contain.
	MaxTerms int
	// MaxDepth is the deepest nesting of parentheses and "!" in a filter.
	MaxDepth int
	// MaxInList is the most values an "in" list may hold.
	MaxInList int
	// MaxSortKeys is the most keys a sort may name (the implicit id
	// tiebreak does not count).
	MaxSortKeys int
	// MaxFields is the most names a field selection may list.
	MaxFields int
	// MaxStringLen is the longest string literal, in bytes after escapes
	// are decoded.
	MaxStringLen int
}

// DefaultLimits returns the limits Basalt applies unless configured
// otherwise.
func DefaultLimits() Limits {
	return Limits{
		MaxLength:    4096,
		MaxTerms:     64,
		MaxDepth:     16,
		MaxInList:    100,
		MaxSortKeys:  4,
		MaxFields:    64,
		MaxStringLen: 1024,
	}
}

// withDefaults replaces every unset limit with its default.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.MaxLength, d.MaxLength)
	set(&l.MaxTerms, d.MaxTerms)
	set(&l.MaxDepth, d.MaxDepth)
	set(&l.MaxInList, d.MaxInList)
	set(&l.MaxSortKeys, d.MaxSortKeys)
	set(&l.MaxFields, d.MaxFields)
	set(&l.MaxStringLen, d.MaxStringLen)
	return l
}
