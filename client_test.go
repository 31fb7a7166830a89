package wsreconnect

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wsreconnect/wsreconnect/wstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestPolicyTableEndToEnd proves each row of the default policy table
// against a real server: the server misbehaves on its first connection
// only; a Reconnect row must bring a second connection, an Abort row must
// stop the client with the cause in Err and no second connection.
func TestPolicyTableEndToEnd(t *testing.T) {
	closeRow := func(code int) func(*testServer) {
		return func(s *testServer) {
			s.handle = func(n int, ws *websocket.Conn) {
				if n == 1 {
					closeWith(ws, code, "bye")
					return
				}
				hold(ws)
			}
		}
	}
	refuseRow := func(status int) func(*testServer) {
		return func(s *testServer) {
			s.refuse = func(n int, w http.ResponseWriter) bool {
				if n == 1 {
					http.Error(w, "no", status)
					return true
				}
				return false
			}
			s.handle = func(_ int, ws *websocket.Conn) { hold(ws) }
		}
	}
	tests := []struct {
		name   string
		setup  func(*testServer)
		opts   []Option
		action Action
		code   CloseCode // for abort rows: the code Err must carry
		status int       // for abort rows: the HTTP status Err must carry
	}{
		{name: "1000 from server", setup: closeRow(1000), action: Reconnect},
		{name: "1001", setup: closeRow(1001), action: Reconnect},
		{name: "1005 empty close", setup: func(s *testServer) {
			s.handle = func(n int, ws *websocket.Conn) {
				if n == 1 {
					ws.WriteControl(websocket.CloseMessage, nil, time.Now().Add(time.Second))
					hold(ws)
					return
				}
				hold(ws)
			}
		}, action: Reconnect},
		{name: "1006 TCP drop", setup: func(s *testServer) {
			s.handle = func(n int, ws *websocket.Conn) {
				if n == 1 {
					drop(ws)
					return
				}
				hold(ws)
			}
		}, action: Reconnect},
		{name: "1006 pong timeout", setup: func(s *testServer) {
			s.handle = func(n int, ws *websocket.Conn) {
				if n == 1 {
					ws.SetPingHandler(func(string) error { return nil })
				}
				hold(ws)
			}
		}, opts: []Option{WithHeartbeat(20*time.Millisecond, 20*time.Millisecond)}, action: Reconnect},
		{name: "1011", setup: closeRow(1011), action: Reconnect},
		{name: "1012", setup: closeRow(1012), action: Reconnect},
		{name: "1013", setup: closeRow(1013), opts: []Option{WithMinDelay(CloseTryAgainLater, time.Millisecond)}, action: Reconnect},
		{name: "1014 refused by gorilla", setup: closeRow(1014), action: Reconnect},
		{name: "3008", setup: closeRow(3008), action: Reconnect},
		{name: "3500", setup: closeRow(3500), action: Reconnect},
		{name: "4000", setup: closeRow(4000), action: Reconnect},
		{name: "4999", setup: closeRow(4999), action: Reconnect},
		{name: "1002", setup: closeRow(1002), action: Abort, code: 1002},
		{name: "1003", setup: closeRow(1003), action: Abort, code: 1003},
		{name: "1007", setup: closeRow(1007), action: Abort, code: 1007},
		{name: "1008", setup: closeRow(1008), action: Abort, code: 1008},
		{name: "1010", setup: closeRow(1010), action: Abort, code: 1010},
		{name: "1015 refused by gorilla", setup: closeRow(1015), action: Abort, code: 1015},
		{name: "3000", setup: closeRow(3000), action: Abort, code: 3000},
		{name: "3003", setup: closeRow(3003), action: Abort, code: 3003},
		{name: "1009 from peer", setup: closeRow(1009), action: Shrink},
		{name: "handshake 408", setup: refuseRow(408), action: Reconnect},
		{name: "handshake 429", setup: refuseRow(429), action: Reconnect},
		{name: "handshake 500", setup: refuseRow(500), action: Reconnect},
		{name: "handshake 502", setup: refuseRow(502), action: Reconnect},
		{name: "handshake 503", setup: refuseRow(503), action: Reconnect},
		{name: "handshake 400", setup: refuseRow(400), action: Abort, status: 400},
		{name: "handshake 401", setup: refuseRow(401), action: Abort, status: 401},
		{name: "handshake 403", setup: refuseRow(403), action: Abort, status: 403},
		{name: "handshake 404", setup: refuseRow(404), action: Abort, status: 404},
		{name: "handshake 418", setup: refuseRow(418), action: Abort, status: 418},
		{name: "connection reset in handshake", setup: func(s *testServer) {
			s.refuse = func(n int, w http.ResponseWriter) bool {
				if n > 1 {
					return false
				}
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
				return true
			}
			s.handle = func(_ int, ws *websocket.Conn) { hold(ws) }
		}, action: Reconnect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTestServer(t, tt.setup)
			c, hook := hookedClient(t, srv.url(), tt.opts...)

			got := hook.next(t)
			assert.Equal(t, tt.action, got.a, "action for %+v", got.d)
			assert.Equal(t, 1, got.d.Attempt)
			if tt.action == Abort {
				waitClosed(t, c)
				_, conns, _ := srv.snapshot()
				assert.LessOrEqual(t, conns, 1, "no new connection after an abort")
				reason := c.Err()
				require.Error(t, reason)
				if tt.code != 0 {
					var ce *CloseError
					require.ErrorAs(t, reason, &ce)
					assert.Equal(t, tt.code, ce.Code)
				}
				if tt.status != 0 {
					var he *HandshakeError
					require.ErrorAs(t, reason, &he)
					assert.Equal(t, tt.status, he.StatusCode)
				}
				return
			}
			// Reconnect and Shrink bring a new connection.
			srv.waitFor("a new connection", func(s view) bool {
				return s.conns >= 1 && s.attempts >= 2 && s.conns+countRefused(tt.name) >= 2
			})
			require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
		})
	}
}

