package wsreconnect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cenkalti/backoff/v4"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wsreconnect/wsreconnect/wstest"
)

// limitServer refuses messages over limit with 1009 and the given reason
// format (with the sizes), and records the rest.
func limitServer(t *testing.T, limit int, reason func(n int) string) *testServer {
	return newTestServer(t, func(s *testServer) {
		s.opts = append(s.opts, wstest.Default(wstest.Handle(func(c *wstest.Conn) {
			for {
				typ, data, err := c.WS.ReadMessage()
				if err != nil {
					return
				}
				if len(data) > limit {
					closeWith(c.WS, 1009, reason(len(data)))
					return
				}
				c.Record(typ, data)
			}
		})))
	})
}

func TestShrinkLearnsTheLimitTheReasonNames(t *testing.T) {
	srv := limitServer(t, 100, func(n int) string { return "over size limit (" + itoa(n) + " > 100 bytes)" })
	hook := newRecvHook()
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(hook.option())...)
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxTimeout(t)
	require.NoError(t, c.Send(ctx, BinaryMessage, make([]byte, 300)))
	got := hook.next(t)
	assert.Equal(t, Shrink, got.a)
	assert.Len(t, got.d.Refused, 300, "the refused message is handed back")
	assert.Equal(t, 100, c.Stats().OutboundLimit)
	require.NoError(t, c.WaitState(ctx, StateConnected))
	assert.ErrorIs(t, c.Send(ctx, BinaryMessage, make([]byte, 101)), ErrMessageTooBig)
	require.NoError(t, c.Send(ctx, BinaryMessage, make([]byte, 100)))
	srv.waitFor("the 100-byte message", func(s view) bool { return len(s.received) == 1 })
}

// TestShrinkKeepsLearning: without a size in the reason, each 1009 halves
// the limit from the refused message's size until messages fit.
func TestShrinkKeepsLearning(t *testing.T) {
	srv := limitServer(t, 100, func(int) string { return "" })
	hook := newRecvHook()
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(hook.option())...)
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxTimeout(t)
	for _, step := range []struct{ size, limit int }{{400, 200}, {150, 75}} {
		require.NoError(t, c.Send(ctx, BinaryMessage, make([]byte, step.size)))
		got := hook.next(t)
		require.Equal(t, Shrink, got.a)
		assert.Equal(t, step.limit, c.Stats().OutboundLimit)
		require.NoError(t, c.WaitState(ctx, StateConnected))
	}
	require.NoError(t, c.Send(ctx, BinaryMessage, make([]byte, 75)))
	srv.waitFor("the 75-byte message", func(s view) bool { return len(s.received) == 1 })
}

// chunker splits data into parts of at most limit bytes.
func chunker(data []byte, limit int) ([][]byte, error) {
	var parts [][]byte
	for len(data) > limit {
		parts = append(parts, data[:limit])
		data = data[limit:]
	}
	return append(parts, data), nil
}

// TestSplitterLosesNothing: the refused message is sent again, split,
// after the reconnect and ahead of what was queued; later large messages
// are split at once.
func TestSplitterLosesNothing(t *testing.T) {
	srv := limitServer(t, 100, func(n int) string { return "(" + itoa(n) + " > 100 bytes)" })
	var dropped atomic.Int32
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(
		WithSplitter(chunker),
		WithOnDropped(func(MessageType, []byte, error) { dropped.Add(1) }),
	)...)
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxTimeout(t)
	big := bytes.Repeat([]byte("abcdefghij"), 25) // 250 bytes
	require.NoError(t, c.Send(ctx, TextMessage, big))
	require.NoError(t, c.Send(ctx, TextMessage, []byte("after")))
	srv.waitConns(2)
	require.NoError(t, c.WaitState(ctx, StateConnected))
	require.NoError(t, c.Send(ctx, TextMessage, big))
	srv.waitFor("the parts", func(s view) bool { return len(bytes.Join(s.received, nil)) >= 500 })
	_, _, received := srv.snapshot()
	var sizes []int
	for _, r := range received {
		sizes = append(sizes, len(r))
	}
	// "after" may have been written before the 1009 arrived (then it was
	// lost with the connection) or queued after it.
	joined := string(bytes.Join(received, nil))
	assert.Equal(t, string(big), joined[:250], "the refused message arrives split, first")
	assert.True(t, strings.HasSuffix(joined, string(big)), "a later large message is split: sizes %v", sizes)
	assert.Zero(t, dropped.Load())
	for _, r := range received {
		assert.LessOrEqual(t, len(r), 100)
	}
}

