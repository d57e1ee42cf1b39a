// Package mail sends Basalt's account emails (address verification,
// password reset): a Sender interface, a development sender that logs, an
// SMTP sender, and a Queue that sends in the background so that no request
// waits on, or reveals the timing of, mail delivery.
package mail

import (
	"context"
	"log/slog"
	"net/mail"
	"strings"

	"github.com/basaltdev/basalt/internal/fault"
)

// Limits on a message's fields, in bytes.
const (
	MaxAddressBytes = 320
	MaxSubjectBytes = 998
	MaxTextBytes    = 1 << 20
)

// Message is one plain-text email to one recipient.
type Message struct {
	To      string // an RFC 5322 address: "user@example.com" or "Name <user@example.com>"
	Subject string
	Text    string // the body, UTF-8
}

// Sender delivers a message.
//
// Errors: a message or configuration that can never be sent is
// fault.Invalid (senders and queues do not retry it); anything else, such as
// an unreachable server, is fault.Unavailable and may succeed later.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// logSender writes messages to a log.
type logSender struct{ log *slog.Logger }

// NewLogSender returns a Sender for development that logs every message at
// info level instead of sending it. The log records the whole message,
// including its text, which carries the secret tokens of verification and
// password reset links: anyone who can read the log can use them, so never
// use it where the log is shared or kept.
func NewLogSender(log *slog.Logger) Sender {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return logSender{log: log}
}

func (s logSender) Send(ctx context.Context, m Message) error {
	if _, err := checkMessage("mail.LogSender.Send", m); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "mail not sent (development sender)", "to", m.To, "subject", m.Subject, "text", m.Text)
	return nil
}

// checkMessage validates m and returns its parsed recipient.
func checkMessage(op string, m Message) (*mail.Address, error) {
	to, err := parseAddress(op, "recipient", m.To)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.ContainsAny(m.Subject, "\r\n"):
		return nil, fault.New(fault.Invalid, op, "the subject must not contain line breaks")
	case len(m.Subject) > MaxSubjectBytes:
		return nil, fault.Newf(fault.Invalid, op, "the subject is longer than %d bytes", MaxSubjectBytes)
	case len(m.Text) > MaxTextBytes:
		return nil, fault.Newf(fault.Invalid, op, "the text is longer than %d bytes", MaxTextBytes)
	}
	return to, nil
}

// parseAddress parses one RFC 5322 address, refusing line breaks (header
// injection) and anything a mail header cannot carry safely.
func parseAddress(op, what, s string) (*mail.Address, error) {
	if s == "" {
		return nil, fault.Newf(fault.Invalid, op, "the %s address is required", what)
	}
	if len(s) > MaxAddressBytes {
		return nil, fault.Newf(fault.Invalid, op, "the %s address is longer than %d bytes", what, MaxAddressBytes)
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return nil, fault.Newf(fault.Invalid, op, "the %s address must not contain line breaks", what)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, op, err, "the "+what+" address is not a valid email address")
	}
	if strings.ContainsAny(a.Address, "\r\n\x00<> ") {
		return nil, fault.Newf(fault.Invalid, op, "the %s address is not a valid email address", what)
	}
	return a, nil
}
