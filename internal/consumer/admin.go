package consumer

import (
	"context"
	"sort"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// Page sizes of ListDeadLetters.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// AdminConfig configures NewAdmin. Log, Cursors and DeadLetters are
// required.
type AdminConfig struct {
	Log         eventbus.Log
	Cursors     eventbus.Cursors
	DeadLetters DeadLetterStore
	// Bus, when set, gives the consumers' lag (Kafka keeps its own
	// offsets); otherwise lag is the log's newest position minus the
	// consumer's cursor.
	Bus eventbus.Bus
	// Names are the consumers this deployment runs, shown even before they
	// stored a first position.
	Names []string
}

// Admin is the operators' view of the event log and its consumers:
// positions, lag, dead letters, and retrying or discarding dead letters.
// Every method needs a caller who may manage events (auth.ScopeAdminEvents).
type Admin struct {
	cfg AdminConfig
}

// NewAdmin returns the view over cfg's stores.
func NewAdmin(cfg AdminConfig) (*Admin, error) {
	if cfg.Log == nil || cfg.Cursors == nil || cfg.DeadLetters == nil {
		return nil, fault.New(fault.Invalid, "consumer.NewAdmin", "the event log, the cursors and the dead-letter store are required")
	}
	return &Admin{cfg: cfg}, nil
}

// LogStatus describes the event log.
type LogStatus struct {
	Events  int64 // events the log holds
	Bytes   int64 // their payloads' total size
	Newest  int64 // the highest position given
	Trimmed int64 // every position up to this one has been deleted (retention)
}

// Status is one consumer's state. The relay, which publishes the
// log to the bus, is shown as the consumer eventbus.RelayName.
type Status struct {
	Name string
	// Position is the last position the consumer acknowledged; HasPosition
	// is false when it stored none (a new consumer, or one on Kafka,
	// which keeps its offsets itself).
	Position    int64
	HasPosition bool
	// Lag is how many events it has not acknowledged yet.
	Lag         int64
	DeadLetters int64
}

// Log returns the event log's size and bounds.
func (a *Admin) Log(ctx context.Context) (LogStatus, error) {
	if err := auth.FromContext(ctx).Manage("consumer.Log", auth.ScopeAdminEvents); err != nil {
		return LogStatus{}, err
	}
	var s LogStatus
	var err error
	if s.Trimmed, s.Newest, err = a.cfg.Log.LogBounds(ctx); err != nil {
		return LogStatus{}, err
	}
	if s.Events, s.Bytes, err = a.cfg.Log.LogSize(ctx); err != nil {
		return LogStatus{}, err
	}
	return s, nil
}

// Consumers returns every consumer known (stored cursors, Names, and
// consumers with dead letters), ordered by name, the relay first.
func (a *Admin) Consumers(ctx context.Context) ([]Status, error) {
	if err := auth.FromContext(ctx).Manage("consumer.Consumers", auth.ScopeAdminEvents); err != nil {
		return nil, err
	}
	cursors, err := a.cfg.Cursors.ListCursors(ctx)
	if err != nil {
		return nil, err
	}
	counts, err := a.cfg.DeadLetters.CountDeadLetters(ctx)
	if err != nil {
		return nil, err
	}
	trimmed, newest, err := a.cfg.Log.LogBounds(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]*Status{}
	add := func(name string) *Status {
		s := byName[name]
		if s == nil {
			s = &Status{Name: name}
			byName[name] = s
		}
		return s
	}
	for _, c := range cursors {
		s := add(c.Name)
		s.Position, s.HasPosition = c.Position, true
	}
	for _, n := range a.cfg.Names {
		add(n)
	}
	for n, c := range counts {
		add(n).DeadLetters = c
	}
	out := make([]Status, 0, len(byName))
	for _, s := range byName {
		from := max(s.Position, trimmed) // a new consumer starts at the oldest event kept
		s.Lag = max(newest-from, 0)
		// The relay (and any cursor that is no consumer's) is behind in the
		// log, not on the bus.
		if a.cfg.Bus != nil && eventbus.CheckConsumerName(s.Name) == nil {
			if s.Lag, err = a.cfg.Bus.Lag(ctx, s.Name); err != nil {
				return nil, err
			}
		}
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Name == eventbus.RelayName) != (out[j].Name == eventbus.RelayName) {
			return out[i].Name == eventbus.RelayName
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// ListDeadLetters returns up to limit dead letters (DefaultPageSize when
// 0) with an id above after, of one consumer or ("") of all, and the after
// of the next page (0 when this is the last).
func (a *Admin) ListDeadLetters(ctx context.Context, consumer string, after int64, limit int) ([]DeadLetter, int64, error) {
	const op = "consumer.ListDeadLetters"
	if err := auth.FromContext(ctx).Manage(op, auth.ScopeAdminEvents); err != nil {
		return nil, 0, err
	}
	if consumer != "" && eventbus.CheckConsumerName(consumer) != nil {
		return nil, 0, fault.Newf(fault.Invalid, op, "consumer %q is not a consumer name", consumer)
	}
	if after < 0 {
		return nil, 0, fault.New(fault.Invalid, op, "after must not be negative")
	}
	if limit == 0 {
		limit = DefaultPageSize
	}
	if limit < 1 || limit > MaxPageSize {
		return nil, 0, fault.Newf(fault.Invalid, op, "limit must be from 1 to %d", MaxPageSize)
	}
	list, err := a.cfg.DeadLetters.ListDeadLetters(ctx, consumer, after, limit+1)
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].ID
	}
	return list, next, nil
}

// GetDeadLetter returns one dead letter.
func (a *Admin) GetDeadLetter(ctx context.Context, id int64) (DeadLetter, error) {
	if err := auth.FromContext(ctx).Manage("consumer.GetDeadLetter", auth.ScopeAdminEvents); err != nil {
		return DeadLetter{}, err
	}
	return a.cfg.DeadLetters.GetDeadLetter(ctx, id)
}

// RetryDeadLetter marks a dead letter for retry: its consumer hands it to
// its handler again within its retry interval, deletes it on success and
// records the failure otherwise. It returns the dead letter as marked.
func (a *Admin) RetryDeadLetter(ctx context.Context, id int64) (DeadLetter, error) {
	if err := auth.FromContext(ctx).Manage("consumer.RetryDeadLetter", auth.ScopeAdminEvents); err != nil {
		return DeadLetter{}, err
	}
	d, err := a.cfg.DeadLetters.GetDeadLetter(ctx, id)
	if err != nil {
		return DeadLetter{}, err
	}
	// Read first: the consumer may handle and delete it once it is marked.
	if err := a.cfg.DeadLetters.MarkDeadLetterRetry(ctx, id); err != nil {
		return DeadLetter{}, err
	}
	d.Retry = true
	return d, nil
}

// DeleteDeadLetter discards a dead letter: its event is not handled.
func (a *Admin) DeleteDeadLetter(ctx context.Context, id int64) error {
	if err := auth.FromContext(ctx).Manage("consumer.DeleteDeadLetter", auth.ScopeAdminEvents); err != nil {
		return err
	}
	return a.cfg.DeadLetters.DeleteDeadLetter(ctx, id)
}
