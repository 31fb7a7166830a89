package wsreconnect

import (
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"

	"github.com/wsreconnect/wsreconnect/wstest"
)

// testServer is a wstest.Server with hooks in the shape these tests use:
// refuse may answer a handshake, handle runs a connection on the raw
// gorilla conn, and opts are wstest options (scripts, Handle funcs that
// record). Without handle or a script, a connection echoes and records.
type testServer struct {
	*wstest.Server
	t *testing.T

	// refuse, if set, may answer the n-th handshake (1-based) with an HTTP
	// error instead of upgrading it; it returns true if it did.
	refuse func(n int, w http.ResponseWriter) bool
	// handle, if set, runs the n-th connection (1-based) that has no
	// script in opts.
	handle func(n int, ws *websocket.Conn)
	// opts are added to the server's options.
	opts []wstest.Option

	mu        sync.Mutex
	attemptAt []time.Time // when each handshake arrived
}

func newTestServer(t *testing.T, setup func(s *testServer)) *testServer {
	t.Helper()
	s := &testServer{t: t}
	if setup != nil {
		setup(s)
	}
	opts := []wstest.Option{wstest.WithHandshakeFunc(func(n int, w http.ResponseWriter, _ *http.Request) bool {
		s.mu.Lock()
		s.attemptAt = append(s.attemptAt, time.Now())
		s.mu.Unlock()
		return s.refuse != nil && s.refuse(n, w)
	})}
	if handle := s.handle; handle != nil {
		opts = append(opts, wstest.Default(wstest.Handle(func(c *wstest.Conn) { handle(c.N, c.WS) })))
	}
	s.Server = wstest.NewServer(t, append(opts, s.opts...)...)
	return s
}

func (s *testServer) url() string { return s.URL }

// view is what a waitFor condition sees: the handshakes and connections
// the server counted and the data of the messages it recorded.
type view struct {
	attempts, conns int
	received        [][]byte
}

func (s *testServer) view() view {
	v := view{attempts: s.Handshakes(), conns: s.Connections()}
	for _, m := range s.Received() {
		v.received = append(v.received, m.Data)
	}
	return v
}

// waitFor waits until cond holds.
func (s *testServer) waitFor(what string, cond func(s view) bool) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Wait(ctx, func() bool { return cond(s.view()) }); err != nil {
		s.t.Fatalf("timed out waiting for %s: %v", what, err)
	}
}

func (s *testServer) waitConns(n int) {
	s.t.Helper()
	s.waitFor("connections", func(s view) bool { return s.conns >= n })
}

func (s *testServer) snapshot() (attempts, conns int, received [][]byte) {
	v := s.view()
	return v.attempts, v.conns, v.received
}

// closeWith sends a close frame with code and reason, then waits for the
// client's answer.
func closeWith(ws *websocket.Conn, code int, reason string) {
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			return
		}
	}
}

// closeSequence is a server that closes its n-th connection with codes[n-1]
// and reasons[n-1], and later ones with the last code.
func closeSequence(t *testing.T, codes []int, reasons []string) *testServer {
	return newTestServer(t, func(s *testServer) {
		for i := range codes {
			s.opts = append(s.opts, wstest.Script(i+1, wstest.Close(codes[i], reasons[i])))
		}
		last := len(codes) - 1
		s.opts = append(s.opts, wstest.Default(wstest.Close(codes[last], reasons[last])))
	})
}

// drop closes the TCP connection without a close frame.
func drop(ws *websocket.Conn) { ws.NetConn().Close() }

// hold reads until the client goes away.
func hold(ws *websocket.Conn) {
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			return
		}
	}
}

// fastBackoff keeps reconnect delays in tests around a millisecond.
func fastBackoff() backoff.BackOff {
	return &backoff.ExponentialBackOff{
		InitialInterval:     time.Millisecond,
		RandomizationFactor: 0.5,
		Multiplier:          1.5,
		MaxInterval:         5 * time.Millisecond,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
}

// testOptions are the options every test starts from: tiny backoff and
// per-code floors.
func testOptions(extra ...Option) []Option {
	return append([]Option{
		WithBackoff(fastBackoff()),
		WithCloseTimeout(2 * time.Second),
		WithMinDelay(CloseTryAgainLater, time.Millisecond),
		WithMinDelay(CloseBadGateway, time.Millisecond),
		WithRestartDelay(time.Millisecond),
	}, extra...)
}

// waitClosed waits for the client to stop.
func waitClosed(t *testing.T, c *Client) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("client did not stop")
	}
}

// recvHook collects OnDisconnect calls on a channel.
type recvHook struct {
	ch chan decision
}

type decision struct {
	d Disconnect
	a Action
}

func newRecvHook() *recvHook { return &recvHook{ch: make(chan decision, 64)} }

func (h *recvHook) option() Option {
	return WithOnDisconnect(func(d Disconnect, a Action) { h.ch <- decision{d, a} })
}

// hookedClient starts a client on url (with testOptions and opts) whose
// disconnects go to the returned hook; it is closed when the test ends.
func hookedClient(t *testing.T, url string, opts ...Option) (*Client, *recvHook) {
	t.Helper()
	hook := newRecvHook()
	c, err := New(url, testOptions(append(opts, hook.option())...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, hook
}

func (h *recvHook) next(t *testing.T) decision {
	t.Helper()
	select {
	case d := <-h.ch:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no disconnect reported")
		return decision{}
	}
}

// silentListener accepts TCP connections and never answers them. accepted
// receives a value per connection (if there is room).
func silentListener(t *testing.T) (u string, accepted <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	acc := make(chan struct{}, 16)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case acc <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "ws://" + ln.Addr().String() + "/", acc
}

// poolOf returns a certificate pool trusting srv's certificate.
func poolOf(srv *httptest.Server) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return pool
}

// clientRef hands a Client to hooks, which may run before New returns.
type clientRef struct {
	ready chan struct{}
	c     *Client
}

func newClientRef() *clientRef { return &clientRef{ready: make(chan struct{})} }

func (r *clientRef) set(c *Client) *Client {
	r.c = c
	close(r.ready)
	return c
}

func (r *clientRef) get() *Client {
	<-r.ready
	return r.c
}
