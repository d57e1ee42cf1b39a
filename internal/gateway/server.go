// Package gateway owns Basalt's listeners (plain HTTP/1.1 and h2c, or
// HTTPS with HTTP/1.1 and HTTP/2 over TCP and HTTP/3 over QUIC) and the
// middleware every request passes through (request ids, panic recovery, metrics, access logs, CORS,
// compression). The transports (restapi, and later graphqlapi and rpcapi)
// mount on its mux.
package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// Config configures the HTTP server.
type Config struct {
	Addr              string        // host:port; port 0 picks a free port
	ReadHeaderTimeout time.Duration // default 10 s
	ReadTimeout       time.Duration // default 60 s
	WriteTimeout      time.Duration // default 60 s
	IdleTimeout       time.Duration // default 120 s
	// MaxHeaderBytes is net/http's limit on the request line and headers,
	// beyond which it answers 431 itself; default 4 × DefaultMaxHeaderBytes,
	// well above the middleware's limit, which answers first.
	MaxHeaderBytes int
	// DrainTimeout bounds how long shutdown waits for in-flight requests.
	DrainTimeout time.Duration // default 15 s
	// TLSCert and TLSKey name the PEM files of the certificate chain and
	// its private key. With both the server speaks HTTPS only (HTTP/2 and
	// HTTP/1.1, chosen by ALPN); with neither, plain HTTP/1.1 and h2c.
	TLSCert, TLSKey string
	// Reload: each value received re-reads TLSCert and TLSKey (the process
	// sends SIGHUP here). A certificate that fails to load is logged and
	// the previous one stays in use.
	Reload <-chan os.Signal
	// GetCertificate, instead of TLSCert and TLSKey, serves certificates
	// obtained elsewhere (ACME): with it the server speaks HTTPS.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ChallengeProtocols are ALPN protocols a TLS handshake may also
	// choose only to prove control of the domain (ACME's "acme-tls/1",
	// RFC 8737): GetCertificate answers such a handshake, after which the
	// connection is closed.
	ChallengeProtocols []string
	// HTTP3: with TLS, the server also serves HTTP/3 over QUIC on the UDP
	// port of the same number, and advertises it to the clients of TCP
	// with Alt-Svc.
	HTTP3 bool
	// ClientCAs, with TLS, makes every client present a certificate that
	// one of them signed (mutual TLS), as the components of a split
	// deployment prove themselves to each other.
	ClientCAs *x509.CertPool
}

// Server serves one handler on one TCP listener until its context ends,
// then drains in-flight requests.
type Server struct {
	cfg      Config
	log      *slog.Logger
	srv      *http.Server
	ln       net.Listener  // TCP
	certs    *certReloader // nil without certificate files
	tlsConf  *tls.Config   // nil without TLS
	h3       *http3.Server // nil without HTTP/3
	udp      net.PacketConn
	altSvc   string // the Alt-Svc field of TCP answers, with HTTP/3
	draining atomic.Bool
	inFlight inFlight // handlers running
}

// ErrDrainTimeout is the error of Run when DrainTimeout passed before the
// in-flight requests finished, and their connections were closed.
var ErrDrainTimeout = errors.New("drain timeout: in-flight requests were cut off")

// handlerGrace bounds how long Run waits, after a drain timed out and the
// connections were closed, for the handlers of the requests it cut off to
// return (their contexts are cancelled).
const handlerGrace = 5 * time.Second

// NewServer returns a server for handler. Call Listen, then Run.
func NewServer(cfg Config, handler http.Handler, log *slog.Logger) *Server {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ReadHeaderTimeout, 10*time.Second)
	def(&cfg.ReadTimeout, 60*time.Second)
	def(&cfg.WriteTimeout, 60*time.Second)
	def(&cfg.IdleTimeout, 120*time.Second)
	def(&cfg.DrainTimeout, 15*time.Second)
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 4 * DefaultMaxHeaderBytes
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	var certs *certReloader
	var tlsConf *tls.Config
	switch {
	case cfg.TLSCert != "" || cfg.TLSKey != "":
		certs = newCertReloader(cfg.TLSCert, cfg.TLSKey, log)
		tlsConf = tlsConfig(certs.getCertificate, cfg.ChallengeProtocols)
	case cfg.GetCertificate != nil:
		tlsConf = tlsConfig(cfg.GetCertificate, cfg.ChallengeProtocols)
	}
	if tlsConf != nil && cfg.ClientCAs != nil {
		tlsConf.ClientCAs, tlsConf.ClientAuth = cfg.ClientCAs, tls.RequireAndVerifyClientCert
	}
	if tlsConf != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true) // h2c for clients that ask for it
	}
	// With TLS, the server completes the handshakes itself (tlsListener),
	// so http.Server has no TLSConfig: it serves the *tls.Conns it is
	// handed with ALPN "h2" as HTTP/2 (Serve sets that up), and the others
	// as HTTP/1.1.
	s := &Server{
		cfg:     cfg,
		log:     log,
		certs:   certs,
		tlsConf: tlsConf,
	}
	tcpHandler := s.inFlight.wrap(handler)
	if tlsConf != nil && cfg.HTTP3 {
		s.h3 = &http3.Server{
			Handler:        s.inFlight.wrap(handler),
			TLSConfig:      http3.ConfigureTLSConfig(tlsConf),
			MaxHeaderBytes: cfg.MaxHeaderBytes,
			IdleTimeout:    cfg.IdleTimeout,
			Logger:         log,
		}
		tcpHandler = s.advertiseHTTP3(tcpHandler)
	}
	s.srv = &http.Server{
		Handler:           tcpHandler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		Protocols:         protocols,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
}