// countRefused is 1 for table rows whose first attempt never upgraded.
func countRefused(name string) int {
	if strings.HasPrefix(name, "handshake") || strings.HasPrefix(name, "connection reset") {
		return 1
	}
	return 0
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestTLSCertificateErrorAborts(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{}
		if ws, err := up.Upgrade(w, r, nil); err == nil {
			hold(ws)
			ws.Close()
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	hook := newRecvHook()
	c, err := New("wss"+strings.TrimPrefix(srv.URL, "https"), testOptions(hook.option())...)
	require.NoError(t, err)
	defer c.Close()
	got := hook.next(t)
	assert.Equal(t, Abort, got.a)
	assert.Equal(t, CloseCode(0), got.d.Code)
	waitClosed(t, c)
	assert.True(t, isCertificateError(c.Err()), "Err() = %v", c.Err())

	// With the server's certificate trusted, the same server works.
	d := *websocket.DefaultDialer
	d.TLSClientConfig = &tls.Config{RootCAs: poolOf(srv)}
	c2, err := Dial(ctxTimeout(t), "wss"+strings.TrimPrefix(srv.URL, "https"), testOptions(WithDialer(&d))...)
	require.NoError(t, err)
	require.NoError(t, c2.Close())
}

func TestRetryAfterIsAMinimumWait(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.refuse = func(n int, w http.ResponseWriter) bool {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return true
			}
			return false
		}
		s.handle = func(_ int, ws *websocket.Conn) { hold(ws) }
	})
	hook := newRecvHook()
	c, err := New(srv.url(), testOptions(hook.option())...)
	require.NoError(t, err)
	defer c.Close()
	got := hook.next(t)
	assert.Equal(t, Reconnect, got.a)
	assert.Equal(t, 429, got.d.StatusCode)
	var he *HandshakeError
	require.ErrorAs(t, got.d.Err, &he)
	assert.Equal(t, time.Second, he.RetryAfter)

	srv.waitConns(1)
	srv.mu.Lock()
	gap := srv.attemptAt[1].Sub(srv.attemptAt[0])
	srv.mu.Unlock()
	assert.GreaterOrEqual(t, gap, time.Second, "second attempt came too early")
}

func TestTryAgainLaterWaitsForItsFloor(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(n int, ws *websocket.Conn) {
			if n == 1 {
				closeWith(ws, 1013, "busy")
				return
			}
			hold(ws)
		}
	})
	floor := 300 * time.Millisecond
	c, err := New(srv.url(), testOptions(WithMinDelay(CloseTryAgainLater, floor))...)
	require.NoError(t, err)
	defer c.Close()
	srv.waitConns(2)
	srv.mu.Lock()
	gap := srv.attemptAt[1].Sub(srv.attemptAt[0])
	srv.mu.Unlock()
	assert.GreaterOrEqual(t, gap, floor)
}