func TestRefusedMessageWithoutSplitterGoesToOnDropped(t *testing.T) {
	srv := limitServer(t, 10, func(int) string { return "too big" })
	type drop struct {
		data []byte
		err  error
	}
	drops := make(chan drop, 4)
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithOnDropped(func(_ MessageType, data []byte, err error) {
		drops <- drop{data, err}
	}))...)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Send(ctxTimeout(t), BinaryMessage, []byte("0123456789ABCDEF")))
	select {
	case d := <-drops:
		assert.Equal(t, "0123456789ABCDEF", string(d.data))
		assert.Equal(t, CloseMessageTooBig, errAs[*CloseError](t, d.err).Code)
	case <-time.After(10 * time.Second):
		t.Fatal("refused message not handed back")
	}
	assert.Equal(t, int64(1), c.Stats().Dropped)
}

func TestQueuedMessagesDroppedAtCloseAreReported(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.refuse = func(_ int, w http.ResponseWriter) bool {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return true
		}
	})
	var mu sync.Mutex
	var got []string
	c, err := New(srv.url(), testOptions(WithOnDropped(func(_ MessageType, data []byte, err error) {
		mu.Lock()
		defer mu.Unlock()
		assert.ErrorIs(t, err, ErrClosed)
		got = append(got, string(data))
	}))...)
	require.NoError(t, err)
	for _, m := range []string{"a", "b"} {
		require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte(m)))
	}
	require.NoError(t, c.Close())
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"a", "b"}, got)
	assert.Equal(t, int64(2), c.Stats().Dropped)
}

// countingListener counts the bytes the server reads, per connection.
type countingListener struct {
	net.Listener
	mu    sync.Mutex
	reads []*atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := new(atomic.Int64)
	l.mu.Lock()
	l.reads = append(l.reads, n)
	l.mu.Unlock()
	return &countingConn{Conn: c, n: n}, nil
}

func (l *countingListener) read(i int) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reads[i].Load()
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestCompressionOnShrink: the peer limits wire bytes; after its 1009 the
// client writes compressed, keeps its limit, and the refused message goes
// out again and fits.
func TestCompressionOnShrink(t *testing.T) {
	const wireLimit = 5000
	var ln *countingListener
	var conn atomic.Int32
	received := make(chan int, 4)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{EnableCompression: true}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		n := int(conn.Add(1)) - 1
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if ln.read(n) > wireLimit {
				closeWith(ws, 1009, "")
				return
			}
			received <- len(data)
		}
	}))
	ln = &countingListener{Listener: srv.Listener}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	hook := newRecvHook()
	c, err := Dial(ctxTimeout(t), "ws"+strings.TrimPrefix(srv.URL, "http"), testOptions(WithCompressionOnShrink(), hook.option())...)
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxTimeout(t)
	msg := bytes.Repeat([]byte("a"), 10000)
	require.NoError(t, c.Send(ctx, TextMessage, msg))
	got := hook.next(t)
	assert.Equal(t, Shrink, got.a, "written uncompressed before the 1009")
	assert.Len(t, got.d.Refused, 10000)
	select {
	case n := <-received:
		assert.Equal(t, 10000, n, "the refused message, again, compressed")
	case <-ctx.Done():
		t.Fatal("compressed message not received")
	}
	assert.Less(t, ln.read(1), int64(wireLimit))
	assert.Zero(t, c.Stats().OutboundLimit)
	assert.Zero(t, c.Stats().Dropped)
}

// TestReadLimitCountsDecompressedBytes: a small compressed frame that
// inflates past the read limit is refused like a large one.
func TestReadLimitCountsDecompressedBytes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{EnableCompression: true}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		ws.EnableWriteCompression(true)
		ws.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("z"), 100_000))
		hold(ws)
	}))
	defer srv.Close()
	hook := newRecvHook()
	c, err := New("ws"+strings.TrimPrefix(srv.URL, "http"), testOptions(WithCompressionOnShrink(), WithReadLimit(10_000), hook.option())...)
	require.NoError(t, err)
	defer c.Close()
	got := hook.next(t)
	assert.Equal(t, CloseMessageTooBig, got.d.Code)
	assert.True(t, got.d.Local)
	assert.Equal(t, Reconnect, got.a)
}

