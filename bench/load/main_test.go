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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestMain lets the test binary stand in for the servers under test: run as
// "TESTBIN hello --addr A" it is the hello reference, and as "TESTBIN serve
// --addr A --data-dir D" a small in-memory imitation of Basalt's REST API.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "hello" || os.Args[1] == "serve") {
		os.Exit(childServer(os.Args[1], os.Args[2:]))
	}
	os.Exit(m.Run())
}

func childServer(mode string, args []string) int {
	fs := flag.NewFlagSet(mode, flag.ContinueOnError)
	addr := fs.String("addr", "", "")
	fs.String("data-dir", "", "")
	db := fs.String("db", "", "")
	if err := fs.Parse(args); err != nil {
		return 2
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
	srv := &http.Server{Handler: newFakeBasalt()}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	_ = srv.Serve(ln)
	return 0
}

// fakeBasalt answers the few REST calls the load generator makes, keeping
// documents in memory.
type fakeBasalt struct {
	mu   sync.Mutex
	docs map[string]json.RawMessage
	next int
}

func newFakeBasalt() http.Handler {
	f := &fakeBasalt{docs: map[string]json.RawMessage{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("POST /v1/collections", func(w http.ResponseWriter, r *http.Request) {
		var spec struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(r.Body).Decode(&spec); err != nil || spec.Name != Collection {
			http.Error(w, "bad collection", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("POST /v1/batch", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Operations []struct {
				Op   string          `json:"op"`
				Data json.RawMessage `json:"data"`
			} `json:"operations"`
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || len(b.Operations) > 100 {
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
		for _, op := range b.Operations {
			out.Results = append(out.Results, result{Op: op.Op, ID: f.put(op.Data)})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("POST /v1/collections/bench/documents", func(w http.ResponseWriter, r *http.Request) {
		var data json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&data); err != nil {
			http.Error(w, "bad document", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"id":%q}`, f.put(data))
	})
	mux.HandleFunc("GET /v1/collections/bench/documents/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		data, ok := f.docs[r.PathValue("id")]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = fmt.Fprintf(w, `{"id":%q,"data":%s}`, r.PathValue("id"), data)
	})
	mux.HandleFunc("GET /v1/collections/bench/documents", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if !strings.HasPrefix(q.Get("filter"), "score >= ") || q.Get("sort") != "-score" || q.Get("limit") != "20" {
			http.Error(w, "bad list", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(`{"items":[],"nextCursor":null}`))
	})
	return mux
}

func (f *fakeBasalt) put(data json.RawMessage) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	id := "doc-" + strconv.Itoa(f.next)
	f.docs[id] = data
	return id
}