// TestShrinkThenFailFast: the peer refuses a large message with 1009; the
// client lowers its outbound limit below that size, reconnects, keeps
// sending small messages and fails large ones at once without dropping the
// connection.
func TestShrinkThenFailFast(t *testing.T) {
	srv := limitServer(t, 100, func(int) string { return "too big" })
	hookSawLimit := make(chan error, 1)
	hook := newRecvHook()
	ref := newClientRef()
	c, err := New(srv.url(), testOptions(hook.option(), WithOnDisconnect(func(d Disconnect, a Action) {
		// The lowered limit already holds when the hook runs.
		hookSawLimit <- ref.get().Send(context.Background(), BinaryMessage, make([]byte, 150))
		hook.ch <- decision{d, a}
	}))...)
	require.NoError(t, err)
	ref.set(c)
	defer c.Close()
	ctx := ctxTimeout(t)
	require.NoError(t, c.WaitState(ctx, StateConnected))

	require.NoError(t, c.Send(ctx, BinaryMessage, make([]byte, 50)))
	require.NoError(t, c.Send(ctx, BinaryMessage, make([]byte, 150)))
	got := hook.next(t)
	assert.Equal(t, Shrink, got.a)
	assert.Equal(t, CloseMessageTooBig, got.d.Code)
	assert.False(t, got.d.Local)
	assert.ErrorIs(t, <-hookSawLimit, ErrMessageTooBig)

	srv.waitConns(2)
	require.NoError(t, c.WaitState(ctx, StateConnected))
	err = c.Send(ctx, BinaryMessage, make([]byte, 150))
	assert.ErrorIs(t, err, ErrMessageTooBig)
	require.NoError(t, c.Send(ctx, BinaryMessage, make([]byte, 60)))
	srv.waitFor("the small message", func(s view) bool { return len(s.received) == 2 })
	_, conns, received := srv.snapshot()
	assert.Equal(t, 2, conns, "the connection stayed up")
	assert.Len(t, received[1], 60)
	assert.Equal(t, StateConnected, c.State())
}

// gatedServer refuses handshakes with 503 until open is set, then records
// what it reads.
func gatedServer(t *testing.T, open *atomic.Bool) *testServer {
	return newTestServer(t, func(s *testServer) {
		s.refuse = refuseUntil(open)
		s.opts = append(s.opts, wstest.WithoutEcho())
	})
}

// gatedServerWith refuses handshakes with 503 until open is set, then runs
// handle on each connection.
func gatedServerWith(t *testing.T, open *atomic.Bool, handle func(n int, ws *websocket.Conn)) *testServer {
	return newTestServer(t, func(s *testServer) {
		s.refuse = refuseUntil(open)
		s.handle = handle
	})
}

// refuseUntil refuses handshakes with 503 until open is set.
func refuseUntil(open *atomic.Bool) func(n int, w http.ResponseWriter) bool {
	return func(n int, w http.ResponseWriter) bool {
		if open.Load() {
			return false
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	}
}

// TestQueuedWhileDownDeliveredInOrder: messages sent while the server
// refuses connections are written after the reconnect, after what OnConnect
// wrote, in order.
func TestQueuedWhileDownDeliveredInOrder(t *testing.T) {
	var open atomic.Bool
	srv := gatedServer(t, &open)
	c, err := New(srv.url(), testOptions(WithOnConnect(func(ctx context.Context, conn *Conn) error {
		return conn.Send(ctx, TextMessage, []byte("hello"))
	}))...)
	require.NoError(t, err)
	defer c.Close()
	srv.waitFor("a refused attempt", func(s view) bool { return s.attempts >= 1 })

	ctx := ctxTimeout(t)
	buf := make([]byte, 8)
	for i := range 100 {
		// The buffer is reused: Send must not keep it.
		n := copy(buf, fmt.Sprintf("m%03d", i))
		require.NoError(t, c.Send(ctx, TextMessage, buf[:n]))
	}
	assert.NotEqual(t, StateConnected, c.State())
	open.Store(true)
	srv.waitFor("101 messages", func(s view) bool { return len(s.received) >= 101 })
	_, conns, received := srv.snapshot()
	assert.Equal(t, 1, conns)
	require.Len(t, received, 101)
	assert.Equal(t, "hello", string(received[0]))
	for i := range 100 {
		assert.Equal(t, fmt.Sprintf("m%03d", i), string(received[i+1]))
	}
}

// TestFullQueueBlocksUntilContextEnds: with the queue full, Send waits; if
// its context ends first that message is never written.
func TestFullQueueBlocksUntilContextEnds(t *testing.T) {
	var open atomic.Bool
	srv := gatedServer(t, &open)
	c, err := New(srv.url(), testOptions(WithSendBuffer(2))...)
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxTimeout(t)
	require.NoError(t, c.Send(ctx, TextMessage, []byte("0")))
	require.NoError(t, c.Send(ctx, TextMessage, []byte("1")))

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = c.Send(short, TextMessage, []byte("lost"))
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// A blocked Send proceeds once the queue drains.
	sent := make(chan error, 1)
	go func() { sent <- c.Send(ctx, TextMessage, []byte("3")) }()
	open.Store(true)
	select {
	case err := <-sent:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("blocked Send never returned")
	}
	srv.waitFor("3 messages", func(s view) bool { return len(s.received) >= 3 })
	_, _, received := srv.snapshot()
	assert.Equal(t, []string{"0", "1", "3"}, strs(received))
}

func strs(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

func TestSendReceiveEcho(t *testing.T) {
	srv := newTestServer(t, nil)
	ctx := ctxTimeout(t)
	c, err := Dial(ctx, srv.url(), testOptions()...)
	require.NoError(t, err)
	defer c.Close()
	for i := range 50 {
		typ := TextMessage
		if i%2 == 1 {
			typ = BinaryMessage
		}
		msg := []byte(strings.Repeat("x", i*37))
		require.NoError(t, c.Send(ctx, typ, msg))
		gotTyp, got, err := c.Receive(ctx)
		require.NoError(t, err)
		assert.Equal(t, typ, gotTyp)
		assert.Equal(t, msg, got)
	}
	assert.Error(t, c.Send(ctx, MessageType(9), nil))
}

// TestReceiveAcrossReconnectAndAfterAbort: Receive keeps going across a
// reconnect; after an abort it returns what already arrived, then the
// reason.
func TestReceiveAcrossReconnectAndAfterAbort(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(n int, ws *websocket.Conn) {
			ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf("conn%d", n)))
			if n == 1 {
				closeWith(ws, 1001, "restart")
				return
			}
			ws.WriteMessage(websocket.TextMessage, []byte("last"))
			closeWith(ws, 1008, "go away")
		}
	})
	c, err := New(srv.url(), testOptions()...)
	require.NoError(t, err)
	defer c.Close()
	waitClosed(t, c)
	ctx := ctxTimeout(t)
	for _, want := range []string{"conn1", "conn2", "last"} {
		_, got, err := c.Receive(ctx)
		require.NoError(t, err)
		assert.Equal(t, want, string(got))
	}
	_, _, err = c.Receive(ctx)
	assert.ErrorIs(t, err, ErrClosed)
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, ClosePolicyViolation, ce.Code)
	assert.Equal(t, "go away", ce.Reason)

	err = c.Send(ctx, TextMessage, []byte("x"))
	assert.ErrorIs(t, err, ErrClosed)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, ClosePolicyViolation, ce.Code)

	require.NoError(t, c.Close())
	assert.Equal(t, ClosePolicyViolation, errAs[*CloseError](t, c.Err()).Code, "Close after an abort keeps the reason")
}

