package wstest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// ErrClosed is returned by the waits when the server closed before their
// condition held.
var ErrClosed = errors.New("wstest: server closed")

// closeWait bounds how long Close waits for handlers (Handle funcs and
// handshake funcs) to return.
const closeWait = 10 * time.Second

// Message is a data message the server read.
type Message struct {
	Conn int    // the connection's number, 1 for the first
	Type int    // websocket.TextMessage (1) or websocket.BinaryMessage (2)
	Data []byte // shared with the server's record: do not modify it
}

// CloseFrame is a close frame the server read from a client: one the
// client sent first, or its answer to the server's own.
type CloseFrame struct {
	Conn   int    // the connection's number, 1 for the first
	Code   int    // 1005 if the frame had no code
	Reason string // the close reason, "" if none
}

// Server is a WebSocket peer on a loopback address, scripted per
// connection (see Script), that counts handshakes and connections and
// records what it reads. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's address, ws://127.0.0.1:port. Every path is
	// served the same way.
	URL string

	t         testing.TB
	cfg       config
	hs        *httptest.Server
	quit      chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup // request handlers and readers

	mu          sync.Mutex
	changed     chan struct{} // closed and replaced on every event
	closed      bool
	handshakes  int
	refused     int
	conns       int
	messages    int
	received    []Message // the last cfg.recordLimit ones, give or take
	closeFrames []CloseFrame
	live        map[*Conn]struct{}
	highest     uint64
	anySeq      bool
}

// NewServer starts a server on a loopback address. It is closed when the
// test ends (t.Cleanup), or earlier by Close. A bad option fails the test
// (t.Fatal), so NewServer must be called on the test's goroutine.
//
// t may be nil outside a test, as in a godoc example: then the caller must
// call Close, and a bad option panics.
//
// Without options the server accepts every handshake and echoes every
// data message back with the same type, answers pings and closing
// handshakes, and records everything it reads.
func NewServer(t testing.TB, opts ...Option) *Server {
	if t != nil {
		t.Helper()
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			cfg.errorf("nil Option")
			continue
		}
		o(&cfg)
	}
	if err := errors.Join(cfg.errs...); err != nil {
		msg := "wstest.NewServer: " + strings.ReplaceAll(err.Error(), "\n", "; ")
		if t == nil {
			panic(msg)
		}
		t.Fatal(msg)
		return nil
	}
	s := &Server{
		t:       t,
		cfg:     cfg,
		quit:    make(chan struct{}),
		changed: make(chan struct{}),
		live:    make(map[*Conn]struct{}),
	}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = "ws" + strings.TrimPrefix(s.hs.URL, "http")
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// Close closes the server: it ends every connection at once (TCP close,
// no close frame) and waits for the server's goroutines and for running
// Handle and handshake funcs to return, for at most 10 s (then it fails
// the test). Close may be called more than once; later calls wait like the
// first. It must not be called from a Handle or handshake func. Counts and
// records stay readable.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.quit)
		for c := range s.live {
			c.nc.Close()
		}
		s.notifyLocked()
		s.mu.Unlock()
		done := make(chan struct{})
		go func() {
			s.hs.Close()
			s.wg.Wait()
			close(done)
		}()
		t := time.NewTimer(closeWait)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			if s.t != nil {
				s.t.Errorf("wstest: a Handle or handshake func did not return within %s of Close", closeWait)
			}
		}
	})
}

// Handshakes returns how many handshakes the server got: upgrade requests,
// accepted, refused or failed.
func (s *Server) Handshakes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handshakes
}

// Refused returns how many handshakes RefuseHandshake or a handshake func
// refused.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Connections returns how many connections the server accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Messages returns how many data messages the server read (and Handle
// funcs recorded) on all connections, including those Received no longer
// keeps (WithRecordLimit).
func (s *Server) Messages() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messages
}

// Received returns the data messages the server read, in the order it
// read them (per connection; connections interleave as they happened). It
// keeps every message unless WithRecordLimit says otherwise. The slice is
// a copy; the Data it holds is shared and must not be modified.
func (s *Server) Received() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.received
	if lim := s.cfg.recordLimit; lim >= 0 && len(r) > lim {
		r = r[len(r)-lim:]
	}
	return append([]Message(nil), r...)
}

