package gateway

// With TLS, Basalt completes each TLS handshake itself, before net/http
// sees the connection. net/http writes its own error answers (see
// rawerrors.go) on the connection it serves: when that is the *tls.Conn,
// they are encrypted before any wrapper below TLS could read them. So the
// listener hands out a connection over which HTTP/1.1 goes through a
// problemConn above TLS, where the fixed answers are still plain text. It
// hands out the *tls.Conn itself only when ALPN chose HTTP/2, which
// net/http serves as HTTP/2 over TLS only on a *tls.Conn (its
// TLSNextProto), and whose errors are HTTP/2's own.

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// tlsListener accepts TCP connections, completes their TLS handshakes
// concurrently, each within a time limit, and hands out those that
// succeeded: the *tls.Conn when ALPN chose "h2", else a tlsProblemConn
// over it (HTTP/1.1). Close stops the handshakes under way and waits for
// them.
type tlsListener struct {
	ln         net.Listener // TCP
	conf       *tls.Config
	timeout    time.Duration // of each handshake
	challenges []string      // ALPN protocols of handshakes that end the connection
	log        *slog.Logger

	ctx    context.Context // ends when the listener is closed
	cancel context.CancelFunc
	conns  chan accepted
	wg     sync.WaitGroup // the accept loop and the handshakes
	once   sync.Once
	err    error // of closing ln
}

// accepted is a connection ready to serve, or an error of the TCP
// listener.
type accepted struct {
	conn net.Conn
	err  error
}

var _ net.Listener = (*tlsListener)(nil)

// newTLSListener starts accepting on ln; closing the returned listener
// closes ln.
func newTLSListener(ln net.Listener, conf *tls.Config, timeout time.Duration, challenges []string, log *slog.Logger) *tlsListener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &tlsListener{ln: ln, conf: conf, timeout: timeout, challenges: challenges, log: log, ctx: ctx, cancel: cancel, conns: make(chan accepted)}
	l.wg.Go(l.acceptLoop)
	return l
}

// Accept returns the next connection whose handshake succeeded.
func (l *tlsListener) Accept() (net.Conn, error) {
	select {
	case a := <-l.conns:
		return a.conn, a.err
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close closes the TCP listener and the connections still in their
// handshake, and waits for their goroutines.
func (l *tlsListener) Close() error {
	l.once.Do(func() {
		l.cancel()
		l.err = l.ln.Close()
		l.wg.Wait()
	})
	return l.err
}

// Addr is the TCP listener's address.
func (l *tlsListener) Addr() net.Addr { return l.ln.Addr() }

func (l *tlsListener) acceptLoop() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			// Passed on: http.Server.Serve retries a temporary error after
			// a pause (this loop waits meanwhile, in deliver) and stops
			// on any other, closing l.
			if !l.deliver(accepted{err: err}) {
				return
			}
			continue
		}
		l.wg.Go(func() { l.handshake(c) })
	}
}

// deliver hands a to Accept, and reports false if the listener was
// closed first.
func (l *tlsListener) deliver(a accepted) bool {
	if l.ctx.Err() != nil {
		return false
	}
	select {
	case l.conns <- a:
		return true
	case <-l.ctx.Done():
		return false
	}
}

// handshake completes c's TLS handshake and delivers the connection, or
// closes c. A client that speaks plain HTTP gets a problem answer first.
func (l *tlsListener) handshake(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(l.timeout))
	tc := tls.Server(c, l.conf)
	if err := tc.HandshakeContext(l.ctx); err != nil {
		reason := err.Error()
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) && rh.Conn != nil && looksLikeHTTP(rh.RecordHeader) {
			_, _ = rh.Conn.Write(problemAnswer(http.StatusBadRequest, "this port speaks HTTPS; the request was sent in plain HTTP"))
			reason = "the client sent an HTTP request to the HTTPS port"
		}
		_ = c.Close()
		if l.ctx.Err() == nil {
			l.log.Warn("TLS handshake failed", "remote_addr", c.RemoteAddr().String(), "err", reason)
		}
		return
	}
	if slices.Contains(l.challenges, tc.ConnectionState().NegotiatedProtocol) {
		// A validation server checked the certificate of the handshake
		// (RFC 8737 §3): nothing follows.
		_ = c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{}) // net/http sets its own from here on
	var conn net.Conn = tc
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		conn = &tlsProblemConn{problemConn: problemConn{Conn: tc}, tls: tc}
	}
	if !l.deliver(accepted{conn: conn}) {
		_ = c.Close()
	}
}

// looksLikeHTTP reports whether the first five bytes received, read as a
// TLS record header, are rather the start of an HTTP/1.x request (the
// methods net/http recognises there, and Basalt's PATCH and DELETE).
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "PATCH", "DELET":
		return true
	}
	return false
}

// tlsProblemConn is a problemConn over a TLS connection. Its
// ConnectionState makes net/http set Request.TLS, as it does for a
// *tls.Conn; being no *tls.Conn, it is served as HTTP/1.1 only.
type tlsProblemConn struct {
	problemConn
	tls *tls.Conn
}

// ConnectionState is the TLS connection's state.
func (c *tlsProblemConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }
