package mail

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/tlstest"
)

var t0 = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

// received is what the test server saw in one SMTP session.
type received struct {
	From, To   string
	Auth       string // decoded AUTH PLAIN response
	AuthOnTLS  bool
	MailOnTLS  bool
	Wire       string // the DATA lines as sent, dot-stuffed, CRLF-terminated
	Data       string // the message after undoing dot-stuffing
	Commands   []string
	Quit       bool
	Terminated bool // the session reached DATA's final dot
}

// smtpServer is a minimal SMTP server on 127.0.0.1 (RFC 5321's EHLO, MAIL,
// RCPT, DATA, QUIT, plus STARTTLS and AUTH PLAIN when enabled).
type smtpServer struct {
	ln       net.Listener
	tls      *tls.Config // STARTTLS is offered when set
	auth     bool        // AUTH PLAIN is offered
	rcptCode string      // reply to RCPT, "250" by default
	silent   bool        // accept connections but never greet

	mu       sync.Mutex
	sessions []received
	conns    int
	wg       sync.WaitGroup
	ctx      context.Context // ends when the test does; closes every connection
}

func startSMTP(t *testing.T, configure func(*smtpServer)) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &smtpServer{ln: ln, rcptCode: "250", ctx: ctx}
	if configure != nil {
		configure(s)
	}
	s.wg.Go(s.serve)
	t.Cleanup(func() {
		cancel()
		_ = ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *smtpServer) addr() string { return s.ln.Addr().String() }

func (s *smtpServer) serve() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns++
		s.mu.Unlock()
		s.wg.Go(func() {
			stop := context.AfterFunc(s.ctx, func() { _ = conn.Close() })
			defer stop()
			defer func() { _ = conn.Close() }()
			s.session(conn)
		})
	}
}

func (s *smtpServer) session(conn net.Conn) {
	if s.silent {
		_, _ = io.Copy(io.Discard, conn)
		return
	}
	var r received
	defer func() {
		s.mu.Lock()
		s.sessions = append(s.sessions, r)
		s.mu.Unlock()
	}()
	onTLS := false
	br := bufio.NewReader(conn)
	reply := func(lines ...string) bool {
		_, err := io.WriteString(conn, strings.Join(lines, "\r\n")+"\r\n")
		return err == nil
	}
	if !reply("220 test.invalid ESMTP") {
		return
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		r.Commands = append(r.Commands, verb)
		switch verb {
		case "EHLO", "HELO":
			lines := []string{"250-test.invalid"}
			if s.tls != nil && !onTLS {
				lines = append(lines, "250-STARTTLS")
			}
			if s.auth {
				lines = append(lines, "250-AUTH PLAIN")
			}
			lines = append(lines, "250 8BITMIME")
			reply(lines...)
		case "STARTTLS":
			if s.tls == nil || onTLS {
				reply("502 no")
				continue
			}
			reply("220 go ahead")
			tc := tls.Server(conn, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, br, onTLS = tc, bufio.NewReader(tc), true
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			dec, err := base64.StdEncoding.DecodeString(resp)
			if !s.auth || mech != "PLAIN" || err != nil {
				reply("504 unsupported")
				continue
			}
			r.Auth, r.AuthOnTLS = string(dec), onTLS
			reply("235 2.7.0 accepted")
		case "MAIL":
			r.From, r.MailOnTLS = strings.TrimSuffix(strings.TrimPrefix(arg, "FROM:<"), ">"), onTLS
			if i := strings.Index(r.From, "> "); i >= 0 {
				r.From = r.From[:i]
			}
			reply("250 ok")
		case "RCPT":
			r.To = strings.TrimSuffix(strings.TrimPrefix(arg, "TO:<"), ">")
			reply(s.rcptCode + " rcpt")
		case "DATA":
			reply("354 go on")
			var wire, data strings.Builder
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					r.Terminated = true
					break
				}
				wire.WriteString(l)
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			r.Wire, r.Data = wire.String(), data.String()
			reply("250 queued")
		case "RSET", "NOOP":
			reply("250 ok")
		case "QUIT":
			r.Quit = true
			reply("221 bye")
			return
		default:
			reply("502 unknown")
		}
	}
}

