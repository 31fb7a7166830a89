package wsreconnect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wsreconnect/wsreconnect/wstest"
)

// Regression tests for the promises of README.md and doc.go, one per
// behaviour that must hold.

// framedSplitter cuts data into parts "k/n|payload": the first payload is
// head bytes long, the others as long as the limit allows.
func framedSplitter(head int) func([]byte, int) ([][]byte, error) {
	return func(data []byte, limit int) ([][]byte, error) {
		const hdr = 6 // "kk/nn|"
		if limit <= hdr+head {
			return nil, fmt.Errorf("limit %d too small", limit)
		}
		var payloads [][]byte
		first := min(head, len(data))
		payloads = append(payloads, data[:first])
		for rest := data[first:]; len(rest) > 0; {
			n := min(limit-hdr, len(rest))
			payloads = append(payloads, rest[:n])
			rest = rest[n:]
		}
		if len(payloads) > 99 {
			return nil, errors.New("too many parts")
		}
		parts := make([][]byte, len(payloads))
		for i, p := range payloads {
			parts[i] = append([]byte(fmt.Sprintf("%d/%d|", i, len(payloads))), p...)
		}
		return parts, nil
	}
}

// seriesServer reassembles framed series per connection. A series is
// delivered only when all its parts arrived in order on one connection; an
// incomplete series is discarded when its connection ends. Any other
// sequence (a repeated or missing part, a new series before the last one
// ended) is a violation. Messages larger than limit are refused with 1009.
type seriesServer struct {
	*testServer
	limit      int
	afterParts func(conn, parts int) bool // true: drop the connection now

	mu         sync.Mutex
	delivered  []string
	violations []string
}

func newSeriesServer(t *testing.T, limit int, open *atomic.Bool) *seriesServer {
	ss := &seriesServer{limit: limit}
	ss.testServer = newTestServer(t, func(s *testServer) {
		s.refuse = func(_ int, w http.ResponseWriter) bool {
			if open == nil || open.Load() {
				return false
			}
			http.Error(w, "down", http.StatusServiceUnavailable)
			return true
		}
		s.opts = append(s.opts, wstest.Default(wstest.Handle(ss.serve)))
	})
	return ss
}

func (ss *seriesServer) serve(c *wstest.Conn) {
	conn, ws := c.N, c.WS
	var cur []byte
	next, total, parts := 0, 0, 0
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if len(data) > ss.limit {
			closeWith(ws, 1009, fmt.Sprintf("(%d > %d bytes)", len(data), ss.limit))
			return
		}
		parts++
		var k, n int
		bar := bytes.IndexByte(data, '|')
		if _, err := fmt.Sscanf(string(data[:max(bar, 0)]), "%d/%d", &k, &n); bar < 0 || err != nil {
			ss.violate("conn %d: unframed part %q", conn, data)
			continue
		}
		switch {
		case k == 0 && next != 0:
			ss.violate("conn %d: series restarted at part %d of %d", conn, next, total)
		case k != next || (k > 0 && n != total):
			ss.violate("conn %d: part %d/%d where %d/%d was due", conn, k, n, next, total)
		}
		if k == 0 {
			cur, total = nil, n
		}
		cur = append(cur, data[bar+1:]...)
		next = k + 1
		if next == total {
			ss.mu.Lock()
			ss.delivered = append(ss.delivered, string(cur))
			ss.mu.Unlock()
			c.Record(typ, cur)
			next, total = 0, 0
		}
		if ss.afterParts != nil && ss.afterParts(conn, parts) {
			drop(ws)
			return
		}
	}
}

func (ss *seriesServer) violate(format string, args ...any) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.violations = append(ss.violations, fmt.Sprintf(format, args...))
}

func (ss *seriesServer) result() (delivered, violations []string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return append([]string(nil), ss.delivered...), append([]string(nil), ss.violations...)
}