// TestHeaderFuncRefreshesAndRetriesOnce: the header func runs before every
// attempt; a 401 is retried once with fresh headers, and a second 401
// aborts.
func TestHeaderFuncRefreshesAndRetriesOnce(t *testing.T) {
	valid := "Bearer t2"
	var seen []string
	var mu sync.Mutex
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(_ int, ws *websocket.Conn) { hold(ws) }
		s.opts = append(s.opts, wstest.WithHandshakeFunc(func(_ int, w http.ResponseWriter, r *http.Request) bool {
			mu.Lock()
			seen = append(seen, r.Header.Get("Authorization"))
			mu.Unlock()
			if r.Header.Get("Authorization") != valid {
				http.Error(w, "bad token", http.StatusUnauthorized)
				return true
			}
			return false
		}))
	})
	var calls atomic.Int32
	headerFunc := func(ctx context.Context) (http.Header, error) {
		n := calls.Add(1)
		return http.Header{"Authorization": {"Bearer t" + itoa(int(n))}}, nil
	}
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithHeaderFunc(headerFunc), WithHeader(http.Header{"X-App": {"demo"}}))...)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	mu.Lock()
	assert.Equal(t, []string{"Bearer t1", "Bearer t2"}, seen)
	mu.Unlock()

	// A token that never works: one retry, then abort.
	valid = "never"
	mu.Lock()
	seen = nil
	mu.Unlock()
	calls.Store(0)
	c, err = New(srv.url(), testOptions(WithHeaderFunc(headerFunc))...)
	require.NoError(t, err)
	waitClosed(t, c)
	assert.Equal(t, http.StatusUnauthorized, errAs[*HandshakeError](t, c.Err()).StatusCode)
	assert.Equal(t, int32(2), calls.Load())
}

func TestHeaderFuncRetriesAuthCloseCodeOnce(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(n int, ws *websocket.Conn) { closeWith(ws, 3000, "token expired") }
	})
	var calls atomic.Int32
	c, err := New(srv.url(), testOptions(WithHeaderFunc(func(context.Context) (http.Header, error) {
		calls.Add(1)
		return nil, nil
	}))...)
	require.NoError(t, err)
	waitClosed(t, c)
	assert.Equal(t, CloseUnauthorized, errAs[*CloseError](t, c.Err()).Code)
	assert.Equal(t, int32(2), calls.Load())
	_, conns, _ := srv.snapshot()
	assert.Equal(t, 2, conns)
}

func TestHeaderFuncErrorIsAFailedAttempt(t *testing.T) {
	srv := newTestServer(t, nil)
	hook := newRecvHook()
	boom := errors.New("token service down")
	var calls atomic.Int32
	c, err := New(srv.url(), testOptions(hook.option(), WithHeaderFunc(func(context.Context) (http.Header, error) {
		if calls.Add(1) == 1 {
			return nil, boom
		}
		return nil, backoff.Permanent(boom)
	}))...)
	require.NoError(t, err)
	defer c.Close()
	first := hook.next(t)
	assert.Equal(t, Reconnect, first.a)
	assert.ErrorIs(t, first.d.Err, boom)
	assert.Equal(t, Abort, hook.next(t).a)
	waitClosed(t, c)
	assert.ErrorIs(t, c.Err(), boom)
	attempts, _, _ := srv.snapshot()
	assert.Zero(t, attempts, "no handshake without headers")
}

// TestEndpointsRotateAndStick: a dead first endpoint moves the client to
// the next; after a drop it returns to the one that worked.
func TestEndpointsRotateAndStick(t *testing.T) {
	dead := deadURL(t)
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(n int, ws *websocket.Conn) {
			if n == 1 {
				drop(ws)
				return
			}
			hold(ws)
		}
	})
	hook := newRecvHook()
	c, err := New(dead, testOptions(WithURLs(srv.url()), hook.option())...)
	require.NoError(t, err)
	defer c.Close()
	first := hook.next(t)
	assert.Equal(t, redactRaw(dead), first.d.URL)
	assert.Equal(t, CloseCode(0), first.d.Code)
	second := hook.next(t)
	assert.Equal(t, redactRaw(srv.url()), second.d.URL)
	assert.Equal(t, CloseAbnormalClosure, second.d.Code)
	srv.waitConns(2)
	require.NoError(t, c.WaitState(ctxTimeout(t), StateConnected))
	assert.Equal(t, redactRaw(srv.url()), c.Stats().URL)
	attempts, _, _ := srv.snapshot()
	assert.Equal(t, 2, attempts, "went back to the endpoint that worked")
}

// deadURL is a loopback address where nothing listens.
func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	return "ws://" + addr + "/"
}

func TestInvalidUTF8FailsFastAndKeepsTheConnection(t *testing.T) {
	srv := newTestServer(t, nil)
	ctx := ctxTimeout(t)
	c, err := Dial(ctx, srv.url(), testOptions()...)
	require.NoError(t, err)
	defer c.Close()
	bad := []byte{'o', 'k', 0xff}
	assert.ErrorIs(t, c.Send(ctx, TextMessage, bad), ErrInvalidUTF8)
	require.NoError(t, c.Send(ctx, BinaryMessage, bad), "binary messages are not checked")
	_, got, err := c.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, bad, got)
	_, conns, _ := srv.snapshot()
	assert.Equal(t, 1, conns)
}

// TestWithoutUTF8CheckLetsThePeerAnswer1007: the peer closes with 1007 and
// the default policy aborts.
func TestWithoutUTF8CheckLetsThePeerAnswer1007(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.handle = func(_ int, ws *websocket.Conn) {
			for {
				typ, data, err := ws.ReadMessage()
				if err != nil {
					return
				}
				if typ == websocket.TextMessage && !utf8.Valid(data) {
					closeWith(ws, 1007, "invalid UTF-8")
					return
				}
			}
		}
	})
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithoutUTF8Check())...)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte{0xff}))
	waitClosed(t, c)
	assert.Equal(t, CloseInvalidFramePayloadData, errAs[*CloseError](t, c.Err()).Code)
}

func TestStats(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		// The first connection echoes one message and closes; later ones
		// echo.
		s.opts = append(s.opts, wstest.Script(1, wstest.AfterMessages(1), wstest.Close(1001, "")))
	})
	ctx := ctxTimeout(t)
	c, err := Dial(ctx, srv.url(), testOptions()...)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Send(ctx, TextMessage, []byte("12345")))
	_, _, err = c.Receive(ctx)
	require.NoError(t, err)
	srv.waitConns(2)
	require.NoError(t, c.WaitState(ctx, StateConnected))
	require.NoError(t, c.Send(ctx, TextMessage, []byte("abc")))
	_, _, err = c.Receive(ctx)
	require.NoError(t, err)

	st := c.Stats()
	assert.Equal(t, StateConnected, st.State)
	assert.Equal(t, int64(2), st.Connects)
	assert.Equal(t, int64(1), st.Reconnects)
	assert.Equal(t, map[CloseCode]int64{CloseGoingAway: 1}, st.Disconnects)
	assert.Equal(t, int64(2), st.MessagesOut)
	assert.Equal(t, int64(8), st.BytesOut)
	assert.Equal(t, int64(2), st.MessagesIn)
	assert.Equal(t, int64(8), st.BytesIn)
	assert.Zero(t, st.Queued)
	assert.Zero(t, st.Dropped)
	assert.Zero(t, st.OutboundLimit)
	assert.Positive(t, st.Backoff)
	assert.Equal(t, redactRaw(srv.url()), st.URL)
}

