package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/basaltdev/basalt/internal/ratelimit"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
)

// Defaults and bounds of OpenAIOptions.
const (
	DefaultBatchSize     = 64
	MaxBatchSize         = 2048
	DefaultMaxBatchChars = 200_000
	DefaultTimeout       = 60 * time.Second
	DefaultMaxRetries    = 4
	MaxRetries           = 20
	MaxConcurrency       = 16
	MaxOpenAIDimensions  = 65536
	// MaxResponseBytes bounds the body of one answer of the server.
	MaxResponseBytes = 64 << 20
	// MaxRetryWait is the longest wait before a retry: a server asking
	// (with Retry-After) to wait longer fails the call at once with an
	// error wrapping ErrTemporary whose APIError.RetryAfter says how long.
	MaxRetryWait = 2 * time.Minute
)

// Backoff between retries: attempt a (from 0) waits a random duration in
// [d/2, d) with d = backoffBase·2^a, at most backoffMax.
const (
	backoffBase = 500 * time.Millisecond
	backoffMax  = 30 * time.Second
)

// maxMessage bounds the part of a server's error message an error quotes.
const maxMessage = 300

// OpenAIOptions configure an OpenAI client. The zero value of a field
// means its default.
type OpenAIOptions struct {
	// BaseURL is the server's address, http or https, such as
	// "https://api.openai.com" or "http://127.0.0.1:11434" (Ollama);
	// requests go to BaseURL + "/v1/embeddings". A BaseURL that ends with
	// "/v1" or "/v1/embeddings" already is taken as it is.
	BaseURL string
	// Model is the embedding model the server runs, such as
	// "text-embedding-3-small" or "nomic-embed-text". Required.
	Model string
	// APIKey, if set, is sent as "Authorization: Bearer <APIKey>". It
	// never appears in an error or in String.
	APIKey string
	// Dimensions is the length of the model's vectors. Required: every
	// vector the server returns is checked against it.
	Dimensions int
	// SendDimensions asks the server for vectors of Dimensions (the
	// request's "dimensions" member): for models that can shorten their
	// vectors (OpenAI's text-embedding-3-*). Other models refuse it.
	SendDimensions bool
	// BatchSize is the most texts one request carries (default 64, at
	// most 2048).
	BatchSize int
	// MaxBatchChars is the most bytes of text one request carries
	// (default 200,000); a longer text goes alone.
	MaxBatchChars int
	// MaxTextBytes, if positive, cuts each text to at most that many
	// bytes (whole UTF-8 sequences) before sending it, so that a long
	// document is embedded by its beginning instead of failing for the
	// model's context length; 0: texts are sent whole.
	MaxTextBytes int
	// Concurrency is how many requests of one Embed call run at once
	// (default 1, at most 16).
	Concurrency int
	// Timeout bounds each request, answer included (default 60 s).
	Timeout time.Duration
	// MaxRetries is how many times a request that failed temporarily
	// (network error, timeout, 408, 429, 5xx) is retried (default 4, at
	// most 20; negative: never).
	MaxRetries int
	// RequestsPerSecond limits the rate of requests, retries included;
	// 0: unlimited.
	RequestsPerSecond float64
	// RateBurst is how many requests may start at once under the rate
	// limit (default: RequestsPerSecond rounded up, at least 1).
	RateBurst int
	// Limiter enforces the rate limit; nil: an in-process limiter. A
	// cluster-wide limiter (Redis) makes every process share the rate.
	Limiter ratelimit.Limiter
	// HTTPClient sends the requests; nil: a client of its own over
	// http.DefaultTransport. Its Timeout should be 0 (Timeout applies).
	HTTPClient *http.Client
}

// String describes the options without the API key.
func (o OpenAIOptions) String() string {
	key := "none"
	if o.APIKey != "" {
		key = "set"
	}
	return fmt.Sprintf("openai{url=%s model=%q key=%s dimensions=%d send_dimensions=%t batch=%d batch_chars=%d max_text=%d concurrency=%d timeout=%v retries=%d rate=%v burst=%d}",
		o.BaseURL, o.Model, key, o.Dimensions, o.SendDimensions, o.BatchSize, o.MaxBatchChars,
		o.MaxTextBytes, o.Concurrency, o.Timeout, o.MaxRetries, o.RequestsPerSecond, o.RateBurst)
}