// TestSplitMessageIsNeverDuplicated: two split messages queued while down;
// the peer's 1009 lowers the limit; each arrives once, whole, as one
// contiguous series.
func TestSplitMessageIsNeverDuplicated(t *testing.T) {
	var open atomic.Bool
	srv := newSeriesServer(t, 200, &open)
	c, err := New(srv.url(), testOptions(
		WithMaxMessageSize(400),
		WithSplitter(framedSplitter(10)),
	)...)
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxTimeout(t)
	a := "A" + strings.Repeat("a", 999)
	b := "B" + strings.Repeat("b", 999)
	require.NoError(t, c.Send(ctx, TextMessage, []byte(a)))
	require.NoError(t, c.Send(ctx, TextMessage, []byte(b)))
	open.Store(true)
	srv.waitConns(2)
	require.NoError(t, c.WaitState(ctx, StateConnected))
	require.NoError(t, c.Send(ctx, TextMessage, []byte("0/1|end")))
	srv.waitFor("the end marker", func(s view) bool {
		return len(s.received) > 0 && string(s.received[len(s.received)-1]) == "end"
	})
	delivered, violations := srv.result()
	assert.Empty(t, violations)
	// B may have been written after the refused part of A, before the
	// 1009 arrived: then it was lost with the connection. A was refused
	// and is sent again, split to the new limit.
	if len(delivered) == 3 {
		assert.Equal(t, []string{a, b, "end"}, delivered)
	} else {
		assert.Equal(t, []string{a, "end"}, delivered)
	}
	assert.Equal(t, 200, c.Stats().OutboundLimit)
}

// TestSplitSeriesGoesOutWholeOnOneConnection: a connection that drops in
// the middle of a split message gets the whole series again on the next
// connection, never its tail alone.
func TestSplitSeriesGoesOutWholeOnOneConnection(t *testing.T) {
	// Far more than the socket buffers hold, so that the drop finds the
	// client still writing.
	srv := newSeriesServer(t, 1<<20, nil)
	srv.afterParts = func(conn, parts int) bool { return conn == 1 && parts == 2 }
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(
		WithMaxMessageSize(256<<10),
		WithSplitter(framedSplitter(10)),
	)...)
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxTimeout(t)
	big := "X" + strings.Repeat("x", 20<<20)
	require.NoError(t, c.Send(ctx, TextMessage, []byte(big)))
	srv.waitConns(2)
	require.NoError(t, c.Send(ctx, TextMessage, []byte("0/1|end")))
	srv.waitFor("the end marker", func(s view) bool {
		return len(s.received) > 0 && string(s.received[len(s.received)-1]) == "end"
	})
	delivered, violations := srv.result()
	assert.Empty(t, violations)
	require.Len(t, delivered, 2)
	assert.True(t, delivered[0] == big, "the whole message arrives once, intact")
	assert.Equal(t, "end", delivered[1])
}

// burstServer sends 20 messages ("0" to "19") on its first connection,
// then ends it with end; later connections are held open.
func burstServer(t *testing.T, end func(ws *websocket.Conn)) *testServer {
	return newTestServer(t, func(s *testServer) {
		s.handle = func(n int, ws *websocket.Conn) {
			if n > 1 {
				hold(ws)
				return
			}
			for i := range 20 {
				ws.WriteMessage(websocket.TextMessage, []byte(strconv.Itoa(i)))
			}
			end(ws)
		}
	})
}

// TestSenderThatNeverReceivesNoticesADeadConnection: the reader must not
// block on a full receive buffer while the peer goes away.
func TestSenderThatNeverReceivesNoticesADeadConnection(t *testing.T) {
	t.Run("drop after a burst", func(t *testing.T) {
		srv := burstServer(t, drop)
		hook := newRecvHook()
		c, err := Dial(ctxTimeout(t), srv.url(), testOptions(hook.option())...)
		require.NoError(t, err)
		defer c.Close()
		d := hook.next(t)
		assert.Equal(t, CloseAbnormalClosure, d.d.Code)
		srv.waitConns(2)
		// The messages are not lost: they wait, in order, for Receive.
		for i := range 20 {
			_, data, err := c.Receive(ctxTimeout(t))
			require.NoError(t, err)
			assert.Equal(t, strconv.Itoa(i), string(data))
		}
	})
	t.Run("ping and 1001 behind the burst", func(t *testing.T) {
		srv := burstServer(t, func(ws *websocket.Conn) {
			ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second))
			closeWith(ws, 1001, "restart")
		})
		hook := newRecvHook()
		c, err := Dial(ctxTimeout(t), srv.url(), testOptions(hook.option())...)
		require.NoError(t, err)
		defer c.Close()
		d := hook.next(t)
		assert.Equal(t, CloseGoingAway, d.d.Code)
		srv.waitConns(2)
	})
	t.Run("failed write while the reader waits", func(t *testing.T) {
		// More than the buffer and the overflow hold: the reader stops
		// reading. The peer then goes away; a write must end the
		// connection at once.
		gone := make(chan struct{})
		srv := newTestServer(t, func(s *testServer) {
			s.handle = func(n int, ws *websocket.Conn) {
				if n == 1 {
					payload := bytes.Repeat([]byte("z"), 1024)
					for range 200 {
						ws.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
						if ws.WriteMessage(websocket.BinaryMessage, payload) != nil {
							break
						}
					}
					ws.NetConn().(interface{ SetLinger(int) error }).SetLinger(0)
					drop(ws)
					close(gone)
					return
				}
				hold(ws)
			}
		})
		hook := newRecvHook()
		c, err := Dial(ctxTimeout(t), srv.url(), testOptions(hook.option(), WithHeartbeat(0, 0))...)
		require.NoError(t, err)
		defer c.Close()
		<-gone
		start := time.Now()
		for len(hook.ch) == 0 && time.Since(start) < 5*time.Second {
			require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("x")))
			runtime.Gosched()
		}
		d := hook.next(t)
		assert.Less(t, time.Since(start), time.Second, "a failed write ends the connection promptly")
		assert.Equal(t, CloseAbnormalClosure, d.d.Code)
		srv.waitConns(2)
		_, data, err := c.Receive(ctxTimeout(t))
		require.NoError(t, err)
		assert.Len(t, data, 1024, "the first message waits first in line")
	})
	t.Run("Close while the reader waits", func(t *testing.T) {
		srv := newTestServer(t, func(s *testServer) {
			s.handle = func(n int, ws *websocket.Conn) {
				payload := bytes.Repeat([]byte("z"), 1024)
				for range 200 {
					ws.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
					if ws.WriteMessage(websocket.BinaryMessage, payload) != nil {
						break
					}
				}
				hold(ws)
			}
		})
		c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithCloseTimeout(5*time.Second))...)
		require.NoError(t, err)
		srv.waitConns(1)
		start := time.Now()
		require.NoError(t, c.Close())
		assert.Less(t, time.Since(start), time.Second)
	})
}

// TestHugeReadLimitStillDeliversCompressedMessages: the largest read limit
// accepted must not make compressed messages arrive empty.
func TestHugeReadLimitStillDeliversCompressedMessages(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(_ int, ws *websocket.Conn) {
			ws.EnableWriteCompression(true)
			ws.WriteMessage(websocket.TextMessage, []byte("hello, compressed"))
			hold(ws)
		}
	})
	d := *websocket.DefaultDialer
	d.EnableCompression = true
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithDialer(&d), WithReadLimit(1<<30))...)
	require.NoError(t, err)
	defer c.Close()
	_, data, err := c.Receive(ctxTimeout(t))
	require.NoError(t, err)
	assert.Equal(t, "hello, compressed", string(data))
}

// TestServerDirectedWaitNeverFloods: absurd Retry-After values and floors
// saturate; the client never comes back in a loop.
func TestServerDirectedWaitNeverFloods(t *testing.T) {
	refuseWith := func(retryAfter string) func(s *testServer) {
		return func(s *testServer) {
			s.refuse = func(_ int, w http.ResponseWriter) bool {
				w.Header().Set("Retry-After", retryAfter)
				http.Error(w, "later", http.StatusServiceUnavailable)
				return true
			}
		}
	}
	tests := []struct {
		name  string
		setup func(s *testServer)
		opts  []Option
	}{
		{"Retry-After date in 9999", refuseWith("Fri, 31 Dec 9999 23:59:59 GMT"), nil},
		{"Retry-After 9223372037 s", refuseWith("9223372037"), nil},
		{"floor of MaxInt64 for 1013", func(s *testServer) {
			s.handle = func(_ int, ws *websocket.Conn) { closeWith(ws, 1013, "later") }
		}, []Option{WithMinDelay(CloseTryAgainLater, time.Duration(1<<63-1))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTestServer(t, tt.setup)
			c, hook := hookedClient(t, srv.url(), tt.opts...)
			d := hook.next(t)
			assert.GreaterOrEqual(t, d.d.Delay, 30*time.Minute, "a server-directed wait is not cut low")
			assert.GreaterOrEqual(t, c.Stats().Backoff, time.Duration(0))
			window := time.NewTimer(time.Second)
			defer window.Stop()
			select {
			case <-hook.ch:
				t.Fatal("a second decision within the wait")
			case <-window.C:
			}
			attempts, _, _ := srv.snapshot()
			assert.LessOrEqual(t, attempts, 2)
			assert.GreaterOrEqual(t, c.Stats().Backoff, time.Duration(0))
		})
	}
}

// TestCloseFromAnotherGoroutineReturnsAfterTheClientStopped: hooks running
// (or starting) while Close runs never outlive Close.
func TestCloseFromAnotherGoroutineReturnsAfterTheClientStopped(t *testing.T) {
	t.Run("OnDropped", func(t *testing.T) {
		srv := newTestServer(t, func(s *testServer) {
			s.refuse = func(_ int, w http.ResponseWriter) bool {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return true
			}
		})
		var drops atomic.Int32
		c, err := New(srv.url(), testOptions(WithOnDropped(func(MessageType, []byte, error) {
			time.Sleep(20 * time.Millisecond) // a slow hook
			drops.Add(1)
		}))...)
		require.NoError(t, err)
		for range 3 {
			require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("m")))
		}
		require.NoError(t, c.Close())
		assertDone(t, c)
		assert.Equal(t, int32(3), drops.Load())
	})
	t.Run("OnMessage", func(t *testing.T) {
		srv := newTestServer(t, nil) // echo
		var running, returned atomic.Int32
		entered := make(chan struct{}, 1)
		c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithOnMessage(func(MessageType, []byte) {
			running.Add(1)
			select {
			case entered <- struct{}{}:
			default:
			}
			time.Sleep(50 * time.Millisecond) // a slow hook
			returned.Add(1)
		}))...)
		require.NoError(t, err)
		require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("x")))
		<-entered
		require.NoError(t, c.Close())
		assertDone(t, c)
		assert.Equal(t, running.Load(), returned.Load(), "no hook still running")
	})
	t.Run("policy starting as Close runs", func(t *testing.T) {
		srv := newTestServer(t, func(s *testServer) {
			s.handle = func(_ int, ws *websocket.Conn) { drop(ws) }
		})
		var calls, returned atomic.Int32
		c, err := New(srv.url(), testOptions(WithPolicy(func(d Disconnect) Action {
			calls.Add(1)
			time.Sleep(5 * time.Millisecond)
			returned.Add(1)
			return DefaultPolicy(d)
		}))...)
		require.NoError(t, err)
		srv.waitConns(3)
		require.NoError(t, c.Close())
		assertDone(t, c)
		assert.Equal(t, calls.Load(), returned.Load())
	})
}

// assertDone checks that Done is closed now.
func assertDone(t *testing.T, c *Client) {
	t.Helper()
	select {
	case <-c.Done():
	default:
		t.Fatal("Close returned before Done was closed")
	}
}

// TestOnConnectErrorIsAFailedAttempt: a failed hook moves to the next
// endpoint and never resets the backoff, however long it took.
func TestOnConnectErrorIsAFailedAttempt(t *testing.T) {
	t.Run("moves to the next endpoint", func(t *testing.T) {
		a := newTestServer(t, nil)
		b := newTestServer(t, nil)
		ref := newClientRef()
		c, err := New(a.url(), testOptions(
			WithURLs(b.url()),
			WithOnConnect(func(ctx context.Context, conn *Conn) error {
				if ref.get().Stats().URL == redactRaw(a.url()) {
					return errors.New("not this one")
				}
				return nil
			}),
		)...)
		require.NoError(t, err)
		ref.set(c)
		defer c.Close()
		require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
		assert.Equal(t, redactRaw(b.url()), c.Stats().URL, "connected to the second endpoint")
		b.waitConns(1)
	})
	t.Run("a slow failure does not reset the backoff", func(t *testing.T) {
		srv := newTestServer(t, nil)
		hook := newRecvHook()
		c, err := New(srv.url(), testOptions(
			WithStableAfter(time.Millisecond),
			WithOnConnect(func(ctx context.Context, conn *Conn) error {
				time.Sleep(5 * time.Millisecond) // longer than the stable period
				return errors.New("no")
			}),
			hook.option(),
		)...)
		require.NoError(t, err)
		defer c.Close()
		for want := 1; want <= 3; want++ {
			d := hook.next(t)
			assert.Equal(t, want, d.d.Attempt)
			assert.Zero(t, d.d.Uptime)
		}
	})
}

// TestSplitterNeverProducesInvalidUTF8: a splitter that cuts a text message
// mid-rune fails the Send before anything is written.
func TestSplitterNeverProducesInvalidUTF8(t *testing.T) {
	srv := newTestServer(t, nil)
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithMaxMessageSize(7), WithSplitter(chunker))...)
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxTimeout(t)
	err = c.Send(ctx, TextMessage, []byte("ééééé")) // 10 bytes: cut after 7
	assert.ErrorIs(t, err, ErrInvalidUTF8)
	require.NoError(t, c.Send(ctx, TextMessage, []byte("ok")))
	srv.waitFor("ok", func(s view) bool { return len(s.received) >= 1 })
	_, _, received := srv.snapshot()
	assert.Equal(t, []string{"ok"}, strs(received))
	assert.True(t, utf8.Valid(received[0]))
}

// TestConnIsValidOnlyInsideItsHook: a Conn kept after OnConnect returned
// fails instead of racing with the client.
func TestConnIsValidOnlyInsideItsHook(t *testing.T) {
	srv := newTestServer(t, nil)
	kept := make(chan *Conn, 1)
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithOnConnect(func(ctx context.Context, conn *Conn) error {
		select {
		case kept <- conn:
		default:
		}
		return conn.Send(ctx, TextMessage, []byte("inside"))
	}))...)
	require.NoError(t, err)
	defer c.Close()
	conn := <-kept
	errs := make(chan error, 1)
	go func() { errs <- conn.Send(context.Background(), TextMessage, []byte("late")) }()
	assert.ErrorIs(t, <-errs, errConnExpired)
	require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("client")))
	srv.waitFor("two messages", func(s view) bool { return len(s.received) >= 2 })
	_, _, received := srv.snapshot()
	assert.Equal(t, []string{"inside", "client"}, strs(received))
}

// TestHeaderFuncCannotDeadlockClose: Close inside the header func, and
// Close while a header func ignores its ctx, both return.
func TestHeaderFuncCannotDeadlockClose(t *testing.T) {
	t.Run("Close inside the func", func(t *testing.T) {
		srv := newTestServer(t, nil)
		ref := newClientRef()
		returned := make(chan struct{})
		c, err := New(srv.url(), testOptions(WithHeaderFunc(func(ctx context.Context) (http.Header, error) {
			ref.get().Close()
			close(returned)
			return nil, ctx.Err()
		}))...)
		require.NoError(t, err)
		ref.set(c)
		select {
		case <-returned:
		case <-time.After(10 * time.Second):
			t.Fatal("Close inside the header func did not return")
		}
		waitClosed(t, c)
	})
	t.Run("a func that ignores its ctx", func(t *testing.T) {
		srv := newTestServer(t, nil)
		release := make(chan struct{})
		entered := make(chan struct{})
		var once sync.Once
		c, err := New(srv.url(), testOptions(WithHeaderFunc(func(ctx context.Context) (http.Header, error) {
			once.Do(func() { close(entered) })
			<-release
			return nil, nil
		}))...)
		require.NoError(t, err)
		<-entered
		closed := make(chan struct{})
		go func() { c.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close waited for a header func that ignores its ctx")
		}
		assertDone(t, c)
		close(release)
		_, conns, _ := srv.snapshot()
		assert.Zero(t, conns)
	})
}

// TestSendWithEndedContextWritesNothing, connected and down.
func TestSendWithEndedContextWritesNothing(t *testing.T) {
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	t.Run("connected", func(t *testing.T) {
		srv := newTestServer(t, func(s *testServer) {
			s.opts = append(s.opts, wstest.WithoutEcho()) // reads and records
		})
		c, err := Dial(ctxTimeout(t), srv.url(), testOptions()...)
		require.NoError(t, err)
		defer c.Close()
		assert.ErrorIs(t, c.Send(ended, TextMessage, []byte("never")), context.Canceled)
		require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("marker")))
		srv.waitFor("marker", func(s view) bool { return len(s.received) >= 1 })
		_, _, received := srv.snapshot()
		assert.Equal(t, []string{"marker"}, strs(received))
	})
	t.Run("down", func(t *testing.T) {
		var open atomic.Bool
		srv := gatedServer(t, &open)
		c, err := New(srv.url(), testOptions()...)
		require.NoError(t, err)
		defer c.Close()
		assert.ErrorIs(t, c.Send(ended, TextMessage, []byte("never")), context.Canceled)
		require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("marker")))
		open.Store(true)
		srv.waitFor("marker", func(s view) bool { return len(s.received) >= 1 })
		_, _, received := srv.snapshot()
		assert.Equal(t, []string{"marker"}, strs(received))
	})
}

