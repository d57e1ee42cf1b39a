// Package redis carries revocations between Basalt processes over Redis
// pub/sub: a revocation.Broadcaster. Every process publishes the sessions
// and API keys it revokes on one channel and subscribes to it, so the
// others usually learn a revocation within a round trip instead of at
// their next poll of the database. Pub/sub keeps nothing: messages sent
// while a process is disconnected are lost, which is why the database poll
// stays the truth (see package revocation).
//
// A message is "<µs since the Unix epoch> <ID>".
package redis

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/basaltdev/basalt/internal/auth/revocation"
)

// DefaultRetry is how long Subscribe waits before subscribing again after
// losing its subscription.
const DefaultRetry = 250 * time.Millisecond

// Broadcaster publishes and receives revocations on a Redis channel. It is
// safe for concurrent use.
type Broadcaster struct {
	client  rueidis.Client
	channel string
	log     *slog.Logger
	retry   time.Duration
}

var _ revocation.Broadcaster = (*Broadcaster)(nil)

// New returns a broadcaster on channel (e.g. "basalt:revocations") over
// client, which it does not close. A nil log discards.
func New(client rueidis.Client, channel string, log *slog.Logger) *Broadcaster {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Broadcaster{client: client, channel: channel, log: log, retry: DefaultRetry}
}

// Publish implements revocation.Broadcaster.
func (b *Broadcaster) Publish(ctx context.Context, e revocation.Entry) error {
	msg := strconv.FormatInt(e.At.UnixMicro(), 10) + " " + e.ID
	return b.client.Do(ctx, b.client.B().Publish().Channel(b.channel).Message(msg).Build()).Error()
}

// Subscribe implements revocation.Broadcaster: it subscribes again
// whenever the subscription is lost, until ctx ends.
func (b *Broadcaster) Subscribe(ctx context.Context, deliver func(revocation.Entry)) error {
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	for {
		start := time.Now()
		err := b.client.Receive(ctx, b.client.B().Subscribe().Channel(b.channel).Build(), func(m rueidis.PubSubMessage) {
			if e, ok := parse(m.Message); ok {
				deliver(e)
			}
		})
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > b.retry {
			// It was working: a new outage.
			b.log.WarnContext(ctx, "revocation broadcasts interrupted; subscribing again (revocations still arrive by polls)", "err", err)
		}
		timer.Reset(b.retry)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
	}
}

func parse(msg string) (revocation.Entry, bool) {
	at, id, ok := strings.Cut(msg, " ")
	if !ok || id == "" {
		return revocation.Entry{}, false
	}
	us, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return revocation.Entry{}, false
	}
	return revocation.Entry{ID: id, At: time.UnixMicro(us)}, true
}
