package webhook

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// Bounds on what an admin registers.
const (
	MaxURLBytes         = 2048
	MaxDescriptionBytes = 1024
	MaxWebhooks         = 100 // per server: each event is matched against every one
	DefaultPageSize     = 50
	MaxPageSize         = 200
	// DefaultKeepPrevious is how long a rotated secret keeps signing
	// beside the new one, unless the rotation says otherwise; at most
	// MaxKeepPrevious.
	DefaultKeepPrevious = 24 * time.Hour
	MaxKeepPrevious     = 7 * 24 * time.Hour
)

// Positions tells the newest position of the event log (eventbus.Log is
// one).
type Positions interface {
	LogBounds(ctx context.Context) (trimmed, newest int64, err error)
}

// Catalog says whether a collection exists (docstore.Store is one).
type Catalog interface {
	GetCollection(ctx context.Context, name string) (docstore.Collection, error)
}

// Service is the admin API of webhooks. Every method needs an admin whose
// scopes include auth.ScopeAdminWebhooks.
type Service struct {
	store   Store
	log     Positions
	catalog Catalog
	guard   *Guard
	now     func() time.Time
	wake    func()
}

// ServiceConfig configures NewService.
type ServiceConfig struct {
	Store   Store
	Catalog Catalog
	Guard   *Guard
	// Log gives the position a new webhook starts after; nil: 0 (every
	// event the stream still holds is delivered).
	Log Positions
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Wake tells the local Worker that a delivery is due (after a
	// redelivery); nil does nothing (the worker's poll finds it).
	Wake func()
}

// NewService returns the webhook admin service.
func NewService(cfg ServiceConfig) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Wake == nil {
		cfg.Wake = func() {}
	}
	return &Service{store: cfg.Store, log: cfg.Log, catalog: cfg.Catalog, guard: cfg.Guard, now: cfg.Now, wake: cfg.Wake}
}

// NewWebhook is a webhook to register. Types nil or empty means every
// event type; Enabled nil means enabled.
type NewWebhook struct {
	URL         string
	Collection  string
	Types       []string
	Description string
	Enabled     *bool
}

// Update is a change to a webhook; nil fields stay.
type Update struct {
	URL         *string
	Types       *[]string
	Enabled     *bool
	Description *string
}

func admit(ctx context.Context, op string) (auth.Principal, error) {
	p := auth.FromContext(ctx)
	return p, p.Manage(op, auth.ScopeAdminWebhooks)
}

