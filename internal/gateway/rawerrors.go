package gateway

// Go's HTTP server answers some requests itself, before any handler runs,
// by writing a fixed plain-text answer straight to the connection: a
// request line or header it cannot parse (400), headers beyond
// http.Server.MaxHeaderBytes (431), an unknown transfer coding (501), an
// unsupported HTTP version (505). Basalt answers every error as
// application/problem+json, so the connections of its listeners recognise
// these fixed writes and send the equivalent problem instead, with the same
// status, still closing the connection. With TLS they sit above the
// encryption (tlslistener.go), which also answers plain HTTP sent to the
// TLS port (400) with a problem.
//
// The recognition is exact: net/http writes each of them in one Write
// call, as "HTTP/1.x <status line>" followed by exactly the header block
// below and a one-line text. Answers written through http.ResponseWriter
// never have that shape: they always carry a Date header, and their
// headers are sorted (Connection before Content-Type).

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/basaltdev/basalt/internal/gateway/restapi"
)

// cannedHeaders is the header block of net/http's own error answers.
const cannedHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// problemListener hands out connections that turn net/http's own error
// answers into problems.
type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &problemConn{Conn: c}, nil
}

// problemConn is a connection whose writes of net/http's own error answers
// are replaced by problems. It keeps the optional methods net/http uses
// on a *net.TCPConn: CloseWrite (a half-close before closing, so the
// client reads the answer instead of a reset) and ReadFrom (sendfile).
type problemConn struct {
	net.Conn
}

// CloseWrite half-closes the connection if the underlying one can.
func (c *problemConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom copies r to the connection, with the underlying connection's
// ReadFrom when it has one. It never carries a fixed error answer.
func (c *problemConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

func (c *problemConn) Write(b []byte) (int, error) {
	if len(b) < 12 || b[0] != 'H' || !bytes.HasPrefix(b, []byte("HTTP/1.")) {
		return c.Conn.Write(b)
	}
	answer := rewriteCanned(b)
	if answer == nil {
		return c.Conn.Write(b)
	}
	if _, err := c.Conn.Write(answer); err != nil {
		return 0, err
	}
	return len(b), nil
}

// rewriteCanned returns the problem answer that replaces b, one of
// net/http's own error answers, or nil if b is not one.
func rewriteCanned(b []byte) []byte {
	i := bytes.Index(b, []byte(cannedHeaders))
	if i < 0 || !bytes.HasPrefix(b, []byte("HTTP/1.1 ")) {
		return nil
	}
	statusLine, text := string(b[len("HTTP/1.1 "):i]), string(b[i+len(cannedHeaders):])
	if len(statusLine) < 4 || statusLine[3] != ' ' || containsCRLF(statusLine) || containsCRLF(text) {
		return nil
	}
	status, err := strconv.Atoi(statusLine[:3])
	if err != nil || status < 400 || status > 599 {
		return nil
	}
	return problemAnswer(status, cannedDetail(status, statusLine))
}

func containsCRLF(s string) bool { return strings.ContainsAny(s, "\r\n") }

// cannedDetail chooses the problem's detail: net/http's reason after the
// status text ("400 Bad Request: missing required Host header") when it is
// one of its plain fixed phrases, else a phrase for the status.
func cannedDetail(status int, statusLine string) string {
	if _, reason, ok := strings.Cut(statusLine, ": "); ok && plainPhrase(reason) {
		return reason
	}
	switch status {
	case http.StatusBadRequest:
		return "the request line or a header could not be parsed as HTTP/1.1"
	case http.StatusRequestHeaderFieldsTooLarge:
		return "the request line and headers are too large"
	case http.StatusNotImplemented:
		return "the request uses a transfer coding other than chunked"
	}
	return http.StatusText(status)
}

// plainPhrase reports whether b is 1 to 100 letters, digits, spaces and
// simple punctuation: a fixed text of net/http, never a client's bytes.
func plainPhrase(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == ' ', c == '-', c == ',', c == '.':
		default:
			return false
		}
	}
	return true
}

// problemAnswer renders a whole HTTP/1.1 answer: status, the problem as
// restapi writes it, and Connection: close.
func problemAnswer(status int, detail string) []byte {
	body, err := json.Marshal(restapi.StatusProblem(status, detail))
	if err != nil { // cannot happen: a Problem holds strings and ints
		body = []byte(`{"type":"urn:basalt:problem:invalid","title":"The request is invalid","status":400,"code":"invalid"}`)
	}
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	b.WriteString("Connection: close\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	b.WriteString("Content-Type: " + restapi.ProblemContentType + "\r\n")
	b.WriteString("X-Content-Type-Options: nosniff\r\n")
	b.WriteString(RequestIDHeader + ": " + newRequestID() + "\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}