// TestDialReturnsOnceAConnectionCameUp: against a server that accepts and
// closes at once, Dial returns the client after the first connection.
func TestDialReturnsOnceAConnectionCameUp(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(_ int, ws *websocket.Conn) { drop(ws) }
	})
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithBackoff(constantBackoff(300*time.Millisecond)))...)
	require.NoError(t, err)
	require.NotNil(t, c)
	defer c.Close()
	_, conns, _ := srv.snapshot()
	assert.LessOrEqual(t, conns, 2, "Dial returned after the first connection")
}

// TestDefaultPolicyAbortsOnAuthCloseCodes: 4401 and 4403 abort like 3000
// and 3003.
func TestDefaultPolicyAbortsOnAuthCloseCodes(t *testing.T) {
	for _, code := range []CloseCode{3000, 3003, 4401, 4403} {
		assert.Equal(t, Abort, DefaultPolicy(Disconnect{Code: code}), code.String())
	}
	assert.Equal(t, Reconnect, DefaultPolicy(Disconnect{Code: 4400}))
}

// TestDerivedContextsStartNoGoroutines: contexts derived from the OnConnect
// ctx use the standard library's cancellation.
func TestDerivedContextsStartNoGoroutines(t *testing.T) {
	srv := newTestServer(t, nil)
	delta := make(chan int, 1)
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithOnConnect(func(ctx context.Context, conn *Conn) error {
		before := runtime.NumGoroutine()
		var cancels []context.CancelFunc
		for range 100 {
			_, cancel := context.WithCancel(ctx)
			cancels = append(cancels, cancel)
		}
		after := runtime.NumGoroutine()
		for _, cancel := range cancels {
			cancel()
		}
		select {
		case delta <- after - before:
		default:
		}
		return nil
	}))...)
	require.NoError(t, err)
	defer c.Close()
	assert.Less(t, <-delta, 10)
}

// TestRefusedMessageIsTheOneThePeerRefused: two same-size messages in
// flight; the peer refuses the first, fully written, while the second is
// still being written. The refused one is reported, not lost.
func TestRefusedMessageIsTheOneThePeerRefused(t *testing.T) {
	const size = 16 << 20
	finished := make(chan struct{})
	srv := newTestServer(t, func(s *testServer) {
		s.opts = append(s.opts, wstest.Default(wstest.Handle(func(c *wstest.Conn) {
			ws := c.WS
			ws.SetReadLimit(64 << 20)
			if c.N == 1 {
				typ, data, err := ws.ReadMessage()
				if err != nil {
					return
				}
				c.Record(typ, data[:1])
				// Refuse it, and read nothing more.
				ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1009, "too big"), time.Now().Add(time.Second))
				select {
				case <-finished:
				case <-c.Done():
				}
				return
			}
			hold(ws)
		})))
	})
	type dropped struct {
		first byte
		err   error
	}
	t.Cleanup(func() { close(finished) })
	drops := make(chan dropped, 4)
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithOnDropped(func(_ MessageType, data []byte, err error) {
		drops <- dropped{data[0], err}
	}))...)
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxTimeout(t)
	a := bytes.Repeat([]byte("A"), size)
	b := bytes.Repeat([]byte("B"), size)
	require.NoError(t, c.Send(ctx, BinaryMessage, a))
	require.NoError(t, c.Send(ctx, BinaryMessage, b))
	got := map[byte]error{}
	for len(got) < 2 {
		select {
		case d := <-drops:
			got[d.first] = d.err
		case <-time.After(10 * time.Second):
			t.Fatalf("dropped: %v; want both A and B reported", got)
		}
	}
	assert.Equal(t, CloseMessageTooBig, errAs[*CloseError](t, got['A']).Code, "A was refused")
	assert.ErrorIs(t, got['B'], ErrMessageTooBig, "B is over the learned limit")
}

// constantBackoff waits d every time.
type constantBackoff time.Duration

func (b constantBackoff) NextBackOff() time.Duration { return time.Duration(b) }
func (b constantBackoff) Reset()                     {}

