package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"text/tabwriter"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/gateway/eventsapi"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/search"
	"github.com/basaltdev/basalt/internal/webhook"
)

// eventsAdmin is the operators' view of the event consumers over db: the
// service of the /v1/admin/consumers and /v1/admin/dead-letters routes and
// of "basalt events status". With bus set, consumers' lag comes from the
// bus (Kafka keeps its own offsets). The consumers this program runs are
// listed even before they store a first position.
func eventsAdmin(db database, bus eventbus.Bus) (*consumer.Admin, error) {
	return consumer.NewAdmin(consumer.AdminConfig{Log: db.log, Cursors: db.cursors, DeadLetters: db.deadLetters, Bus: bus,
		Names: []string{search.EmbedderConsumerName, webhook.ConsumerName}})
}

// mountEventsAdmin serves the operators' routes of the event consumers.
func mountEventsAdmin(mux *http.ServeMux, db database, bus eventbus.Bus, authn auth.Authenticator, lim restapi.Limits, log *slog.Logger) error {
	admin, err := eventsAdmin(db, bus)
	if err != nil {
		return err
	}
	eventsapi.New(admin, authn, log).WithLimits(lim).Register(mux)
	return nil
}

// EventsStatus prints, for "basalt events status", the consumers of the
// change events on the configured database (position, lag, dead letters;
// the relay first) and the event log's size and bounds: a table, or with
// cfg.EventsStatusJSON the JSON of GET /v1/admin/consumers.
func EventsStatus(ctx context.Context, cfg Config, out io.Writer) error {
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil {
			log.Error("closing the database failed", "err", cerr)
		}
	}()
	// With --kafka, the consumers' lag is Kafka's: their groups' offsets.
	var bus eventbus.Bus
	if len(cfg.Kafka.Brokers) > 0 {
		k, err := kafkaBus(cfg, log, nil)
		if err != nil {
			return err
		}
		defer func() { _ = k.Close() }()
		bus = k
	}
	admin, err := eventsAdmin(db, bus)
	if err != nil {
		return err
	}
	ctx = auth.WithPrincipal(ctx, auth.System())
	list, err := admin.Consumers(ctx)
	if err != nil {
		return err
	}
	logStatus, err := admin.Log(ctx)
	if err != nil {
		return err
	}
	view := eventsapi.ViewConsumers(list, logStatus)
	if cfg.EventsStatusJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(view)
	}
	return writeEventsStatus(out, view)
}

func writeEventsStatus(out io.Writer, v eventsapi.ConsumersView) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CONSUMER\tPOSITION\tLAG\tDEAD LETTERS")
	for _, c := range v.Items {
		pos := "-"
		if c.Position != nil {
			pos = fmt.Sprint(*c.Position)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", c.Name, pos, c.Lag, c.DeadLetters)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(v.Items) == 0 {
		fmt.Fprintln(out, "(no consumer has stored a position or a dead letter yet)")
	}
	_, err := fmt.Fprintf(out, "\nevent log: %d events, %d payload bytes; newest position %d, trimmed up to %d\n",
		v.Log.Events, v.Log.Bytes, v.Log.Newest, v.Log.Trimmed)
	return err
}
