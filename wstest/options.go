package wstest

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// An Option configures a Server. Options are checked by NewServer, which
// fails the test on a bad one.
type Option func(*config)

type config struct {
	scripts      map[int][]Action
	def          []Action
	handshakes   []func(n int, w http.ResponseWriter, r *http.Request) bool
	ackID        func(typ int, data []byte) (uint64, bool)
	ackMsg       func(seq uint64) (int, []byte)
	ackEvery     int
	noEcho       bool
	recordLimit  int // -1: keep everything
	closeTimeout time.Duration
	upgrader     websocket.Upgrader
	errs         []error
}

func defaultConfig() config {
	return config{
		scripts:      make(map[int][]Action),
		ackEvery:     1,
		recordLimit:  -1,
		closeTimeout: time.Second,
		upgrader:     websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
	}
}

func (c *config) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

// Script sets what connection n does: the server accepts its n-th
// connection (1 for the first; refused handshakes do not count) and runs
// actions in order, then, unless an action ended the connection, serves it
// until the client goes away. Without a Script of its own a connection runs
// the Default actions. Giving the same n twice fails the test.
func Script(n int, actions ...Action) Option {
	return func(c *config) {
		if n < 1 {
			c.errorf("Script(%d): connections are numbered from 1", n)
			return
		}
		if _, dup := c.scripts[n]; dup {
			c.errorf("Script(%d) given twice", n)
			return
		}
		if err := checkPlan(actions); err != nil {
			c.errorf("Script(%d): %v", n, err)
			return
		}
		c.scripts[n] = append([]Action{}, actions...)
	}
}

// Default sets the actions of every connection that has no Script. Given
// more than once, the last one counts. Default: no actions; the server
// serves each connection (echoing, see WithoutEcho) until the client goes
// away.
func Default(actions ...Action) Option {
	return func(c *config) {
		if err := checkPlan(actions); err != nil {
			c.errorf("Default: %v", err)
			return
		}
		c.def = append([]Action{}, actions...)
	}
}

// RefuseHandshake answers handshake n (1 for the first request the server
// gets, refused or not) with the HTTP status instead of upgrading it, with
// a Retry-After header if retryAfter is not empty (it is sent as given, so
// a malformed value can be tested too). status must be in 300..599. A
// refused handshake does not become a connection: the next accepted one
// gets the next connection number. Default: every handshake is accepted.
func RefuseHandshake(n, status int, retryAfter string) Option {
	return func(c *config) {
		if n < 1 {
			c.errorf("RefuseHandshake(%d): handshakes are numbered from 1", n)
			return
		}
		if status < 300 || status > 599 {
			c.errorf("RefuseHandshake(%d): status %d outside 300..599", n, status)
			return
		}
		c.handshakes = append(c.handshakes, func(m int, w http.ResponseWriter, _ *http.Request) bool {
			if m != n {
				return false
			}
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			http.Error(w, http.StatusText(status), status)
			return true
		})
	}
}

// WithHandshakeFunc runs f on every handshake, before the upgrade, with the
// handshake's number n (1 for the first) and its request. If f answers the
// request itself (an HTTP error, a hijacked connection closed at once) it
// returns true, and the handshake counts as refused; returning false lets
// the upgrade go on. Several funcs (and RefuseHandshake) run in the order
// given until one returns true. f runs on the request's goroutine and
// should not block: Close waits for it. Default: none.
func WithHandshakeFunc(f func(n int, w http.ResponseWriter, r *http.Request) bool) Option {
	return func(c *config) {
		if f == nil {
			c.errorf("WithHandshakeFunc: nil func")
			return
		}
		c.handshakes = append(c.handshakes, f)
	}
}

// WithAcks makes the server acknowledge sequence numbers, for testing
// at-least-once delivery. For every data message it reads, id says whether
// the message is tracked and with which sequence number; after a tracked
// message (every k-th one on its connection, see WithAckEvery) the server
// sends ack(highest) on that connection, where highest is the highest
// sequence number seen so far on any connection. The ack goes out before
// the echo (if any, see WithoutEcho). Both funcs run on the connection's
// reading goroutine. Default: no acks.
func WithAcks(id func(typ int, data []byte) (seq uint64, ok bool), ack func(seq uint64) (typ int, data []byte)) Option {
	return func(c *config) {
		if id == nil || ack == nil {
			c.errorf("WithAcks: nil func")
			return
		}
		c.ackID, c.ackMsg = id, ack
	}
}

// WithAckEvery makes the server send an ack (see WithAcks) only after every
// k-th tracked message of a connection, counted from the connection's
// start; tracked messages after the last ack of a connection that ends
// stay unacknowledged. k must be at least 1. Default: 1, an ack after every
// tracked message.
func WithAckEvery(k int) Option {
	return func(c *config) {
		if k < 1 {
			c.errorf("WithAckEvery(%d): k must be at least 1", k)
			return
		}
		c.ackEvery = k
	}
}

// WithoutEcho makes the server read and record data messages (and ack
// them, with WithAcks) but not echo them. Default: every data message is
// echoed back with the same type.
func WithoutEcho() Option {
	return func(c *config) { c.noEcho = true }
}

// WithRecordLimit makes Received keep only the last n messages; 0 keeps
// none. Counting (Messages, WaitReceived, AfterMessages) is not affected.
// n must not be negative. Default: Received keeps every message the server
// read, for the life of the server; set a limit for long or large tests.
func WithRecordLimit(n int) Option {
	return func(c *config) {
		if n < 0 {
			c.errorf("WithRecordLimit(%d): negative limit", n)
			return
		}
		c.recordLimit = n
	}
}

// WithCloseTimeout sets how long a Close action waits for the client to
// answer the close frame, and how long the server reads off what a client
// still sends after a ReadLimit refused its message, before it closes the
// TCP connection. d must be positive. Default: 1 s.
func WithCloseTimeout(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.errorf("WithCloseTimeout(%s): must be positive", d)
			return
		}
		c.closeTimeout = d
	}
}

// WithUpgrader sets the gorilla Upgrader that accepts connections:
// subprotocols, compression, buffer sizes. It is copied; a nil CheckOrigin
// accepts every origin. Default: a zero Upgrader that accepts every
// origin.
func WithUpgrader(u websocket.Upgrader) Option {
	return func(c *config) {
		if u.CheckOrigin == nil {
			u.CheckOrigin = func(*http.Request) bool { return true }
		}
		c.upgrader = u
	}
}
