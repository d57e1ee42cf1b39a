package load

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MetricsTokenEnv is the environment variable that gives Basalt the bearer
// token of GET /metrics; the change-event scenarios read the relay's and
// the realtime hub's metrics with it.
const MetricsTokenEnv = "BASALT_METRICS_TOKEN"

// NewMetricsToken returns a random token for MetricsTokenEnv.
func NewMetricsToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("load: metrics token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Metrics are the unlabelled samples of a Prometheus text exposition, by
// name; a labelled metric's samples are summed under its name.
type Metrics map[string]float64

// ParseMetrics reads the Prometheus text format: comments are skipped, a
// sample line is `name[{labels}] value [timestamp]`.
func ParseMetrics(r io.Reader) (Metrics, error) {
	m := Metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				return nil, fmt.Errorf("load: metrics: unterminated labels in %q", line)
			}
			rest = rest[end+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("load: metrics: no value in %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("load: metrics: value of %q: %w", line, err)
		}
		m[name] += v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("load: metrics: %w", err)
	}
	return m, nil
}

// Scraper reads a server's /metrics with a bearer token.
type Scraper struct {
	BaseURL, Token string
	HTTP           *http.Client
}

// Scrape returns the server's metrics now.
func (s Scraper) Scrape(ctx context.Context) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.BaseURL+"/metrics", nil)
	if err != nil {
		return nil, fmt.Errorf("load: metrics request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("load: GET /metrics: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("load: GET /metrics: status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return ParseMetrics(resp.Body)
}

// SSEEvent is one message of an event stream, as the scenarios need it.
type SSEEvent struct {
	// ID is the message's id (the event's position), 0 without one.
	ID int64
	// Event is the message's event name: the change event's type, or
	// gap, dropped, revoked, shutdown, error.
	Event string
	// Time is the change event's time field (zero when absent), Version
	// its document's version (0 when absent).
	Time    time.Time
	Version int64
}

// SSEStream is one open Server-Sent Events stream over its own
// connection, read without a goroutine of its own.
type SSEStream struct {
	conn net.Conn
	body io.ReadCloser
	r    *bufio.Reader
}

// OpenSSE opens GET baseURL+path as an event stream on a new connection
// (no token: the bench collection lets anonymous callers subscribe),
// resuming after lastID when it is positive, and returns once Basalt
// confirmed the subscription (the ": stream open" comment): the stream
// then receives every event committed after that. bufSize is the read
// buffer; small ones suit idle streams.
func OpenSSE(ctx context.Context, baseURL, path string, lastID int64, bufSize int) (*SSEStream, error) {
	u, err := url.Parse(baseURL + path)
	if err != nil {
		return nil, fmt.Errorf("load: event stream URL: %w", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("load: event stream: %w", err)
	}
	fail := func(err error) (*SSEStream, error) {
		_ = conn.Close()
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail(fmt.Errorf("load: event stream request: %w", err))
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(lastID, 10))
	}
	if err := req.Write(conn); err != nil {
		return fail(fmt.Errorf("load: event stream request: %w", err))
	}
	br := bufio.NewReaderSize(conn, bufSize)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return fail(fmt.Errorf("load: event stream answer: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_ = resp.Body.Close()
		return fail(&StatusError{Code: resp.StatusCode, Body: string(bytes.TrimSpace(b))})
	}
	s := &SSEStream{conn: conn, body: resp.Body, r: bufio.NewReaderSize(resp.Body, bufSize)}
	for {
		line, err := s.r.ReadSlice('\n')
		if err != nil {
			_ = conn.Close() // first: closing the body of an open stream would read it to its end
			_ = resp.Body.Close()
			return fail(fmt.Errorf("load: event stream ended before it opened: %w", err))
		}
		if bytes.HasPrefix(line, []byte(": stream open")) {
			break
		}
	}
	_ = conn.SetDeadline(time.Time{})
	return s, nil
}

// StatusError is an answer other than 200 to a stream request.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string { return fmt.Sprintf("status %d: %s", e.Code, e.Body) }

// Next reads the next message (comments and heartbeats are skipped). It
// returns io.EOF when the stream ended.
func (s *SSEStream) Next() (SSEEvent, error) {
	var ev SSEEvent
	seen := false
	for {
		line, err := s.r.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return ev, fmt.Errorf("load: event stream line longer than the read buffer")
			}
			return ev, err
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		switch {
		case len(line) == 0:
			if seen {
				return ev, nil
			}
		case line[0] == ':':
		case bytes.HasPrefix(line, []byte("id: ")):
			seen = true
			if ev.ID, err = strconv.ParseInt(string(line[4:]), 10, 64); err != nil {
				return ev, fmt.Errorf("load: event stream id %q: %w", line, err)
			}
		case bytes.HasPrefix(line, []byte("event: ")):
			seen = true
			ev.Event = string(line[7:])
		case bytes.HasPrefix(line, []byte("data: ")):
			seen = true
			if ev.Time, err = envelopeTime(line[6:]); err != nil {
				return ev, err
			}
			if ev.Version, err = envelopeVersion(line[6:]); err != nil {
				return ev, err
			}
		}
	}
}

// timeKey introduces the envelope's time field. It comes before the
// payload (see eventbus.Event), so the first occurrence is the envelope's
// and not a document field's.
var timeKey = []byte(`"time":"`)

// envelopeTime returns the time field of a change event's JSON, or the zero
// time when it has none (a notice).
func envelopeTime(data []byte) (time.Time, error) {
	i := bytes.Index(data, timeKey)
	if i < 0 {
		return time.Time{}, nil
	}
	v := data[i+len(timeKey):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return time.Time{}, fmt.Errorf("load: unterminated time in event %.80q", data)
	}
	t, err := time.Parse(time.RFC3339Nano, string(v[:j]))
	if err != nil {
		return time.Time{}, fmt.Errorf("load: event time: %w", err)
	}
	return t, nil
}

// versionKey introduces the envelope's version field, which also comes
// before the payload.
var versionKey = []byte(`"version":`)

// envelopeVersion returns the version field of a change event's JSON, or 0
// when it has none (a notice).
func envelopeVersion(data []byte) (int64, error) {
	i := bytes.Index(data, versionKey)
	if i < 0 {
		return 0, nil
	}
	v := data[i+len(versionKey):]
	j := bytes.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if j < 0 {
		j = len(v)
	}
	n, err := strconv.ParseInt(string(v[:j]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("load: event version in %.80q: %w", data, err)
	}
	return n, nil
}

// Close ends the stream and its connection.
func (s *SSEStream) Close() error {
	// The connection first: closing the body of a stream that has not
	// ended would read it to its end.
	err := s.conn.Close()
	_ = s.body.Close()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("load: close event stream: %w", err)
	}
	return nil
}