func (s *smtpServer) got() ([]received, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.sessions...), s.conns
}

// waitSessions waits for n finished sessions.
func (s *smtpServer) waitSessions(t *testing.T, n int) []received {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		got, _ := s.got()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d SMTP sessions finished, want %d", len(got), n)
		}
		<-tick.C
	}
}

func newSender(t *testing.T, cfg SMTPConfig) Sender {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return t0 }
	}
	s, err := NewSMTPSender(cfg)
	if err != nil {
		t.Fatalf("NewSMTPSender = %v", err)
	}
	return s
}

func TestSMTPDelivers(t *testing.T) {
	srv := startSMTP(t, nil)
	s := newSender(t, SMTPConfig{Addr: srv.addr(), From: "Basalt <no-reply@basalt.example>"})
	token := strings.Repeat("tok3n-", 30)
	text := "Hello Ada,\n.hidden line starts with a dot\n..two dots\n.\nhttps://app.example/verify?token=" + token + "\nBye = é\n"
	m := Message{To: "Ada Lovelace <ada@example.com>", Subject: "Vérifiez votre adresse", Text: text}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send = %v", err)
	}
	r := srv.waitSessions(t, 1)[0]
	if r.From != "no-reply@basalt.example" || r.To != "ada@example.com" || !r.Terminated || !r.Quit {
		t.Fatalf("session = %+v", r)
	}
	if r.Auth != "" || strings.Contains(strings.Join(r.Commands, " "), "STARTTLS") {
		t.Fatalf("unexpected AUTH or STARTTLS: %+v", r)
	}
	// Dot-stuffing on the wire: every line starting with a dot got one
	// more, and the lone "." line did not end the data early.
	for _, want := range []string{"\r\n..hidden line", "\r\n...two dots", "\r\n..\r\n"} {
		if !strings.Contains(r.Wire, want) {
			t.Errorf("wire data lacks %q:\n%s", want, r.Wire)
		}
	}
	for _, l := range strings.SplitAfter(r.Wire, "\r\n") {
		if len(l) > 1000 {
			t.Errorf("line of %d bytes on the wire", len(l))
		}
	}

	msg, err := mail.ReadMessage(strings.NewReader(r.Data))
	if err != nil {
		t.Fatalf("ReadMessage = %v\n%s", err, r.Data)
	}
	h := msg.Header
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil || subject != m.Subject {
		t.Errorf("Subject = %q (%q, %v)", subject, h.Get("Subject"), err)
	}
	if to, err := h.AddressList("To"); err != nil || len(to) != 1 || to[0].Name != "Ada Lovelace" || to[0].Address != "ada@example.com" {
		t.Errorf("To = %q (%v)", h.Get("To"), err)
	}
	if from, err := h.AddressList("From"); err != nil || len(from) != 1 || from[0].Name != "Basalt" || from[0].Address != "no-reply@basalt.example" {
		t.Errorf("From = %q (%v)", h.Get("From"), err)
	}
	if d, err := h.Date(); err != nil || !d.Equal(t0) {
		t.Errorf("Date = %q (%v)", h.Get("Date"), err)
	}
	if !regexp.MustCompile(`^<[0-9a-f]{32}@basalt\.example>$`).MatchString(h.Get("Message-Id")) {
		t.Errorf("Message-ID = %q", h.Get("Message-Id"))
	}
	if h.Get("Mime-Version") != "1.0" || h.Get("Content-Type") != `text/plain; charset="utf-8"` || h.Get("Content-Transfer-Encoding") != "quoted-printable" {
		t.Errorf("MIME headers = %v", h)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(string(body), "\r\n", "\n"); got != text {
		t.Errorf("body = %q, want %q", got, text)
	}
}

