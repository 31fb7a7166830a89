package wsreconnect

import (
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"
)

// testServer is a gorilla WebSocket server whose behaviour is scripted per
// connection. It counts the connections it accepts and the messages it reads.
type testServer struct {
	t   *testing.T
	srv *httptest.Server

	// refuse, if set, may answer the n-th handshake (1-based) with an HTTP
	// error instead of upgrading it; it returns true if it did.
	refuse func(n int, w http.ResponseWriter) bool
	// handle runs the n-th connection (1-based); by default it echoes.
	handle func(n int, ws *websocket.Conn)

	mu        sync.Mutex
	attempts  int // handshakes seen
	conns     int // connections upgraded
	received  [][]byte
	changed   chan struct{} // closed and replaced on every event
	attemptAt []time.Time
}

func newTestServer(t *testing.T, setup func(s *testServer)) *testServer {
	t.Helper()
	s := &testServer{t: t, changed: make(chan struct{})}
	if setup != nil {
		setup(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *testServer) url() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") }

func (s *testServer) event(f func()) {
	s.mu.Lock()
	f()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *testServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	var n int
	s.event(func() {
		s.attempts++
		n = s.attempts
		s.attemptAt = append(s.attemptAt, time.Now())
	})
	if s.refuse != nil && s.refuse(n, w) {
		return
	}
	up := websocket.Upgrader{}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	var c int
	s.event(func() { s.conns++; c = s.conns })
	if s.handle != nil {
		s.handle(c, ws)
		return
	}
	s.echo(ws)
}

// echo records and echoes every message until the connection ends.
func (s *testServer) echo(ws *websocket.Conn) {
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		s.record(data)
		if err := ws.WriteMessage(typ, data); err != nil {
			return
		}
	}
}

// record stores a message the server read.
func (s *testServer) record(data []byte) {
	s.event(func() { s.received = append(s.received, data) })
}

// waitFor waits until cond, evaluated under the server's lock, holds.
func (s *testServer) waitFor(what string, cond func(s *testServer) bool) {
	s.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok, changed := cond(s), s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			s.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (s *testServer) waitConns(n int) {
	s.t.Helper()
	s.waitFor("connections", func(s *testServer) bool { return s.conns >= n })
}

func (s *testServer) snapshot() (attempts, conns int, received [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts, s.conns, append([][]byte(nil), s.received...)
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
		s.handle = func(n int, ws *websocket.Conn) {
			i := min(n, len(codes)) - 1
			closeWith(ws, codes[i], reasons[i])
		}
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