// OpenAI is an embedder that calls a server speaking the OpenAI
// embeddings API (POST /v1/embeddings): OpenAI itself, Ollama, vLLM, the
// llama.cpp server and others. One Embed call splits its texts into
// batches (BatchSize, MaxBatchChars), sends them (Concurrency at once)
// under the rate limit, retries what failed temporarily with exponential
// backoff and jitter (or after the server's Retry-After), and checks
// every vector (count, Dimensions, finite values). It is safe for
// concurrent use.
type OpenAI struct {
	opts     OpenAIOptions
	endpoint string
	client   *http.Client
	limiter  ratelimit.Limiter
	limit    ratelimit.Limit
	rateKey  string

	// Replaced by tests.
	now         func() time.Time
	sleep       func(ctx context.Context, d time.Duration) error
	jitter      func() float64 // in [0, 1)
	maxResponse int64
}

var _ Embedder = (*OpenAI)(nil)

// NewOpenAI checks opts, fills in the defaults and returns the client.
func NewOpenAI(opts OpenAIOptions) (*OpenAI, error) {
	endpoint, err := embeddingsURL(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	if opts.Model == "" || len(opts.Model) > 256 || strings.ContainsFunc(opts.Model, isControl) {
		return nil, errors.New("embed: the model must be 1 to 256 bytes without control characters")
	}
	for i := 0; i < len(opts.APIKey); i++ {
		if c := opts.APIKey[i]; c < 0x21 || c > 0x7e {
			return nil, errors.New("embed: the API key must be printable ASCII without spaces")
		}
	}
	if opts.Dimensions < 1 || opts.Dimensions > MaxOpenAIDimensions {
		return nil, fmt.Errorf("embed: dimensions %d must be 1 to %d", opts.Dimensions, MaxOpenAIDimensions)
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.BatchSize < 1 || opts.BatchSize > MaxBatchSize {
		return nil, fmt.Errorf("embed: batch size %d must be 1 to %d", opts.BatchSize, MaxBatchSize)
	}
	if opts.MaxBatchChars == 0 {
		opts.MaxBatchChars = DefaultMaxBatchChars
	}
	if opts.MaxBatchChars < 1 {
		return nil, fmt.Errorf("embed: max batch chars %d must be positive", opts.MaxBatchChars)
	}
	if opts.MaxTextBytes < 0 {
		return nil, fmt.Errorf("embed: max text bytes %d must not be negative", opts.MaxTextBytes)
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 1
	}
	if opts.Concurrency < 1 || opts.Concurrency > MaxConcurrency {
		return nil, fmt.Errorf("embed: concurrency %d must be 1 to %d", opts.Concurrency, MaxConcurrency)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("embed: timeout %v must be positive", opts.Timeout)
	}
	switch {
	case opts.MaxRetries == 0:
		opts.MaxRetries = DefaultMaxRetries
	case opts.MaxRetries < 0:
		opts.MaxRetries = 0
	case opts.MaxRetries > MaxRetries:
		return nil, fmt.Errorf("embed: max retries %d must be at most %d", opts.MaxRetries, MaxRetries)
	}
	o := &OpenAI{
		endpoint:    endpoint,
		client:      opts.HTTPClient,
		now:         time.Now,
		sleep:       sleepContext,
		jitter:      rand.Float64,
		maxResponse: MaxResponseBytes,
	}
	if o.client == nil {
		o.client = &http.Client{}
	}
	if r := opts.RequestsPerSecond; r != 0 {
		if opts.RateBurst == 0 && r > 0 && !math.IsInf(r, 0) {
			opts.RateBurst = max(1, int(math.Min(math.Ceil(r), 1e6)))
		}
		o.limit = ratelimit.Limit{Rate: r, Burst: opts.RateBurst}
		if err := o.limit.Validate(); err != nil {
			return nil, fmt.Errorf("embed: rate limit: %w", err)
		}
		o.limiter = opts.Limiter
		if o.limiter == nil {
			o.limiter = memory.New(func() time.Time { return o.now() }, 1)
		}
		o.rateKey = "embed:" + endpoint + " " + opts.Model
	}
	o.opts = opts
	return o, nil
}

// embeddingsURL checks base and returns the embeddings endpoint.
func embeddingsURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", errors.New("embed: the base URL does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("embed: the base URL must be http or https, not %q", u.Scheme)
	}
	if u.Host == "" {
		return "", errors.New("embed: the base URL has no host")
	}
	if u.User != nil {
		return "", errors.New("embed: the base URL must not hold credentials (use the API key)")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", errors.New("embed: the base URL must not have a query or fragment")
	}
	p := strings.TrimRight(u.Path, "/")
	switch {
	case strings.HasSuffix(p, "/v1/embeddings"):
	case strings.HasSuffix(p, "/v1"):
		p += "/embeddings"
	default:
		p += "/v1/embeddings"
	}
	u.Path, u.RawPath = p, ""
	return u.String(), nil
}

