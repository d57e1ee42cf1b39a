package graphqlapi

import (
	"strconv"
	"strings"
)

// pascal is the GraphQL type name of a collection or property name: the
// first letter upper case, and each "_" before a lower-case letter dropped
// with the letter raised ("blog_posts" → "BlogPosts"). An "_" before a
// digit, another "_" or the end stays ("ab_1" → "Ab_1"), so two collection
// names ([a-z][a-z0-9_]*) never give the same type name.
func pascal(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	up := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_' && i+1 < len(name) && name[i+1] >= 'a' && name[i+1] <= 'z' && i > 0:
			up = true
			continue
		case up && c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		up = false
		b.WriteByte(c)
	}
	return b.String()
}

// camel is the GraphQL field name of a collection: pascal with its first
// letter lower case ("blog_posts" → "blogPosts").
func camel(name string) string {
	p := pascal(name)
	if p == "" || p[0] < 'A' || p[0] > 'Z' {
		return p
	}
	return string(p[0]+('a'-'A')) + p[1:]
}

// namespace hands out the names of one schema's types, or of one type's
// fields: each name once. A name already taken gets the first free of
// name+suffix, then name+suffix+"2", +"3" …; the claims run in a fixed
// order, so a schema built twice from the same catalog names everything
// the same.
type namespace struct {
	taken map[string]bool
}

func newNamespace(reserved ...string) *namespace {
	n := &namespace{taken: make(map[string]bool, len(reserved))}
	for _, r := range reserved {
		n.taken[r] = true
	}
	return n
}

// claim returns want if it is free, or the first free variant with
// suffix, and takes it.
func (n *namespace) claim(want, suffix string) string {
	got := want
	for i := 1; n.taken[got]; i++ {
		got = want + suffix
		if i > 1 {
			got += strconv.Itoa(i)
		}
	}
	n.taken[got] = true
	return got
}