func errAs[T error](t *testing.T, err error) T {
	t.Helper()
	var target T
	require.ErrorAs(t, err, &target)
	return target
}

func TestCloseSendsNormalClosureAndStops(t *testing.T) {
	gotClose := make(chan int, 1)
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(_ int, ws *websocket.Conn) {
			_, _, err := ws.ReadMessage()
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				gotClose <- ce.Code
			}
		}
	})
	ctx := ctxTimeout(t)
	c, err := Dial(ctx, srv.url(), testOptions()...)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.Equal(t, 1000, <-gotClose)
	assert.Equal(t, StateClosed, c.State())
	assert.NoError(t, c.Err())
	assert.NoError(t, c.Close(), "Close twice")
	_, _, err = c.Receive(ctx)
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, c.Send(ctx, TextMessage, nil), ErrClosed)
	assert.ErrorIs(t, c.WaitState(ctx, StateConnected), ErrClosed)
	_, conns, _ := srv.snapshot()
	assert.Equal(t, 1, conns)
}

// TestCloseDuringBackoffReturnsAtOnce: Close in the middle of a long
// backoff delay stops the client without waiting the delay out.
func TestCloseDuringBackoffReturnsAtOnce(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := newTestServer(t, func(s *testServer) {
		s.refuse = func(int, http.ResponseWriter) bool { return false }
		s.handle = func(_ int, ws *websocket.Conn) { drop(ws) }
	})
	slow := backoff.NewConstantBackOff(time.Hour)
	c, err := New(srv.url(), WithBackoff(slow))
	require.NoError(t, err)
	require.NoError(t, c.WaitState(ctxTimeout(t), StateWaiting))
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("Close waited for the backoff delay")
	}
	assert.Equal(t, StateClosed, c.State())
	srv.Close()
}

// TestCloseDuringHandshakeReturnsAtOnce: a server that never answers the
// upgrade does not hold Close up.
func TestCloseDuringHandshakeReturnsAtOnce(t *testing.T) {
	u, accepted := silentListener(t)
	c, err := New(u, WithHandshakeTimeout(time.Hour))
	require.NoError(t, err)
	select {
	case <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("no connection attempt")
	}
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("Close waited for the handshake")
	}
}

func TestHandshakeTimeoutReconnects(t *testing.T) {
	u, _ := silentListener(t)
	hook := newRecvHook()
	c, err := New(u, testOptions(WithHandshakeTimeout(30*time.Millisecond), hook.option())...)
	require.NoError(t, err)
	defer c.Close()
	got := hook.next(t)
	assert.Equal(t, Reconnect, got.a)
	assert.ErrorIs(t, got.d.Err, context.DeadlineExceeded)
	assert.Equal(t, 2, hook.next(t).d.Attempt)
}