// Name returns "openai:" followed by the model.
func (o *OpenAI) Name() string { return "openai:" + o.opts.Model }

// Dimensions returns the configured dimensions.
func (o *OpenAI) Dimensions() int { return o.opts.Dimensions }

// Options returns the options in use, defaults filled in.
func (o *OpenAI) Options() OpenAIOptions { return o.opts }

// Embed returns the vectors of texts, in order. It fails with ErrEmpty
// before any request if a text is blank; with an error wrapping
// ErrTemporary if a request still failed temporarily after the retries;
// with an *APIError that does not wrap ErrTemporary if the server refused
// a request (another 4xx: a text too long, a wrong model or API key);
// with an error wrapping ErrDimensions if the server's vectors have other
// dimensions; with an error wrapping ctx's error if ctx ended.
func (o *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := checkBlank(texts); err != nil {
		return nil, err
	}
	if m := o.opts.MaxTextBytes; m > 0 {
		var cut []string
		for i, t := range texts {
			if len(t) > m {
				if cut == nil {
					cut = slices.Clone(texts)
				}
				cut[i] = cutUTF8(t, m)
			}
		}
		if cut != nil {
			texts = cut
		}
	}
	out := make([][]float32, len(texts))
	batches := o.batches(texts)
	if o.opts.Concurrency == 1 || len(batches) == 1 {
		for _, b := range batches {
			vs, err := o.embedBatch(ctx, texts[b[0]:b[1]])
			if err != nil {
				return nil, err
			}
			copy(out[b[0]:], vs)
		}
		return out, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.opts.Concurrency)
	for _, b := range batches {
		g.Go(func() error {
			vs, err := o.embedBatch(gctx, texts[b[0]:b[1]])
			if err != nil {
				return err
			}
			copy(out[b[0]:], vs)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// batches splits texts into [from, to) ranges of at most BatchSize texts
// and MaxBatchChars bytes (a longer text alone).
func (o *OpenAI) batches(texts []string) [][2]int {
	var out [][2]int
	start, chars := 0, 0
	for i, t := range texts {
		if i > start && (i-start >= o.opts.BatchSize || chars+len(t) > o.opts.MaxBatchChars) {
			out = append(out, [2]int{start, i})
			start, chars = i, 0
		}
		chars += len(t)
	}
	if start < len(texts) {
		out = append(out, [2]int{start, len(texts)})
	}
	return out
}

// embedBatch sends one batch, with the retries.
func (o *OpenAI) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	for attempt := 0; ; attempt++ {
		if err := o.wait(ctx); err != nil {
			return nil, err
		}
		vs, err := o.post(ctx, texts)
		if err == nil {
			return vs, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("embed: %w", context.Cause(ctx))
		}
		if !errors.Is(err, ErrTemporary) || attempt >= o.opts.MaxRetries {
			return nil, err
		}
		d := o.backoff(attempt)
		var ae *APIError
		if errors.As(err, &ae) && ae.RetryAfter > 0 {
			d = ae.RetryAfter
		}
		if d > MaxRetryWait {
			return nil, err
		}
		if deadline, ok := ctx.Deadline(); ok && o.now().Add(d).After(deadline) {
			return nil, err
		}
		if err := o.sleep(ctx, d); err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
	}
}

func (o *OpenAI) backoff(attempt int) time.Duration {
	d := backoffMax
	if attempt < 16 {
		d = min(backoffBase<<attempt, backoffMax)
	}
	return d/2 + time.Duration(o.jitter()*float64(d/2))
}

// wait blocks until the rate limit admits one request.
func (o *OpenAI) wait(ctx context.Context) error {
	if o.limiter == nil {
		return nil
	}
	for {
		d, err := o.limiter.Allow(ctx, o.rateKey, o.limit, 1)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("embed: %w", context.Cause(ctx))
			}
			return fmt.Errorf("embed: rate limiter: %w: %w", ErrTemporary, err)
		}
		if d.Allowed {
			return nil
		}
		if err := o.sleep(ctx, max(d.RetryAfter, time.Microsecond)); err != nil {
			return fmt.Errorf("embed: %w", err)
		}
	}
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// embeddingsRequest is the body of POST /v1/embeddings.
type embeddingsRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	EncodingFormat string   `json:"encoding_format"`
	Dimensions     int      `json:"dimensions,omitempty"`
}

// post sends one request, once.
func (o *OpenAI) post(ctx context.Context, texts []string) ([][]float32, error) {
	req := embeddingsRequest{Model: o.opts.Model, Input: texts, EncodingFormat: "float"}
	if o.opts.SendDimensions {
		req.Dimensions = o.opts.Dimensions
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("embed: encoding the request: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, o.opts.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(rctx, http.MethodPost, o.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	if o.opts.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+o.opts.APIKey)
	}
	resp, err := o.client.Do(hreq)
	if err != nil {
		return nil, o.transportError(ctx, rctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, o.maxResponse+1))
	if err != nil {
		return nil, o.transportError(ctx, rctx, err)
	}
	if int64(len(data)) > o.maxResponse {
		return nil, fmt.Errorf("embed: %s: the answer is larger than %d bytes (lower the batch size)", o.endpoint, o.maxResponse)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, o.apiError(resp, data)
	}
	vs, err := decodeResponse(data, len(texts), o.opts.Dimensions)
	if err != nil {
		return nil, fmt.Errorf("embed: %s: %w", o.endpoint, err)
	}
	return vs, nil
}

// transportError describes a failure to send a request or read its
// answer: temporary, unless ctx (the caller's) ended.
func (o *OpenAI) transportError(ctx, rctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("embed: %w", context.Cause(ctx))
	}
	if rctx.Err() != nil {
		return fmt.Errorf("embed: %s: %w: no answer within %v", o.endpoint, ErrTemporary, o.opts.Timeout)
	}
	return fmt.Errorf("embed: %s: %w: %w", o.endpoint, ErrTemporary, err)
}

// APIError is a server's refusal of a request: an HTTP status other than
// 2xx. It wraps ErrTemporary for the statuses a retry may fix (408, 429
// and 5xx).
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Message is the server's error message (or the start of its body),
	// at most 300 bytes, with the API key removed.
	Message string
	// RetryAfter is the wait the server asked for (Retry-After), if any.
	RetryAfter time.Duration

	temporary bool
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("embed: the embedding server answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is reports whether target is ErrTemporary and the refusal temporary.
func (e *APIError) Is(target error) bool { return target == ErrTemporary && e.temporary }

func (o *OpenAI) apiError(resp *http.Response, body []byte) *APIError {
	e := &APIError{
		StatusCode: resp.StatusCode,
		Message:    o.redact(errorMessage(body)),
		temporary: resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests ||
			resp.StatusCode >= 500,
	}
	e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), o.now())
	return e
}