func TestSMTPStartTLSAndAuth(t *testing.T) {
	ca := tlstest.NewCA(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, 2)}, MinVersion: tls.VersionTLS12}
	roots := ca.Pool
	srv := startSMTP(t, func(s *smtpServer) { s.tls, s.auth = serverTLS, true })
	s := newSender(t, SMTPConfig{
		Addr: srv.addr(), From: "no-reply@basalt.example",
		Username: "basalt", Password: "s3cret", StartTLS: true,
		TLS: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	})
	if err := s.Send(context.Background(), Message{To: "ada@example.com", Subject: "Hi", Text: "x"}); err != nil {
		t.Fatalf("Send = %v", err)
	}
	r := srv.waitSessions(t, 1)[0]
	if r.Auth != "\x00basalt\x00s3cret" || !r.AuthOnTLS || !r.MailOnTLS {
		t.Fatalf("session = %+v; want AUTH PLAIN and MAIL over TLS", r)
	}

	// A server that stops offering STARTTLS gets nothing, not plain text.
	plain := startSMTP(t, func(s *smtpServer) { s.auth = true })
	s = newSender(t, SMTPConfig{Addr: plain.addr(), From: "no-reply@basalt.example", Username: "basalt", Password: "s3cret", StartTLS: true})
	err := s.Send(context.Background(), Message{To: "ada@example.com", Subject: "Hi", Text: "x"})
	if !fault.Is(err, fault.Unavailable) {
		t.Fatalf("Send without STARTTLS = %v, want Unavailable", err)
	}
	r = plain.waitSessions(t, 1)[0]
	if r.Auth != "" || r.From != "" {
		t.Fatalf("credentials or mail sent without TLS: %+v", r)
	}

	// Without TLS, credentials go only to this machine.
	local := startSMTP(t, func(s *smtpServer) { s.auth = true })
	s = newSender(t, SMTPConfig{Addr: local.addr(), From: "no-reply@basalt.example", Username: "basalt", Password: "pw"})
	if err := s.Send(context.Background(), Message{To: "ada@example.com", Subject: "Hi", Text: "x"}); err != nil {
		t.Fatalf("Send to 127.0.0.1 with AUTH = %v", err)
	}
	if r := local.waitSessions(t, 1)[0]; r.Auth != "\x00basalt\x00pw" {
		t.Fatalf("session = %+v", r)
	}
}

func TestSMTPConfigValidation(t *testing.T) {
	good := SMTPConfig{Addr: "smtp.example.com:587", From: "no-reply@basalt.example"}
	for _, tc := range []struct {
		name   string
		change func(*SMTPConfig)
		ok     bool
	}{
		{"minimal", func(*SMTPConfig) {}, true},
		{"auth with STARTTLS", func(c *SMTPConfig) { c.Username, c.Password, c.StartTLS = "u", "p", true }, true},
		{"auth on localhost", func(c *SMTPConfig) { c.Addr, c.Username = "localhost:25", "u" }, true},
		{"auth on 127.0.0.1", func(c *SMTPConfig) { c.Addr, c.Username = "127.0.0.1:25", "u" }, true},
		{"auth on ::1", func(c *SMTPConfig) { c.Addr, c.Username = "[::1]:25", "u" }, true},
		{"auth in plain text to a remote host", func(c *SMTPConfig) { c.Username, c.Password = "u", "p" }, false},
		{"auth in plain text to another loopback name", func(c *SMTPConfig) { c.Addr, c.Username = "127.0.0.2:25", "u" }, false},
		{"password without username", func(c *SMTPConfig) { c.Password = "p" }, false},
		{"credentials with CRLF", func(c *SMTPConfig) { c.Username, c.StartTLS = "u\r\nRSET", true }, false},
		{"no port", func(c *SMTPConfig) { c.Addr = "smtp.example.com" }, false},
		{"no host", func(c *SMTPConfig) { c.Addr = ":25" }, false},
		{"no from", func(c *SMTPConfig) { c.From = "" }, false},
		{"from not an address", func(c *SMTPConfig) { c.From = "basalt" }, false},
		{"from with CRLF", func(c *SMTPConfig) { c.From = "a@example.com\r\nBcc: victim@example.com" }, false},
		{"negative timeout", func(c *SMTPConfig) { c.Timeout = -time.Second }, false},
	} {
		cfg := good
		tc.change(&cfg)
		_, err := NewSMTPSender(cfg)
		if tc.ok && err != nil {
			t.Errorf("%s: NewSMTPSender = %v", tc.name, err)
		}
		if !tc.ok && !fault.Is(err, fault.Invalid) {
			t.Errorf("%s: NewSMTPSender = %v, want Invalid", tc.name, err)
		}
	}
}