func TestNoLeakAfterAbort(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(_ int, ws *websocket.Conn) { closeWith(ws, 1008, "no") }
	})
	c, err := New(srv.url(), testOptions(WithHeartbeat(10*time.Millisecond, 10*time.Millisecond))...)
	require.NoError(t, err)
	waitClosed(t, c)
	srv.Close()
}

func TestNoLeakAfterClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := newTestServer(t, nil)
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithHeartbeat(5*time.Millisecond, 50*time.Millisecond))...)
	require.NoError(t, err)
	// Let some heartbeats run, observed through the server reading pings.
	ctx := ctxTimeout(t)
	for range 3 {
		require.NoError(t, c.Send(ctx, TextMessage, []byte("x")))
		_, _, err := c.Receive(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, c.Close())
	srv.Close()
}

// TestCloseFromHooks: Close called inside OnDisconnect and OnConnect
// returns, and the client stops.
func TestCloseFromHooks(t *testing.T) {
	t.Run("OnDisconnect", func(t *testing.T) {
		srv := newTestServer(t, func(s *testServer) {
			s.handle = func(_ int, ws *websocket.Conn) { closeWith(ws, 1001, "") }
		})
		ref := newClientRef()
		returned := make(chan struct{})
		c, err := New(srv.url(), testOptions(WithOnDisconnect(func(Disconnect, Action) {
			ref.get().Close()
			_ = ref.get().State()
			close(returned)
		}))...)
		require.NoError(t, err)
		ref.set(c)
		select {
		case <-returned:
		case <-time.After(10 * time.Second):
			t.Fatal("Close inside OnDisconnect did not return")
		}
		waitClosed(t, c)
		assert.NoError(t, c.Err())
	})
	t.Run("OnConnect", func(t *testing.T) {
		srv := newTestServer(t, nil)
		ref := newClientRef()
		c, err := New(srv.url(), testOptions(WithOnConnect(func(ctx context.Context, conn *Conn) error {
			ref.get().Close()
			return ctx.Err()
		}))...)
		require.NoError(t, err)
		ref.set(c)
		waitClosed(t, c)
		require.NoError(t, c.Close())
		_, conns, _ := srv.snapshot()
		assert.Equal(t, 1, conns)
	})
}

// TestAbortHookRunsBeforeDone: for an abort, the hook sees the reason and
// has returned before Done is closed.
func TestAbortHookRunsBeforeDone(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(_ int, ws *websocket.Conn) { closeWith(ws, 1003, "nope") }
	})
	ref := newClientRef()
	var hookDone atomic.Bool
	var sawErr atomic.Value
	c, err := New(srv.url(), testOptions(WithOnDisconnect(func(d Disconnect, a Action) {
		c := ref.get()
		sawErr.Store(c.Err())
		select {
		case <-c.Done():
			t.Error("Done closed before the hook returned")
		default:
		}
		hookDone.Store(true)
	}))...)
	require.NoError(t, err)
	ref.set(c)
	waitClosed(t, c)
	assert.True(t, hookDone.Load())
	assert.Equal(t, CloseUnsupportedData, errAs[*CloseError](t, sawErr.Load().(error)).Code)
}

// TestBackoffResetOnlyAfterStableConnection: a server that accepts and
// closes at once must not reset the backoff; one that stays up must.
func TestBackoffResetOnlyAfterStableConnection(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(n int, ws *websocket.Conn) { closeWith(ws, 1001, "") }
	})
	b := &countingBackoff{BackOff: fastBackoff()}
	hook := newRecvHook()
	c, err := New(srv.url(), WithBackoff(b), WithStableAfter(time.Hour), hook.option())
	require.NoError(t, err)
	for want := 1; want <= 4; want++ {
		assert.Equal(t, want, hook.next(t).d.Attempt)
	}
	require.NoError(t, c.Close())
	assert.Equal(t, int32(1), b.resets.Load(), "only the reset at start")

	b2 := &countingBackoff{BackOff: fastBackoff()}
	hook2 := newRecvHook()
	c2, err := New(srv.url(), WithBackoff(b2), WithStableAfter(0), hook2.option())
	require.NoError(t, err)
	for range 3 {
		assert.Equal(t, 1, hook2.next(t).d.Attempt)
	}
	require.NoError(t, c2.Close())
	assert.GreaterOrEqual(t, b2.resets.Load(), int32(4))
}

type countingBackoff struct {
	backoff.BackOff
	resets atomic.Int32
}

func (b *countingBackoff) Reset() { b.resets.Add(1); b.BackOff.Reset() }

