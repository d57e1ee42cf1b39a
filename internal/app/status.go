package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/basaltdev/basalt/internal/tlscert"
)

// StatusConfig configures "basalt status".
type StatusConfig struct {
	// Server is the base URL of the process to inspect.
	Server string
	// MetricsToken is the process's --metrics-token ("" for none).
	MetricsToken string
	// CAFile verifies an https:// server ("" for the system's roots).
	CAFile string
	// JSON prints the report as JSON.
	JSON bool
	// Timeout bounds each request (10s when zero).
	Timeout time.Duration
}

// statusCmd's flags: the token is serve's (BASALT_METRICS_TOKEN), the
// rest are the command's own.
type statusCmd struct {
	Server       string `help:"Base URL of the Basalt process to inspect (http://127.0.0.1:8080 by default): its --addr, or its --metrics-addr when it serves metrics there." default:"http://127.0.0.1:8080" placeholder:"URL" noresolve:""`
	MetricsToken string `name:"metrics-token" help:"The process's --metrics-token, to read its metrics ($$BASALT_METRICS_TOKEN)." placeholder:"TOKEN"`
	CAFile       string `name:"ca-file" help:"PEM file of the CA that signed an https:// server's certificate (its self-signed certificate, for one); the system's roots without it." placeholder:"FILE" noresolve:""`
	JSON         bool   `name:"json" help:"Print the report as JSON." noresolve:""`
}

func (f statusCmd) apply(cfg *Config) {
	cfg.Status = StatusConfig{Server: f.Server, MetricsToken: f.MetricsToken, CAFile: f.CAFile, JSON: f.JSON}
}

// errNotReady is what "basalt status" ends with when the process is not
// ready (or is draining): its exit code is then non-zero.
var errNotReady = errors.New("the process is not ready")

// Status is the report of "basalt status": one process's readiness and
// what its metrics say of its dependencies, saturation and backlogs.
type Status struct {
	Server  string            `json:"server"`
	Ready   string            `json:"ready"` // ready, not ready, draining, or unreachable
	Checks  map[string]string `json:"checks,omitempty"`
	Metrics bool              `json:"metrics"` // whether the metrics could be read
	// MetricsError says why they could not.
	MetricsError string `json:"metricsError,omitempty"`

	Dependencies []StatusDependency `json:"dependencies,omitempty"`
	Pool         *StatusPool        `json:"pool,omitempty"`
	Migration    *int64             `json:"migrationVersion,omitempty"`
	Revocations  *StatusRevocations `json:"revocations,omitempty"`
	Outbox       *StatusOutbox      `json:"outbox,omitempty"`
	Consumers    []StatusConsumer   `json:"consumers,omitempty"`
	Passwords    *StatusPasswords   `json:"passwords,omitempty"`
	DataDir      *StatusDataDir     `json:"dataDir,omitempty"`
	Certificates []StatusCert       `json:"certificates,omitempty"`
	Requests     []StatusClass      `json:"requests,omitempty"`
	InFlight     *float64           `json:"inFlight,omitempty"`
}

// StatusDependency is a dependency as the process's last check found it.
type StatusDependency struct {
	Name    string  `json:"name"`
	Up      bool    `json:"up"`
	Seconds float64 `json:"checkSeconds"`
}

// StatusPool is the PostgreSQL connection pool.
type StatusPool struct {
	InUse         float64 `json:"inUse"`
	Max           float64 `json:"max"`
	Waits         float64 `json:"waits"`         // acquisitions that waited, since start
	Canceled      float64 `json:"canceled"`      // acquisitions abandoned, since start
	WaitedSeconds float64 `json:"waitedSeconds"` // total time waited, since start
}

// StatusRevocations is the revocation feed.
type StatusRevocations struct {
	AgeSeconds float64 `json:"feedAgeSeconds"` // +Inf before the first poll: reported as -1
	Entries    float64 `json:"entries"`
	PollErrors float64 `json:"pollErrors"`
}

// StatusOutbox is the event relay's backlog.
type StatusOutbox struct {
	Unpublished float64 `json:"unpublished"`
	Held        float64 `json:"held"`
	Published   float64 `json:"published"`
	Failures    float64 `json:"publishFailures"`
}

