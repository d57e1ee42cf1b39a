package postgres_test

import (
	"testing"

	"github.com/basaltdev/basalt/internal/webhook"
	"github.com/basaltdev/basalt/internal/webhook/webhooktest"
)

func TestWebhookStore(t *testing.T) {
	webhooktest.Run(t, "postgres", func(t *testing.T) webhook.Store { return openStore(t) })
}