func TestRetriesExhausted(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.refuse = func(_ int, w http.ResponseWriter) bool {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return true
		}
	})
	b := backoff.WithMaxRetries(backoff.NewConstantBackOff(time.Millisecond), 2)
	hook := newRecvHook()
	c, err := New(srv.url(), WithBackoff(b), hook.option())
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, Reconnect, hook.next(t).a)
	assert.Equal(t, Reconnect, hook.next(t).a)
	last := hook.next(t)
	assert.Equal(t, Abort, last.a)
	waitClosed(t, c)
	assert.ErrorIs(t, c.Err(), ErrRetriesExhausted)
	assert.Equal(t, 503, errAs[*HandshakeError](t, c.Err()).StatusCode)
	attempts, _, _ := srv.snapshot()
	assert.Equal(t, 3, attempts)
}

func TestOwnReadLimitIsLocalAndDoesNotShrink(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(n int, ws *websocket.Conn) {
			if n == 1 {
				ws.WriteMessage(websocket.BinaryMessage, make([]byte, 200))
			}
			hold(ws)
		}
	})
	hook := newRecvHook()
	c, err := New(srv.url(), testOptions(WithReadLimit(100), hook.option())...)
	require.NoError(t, err)
	defer c.Close()
	got := hook.next(t)
	assert.Equal(t, CloseMessageTooBig, got.d.Code)
	assert.True(t, got.d.Local)
	assert.Equal(t, Reconnect, got.a)
	srv.waitConns(2)
	require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
	assert.NoError(t, c.Send(ctxTimeout(t), BinaryMessage, make([]byte, 1000)), "no outbound limit learned")
}

func TestHeartbeatTimeoutIsReported(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(_ int, ws *websocket.Conn) {
			ws.SetPingHandler(func(string) error { return nil })
			hold(ws)
		}
	})
	hook := newRecvHook()
	start := time.Now()
	c, err := New(srv.url(), testOptions(WithHeartbeat(30*time.Millisecond, 40*time.Millisecond), hook.option())...)
	require.NoError(t, err)
	defer c.Close()
	got := hook.next(t)
	assert.Equal(t, CloseAbnormalClosure, got.d.Code)
	assert.True(t, got.d.Local)
	assert.ErrorIs(t, got.d.Err, ErrHeartbeatTimeout)
	assert.GreaterOrEqual(t, time.Since(start), 70*time.Millisecond, "declared dead before interval+timeout")
	srv.waitConns(2)
}

// TestHeartbeatKeepsHealthyConnection: with pongs answered, many heartbeat
// periods pass without a disconnect.
func TestHeartbeatKeepsHealthyConnection(t *testing.T) {
	pings := make(chan struct{}, 100)
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(_ int, ws *websocket.Conn) {
			answer := ws.PingHandler()
			ws.SetPingHandler(func(d string) error {
				select {
				case pings <- struct{}{}:
				default:
				}
				return answer(d)
			})
			hold(ws)
		}
	})
	hook := newRecvHook()
	c, err := New(srv.url(), testOptions(WithHeartbeat(5*time.Millisecond, 100*time.Millisecond), hook.option())...)
	require.NoError(t, err)
	defer c.Close()
	for range 20 {
		select {
		case <-pings:
		case <-time.After(5 * time.Second):
			t.Fatal("no ping")
		}
	}
	select {
	case d := <-hook.ch:
		t.Fatalf("unexpected disconnect %+v", d)
	default:
	}
	_, conns, _ := srv.snapshot()
	assert.Equal(t, 1, conns)
}

func TestOnConnectError(t *testing.T) {
	srv := newTestServer(t, nil)
	var calls atomic.Int32
	hook := newRecvHook()
	boom := errors.New("boom")
	c, err := New(srv.url(), testOptions(hook.option(), WithOnConnect(func(ctx context.Context, conn *Conn) error {
		if calls.Add(1) == 1 {
			return boom
		}
		return backoff.Permanent(boom)
	}))...)
	require.NoError(t, err)
	defer c.Close()
	first := hook.next(t)
	assert.Equal(t, Reconnect, first.a)
	assert.ErrorIs(t, first.d.Err, boom)
	second := hook.next(t)
	assert.Equal(t, Abort, second.a)
	waitClosed(t, c)
	assert.ErrorIs(t, c.Err(), boom)
}

func TestCloseActionOverridesOneRow(t *testing.T) {
	srv := closeSequence(t, []int{1008, 4001}, []string{"", ""})
	hook := newRecvHook()
	c, err := New(srv.url(), testOptions(hook.option(),
		WithCloseAction(ClosePolicyViolation, Reconnect),
		WithCloseAction(4001, Abort))...)
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, Reconnect, hook.next(t).a)
	assert.Equal(t, Abort, hook.next(t).a)
	waitClosed(t, c)
	assert.Equal(t, CloseCode(4001), errAs[*CloseError](t, c.Err()).Code)
}

