package load

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"google.golang.org/protobuf/proto"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
)

func TestConnectGetTargeter(t *testing.T) {
	ids := []string{"a", "b", "c"}
	for _, get := range []bool{false, true} {
		tr, err := ConnectGetTargeter("https://127.0.0.1:1", "posts", ids, get)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for range 200 {
			var tg vegeta.Target
			if err := tr(&tg); err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(tg.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, method := tg.Body, http.MethodPost
			if get {
				method = http.MethodGet
				q := u.Query()
				if q.Get("connect") != "v1" || q.Get("encoding") != "proto" || q.Get("base64") != "1" || len(tg.Body) != 0 {
					t.Fatalf("GET %s with a %d-byte body", tg.URL, len(tg.Body))
				}
				if body, err = base64.RawURLEncoding.DecodeString(q.Get("message")); err != nil {
					t.Fatal(err)
				}
			} else if tg.Header.Get("Content-Type") != "application/proto" || u.RawQuery != "" {
				t.Fatalf("POST %s %v", tg.URL, tg.Header)
			}
			var req basaltv1.GetDocumentRequest
			if err := proto.Unmarshal(body, &req); err != nil {
				t.Fatal(err)
			}
			if tg.Method != method || u.Path != "/basalt.v1.DocumentService/GetDocument" || req.GetCollection() != "posts" {
				t.Fatalf("target %s %s %v: %v", tg.Method, tg.URL, tg.Header, &req)
			}
			seen[req.GetId()] = true
		}
		if len(seen) != len(ids) {
			t.Errorf("get %v: ids drawn: %v", get, seen)
		}
	}
	if _, err := ConnectGetTargeter("x", "posts", nil, false); err == nil {
		t.Error("no ids: no error")
	}
}

// TestTransportsTarget: the scenario fails when Connect keeps less than
// the target of REST's throughput at full speed, whatever HTTP/3 does.
func TestTransportsTarget(t *testing.T) {
	step := func(rps float64) StepResult { return StepResult{Requests: 1000, Throughput: rps} }
	for _, tc := range []struct {
		connect, h3 float64
		want        string
	}{{950, 500, VerdictPass}, {850, 1200, VerdictFail}} {
		r := &CompareReport{Variants: TransportVariants(), MinConnectRatio: 0.9,
			Lines: []CompareLine{
				{Request: CompareGet, Variant: VariantRESTHTTP2, Search: SearchResult{Best: &StepResult{Rate: 1000}}},
				{Request: CompareGet, Variant: VariantConnectHTTP2, Search: SearchResult{Best: &StepResult{Rate: 1000}}},
				{Request: CompareGet, Variant: VariantConnectGetHTTP2, Search: SearchResult{Best: &StepResult{Rate: 1000}}},
				{Request: CompareGet, Variant: VariantRESTHTTP3, Search: SearchResult{Best: &StepResult{Rate: 1000}}},
			},
			Full: []FullSpeedReport{{Request: CompareGet, Rounds: [][]StepResult{{step(1000), step(tc.connect), step(1000), step(tc.h3)}}}},
		}
		if got, notes := r.evaluate(DefaultCriteria()); got != tc.want {
			t.Errorf("connect %v, h3 %v: %s (%v), want %s", tc.connect, tc.h3, got, notes, tc.want)
		}
	}
}

// TestRunTransports runs the scenario against a real Basalt (the imitation
// of the other tests speaks neither TLS, HTTP/3 nor Connect): every
// transport is served, and each variant has its line and its rounds.
func TestRunTransports(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "basalt")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/basalt").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := testConfig(t)
	var log bytes.Buffer
	cfg.Log = &log
	cfg.BasaltPath = bin
	cfg.Scenarios = []string{ScenarioTransports}
	cfg.Compare.Docs, cfg.Compare.Rounds, cfg.Compare.Workers = 40, 2, 4
	cfg.Compare.MinConnectRatio = 0 // the point is the plumbing, not the numbers
	cfg.Search.Criteria.MinThroughputRatio = 0.5
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg, Environment{})
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	if len(rep.Scenarios) != 1 {
		t.Fatalf("scenarios %+v", rep.Scenarios)
	}
	s := rep.Scenarios[0]
	cr := s.Compare
	if s.Err != "" || cr == nil || s.Verdict != VerdictPass {
		t.Fatalf("verdict %s, error %q, notes %v\nlog:\n%s", s.Verdict, s.Err, s.Notes, log.String())
	}
	if n := len(TransportVariants()); len(cr.Lines) != n || len(cr.Full) != 1 || len(cr.Full[0].Rounds) != 2 || len(cr.Full[0].Ratio) != n {
		t.Fatalf("%d lines, full %+v", len(cr.Lines), cr.Full)
	}
	for _, round := range cr.Full[0].Rounds {
		for v, st := range round {
			if st.Requests == 0 || st.Errors != 0 {
				t.Errorf("%s: %d requests, %d errors (%v %v)", cr.Variants[v].Name, st.Requests, st.Errors, st.StatusCodes, st.ErrorSamples)
			}
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "one Basalt with TLS") || !strings.Contains(md.String(), "connect-get-h2") || !strings.Contains(md.String(), "rest-h3") {
		t.Errorf("markdown:\n%s", md.String())
	}
}
