package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/basaltdev/basalt/internal/fault"
)

// DefaultSMTPTimeout bounds one delivery when SMTPConfig.Timeout is zero.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPConfig configures an SMTP sender.
type SMTPConfig struct {
	// Addr is the server's host:port, e.g. "smtp.example.com:587".
	Addr string
	// From is the sender address, e.g. "Basalt <no-reply@example.com>".
	From string
	// Username and Password, if Username is set, authenticate with AUTH
	// PLAIN. Credentials only travel encrypted: StartTLS is required with
	// them unless the server is on this machine (localhost, 127.0.0.1, ::1).
	Username string
	Password string
	// StartTLS upgrades the connection with STARTTLS before anything else
	// is sent; a server that does not offer it is an error, never a
	// fallback to plain text.
	StartTLS bool
	// TLS optionally configures STARTTLS (for example a private CA in
	// RootCAs); ServerName defaults to Addr's host.
	TLS *tls.Config
	// Timeout bounds one delivery, from dialing to QUIT
	// (DefaultSMTPTimeout).
	Timeout time.Duration
	// Now is the clock of the Date header (time.Now if nil).
	Now func() time.Time
}

// smtpSender delivers over SMTP with net/smtp.
type smtpSender struct {
	cfg  SMTPConfig
	host string
	from *mail.Address
	tls  *tls.Config
}

// NewSMTPSender returns a Sender that delivers each message over a new SMTP
// connection to cfg.Addr. Invalid configuration is a fault.Invalid error.
func NewSMTPSender(cfg SMTPConfig) (Sender, error) {
	const op = "mail.NewSMTPSender"
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" || port == "" {
		return nil, fault.Newf(fault.Invalid, op, "the SMTP address %q is not host:port", cfg.Addr)
	}
	from, err := parseAddress(op, "sender", cfg.From)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.Timeout < 0:
		return nil, fault.Newf(fault.Invalid, op, "the SMTP timeout must not be negative, got %s", cfg.Timeout)
	case cfg.Username == "" && cfg.Password != "":
		return nil, fault.New(fault.Invalid, op, "an SMTP password needs a username")
	case cfg.Username != "" && !cfg.StartTLS && !isLocalHost(host):
		return nil, fault.Newf(fault.Invalid, op, "SMTP credentials for %s need STARTTLS: they would cross the network in plain text", host)
	case strings.ContainsAny(cfg.Username+cfg.Password, "\x00\r\n"):
		return nil, fault.New(fault.Invalid, op, "SMTP credentials must not contain NUL or line breaks")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS != nil {
		tlsCfg = cfg.TLS.Clone()
	}
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = host
	}
	return &smtpSender{cfg: cfg, host: host, from: from, tls: tlsCfg}, nil
}

// isLocalHost reports whether host is one of the names of this machine
// that net/smtp lets credentials travel to unencrypted.
func isLocalHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// Send delivers m. Errors: a message that cannot be sent as it is, or that
// the server refuses permanently (a 5xx reply), is fault.Invalid; a failure
// to reach or talk to the server is fault.Unavailable.
func (s *smtpSender) Send(ctx context.Context, m Message) error {
	const op = "mail.SMTPSender.Send"
	to, err := checkMessage(op, m)
	if err != nil {
		return err
	}
	body, err := s.compose(to, m)
	if err != nil {
		return fault.Internalf(op, err)
	}
	if err := s.deliver(ctx, to.Address, body); err != nil {
		var te *textproto.Error
		if errors.As(err, &te) && te.Code >= 500 {
			return fault.Wrap(fault.Invalid, op, err, "the mail server refused the message")
		}
		return fault.Wrap(fault.Unavailable, op, err, "the mail server cannot be reached")
	}
	return nil
}

// deliver runs one SMTP session that sends body to rcpt.
func (s *smtpSender) deliver(ctx context.Context, rcpt string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			_ = conn.Close()
			return err
		}
	}
	// Cancelling ctx aborts whatever the session is waiting for.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		_ = conn.Close()
		return err
	}
	defer func() { _ = c.Close() }()
	if s.cfg.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("the server does not offer STARTTLS")
		}
		if err := c.StartTLS(s.tls); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if s.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("the server does not offer AUTH")
		}
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.host)); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(rcpt); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	// The server has taken the message: a failed QUIT must not make the
	// caller send it again.
	_ = c.Quit()
	return nil
}

// compose renders m as an RFC 5322 message with a quoted-printable UTF-8
// body. SMTP's dot-stuffing is left to the DATA writer.
func (s *smtpSender) compose(to *mail.Address, m Message) ([]byte, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	domain := "basalt.invalid"
	if _, d, ok := strings.Cut(s.from.Address, "@"); ok && d != "" {
		domain = d
	}
	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	header("From", s.from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", s.cfg.Now().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", `text/plain; charset="utf-8"`)
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(m.Text)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