func TestSMTPRejectsHeaderInjection(t *testing.T) {
	srv := startSMTP(t, nil)
	s := newSender(t, SMTPConfig{Addr: srv.addr(), From: "no-reply@basalt.example"})
	for _, m := range []Message{
		{To: "ada@example.com\r\nBcc: victim@example.com", Subject: "Hi", Text: "x"},
		{To: "ada@example.com\nBcc: victim@example.com", Subject: "Hi", Text: "x"},
		{To: "ada@example.com", Subject: "Hi\r\nBcc: victim@example.com", Text: "x"},
		{To: "ada@example.com", Subject: "Hi\nX-Evil: 1", Text: "x"},
		{To: "ada@example.com", Subject: "Hi\rX-Evil: 1", Text: "x"},
		{To: "", Subject: "Hi", Text: "x"},
		{To: "not an address", Subject: "Hi", Text: "x"},
		{To: "a@example.com, b@example.com", Subject: "Hi", Text: "x"},
		{To: strings.Repeat("a", 400) + "@example.com", Subject: "Hi", Text: "x"},
		{To: "ada@example.com", Subject: strings.Repeat("s", MaxSubjectBytes+1), Text: "x"},
	} {
		if err := s.Send(context.Background(), m); !fault.Is(err, fault.Invalid) {
			t.Errorf("Send(%q, %q) = %v, want Invalid", m.To, m.Subject, err)
		}
		if err := NewLogSender(nil).Send(context.Background(), m); !fault.Is(err, fault.Invalid) {
			t.Errorf("LogSender.Send(%q, %q) = %v, want Invalid", m.To, m.Subject, err)
		}
	}
	if _, conns := srv.got(); conns != 0 {
		t.Fatalf("%d connections for invalid messages, want none", conns)
	}
}

func TestSMTPErrors(t *testing.T) {
	m := Message{To: "ada@example.com", Subject: "Hi", Text: "x"}

	refused := startSMTP(t, func(s *smtpServer) { s.rcptCode = "550" })
	err := newSender(t, SMTPConfig{Addr: refused.addr(), From: "a@basalt.example"}).Send(context.Background(), m)
	if !fault.Is(err, fault.Invalid) {
		t.Errorf("550 on RCPT: %v, want Invalid", err)
	}
	busy := startSMTP(t, func(s *smtpServer) { s.rcptCode = "451" })
	err = newSender(t, SMTPConfig{Addr: busy.addr(), From: "a@basalt.example"}).Send(context.Background(), m)
	if !fault.Is(err, fault.Unavailable) {
		t.Errorf("451 on RCPT: %v, want Unavailable", err)
	}

	// Nobody listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	if err := newSender(t, SMTPConfig{Addr: addr, From: "a@basalt.example"}).Send(context.Background(), m); !fault.Is(err, fault.Unavailable) {
		t.Errorf("no server: %v, want Unavailable", err)
	}

	// A server that never answers: the timeout, or the caller's context,
	// ends the attempt.
	silent := startSMTP(t, func(s *smtpServer) { s.silent = true })
	start := time.Now()
	err = newSender(t, SMTPConfig{Addr: silent.addr(), From: "a@basalt.example", Timeout: 100 * time.Millisecond}).Send(context.Background(), m)
	if !fault.Is(err, fault.Unavailable) || time.Since(start) > 5*time.Second {
		t.Errorf("silent server with timeout: %v after %s", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- newSender(t, SMTPConfig{Addr: silent.addr(), From: "a@basalt.example"}).Send(ctx, m) }()
	cancel()
	select {
	case err := <-errc:
		if !fault.Is(err, fault.Unavailable) {
			t.Errorf("cancelled Send = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send did not return after its context ended")
	}
}

func TestLogSender(t *testing.T) {
	var buf bytes.Buffer
	s := NewLogSender(slog.New(slog.NewJSONHandler(&buf, nil)))
	if err := s.Send(context.Background(), Message{To: "ada@example.com", Subject: "Reset", Text: "token=abc"}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`"level":"INFO"`, `"to":"ada@example.com"`, `"subject":"Reset"`, `"text":"token=abc"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s: %s", want, out)
		}
	}
}