// Listen loads the TLS certificate, if the server has one, binds the
// listening sockets (TCP, and UDP for HTTP/3) and returns the TCP address.
func (s *Server) Listen() (net.Addr, error) {
	if s.certs != nil {
		if s.cfg.TLSCert == "" || s.cfg.TLSKey == "" {
			return nil, errors.New("TLS needs both a certificate and a key file")
		}
		if err := s.certs.load(); err != nil {
			return nil, err
		}
		s.certs.logCertificate("TLS certificate loaded")
	}
	// With port 0 the TCP listener picks the port, which UDP may have
	// taken on its side: then try another.
	for attempt := 1; ; attempt++ {
		ln, err := net.Listen("tcp", s.cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
		}
		if s.h3 == nil {
			s.ln = ln
			return ln.Addr(), nil
		}
		udp, err := net.ListenPacket("udp", ln.Addr().String())
		if err == nil {
			s.ln, s.udp = ln, udp
			s.altSvc = fmt.Sprintf(`h3=":%d"; ma=86400`, ln.Addr().(*net.TCPAddr).Port)
			return ln.Addr(), nil
		}
		_ = ln.Close()
		if _, port, _ := net.SplitHostPort(s.cfg.Addr); port != "0" || attempt == 5 {
			return nil, fmt.Errorf("listen on UDP %s for HTTP/3: %w", ln.Addr(), err)
		}
	}
}

// TLS reports whether the server speaks HTTPS.
func (s *Server) TLS() bool { return s.tlsConf != nil }

// CertificateNotAfter returns the end of validity of the certificate the
// server serves from its files (Config.TLSCert, as last loaded), and
// false when it serves none from files.
func (s *Server) CertificateNotAfter() (time.Time, bool) {
	if s.certs == nil {
		return time.Time{}, false
	}
	cert := s.certs.cert.Load()
	if cert == nil || cert.Leaf == nil {
		return time.Time{}, false
	}
	return cert.Leaf.NotAfter, true
}

// HTTP3 reports whether the server also speaks HTTP/3.
func (s *Server) HTTP3() bool { return s.h3 != nil }

// advertiseHTTP3 tells the clients of h, over TCP, where HTTP/3 is
// served: the same port number, over UDP, for a day (RFC 7838's Alt-Svc).
func (s *Server) advertiseHTTP3(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Alt-Svc"] = []string{s.altSvc}
		h.ServeHTTP(w, r)
	})
}

// Draining reports whether the server has begun shutting down; readiness
// checks answer 503 from then on.
func (s *Server) Draining() bool { return s.draining.Load() }

// OnDrain registers f to be called when the drain begins, before Run
// waits for the requests in flight: long-lived answers (event streams)
// end then rather than hold the drain until its timeout. f runs in its own
// goroutine and must not block.
func (s *Server) OnDrain(f func()) { s.srv.RegisterOnShutdown(f) }