// Create registers a webhook and returns it with its secret, which no
// other answer shows.
func (s *Service) Create(ctx context.Context, n NewWebhook) (Webhook, error) {
	const op = "webhook.Create"
	p, err := admit(ctx, op)
	if err != nil {
		return Webhook{}, err
	}
	var problems []fault.FieldError
	if msg := s.checkURL(ctx, n.URL); msg != "" {
		problems = append(problems, fault.FieldError{Pointer: "/url", Message: msg})
	}
	if msg := s.checkCollection(ctx, n.Collection); msg != "" {
		problems = append(problems, fault.FieldError{Pointer: "/collection", Message: msg})
	}
	types, tp := checkTypes(n.Types)
	problems = append(problems, tp...)
	if msg := checkDescription(n.Description); msg != "" {
		problems = append(problems, fault.FieldError{Pointer: "/description", Message: msg})
	}
	if len(problems) > 0 {
		return Webhook{}, &fault.Error{Kind: fault.Invalid, Op: op, Msg: "the webhook is not valid", Fields: problems}
	}
	existing, err := s.store.ListWebhooks(ctx)
	if err != nil {
		return Webhook{}, err
	}
	if len(existing) >= MaxWebhooks {
		return Webhook{}, fault.Newf(fault.Conflict, op, "a server has at most %d webhooks", MaxWebhooks)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Webhook{}, fault.Internalf(op, err)
	}
	secret, err := NewSecret()
	if err != nil {
		return Webhook{}, fault.Internalf(op, err)
	}
	var after int64
	if s.log != nil {
		if _, after, err = s.log.LogBounds(ctx); err != nil {
			return Webhook{}, err
		}
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	w := Webhook{ID: id.String(), URL: n.URL, Collection: n.Collection, Types: types, Secret: secret,
		Enabled: n.Enabled == nil || *n.Enabled, Description: n.Description, CreatedAt: now, UpdatedAt: now,
		CreatedBy: p.ID, After: after}
	if err := s.store.InsertWebhook(ctx, w); err != nil {
		return Webhook{}, err
	}
	return w, nil
}

// List returns every webhook, by id, without secrets.
func (s *Service) List(ctx context.Context) ([]Webhook, error) {
	if _, err := admit(ctx, "webhook.List"); err != nil {
		return nil, err
	}
	ws, err := s.store.ListWebhooks(ctx)
	for i := range ws {
		ws[i] = withoutSecrets(ws[i])
	}
	return ws, err
}

// Get returns one webhook, without its secret.
func (s *Service) Get(ctx context.Context, id string) (Webhook, error) {
	if _, err := admit(ctx, "webhook.Get"); err != nil {
		return Webhook{}, err
	}
	w, err := s.store.GetWebhook(ctx, id)
	return withoutSecrets(w), err
}

// Update changes a webhook's URL, types, description or enabled flag and
// returns it, without its secret.
func (s *Service) Update(ctx context.Context, id string, u Update) (Webhook, error) {
	const op = "webhook.Update"
	if _, err := admit(ctx, op); err != nil {
		return Webhook{}, err
	}
	w, err := s.store.GetWebhook(ctx, id)
	if err != nil {
		return Webhook{}, err
	}
	var problems []fault.FieldError
	if u.URL != nil {
		if msg := s.checkURL(ctx, *u.URL); msg != "" {
			problems = append(problems, fault.FieldError{Pointer: "/url", Message: msg})
		}
		w.URL = *u.URL
	}
	if u.Types != nil {
		types, tp := checkTypes(*u.Types)
		problems = append(problems, tp...)
		w.Types = types
	}
	if u.Description != nil {
		if msg := checkDescription(*u.Description); msg != "" {
			problems = append(problems, fault.FieldError{Pointer: "/description", Message: msg})
		}
		w.Description = *u.Description
	}
	if u.Enabled != nil {
		w.Enabled = *u.Enabled
	}
	if len(problems) > 0 {
		return Webhook{}, &fault.Error{Kind: fault.Invalid, Op: op, Msg: "the webhook is not valid", Fields: problems}
	}
	w.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
	if err := s.store.UpdateWebhook(ctx, w); err != nil {
		return Webhook{}, err
	}
	return withoutSecrets(w), nil
}

// RotateSecret gives a webhook a new secret and returns the webhook with
// it. Deliveries sent from then on are signed with the new secret and, for
// keepPrevious (0: not at all; at most MaxKeepPrevious), with the old one
// too, so that receivers can move to the new secret without refusing
// deliveries meanwhile. A rotation because a secret leaked keeps nothing.
func (s *Service) RotateSecret(ctx context.Context, id string, keepPrevious time.Duration) (Webhook, error) {
	const op = "webhook.RotateSecret"
	if _, err := admit(ctx, op); err != nil {
		return Webhook{}, err
	}
	if keepPrevious < 0 || keepPrevious > MaxKeepPrevious {
		return Webhook{}, &fault.Error{Kind: fault.Invalid, Op: op, Msg: "the previous secret's validity is out of range",
			Fields: []fault.FieldError{{Pointer: "/keepPreviousSeconds",
				Message: fmt.Sprintf("must be between 0 and %d", int64(MaxKeepPrevious/time.Second))}}}
	}
	w, err := s.store.GetWebhook(ctx, id)
	if err != nil {
		return Webhook{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	w.PreviousSecret, w.PreviousUntil = "", time.Time{}
	if keepPrevious > 0 {
		w.PreviousSecret, w.PreviousUntil = w.Secret, now.Add(keepPrevious)
	}
	if w.Secret, err = NewSecret(); err != nil {
		return Webhook{}, fault.Internalf(op, err)
	}
	w.UpdatedAt = now
	if err := s.store.UpdateWebhook(ctx, w); err != nil {
		return Webhook{}, err
	}
	w.PreviousSecret = "" // shown once, when it was new
	return w, nil
}

// withoutSecrets is w as answers show it: no secret, new or previous.
func withoutSecrets(w Webhook) Webhook {
	w.Secret, w.PreviousSecret = "", ""
	return w
}

// Delete deletes a webhook and its deliveries.
func (s *Service) Delete(ctx context.Context, id string) error {
	if _, err := admit(ctx, "webhook.Delete"); err != nil {
		return err
	}
	return s.store.DeleteWebhook(ctx, id)
}

// ListDeliveries returns one page of a webhook's deliveries, newest
// first, and the cursor of the next page ("" on the last). cursor is the
// cursor of the previous page, or "" for the first; limit 0 means
// DefaultPageSize.
func (s *Service) ListDeliveries(ctx context.Context, webhookID, cursor string, limit int) ([]Delivery, string, error) {
	const op = "webhook.ListDeliveries"
	if _, err := admit(ctx, op); err != nil {
		return nil, "", err
	}
	switch {
	case limit == 0:
		limit = DefaultPageSize
	case limit < 0 || limit > MaxPageSize:
		return nil, "", &fault.Error{Kind: fault.Invalid, Op: op, Msg: "the limit is out of range",
			Fields: []fault.FieldError{{Pointer: "/limit", Message: fmt.Sprintf("must be between 1 and %d", MaxPageSize)}}}
	}
	if cursor != "" {
		if _, err := uuid.Parse(cursor); err != nil {
			return nil, "", &fault.Error{Kind: fault.Invalid, Op: op, Msg: "the cursor is not valid",
				Fields: []fault.FieldError{{Pointer: "/cursor", Message: "must be the nextCursor of a previous page"}}}
		}
	}
	if _, err := s.store.GetWebhook(ctx, webhookID); err != nil {
		return nil, "", err
	}
	ds, err := s.store.ListDeliveries(ctx, webhookID, cursor, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ds) > limit {
		ds = ds[:limit]
		next = ds[limit-1].ID
	}
	return ds, next, nil
}

// GetDelivery returns one delivery of a webhook.
func (s *Service) GetDelivery(ctx context.Context, webhookID, id string) (Delivery, error) {
	if _, err := admit(ctx, "webhook.GetDelivery"); err != nil {
		return Delivery{}, err
	}
	return s.store.GetDelivery(ctx, webhookID, id)
}

// Redeliver makes a delivery due now, whatever its status: a new attempt
// is made at once (and, should it fail, retried like any other until the
// attempts run out again).
func (s *Service) Redeliver(ctx context.Context, webhookID, id string) (Delivery, error) {
	if _, err := admit(ctx, "webhook.Redeliver"); err != nil {
		return Delivery{}, err
	}
	d, err := s.store.RedeliverDelivery(ctx, webhookID, id, s.now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return Delivery{}, err
	}
	s.wake()
	return d, nil
}

// checkURL returns what is wrong with a webhook URL, or "".
func (s *Service) checkURL(ctx context.Context, raw string) string {
	switch {
	case raw == "":
		return "is required"
	case len(raw) > MaxURLBytes:
		return fmt.Sprintf("is longer than %d bytes", MaxURLBytes)
	case !utf8.ValidString(raw):
		return "is not valid UTF-8"
	}
	if _, err := s.guard.CheckURL(ctx, raw); err != nil {
		return err.Error()
	}
	return ""
}

// checkCollection returns what is wrong with a webhook's collection, or "".
func (s *Service) checkCollection(ctx context.Context, name string) string {
	switch {
	case name == "":
		return `is required: a collection name, or "*" for every collection`
	case name == AnyCollection:
		return ""
	case !docstore.ValidCollectionName(name):
		return "is not a valid collection name"
	}
	if _, err := s.catalog.GetCollection(ctx, name); err != nil {
		if fault.Is(err, fault.NotFound) {
			return "names no collection"
		}
		return "cannot be checked now"
	}
	return ""
}

// checkTypes returns the event types of a webhook and what is wrong with
// them.
func checkTypes(in []string) ([]eventbus.Type, []fault.FieldError) {
	var out []eventbus.Type
	var problems []fault.FieldError
	for i, s := range in {
		t := eventbus.Type(s)
		ptr := "/types/" + strconv.Itoa(i)
		switch {
		case !t.Valid():
			names := make([]string, 0, len(eventbus.Types()))
			for _, k := range eventbus.Types() {
				names = append(names, string(k))
			}
			problems = append(problems, fault.FieldError{Pointer: ptr, Message: "is not an event type; the types are " +
				strings.Join(names, ", ")})
		case slices.Contains(out, t):
			problems = append(problems, fault.FieldError{Pointer: ptr, Message: "is listed twice"})
		default:
			out = append(out, t)
		}
	}
	return out, problems
}

func checkDescription(d string) string {
	switch {
	case len(d) > MaxDescriptionBytes:
		return fmt.Sprintf("is longer than %d bytes", MaxDescriptionBytes)
	case !utf8.ValidString(d):
		return "is not valid UTF-8"
	}
	return ""
}