// TestLogsEachDecisionWithoutSecrets: one structured record per decision,
// with code, action, delay and attempt, and no header value, URL
// credentials or query token.
func TestLogsEachDecisionWithoutSecrets(t *testing.T) {
	srv := closeSequence(t, []int{1001, 1008}, []string{"restart", "bye"})
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	u := srv.url() + "/feed?token=sekrit"
	c, err := New(u, testOptions(WithLogger(logger), WithHeader(http.Header{"Authorization": {"Bearer topsecret"}}))...)
	require.NoError(t, err)
	waitClosed(t, c)

	out := buf.String()
	for _, secret := range []string{"sekrit", "topsecret"} {
		assert.NotContains(t, out, secret)
	}
	var decisions []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		if rec["msg"] == "wsreconnect: disconnected" {
			decisions = append(decisions, rec)
		}
	}
	require.Len(t, decisions, 2)
	assert.Equal(t, float64(1001), decisions[0]["code"])
	assert.Equal(t, "reconnect", decisions[0]["action"])
	assert.Equal(t, float64(1), decisions[0]["attempt"])
	assert.Contains(t, decisions[0], "delay")
	assert.Equal(t, float64(1008), decisions[1]["code"])
	assert.Equal(t, "abort", decisions[1]["action"])
	assert.Equal(t, "WARN", decisions[1]["level"])
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPerCodeTiming checks the delay each close code gets, from
// Disconnect.Delay, without waiting it out.
func TestPerCodeTiming(t *testing.T) {
	tests := []struct {
		code     int
		opts     []Option
		min, max time.Duration
	}{
		// 1012: a short jittered delay instead of the (long) backoff step.
		{1012, []Option{WithRestartDelay(100 * time.Millisecond)}, 50 * time.Millisecond, 150 * time.Millisecond},
		// 1013 and 1014: the 5 s default floor plus the backoff step.
		{1013, nil, DefaultTryAgainDelay + time.Minute/2, DefaultTryAgainDelay + 3*time.Minute/2},
		{1014, nil, DefaultTryAgainDelay + time.Minute/2, DefaultTryAgainDelay + 3*time.Minute/2},
		// Any other code: the backoff step alone.
		{1001, nil, time.Minute / 2, 3 * time.Minute / 2},
	}
	for _, tt := range tests {
		t.Run(itoa(tt.code), func(t *testing.T) {
			t.Parallel()
			srv := newTestServer(t, func(s *testServer) {
				s.handle = func(n int, ws *websocket.Conn) { closeWith(ws, tt.code, "") }
			})
			hook := newRecvHook()
			b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(time.Minute), backoff.WithMaxElapsedTime(0))
			c, err := New(srv.url(), append([]Option{WithBackoff(b), hook.option()}, tt.opts...)...)
			require.NoError(t, err)
			got := hook.next(t)
			assert.GreaterOrEqual(t, got.d.Delay, tt.min)
			assert.LessOrEqual(t, got.d.Delay, tt.max)
			require.NoError(t, c.Close())
		})
	}
}

func TestReconnectBudget(t *testing.T) {
	srv := newTestServer(t, func(s *testServer) {
		s.refuse = func(_ int, w http.ResponseWriter) bool {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return true
		}
	})
	start := time.Now()
	c, err := New(srv.url(), testOptions(WithReconnectBudget(200*time.Millisecond))...)
	require.NoError(t, err)
	waitClosed(t, c)
	assert.ErrorIs(t, c.Err(), ErrReconnectBudget)
	assert.Equal(t, 503, errAs[*HandshakeError](t, c.Err()).StatusCode)
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestOnMessage: messages go to the hook in order, on the client's
// goroutine; the hook may Send and Close; Receive gets nothing.
func TestOnMessage(t *testing.T) {
	srv := newTestServer(t, nil) // echo
	got := make(chan string, 100)
	ref := newClientRef()
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithOnMessage(func(typ MessageType, data []byte) {
		got <- string(data)
		switch n := string(data); {
		case n == "ping 3":
			ref.get().Close() // from inside the hook
		case strings.HasPrefix(n, "ping "):
			var i int
			fmt.Sscanf(n, "ping %d", &i)
			if err := ref.get().Send(context.Background(), TextMessage, []byte(fmt.Sprintf("ping %d", i+1))); err != nil {
				t.Errorf("Send from OnMessage: %v", err)
			}
		}
	}))...)
	require.NoError(t, err)
	ref.set(c)
	require.NoError(t, c.Send(ctxTimeout(t), TextMessage, []byte("ping 0")))
	waitClosed(t, c)
	close(got)
	var seq []string
	for s := range got {
		seq = append(seq, s)
	}
	assert.Equal(t, []string{"ping 0", "ping 1", "ping 2", "ping 3"}, seq)
	_, _, err = c.Receive(ctxTimeout(t))
	assert.ErrorIs(t, err, ErrClosed)
}

func TestOnMessageLeavesReceiveEmpty(t *testing.T) {
	srv := newTestServer(t, nil)
	got := make(chan []byte, 1)
	c, err := Dial(ctxTimeout(t), srv.url(), testOptions(WithOnMessage(func(_ MessageType, data []byte) { got <- data }))...)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Send(ctxTimeout(t), BinaryMessage, []byte{1, 2, 3}))
	assert.Equal(t, []byte{1, 2, 3}, <-got)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err = c.Receive(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}