// StatusConsumer is one event consumer.
type StatusConsumer struct {
	Name        string  `json:"name"`
	Lag         float64 `json:"lag"`
	DeadLetters float64 `json:"deadLetters"`
}

// StatusPasswords is the password hasher.
type StatusPasswords struct {
	Hashes         float64 `json:"hashes"`
	RefusedBudget  float64 `json:"refusedBudget"`
	RefusedWaiting float64 `json:"refusedCanceled"`
}

// StatusDataDir is the data directory's file system.
type StatusDataDir struct {
	Available float64 `json:"availableBytes"`
	Capacity  float64 `json:"capacityBytes"`
}

// StatusCert is a certificate's expiry.
type StatusCert struct {
	Name    string    `json:"name"`
	Expires time.Time `json:"expires"`
}

// StatusClass is the requests of one route class since the process
// started.
type StatusClass struct {
	Class        string  `json:"class"`
	Requests     float64 `json:"requests"`
	ServerErrors float64 `json:"serverErrors"`
}

// PrintStatus inspects the process at cfg.Status.Server and prints the
// report; it fails with errNotReady (after printing) when the process is
// not ready or cannot be reached.
func PrintStatus(ctx context.Context, cfg Config, out io.Writer) error {
	sc := cfg.Status
	st, err := ReadStatus(ctx, sc)
	if err != nil {
		return err
	}
	if sc.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return err
		}
	} else if err := st.write(out, time.Now()); err != nil {
		return err
	}
	switch st.Ready {
	case "ready":
		return nil
	case "unreachable":
		return fmt.Errorf("%s cannot be reached", st.Server)
	}
	return errNotReady
}

