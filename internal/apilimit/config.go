package apilimit

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/ratelimit"
)

// Class is a route class: the kind of work a route does, which decides its
// limits. The set is fixed (it is a metric label).
type Class uint8

// The route classes.
const (
	Auth     Class = iota // sign-up, login, refresh, password and email flows
	Read                  // reads of documents, collections and admin state
	Write                 // creations, changes and deletions
	Search                // full-text and vector searches
	Realtime              // opening an event stream
	numClasses
)

var classNames = [numClasses]string{"auth", "read", "write", "search", "realtime"}

func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// Classes returns every class, in order.
func Classes() []Class { return []Class{Auth, Read, Write, Search, Realtime} }

// Kind is what a limit's key is: which callers share one budget.
type Kind uint8

// The key kinds.
const (
	// IP limits every request from one client address, whoever the caller
	// is; it is checked before authentication, so a flood of bad
	// credentials costs one limiter call per request and nothing more.
	IP Kind = iota
	// Anonymous limits the callers without credentials, by address.
	Anonymous
	// Account limits the requests of one account (access tokens).
	Account
	// APIKey limits the requests made with one API key.
	APIKey
	numKinds
)

var kindNames = [numKinds]string{"ip", "anonymous", "account", "apikey"}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Kinds returns every key kind, in order.
func Kinds() []Kind { return []Kind{IP, Anonymous, Account, APIKey} }

// Bounds of the numbers of a rule.
const (
	MaxCount = 1_000_000
	MaxBurst = 1_000_000
	MaxPer   = 24 * time.Hour
)

// Rule is one limit: Count requests per Per on average, Burst at once. The
// zero Rule is "off": nothing is limited.
type Rule struct {
	Count int
	Per   time.Duration
	Burst int
}

// Off reports whether r limits nothing.
func (r Rule) Off() bool { return r == Rule{} }

// Limit is r as a GCRA limit (meaningful when r is not Off).
func (r Rule) Limit() ratelimit.Limit {
	return ratelimit.Limit{Rate: float64(r.Count) / r.Per.Seconds(), Burst: r.Burst}
}

// String renders r as in a spec: COUNT/PER:BURST, or off.
func (r Rule) String() string {
	if r.Off() {
		return "off"
	}
	return strconv.Itoa(r.Count) + "/" + formatPer(r.Per) + ":" + strconv.Itoa(r.Burst)
}

