// Package accountstest helps tests of the account service and its
// transports: a settable clock and a mailbox that records the mail the
// service sends.
package accountstest

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth/mail"
)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at 2026-11-26 12:00 UTC.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Mailbox records the mail the service queues (it is an accounts.Mailer).
type Mailbox struct {
	mu   sync.Mutex
	msgs []mail.Message
}

// Enqueue records m.
func (m *Mailbox) Enqueue(msg mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

// All returns the mail recorded so far.
func (m *Mailbox) All() []mail.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.msgs)
}

// Count returns how many messages were recorded.
func (m *Mailbox) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.msgs)
}

var emailToken = regexp.MustCompile(`bse_[A-Za-z0-9_-]{43}`)

// Token returns the emailed token of the last mail to addr whose subject
// contains subject, waiting up to 5 s for it: some mail is sent after the
// request is answered.
func (m *Mailbox) Token(t testing.TB, to, subject string) string {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); <-tick.C {
		msgs := m.All()
		for i := len(msgs) - 1; i >= 0; i-- {
			if msgs[i].To == to && strings.Contains(msgs[i].Subject, subject) {
				if tok := emailToken.FindString(msgs[i].Text); tok != "" {
					return tok
				}
				t.Fatalf("mail %q to %s carries no token: %q", msgs[i].Subject, to, msgs[i].Text)
			}
		}
	}
	t.Fatalf("no mail %q to %s within 5s", subject, to)
	return ""
}
