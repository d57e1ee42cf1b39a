package webhookapi

import (
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/webhook"
)

// The JSON views of webhooks and deliveries, built field by field: the
// secret appears only in newWebhookView (creation and rotation).

func stamp(t time.Time) string { return t.UTC().Format(docstore.TimeFormat) }

type itemsView[T any] struct {
	Items []T `json:"items"`
}

type webhookView struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Collection  string   `json:"collection"`
	Types       []string `json:"types"`
	Enabled     bool     `json:"enabled"`
	Description string   `json:"description"`
	CreatedAt   string   `json:"createdAt"`
	UpdatedAt   string   `json:"updatedAt"`
	CreatedBy   *string  `json:"createdBy"`
	// PreviousSecretExpiresAt is when the secret before the last rotation
	// stops signing (null: it does not sign).
	PreviousSecretExpiresAt *string `json:"previousSecretExpiresAt"`
}

type newWebhookView struct {
	webhookView
	Secret string `json:"secret"`
}

func viewWebhook(w webhook.Webhook) webhookView {
	types := make([]string, 0, len(w.Types))
	for _, t := range w.Types {
		types = append(types, string(t))
	}
	v := webhookView{ID: w.ID, URL: w.URL, Collection: w.Collection, Types: types, Enabled: w.Enabled,
		Description: w.Description, CreatedAt: stamp(w.CreatedAt), UpdatedAt: stamp(w.UpdatedAt)}
	if w.CreatedBy != "" {
		v.CreatedBy = &w.CreatedBy
	}
	if !w.PreviousUntil.IsZero() {
		s := stamp(w.PreviousUntil)
		v.PreviousSecretExpiresAt = &s
	}
	return v
}

type deliveryView struct {
	ID             string            `json:"id"`
	WebhookID      string            `json:"webhookId"`
	EventID        string            `json:"eventId"`
	Event          restapi.EventView `json:"event"`
	Status         string            `json:"status"`
	Attempts       int               `json:"attempts"`
	NextAttemptAt  *string           `json:"nextAttemptAt"`
	LastStatusCode *int              `json:"lastStatusCode"`
	LastError      *string           `json:"lastError"`
	CreatedAt      string            `json:"createdAt"`
	UpdatedAt      string            `json:"updatedAt"`
}

type deliveryPage struct {
	Items      []deliveryView `json:"items"`
	NextCursor *string        `json:"nextCursor"`
}

func viewDelivery(d webhook.Delivery) deliveryView {
	v := deliveryView{ID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID,
		Event: restapi.ViewEvent(d.Event), Status: string(d.Status),
		Attempts: d.Attempts, CreatedAt: stamp(d.CreatedAt), UpdatedAt: stamp(d.UpdatedAt)}
	if d.Status == webhook.Pending || d.Status == webhook.Delivering {
		s := stamp(d.NextAttemptAt)
		v.NextAttemptAt = &s
	}
	if d.LastStatusCode != 0 {
		v.LastStatusCode = &d.LastStatusCode
	}
	if d.LastError != "" {
		v.LastError = &d.LastError
	}
	return v
}