func TestCustomPolicy(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(_ int, ws *websocket.Conn) { closeWith(ws, 1001, "") }
	})
	var seen atomic.Int32
	c, err := New(srv.url(), testOptions(WithPolicy(func(d Disconnect) Action {
		seen.Add(1)
		if d.Attempt >= 3 {
			return Abort
		}
		return DefaultPolicy(d)
	}))...)
	require.NoError(t, err)
	waitClosed(t, c)
	assert.Equal(t, int32(3), seen.Load())
	_, conns, _ := srv.snapshot()
	assert.Equal(t, 3, conns)
}

func TestDial(t *testing.T) {
	t.Run("abort is returned", func(t *testing.T) {
		srv := newTestServer(t, func(s *testServer) {
			s.refuse = func(_ int, w http.ResponseWriter) bool {
				http.Error(w, "who are you", http.StatusUnauthorized)
				return true
			}
		})
		c, err := Dial(ctxTimeout(t), srv.url(), testOptions()...)
		assert.Nil(t, c)
		assert.Equal(t, 401, errAs[*HandshakeError](t, err).StatusCode)
	})
	t.Run("context ends first", func(t *testing.T) {
		u, _ := silentListener(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		c, err := Dial(ctx, u, testOptions()...)
		assert.Nil(t, c)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestNewRejectsBadInput(t *testing.T) {
	t.Parallel()
	good := "ws://127.0.0.1:1/"
	tests := []struct {
		name string
		url  string
		opts []Option
		want string
	}{
		{"malformed URL", "ws://[::1", nil, "bad URL"},
		{"http scheme", "http://example.test/", nil, "scheme must be ws or wss"},
		{"no host", "ws:///path", nil, "no host"},
		{"credentials", "ws://user:pw@example.test/", nil, "credentials"},
		{"nil option", good, []Option{nil}, "nil Option"},
		{"nil backoff", good, []Option{WithBackoff(nil)}, "nil BackOff"},
		{"nil policy", good, []Option{WithPolicy(nil)}, "nil Policy"},
		{"nil dialer", good, []Option{WithDialer(nil)}, "nil Dialer"},
		{"nil logger", good, []Option{WithLogger(nil)}, "nil Logger"},
		{"negative heartbeat", good, []Option{WithHeartbeat(-time.Second, time.Second)}, "negative"},
		{"half heartbeat", good, []Option{WithHeartbeat(time.Second, 0)}, "both"},
		{"zero handshake timeout", good, []Option{WithHandshakeTimeout(0)}, "positive"},
		{"negative handshake timeout", good, []Option{WithHandshakeTimeout(-1)}, "positive"},
		{"zero read limit", good, []Option{WithReadLimit(0)}, "positive"},
		{"negative max message", good, []Option{WithMaxMessageSize(-1)}, "negative"},
		{"zero send buffer", good, []Option{WithSendBuffer(0)}, "positive"},
		{"zero receive buffer", good, []Option{WithReceiveBuffer(0)}, "positive"},
		{"negative stable", good, []Option{WithStableAfter(-1)}, "negative"},
		{"zero close timeout", good, []Option{WithCloseTimeout(0)}, "positive"},
		{"bad close action code", good, []Option{WithCloseAction(999, Abort)}, "out of range"},
		{"bad close action", good, []Option{WithCloseAction(4000, Action(7))}, "invalid action"},
		{"negative min delay", good, []Option{WithMinDelay(1013, -1)}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(tt.url, tt.opts...)
			assert.Nil(t, c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "wsreconnect: "), err.Error())
		})
	}
}

func TestBadURLErrorHidesSecrets(t *testing.T) {
	_, err := New("http://user:secret@example.test/x?token=abc")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret")
	assert.NotContains(t, err.Error(), "abc")
}

// TestCloseFrameWinsOverFailedFlush: the server accepts, closes with 1008
// at once and goes away while the client is writing its queue; the client
// must see the 1008 (and abort), not a mere drop.
func TestCloseFrameWinsOverFailedFlush(t *testing.T) {
	var open atomic.Bool
	srv := gatedServerWith(t, &open, func(_ int, ws *websocket.Conn) {
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1008, "no"), time.Now().Add(time.Second))
		drop(ws)
	})
	var codes []CloseCode
	c, err := New(srv.url(), testOptions(WithSendBufferBytes(32<<20), WithOnDisconnect(func(d Disconnect, a Action) {
		if d.StatusCode == 0 {
			codes = append(codes, d.Code)
		}
	}))...)
	require.NoError(t, err)
	defer c.Close()
	srv.waitFor("a refused attempt", func(s view) bool { return s.attempts >= 1 })
	big := make([]byte, 256<<10)
	for range 64 {
		require.NoError(t, c.Send(ctxTimeout(t), BinaryMessage, big))
	}
	open.Store(true)
	waitClosed(t, c)
	assert.Equal(t, ClosePolicyViolation, errAs[*CloseError](t, c.Err()).Code)
	assert.Equal(t, []CloseCode{ClosePolicyViolation}, codes, "the first connection's end is its close frame")
}

