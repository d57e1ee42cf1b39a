package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"

	"golang.org/x/sync/errgroup"
)

// MaxBatch is the most operations Basalt accepts in one POST /v1/batch.
const MaxBatch = 100

// Seeder fills the bench collection of a Basalt server.
type Seeder struct {
	// BaseURL is Basalt's http://host:port.
	BaseURL string
	// Token, when set, is sent as a bearer token.
	Token string
	// Client sends the requests.
	Client *http.Client
}

// CreateCollection creates the bench collection (CollectionSpec).
func (s Seeder) CreateCollection(ctx context.Context) error {
	if _, err := s.post(ctx, "/v1/collections", []byte(CollectionSpec)); err != nil {
		return fmt.Errorf("load: create collection %q: %w", Collection, err)
	}
	return nil
}

// Seed creates n documents in batches of batchSize with workers concurrent
// batches, drawing their content from seed, and returns their ids in
// creation order. progress, when not nil, is called after each batch with
// the number of documents created so far.
func (s Seeder) Seed(ctx context.Context, n, batchSize, workers int, seed uint64, progress func(done int)) ([]string, error) {
	if n < 1 || batchSize < 1 || batchSize > MaxBatch || workers < 1 {
		return nil, fmt.Errorf("load: seed needs n ≥ 1, 1 ≤ batch size ≤ %d and workers ≥ 1 (got %d, %d, %d)", MaxBatch, n, batchSize, workers)
	}
	type op struct {
		Op         string `json:"op"`
		Collection string `json:"collection"`
		Data       Doc    `json:"data"`
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	ids := make([]string, n)
	var (
		mu   sync.Mutex
		done int
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for start := 0; start < n; start += batchSize {
		end := min(start+batchSize, n)
		ops := make([]op, 0, end-start)
		for i := start; i < end; i++ {
			ops = append(ops, op{Op: "create", Collection: Collection, Data: NewDoc(r, "doc", i)})
		}
		body, err := json.Marshal(map[string]any{"operations": ops})
		if err != nil {
			return nil, fmt.Errorf("load: encode batch: %w", err)
		}
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			resp, err := s.post(gctx, "/v1/batch", body)
			if err != nil {
				return fmt.Errorf("load: seed batch at %d: %w", start, err)
			}
			got, err := batchIDs(resp)
			if err != nil {
				return fmt.Errorf("load: seed batch at %d: %w", start, err)
			}
			if len(got) != end-start {
				return fmt.Errorf("load: seed batch at %d: %d ids for %d operations", start, len(got), end-start)
			}
			copy(ids[start:end], got)
			if progress != nil {
				mu.Lock()
				done += len(got)
				progress(done)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load: seed: %w", err)
	}
	return ids, nil
}

// post sends body to path and returns the answer of a 2xx, or an error
// carrying the status and the start of the problem document.
func (s Seeder) post(ctx context.Context, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header = jsonHeader(s.Token)
	resp, err := s.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("POST %s: read answer: %w", path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("POST %s: status %d: %s", path, resp.StatusCode, bytes.TrimSpace(out[:min(len(out), 300)]))
	}
	return out, nil
}

// batchIDs extracts the document ids from a batch answer. It accepts the
// results as a top-level array or under "results", "operations" or "items",
// each carrying "id" or "document.id".
func batchIDs(answer []byte) ([]string, error) {
	type result struct {
		ID       string `json:"id"`
		Document *struct {
			ID string `json:"id"`
		} `json:"document"`
	}
	var list []result
	if err := json.Unmarshal(answer, &list); err != nil {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(answer, &obj); err != nil {
			return nil, fmt.Errorf("decode batch answer: %w", err)
		}
		for _, key := range []string{"results", "operations", "items"} {
			if raw, ok := obj[key]; ok {
				if err := json.Unmarshal(raw, &list); err != nil {
					return nil, fmt.Errorf("decode batch answer %q: %w", key, err)
				}
				break
			}
		}
	}
	ids := make([]string, 0, len(list))
	for i, r := range list {
		id := r.ID
		if id == "" && r.Document != nil {
			id = r.Document.ID
		}
		if id == "" {
			return nil, fmt.Errorf("batch answer: result %d has no id", i)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, errors.New("batch answer holds no results")
	}
	return ids, nil
}