// Run serves until ctx ends, then drains: Draining reports true at once,
// the listener stops accepting connections, and the requests in flight run
// to their normal answers. It returns nil when they have all finished
// within DrainTimeout. Otherwise it cancels the contexts of the requests
// still running, closes their connections, waits briefly for their handlers
// to return and returns an error wrapping ErrDrainTimeout. With TLS it
// reloads the certificate on each value of Config.Reload meanwhile.
func (s *Server) Run(ctx context.Context) error {
	if s.ln == nil {
		if _, err := s.Listen(); err != nil {
			return err
		}
	}
	// Requests' contexts end when their connection is cut off at the end
	// of a drain that timed out (or when the client goes away).
	base, cutOff := context.WithCancel(context.WithoutCancel(ctx))
	defer cutOff()
	s.srv.BaseContext = func(net.Listener) context.Context { return base }
	// Either listener turns net/http's own error answers into problems.
	// Serve closes it when it fails, Shutdown below otherwise; the TLS one
	// stops its handshakes then.
	var ln net.Listener
	if s.certs != nil {
		rctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { s.certs.run(rctx, s.cfg.Reload) })
		defer wg.Wait()
		defer stop()
	}
	if s.tlsConf != nil {
		// The handshake has the time limit net/http would give it.
		timeout := min(s.cfg.ReadHeaderTimeout, s.cfg.ReadTimeout, s.cfg.WriteTimeout)
		ln = newTLSListener(s.ln, s.tlsConf, timeout, s.cfg.ChallengeProtocols, s.log)
	} else {
		ln = problemListener{s.ln}
	}
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	h3errc := make(chan error, 1)
	if s.h3 != nil {
		// The QUIC server gets the same base context only through its
		// connections being closed (Close, at a cut-off).
		defer func() { _ = s.udp.Close() }()
		go func() { h3errc <- s.h3.Serve(s.udp) }()
	}
	select {
	case err := <-errc:
		if s.h3 != nil {
			_ = s.h3.Close()
			s.closed("HTTP/3", <-h3errc)
		}
		return fmt.Errorf("http server: %w", err)
	case err := <-h3errc:
		_ = s.srv.Close()
		s.closed("HTTP", <-errc)
		return fmt.Errorf("http/3 server: %w", err)
	case <-ctx.Done():
	}
	// Readiness fails before anything else changes.
	s.draining.Store(true)
	addr := s.ln.Addr().String()
	s.log.Info("draining HTTP server", "addr", addr, "timeout", s.cfg.DrainTimeout.String(), "requests", s.inFlight.count())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.DrainTimeout)
	defer cancel()
	var h3err error
	var h3wg sync.WaitGroup
	if s.h3 != nil {
		h3wg.Go(func() {
			h3err = s.h3.Shutdown(sctx)
			if serr := <-h3errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && !errors.Is(serr, quic.ErrServerClosed) && h3err == nil {
				h3err = serr
			}
		})
	}
	err := s.srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if s.h3 != nil {
		// After the GOAWAY an HTTP/3 client closes its connection once
		// its requests are answered; one that keeps it open has no
		// request left either, so the drain waits for the handlers only.
		select {
		case <-s.inFlight.idle():
			_ = s.h3.Close()
		case <-sctx.Done():
		}
	}
	h3wg.Wait()
	if err == nil && h3err != nil {
		err = h3err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return s.cutOff(cutOff)
	}
	if err != nil {
		return fmt.Errorf("http server shutdown: %w", err)
	}
	s.log.Info("HTTP server drained", "addr", addr)
	return nil
}

// closed logs how a server that was closed because the other failed
// ended, unless it merely reports being closed.
func (s *Server) closed(which string, err error) {
	if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, quic.ErrServerClosed) {
		s.log.Warn(which+" server", "err", err)
	}
}

// cutOff ends a drain that timed out: it closes every connection, then
// cancels the requests' contexts, and waits up to handlerGrace for the
// handlers. In that order, a handler that returns when its context ends
// cannot have net/http answer its request after all.
func (s *Server) cutOff(cancelRequests context.CancelFunc) error {
	n := s.inFlight.count()
	s.log.Warn("drain timeout passed: cutting off the requests still in flight", "addr", s.ln.Addr().String(),
		"requests", n, "timeout", s.cfg.DrainTimeout.String())
	if err := s.srv.Close(); err != nil {
		s.log.Warn("closing connections", "err", err)
	}
	if s.h3 != nil {
		if err := s.h3.Close(); err != nil {
			s.log.Warn("closing HTTP/3 connections", "err", err)
		}
	}
	cancelRequests()
	t := time.NewTimer(handlerGrace)
	defer t.Stop()
	select {
	case <-s.inFlight.idle():
	case <-t.C:
		s.log.Error("request handlers still running after their connections were closed", "requests", s.inFlight.count())
	}
	return fmt.Errorf("http server: %w (%d after %s)", ErrDrainTimeout, n, s.cfg.DrainTimeout)
}

// inFlight counts the handlers running.
type inFlight struct {
	mu    sync.Mutex
	n     int
	zeroc chan struct{} // closed when n drops to 0; nil until idle asks
}

func (f *inFlight) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.add(1)
		defer f.add(-1)
		h.ServeHTTP(w, r)
	})
}

func (f *inFlight) add(d int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n += d
	if f.n == 0 && f.zeroc != nil {
		close(f.zeroc)
		f.zeroc = nil
	}
}

func (f *inFlight) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// idle returns a channel closed once no handler runs.
func (f *inFlight) idle() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	if f.zeroc == nil {
		f.zeroc = make(chan struct{})
	}
	return f.zeroc
}