// ReadStatus reads the readiness and metrics of the process at
// sc.Server. Only a bad configuration is an error; a process that does
// not answer is reported as unreachable.
func ReadStatus(ctx context.Context, sc StatusConfig) (Status, error) {
	base, err := url.Parse(strings.TrimRight(sc.Server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return Status{}, fmt.Errorf("--server %q: want http://host:port or https://host:port", sc.Server)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if sc.CAFile != "" {
		pool, err := tlscert.ReadCAFile(sc.CAFile)
		if err != nil {
			return Status{}, fmt.Errorf("--ca-file: %w", err)
		}
		tc.RootCAs = pool
	}
	if sc.Timeout <= 0 {
		sc.Timeout = 10 * time.Second
	}
	client := &http.Client{Timeout: sc.Timeout, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	st := Status{Server: base.String()}

	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if body, _, err := get(ctx, client, base.String()+"/readyz", ""); err != nil {
		st.Ready = "unreachable"
		st.Checks = map[string]string{"readyz": err.Error()}
	} else if err := json.Unmarshal(body, &ready); err != nil || ready.Status == "" {
		st.Ready = "unreachable"
		st.Checks = map[string]string{"readyz": "the answer is not Basalt's readiness"}
	} else {
		st.Ready, st.Checks = ready.Status, ready.Checks
	}

	body, code, err := get(ctx, client, base.String()+"/metrics", sc.MetricsToken)
	switch {
	case err != nil && code == http.StatusUnauthorized:
		st.MetricsError = "the metrics need the process's --metrics-token (--metrics-token or BASALT_METRICS_TOKEN)"
	case err != nil && code == http.StatusNotFound:
		st.MetricsError = "the process serves no metrics here: point --server at its --metrics-addr, or give it a --metrics-token"
	case err != nil:
		st.MetricsError = err.Error()
	default:
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
		if err != nil {
			st.MetricsError = "the metrics could not be read: " + err.Error()
			break
		}
		st.Metrics = true
		st.fill(metricSet(families))
	}
	return st, nil
}

// get reads url, with the bearer token when it is set; a status other
// than 200 and 503 (readiness says "not ready" with 503) is an error.
func get(ctx context.Context, client *http.Client, url, token string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 32<<20))
	if err != nil {
		return nil, res.StatusCode, err
	}
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusServiceUnavailable {
		return nil, res.StatusCode, fmt.Errorf("GET %s: %s", req.URL.Path, res.Status)
	}
	return body, res.StatusCode, nil
}

// metricSet looks up the samples of parsed metric families.
type metricSet map[string]*dto.MetricFamily

// value is the sample of the gauge or counter name whose labels include
// want (label, value pairs), summed over the samples that match.
func (m metricSet) value(name string, want ...string) (float64, bool) {
	f, ok := m[name]
	if !ok {
		return 0, false
	}
	sum, found := 0.0, false
	for _, s := range f.GetMetric() {
		if !hasLabels(s, want) {
			continue
		}
		found = true
		sum += s.GetGauge().GetValue() + s.GetCounter().GetValue() // the one it is; the other reads 0
	}
	return sum, found
}

// labels returns the values the label takes among name's samples, sorted.
func (m metricSet) labels(name, label string) []string {
	var out []string
	for _, s := range m[name].GetMetric() {
		for _, l := range s.GetLabel() {
			if l.GetName() == label && !slices.Contains(out, l.GetValue()) {
				out = append(out, l.GetValue())
			}
		}
	}
	slices.Sort(out)
	return out
}

func hasLabels(s *dto.Metric, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		ok := false
		for _, l := range s.GetLabel() {
			if l.GetName() == want[i] {
				ok = matchLabel(l.GetValue(), want[i+1])
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// matchLabel matches a label value: exactly, or "5xx" any 5xx code.
func matchLabel(v, want string) bool {
	if want == "5xx" {
		return len(v) == 3 && v[0] == '5'
	}
	return v == want
}

// fill reads the report's sections from the metrics; a section whose
// metrics the process does not export (no pool on SQLite, no data
// directory on PostgreSQL) is left out.
func (st *Status) fill(m metricSet) {
	for _, d := range m.labels("basalt_dependency_up", "dependency") {
		up, _ := m.value("basalt_dependency_up", "dependency", d)
		took, _ := m.value("basalt_dependency_check_duration_seconds", "dependency", d)
		st.Dependencies = append(st.Dependencies, StatusDependency{Name: d, Up: up == 1, Seconds: took})
	}
	if maxConns, ok := m.value("basalt_db_pool_max_conns"); ok {
		p := &StatusPool{Max: maxConns}
		p.InUse, _ = m.value("basalt_db_pool_acquired_conns")
		p.Waits, _ = m.value("basalt_db_pool_empty_acquires_total")
		p.Canceled, _ = m.value("basalt_db_pool_canceled_acquires_total")
		p.WaitedSeconds, _ = m.value("basalt_db_pool_acquire_wait_seconds_total")
		st.Pool = p
	}
	if v, ok := m.value("basalt_db_migration_version"); ok {
		n := int64(v)
		st.Migration = &n
	}
	if age, ok := m.value("basalt_revocation_feed_age_seconds"); ok {
		r := &StatusRevocations{AgeSeconds: age}
		if math.IsInf(age, 1) {
			r.AgeSeconds = -1
		}
		r.Entries, _ = m.value("basalt_revocation_entries")
		r.PollErrors, _ = m.value("basalt_revocation_poll_errors_total")
		st.Revocations = r
	}
	if lag, ok := m.value("basalt_outbox_relay_lag_events"); ok {
		o := &StatusOutbox{Unpublished: lag}
		o.Held, _ = m.value("basalt_outbox_events")
		o.Published, _ = m.value("basalt_outbox_published_total")
		o.Failures, _ = m.value("basalt_outbox_publish_failures_total")
		st.Outbox = o
	}
	for _, c := range m.labels("basalt_consumer_lag_events", "consumer") {
		lag, _ := m.value("basalt_consumer_lag_events", "consumer", c)
		dead, _ := m.value("basalt_consumer_dead_letters", "consumer", c)
		st.Consumers = append(st.Consumers, StatusConsumer{Name: c, Lag: lag, DeadLetters: dead})
	}
	if hashes, ok := m.value("basalt_password_hashes_total"); ok {
		p := &StatusPasswords{Hashes: hashes}
		p.RefusedBudget, _ = m.value("basalt_password_hash_refusals_total", "reason", "budget")
		p.RefusedWaiting, _ = m.value("basalt_password_hash_refusals_total", "reason", "canceled")
		st.Passwords = p
	}
	if avail, ok := m.value("basalt_data_dir_available_bytes"); ok {
		capacity, _ := m.value("basalt_data_dir_capacity_bytes")
		st.DataDir = &StatusDataDir{Available: avail, Capacity: capacity}
	}
	for _, c := range m.labels("basalt_tls_certificate_expiry_timestamp_seconds", "certificate") {
		v, _ := m.value("basalt_tls_certificate_expiry_timestamp_seconds", "certificate", c)
		st.Certificates = append(st.Certificates, StatusCert{Name: c, Expires: time.Unix(int64(v), 0).UTC()})
	}
	for _, class := range []string{"read", "write", "auth", "search", "realtime"} {
		n, ok := m.value("basalt_http_requests_total", "class", class)
		if !ok {
			continue
		}
		bad, _ := m.value("basalt_http_requests_total", "class", class, "code", "5xx")
		st.Requests = append(st.Requests, StatusClass{Class: class, Requests: n, ServerErrors: bad})
	}
	if v, ok := m.value("basalt_http_requests_in_flight"); ok {
		st.InFlight = &v
	}
}

// write prints the report as a table; now dates the certificates.
func (st Status) write(out io.Writer, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(w, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("server", "%s", st.Server)
	row("ready", "%s", st.Ready)
	names := make([]string, 0, len(st.Checks))
	for k := range st.Checks {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		row("  "+k, "%s", st.Checks[k])
	}
	if !st.Metrics {
		row("metrics", "%s", st.MetricsError)
		return w.Flush()
	}
	for _, d := range st.Dependencies {
		state := "up"
		if !d.Up {
			state = "DOWN"
		}
		row("dependency "+d.Name, "%s (checked in %s)", state, seconds(d.Seconds))
	}
	if p := st.Pool; p != nil {
		row("database pool", "%.0f of %.0f connections in use; since start %.0f acquisitions waited (%s in all), %.0f gave up", p.InUse, p.Max, p.Waits, seconds(p.WaitedSeconds), p.Canceled)
	}
	if st.Migration != nil {
		row("migrations", "version %d", *st.Migration)
	}
	if r := st.Revocations; r != nil {
		age := "never read"
		if r.AgeSeconds >= 0 {
			age = "read " + seconds(r.AgeSeconds) + " ago"
		}
		row("revocation feed", "%s; %.0f revocations held; %.0f failed polls since start", age, r.Entries, r.PollErrors)
	}
	if o := st.Outbox; o != nil {
		row("outbox", "%.0f events not yet published (%.0f held); %.0f published, %.0f failed publishes since start", o.Unpublished, o.Held, o.Published, o.Failures)
	}
	for _, c := range st.Consumers {
		row("consumer "+c.Name, "lag %.0f events; %.0f dead letters", c.Lag, c.DeadLetters)
	}
	if p := st.Passwords; p != nil {
		row("password hashing", "%.0f hashes; refused %.0f over budget (429), %.0f waiting (503)", p.Hashes, p.RefusedBudget, p.RefusedWaiting)
	}
	if d := st.DataDir; d != nil && d.Capacity > 0 {
		row("data directory", "%s free of %s (%.0f%%)", bytesText(d.Available), bytesText(d.Capacity), 100*d.Available/d.Capacity)
	}
	for _, c := range st.Certificates {
		if left := c.Expires.Sub(now); left > 0 {
			row("certificate "+c.Name, "expires %s (in %s)", c.Expires.Format(time.RFC3339), days(left))
		} else {
			row("certificate "+c.Name, "EXPIRED %s (%s ago)", c.Expires.Format(time.RFC3339), days(-left))
		}
	}
	for _, r := range st.Requests {
		row("requests "+r.Class, "%.0f since start, %.0f server errors (5xx)", r.Requests, r.ServerErrors)
	}
	if st.InFlight != nil {
		row("requests in flight", "%.0f", *st.InFlight)
	}
	return w.Flush()
}

func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func days(d time.Duration) string {
	if d < 48*time.Hour {
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func bytesText(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}