// TestStalledPeerDuringFlush: a peer that accepts and never reads while the
// client writes its queue is declared dead by the heartbeat, and Close
// returns promptly even with a write stuck.
func TestStalledPeerDuringFlush(t *testing.T) {
	var open atomic.Bool
	release := make(chan struct{})
	srv := gatedServerWith(t, &open, func(_ int, ws *websocket.Conn) { <-release })
	defer close(release)
	hook := newRecvHook()
	c, err := New(srv.url(), testOptions(hook.option(), WithSendBufferBytes(64<<20), WithHeartbeat(50*time.Millisecond, 100*time.Millisecond))...)
	require.NoError(t, err)
	srv.waitFor("a refused attempt", func(s view) bool { return s.attempts >= 1 })
	big := make([]byte, 1<<20)
	for range 32 {
		require.NoError(t, c.Send(ctxTimeout(t), BinaryMessage, big))
	}
	open.Store(true)
	for {
		got := hook.next(t)
		if got.d.StatusCode != 0 {
			continue // an attempt refused before the gate opened
		}
		// The accepted connection ends by the heartbeat, mid-flush.
		assert.ErrorIs(t, got.d.Err, ErrHeartbeatTimeout)
		assert.True(t, got.d.Local)
		break
	}
	// The client reconnects to the same stalled peer and is stuck writing
	// again: Close must still return.
	srv.waitConns(2)
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(8 * time.Second):
		t.Fatal("Close did not return with a write stuck")
	}
}

// TestConcurrentSendersAcrossReconnects: many goroutines send while the
// server drops the connection now and then. Every sender's messages arrive
// in its order and none twice (some written just before a drop may be
// lost, as documented).
func TestConcurrentSendersAcrossReconnects(t *testing.T) {
	const senders, each = 8, 200
	var total atomic.Int32
	srv := newTestServer(t, func(s *testServer) {
		s.opts = append(s.opts, wstest.Default(wstest.Handle(func(c *wstest.Conn) {
			for {
				typ, data, err := c.WS.ReadMessage()
				if err != nil {
					return
				}
				c.Record(typ, data)
				if strings.HasPrefix(string(data), "marker:") {
					continue
				}
				if total.Add(1)%150 == 0 {
					drop(c.WS)
					return
				}
			}
		})))
	})
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions()...)
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxTimeout(t)
	errs := make(chan error, senders)
	for g := range senders {
		go func() {
			for i := range each {
				if err := c.Send(ctx, TextMessage, []byte(fmt.Sprintf("%d:%04d", g, i))); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range senders {
		require.NoError(t, <-errs)
	}
	// A marker sent now arrives once the connection is up again (a marker
	// written into a connection that was just dropped is lost, so send
	// another until one arrives).
	require.True(t, eventually(t, srv, func(i int) {
		require.NoError(t, c.Send(ctx, TextMessage, []byte(fmt.Sprintf("marker:%d", i))))
	}, func(s view) bool {
		for _, r := range s.received {
			if strings.HasPrefix(string(r), "marker:") {
				return true
			}
		}
		return false
	}), "no marker arrived")

	_, conns, received := srv.snapshot()
	assert.Greater(t, conns, 1, "the server dropped connections")
	next := make([]int, senders)
	seen := make(map[string]bool)
	count := 0
	for _, r := range received {
		if strings.HasPrefix(string(r), "marker:") {
			continue
		}
		count++
		assert.False(t, seen[string(r)], "duplicate %s", r)
		seen[string(r)] = true
		var g, i int
		_, err := fmt.Sscanf(string(r), "%d:%d", &g, &i)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, i, next[g], "sender %d out of order at %s", g, r)
		next[g] = i + 1
	}
	t.Logf("%d of %d messages arrived over %d connections", count, senders*each, conns)
}

// eventually calls try(i) for i = 0, 1, ... until cond holds on the server,
// giving each try half a second; it reports whether cond held within 20
// tries.
func eventually(t *testing.T, s *testServer, try func(i int), cond func(s view) bool) bool {
	t.Helper()
	for i := range 20 {
		try(i)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := s.Wait(ctx, func() bool { return cond(s.view()) })
		cancel()
		if err == nil {
			return true
		}
	}
	return false
}