// formatPer renders a duration without the zero units time.Duration.String
// adds ("1m", not "1m0s").
func formatPer(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Spec is one parsed --rate-limit value: the rule of a class and key kind,
// for every collection (Collection "") or for one.
type Spec struct {
	Collection string
	Class      Class
	Kind       Kind
	Rule       Rule
}

// String renders s in the grammar ParseSpec reads; ParseSpec(s.String())
// returns s.
func (s Spec) String() string {
	var b strings.Builder
	if s.Collection != "" {
		b.WriteString(s.Collection)
		b.WriteByte('.')
	}
	b.WriteString(s.Class.String())
	b.WriteByte(':')
	b.WriteString(s.Kind.String())
	b.WriteByte('=')
	b.WriteString(s.Rule.String())
	return b.String()
}

// Grammar is the syntax of a spec, for help texts and errors.
const Grammar = "[COLLECTION.]CLASS:KIND=COUNT/PER:BURST or [COLLECTION.]CLASS:KIND=off " +
	"(CLASS auth, read, write, search or realtime; KIND ip, anonymous, account or apikey; PER a duration like 1s or 1m)"

// ParseSpec parses one rule:
//
//	[COLLECTION.]CLASS:KIND=COUNT/PER:BURST
//	[COLLECTION.]CLASS:KIND=off
//
// COLLECTION is a collection name ([a-z][a-z0-9_]{0,62}); CLASS one of auth,
// read, write, search, realtime (auth has no collection); KIND one of ip,
// anonymous, account, apikey; COUNT and BURST whole numbers from 1 to
// 1000000; PER a Go duration (1s, 500ms, 1m, 1h) up to 24h. The rule allows
// COUNT requests per PER on average and BURST at once. Leading and trailing
// spaces are ignored; nothing else is.
func ParseSpec(text string) (Spec, error) {
	s := strings.TrimSpace(text)
	fail := func(format string, args ...any) (Spec, error) {
		return Spec{}, fmt.Errorf("rate limit %q: %s; the form is %s", truncate(text, 100), fmt.Sprintf(format, args...), Grammar)
	}
	target, value, ok := strings.Cut(s, "=")
	if !ok {
		return fail("missing =")
	}
	scope, kindName, ok := strings.Cut(target, ":")
	if !ok {
		return fail("missing : between the class and the key kind")
	}
	var spec Spec
	className := scope
	if coll, cls, ok := strings.Cut(scope, "."); ok {
		if !docstore.ValidCollectionName(coll) {
			return fail("collection %q must match [a-z][a-z0-9_]{0,62}", truncate(coll, 70))
		}
		spec.Collection, className = coll, cls
	}
	i := slices.Index(classNames[:], className)
	if i < 0 {
		return fail("unknown class %q", truncate(className, 40))
	}
	spec.Class = Class(i)
	if spec.Class == Auth && spec.Collection != "" {
		return fail("auth routes have no collection")
	}
	j := slices.Index(kindNames[:], kindName)
	if j < 0 {
		return fail("unknown key kind %q", truncate(kindName, 40))
	}
	spec.Kind = Kind(j)
	if value == "off" {
		return spec, nil
	}
	rate, burst, ok := strings.Cut(value, ":")
	if !ok {
		return fail("missing :BURST after the rate (or off)")
	}
	count, per, ok := strings.Cut(rate, "/")
	if !ok {
		return fail("the rate must be COUNT/PER, like 50/1s")
	}
	var err error
	if spec.Rule.Count, err = parseCount(count, MaxCount); err != nil {
		return fail("count: %v", err)
	}
	if spec.Rule.Burst, err = parseCount(burst, MaxBurst); err != nil {
		return fail("burst: %v", err)
	}
	d, err := time.ParseDuration(per)
	if err != nil || !startsWithDigit(per) {
		return fail("period %q is not a duration like 1s or 1m", truncate(per, 40))
	}
	if d <= 0 || d > MaxPer {
		return fail("period %s must be more than 0 and at most %s", per, formatPer(MaxPer))
	}
	spec.Rule.Per = d
	if err := spec.Rule.Limit().Validate(); err != nil {
		return fail("%v", strings.TrimPrefix(err.Error(), ratelimit.ErrInvalid.Error()+": "))
	}
	return spec, nil
}

func startsWithDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

// parseCount parses a whole number from 1 to most, in plain decimal digits.
func parseCount(s string, most int) (int, error) {
	if s == "" {
		return 0, errors.New("missing number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a whole number", truncate(s, 40))
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > most {
		return 0, fmt.Errorf("%s must be from 1 to %d", truncate(s, 40), most)
	}
	return n, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// scope names a per-collection rule.
type scope struct {
	collection string
	class      Class
	kind       Kind
}

// Config is the set of limits: one rule per class and key kind, and the
// per-collection rules that replace them on one collection. Build it with
// DefaultConfig and Set. A Config is not safe for concurrent Set.
type Config struct {
	// Disabled turns every limit off (--rate-limits=false).
	Disabled    bool
	classes     [numClasses][numKinds]Rule
	collections map[scope]Rule
}

// defaultSpecs are the built-in limits. A budget per caller (account, API
// key, or address of anonymous callers) is sized so that a busy client in
// normal use never meets it: a mobile app that opens a screen makes a
// handful of reads at once and a few per second while scrolling; 200 at
// once and 50 per second sustained is an order of magnitude above that.
// Writes follow people (20 per second, 100 at once leaves room for a batch
// of offline edits replayed on reconnection); searches cost more (10 per
// second, 40 at once covers search-as-you-type); event streams are opened
// once per screen (2 per second, 20 at once covers reconnecting every
// subscription after a network change). API keys serve back ends that act
// for many people and get twice a person's budget. The per-address limit
// (ip) applies to everyone behind one address, users of one office or
// carrier NAT included, and is five times a caller's. The auth class has
// no per-caller rule for anonymous callers (the address limit is theirs);
// its address ceiling, 10 per second and 100 at once, sits above the
// account service's own login throttles (per address 20 at once, then one
// per second; per account 10, then one per 6 s), which stay the finer
// guard of passwords.
var defaultSpecs = []string{
	"auth:ip=10/1s:100", "auth:anonymous=off", "auth:account=5/1s:50", "auth:apikey=5/1s:50",
	"read:ip=250/1s:1000", "read:anonymous=50/1s:200", "read:account=50/1s:200", "read:apikey=100/1s:400",
	"write:ip=100/1s:500", "write:anonymous=20/1s:100", "write:account=20/1s:100", "write:apikey=40/1s:200",
	"search:ip=50/1s:200", "search:anonymous=10/1s:40", "search:account=10/1s:40", "search:apikey=20/1s:80",
	"realtime:ip=10/1s:100", "realtime:anonymous=2/1s:20", "realtime:account=2/1s:20", "realtime:apikey=4/1s:40",
}

// DefaultConfig returns the built-in limits (see DefaultSpecs).
func DefaultConfig() Config {
	var c Config
	for _, s := range defaultSpecs {
		if err := c.Set(s); err != nil {
			panic(err) // the defaults are constants
		}
	}
	return c
}

// DefaultSpecs returns the built-in limits in the grammar of ParseSpec, one
// per class and key kind.
func DefaultSpecs() []string { return slices.Clone(defaultSpecs) }

// Set parses one spec (see ParseSpec) and applies it: the rule of its class
// and key kind, or, with a collection, the rule that replaces it on that
// collection.
func (c *Config) Set(text string) error {
	s, err := ParseSpec(text)
	if err != nil {
		return err
	}
	c.Apply(s)
	return nil
}

// Apply applies a parsed spec.
func (c *Config) Apply(s Spec) {
	if s.Collection == "" {
		c.classes[s.Class][s.Kind] = s.Rule
		return
	}
	if c.collections == nil {
		c.collections = map[scope]Rule{}
	}
	c.collections[scope{s.Collection, s.Class, s.Kind}] = s.Rule
}

// Rule returns the rule of class and kind on collection ("" for routes
// without one), and whether it is the collection's own rule (counted in a
// budget of that collection's) rather than the class's.
func (c *Config) Rule(collection string, class Class, kind Kind) (Rule, bool) {
	if collection != "" && c.collections != nil {
		if r, ok := c.collections[scope{collection, class, kind}]; ok {
			return r, true
		}
	}
	return c.classes[class][kind], false
}

// Specs returns the effective rules in the grammar of ParseSpec: one per
// class and key kind, then the per-collection rules sorted.
func (c *Config) Specs() []string {
	var out []string
	for _, cl := range Classes() {
		for _, k := range Kinds() {
			out = append(out, Spec{Class: cl, Kind: k, Rule: c.classes[cl][k]}.String())
		}
	}
	var colls []string
	for sc, r := range c.collections {
		colls = append(colls, Spec{Collection: sc.collection, Class: sc.class, Kind: sc.kind, Rule: r}.String())
	}
	slices.Sort(colls)
	return append(out, colls...)
}

// window is T·Burst rounded up to whole seconds: how long an empty budget
// takes to fill (the w of RateLimit-Policy).
func window(l ratelimit.Limit) int64 {
	d := l.EmissionInterval() * time.Duration(l.Burst)
	return int64(math.Ceil(d.Seconds()))
}