// CloseFrames returns the close frames the server read from clients, in
// order. A connection that ended without one (a drop, or a close frame
// gorilla/websocket refused as invalid) has none.
func (s *Server) CloseFrames() []CloseFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]CloseFrame(nil), s.closeFrames...)
}

// Wait waits until cond returns true. cond is called at once and again
// after every event (a handshake, a connection, a message, a close frame,
// a connection's end), on Wait's goroutine and without the server's lock
// held, so it may call the server's methods. Wait returns nil once cond
// holds, ErrClosed if the server closed first, or ctx's error when ctx
// ends first.
func (s *Server) Wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		changed, closed := s.changed, s.closed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitConnections waits until the server accepted at least n connections;
// see Wait for its errors.
func (s *Server) WaitConnections(ctx context.Context, n int) error {
	if err := s.Wait(ctx, func() bool { return s.Connections() >= n }); err != nil {
		return fmt.Errorf("wstest: waiting for %d connections, have %d: %w", n, s.Connections(), err)
	}
	return nil
}

// WaitReceived waits until the server read at least n data messages in
// all (see Messages); see Wait for its errors.
func (s *Server) WaitReceived(ctx context.Context, n int) error {
	if err := s.Wait(ctx, func() bool { return s.Messages() >= n }); err != nil {
		return fmt.Errorf("wstest: waiting for %d messages, have %d: %w", n, s.Messages(), err)
	}
	return nil
}

// notifyLocked wakes the waits.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) event(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	s.notifyLocked()
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "wstest: server closed", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1) // under the lock: before Close's Wait
	s.handshakes++
	n := s.handshakes
	s.notifyLocked()
	s.mu.Unlock()
	defer s.wg.Done()

	for _, f := range s.cfg.handshakes {
		if f(n, w, r) {
			s.event(func() { s.refused++ })
			return
		}
	}
	// The connection is counted when gorilla hijacks it, after its checks
	// and before it writes the 101: a client whose handshake succeeded
	// is already counted.
	c := &Conn{
		s:      s,
		noPong: make(chan struct{}),
		wmu:    make(chan struct{}, 1),
		stop:   make(chan struct{}),
	}
	hw := &hijacker{ResponseWriter: w, accept: func(nc net.Conn) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return false
		}
		s.conns++
		c.N, c.nc = s.conns, nc
		s.live[c] = struct{}{}
		s.notifyLocked()
		return true
	}}
	ws, err := s.cfg.upgrader.Upgrade(hw, r, nil)
	if c.nc == nil {
		return // refused before the hijack; gorilla answered with an HTTP error
	}
	defer s.event(func() { delete(s.live, c) })
	if err != nil {
		c.nc.Close() // the client sent data early, or left
		return
	}
	c.WS = ws
	plan, ok := s.cfg.scripts[c.N]
	if !ok {
		plan = s.cfg.def
	}
	c.run(plan)
}

// hijacker lets serveHTTP count a connection when gorilla takes it over.
type hijacker struct {
	http.ResponseWriter
	accept func(net.Conn) bool
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if !h.accept(nc) {
		nc.Close()
		return nil, nil, ErrClosed
	}
	return nc, brw, nil
}

// record stores a data message read on c.
func (s *Server) record(c *Conn, typ int, data []byte) {
	s.event(func() {
		s.messages++
		c.count++
		lim := s.cfg.recordLimit
		if lim == 0 {
			return
		}
		s.received = append(s.received, Message{Conn: c.N, Type: typ, Data: data})
		if lim > 0 && len(s.received) >= 2*lim {
			s.received = append([]Message(nil), s.received[len(s.received)-lim:]...)
		}
	})
}

// recordClose stores a close frame read on connection n.
func (s *Server) recordClose(n, code int, reason string) {
	s.event(func() { s.closeFrames = append(s.closeFrames, CloseFrame{Conn: n, Code: code, Reason: reason}) })
}

// seen notes a sequence number and returns the highest seen.
func (s *Server) seen(seq uint64) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.anySeq || seq > s.highest {
		s.highest, s.anySeq = seq, true
	}
	return s.highest
}
