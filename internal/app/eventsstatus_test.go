package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
)

func TestEventsStatusCommand(t *testing.T) {
	cmd, err := parse(t, nil, "events", "status", "--json", "--data-dir", "/d")
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Name != "events status" || !cmd.Config.EventsStatusJSON || cmd.Config.DataDir != "/d" {
		t.Fatalf("events status = %q %+v", cmd.Name, cmd.Config)
	}
	cmd, err = parse(t, nil, "events", "status", "--db", "postgres://x@127.0.0.1/db")
	if err != nil || cmd.Config.EventsStatusJSON || cmd.Config.DB != "postgres://x@127.0.0.1/db" {
		t.Fatalf("events status --db = %q %+v %v", cmd.Name, cmd.Config, err)
	}
}

// TestEventsStatus runs the command on a SQLite data directory holding
// five events, the relay's and one consumer's cursors and dead letters.
func TestEventsStatus(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Logs = &bytes.Buffer{}
	db, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	var evs []eventbus.Event
	err = db.Write(ctx, func(tx docstore.Tx) error {
		for i := range 5 {
			e := eventbus.Event{ID: fmt.Sprintf("ev-%d", i), Type: eventbus.DocumentCreated, Collection: "posts",
				DocumentID: fmt.Sprintf("p%d", i), Version: 1, Time: time.Now(), Payload: json.RawMessage(`{"n":1}`)}
			evs = append(evs, e)
			if err := tx.AppendOutbox(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.cursors.SetCursor(ctx, eventbus.RelayName, 5); err != nil {
		t.Fatal(err)
	}
	if err := db.cursors.SetCursor(ctx, "webhooks", 3); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"webhooks", "webhooks", "search"} {
		if _, err := db.deadLetters.AddDeadLetter(ctx, consumer.DeadLetter{Consumer: c, Event: evs[0], Error: "boom", Attempts: 8}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := EventsStatus(ctx, cfg, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	want := []string{
		"CONSUMER         POSITION  LAG  DEAD LETTERS",
		"relay            5         0    0",
		"search           -         5    1",
		"search-embedder  -         5    0",
		"webhooks         3         2    2",
		"",
	}
	for i, w := range want {
		if i >= len(lines) || lines[i] != w {
			t.Fatalf("line %d of\n%s\nwant %q", i, out.String(), w)
		}
	}
	if !strings.HasPrefix(lines[6], "event log: 5 events, ") || !strings.HasSuffix(lines[6], "; newest position 5, trimmed up to 0") {
		t.Errorf("log line = %q", lines[6])
	}

	cfg.EventsStatusJSON = true
	out.Reset()
	if err := EventsStatus(ctx, cfg, &out); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Items []struct {
			Name        string `json:"name"`
			Position    *int64 `json:"position"`
			Lag         int64  `json:"lag"`
			DeadLetters int64  `json:"deadLetters"`
		} `json:"items"`
		Log struct{ Events, Bytes, Newest, Trimmed int64 } `json:"log"`
	}
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out.String())
	}
	if len(v.Items) != 4 || v.Items[3].Name != "webhooks" || *v.Items[3].Position != 3 || v.Items[3].Lag != 2 ||
		v.Items[3].DeadLetters != 2 || v.Items[1].Position != nil || v.Items[2].Name != "search-embedder" || v.Log.Events != 5 || v.Log.Newest != 5 || v.Log.Bytes == 0 {
		t.Errorf("--json = %s", out.String())
	}
}
