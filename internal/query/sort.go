package query

// ParseSort parses a sort order and checks it against s (nil: system fields
// only). src is a comma-separated list of field names, each optionally
// prefixed by "-" for descending or "+" for ascending (the default); spaces
// around names are ignored. A field may appear once, and must be of a
// sortable type: string, number, integer, boolean, or a system field.
//
// The result always ends with the id key, so the order is total: when src
// does not name id, an id key in the direction of the last key is appended; when it does, keys after
// id (which could never change the order) are dropped. An empty src sorts by
// id ascending. The id key does not count against lim.MaxSortKeys, so
// ParseSort(FormatSort(keys)) returns keys. Errors are *fault.Error values of kind fault.Invalid.
func ParseSort(src string, s *Schema, lim Limits) ([]SortKey, error) {
	lim = lim.withDefaults()
	if len(src) > lim.MaxLength {
		return nil, errAt(opSort, "sort", lim.MaxLength, "sort is longer than %d bytes", lim.MaxLength)
	}
	id, _ := s.Lookup(string(SystemID))
	if isBlank(src) {
		return []SortKey{{Field: id}}, nil
	}
	keys := make([]SortKey, 0, 4)
	names := make([]string, 0, 4) // the names of the keys, for duplicates
	hasID := false
	err := splitList(src, func(name string, pos int) error {
		if name == "" {
			return errAt(opSort, "sort", pos, "empty sort key")
		}
		k := SortKey{}
		switch name[0] {
		case '-':
			k.Desc = true
			name, pos = name[1:], pos+1
		case '+':
			name, pos = name[1:], pos+1
		}
		if !validPath(name) {
			return errAt(opSort, "sort", pos, "invalid field name %s", quoteName(name))
		}
		f, ok := s.Lookup(name)
		if !ok {
			return errAt(opSort, "sort", pos, "unknown field %s", quoteName(name))
		}
		switch f.Type {
		case TypeString, TypeNumber, TypeInteger, TypeBoolean, TypeTime:
		default:
			return errAt(opSort, "sort", pos, "cannot sort by %s: it is %s", quoteName(name), article(f.Type))
		}
		for _, o := range names {
			if o == name {
				return errAt(opSort, "sort", pos, "duplicate sort key %s", quoteName(name))
			}
		}
		if f.System != SystemID && len(keys) >= lim.MaxSortKeys {
			return errAt(opSort, "sort", pos, "more than %d sort keys", lim.MaxSortKeys)
		}
		k.Field = f
		names = append(names, name)
		if !hasID {
			keys = append(keys, k)
		}
		hasID = hasID || f.System == SystemID
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !hasID {
		// The tie-break follows the direction of the last key, so an
		// index on (key, id) serves the whole order in one scan.
		keys = append(keys, SortKey{Field: id, Desc: len(keys) > 0 && keys[len(keys)-1].Desc})
	}
	return keys, nil
}

// ParseFields parses a field selection and checks it against s (nil: system
// fields only). src is a comma-separated list of dotted paths inside a
// document's data; spaces around names are ignored. The result lists each
// selected path once, in the order given, as one element per object key.
//
// An empty src returns nil, meaning every field. System fields (id, version,
// createdAt, updatedAt) are always returned, so naming them is allowed and
// changes nothing; a selection of system fields only returns an empty,
// non-nil slice (no data fields). Errors are *fault.Error values of kind
// fault.Invalid.
func ParseFields(src string, s *Schema, lim Limits) ([][]string, error) {
	lim = lim.withDefaults()
	if len(src) > lim.MaxLength {
		return nil, errAt(opFields, "fields", lim.MaxLength, "fields is longer than %d bytes", lim.MaxLength)
	}
	if isBlank(src) {
		return nil, nil
	}
	paths := [][]string{}
	seen := make(map[string]bool)
	n := 0
	err := splitList(src, func(name string, pos int) error {
		if name == "" {
			return errAt(opFields, "fields", pos, "empty field name")
		}
		if n++; n > lim.MaxFields {
			return errAt(opFields, "fields", pos, "more than %d fields", lim.MaxFields)
		}
		if !validPath(name) {
			return errAt(opFields, "fields", pos, "invalid field name %s", quoteName(name))
		}
		f, ok := s.Lookup(name)
		if !ok {
			return errAt(opFields, "fields", pos, "unknown field %s", quoteName(name))
		}
		if f.System != SystemNone || seen[name] {
			return nil
		}
		seen[name] = true
		paths = append(paths, f.Path)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return paths, nil
}

// splitList calls fn with each comma-separated element of src, trimmed of
// spaces, and its offset.
func splitList(src string, fn func(elem string, pos int) error) error {
	start := 0
	for i := 0; i <= len(src); i++ {
		if i < len(src) && src[i] != ',' {
			continue
		}
		a, b := start, i
		for a < b && isSpace(src[a]) {
			a++
		}
		for b > a && isSpace(src[b-1]) {
			b--
		}
		if err := fn(src[a:b], a); err != nil {
			return err
		}
		start = i + 1
	}
	return nil
}

// validPath reports whether s is a dotted identifier.
func validPath(s string) bool {
	seg := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if seg == 0 {
				return false
			}
			seg = 0
		case seg == 0 && !identStart(c), seg > 0 && !identChar(c):
			return false
		default:
			seg++
		}
	}
	return seg > 0
}

func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isSpace(s[i]) {
			return false
		}
	}
	return true
}
