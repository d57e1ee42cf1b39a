package load

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestMain lets the test binary stand in for the servers under test: run as
// "TESTBIN hello --addr A" it is the hello reference, as "TESTBIN serve
// --addr A --data-dir D …" a small in-memory imitation of Basalt's REST
// API, and as "TESTBIN admin create --email E --data-dir D" (password in
// BASALT_PASSWORD) the imitation's admin command.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "hello" || os.Args[1] == "serve") {
		os.Exit(childServer(os.Args[1], os.Args[2:]))
	}
	if len(os.Args) > 2 && os.Args[1] == "admin" && os.Args[2] == "create" {
		os.Exit(fakeAdminCreate(os.Args[3:]))
	}
	if len(os.Args) > 2 && os.Args[1] == "dev" && os.Args[2] == "kafka" {
		os.Exit(fakeDevKafka(os.Args[3:]))
	}
	os.Exit(m.Run())
}

// fakeAdminFile holds the admin made by the fake "admin create", in the
// data directory shared with the fake server (as Basalt's database is).
const fakeAdminFile = "fake-admin.json"

func fakeAdminCreate(args []string) int {
	fs := flag.NewFlagSet("admin create", flag.ContinueOnError)
	email := fs.String("email", "", "")
	dataDir := fs.String("data-dir", "", "")
	fs.String("db", "", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	pw := os.Getenv("BASALT_PASSWORD")
	if *email == "" || len(pw) < 8 || *dataDir == "" {
		fmt.Fprintln(os.Stderr, "admin create: need --email, --data-dir and BASALT_PASSWORD")
		return 2
	}
	b, err := json.Marshal(Account{Email: *email, Password: pw})
	if err == nil {
		err = os.WriteFile(filepath.Join(*dataDir, fakeAdminFile), b, 0o600)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "admin create:", err)
		return 1
	}
	return 0
}

// fakeDevKafka stands for `basalt dev kafka --addr A`: it accepts
// connections on A (and closes them) until SIGTERM.
func fakeDevKafka(args []string) int {
	fs := flag.NewFlagSet("dev kafka", flag.ContinueOnError)
	addr := fs.String("addr", "", "")
	if err := fs.Parse(args); err != nil || *addr == "" {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() { <-ctx.Done(); _ = ln.Close() }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return 0
		}
		_ = conn.Close()
	}
}