// redact removes the API key from a server's message, and bounds it.
func (o *OpenAI) redact(msg string) string {
	if o.opts.APIKey != "" {
		msg = strings.ReplaceAll(msg, o.opts.APIKey, "[key]")
	}
	return truncate(msg, maxMessage)
}

// errorMessage finds the message in an error body: OpenAI's
// {"error":{"message":…}}, {"error":"…"}, vLLM's {"message":…},
// {"detail":"…"}, or else the body itself.
func errorMessage(body []byte) string {
	var e struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &e) == nil {
		var inner struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(e.Error, &inner) == nil && inner.Message != "":
			return inner.Message
		case json.Unmarshal(e.Error, &s) == nil && s != "":
			return s
		case e.Message != "":
			return e.Message
		case json.Unmarshal(e.Detail, &s) == nil && s != "":
			return s
		}
	}
	return string(body)
}

// truncate returns s without control characters, cut to at most n bytes
// of whole UTF-8 sequences.
func truncate(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return cutUTF8(s, n) + "…"
}

// cutUTF8 returns s cut to at most n bytes, before the rune that byte n
// splits (s is longer than n).
func cutUTF8(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := parseSeconds(h); err == nil {
		return secs
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

func parseSeconds(h string) (time.Duration, error) {
	var n int64
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c < '0' || c > '9' {
			return 0, errors.New("not a number")
		}
		n = n*10 + int64(c-'0')
		if n > 1e9 {
			n = 1e9 // about 30 years: far beyond MaxRetryWait
		}
	}
	return time.Duration(n) * time.Second, nil
}