// TestRefusedEndpointMovesOn: with several endpoints, a 4xx on one moves to
// the next; the client aborts only when every endpoint refused in a row.
func TestRefusedEndpointMovesOn(t *testing.T) {
	refusing := func(status int) *testServer {
		return newTestServer(t, func(s *testServer) {
			s.refuse = func(_ int, w http.ResponseWriter) bool {
				http.Error(w, "no", status)
				return true
			}
		})
	}
	t.Run("another endpoint serves", func(t *testing.T) {
		a := refusing(http.StatusForbidden)
		b := newTestServer(t, nil)
		c, err := Dial(ctxTimeout(t), a.url(), testOptions(WithURLs(b.url()))...)
		require.NoError(t, err)
		defer c.Close()
		assert.Equal(t, redactRaw(b.url()), c.Stats().URL)
		b.waitConns(1)
	})
	t.Run("every endpoint refuses", func(t *testing.T) {
		a := refusing(http.StatusForbidden)
		b := refusing(http.StatusNotFound)
		c, err := Dial(ctxTimeout(t), a.url(), testOptions(WithURLs(b.url()))...)
		assert.Nil(t, c)
		assert.Equal(t, http.StatusNotFound, errAs[*HandshakeError](t, err).StatusCode)
		aAttempts, _, _ := a.snapshot()
		bAttempts, _, _ := b.snapshot()
		assert.Equal(t, []int{1, 1}, []int{aAttempts, bAttempts})
	})
}

// TestRefusedMessageStillQueuedIsNotQueuedTwice: when a later part of the
// refused message failed, the message is already first in the queue; the
// 1009 must not queue it a second time.
func TestRefusedMessageStillQueuedIsNotQueuedTwice(t *testing.T) {
	t.Parallel()
	c := &Client{opts: defaultOptions(), wlock: make(chan struct{}, 1)}
	c.opts.splitter = chunker
	c.w.queue.max = 8
	c.w.limit = 100
	m, err := c.split(BinaryMessage, bytes.Repeat([]byte("x"), 250), 100)
	require.NoError(t, err)
	c.w.queue.pushFront(m) // its third part failed: queued again, whole
	d := Disconnect{Code: CloseMessageTooBig, largest: 100, refused: &m}
	dropped := c.shrink(&supervisor{}, &d)
	assert.Empty(t, dropped)
	assert.Equal(t, 1, c.w.queue.len(), "queued once")
	assert.Equal(t, 50, c.w.limit)
}

// TestHeaderFuncReservedHeaderAborts: a header func that returns a header
// the handshake sets itself makes the client abort; a retry cannot fix it.
func TestHeaderFuncReservedHeaderAborts(t *testing.T) {
	srv := newTestServer(t, nil)
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithHeaderFunc(func(context.Context) (http.Header, error) {
		return http.Header{"Sec-Websocket-Key": {"mine"}}, nil
	}))...)
	assert.Nil(t, c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Sec-Websocket-Key")
	attempts, _, _ := srv.snapshot()
	assert.Zero(t, attempts, "nothing was sent")
}

// TestServerDirectedWaitCutIsLoggedAtWarn: a wait cut to MaxServerDelay
// says so at Warn level.
func TestServerDirectedWaitCutIsLoggedAtWarn(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.refuse = func(_ int, w http.ResponseWriter) bool {
			w.Header().Set("Retry-After", "86400")
			http.Error(w, "later", http.StatusServiceUnavailable)
			return true
		}
	})
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	_, hook := hookedClient(t, srv.url(), WithLogger(logger))
	d := hook.next(t)
	assert.GreaterOrEqual(t, d.d.Delay, MaxServerDelay)
	assert.Contains(t, buf.String(), `level=WARN msg="wsreconnect: server-directed wait cut to the maximum"`)
}

// TestOnMessageNotCalledAfterClose: Close from inside OnMessage stops the
// deliveries, although more messages arrive.
func TestOnMessageNotCalledAfterClose(t *testing.T) {
	srv := burstServer(t, hold)
	var calls atomic.Int32
	ref := newClientRef()
	c, err := New(srv.url(), testOptions(WithOnMessage(func(MessageType, []byte) {
		calls.Add(1)
		ref.get().Close()
	}))...)
	require.NoError(t, err)
	ref.set(c)
	waitClosed(t, c)
	assert.Equal(t, int32(1), calls.Load())
}