func childServer(mode string, args []string) int {
	fs := flag.NewFlagSet(mode, flag.ContinueOnError)
	addr := fs.String("addr", "", "")
	dataDir := fs.String("data-dir", "", "")
	db := fs.String("db", "", "")
	opts := defaultFakeOptions()
	fs.DurationVar(&opts.ttl, "auth-access-ttl", opts.ttl, "")
	fs.IntVar(&opts.ipBurst, "login-ip-burst", opts.ipBurst, "")
	fs.IntVar(&opts.emailBurst, "login-email-burst", opts.emailBurst, "")
	fs.Float64("password-ip-share", 0.5, "accepted; the fake has no hashing budget")
	fs.Int("realtime-streams-per-ip", 128, "accepted; the fake has no stream limits")
	fs.Bool("rate-limits", true, "accepted; the fake has no rate limits")
	fs.Func("rate-limit", "accepted; the fake has no rate limits", func(string) error { return nil })
	fs.String("redis", "", "accepted; the fake keeps everything in process")
	fs.Bool("cache", true, "accepted; the fake has no read cache")
	fs.Bool("no-cache", false, "accepted; the fake has no read cache")
	fs.StringVar(&opts.kafka, "kafka", "", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if opts.kafka != "" {
		// Like Basalt's readiness with --kafka: the broker answers.
		conn, err := net.DialTimeout("tcp", opts.kafka, 5*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		_ = conn.Close()
	}
	if *db != "" {
		// Like Basalt, refuse to start without the database.
		conn, err := pgx.Connect(context.Background(), *db)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		_ = conn.Close(context.Background())
		fmt.Fprintf(os.Stderr, "db=%s\n", conn.Config().Database)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if mode == "hello" {
		if err := ServeHello(ctx, ln); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	if *dataDir != "" {
		if err := os.MkdirAll(*dataDir, 0o700); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	opts.dataDir = *dataDir
	fmt.Fprintf(os.Stderr, "serve ttl=%s ip-burst=%d email-burst=%d\n", opts.ttl, opts.ipBurst, opts.emailBurst)
	srv := &http.Server{Handler: newFakeBasalt(opts)}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	_ = srv.Serve(ln)
	return 0
}

// fakeOptions are the fake server's flags, with Basalt's defaults.
type fakeOptions struct {
	dataDir             string // where the fake "admin create" put the admin
	ttl                 time.Duration
	ipBurst, emailBurst int
	kafka               string // --kafka: brokers, which the fake checks it can reach
}

func defaultFakeOptions() fakeOptions {
	return fakeOptions{ttl: 10 * time.Minute, ipBurst: 20, emailBurst: 10}
}

// fakeBasalt answers the REST calls the load generator makes, keeping
// everything in memory, with Basalt's rules where the bench relies on
// them: collections and batches are for admins; the rules of a collection
// are "" (everyone) or OwnerRule; a hidden document answers 404; logins are
// throttled per IP and per account (no refill) unless the bursts are
// raised; tokens expire.
type fakeBasalt struct {
	opts fakeOptions

	mu          sync.Mutex
	users       map[string]fakeAccount // by email, signed-up users
	tokens      map[string]fakeSession
	attempts    map[string]int    // login and sign-up attempts by "ip:…" and "email:…"
	collections map[string]string // name → the rule of every action
	docs        map[string]map[string]Doc
	// texts are the documents of text-searchable collections (as
	// TextCollectionSpec makes), in creation order.
	texts map[string][]TextDoc
	next  int

	// events are the change events of creates in Collection: its event
	// stream and the relay's metrics (fakeEvents).
	events *fakeEvents
}

type fakeAccount struct {
	id, password string
	admin        bool
}

type fakeSession struct {
	account fakeAccount
	expires time.Time
}

func newFakeBasalt(opts fakeOptions) http.Handler {
	f := &fakeBasalt{
		opts: opts, users: map[string]fakeAccount{}, tokens: map[string]fakeSession{}, attempts: map[string]int{},
		collections: map[string]string{}, docs: map[string]map[string]Doc{}, texts: map[string][]TextDoc{},
		events: &fakeEvents{token: os.Getenv(MetricsTokenEnv), kafka: opts.kafka != ""},
	}
	mux := http.NewServeMux()
	if f.events.token != "" {
		mux.Handle("GET /metrics", f.events)
	}
	mux.Handle("GET "+eventsPath, f.events)
	mux.Handle("GET "+fakeDocsPath+"/{id}/events", f.events)
	mux.Handle("PATCH "+fakeDocsPath+"/{id}", f.events)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("POST /v1/auth/signup", f.signUp)
	mux.HandleFunc("POST /v1/auth/login", f.login)
	mux.HandleFunc("GET /v1/auth/me", func(w http.ResponseWriter, r *http.Request) {
		caller, ok := f.caller(w, r)
		if !ok {
			return
		}
		if caller == nil {
			http.Error(w, "no caller", http.StatusUnauthorized)
			return
		}
		_, _ = fmt.Fprintf(w, `{"id":%q}`, caller.id)
	})
	mux.HandleFunc("POST /v1/collections", f.createCollection)
	mux.HandleFunc("POST /v1/batch", f.batch)
	mux.HandleFunc("POST /v1/collections/{c}/documents", f.create)
	mux.HandleFunc("GET /v1/collections/{c}/documents/{id}", f.get)
	mux.HandleFunc("GET /v1/collections/{c}/documents", func(w http.ResponseWriter, r *http.Request) {
		caller, ok := f.caller(w, r)
		if !ok {
			return
		}
		f.mu.Lock()
		rule, exists := f.collections[r.PathValue("c")]
		f.mu.Unlock()
		if !exists || (rule != "" && caller == nil) {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		f.mu.Lock()
		_, text := f.texts[r.PathValue("c")]
		f.mu.Unlock()
		if text {
			if q.Encode() != "limit=20" {
				http.Error(w, "bad list", http.StatusBadRequest)
				return
			}
			_, _ = w.Write([]byte(`{"items":[],"nextCursor":null}`))
			return
		}
		if !strings.HasPrefix(q.Get("filter"), "score >= ") || q.Get("sort") != "-score" || q.Get("limit") != "20" ||
			(q.Has("total") && q.Get("total") != "true") {
			http.Error(w, "bad list", http.StatusBadRequest)
			return
		}
		if q.Has("total") {
			f.mu.Lock()
			n := len(f.docs[r.PathValue("c")])
			f.mu.Unlock()
			_, _ = fmt.Fprintf(w, `{"items":[],"nextCursor":null,"total":%d,"totalCapped":false}`, n)
			return
		}
		_, _ = w.Write([]byte(`{"items":[],"nextCursor":null}`))
	})
	mux.HandleFunc("GET /v1/collections/{c}", f.collection)
	mux.HandleFunc("GET /v1/collections/{c}/search", f.search)
	return mux
}

// collection answers an admin's GET of a text-searchable collection with
// the status of its text index (always complete).
func (f *fakeBasalt) collection(w http.ResponseWriter, r *http.Request) {
	if !f.admin(w, r) {
		return
	}
	f.mu.Lock()
	docs, text := f.texts[r.PathValue("c")]
	f.mu.Unlock()
	if !text {
		http.NotFound(w, r)
		return
	}
	_, _ = fmt.Fprintf(w, `{"name":%q,"status":{"search":{"text":{"building":false,"indexed":%d,"total":%d}}}}`, r.PathValue("c"), len(docs), len(docs))
}

// search is a small full-text search of a text collection: a document
// matches when it holds every word of q (quotes ignored); with typo
// tolerance on (no typo=off) and fewer than 3 hits, words one letter away
// match too and the answer says fuzzy.
func (f *fakeBasalt) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	words := Words(q.Get("q"))
	typo := q.Get("typo")
	if len(words) == 0 || q.Get("limit") != "20" || (typo != "" && typo != "off") || len(q) != 2+min(len(typo), 1) {
		http.Error(w, "bad search", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	docs, text := f.texts[r.PathValue("c")]
	f.mu.Unlock()
	if !text {
		http.NotFound(w, r)
		return
	}
	match := func(near bool) int {
		hits := 0
		for _, d := range docs {
			have := Words(d.Title + " " + d.Body)
			all := true
			for _, qw := range words {
				all = all && slices.ContainsFunc(have, func(h string) bool { return h == qw || (near && oneLetterApart(h, qw)) })
			}
			if all {
				hits++
			}
		}
		return min(hits, 20)
	}
	hits, fuzzy := match(false), false
	if typo == "" && hits < 3 {
		hits, fuzzy = match(true), true
	}
	items := strings.TrimSuffix(strings.Repeat(`{"score":1},`, hits), ",")
	_, _ = fmt.Fprintf(w, `{"mode":"text","items":[%s],"fuzzy":%t}`, items, fuzzy)
}

// oneLetterApart reports whether a and b differ in exactly one letter.
func oneLetterApart(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	diff := 0
	for i := range len(a) {
		if a[i] != b[i] {
			diff++
		}
	}
	return diff == 1
}

// throttled counts an attempt under each key and reports whether one of
// them went over its burst.
func (f *fakeBasalt) throttled(keys map[string]int) bool {
	over := false
	for k, burst := range keys {
		f.attempts[k]++
		over = over || f.attempts[k] > burst
	}
	return over
}

func (f *fakeBasalt) decodeAccount(w http.ResponseWriter, r *http.Request) (Account, bool) {
	var a struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Device   string `json:"device"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil || a.Email == "" || len(a.Password) < 8 {
		http.Error(w, "bad account", http.StatusBadRequest)
		return Account{}, false
	}
	return Account{Email: a.Email, Password: a.Password}, true
}

func (f *fakeBasalt) signUp(w http.ResponseWriter, r *http.Request) {
	a, ok := f.decodeAccount(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.throttled(map[string]int{"ip:" + clientIP(r): f.opts.ipBurst}) {
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	if _, exists := f.users[a.Email]; !exists {
		f.next++
		f.users[a.Email] = fakeAccount{id: "acct-" + strconv.Itoa(f.next), password: a.Password}
	}
	w.WriteHeader(http.StatusAccepted)
}

func (f *fakeBasalt) login(w http.ResponseWriter, r *http.Request) {
	a, ok := f.decodeAccount(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.throttled(map[string]int{"ip:" + clientIP(r): f.opts.ipBurst, "email:" + a.Email: f.opts.emailBurst}) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	acct, exists := f.users[a.Email]
	if !exists {
		// The admin lives in the data directory, written by "admin create".
		b, err := os.ReadFile(filepath.Join(f.opts.dataDir, fakeAdminFile))
		var admin Account
		if err == nil && json.Unmarshal(b, &admin) == nil && admin.Email == a.Email {
			acct, exists = fakeAccount{id: "admin-1", password: admin.Password, admin: true}, true
		}
	}
	if !exists || acct.password != a.Password {
		http.Error(w, "invalid email or password", http.StatusUnauthorized)
		return
	}
	f.next++
	token := "tok-" + strconv.Itoa(f.next)
	f.tokens[token] = fakeSession{account: acct, expires: time.Now().Add(f.opts.ttl)}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"accessToken":%q,"tokenType":"Bearer","expiresIn":%d,"refreshToken":"bsr_x"}`, token, int(f.opts.ttl.Seconds()))
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// caller is the account of the request's bearer token; nil for anonymous
// requests. An invalid or expired token is answered 401 (ok = false).
func (f *fakeBasalt) caller(w http.ResponseWriter, r *http.Request) (*fakeAccount, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, true
	}
	token, found := strings.CutPrefix(h, "Bearer ")
	f.mu.Lock()
	s, exists := f.tokens[token]
	f.mu.Unlock()
	if !found || !exists || time.Now().After(s.expires) {
		http.Error(w, "invalid or expired access token", http.StatusUnauthorized)
		return nil, false
	}
	return &s.account, true
}

// admin answers 401 or 403 unless the caller is an admin.
func (f *fakeBasalt) admin(w http.ResponseWriter, r *http.Request) bool {
	caller, ok := f.caller(w, r)
	switch {
	case !ok:
		return false
	case caller == nil:
		http.Error(w, "sign in", http.StatusUnauthorized)
		return false
	case !caller.admin:
		http.Error(w, "admins only", http.StatusForbidden)
		return false
	}
	return true
}

// allowed applies rule to caller and a document's owner.
func allowed(rule string, caller *fakeAccount, owner string) bool {
	switch {
	case caller != nil && caller.admin:
		return true
	case rule == "":
		return true
	default: // OwnerRule
		return caller != nil && owner == caller.id
	}
}

func (f *fakeBasalt) createCollection(w http.ResponseWriter, r *http.Request) {
	if !f.admin(w, r) {
		return
	}
	var spec struct {
		Name   string             `json:"name"`
		Schema json.RawMessage    `json:"schema"`
		Rules  map[string]*string `json:"rules"`
		Search *struct {
			Text struct {
				Fields map[string]int `json:"fields"`
			} `json:"text"`
		} `json:"search"`
	}
	if err := json.NewDecoder(r.Body).Decode(&spec); err != nil || spec.Name == "" || len(spec.Schema) == 0 {
		http.Error(w, "bad collection", http.StatusBadRequest)
		return
	}
	if spec.Search != nil {
		// A text collection: listed and read by everyone, searchable.
		if l, g := spec.Rules["list"], spec.Rules["get"]; l == nil || g == nil || *l != "" || *g != "" || len(spec.Rules) != 2 ||
			len(spec.Search.Text.Fields) == 0 {
			http.Error(w, "bad text collection", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, exists := f.collections[spec.Name]; exists {
			http.Error(w, "exists", http.StatusConflict)
			return
		}
		f.collections[spec.Name] = ""
		f.texts[spec.Name] = []TextDoc{}
		w.WriteHeader(http.StatusCreated)
		return
	}
	// The bench sets all five rules to one value that the fake knows.
	var rule *string
	for _, action := range []string{"list", "get", "create", "update", "delete"} {
		v := spec.Rules[action]
		if v == nil || (*v != "" && *v != OwnerRule) || (rule != nil && *v != *rule) {
			http.Error(w, "bad rules", http.StatusBadRequest)
			return
		}
		rule = v
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, exists := f.collections[spec.Name]; exists {
		http.Error(w, "exists", http.StatusConflict)
		return
	}
	f.collections[spec.Name] = *rule
	f.docs[spec.Name] = map[string]Doc{}
	w.WriteHeader(http.StatusCreated)
}

// put stores d in collection c; f.mu must be held.
func (f *fakeBasalt) put(c string, d Doc) string {
	f.next++
	id := "doc-" + strconv.Itoa(f.next)
	f.docs[c][id] = d
	return id
}

func (f *fakeBasalt) batch(w http.ResponseWriter, r *http.Request) {
	if !f.admin(w, r) {
		return
	}
	var b struct {
		Operations []struct {
			Op         string          `json:"op"`
			Collection string          `json:"collection"`
			Data       json.RawMessage `json:"data"`
		} `json:"operations"`
	}
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil || len(b.Operations) > MaxBatch {
		http.Error(w, "bad batch", http.StatusBadRequest)
		return
	}
	type result struct {
		Op string `json:"op"`
		ID string `json:"id"`
	}
	out := struct {
		Results []result `json:"results"`
	}{}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, op := range b.Operations {
		if _, exists := f.collections[op.Collection]; !exists {
			http.Error(w, "no collection "+op.Collection, http.StatusNotFound)
			return
		}
	}
	for _, op := range b.Operations {
		if texts, ok := f.texts[op.Collection]; ok {
			var d TextDoc
			dec := json.NewDecoder(strings.NewReader(string(op.Data)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&d); err != nil || d.Title == "" || d.Body == "" {
				http.Error(w, "bad text document", http.StatusBadRequest)
				return
			}
			f.texts[op.Collection] = append(texts, d)
			f.next++
			out.Results = append(out.Results, result{Op: op.Op, ID: "text-" + strconv.Itoa(f.next)})
			continue
		}
		var d Doc
		if err := json.Unmarshal(op.Data, &d); err != nil {
			http.Error(w, "bad document", http.StatusBadRequest)
			return
		}
		out.Results = append(out.Results, result{Op: op.Op, ID: f.put(op.Collection, d)})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (f *fakeBasalt) create(w http.ResponseWriter, r *http.Request) {
	caller, ok := f.caller(w, r)
	if !ok {
		return
	}
	var d Doc
	if err := json.NewDecoder(r.Body).Decode(&d); err != nil || d.Title == "" {
		http.Error(w, "bad document", http.StatusBadRequest)
		return
	}
	c := r.PathValue("c")
	f.mu.Lock()
	defer f.mu.Unlock()
	rule, exists := f.collections[c]
	switch {
	case !exists:
		http.NotFound(w, r)
	case !allowed(rule, caller, d.Owner):
		http.Error(w, "forbidden", http.StatusForbidden)
	default:
		id := f.put(c, d)
		if c == Collection {
			f.events.emit(id, 1)
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"id":%q,"version":1}`, id)
	}
}

func (f *fakeBasalt) get(w http.ResponseWriter, r *http.Request) {
	caller, ok := f.caller(w, r)
	if !ok {
		return
	}
	c, id := r.PathValue("c"), r.PathValue("id")
	f.mu.Lock()
	rule := f.collections[c]
	d, exists := f.docs[c][id]
	f.mu.Unlock()
	if !exists || !allowed(rule, caller, d.Owner) {
		http.NotFound(w, r)
		return
	}
	b, err := json.Marshal(d)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = fmt.Fprintf(w, `{"id":%q,"collection":%q,"data":%s}`, id, c, b)
}
