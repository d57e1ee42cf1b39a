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

// Client makes a run's set-up calls to Basalt's REST API: accounts,
// collections and seeding. The measured load goes through vegeta instead.
type Client struct {
	// BaseURL is Basalt's http://host:port.
	BaseURL string
	// HTTP sends the requests.
	HTTP *http.Client
}

// CreateCollection creates a collection from spec (see CollectionSpec) as
// the caller whose access token is token (an admin: collections are
// managed by admins only).
func (c Client) CreateCollection(ctx context.Context, token string, spec []byte) error {
	if _, err := c.call(ctx, http.MethodPost, "/v1/collections", token, spec); err != nil {
		return fmt.Errorf("load: create collection: %w", err)
	}
	return nil
}

// SeedSpec says which documents Seed creates.
type SeedSpec struct {
	// Collection receives the documents.
	Collection string
	// Owner, when not empty, is the owner field of every document;
	// otherwise it is drawn like the other fields.
	Owner string
	// Docs is the number of documents, created in batches of BatchSize
	// with Workers concurrent batches.
	Docs, BatchSize, Workers int
	// Seed draws the documents' content: the same seed gives the same
	// documents.
	Seed uint64
	// Make, when not nil, returns the data of document i instead (Owner
	// and Seed are then unused).
	Make func(i int) any
}

// Seed creates the documents of spec through POST /v1/batch as the caller
// whose access token is token, and returns their ids in creation order.
// progress, when not nil, is called after each batch with the number of
// documents created so far.
func (c Client) Seed(ctx context.Context, token string, spec SeedSpec, progress func(done int)) ([]string, error) {
	n, batchSize, workers := spec.Docs, spec.BatchSize, spec.Workers
	if n < 1 || batchSize < 1 || batchSize > MaxBatch || workers < 1 {
		return nil, fmt.Errorf("load: seed needs n ≥ 1, 1 ≤ batch size ≤ %d and workers ≥ 1 (got %d, %d, %d)", MaxBatch, n, batchSize, workers)
	}
	type op struct {
		Op         string `json:"op"`
		Collection string `json:"collection"`
		Data       any    `json:"data"`
	}
	r := rand.New(rand.NewPCG(spec.Seed, 0x5eed))
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
			if spec.Make != nil {
				ops = append(ops, op{Op: "create", Collection: spec.Collection, Data: spec.Make(i)})
				continue
			}
			d := NewDoc(r, "doc", i)
			if spec.Owner != "" {
				d.Owner = spec.Owner
			}
			ops = append(ops, op{Op: "create", Collection: spec.Collection, Data: d})
		}
		body, err := json.Marshal(map[string]any{"operations": ops})
		if err != nil {
			return nil, fmt.Errorf("load: encode batch: %w", err)
		}
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			resp, err := c.call(gctx, http.MethodPost, "/v1/batch", token, body)
			if err != nil {
				return fmt.Errorf("load: seed %s batch at %d: %w", spec.Collection, start, err)
			}
			got, err := batchIDs(resp)
			if err != nil {
				return fmt.Errorf("load: seed %s batch at %d: %w", spec.Collection, start, err)
			}
			if len(got) != end-start {
				return fmt.Errorf("load: seed %s batch at %d: %d ids for %d operations", spec.Collection, start, len(got), end-start)
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

// call sends body (nil for none) to path with token (when not empty) as a
// bearer token, and returns the answer of a 2xx, or an error carrying the
// status and the start of the problem document.
func (c Client) call(ctx context.Context, method, path, token string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header = jsonHeader(token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(out[:min(len(out), 300)]))
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
