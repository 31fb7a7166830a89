package wsreconnect

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wsreconnect/wsreconnect/wstest"
)

// loginServer wants "login" first and answers "ok" and then "extra"; it
// wants "subscribe" next and answers "subscribed"; then it records and
// echoes.
func loginServer(t *testing.T) *testServer {
	return newTestServer(t, func(s *testServer) {
		s.opts = append(s.opts, wstest.Default(wstest.Handle(func(c *wstest.Conn) {
			ws := c.WS
			expect := func(want string, answers ...string) bool {
				typ, data, err := ws.ReadMessage()
				if err != nil {
					return false
				}
				c.Record(typ, data)
				if string(data) != want {
					closeWith(ws, 1008, "want "+want)
					return false
				}
				for _, a := range answers {
					if ws.WriteMessage(websocket.TextMessage, []byte(a)) != nil {
						return false
					}
				}
				return true
			}
			if !expect("login", "ok", "extra") || !expect("subscribe", "subscribed") {
				return
			}
			for {
				typ, data, err := ws.ReadMessage()
				if err != nil {
					return
				}
				c.Record(typ, data)
				if ws.WriteMessage(typ, data) != nil {
					return
				}
			}
		})))
	})
}

func TestConnReceiveMakesAHandshakeThatReads(t *testing.T) {
	srv := loginServer(t)
	replies := make(chan string, 8)
	login := func(ctx context.Context, conn *Conn) error {
		if err := conn.Send(ctx, TextMessage, []byte("login")); err != nil {
			return err
		}
		_, data, err := conn.Receive(ctx)
		if err != nil {
			return err
		}
		replies <- string(data)
		if err := conn.Send(ctx, TextMessage, []byte("subscribe")); err != nil {
			return err
		}
		// "extra" is not taken here: it goes to Client.Receive, in order.
		return nil
	}
	c, err := New(srv.url(), testOptions(WithOnConnect(login))...)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("queued")))

	assert.Equal(t, "ok", <-replies)
	for _, want := range []string{"extra", "subscribed", "queued"} {
		_, data, err := c.Receive(ctxTimeout(t))
		require.NoError(t, err)
		assert.Equal(t, want, string(data))
	}
	_, _, received := srv.snapshot()
	assert.Equal(t, []string{"login", "subscribe", "queued"}, strs(received), "the queue goes out after the handshake")
}

func TestConnReceiveCanceledLeavesTheConnectionIntact(t *testing.T) {
	release := make(chan struct{})
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(n int, ws *websocket.Conn) {
			<-release
			ws.WriteMessage(websocket.TextMessage, []byte("late"))
			hold(ws)
		}
	})
	got := make(chan string, 1)
	c, err := New(srv.url(), testOptions(WithOnConnect(func(ctx context.Context, conn *Conn) error {
		short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		if _, _, err := conn.Receive(short); err != context.DeadlineExceeded {
			got <- "first Receive: " + errString(err)
			return nil
		}
		close(release)
		_, data, err := conn.Receive(ctx)
		if err != nil {
			got <- err.Error()
			return err
		}
		got <- string(data)
		return nil
	}))...)
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, "late", <-got)
	require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
	_, conns, _ := srv.snapshot()
	assert.Equal(t, 1, conns, "the canceled Receive did not end the connection")
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// TestHeartbeatWorksDuringOnConnect: a hook that waits for a message the
// server sends only after answering three pings is not cut by the
// heartbeat: pongs are read while the hook runs.
func TestHeartbeatWorksDuringOnConnect(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(n int, ws *websocket.Conn) {
			var pings atomic.Int32
			ws.SetPingHandler(func(data string) error {
				if err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second)); err != nil {
					return err
				}
				if pings.Add(1) == 3 {
					return ws.WriteMessage(websocket.TextMessage, []byte("after three pings"))
				}
				return nil
			})
			hold(ws)
		}
	})
	got := make(chan string, 1)
	hook := newRecvHook()
	c, err := New(srv.url(), testOptions(hook.option(), WithHeartbeat(20*time.Millisecond, 60*time.Millisecond),
		WithOnConnect(func(ctx context.Context, conn *Conn) error {
			_, data, err := conn.Receive(ctx)
			if err != nil {
				return err
			}
			got <- string(data)
			return nil
		}))...)
	require.NoError(t, err)
	defer c.Close()
	select {
	case s := <-got:
		assert.Equal(t, "after three pings", s)
	case d := <-hook.ch:
		t.Fatalf("the connection ended during OnConnect: %v", d.d.Err)
	}
	assert.Greater(t, c.Stats().RTTAvg, time.Duration(0), "the pongs were timed")
}

func TestConnReceiveAfterTheHookFails(t *testing.T) {
	srv := newTestServer(t, nil)
	kept := make(chan *Conn, 1)
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithOnConnect(func(ctx context.Context, conn *Conn) error {
		select {
		case kept <- conn:
		default:
		}
		return nil
	}))...)
	require.NoError(t, err)
	defer c.Close()
	_, _, err = (<-kept).Receive(ctxTimeout(t))
	assert.ErrorIs(t, err, errConnExpired)
}

// TestConnReceiveLeavesTheRestInOrder: what the hook does not take comes to
// Receive in order once the hook returns, also beyond the receive buffer
// the reader holds meanwhile.
func TestConnReceiveLeavesTheRestInOrder(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(n int, ws *websocket.Conn) {
			for i := range 10 {
				if ws.WriteMessage(websocket.TextMessage, []byte{'0' + byte(i)}) != nil {
					return
				}
			}
			hold(ws)
		}
	})
	first := make(chan string, 1)
	c, err := New(srv.url(), testOptions(WithReceiveBuffer(2), WithOnConnect(func(ctx context.Context, conn *Conn) error {
		_, data, err := conn.Receive(ctx)
		first <- string(data)
		return err
	}))...)
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, "0", <-first)
	for i := 1; i < 10; i++ {
		_, data, err := c.Receive(ctxTimeout(t))
		require.NoError(t, err)
		assert.Equal(t, string([]byte{'0' + byte(i)}), string(data))
	}
}

// TestConnReceiveEndsAtClose: a hook waiting in Conn.Receive is woken by a
// Close from another goroutine with an error wrapping ErrClosed, and Close
// returns once the hook did.
func TestConnReceiveEndsAtClose(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(_ int, ws *websocket.Conn) { hold(ws) } // never says anything
	})
	waiting := make(chan struct{})
	got := make(chan error, 1)
	c, err := New(srv.url(), testOptions(WithOnConnect(func(ctx context.Context, conn *Conn) error {
		close(waiting)
		_, _, err := conn.Receive(context.Background())
		got <- err
		return err
	}))...)
	require.NoError(t, err)
	<-waiting
	c.Close()
	assert.ErrorIs(t, <-got, ErrClosed)
	assertDone(t, c)
}
